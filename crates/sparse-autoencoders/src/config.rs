//! [`SaeConfig`]: everything that defines a sparse autoencoder, validated into an [`Sae`](crate::Sae).

use burn::config::Config;
use serde::{Deserialize, Serialize};
use sparse_losses::{EpsAnnealConfig, PAnnealConfig, PenaltyConfig};

use crate::arch::Architecture;
use crate::input_norm::InputNormalization;
use crate::{Error, Result};

/// What [`SaeConfig::penalty`] is applied to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PenaltyTarget {
    /// The codes `f`.
    Codes,
    /// The codes weighted by the decoder-row norms, `f_j ‖W_d[j]‖` (Anthropic's L1 recipe: the
    /// penalty cannot be dodged by shrinking codes and growing the decoder).
    DecoderWeightedCodes,
    /// The encoder and decoder weights, each on its own (e.g. spike-and-slab).
    Weights,
    /// The encoder weight `[d_in, d_sae]` only (e.g. group lasso with `axis = 1`: one group
    /// per latent).
    EncoderWeights,
    /// The decoder weight `[d_sae, d_in]` only.
    DecoderWeights,
}

/// The initial decoder bias `b_dec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecoderBiasInit {
    /// Zeros.
    Zeros,
    /// The mean of the training rows (pass them to [`SaeConfig::init_with_data`]).
    Mean,
    /// The geometric median of the training rows (Weiszfeld iterations), robust to outliers.
    GeometricMedian,
}

/// A sparse autoencoder's definition:
///
/// ```text
/// z = (x − b_dec) W_enc + b_enc      f = architecture(z)      x̂ = f W_dec + b_dec
/// loss = mean over rows of Σ (x̂ − x)²  + sparsity term of the architecture / penalty
///        (+ AuxK for dead latents)
/// ```
#[derive(Config, Debug)]
pub struct SaeConfig {
    /// Width of the input activations.
    pub d_in: usize,
    /// Number of latents (dictionary size).
    pub d_sae: usize,
    /// How codes are computed.
    #[config(default = "Architecture::Relu(crate::arch::ReluConfig::new())")]
    pub architecture: Architecture,
    /// An extra penalty from sparse-losses (required for `relu`, optional elsewhere), applied
    /// to [`penalty_target`](Self::penalty_target) and rescaled to a per-row mean.
    #[config(default = "None")]
    pub penalty: Option<PenaltyConfig>,
    /// What the penalty is applied to.
    #[config(default = "PenaltyTarget::DecoderWeightedCodes")]
    pub penalty_target: PenaltyTarget,
    /// A second penalty on the decoder rows (atoms) seen as arrays of
    /// [`atom_shape`](Self::atom_shape): e.g. total variation on atoms that are images.
    #[config(default = "None")]
    pub atom_penalty: Option<PenaltyConfig>,
    /// The shape of one atom for [`atom_penalty`](Self::atom_penalty): `[]` (a vector) or
    /// `[rows, cols]` with `rows · cols = d_in`.
    #[config(default = "Vec::new()")]
    pub atom_shape: Vec<usize>,
    /// A learnable binary mask on the encoder (straight-through estimator) that keeps this
    /// fraction of each latent's input weights (scores start at `|W_enc|`).
    #[config(default = "None")]
    pub encoder_mask_density: Option<f64>,
    /// Initialise the decoder as the encoder's transpose (otherwise independently).
    #[config(default = true)]
    pub tied_init: bool,
    /// Standard deviation of the encoder's normal initialisation; `None` is `1/√d_in`.
    #[config(default = "None")]
    pub init_std: Option<f64>,
    /// The decoder bias at initialisation.
    #[config(default = "DecoderBiasInit::Mean")]
    pub b_dec_init: DecoderBiasInit,
    /// Keep decoder rows at unit norm: rows normalised at init, the gradient's component along
    /// each row removed before every optimizer step, rows renormalised after it.
    #[config(default = false)]
    pub unit_norm_decoder: bool,
    /// AuxK (Gao et al. 2024): reconstruct the residual from the `aux_k` largest dead latents
    /// (TopK, BatchTopK, Matryoshka and JumpReLU only: a dead ReLU, gated or hard-concrete
    /// latent has no positive pre-activation for AuxK to use; resample those, see
    /// `resample`).
    #[config(default = "None")]
    pub aux_k: Option<usize>,
    /// Weight of the AuxK loss (Gao et al.: 1/32).
    #[config(default = 0.03125)]
    pub aux_k_coefficient: f64,
    /// Neuron resampling (Bricken et al. 2023): the dead latents re-initialised towards badly
    /// reconstructed inputs every so many steps, their optimizer state reset (see
    /// [`ResampleConfig`](crate::train::ResampleConfig)). Any architecture with an encoder.
    #[config(default = "None")]
    pub resample: Option<crate::train::ResampleConfig>,
    /// A latent that has not fired for this many training rows counts as dead.
    #[config(default = 10000)]
    pub dead_window: usize,
    /// Momentum of BatchTopK's running inference threshold (θ ← m·θ + (1 − m)·θ_batch).
    #[config(default = 0.99)]
    pub threshold_momentum: f64,
    /// Seed of the initialisation.
    #[config(default = 0)]
    pub seed: u64,
    /// Linear warm-up of the sparsity coefficient over the first optimizer steps (SAELens' L1
    /// warm-up): the penalty, and the λ of `jump_relu`, `gated` and `hard_concrete`, are
    /// multiplied by `min(1, (step + 1) / penalty_warmup_steps)`. 0: no warm-up.
    #[config(default = 0)]
    pub penalty_warmup_steps: usize,
    /// p-annealing (Karvonen et al. 2024) of an [`Lp`](sparse_losses::Lp) penalty: its `p`
    /// follows this schedule over the optimizer steps (e.g. from 1 to the target p over the
    /// training). Needs `penalty` to be `lp`.
    #[config(default = "None")]
    pub p_anneal: Option<PAnnealConfig>,
    /// ε-annealing of a [`LogSum`](sparse_losses::LogSum) penalty: its `eps` follows this
    /// schedule over the optimizer steps (e.g. from 1, nearly L1, down to the target ε over
    /// the training). Needs `penalty` to be `log_sum`.
    #[config(default = "None")]
    pub eps_anneal: Option<EpsAnnealConfig>,
    /// Per-row input normalisation at inference (SAELens' `normalize_activations`, for SAEs
    /// loaded from SAELens directories; see [`InputNormalization`]). [`fit`](crate::fit)
    /// refuses an SAE with one.
    #[config(default = "InputNormalization::None")]
    pub input_normalization: InputNormalization,
}

