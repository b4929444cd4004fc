//! The architectures, one file each: everything about an architecture lives in its file (its
//! config and validation, its parameters and running statistics, its initialisation, its
//! training pass and its inference pass), and the `architectures!` registry at the bottom of this file lists them.
//!
//! To add an architecture `foo`:
//! 1. write `arch/foo.rs` with `FooConfig` (`#[derive(Config)]`, implementing
//!    [`ArchitectureConfig`]: `NAME`, `SUMMARY`, `validate` and `init`, and
//!    [`ArchitectureProperties`]: the properties that differ from the defaults) and `Foo`
//!    (`#[derive(Module, Debug)]`, implementing [`SaeArchitecture`]: the training and
//!    inference passes; it reads the SAE through [`SaeParts`]); copy the nearest existing
//!    file;
//! 2. add the line `foo => Foo, FooConfig;` (with its old spellings, if any, in
//!    `aliases [...]`) to the list at the bottom of this file: that declares the module,
//!    re-exports it, and adds it to [`Architecture`], [`AnyArchitecture`],
//!    [`Architecture::NAMES`], [`Architecture::default_for`] and the command line's `--arch`.
//!    Nothing else to edit (the test `registry_and_docs_agree` checks the crate docs' table).

use burn::module::{Module, Param};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

pub(crate) use crate::error::invalid;
use crate::{Error, Result};

mod magnitude;
pub use magnitude::MagnitudePath;

/// What an architecture reads of the SAE it belongs to: the parameters and passes every SAE
/// shares. [`Sae`](crate::Sae) implements it; architectures depend on this trait, not on `Sae`.
pub trait SaeParts {
    /// Number of latents.
    fn d_sae(&self) -> usize;
    /// `x − b_dec`, `[B, d_in]`.
    fn centre(&self, x: Tensor<2>) -> Tensor<2>;
    /// The encoder weight in use (masked when there is a mask), `[d_in, d_sae]`.
    fn encoder_weight(&self) -> Tensor<2>;
    /// `(x − b_dec) W` for a weight `W` of the encoder's shape, `[B, d_sae]`.
    fn centred_product(&self, x: Tensor<2>, w: Tensor<2>) -> Tensor<2>;
    /// Pre-activations `z = (x − b_dec) W_enc + b_enc`, `[B, d_sae]`.
    fn pre_activations(&self, x: Tensor<2>) -> Tensor<2>;
    /// The decoder weight `[d_sae, d_in]`.
    fn decoder_weight(&self) -> Tensor<2>;
    /// The decoder bias `[d_in]`.
    fn decoder_bias(&self) -> Tensor<1>;
    /// The L2 norm of each decoder row, `[d_sae]`.
    fn decoder_norms(&self) -> Tensor<1>;
}

/// What an architecture's training pass produces.
#[derive(Debug, Clone)]
pub struct Encoded {
    /// The codes `[B, d_sae]`.
    pub codes: Tensor<2>,
    /// The pre-activations, for AuxK (the top-k architectures and JumpReLU).
    pub pre_activations: Option<Tensor<2>>,
    /// The architecture's own sparsity terms (JumpReLU's λ·L0, the gated L1 and auxiliary
    /// reconstruction, hard-concrete's λ·E\[L0\]), already weighted.
    pub sparsity: Option<Tensor<1>>,
    /// A reconstruction loss that replaces the plain one (Matryoshka's sum over prefixes).
    pub reconstruction: Option<Tensor<1>>,
    /// BatchTopK's batch threshold.
    pub batch_threshold: Option<Tensor<1>>,
}

impl Encoded {
    /// Codes with nothing else.
    pub fn codes(codes: Tensor<2>) -> Self {
        Self {
            codes,
            pre_activations: None,
            sparsity: None,
            reconstruction: None,
            batch_threshold: None,
        }
    }
}

