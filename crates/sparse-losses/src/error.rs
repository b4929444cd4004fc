//! The crate's error type.

use thiserror::Error;

/// Everything that can go wrong when a config is turned into a penalty, or when a penalty, a
/// metric or a [`ModulePenalty`](crate::ModulePenalty) is applied to a tensor of the wrong shape.
///
/// Every check runs before any tensor computation: a `PenaltyError` is never the result of a
/// half-finished calculation, and no penalty panics on user input.
///
/// | variant | raised by |
/// | --- | --- |
/// | [`InvalidHyperParameter`](Self::InvalidHyperParameter) | every `*Config::init`: a value outside its domain, NaN or infinite |
/// | [`SigmaOrder`](Self::SigmaOrder) | [`SpikeAndSlabConfig::init`](crate::SpikeAndSlabConfig::init) when `sigma_spike >= sigma_slab` |
/// | [`EmptyGroupIds`](Self::EmptyGroupIds) | [`GroupLassoConfig::init`](crate::GroupLassoConfig::init) with `group_ids = []` |
/// | [`EmptyInput`](Self::EmptyInput) | every penalty and metric, on a tensor with no elements |
/// | [`RankTooLow`](Self::RankTooLow) | [`TotalVariation`](crate::TotalVariation) (rank < 3, or < 2 for `one_d`) |
/// | [`AxisOutOfRange`](Self::AxisOutOfRange) | [`GroupLasso`](crate::GroupLasso) when `axis` does not exist |
/// | [`GroupIdsLength`](Self::GroupIdsLength) | [`GroupLasso`](crate::GroupLasso) when `group_ids` does not have one id per index of `axis` |
/// | [`RowTooShort`](Self::RowTooShort) | [`hoyer_sparsity`](crate::metrics::hoyer_sparsity) on rows of length 1 |
/// | [`TooManyNonzeros`](Self::TooManyNonzeros) | [`Omp::codes`](crate::Omp::codes) when `n_nonzero > n_atoms` |
/// | [`TopkTooLarge`](Self::TopkTooLarge), [`RowNotMultipleOfM`](Self::RowNotMultipleOfM) | [`MaskRule`](crate::MaskRule) on rows that do not fit the rule |
/// | [`ShapeMismatch`](Self::ShapeMismatch) | [`MaskRule::mask_weight`](crate::MaskRule::mask_weight) when weight and scores differ; [`MaskedLinear::try_forward`](crate::MaskedLinear::try_forward) on a wrong input width |
/// | [`NoParametersSelected`](Self::NoParametersSelected) | [`ModulePenalty`](crate::ModulePenalty) when no parameter matches |
/// | [`Parameter`](Self::Parameter) | [`ModulePenalty`](crate::ModulePenalty): the penalty failed on one parameter |
/// | [`UnknownPenalty`](Self::UnknownPenalty), [`UnknownField`](Self::UnknownField), [`InvalidConfig`](Self::InvalidConfig) | [`PenaltyConfig::from_json`](crate::PenaltyConfig::from_json) |
#[derive(Debug, Clone, PartialEq, Error)]
pub enum PenaltyError {
    /// A hyper-parameter is outside its domain (this includes NaN and infinities).
    #[error("{penalty}: `{field}` = {value} is invalid; expected {expected}")]
    InvalidHyperParameter {
        /// The penalty's serde name, e.g. `"l1"`.
        penalty: &'static str,
        /// The config field, by its serde name.
        field: &'static str,
        /// The value that was given.
        value: f64,
        /// The domain, in words, e.g. `"a finite number >= 0"`.
        expected: &'static str,
    },
    /// SpikeAndSlab needs `0 < sigma_spike < sigma_slab`.
    #[error("spike_and_slab: `sigma_spike` ({spike}) must be smaller than `sigma_slab` ({slab})")]
    SigmaOrder {
        /// The given `sigma_spike`.
        spike: f64,
        /// The given `sigma_slab`.
        slab: f64,
    },
    /// GroupLasso was given an empty `group_ids` list.
    #[error("group_lasso: `group_ids` is empty; leave it out to group by `axis` alone")]
    EmptyGroupIds,
    /// The input tensor has no elements.
    #[error("{penalty}: the input has no elements (shape {shape:?})")]
    EmptyInput {
        /// The penalty or metric.
        penalty: &'static str,
        /// The input's shape.
        shape: Vec<usize>,
    },
    /// The input's rank is too low for the penalty.
    #[error(
        "{penalty}: the input has rank {rank} (shape {shape:?}) but at least rank {min} is needed"
    )]
    RankTooLow {
        /// The penalty.
        penalty: &'static str,
        /// The input's rank.
        rank: usize,
        /// The input's shape.
        shape: Vec<usize>,
        /// The smallest rank accepted.
        min: usize,
    },
    /// The configured axis does not exist for the input's rank.
    #[error("{penalty}: axis {axis} is out of range for an input of rank {rank}")]
    AxisOutOfRange {
        /// The penalty.
        penalty: &'static str,
        /// The configured axis (negative counts from the end).
        axis: i64,
        /// The input's rank.
        rank: usize,
    },
    /// `group_ids` must hold one id per index of the grouping axis.
    #[error("group_lasso: `group_ids` has {got} entries but axis {axis} of the input (shape {shape:?}) has size {expected}")]
    GroupIdsLength {
        /// The resolved (non-negative) axis.
        axis: usize,
        /// The size of that axis.
        expected: usize,
        /// The number of ids given.
        got: usize,
        /// The input's shape.
        shape: Vec<usize>,
    },
    /// A metric needs rows of at least two elements.
    #[error("{metric}: rows have length {len}; at least 2 are needed")]
    RowTooShort {
        /// The metric.
        metric: &'static str,
        /// The row length.
        len: usize,
    },
    /// OMP was asked for more nonzeros per code than the dictionary has atoms.
    #[error("omp: n_nonzero = {k} exceeds the dictionary's {n_atoms} atoms")]
    TooManyNonzeros {
        /// The requested k.
        k: usize,
        /// Atoms in the dictionary.
        n_atoms: usize,
    },
    /// A `topk` mask keeps more entries per row than a row has.
    #[error("binary_mask: topk keeps k = {k} entries per row but rows have length {len}")]
    TopkTooLarge {
        /// The resolved k.
        k: usize,
        /// The row length.
        len: usize,
    },
    /// An `n_of_m` mask needs rows whose length is a multiple of `m`.
    #[error("binary_mask: n_of_m needs rows whose length is a multiple of m = {m}, got {len}")]
    RowNotMultipleOfM {
        /// The row length.
        len: usize,
        /// The group length m.
        m: usize,
    },
    /// Two tensors that must have the same shape do not.
    #[error("{what}: shapes {left:?} and {right:?} differ")]
    ShapeMismatch {
        /// What was compared.
        what: &'static str,
        /// The first shape.
        left: Vec<usize>,
        /// The second shape.
        right: Vec<usize>,
    },
    /// A [`ModulePenalty`](crate::ModulePenalty) selected no parameter of the module.
    #[error("no float parameter of the module matches the selection (include {include:?}, exclude {exclude:?})")]
    NoParametersSelected {
        /// The include patterns.
        include: Vec<String>,
        /// The exclude patterns.
        exclude: Vec<String>,
    },
    /// The penalty failed on one parameter of a module.
    #[error("parameter `{path}`: {source}")]
    Parameter {
        /// The parameter's dotted path, e.g. `encoder.weight`.
        path: String,
        /// What went wrong.
        source: Box<PenaltyError>,
    },
    /// [`PenaltyConfig::from_json`](crate::PenaltyConfig::from_json) was given a penalty name
    /// this crate does not implement.
    #[error("unknown penalty `{0}`; this crate implements: l1, elastic_net, group_lasso, kl_sparsity, hoyer, total_variation, spike_and_slab, entropy")]
    UnknownPenalty(String),
    /// A config object named a field the penalty does not have.
    #[error("{penalty}: unknown config field `{field}`")]
    UnknownField {
        /// The penalty.
        penalty: String,
        /// The unknown field.
        field: String,
    },
    /// A config object could not be read (wrong type, bad enum value, not an object...).
    #[error("{penalty}: invalid config: {message}")]
    InvalidConfig {
        /// The penalty.
        penalty: String,
        /// The parser's message.
        message: String,
    },
}
