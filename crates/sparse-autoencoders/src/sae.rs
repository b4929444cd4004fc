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
    /// Mean over rows of Σ (x̂ − x)².
    pub reconstruction: Tensor<1>,
    /// The reconstruction `[B, d_in]`.
    pub x_hat: Tensor<2>,
    /// The codes `[B, d_sae]`.
    pub codes: Tensor<2>,
    /// BatchTopK's batch threshold (BatchTopK and Matryoshka).
    pub batch_threshold: Option<Tensor<1>>,
}

impl Sae {
    pub(crate) fn new(config: SaeConfig, b_dec: Option<Vec<f32>>, device: &Device) -> Result<Self> {
        let (d, h) = (config.d_in, config.d_sae);
        let std = config.init_std.unwrap_or(1.0 / (d as f64).sqrt());
        let w_enc = Tensor::<2>::from_data(
            TensorData::new(normal_vec(d * h, std, config.seed), [d, h]),
            device,
        );
        let mut w_dec = if config.tied_init {
            w_enc.clone().transpose()
        } else {
            Tensor::<2>::from_data(
                TensorData::new(normal_vec(d * h, std, config.seed ^ 0x5EED), [h, d]),
                device,
            )
        };
        if config.unit_norm_decoder || config.architecture.unit_norm_decoder() {
            w_dec = unit_rows(w_dec);
        }
        let b_dec = b_dec.unwrap_or_else(|| vec![0.0; d]);
        let b_dec = Tensor::<1>::from_data(TensorData::new(b_dec, [d]), device);
        let arch = config.architecture.init(h, device)?;
        let penalty = config.penalty.as_ref().map(|p| p.init()).transpose()?;
        let atom_penalty = config.atom_penalty.as_ref().map(|p| p.init()).transpose()?;
        let mask = match config.encoder_mask_density {
            None => None,
            Some(fraction) => {
                let rule = BinaryMaskConfig::new()
                    .with_kind(MaskKind::Topk)
                    .with_fraction(Some(fraction))
                    .init()?;
                let mut m = BinaryMask::new(w_enc.clone().transpose().abs(), rule)?;
                m.scores = param(10, m.scores.val(), true);
                Some(m)
            }
        };
        Ok(Self {
            w_enc: param(1, w_enc, true),
            b_enc: param(2, Tensor::zeros([h], device), true),
            w_dec: param(3, w_dec, true),
            b_dec: param(4, b_dec, true),
            arch,
            mask,
            since_fired: param(9, Tensor::zeros([h], device), false),
            b_dec_encoder: None,
            latent_scale: None,
            config,
            penalty,
            atom_penalty,
            step: 0,
            finetuning: false,
            divergence: Default::default(),
        })
    }

    /// Width of the inputs.
    pub fn d_in(&self) -> usize {
        self.config.d_in
    }

    /// Number of latents.
    pub fn d_sae(&self) -> usize {
        self.config.d_sae
    }

    /// `x − b_dec`, `[B, d_in]`.
    ///
    /// # Panics
    /// Inside Burn when `x` is not `[B, d_in]` (as [`encode`](Self::encode)).
    pub fn centre(&self, x: Tensor<2>) -> Tensor<2> {
        x - self.encoder_centre().unsqueeze::<2>()
    }

    /// The `b_dec` the encoder subtracts (a frozen copy during a decoder fine-tune), `[d_in]`.
    fn encoder_centre(&self) -> Tensor<1> {
        self.b_dec_encoder.as_ref().unwrap_or(&self.b_dec).val()
    }

    /// The encoder weight in use, `[d_in, d_sae]`: `W_enc`, masked when there is a mask.
    pub fn encoder_weight(&self) -> Tensor<2> {
        let w = self.w_enc.val();
        match &self.mask {
            None => w,
            Some(m) => m
                .forward(w.transpose())
                .expect("the mask scores are built with the encoder's shape")
                .transpose(),
        }
    }

    /// Pre-activations `z = (x − b_dec) W_enc + b_enc`, `[B, d_sae]`. (The product's backward
    /// skips the zeros of the incoming gradient on Flex: behind ReLU or TopK most are zero.)
    ///
    /// # Panics
    /// Inside Burn when `x` is not `[B, d_in]` (as [`encode`](Self::encode)).
    pub fn pre_activations(&self, x: Tensor<2>) -> Tensor<2> {
        centred_matmul(x, self.encoder_centre(), self.encoder_weight())
            + self.b_enc.val().unsqueeze::<2>()
    }