/// What the SAE and its trainer need to know about an architecture, read from its config.
/// Every method has a default; an architecture overrides those that differ. Object safe:
/// [`Architecture::properties`] gives the config in use as `&dyn ArchitectureProperties`.
pub trait ArchitectureProperties {
    /// The `k` of a top-k selection (TopK, BatchTopK, Matryoshka): the number of latents kept
    /// per row (on average over a batch for BatchTopK). The defaults of [`k`](Self::k),
    /// [`supports_aux_k`](Self::supports_aux_k) and
    /// [`codes_gradient_on_support`](Self::codes_gradient_on_support) follow from it.
    fn top_k(&self) -> Option<usize> {
        None
    }

    /// The `k` of the k-sparse architectures (by default [`top_k`](Self::top_k)).
    fn k(&self) -> Option<usize> {
        self.top_k()
    }

    /// Whether the AuxK loss applies: it needs pre-activations that a dead latent can still
    /// have above zero (by default, whether there is a top-k selection; JumpReLU too).
    fn supports_aux_k(&self) -> bool {
        self.top_k().is_some()
    }

    /// Whether the codes have no sparsity of their own, so the SAE needs a penalty.
    fn needs_penalty(&self) -> bool {
        false
    }

    /// Whether the codes come from an encoder (OMP's come from the decoder).
    fn has_encoder(&self) -> bool {
        true
    }

    /// Whether a zero code passes no gradient back (its activation's derivative is 0 where
    /// the code is), so the decoder product may skip the zero codes' gradient (by default,
    /// whether the codes are a top-k selection).
    fn codes_gradient_on_support(&self) -> bool {
        self.top_k().is_some()
    }

    /// Whether the decoder rows are kept at unit norm whatever the SAE's config says.
    fn unit_norm_decoder(&self) -> bool {
        false
    }
}

/// An architecture's config: its name, validation and initialisation, and (the supertrait
/// [`ArchitectureProperties`]) what the SAE and its trainer need to know about the
/// architecture. Every `XxxConfig` of this module implements it.
pub trait ArchitectureConfig: ArchitectureProperties {
    /// The module [`init`](Self::init) builds.
    type Module;

    /// The registry name (the serde tag, the `--arch` value), also the `item` of the
    /// config's [`Error::InvalidHyperParameter`].
    const NAME: &'static str;

    /// One line on what the architecture is and its fields: the help text of `--arch`.
    const SUMMARY: &'static str;

    /// Checks the fields against the number of latents.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`] naming the first invalid field.
    fn validate(&self, d_sae: usize) -> Result<()>;

    /// The architecture's parameters and statistics for `d_sae` latents, freshly initialised.
    ///
    /// # Errors
    /// Those of [`validate`](Self::validate).
    fn init(&self, d_sae: usize, device: &Device) -> Result<Self::Module>;
}

/// An architecture's module: its parameters and statistics, its training and inference passes.
/// Every architecture module of this crate implements it; [`AnyArchitecture`] dispatches.
///
/// (The passes are not called `train` and `infer`: `train` would clash with Burn's
/// `Module::train`, which every architecture module also has.)
pub trait SaeArchitecture {
    /// The training pass: codes, and the architecture's own loss terms. `warm` is the
    /// penalty warm-up factor ([`Sae::penalty_factor`](crate::Sae::penalty_factor)), which
    /// multiplies the λ of the architectures that have one.
    fn training_pass(&self, sae: &impl SaeParts, x: Tensor<2>, warm: f64) -> Encoded;

    /// The inference pass: the codes `[B, d_sae]`.
    fn inference_pass(&self, sae: &impl SaeParts, x: Tensor<2>) -> Tensor<2>;

    /// The magnitude path, for the architectures whose codes are gate ⊙ magnitude.
    fn magnitude(&self) -> Option<&MagnitudePath> {
        None
    }

    /// The magnitude path, mutably (see [`magnitude`](Self::magnitude)).
    fn magnitude_mut(&mut self) -> Option<&mut MagnitudePath> {
        None
    }

