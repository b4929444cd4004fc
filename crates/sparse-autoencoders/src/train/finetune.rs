//! Decoder fine-tuning against feature suppression (Wright & Sharkey 2024): the encoder is
//! frozen and the decoder is refit on the reconstruction loss alone.
//!
//! A sparsity penalty such as L1 shrinks every active code ("feature suppression", measured by
//! the shrinkage γ of [`SaeMetrics`](crate::SaeMetrics), < 1). Refitting `W_dec` and `b_dec`
//! without the penalty, on the codes the frozen encoder gives at inference, undoes the
//! shrinkage without changing which latents fire: the L0 and the dead latents stay as they
//! are.

use std::path::Path;

use burn::config::Config;
use burn::module::Param;
use burn::prelude::*;

use super::{fit, FitOptions, FitResult, TrainConfig};
use crate::arch::SaeArchitecture;
use crate::error::invalid;
use crate::params::param;
use crate::{Result, Sae};

/// Parameter ids of the fine-tune's own parameters (the model's are 1 to 10).
const B_DEC_ENCODER_ID: u64 = 12;
const LATENT_SCALE_ID: u64 = 13;

/// How to refit the decoder ([`finetune_decoder`]).
#[derive(Config, Debug)]
pub struct FinetuneConfig {
    /// Passes over the training rows.
    #[config(default = 5)]
    pub epochs: usize,
    /// Rows per step.
    #[config(default = 256)]
    pub batch_size: usize,
    /// The learning rate of the fine-tune's own (fresh) Adam.
    #[config(default = 1e-3)]
    pub learning_rate: f64,
    /// Also learn one scale per latent, multiplying the codes before the decoder (folded into
    /// the decoder rows at the end).
    #[config(default = false)]
    pub latent_scale: bool,
    /// Seed of the per-epoch shuffles.
    #[config(default = 0)]
    pub seed: u64,
    /// Save burn-train checkpoints after every epoch.
    #[config(default = false)]
    pub checkpoints: bool,
}

impl FinetuneConfig {
    /// The [`TrainConfig`] the fine-tune runs with.
    pub fn train_config(&self) -> TrainConfig {
        TrainConfig::new()
            .with_epochs(self.epochs)
            .with_batch_size(self.batch_size)
            .with_learning_rate(self.learning_rate)
            .with_seed(self.seed)
            .with_checkpoints(self.checkpoints)
    }
}

/// A parameter with a new value computed from its old one, as a leaf of the graph (so that it
/// can require gradients again), with the same id.
fn update<const D: usize>(
    p: Param<Tensor<D>>,
    f: impl FnOnce(Tensor<D>) -> Tensor<D>,
) -> Param<Tensor<D>> {
    p.map(|t| f(t.detach()).detach())
}

impl Sae {
    /// The encoder's parameters (`W_enc`, `b_enc`, thresholds, gate and magnitude parameters,
    /// mask scores) with `require_grad` set to `trainable`: the one list of what a decoder
    /// fine-tune freezes and thaws.
    fn with_encoder_trainable(mut self, trainable: bool) -> Self {
        self.w_enc = self.w_enc.set_require_grad(trainable);
        self.b_enc = self.b_enc.set_require_grad(trainable);
        self.arch = self.arch.with_trainable(trainable);
        if let Some(m) = self.mask.as_mut() {
            m.scores = m.scores.clone().set_require_grad(trainable);
        }
        self
    }

    /// Prepares a decoder fine-tune: the encoder's parameters (`W_enc`, `b_enc`, thresholds,
    /// gate and magnitude parameters, mask scores) stop requiring gradients, a frozen copy of
    /// `b_dec` centres the encoder's input, the training pass becomes "inference codes →
    /// decoder → reconstruction loss" with no penalty, sparsity term or unit-norm constraint,
    /// and, with `latent_scale`, one scale per latent (starting at 1) multiplies the codes.
    /// Train the result with [`fit`] and finish with
    /// [`finish_decoder_finetune`](Self::finish_decoder_finetune), or call
    /// [`finetune_decoder`], which does all three.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`](crate::Error::InvalidHyperParameter) (item `finetune`)
    /// for `omp` (its codes are computed from the decoder, so there is no encoder to freeze)
    /// and for a model already in a fine-tune.
    pub fn into_decoder_finetune(self, latent_scale: bool) -> Result<Self> {
        if !self.config.architecture.has_encoder() {
            return Err(invalid(
                "finetune",
                "architecture",
                self.config.architecture.name(),
                "an architecture with an encoder (omp's codes come from the decoder)",
            ));
        }
        if self.finetuning {
            return Err(invalid(
                "finetune",
                "finetuning",
                true,
                "a model that is not already in a decoder fine-tune",
            ));
        }
        let device = self.b_dec.val().device();
        let mut sae = self.with_encoder_trainable(false);
        sae.b_dec_encoder = Some(param(B_DEC_ENCODER_ID, sae.b_dec.val().detach(), false));
        sae.latent_scale = latent_scale
            .then(|| param(LATENT_SCALE_ID, Tensor::ones([sae.d_sae()], &device), true));
        sae.finetuning = true;
        Ok(sae)
    }

