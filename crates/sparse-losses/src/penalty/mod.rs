//! The sparsity penalties: the [`Penalty`] trait, one file per penalty, the registry that
//! lists them ([`PenaltyConfig`], [`AnyPenalty`]), and [`ModulePenalty`].
//!
//! To add a penalty `foo`:
//! 1. write `penalty/foo.rs` with `FooConfig` (`#[derive(Config)]`,
//!    `fn init(&self) -> Result<Foo>`, and `const SUMMARY`, the one line of help a command line
//!    shows) and `Foo` (`#[derive(Module, Debug)]`, `impl Penalty for Foo`, `name()` returning
//!    `"foo"`);
//! 2. add the line `foo => Foo, FooConfig;` to the `penalties!` list below: that declares the
//!    module, re-exports it (crate root and prelude), and adds it to `PenaltyConfig`, `NAMES`,
//!    `SUMMARIES`, `default_for` (and its `UnknownPenalty` list), `init` and `AnyPenalty`.
//!    Nothing else to edit.

use burn::module::Module;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::{Error, Reduction, Result};

mod module_penalty;
pub use module_penalty::*;

/// A sparsity penalty: a differentiable function from a tensor of any rank to a scalar.
///
/// Every penalty of this crate implements it. The result has shape `[1]`, lives on the input's
/// device and is built from Burn tensor ops only, so on an autodiff device
/// (`Device::flex().autodiff()`, ...) `loss.backward()` reaches the input.
pub trait Penalty {
    /// The penalty's serde name (`"l1"`, `"group_lasso"`, ...), as in
    /// [`PenaltyConfig`]'s `penalty` tag.
    fn name(&self) -> &'static str;

    /// How the penalty reduces its terms to one value: what it sums or averages, so that the
    /// value can be put on a common scale with [`per_example`](Self::per_example).
    fn reduction(&self) -> Reduction;

    /// Evaluates the penalty on `x`.
    ///
    /// # Errors
    /// [`Error::EmptyInput`] for a tensor without elements, and the shape errors each
    /// penalty documents (rank, axis, group ids). Checked before any computation.
    fn forward<const D: usize>(&self, x: Tensor<D>) -> Result<Tensor<1>>;

    /// Rescales `value`, this penalty's result on an input of shape `x_dims`, to the mean over
    /// dim 0 of the per-example sum (see [`Reduction::per_example`]): the same scale for every
    /// penalty, whether it sums, averages over elements or already averages over the batch.
    ///
    /// ```
    /// use burn::prelude::*;
    /// use sparse_losses::prelude::*;
    ///
    /// let codes = Tensor::<2>::ones([4, 3], &Device::flex());
    /// let sum = L1Config::new().init()?;
    /// let mean = L1Config::new().with_reduction(Reduction::Mean).init()?;
    /// for l1 in [sum, mean] {
    ///     let value = l1.forward(codes.clone())?;
    ///     // Each example has Σ|x| = 3.
    ///     assert_eq!(l1.per_example(value, codes.dims()).into_scalar::<f32>(), 3.0);
    /// }
    /// # Ok::<(), sparse_losses::Error>(())
    /// ```
    fn per_example<const D: usize>(&self, value: Tensor<1>, x_dims: [usize; D]) -> Tensor<1> {
        self.reduction().per_example(value, x_dims)
    }
}

/// The registry: one line per penalty, `module => Penalty, PenaltyConfig;`, where `module`
/// (the file `penalty/module.rs`) is also the penalty's serde name.
macro_rules! penalties {
    ($($module:ident => $penalty:ident, $config:ident;)+) => {
        $(
            mod $module;
            pub use $module::*;
        )+

        /// The config of any penalty of this crate, tagged by its name: the form to use in a
        /// configuration file or on a command line.
        ///
        /// Serialised as a flat object with a `penalty` tag:
        /// `{"penalty": "group_lasso", "lambda": 0.1, "l1_ratio": 0.0, "axis": 1, ...}`.
        /// Burn's `Config` deserialisers need every field; use [`PenaltyConfig::from_json`] to
        /// read an object that only gives the fields that differ from the defaults.
        #[derive(Debug, Clone, Serialize, Deserialize)]
        #[serde(tag = "penalty", rename_all = "snake_case")]
        pub enum PenaltyConfig {
            $(
                #[doc = concat!("[`", stringify!($penalty), "`].")]
                $penalty($config),
            )+
        }

        impl PenaltyConfig {
            /// The names [`from_json`](Self::from_json) and the `penalty` tag accept.
            pub const NAMES: [&'static str; [$(stringify!($module)),+].len()] =
                [$(stringify!($module)),+];

            /// The default config of the penalty called `name`.
            ///
            /// # Errors
            /// [`Error::UnknownPenalty`] for a name not in [`NAMES`](Self::NAMES).
            pub fn default_for(name: &str) -> Result<Self> {
                $(
                    if name == stringify!($module) {
                        return Ok(Self::$penalty($config::new()));
                    }
                )+
                Err(Error::UnknownPenalty {
                    name: name.to_string(),
                    expected: Self::NAMES.join(", "),
                })
            }

            /// One line on each penalty, in [`NAMES`](Self::NAMES) order (each config's
            /// `SUMMARY`): the help text of a command line's `--penalty`.
            pub const SUMMARIES: [&'static str; [$(stringify!($module)),+].len()] =
                [$($config::SUMMARY),+];

            /// One line on the penalty called `name`, `None` for an unknown name.
            pub fn summary(name: &str) -> Option<&'static str> {
                Self::NAMES.iter().position(|n| *n == name).map(|i| Self::SUMMARIES[i])
            }

            /// The penalty's name (the serde tag).
            pub fn name(&self) -> &'static str {
                match self {
                    $(Self::$penalty(_) => stringify!($module),)+
                }
            }

            /// Validates the config and builds the penalty.
            ///
            /// # Errors
            /// Whatever the wrapped config's `init` returns.
            pub fn init(&self) -> Result<AnyPenalty> {
                Ok(match self {
                    $(Self::$penalty(c) => AnyPenalty::$penalty(c.init()?),)+
                })
            }
        }

        /// Any penalty of this crate, chosen at run time (e.g. from a [`PenaltyConfig`] read
        /// from a file or a command line). A `Module`, so it can be a field of a user's model.
        #[derive(Module, Debug)]
        pub enum AnyPenalty {
            $(
                #[doc = concat!("[`", stringify!($penalty), "`].")]
                $penalty($penalty),
            )+
        }

        impl Penalty for AnyPenalty {
            fn name(&self) -> &'static str {
                match self {
                    $(Self::$penalty(p) => p.name(),)+
                }
            }

            fn reduction(&self) -> Reduction {
                match self {
                    $(Self::$penalty(p) => p.reduction(),)+
                }
            }

            fn forward<const D: usize>(&self, x: Tensor<D>) -> Result<Tensor<1>> {
                match self {
                    $(Self::$penalty(p) => p.forward(x),)+
                }
            }
        }
    };
}