    /// The architecture with its magnitude path replaced by `f` of it (unchanged without one).
    fn map_magnitude(mut self, f: impl FnOnce(MagnitudePath) -> MagnitudePath) -> Self
    where
        Self: Sized,
    {
        if let Some(path) = self.magnitude_mut() {
            *path = f(path.clone());
        }
        self
    }

    /// A running statistic updated after each training step, outside the optimizer
    /// (BatchTopK's inference threshold), `[1]`.
    fn running_threshold(&self) -> Option<&Param<Tensor<1>>> {
        None
    }

    /// The running statistic, mutably (see [`running_threshold`](Self::running_threshold)).
    fn running_threshold_mut(&mut self) -> Option<&mut Param<Tensor<1>>> {
        None
    }

    /// The architecture with its running statistic replaced by `f` of it (unchanged without
    /// one).
    fn map_running_threshold(mut self, f: impl FnOnce(Param<Tensor<1>>) -> Param<Tensor<1>>) -> Self
    where
        Self: Sized,
    {
        if let Some(threshold) = self.running_threshold_mut() {
            *threshold = f(threshold.clone());
        }
        self
    }

    /// The architecture with its trained parameters (thresholds, magnitude path) set to
    /// require gradients or not: what a decoder fine-tune freezes with the encoder. By
    /// default, the magnitude path's, if any.
    fn with_trainable(self, trainable: bool) -> Self
    where
        Self: Sized,
    {
        self.map_magnitude(|path| path.with_trainable(trainable))
    }
}

/// `relu(z)` for pre-activations the caller no longer needs: the non-positive entries are
/// zeroed in `z`'s own buffer (`mask_fill` on `z <= 0`), and the backward keeps that boolean
/// mask, where Burn's `relu` keeps `z` itself, one more `[B, d_sae]` float tensor for the whole
/// step. Same values and gradient (0 where `z <= 0`, 1 elsewhere).
pub(crate) fn relu_codes(z: Tensor<2>) -> Tensor<2> {
    let off = z.clone().lower_equal_elem(0.0);
    z.mask_fill(off, 0.0)
}

/// A `k` in `1..=d_sae`, for the field `k` of the config `item`.
pub(crate) fn check_k(item: &'static str, k: usize, d_sae: usize) -> Result<()> {
    if k == 0 || k > d_sae {
        return Err(invalid(item, "k", k, "between 1 and d_sae"));
    }
    Ok(())
}

/// A finite number `> 0`, for the field `field` of the config `item`.
pub(crate) fn check_positive(item: &'static str, field: &'static str, v: f64) -> Result<()> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(invalid(item, field, v, "a finite number > 0"))
    }
}

/// A finite number `>= 0`, for the field `field` of the config `item`.
pub(crate) fn check_non_negative(item: &'static str, field: &'static str, v: f64) -> Result<()> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(invalid(item, field, v, "a finite number >= 0"))
    }
}