/// The serde name of [`SaeConfig`], the `item` of its errors.
const ITEM: &str = "sae";

/// [`Error::InvalidHyperParameter`] for a field of a [`SaeConfig`].
fn invalid(field: &'static str, value: impl ToString, expected: &'static str) -> Error {
    crate::error::invalid(ITEM, field, value, expected)
}

/// [`Error::InvalidConfig`] for JSON text that is not a [`SaeConfig`].
fn unreadable(message: impl ToString) -> Error {
    Error::InvalidConfig {
        item: ITEM,
        message: message.to_string(),
    }
}

impl SaeConfig {
    /// A config from JSON text, strictly: an unknown field (a misspelt `aux_k`, say, which
    /// serde would drop) is refused, and so is a value of the wrong type; fields left out take
    /// their defaults (`d_in` and `d_sae` are required); then [`validate`](Self::validate).
    ///
    /// ```
    /// use sparse_autoencoders::{Error, SaeConfig};
    ///
    /// let ok = SaeConfig::from_json(r#"{"d_in": 4, "d_sae": 8, "architecture": {"architecture": "top_k", "k": 2}}"#);
    /// assert_eq!(ok.unwrap().d_sae, 8);
    /// let typo = SaeConfig::from_json(r#"{"d_in": 4, "d_sae": 8, "auxk": 4}"#);
    /// assert!(matches!(typo, Err(Error::InvalidConfig { item: "sae", message: m }) if m.contains("unknown field `auxk`")));
    /// let wrong = SaeConfig::from_json(r#"{"d_in": "4", "d_sae": 8}"#);
    /// assert!(matches!(wrong, Err(Error::InvalidConfig { item: "sae", message: m }) if m.contains("invalid type")));
    /// let short = SaeConfig::from_json(r#"{"d_sae": 8}"#);
    /// assert!(matches!(short, Err(Error::InvalidConfig { item: "sae", message: m }) if m.contains("`d_in`")));
    /// // Valid JSON, invalid config: the usual validation error.
    /// let bad = SaeConfig::from_json(r#"{"d_in": 4, "d_sae": 8, "architecture": {"architecture": "top_k", "k": 9}}"#);
    /// assert!(matches!(bad, Err(Error::InvalidHyperParameter { item: "top_k", field: "k", .. })));
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for text that is not a JSON object, an unknown field, or a value of
    /// the wrong type or a missing required field; those of [`validate`](Self::validate).
    pub fn from_json(text: &str) -> Result<Self> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(unreadable)?;
        let Some(object) = value.as_object() else {
            return Err(unreadable("expected a JSON object"));
        };
        // The defaults, as the config serialises them; the text's fields replace them.
        let defaults = serde_json::to_value(SaeConfig::new(1, 1)).map_err(unreadable)?;
        let serde_json::Value::Object(mut merged) = defaults else {
            return Err(unreadable("a config serialises to an object"));
        };
        if let Some(field) = object.keys().find(|k| !merged.contains_key(k.as_str())) {
            let mut names: Vec<&str> = merged.keys().map(String::as_str).collect();
            names.sort_unstable();
            return Err(unreadable(format!(
                "unknown field `{field}` (the fields: {})",
                names.join(", ")
            )));
        }
        for required in ["d_in", "d_sae"] {
            if !object.contains_key(required) {
                return Err(unreadable(format!("missing field `{required}`")));
            }
        }
        for (k, v) in object {
            merged.insert(k.clone(), v.clone());
        }
        let config: Self =
            serde_json::from_value(serde_json::Value::Object(merged)).map_err(unreadable)?;
        config.validate()?;
        Ok(config)
    }

    /// A penalty schedule (`field`) needs the penalty it anneals: `applies` says whether
    /// [`Self::penalty`] is that one, `expected` names it in the error.
    fn check_anneal(
        &self,
        field: &'static str,
        applies: bool,
        expected: &'static str,
    ) -> Result<()> {
        if applies {
            return Ok(());
        }
        let found = self.penalty.as_ref().map_or("no penalty", |p| p.name());
        Err(invalid(field, found, expected))
    }

    /// Checks every field.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`] naming the first invalid field, or [`Error::Penalty`] for an
    /// invalid penalty config.
    pub fn validate(&self) -> Result<()> {
        if self.d_in == 0 {
            return Err(invalid("d_in", 0, "at least 1"));
        }
        if self.d_sae == 0 {
            return Err(invalid("d_sae", 0, "at least 1"));
        }
        let finite_nonneg = |f: &'static str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(invalid(f, v, "a finite number >= 0"))
            }
        };
        self.architecture.validate(self.d_sae)?;
        if let Some(p) = &self.penalty {
            p.init()?;
            // Every penalty target is a matrix; total variation needs images (rank >= 3).
            if matches!(p, PenaltyConfig::TotalVariation(_)) {
                return Err(invalid(
                    "penalty",
                    p.name(),
                    "a penalty of rows or weights (total_variation acts on images: give it as `atom_penalty`)",
                ));
            }
        } else if self.architecture.needs_penalty() {
            return Err(Error::MissingPenalty(self.architecture.name()));
        }
        if let Some(p) = &self.atom_penalty {
            p.init()?;
        }
        if let Some(anneal) = &self.p_anneal {
            anneal.init()?;
            let lp = matches!(self.penalty, Some(PenaltyConfig::Lp(_)));
            self.check_anneal("p_anneal", lp, "an `lp` penalty to anneal")?;
        }
        if let Some(anneal) = &self.eps_anneal {
            anneal.init()?;
            let log_sum = matches!(self.penalty, Some(PenaltyConfig::LogSum(_)));
            self.check_anneal("eps_anneal", log_sum, "a `log_sum` penalty to anneal")?;
        }
        match self.atom_shape.as_slice() {
            [] => {}
            [r, c] if r * c == self.d_in => {}
            _ => {
                return Err(invalid(
                    "atom_shape",
                    format!("{:?}", self.atom_shape),
                    "[] or [rows, cols] with rows · cols = d_in",
                ))
            }
        }
        if let Some(f) = self.encoder_mask_density {
            if !(f > 0.0 && f <= 1.0) {
                return Err(invalid("encoder_mask_density", f, "a fraction in (0, 1]"));
            }
            if !self.architecture.has_encoder() {
                return Err(invalid(
                    "encoder_mask_density",
                    f,
                    "no mask: omp has no encoder",
                ));
            }
        }
        if let Some(a) = self.aux_k {
            if !self.architecture.supports_aux_k() {
                return Err(Error::AuxKUnsupported(self.architecture.name()));
            }
            if a == 0 || a > self.d_sae {
                return Err(invalid("aux_k", a, "between 1 and d_sae"));
            }
        }
        finite_nonneg("aux_k_coefficient", self.aux_k_coefficient)?;
        if let Some(r) = &self.resample {
            if !self.architecture.has_encoder() {
                return Err(invalid(
                    "resample",
                    r.every,
                    "no resampling: omp has no encoder",
                ));
            }
            r.validate()?;
        }
        if self.dead_window == 0 {
            return Err(invalid("dead_window", 0, "at least 1"));
        }
        if !(0.0..1.0).contains(&self.threshold_momentum) {
            return Err(invalid(
                "threshold_momentum",
                self.threshold_momentum,
                "a number in [0, 1)",
            ));
        }
        if let Some(s) = self.init_std {
            crate::arch::check_positive(ITEM, "init_std", s)?;
        }
        let bytes = (self.d_in as u128) * (self.d_sae as u128) * 4 * 2;
        if bytes > (1u128 << 40) {
            return Err(invalid(
                "d_sae",
                self.d_sae,
                "a size whose weights fit in memory (d_in · d_sae · 8 bytes ≤ 1 TiB)",
            ));
        }
        Ok(())
    }
}
