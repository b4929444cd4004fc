//! The crate's error type.
//!
//! It sits below the penalty registry and above [`Reduction`]: the registry returns it, and
//! [`Error::InvalidReduction`] holds a `Reduction` (which is why [`Reduction`]'s own check,
//! that raises that error, is written here).

use crate::Reduction;

/// `Result` with this crate's [`Error`] as the default error type.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Everything that can go wrong in this crate: a config turned into a penalty, mask, schedule,
/// activation or solver, a penalty, metric, mask or [`ModulePenalty`](crate::ModulePenalty)
/// applied to a tensor of the wrong shape, or a proximal step outside its domain.
///
/// `item` fields hold the serde name of what raised the error (`"l1"`, `"binary_mask"`,
/// `"masked_linear"`, `"cubic_schedule"`, `"omp"`, `"hoyer_sparsity"`, ...).
///
/// Every check runs before any tensor computation: an `Error` is never the result of a
/// half-finished calculation, and no penalty panics on user input.
///
/// | variant | raised by |
/// | --- | --- |
/// | [`InvalidHyperParameter`](Self::InvalidHyperParameter) | every `*Config::init` (penalties, [`BinaryMaskConfig`](crate::BinaryMaskConfig), [`MaskedLinearConfig`](crate::MaskedLinearConfig), [`CubicScheduleConfig`](crate::CubicScheduleConfig), [`PAnnealConfig`](crate::PAnnealConfig), [`EpsAnnealConfig`](crate::EpsAnnealConfig), [`OmpConfig`](crate::OmpConfig)), [`Lp::with_p`](crate::Lp::with_p), [`LogSum::with_eps`](crate::LogSum::with_eps), [`MaskRule::with_threshold`](crate::MaskRule::with_threshold) / [`with_fraction`](crate::MaskRule::with_fraction), [`dictionary_step`](crate::dictionary_step): a value outside its domain, NaN or infinite |
/// | [`MissingHyperParameter`](Self::MissingHyperParameter) | [`BinaryMaskConfig::init`](crate::BinaryMaskConfig::init): a `topk` rule with neither `k` nor `fraction` |
/// | [`InvalidReduction`](Self::InvalidReduction) | [`L1Config::init`](crate::L1Config::init) (`sum`, `mean`), [`TotalVariationConfig::init`](crate::TotalVariationConfig::init) (`sum`, `batch_mean`) |
/// | [`SigmaOrder`](Self::SigmaOrder) | [`SpikeAndSlabConfig::init`](crate::SpikeAndSlabConfig::init) when `sigma_spike >= sigma_slab` |
/// | [`EmptyGroupIds`](Self::EmptyGroupIds) | [`GroupLassoConfig::init`](crate::GroupLassoConfig::init) with `group_ids = []` |
/// | [`EmptyInput`](Self::EmptyInput) | every penalty, metric and mask, [`L1DecoderNorm::forward_with_decoder`](crate::L1DecoderNorm::forward_with_decoder) (codes or decoder) and [`Omp::codes`](crate::Omp::codes), on a tensor with no elements |
/// | [`RankTooLow`](Self::RankTooLow) | [`TotalVariation`](crate::TotalVariation) (rank < 3, or < 2 for `one_d`) |
/// | [`AxisOutOfRange`](Self::AxisOutOfRange) | [`GroupLasso`](crate::GroupLasso) when `axis` does not exist |
/// | [`GroupIdsLength`](Self::GroupIdsLength) | [`GroupLasso`](crate::GroupLasso) when `group_ids` does not have one id per index of `axis` |
/// | [`RowTooShort`](Self::RowTooShort) | [`hoyer_sparsity`](crate::metrics::hoyer_sparsity) on rows of length 1 |
/// | [`TooManyNonzeros`](Self::TooManyNonzeros) | [`Omp::codes`](crate::Omp::codes) when `n_nonzero > n_atoms` |
/// | [`TopkTooLarge`](Self::TopkTooLarge), [`RowNotMultipleOfM`](Self::RowNotMultipleOfM) | [`MaskRule`](crate::MaskRule) on rows that do not fit the rule |
/// | [`ShapeMismatch`](Self::ShapeMismatch) | [`MaskRule::mask_weight`](crate::MaskRule::mask_weight) when weight and scores differ; [`MaskedLinear::try_forward`](crate::MaskedLinear::try_forward) on a wrong input width; [`Omp::codes`](crate::Omp::codes) when signals and dictionary do not fit; [`L1DecoderNorm::forward_with_decoder`](crate::L1DecoderNorm::forward_with_decoder) when the decoder does not have one row per code column |
/// | [`NoParametersSelected`](Self::NoParametersSelected) | [`ModulePenalty`](crate::ModulePenalty) when no parameter matches |
/// | [`Parameter`](Self::Parameter) | [`ModulePenalty`](crate::ModulePenalty): the penalty failed on one parameter |
/// | [`UnknownPenalty`](Self::UnknownPenalty) | [`PenaltyConfig::from_json`](crate::PenaltyConfig::from_json), [`PenaltyConfig::default_for`](crate::PenaltyConfig::default_for) |
/// | [`UnknownField`](Self::UnknownField), [`InvalidConfig`](Self::InvalidConfig) | [`merge_json`](crate::merge_json) and the `from_json` readers built on it |
/// | [`InvalidStep`](Self::InvalidStep) | [`Prox::prox`](crate::Prox::prox) and [`ProxStep::apply`](crate::ProxStep::apply): a step `t` that is not finite and `> 0`, or outside the operator's domain (MCP: `t < γ`, SCAD: `t < a − 1`) |
/// | [`NoProximalOperator`](Self::NoProximalOperator) | [`Prox`](crate::Prox) for [`AnyPenalty`](crate::AnyPenalty) (and so [`ProxStep`](crate::ProxStep)) holding a penalty without a proximal operator |
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// A hyper-parameter is outside its domain (this includes NaN and infinities).
    #[error("{item}: `{field}` = {value} is invalid; expected {expected}")]
    InvalidHyperParameter {
        /// The serde name of what raised it, e.g. `"l1"`, `"binary_mask"`.
        item: &'static str,
        /// The config field, by its serde name.
        field: &'static str,
        /// The value that was given.
        value: f64,
        /// The domain, in words, e.g. `"a finite number >= 0"`.
        expected: &'static str,
    },
    /// A hyper-parameter that has no default was not given.
    #[error("{item}: `{field}` is required but was not given")]
    MissingHyperParameter {
        /// The serde name of what raised it, e.g. `"binary_mask"`.
        item: &'static str,
        /// The missing config field, by its serde name.
        field: &'static str,
    },
    /// The configured [`Reduction`] is not one this item supports.
    #[error("{item}: `reduction` = {reduction} is not supported; expected one of {}", Reduction::list(.allowed))]
    InvalidReduction {
        /// The serde name of what raised it, e.g. `"l1"`.
        item: &'static str,
        /// The reduction that was given.
        reduction: Reduction,
        /// The reductions the item supports.
        allowed: &'static [Reduction],
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
    #[error("{item}: the input has no elements (shape {shape:?})")]
    EmptyInput {
        /// The penalty, metric, mask or solver.
        item: &'static str,
        /// The input's shape.
        shape: Vec<usize>,
    },
    /// The input's rank is too low.
    #[error(
        "{item}: the input has rank {rank} (shape {shape:?}) but at least rank {min} is needed"
    )]
    RankTooLow {
        /// What raised it, e.g. `"total_variation"`.
        item: &'static str,
        /// The input's rank.
        rank: usize,
        /// The input's shape.
        shape: Vec<usize>,
        /// The smallest rank accepted.
        min: usize,
    },
    /// The configured axis does not exist for the input's rank.
    #[error("{item}: axis {axis} is out of range for an input of rank {rank}")]
    AxisOutOfRange {
        /// What raised it, e.g. `"group_lasso"`.
        item: &'static str,
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
    /// Rows of at least two elements are needed.
    #[error("{item}: rows have length {len}; at least 2 are needed")]
    RowTooShort {
        /// What raised it, e.g. the metric `"hoyer_sparsity"`.
        item: &'static str,
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
    /// A top-k rule keeps more entries per row than a row has.
    #[error("{item}: topk keeps k = {k} entries per row but rows have length {len}")]
    TopkTooLarge {
        /// What raised it, e.g. `"binary_mask"`.
        item: &'static str,
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
    /// A pruning method was asked for a pattern it does not define (e.g. Wanda's scores are
    /// per output row, so it has no `rows` pattern).
    #[error("{item}: the `{pattern}` pattern is not supported by this method")]
    UnsupportedPattern {
        /// The method, e.g. `"wanda"`.
        item: &'static str,
        /// The pattern's name.
        pattern: &'static str,
    },
    /// A masks file ([`PruneMasks::save`](crate::prune::PruneMasks::save)) that cannot be
    /// written or read.
    #[error("{path}: {message}")]
    MaskFile {
        /// The file.
        path: String,
        /// What is wrong, in one line.
        message: String,
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
        source: Box<Error>,
    },
    /// [`PenaltyConfig::from_json`](crate::PenaltyConfig::from_json) was given a penalty name
    /// this crate does not implement.
    #[error("unknown penalty `{name}`; this crate implements: {expected}")]
    UnknownPenalty {
        /// The name given.
        name: String,
        /// The registry's names ([`PenaltyConfig::NAMES`](crate::PenaltyConfig::NAMES)),
        /// comma-separated.
        expected: String,
    },
    /// A config object named a field the config does not have.
    #[error("{item}: unknown config field `{field}`")]
    UnknownField {
        /// The config's serde name, e.g. `"hoyer"`, `"binary_mask"`.
        item: &'static str,
        /// The unknown field.
        field: String,
    },
    /// A config object could not be read (wrong type, bad enum value, not an object...).
    #[error("{item}: invalid config: {message}")]
    InvalidConfig {
        /// The config's serde name.
        item: &'static str,
        /// The parser's message.
        message: String,
    },
    /// A proximal step `t` outside the operator's domain.
    #[error("{item}: the proximal step t = {step} is invalid; expected {expected}")]
    InvalidStep {
        /// The penalty's serde name, e.g. `"mcp"`.
        item: &'static str,
        /// The step that was given.
        step: f64,
        /// The domain, in words, e.g. `"a finite number > 0"` or `"t < gamma = 3"`.
        expected: String,
    },
    /// The penalty has no proximal operator in this crate.
    #[error("{item} has no proximal operator (the prox exists for l1, elastic_net, group_lasso, mcp and scad)")]
    NoProximalOperator {
        /// The penalty's serde name, e.g. `"hoyer"`.
        item: &'static str,
    },
}

impl Reduction {
    /// `Ok(self)` when `self` is in `allowed`, else [`Error::InvalidReduction`] for `item`.
    pub(crate) fn check(self, item: &'static str, allowed: &'static [Reduction]) -> Result<Self> {
        if allowed.contains(&self) {
            Ok(self)
        } else {
            Err(Error::InvalidReduction {
                item,
                reduction: self,
                allowed,
            })
        }
    }
}