    /// The magnitude path of `gated` and `hard_concrete`: `relu((x − b_dec)(W_enc ⊙ exp(r_mag))
    /// + b_mag)`.
    ///
    /// # Panics
    /// Inside Burn when `x` is not `[B, d_in]` (as [`encode`](Self::encode)).
    pub fn magnitudes(&self, x: Tensor<2>) -> Tensor<2> {
        match self.arch.magnitude() {
            Some(path) => path.forward(self, x),
            None => relu(self.pre_activations(x)),
        }
    }

    /// The codes at inference (test-time gates, BatchTopK's learned threshold), `[B, d_sae]`.
    ///
    /// # Panics
    /// Inside Burn when `x` is not `[B, d_in]`; [`try_encode`](Self::try_encode) returns an
    /// error instead.
    pub fn encode(&self, x: Tensor<2>) -> Tensor<2> {
        let (x, _) = self.config.input_normalization.normalize(x);
        self.arch.inference_pass(self, x)
    }

    /// The codes and the reconstruction of `x` at inference, `([B, d_sae], [B, d_in])`: as
    /// `encode` then `decode`, with the reconstruction mapped back through the input
    /// normalisation when there is one ([`SaeConfig::input_normalization`]).
    ///
    /// # Panics
    /// Inside Burn when `x` is not `[B, d_in]`.
    pub fn encode_and_reconstruct(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let (x, stats) = self.config.input_normalization.normalize(x);
        let codes = self.arch.inference_pass(self, x);
        let x_hat = stats.restore(self.decode(codes.clone()));
        (codes, x_hat)
    }

    /// The reconstruction `f W_dec + b_dec`, `[B, d_in]` (`(f ⊙ s) W_dec + b_dec` during a
    /// decoder fine-tune with a latent scale `s`).
    ///
    /// The product skips the zero codes on Flex (TopK: 32 of 1024 nonzero). For ReLU, TopK,
    /// BatchTopK and Matryoshka codes, and during a fine-tune (detached codes), `f` itself gets a
    /// gradient only where it is nonzero ([`sparse_matmul_on_support`]): those activations pass
    /// no gradient through a zero code, so every parameter's gradient is the dense product's.
    ///
    /// # Panics
    /// Inside Burn when `f` is not `[B, d_sae]`; [`try_decode`](Self::try_decode) returns an
    /// error instead.
    pub fn decode(&self, f: Tensor<2>) -> Tensor<2> {
        let f = match &self.latent_scale {
            Some(s) => f * s.val().unsqueeze::<2>(),
            None => f,
        };
        let product = if self.codes_gradient_on_support() {
            sparse_matmul_on_support(f, self.w_dec.val())
        } else {
            sparse_matmul(f, self.w_dec.val())
        };
        product + self.b_dec.val().unsqueeze::<2>()
    }

    /// Whether a zero code passes no gradient back (ReLU, TopK, BatchTopK, Matryoshka codes are
    /// 0 exactly where their activation's derivative is; a fine-tune's codes are detached).
    fn codes_gradient_on_support(&self) -> bool {
        self.finetuning || self.config.architecture.codes_gradient_on_support()
    }