/// The registry: one line per architecture, `module => Module, ModuleConfig;` (optionally
/// followed by `aliases ["old", ...]`), where `module` (the file `arch/module.rs`) is also the
/// architecture's name.
macro_rules! architectures {
    ($($module:ident => $arch:ident, $config:ident $(, aliases [$($alias:literal),*])?;)+) => {
        $(
            pub mod $module;
            pub use $module::{$arch, $config};
        )+

        /// How the codes are computed: the config of any architecture of this crate, tagged by
        /// its name (one variant per file of [`crate::arch`]).
        ///
        /// Serialised as a flat object with an `architecture` tag:
        /// `{"architecture": "top_k", "k": 32}`. Reading also accepts the tag key `kind` and
        /// the old spellings of the names ([`ALIASES`](Self::ALIASES)), as saved by earlier
        /// versions.
        #[derive(Debug, Clone, PartialEq, Serialize)]
        #[serde(tag = "architecture", rename_all = "snake_case")]
        pub enum Architecture {
            $(
                #[doc = concat!("[`", stringify!($arch), "`] (`arch::", stringify!($module), "`).")]
                $arch($config),
            )+
        }

        impl Architecture {
            /// The architectures' names, one spelling each (the serde tag, the `--arch` value).
            pub const NAMES: [&'static str; [$(stringify!($module)),+].len()] =
                [$(stringify!($module)),+];

            /// One line on each architecture, in [`NAMES`](Self::NAMES) order (each config's
            /// [`ArchitectureConfig::SUMMARY`]): the help text of `--arch`.
            pub const SUMMARIES: [&'static str; [$(stringify!($module)),+].len()] =
                [$(<$config as ArchitectureConfig>::SUMMARY),+];

            /// One line on the architecture called `name` (or an old spelling), `None` for an
            /// unknown name.
            pub fn summary(name: &str) -> Option<&'static str> {
                let name = Self::canonical_name(name).ok()?;
                Self::NAMES.iter().position(|n| *n == name).map(|i| Self::SUMMARIES[i])
            }

            /// The old spellings still accepted, as `(alias, name)`.
            pub const ALIASES: &'static [(&'static str, &'static str)] = &[
                $($($(($alias, stringify!($module)),)*)?)+
            ];

            /// The name for `name` or one of its old spellings.
            ///
            /// # Errors
            /// [`Error::UnknownArchitecture`] for a name that is neither.
            pub fn canonical_name(name: &str) -> Result<&'static str> {
                if let Some(n) = Self::NAMES.iter().find(|n| **n == name) {
                    return Ok(n);
                }
                Self::ALIASES
                    .iter()
                    .find(|(alias, _)| *alias == name)
                    .map(|(_, n)| *n)
                    .ok_or_else(|| Error::UnknownArchitecture {
                        name: name.to_string(),
                        expected: Self::NAMES.join(", "),
                    })
            }

            /// The default config of the architecture called `name` (or an old spelling).
            ///
            /// # Errors
            /// [`Error::UnknownArchitecture`] for an unknown name.
            pub fn default_for(name: &str) -> Result<Self> {
                let name = Self::canonical_name(name)?;
                $(
                    if name == stringify!($module) {
                        return Ok(Self::$arch($config::new()));
                    }
                )+
                unreachable!("canonical_name returns a registered name")
            }

            /// Every architecture with its default config, in registry order.
            pub fn all() -> Vec<Self> {
                vec![$(Self::$arch($config::new()),)+]
            }

            /// The architecture's name (the serde tag).
            pub fn name(&self) -> &'static str {
                match self {
                    $(Self::$arch(_) => stringify!($module),)+
                }
            }

            /// Checks the fields against the number of latents.
            ///
            /// # Errors
            /// [`Error::InvalidHyperParameter`] naming the first invalid field.
            pub fn validate(&self, d_sae: usize) -> Result<()> {
                match self {
                    $(Self::$arch(c) => c.validate(d_sae),)+
                }
            }

            /// Builds the architecture's parameters and statistics.
            ///
            /// # Errors
            /// Those of [`validate`](Self::validate).
            pub fn init(&self, d_sae: usize, device: &Device) -> Result<AnyArchitecture> {
                Ok(match self {
                    $(Self::$arch(c) => AnyArchitecture::$arch(c.init(d_sae, device)?),)+
                })
            }

            /// What the SAE and its trainer need to know about the architecture: its config,
            /// as [`ArchitectureProperties`]. The property methods below read it.
            pub fn properties(&self) -> &dyn ArchitectureProperties {
                match self {
                    $(Self::$arch(c) => c,)+
                }
            }

            /// The `k` of the k-sparse architectures.
            pub fn k(&self) -> Option<usize> {
                self.properties().k()
            }

            /// Whether the AuxK loss applies (TopK, BatchTopK, Matryoshka).
            pub fn supports_aux_k(&self) -> bool {
                self.properties().supports_aux_k()
            }

            /// Whether the codes have no sparsity of their own (ReLU, sigmoid): the SAE
            /// needs a penalty.
            pub fn needs_penalty(&self) -> bool {
                self.properties().needs_penalty()
            }

            /// Whether the codes come from an encoder (all but OMP).
            pub fn has_encoder(&self) -> bool {
                self.properties().has_encoder()
            }

            /// Whether a zero code passes no gradient back.
            pub fn codes_gradient_on_support(&self) -> bool {
                self.properties().codes_gradient_on_support()
            }

            /// Whether the decoder rows are kept at unit norm whatever the SAE's config says.
            pub fn unit_norm_decoder(&self) -> bool {
                self.properties().unit_norm_decoder()
            }
        }

        impl<'de> Deserialize<'de> for Architecture {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                use serde::de::Error as _;
                /// The registry's tagged form, after the tag is made canonical.
                #[derive(Deserialize)]
                #[serde(tag = "architecture", rename_all = "snake_case")]
                enum Tagged {
                    $($arch($config),)+
                }
                let mut value = serde_json::Value::deserialize(d)?;
                let object = value.as_object_mut().ok_or_else(|| {
                    D::Error::custom("an architecture is an object with an `architecture` tag")
                })?;
                let tag = match (object.remove("architecture"), object.remove("kind")) {
                    (Some(tag), None) | (None, Some(tag)) => tag,
                    (Some(_), Some(_)) => {
                        return Err(D::Error::custom(
                            "an architecture has one tag: `architecture` (or the old `kind`), not both",
                        ))
                    }
                    (None, None) => return Err(D::Error::missing_field("architecture")),
                };
                let name = tag
                    .as_str()
                    .ok_or_else(|| D::Error::custom(format!("the architecture's name is a string, got {tag}")))?;
                let name = Self::canonical_name(name).map_err(D::Error::custom)?;
                object.insert("architecture".into(), name.into());
                let tagged: Tagged = serde_json::from_value(value).map_err(D::Error::custom)?;
                Ok(match tagged {
                    $(Tagged::$arch(c) => Self::$arch(c),)+
                })
            }
        }

        $(
            impl From<$config> for Architecture {
                fn from(c: $config) -> Self {
                    Self::$arch(c)
                }
            }
        )+

        /// Any architecture's parameters and statistics, chosen at run time from an
        /// [`Architecture`]: the part of a [`Sae`](crate::Sae) that differs between
        /// architectures. A `Module`, saved with the model.
        #[derive(Module, Debug)]
        pub enum AnyArchitecture {
            $(
                #[doc = concat!("[`", stringify!($arch), "`].")]
                $arch($arch),
            )+
        }

        impl SaeArchitecture for AnyArchitecture {
            fn training_pass(&self, sae: &impl SaeParts, x: Tensor<2>, warm: f64) -> Encoded {
                match self {
                    $(Self::$arch(a) => a.training_pass(sae, x, warm),)+
                }
            }

            fn inference_pass(&self, sae: &impl SaeParts, x: Tensor<2>) -> Tensor<2> {
                match self {
                    $(Self::$arch(a) => a.inference_pass(sae, x),)+
                }
            }

            fn magnitude(&self) -> Option<&MagnitudePath> {
                match self {
                    $(Self::$arch(a) => a.magnitude(),)+
                }
            }

            fn magnitude_mut(&mut self) -> Option<&mut MagnitudePath> {
                match self {
                    $(Self::$arch(a) => a.magnitude_mut(),)+
                }
            }

            fn running_threshold(&self) -> Option<&Param<Tensor<1>>> {
                match self {
                    $(Self::$arch(a) => a.running_threshold(),)+
                }
            }

            fn running_threshold_mut(&mut self) -> Option<&mut Param<Tensor<1>>> {
                match self {
                    $(Self::$arch(a) => a.running_threshold_mut(),)+
                }
            }

            fn with_trainable(self, trainable: bool) -> Self {
                match self {
                    $(Self::$arch(a) => Self::$arch(a.with_trainable(trainable)),)+
                }
            }
        }
    };
}

