//! The [`Penalty`] trait, the serde-tagged [`PenaltyConfig`] and the type-erased
//! [`AnyPenalty`].

use burn::module::Module;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::{
    ElasticNet, ElasticNetConfig, Entropy, EntropyConfig, GroupLasso, GroupLassoConfig, Hoyer,
    HoyerConfig, KlSparsity, KlSparsityConfig, L1Config, PenaltyError, SpikeAndSlab,
    SpikeAndSlabConfig, TotalVariation, TotalVariationConfig, L1,
};

/// A sparsity penalty: a differentiable function from a tensor of any rank to a scalar.
///
/// Every penalty of this crate implements it. The result has shape `[1]`, lives on the input's
/// device and is built from Burn tensor ops only, so on an autodiff device
/// (`Device::flex().autodiff()`, ...) `loss.backward()` reaches the input.
pub trait Penalty {
    /// The penalty's serde name (`"l1"`, `"group_lasso"`, ...), as in
    /// [`PenaltyConfig`]'s `penalty` tag.
    fn name(&self) -> &'static str;

    /// Evaluates the penalty on `x`.
    ///
    /// # Errors
    /// [`PenaltyError::EmptyInput`] for a tensor without elements, and the shape errors each
    /// penalty documents (rank, axis, group ids). Checked before any computation.
    fn forward<const D: usize>(&self, x: Tensor<D>) -> Result<Tensor<1>, PenaltyError>;
}

/// The config of any penalty of this crate, tagged by its name: the form to use in a
/// configuration file or on a command line.
///
/// Serialised as a flat object with a `penalty` tag:
/// `{"penalty": "group_lasso", "lambda": 0.1, "l1_ratio": 0.0, "axis": 1, ...}`.
/// Burn's `Config` deserialisers need every field; use [`PenaltyConfig::from_json`] to read
/// an object that only gives the fields that differ from the defaults.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "penalty", rename_all = "snake_case")]
pub enum PenaltyConfig {
    /// [`L1`].
    L1(L1Config),
    /// [`ElasticNet`].
    ElasticNet(ElasticNetConfig),
    /// [`GroupLasso`].
    GroupLasso(GroupLassoConfig),
    /// [`KlSparsity`].
    KlSparsity(KlSparsityConfig),
    /// [`Hoyer`].
    Hoyer(HoyerConfig),
    /// [`TotalVariation`].
    TotalVariation(TotalVariationConfig),
    /// [`SpikeAndSlab`].
    SpikeAndSlab(SpikeAndSlabConfig),
    /// [`Entropy`].
    Entropy(EntropyConfig),
}

impl PenaltyConfig {
    /// The names [`from_json`](Self::from_json) and the `penalty` tag accept.
    pub const NAMES: [&'static str; 8] = [
        "l1",
        "elastic_net",
        "group_lasso",
        "kl_sparsity",
        "hoyer",
        "total_variation",
        "spike_and_slab",
        "entropy",
    ];

    /// The default config of the penalty called `name`.
    ///
    /// # Errors
    /// [`PenaltyError::UnknownPenalty`] for a name not in [`NAMES`](Self::NAMES).
    pub fn default_for(name: &str) -> Result<Self, PenaltyError> {
        Ok(match name {
            "l1" => Self::L1(L1Config::new()),
            "elastic_net" => Self::ElasticNet(ElasticNetConfig::new()),
            "group_lasso" => Self::GroupLasso(GroupLassoConfig::new()),
            "kl_sparsity" => Self::KlSparsity(KlSparsityConfig::new()),
            "hoyer" => Self::Hoyer(HoyerConfig::new()),
            "total_variation" => Self::TotalVariation(TotalVariationConfig::new()),
            "spike_and_slab" => Self::SpikeAndSlab(SpikeAndSlabConfig::new()),
            "entropy" => Self::Entropy(EntropyConfig::new()),
            other => return Err(PenaltyError::UnknownPenalty(other.to_string())),
        })
    }

    /// Reads the config of penalty `name` from a JSON object that holds only the fields that
    /// differ from the defaults (the form of the reference fixtures), e.g.
    /// `{"lambda": 0.5, "reduction": "mean"}` for `"l1"`.
    ///
    /// ```
    /// use sparse_losses::PenaltyConfig;
    ///
    /// let config = PenaltyConfig::from_json("hoyer", &serde_json::json!({"squared": true})).unwrap();
    /// let PenaltyConfig::Hoyer(hoyer) = &config else { unreachable!() };
    /// assert!(hoyer.squared && !hoyer.per_row && hoyer.lambda == 1.0);
    /// ```
    ///
    /// # Errors
    /// [`PenaltyError::UnknownPenalty`] for an unknown name, [`PenaltyError::UnknownField`]
    /// for a field the penalty does not have (so that a misspelt option is never ignored),
    /// [`PenaltyError::InvalidConfig`] for a value of the wrong type or a non-object.
    /// Values are not range-checked here: [`init`](Self::init) does that.
    pub fn from_json(name: &str, fields: &serde_json::Value) -> Result<Self, PenaltyError> {
        let defaults = Self::default_for(name)?;
        let mut fields = fields.clone();
        if let Some(obj) = fields.as_object_mut() {
            // The tag may be given; it must then agree with `name`.
            match obj.get("penalty") {
                Some(tag) if tag.as_str() != Some(name) => {
                    return Err(PenaltyError::InvalidConfig {
                        penalty: name.to_string(),
                        message: format!("`penalty` is {tag}, expected \"{name}\""),
                    })
                }
                _ => obj.remove("penalty"),
            };
        }
        merge_json(name, &defaults, &fields)
    }