    /// `decode(encode(x))` (with the reconstruction mapped back through the input
    /// normalisation, when there is one).
    ///
    /// # Panics
    /// Inside Burn when `x` is not `[B, d_in]`; [`try_forward`](Self::try_forward) returns an
    /// error instead.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.encode_and_reconstruct(x).1
    }

    /// The L2 norm of each decoder row, `[d_sae]`.
    pub fn decoder_norms(&self) -> Tensor<1> {
        self.w_dec
            .val()
            .square()
            .sum_dim(1)
            .sqrt()
            .squeeze_dim::<1>(1)
    }

    /// The training objective on a batch `x` (`[B, d_in]`): the architecture's training codes,
    /// the reconstruction, the sparsity terms, the penalty and AuxK.
    ///
    /// # Panics
    /// Inside Burn when `x` is not `[B, d_in]`;
    /// [`try_forward_train`](Self::try_forward_train) returns an error instead.
    pub fn forward_train(&self, x: Tensor<2>) -> SaeForward {
        if self.finetuning {
            return self.forward_finetune(x);
        }
        let Encoded {
            codes,
            pre_activations,
            sparsity,
            reconstruction,
            batch_threshold,
        } = self
            .arch
            .training_pass(self, x.clone(), self.penalty_factor());
        let x_hat = self.decode(codes.clone());
        let reconstruction = reconstruction.unwrap_or_else(|| recon_loss(&x_hat, &x));
        let mut loss = reconstruction.clone();
        if let Some(s) = sparsity {
            loss = loss + s;
        }
        if let Some(p) = self.penalty_term(&codes) {
            loss = loss + p.mul_scalar(self.penalty_factor());
        }
        if let Some(p) = self.atom_penalty_term() {
            loss = loss + p;
        }
        if let (Some(k_aux), Some(z)) = (self.config.aux_k, pre_activations) {
            loss = loss + self.aux_k_loss(z, &x, &x_hat, k_aux) * self.config.aux_k_coefficient;
        }
        SaeForward {
            loss,
            reconstruction,
            x_hat,
            codes,
            batch_threshold,
        }
    }

    /// A decoder fine-tune's pass: the inference codes of the frozen encoder (no gradient),
    /// the reconstruction loss alone.
    fn forward_finetune(&self, x: Tensor<2>) -> SaeForward {
        let codes = self.arch.inference_pass(self, x.clone()).detach();
        let x_hat = self.decode(codes.clone());
        let reconstruction = recon_loss(&x_hat, &x);
        SaeForward {
            loss: reconstruction.clone(),
            reconstruction,
            x_hat,
            codes,
            batch_threshold: None,
        }
    }

    /// The factor of the penalty warm-up at the current step (1 without warm-up): it
    /// multiplies the penalty and the λ of JumpReLU, Gated and hard-concrete.
    pub fn penalty_factor(&self) -> f64 {
        LinearWarmupConfig::new(self.config.penalty_warmup_steps)
            .init()
            .expect("every number of warm-up steps is valid")
            .factor(self.step)
    }

    /// The penalty in use at the current step: the configured one, `Lp` with the annealed
    /// `p` of [`SaeConfig::p_anneal`], or `LogSum` with the annealed `eps` of
    /// [`SaeConfig::eps_anneal`].
    fn scheduled_penalty(&self) -> Option<std::borrow::Cow<'_, AnyPenalty>> {
        const VALIDATED: &str = "the schedule is validated with the config";
        let p = self.penalty.as_ref()?;
        match (&self.config.p_anneal, &self.config.eps_anneal, p) {
            (Some(anneal), _, AnyPenalty::Lp(lp)) => {
                let lp = anneal.init().and_then(|a| a.apply(lp, self.step));
                Some(std::borrow::Cow::Owned(AnyPenalty::Lp(
                    lp.expect(VALIDATED),
                )))
            }
            (_, Some(anneal), AnyPenalty::LogSum(log_sum)) => {
                let log_sum = anneal.init().and_then(|a| a.apply(log_sum, self.step));
                Some(std::borrow::Cow::Owned(AnyPenalty::LogSum(
                    log_sum.expect(VALIDATED),
                )))
            }
            _ => Some(std::borrow::Cow::Borrowed(p)),
        }
    }

    /// The configured penalty, per row (see [`Penalty::per_example`]).
    fn penalty_term(&self, codes: &Tensor<2>) -> Option<Tensor<1>> {
        let p = self.scheduled_penalty()?;
        let p = p.as_ref();
        let value = match (self.config.penalty_target, p) {
            (PenaltyTarget::Codes, AnyPenalty::L1DecoderNorm(l1)) => {
                let v = l1
                    .forward_with_decoder(codes.clone(), self.w_dec.val())
                    .expect("codes [B, d_sae] and decoder [d_sae, d_in] agree");
                p.per_example(v, codes.dims())
            }
            (PenaltyTarget::Codes, _) => {
                let v = p
                    .forward(codes.clone())
                    .expect("codes are [B, d_sae], B, d_sae >= 1");
                p.per_example(v, codes.dims())
            }
            (PenaltyTarget::DecoderWeightedCodes, _) => {
                let u = codes.clone() * self.decoder_norms().unsqueeze::<2>();
                let v = p
                    .forward(u.clone())
                    .expect("codes are [B, d_sae], B, d_sae >= 1");
                p.per_example(v, u.dims())
            }
            (PenaltyTarget::Weights, _) => {
                let a = p.forward(self.w_enc.val()).expect("weights are non-empty");
                let b = p.forward(self.w_dec.val()).expect("weights are non-empty");
                a + b
            }
            (PenaltyTarget::EncoderWeights, _) => {
                p.forward(self.w_enc.val()).expect("weights are non-empty")
            }
            (PenaltyTarget::DecoderWeights, _) => {
                p.forward(self.w_dec.val()).expect("weights are non-empty")
            }
        };
        Some(value)
    }

    /// The atom penalty on the decoder rows seen as arrays of `atom_shape`.
    fn atom_penalty_term(&self) -> Option<Tensor<1>> {
        let p = self.atom_penalty.as_ref()?;
        let w = self.w_dec.val();
        let value = match self.config.atom_shape.as_slice() {
            [r, c] => p.forward(w.reshape([self.config.d_sae, *r, *c])),
            _ => p.forward(w),
        };
        Some(value.expect("atom shapes are validated with the config"))
    }

    /// AuxK (Gao et al. 2024): the residual `e = x − x̂` (held constant) reconstructed from the
    /// `k_aux` largest ReLU'd pre-activations among the dead latents, `ê = topk(z_dead) W_dec`;
    /// the loss is `Σ(e − ê)² / Σ(e − ē)²` (zero gradient when no latent is dead).
    fn aux_k_loss(
        &self,
        z: Tensor<2>,
        x: &Tensor<2>,
        x_hat: &Tensor<2>,
        k_aux: usize,
    ) -> Tensor<1> {
        let dead = self
            .since_fired
            .val()
            .greater_equal_elem(self.config.dead_window as f64)
            .float()
            .unsqueeze::<2>();
        let z_dead = relu(z) * dead;
        // The shared top-k of sparse-losses (no gradient through the selection).
        let keep = top_k_mask(z_dead.clone(), k_aux);
        // ReLU'd and masked: a zero passes no gradient back, as in `decode`.
        let e_hat = sparse_matmul_on_support(z_dead * keep, self.w_dec.val());
        let e = (x.clone() - x_hat.clone()).detach();
        let centred = e.clone() - e.clone().mean_dim(0);
        let denom = centred.square().sum().clamp_min(1e-12);
        (e - e_hat).square().sum() / denom
    }

    /// The next value of [`since_fired`](Self::since_fired) after a batch with these codes.
    pub fn next_since_fired(&self, codes: &Tensor<2>) -> Tensor<1> {
        let [b, _] = codes.dims();
        // A boolean any over the batch: no float copy of the codes.
        let fired = codes
            .clone()
            .detach()
            .not_equal_elem(0.0)
            .any_dim(0)
            .squeeze_dim::<1>(0);
        let since = self.since_fired.val().detach() + b as f64;
        since.mask_fill(fired, 0.0)
    }

    /// The next value of BatchTopK's running threshold after a batch whose threshold is `t`.
    pub fn next_threshold(&self, t: Tensor<1>) -> Option<Tensor<1>> {
        let current = self.arch.running_threshold()?.val().detach();
        let m = self.config.threshold_momentum;
        let t = t.detach();
        let blended = current.clone() * m + t.clone() * (1.0 - m);
        Some(blended.mask_where(current.lower_elem(0.0), t))
    }

    /// The fraction of latents that have not fired within the dead window, as of the last
    /// training step.
    pub fn dead_fraction(&self) -> f64 {
        let dead = self
            .since_fired
            .val()
            .greater_equal_elem(self.config.dead_window as f64)
            .float()
            .mean();
        dead.into_scalar::<f32>() as f64
    }
}

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
    /// See [`validate`](Self::validate); [`Error::OutOfMemory`](crate::Error::OutOfMemory) when the weights would not fit
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
    /// See [`validate`](Self::validate); [`Error::Shape`](crate::Error::Shape), [`Error::NonFinite`](crate::Error::NonFinite) or
    /// [`Error::DataScale`](crate::Error::DataScale) when `rows` are not rows to train on
    /// ([`check_training_rows`](crate::check_training_rows)); [`Error::OutOfMemory`](crate::Error::OutOfMemory) as for
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