architectures! {
    relu => Relu, ReluConfig;
    sigmoid => Sigmoid, SigmoidConfig;
    top_k => TopK, TopKConfig, aliases ["topk"];
    batch_top_k => BatchTopK, BatchTopKConfig, aliases ["batchtopk", "batch_topk"];
    matryoshka => Matryoshka, MatryoshkaConfig;
    jump_relu => JumpRelu, JumpReluConfig, aliases ["jumprelu"];
    gated => Gated, GatedConfig;
    hard_concrete => HardConcrete, HardConcreteConfig, aliases ["l0"];
    omp => Omp, OmpConfig;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `relu_codes` is Burn's `relu` in value and gradient, zeros and negatives included (the
    /// gradient at `z = 0` is 0 in both).
    #[test]
    fn relu_codes_is_relu() {
        let device = Device::flex().autodiff();
        let data = [[-1.5f32, 0.0, 2.0], [0.25, -0.0, -3.0]];
        let run = |ours: bool| {
            let z = Tensor::<2>::from_floats(data, &device).require_grad();
            let scale = Tensor::<2>::from_floats([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], &device);
            let codes = if ours {
                relu_codes(z.clone() * 1.0)
            } else {
                burn::tensor::activation::relu(z.clone() * 1.0)
            };
            let value: Vec<f32> = codes.clone().into_data().try_to_vec().unwrap();
            let grads = (codes * scale).sum().backward();
            let grad: Vec<f32> = z.grad(&grads).unwrap().into_data().try_to_vec().unwrap();
            (value, grad)
        };
        let (value, grad) = run(true);
        assert_eq!(value, [0.0, 0.0, 2.0, 0.25, 0.0, 0.0]);
        assert_eq!(grad, [0.0, 0.0, 3.0, 4.0, 0.0, 0.0]);
        assert_eq!((value, grad), run(false));
    }

    /// The registry's names are the serde tags, every default config is valid for enough
    /// latents, old spellings and the old tag key read back, and the crate docs' table of
    /// architectures lists exactly the registry.
    #[test]
    fn registry_and_docs_agree() {
        for name in Architecture::NAMES {
            let arch = Architecture::default_for(name).unwrap();
            assert_eq!(arch.name(), name);
            let json = serde_json::to_value(&arch).unwrap();
            assert_eq!(json["architecture"], name);
            let back: Architecture = serde_json::from_value(json.clone()).unwrap();
            assert_eq!(back, arch);
            let mut old = json.as_object().unwrap().clone();
            let tag = old.remove("architecture").unwrap();
            old.insert("kind".into(), tag);
            let back: Architecture = serde_json::from_value(old.into()).unwrap();
            assert_eq!(back, arch);
            arch.validate(1024).unwrap();
            arch.init(1024, &Device::flex()).unwrap();
        }
        assert_eq!(Architecture::all().len(), Architecture::NAMES.len());
        for (alias, name) in Architecture::ALIASES {
            assert_eq!(Architecture::canonical_name(alias).unwrap(), *name);
            let arch: Architecture = serde_json::from_value(
                Architecture::default_for(name)
                    .unwrap()
                    .to_json_with_tag(alias),
            )
            .unwrap();
            assert_eq!(arch.name(), *name);
        }
        let unknown = Architecture::canonical_name("foo").unwrap_err().to_string();
        assert!(
            unknown.ends_with(&Architecture::NAMES.join(", ")),
            "{unknown}"
        );

        // The crate docs' table: one row per architecture, linking its module.
        let docs = include_str!("../lib.rs");
        let rows: Vec<&str> = docs
            .lines()
            .filter_map(|l| l.strip_prefix("//! | [`"))
            .filter_map(|l| l.split('`').next())
            .collect();
        assert_eq!(
            rows,
            Architecture::NAMES,
            "the table of lib.rs lists the registry"
        );
    }

    impl Architecture {
        /// The JSON form with `tag` as the architecture's name.
        fn to_json_with_tag(&self, tag: &str) -> serde_json::Value {
            let mut json = serde_json::to_value(self).unwrap();
            json["architecture"] = tag.into();
            json
        }
    }
}