    /// The penalty's name (the serde tag).
    pub fn name(&self) -> &'static str {
        match self {
            Self::L1(_) => "l1",
            Self::ElasticNet(_) => "elastic_net",
            Self::GroupLasso(_) => "group_lasso",
            Self::KlSparsity(_) => "kl_sparsity",
            Self::Hoyer(_) => "hoyer",
            Self::TotalVariation(_) => "total_variation",
            Self::SpikeAndSlab(_) => "spike_and_slab",
            Self::Entropy(_) => "entropy",
        }
    }

    /// Validates the config and builds the penalty.
    ///
    /// # Errors
    /// Whatever the wrapped config's `init` returns.
    pub fn init(&self) -> Result<AnyPenalty, PenaltyError> {
        Ok(match self {
            Self::L1(c) => AnyPenalty::L1(c.init()?),
            Self::ElasticNet(c) => AnyPenalty::ElasticNet(c.init()?),
            Self::GroupLasso(c) => AnyPenalty::GroupLasso(c.init()?),
            Self::KlSparsity(c) => AnyPenalty::KlSparsity(c.init()?),
            Self::Hoyer(c) => AnyPenalty::Hoyer(c.init()?),
            Self::TotalVariation(c) => AnyPenalty::TotalVariation(c.init()?),
            Self::SpikeAndSlab(c) => AnyPenalty::SpikeAndSlab(c.init()?),
            Self::Entropy(c) => AnyPenalty::Entropy(c.init()?),
        })
    }
}

/// Any penalty of this crate, chosen at run time (e.g. from a [`PenaltyConfig`] read from a
/// file or a command line). A `Module`, so it can be a field of a user's model.
#[derive(Module, Debug)]
pub enum AnyPenalty {
    /// [`L1`].
    L1(L1),
    /// [`ElasticNet`].
    ElasticNet(ElasticNet),
    /// [`GroupLasso`].
    GroupLasso(GroupLasso),
    /// [`KlSparsity`].
    KlSparsity(KlSparsity),
    /// [`Hoyer`].
    Hoyer(Hoyer),
    /// [`TotalVariation`].
    TotalVariation(TotalVariation),
    /// [`SpikeAndSlab`].
    SpikeAndSlab(SpikeAndSlab),
    /// [`Entropy`].
    Entropy(Entropy),
}

impl Penalty for AnyPenalty {
    fn name(&self) -> &'static str {
        match self {
            Self::L1(p) => p.name(),
            Self::ElasticNet(p) => p.name(),
            Self::GroupLasso(p) => p.name(),
            Self::KlSparsity(p) => p.name(),
            Self::Hoyer(p) => p.name(),
            Self::TotalVariation(p) => p.name(),
            Self::SpikeAndSlab(p) => p.name(),
            Self::Entropy(p) => p.name(),
        }
    }

    fn forward<const D: usize>(&self, x: Tensor<D>) -> Result<Tensor<1>, PenaltyError> {
        match self {
            Self::L1(p) => p.forward(x),
            Self::ElasticNet(p) => p.forward(x),
            Self::GroupLasso(p) => p.forward(x),
            Self::KlSparsity(p) => p.forward(x),
            Self::Hoyer(p) => p.forward(x),
            Self::TotalVariation(p) => p.forward(x),
            Self::SpikeAndSlab(p) => p.forward(x),
            Self::Entropy(p) => p.forward(x),
        }
    }
}

/// Reads a config from a JSON object that holds only the fields that differ from `defaults`:
/// the defaults are serialised, the given fields replace theirs, and the result is read back.
///
/// # Errors
/// [`PenaltyError::UnknownField`] for a field `defaults` does not have (a misspelt option is
/// never ignored), [`PenaltyError::InvalidConfig`] for a value of the wrong type or a
/// non-object.
pub fn merge_json<C>(
    name: &str,
    defaults: &C,
    fields: &serde_json::Value,
) -> Result<C, PenaltyError>
where
    C: Serialize + serde::de::DeserializeOwned,
{
    let invalid = |message: String| PenaltyError::InvalidConfig {
        penalty: name.to_string(),
        message,
    };
    let mut full = serde_json::to_value(defaults).map_err(|e| invalid(e.to_string()))?;
    let (Some(full_obj), Some(given)) = (full.as_object_mut(), fields.as_object()) else {
        return Err(invalid(format!("expected a JSON object, got {fields}")));
    };
    for (key, value) in given {
        match full_obj.get_mut(key) {
            Some(slot) => *slot = value.clone(),
            None => {
                return Err(PenaltyError::UnknownField {
                    penalty: name.to_string(),
                    field: key.clone(),
                })
            }
        }
    }
    serde_json::from_value(full).map_err(|e| invalid(e.to_string()))
}
