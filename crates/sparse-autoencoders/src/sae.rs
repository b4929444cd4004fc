//! The [`Sae`] module: parameters, `encode`, `decode`, `forward` and the training objective.

use burn::module::{Module, Param};
use burn::prelude::*;
use burn::tensor::activation::relu;
use burn::tensor::TensorData;
use sparse_losses::ops::sparse_matmul::{centred_matmul, sparse_matmul, sparse_matmul_on_support};
use sparse_losses::ops::top_k::top_k_mask;
use sparse_losses::{
    AnyPenalty, BinaryMask, BinaryMaskConfig, LinearWarmupConfig, MaskKind, Penalty,
};

use crate::arch::{AnyArchitecture, Encoded, SaeArchitecture, SaeParts};
use crate::config::{DecoderBiasInit, PenaltyTarget, SaeConfig};
use crate::params::{param, unit_rows};
use crate::recon_loss;
use crate::stats::normal_vec;
use crate::Result;

/// A sparse autoencoder (see [`SaeConfig`] for the formulas).
///
/// Build one with [`SaeConfig::init`] or [`SaeConfig::init_with_data`]. `Sae` holds what every
/// SAE shares; what differs between architectures (JumpReLU's thresholds, the gated magnitude
/// path, BatchTopK's running threshold) is in [`arch`](Self::arch). Parameter ids are fixed (see
/// `params.rs`), so optimizer state saved by one process finds its parameters in the next.
#[derive(Module, Debug)]
pub struct Sae {
    /// Encoder weight `[d_in, d_sae]` (the gate weight of `gated` and `hard_concrete`).
    pub w_enc: Param<Tensor<2>>,
    /// Encoder bias `[d_sae]`.
    pub b_enc: Param<Tensor<1>>,
    /// Decoder weight `[d_sae, d_in]`: row j is latent j's direction.
    pub w_dec: Param<Tensor<2>>,
    /// Decoder bias `[d_in]`.
    pub b_dec: Param<Tensor<1>>,
    /// The architecture's own parameters and running statistics, and its passes.
    pub arch: AnyArchitecture,
    /// The learnable binary mask on the encoder (scores `[d_sae, d_in]`: each latent keeps
    /// its best-scoring inputs), when [`SaeConfig::encoder_mask_density`] is set.
    pub mask: Option<BinaryMask<2>>,
    /// For each latent, how many training rows have passed since it last fired `[d_sae]`.
    /// Not trained by the optimizer; saved with the model.
    pub since_fired: Param<Tensor<1>>,
    /// During a decoder fine-tune ([`into_decoder_finetune`](Self::into_decoder_finetune)):
    /// the frozen copy of `b_dec` that centres the encoder's input, so that refitting `b_dec`
    /// leaves the codes unchanged. `None` otherwise (the encoder centres with `b_dec`).
    pub b_dec_encoder: Option<Param<Tensor<1>>>,
    /// During a decoder fine-tune with a latent scale: one factor per latent `[d_sae]` that
    /// multiplies the codes before the decoder. `None` otherwise.
    pub latent_scale: Option<Param<Tensor<1>>>,
    /// The definition.
    #[module(skip)]
    pub config: SaeConfig,
    /// The penalty, built from the config.
    #[module(skip)]
    pub penalty: Option<AnyPenalty>,
    /// The atom penalty, built from the config.
    #[module(skip)]
    pub atom_penalty: Option<AnyPenalty>,
    /// Optimizer steps taken so far (counted by `optimize`; [`crate::fit`] sets it when it
    /// resumes): the clock of the penalty schedules.
    #[module(skip)]
    pub step: usize,
    /// Whether the model is in a decoder fine-tune: codes from the frozen encoder, no
    /// sparsity terms, the reconstruction loss alone.
    #[module(skip)]
    pub finetuning: bool,
    /// The divergence guard of the current training run (see
    /// [`DivergenceWatch`](crate::train::DivergenceWatch)), shared by the model's clones.
    #[module(skip)]
    pub divergence: crate::train::DivergenceWatch,
}

/// What one training forward pass produces.
#[derive(Debug, Clone)]
pub struct SaeForward {
    /// The total loss (reconstruction + sparsity + auxiliary terms).
    pub loss: Tensor<1>,

impl SaeParts for Sae {
    fn d_sae(&self) -> usize {
        self.config.d_sae
    }

    fn centre(&self, x: Tensor<2>) -> Tensor<2> {
        Sae::centre(self, x)
    }

    fn encoder_weight(&self) -> Tensor<2> {
        Sae::encoder_weight(self)
    }

    fn centred_product(&self, x: Tensor<2>, w: Tensor<2>) -> Tensor<2> {
        centred_matmul(x, self.encoder_centre(), w)
    }

    fn pre_activations(&self, x: Tensor<2>) -> Tensor<2> {
        Sae::pre_activations(self, x)
    }

    fn decoder_weight(&self) -> Tensor<2> {
        self.w_dec.val()
    }

    fn decoder_bias(&self) -> Tensor<1> {
        self.b_dec.val()
    }

    fn decoder_norms(&self) -> Tensor<1> {
        Sae::decoder_norms(self)
    }
}

/// Building an [`Sae`] from its config (here, beside `Sae`, so that `config.rs` does not
/// depend on the model it defines).
impl SaeConfig {
    /// [`Error::OutOfMemory`] when the weights, drawn on the host and then copied into tensors,
    /// would not fit in the memory available.
    fn check_weight_memory(&self) -> Result<()> {
        crate::memory::check(
            "the SAE's weights",
            2 * crate::memory::parameter_bytes(self),
        )
    }

    /// A freshly initialised SAE on `device` with `b_dec = 0` (whatever
    /// [`b_dec_init`](Self::b_dec_init) says; use [`init_with_data`](Self::init_with_data) for
    /// the data-dependent ones).
    ///
    /// # Errors
    /// See [`validate`](Self::validate); [`Error::OutOfMemory`] when the weights would not fit
    /// in the memory available (checked before allocating them).
    pub fn init(&self, device: &Device) -> Result<Sae> {
        self.validate()?;
        self.check_weight_memory()?;
        Sae::new(self.clone(), None, device)
    }

    /// A freshly initialised SAE whose `b_dec` is computed from `rows` (`[n, d_in]`, row-major)
    /// as [`b_dec_init`](Self::b_dec_init) says.
    ///
    /// # Errors
    /// See [`validate`](Self::validate); [`Error::Shape`], [`Error::NonFinite`] or
    /// [`Error::DataScale`] when `rows` are not rows to train on
    /// ([`check_training_rows`](crate::check_training_rows)); [`Error::OutOfMemory`] as for
    /// [`init`](Self::init).
    pub fn init_with_data(&self, rows: &[f32], device: &Device) -> Result<Sae> {
        self.validate()?;
        crate::error::check_training_rows("data", rows, self.d_in)?;
        self.check_weight_memory()?;
        let b = match self.b_dec_init {
            DecoderBiasInit::Zeros => vec![0.0; self.d_in],
            DecoderBiasInit::Mean => crate::stats::mean(rows, self.d_in),
            DecoderBiasInit::GeometricMedian => crate::stats::geometric_median(rows, self.d_in, 50),
        };
        Sae::new(self.clone(), Some(b), device)
    }
}