penalties! {
    l1 => L1, L1Config;
    elastic_net => ElasticNet, ElasticNetConfig;
    group_lasso => GroupLasso, GroupLassoConfig;
    kl_sparsity => KlSparsity, KlSparsityConfig;
    hoyer => Hoyer, HoyerConfig;
    total_variation => TotalVariation, TotalVariationConfig;
    spike_and_slab => SpikeAndSlab, SpikeAndSlabConfig;
    entropy => Entropy, EntropyConfig;
    tanh => Tanh, TanhConfig;
    log_sum => LogSum, LogSumConfig;
    lp => Lp, LpConfig;
    scad => Scad, ScadConfig;
    mcp => Mcp, McpConfig;
    l1_decoder_norm => L1DecoderNorm, L1DecoderNormConfig;
}

impl PenaltyConfig {
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
    /// [`Error::UnknownPenalty`] for an unknown name, [`Error::UnknownField`] for a field the
    /// penalty does not have (so that a misspelt option is never ignored),
    /// [`Error::InvalidConfig`] for a value of the wrong type, a `reduction` the penalty does
    /// not support, or a non-object. Other values are not range-checked here:
    /// [`init`](Self::init) does that.
    pub fn from_json(name: &str, fields: &serde_json::Value) -> Result<Self> {
        let defaults = Self::default_for(name)?;
        let item = defaults.name();
        let mut fields = fields.clone();
        if let Some(obj) = fields.as_object_mut() {
            // The tag may be given; it must then agree with `name`.
            match obj.get("penalty") {
                Some(tag) if tag.as_str() != Some(item) => {
                    return Err(Error::InvalidConfig {
                        item,
                        message: format!("`penalty` is {tag}, expected \"{item}\""),
                    })
                }
                _ => obj.remove("penalty"),
            };
        }
        let config = merge_json(item, &defaults, &fields)?;
        // A reduction outside the penalty's vocabulary is a value the penalty cannot read,
        // as a misspelt enum value is (each penalty used to have its own reduction enum).
        match config.init() {
            Err(error @ Error::InvalidReduction { .. }) => Err(Error::InvalidConfig {
                item,
                message: error.to_string(),
            }),
            _ => Ok(config),
        }
    }
}

/// Reads a config from a JSON object that holds only the fields that differ from `defaults`:
/// the defaults are serialised, the given fields replace theirs, and the result is read back.
/// `item` (the config's serde name) goes into the errors.
///
/// # Errors
/// [`Error::UnknownField`] for a field `defaults` does not have (a misspelt option is never
/// ignored), [`Error::InvalidConfig`] for a value of the wrong type or a non-object.
pub fn merge_json<C>(item: &'static str, defaults: &C, fields: &serde_json::Value) -> Result<C>
where
    C: Serialize + serde::de::DeserializeOwned,
{
    let invalid = |message: String| Error::InvalidConfig { item, message };
    let mut full = serde_json::to_value(defaults).map_err(|e| invalid(e.to_string()))?;
    let (Some(full_obj), Some(given)) = (full.as_object_mut(), fields.as_object()) else {
        return Err(invalid(format!("expected a JSON object, got {fields}")));
    };
    for (key, value) in given {
        match full_obj.get_mut(key) {
            Some(slot) => *slot = value.clone(),
            None => {
                return Err(Error::UnknownField {
                    item,
                    field: key.clone(),
                })
            }
        }
    }
    serde_json::from_value(full).map_err(|e| invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The registry's names are the serde tags and the penalties' own names.
    #[test]
    fn registry_names_agree() {
        for name in PenaltyConfig::NAMES {
            let config = PenaltyConfig::default_for(name).unwrap();
            assert_eq!(config.name(), name);
            assert_eq!(serde_json::to_value(&config).unwrap()["penalty"], name);
            assert_eq!(config.init().unwrap().name(), name);
        }
        for (name, summary) in PenaltyConfig::NAMES.iter().zip(PenaltyConfig::SUMMARIES) {
            assert_eq!(PenaltyConfig::summary(name), Some(summary));
            assert!(!summary.is_empty() && !summary.contains('\n'), "{name}");
        }
        let message = PenaltyConfig::default_for("foo").unwrap_err().to_string();
        assert!(
            message.ends_with(&PenaltyConfig::NAMES.join(", ")),
            "{message}"
        );
    }
}