    /// Ends a decoder fine-tune and returns a plain model with the same function: the latent
    /// scale `s` is folded into the decoder rows (`W_dec[j] ← s_j W_dec[j]`) and the change of
    /// `b_dec` into the encoder's biases (`b_enc ← b_enc + (b_dec − b_dec⁰) W_enc`, and the
    /// same for the magnitude path of `gated` and `hard_concrete`), so the codes are those of
    /// the frozen encoder. The encoder's parameters require gradients again. A model that is
    /// not in a fine-tune is returned unchanged.
    pub fn finish_decoder_finetune(mut self) -> Self {
        if !self.finetuning {
            return self;
        }
        if let Some(s) = self.latent_scale.take() {
            let s = s.val().detach().unsqueeze_dim::<2>(1);
            self.w_dec = update(self.w_dec, |w| w * s);
        }
        if let Some(b0) = self.b_dec_encoder.take() {
            let delta = (self.b_dec.val().detach() - b0.val().detach()).unsqueeze::<2>();
            let w = self.encoder_weight().detach();
            let shift = delta.clone().matmul(w.clone()).squeeze_dim::<1>(0);
            self.b_enc = update(self.b_enc, |b| b + shift);
            self.arch = self.arch.map_magnitude(|mut path| {
                let w_mag = path.weight(w).detach();
                let shift = delta.matmul(w_mag).squeeze_dim::<1>(0);
                path.b_mag = update(path.b_mag, |b| b + shift);
                path
            });
        }
        // `update` leaves the decoder a fresh leaf: it requires gradients again too.
        self.w_dec = self.w_dec.set_require_grad(true);
        self.finetuning = false;
        self.with_encoder_trainable(true)
    }
}

/// Refits the decoder of a trained `sae` without its penalty (Wright & Sharkey 2024):
/// [`Sae::into_decoder_finetune`], [`fit`] with a fresh Adam for `config.epochs` epochs
/// (burn-train's files in `dir`; `options` as for [`fit`]), then
/// [`Sae::finish_decoder_finetune`]. The model may come from [`fit`] (validation mode): it is
/// moved back to `device` (an autodiff device) first.
///
/// ```
/// use std::sync::Arc;
/// use burn::prelude::*;
/// use sparse_autoencoders::prelude::*;
/// use sparse_losses::{L1Config, PenaltyConfig};
///
/// let data = Planted::new(16, 24, 512, 0.1, 0);
/// let rows = Arc::new(data.rows.clone());
/// let device = Device::flex().autodiff();
/// // L1 on the codes of a unit-norm decoder shrinks every active code.
/// let sae = SaeConfig::new(16, 32)
///     .with_penalty(Some(PenaltyConfig::L1(L1Config::new().with_lambda(0.2))))
///     .with_penalty_target(PenaltyTarget::Codes)
///     .with_unit_norm_decoder(true)
///     .init_with_data(&rows, &device)?;
/// let dir = std::env::temp_dir().join(format!("sae-finetune-doc-{}", std::process::id()));
/// let config = TrainConfig::new().with_epochs(30).with_batch_size(64).with_checkpoints(false);
/// let trained = fit(sae, rows.clone(), rows.clone(), &config, &dir, FitOptions::default())?;
/// let before = evaluate(&trained.model, &rows, 256, &device)?;
///
/// let tune = FinetuneConfig::new().with_epochs(10).with_batch_size(64).with_learning_rate(5e-3);
/// let tuned = finetune_decoder(
///     trained.model, rows.clone(), rows.clone(), &tune, &device, &dir, FitOptions::default(),
/// )?;
/// let after = evaluate(&tuned.model, &rows, 256, &device)?;
///
/// // The same codes (the encoder is frozen), less shrinkage, a better reconstruction.
/// assert_eq!(after.l0, before.l0);
/// assert!(before.gamma < 0.95 && (after.gamma - 1.0).abs() < (before.gamma - 1.0).abs());
/// assert!(after.explained_variance > before.explained_variance);
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), sparse_autoencoders::Error>(())
/// ```
///
/// # Errors
/// See [`Sae::into_decoder_finetune`] and [`fit`].
pub fn finetune_decoder(
    sae: Sae,
    train: impl Into<super::RowSource>,
    valid: impl Into<super::RowSource>,
    config: &FinetuneConfig,
    device: &Device,
    dir: &Path,
    options: FitOptions,
) -> Result<FitResult> {
    let sae = sae
        .to_device(device)
        .train()
        .into_decoder_finetune(config.latent_scale)?;
    let out = fit(sae, train, valid, &config.train_config(), dir, options)?;
    Ok(FitResult {
        model: out.model.finish_decoder_finetune(),
        epochs: out.epochs,
    })
}
