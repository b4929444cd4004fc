//! [`InferenceSae`]: an SAE's inference form as plain host arrays, the meeting point of our
//! [`Sae`] and the SAELens and sparsify files.

use burn::prelude::*;
use burn::tensor::TensorData;
use sparse_losses::{L1Config, PenaltyConfig};

use crate::arch::{
    AnyArchitecture, Architecture, GatedConfig, JumpReluConfig, ReluConfig, SaeArchitecture,
    TopKConfig,
};
use crate::params::{param, B_MAG, LOG_THRESHOLD, R_MAG};
use crate::{Error, InputNormalization, Result, Sae, SaeConfig};

/// How an [`InferenceSae`] turns pre-activations `z = (x − b_dec) W_enc + b_enc` into codes.
#[derive(Debug, Clone, PartialEq)]
pub enum InferenceActivation {
    /// `relu(z)` (SAELens `standard`).
    Relu,
    /// The `k` largest `z` of each row, then ReLU (SAELens `topk` without rescaling; sparsify's
    /// top-k of `relu(z)` gives the same codes).
    TopK {
        /// Latents kept per row.
        k: usize,
    },
    /// `z · 1[z > θ]` after ReLU: `relu(z) · 1[z > θ_j]` (SAELens `jumprelu`).
    JumpRelu {
        /// The thresholds θ, `[d_sae]`.
        threshold: Vec<f32>,
    },
    /// `1[z > 0] · relu((x − b_dec)(W_enc ⊙ exp(r_mag)) + b_mag)`, with `b_enc` the gate bias
    /// (SAELens `gated`, whose `b_gate` is our `b_enc`).
    Gated {
        /// The magnitude path's per-latent log-rescale, `[d_sae]`.
        r_mag: Vec<f32>,
        /// The magnitude path's bias, `[d_sae]`.
        b_mag: Vec<f32>,
    },
}

/// An SAE's inference form, row-major host arrays (`f32`): what the SAELens and sparsify
/// writers save and their readers return, convertible to and from an [`Sae`] exactly (up to
/// the rounding of the folds below).
///
/// ```text
/// x' = normalize(x)     z = (x' − b_dec·[apply_b_dec_to_input]) W_enc + b_enc
/// f = activation(z)     x̂ = restore(f W_dec + b_dec)
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct InferenceSae {
    /// Width of the inputs.
    pub d_in: usize,
    /// Number of latents.
    pub d_sae: usize,
    /// Encoder weight `[d_in, d_sae]`.
    pub w_enc: Vec<f32>,
    /// Encoder bias `[d_sae]` (the gate bias of [`InferenceActivation::Gated`]).
    pub b_enc: Vec<f32>,
    /// Decoder weight `[d_sae, d_in]`.
    pub w_dec: Vec<f32>,
    /// Decoder bias `[d_in]`.
    pub b_dec: Vec<f32>,
    /// Whether the encoder subtracts `b_dec` from its input.
    pub apply_b_dec_to_input: bool,
    /// The codes.
    pub activation: InferenceActivation,
    /// The per-row input normalisation.
    pub normalization: InputNormalization,
}

fn host<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.try_into_vec_as::<f32>()
        .expect("a float tensor converts to f32")
}

/// `v + u W` for `u` `[d_in]`, `W` `[d_in, d_sae]` row-major.
pub(super) fn add_row_product(v: &mut [f32], u: &[f32], w: &[f32]) {
    let h = v.len();
    for (i, ui) in u.iter().enumerate() {
        if *ui != 0.0 {
            for (vj, wj) in v.iter_mut().zip(&w[i * h..(i + 1) * h]) {
                *vj += ui * wj;
            }
        }
    }
}

impl InferenceSae {
    /// The inference form of a trained `sae`, with everything it does at inference folded in:
    /// the encoder mask (the masked `W_enc`), a decoder fine-tune's frozen centre (`b_enc +=
    /// (b_dec − c) W_enc`, and likewise `b_mag`), its latent scale (row j of `W_dec` times
    /// `s_j`); BatchTopK's and Matryoshka's learned threshold θ becomes a JumpReLU threshold
    /// `max(θ, 0)` on every latent (their inference codes are `z · 1[z > θ]`), JumpReLU's
    /// `exp(log_threshold)` its threshold.
    ///
    /// # Errors
    /// [`Error::NoExternalForm`] for `sigmoid` (no sparse inference form), `hard_concrete`
    /// (its test-time gate is a clamp of a stretched sigmoid, which no SAELens architecture
    /// computes) and `omp` (its codes come from a pursuit over the decoder, not an encoder).
    pub fn from_sae(sae: &Sae) -> Result<Self> {
        let (d_in, d_sae) = (sae.d_in(), sae.d_sae());
        let w_enc = host(sae.encoder_weight());
        let mut b_enc = host(sae.b_enc.val());
        let mut w_dec = host(sae.w_dec.val());
        let b_dec = host(sae.b_dec.val());
        // The centre the encoder subtracts, when it is not `b_dec` (a decoder fine-tune).
        let shift: Option<Vec<f32>> = sae.b_dec_encoder.as_ref().map(|c| {
            let c = host(c.val());
            b_dec.iter().zip(&c).map(|(b, c)| b - c).collect()
        });
        if let Some(u) = &shift {
            add_row_product(&mut b_enc, u, &w_enc);
        }
        if let Some(s) = &sae.latent_scale {
            for (row, s) in w_dec.chunks_mut(d_in).zip(host(s.val())) {
                row.iter_mut().for_each(|w| *w *= s);
            }
        }
        let refuse = |name: &str, why: &str| Error::NoExternalForm {
            format: "saelens",
            reason: format!("`{name}` has no exact SAELens or sparsify equivalent ({why})"),
        };
        let activation = match &sae.arch {
            AnyArchitecture::Relu(_) => InferenceActivation::Relu,
            AnyArchitecture::TopK(t) => InferenceActivation::TopK { k: t.k() },
            AnyArchitecture::BatchTopK(_) | AnyArchitecture::Matryoshka(_) => {
                let theta = sae
                    .arch
                    .running_threshold()
                    .map(|t| host(t.val())[0].max(0.0))
                    .unwrap_or(0.0);
                InferenceActivation::JumpRelu {
                    threshold: vec![theta; d_sae],
                }
            }
            AnyArchitecture::JumpRelu(j) => InferenceActivation::JumpRelu {
                threshold: host(j.thresholds.threshold()),
            },
            AnyArchitecture::Gated(g) => {
                let r_mag = host(g.magnitude.r_mag.val());
                let mut b_mag = host(g.magnitude.b_mag.val());
                if let Some(u) = &shift {
                    let w_mag = host(g.magnitude.weight(sae.encoder_weight()));
                    add_row_product(&mut b_mag, u, &w_mag);
                }
                InferenceActivation::Gated { r_mag, b_mag }
            }
            AnyArchitecture::Sigmoid(_) => {
                return Err(refuse("sigmoid", "its codes σ(z) are dense"))
            }
            AnyArchitecture::HardConcrete(_) => {
                return Err(refuse(
                    "hard_concrete",
                    "its test-time gate clamps a stretched sigmoid, which no SAELens architecture computes",
                ))
            }
            AnyArchitecture::Omp(_) => {
                return Err(refuse(
                    "omp",
                    "its codes come from a pursuit over the decoder, not from an encoder",
                ))
            }
        };
        Ok(Self {
            d_in,
            d_sae,
            w_enc,
            b_enc,
            w_dec,
            b_dec,
            apply_b_dec_to_input: true,
            activation,
            normalization: sae.config.input_normalization,
        })
    }

    /// Checks that every array has the length its shape says.
    ///
    /// # Errors
    /// [`Error::Shape`] naming the first array that does not.
    pub fn validate(&self) -> Result<()> {
        let (d, h) = (self.d_in, self.d_sae);
        let mut checks = vec![
            ("W_enc", self.w_enc.len(), d * h),
            ("b_enc", self.b_enc.len(), h),
            ("W_dec", self.w_dec.len(), h * d),
            ("b_dec", self.b_dec.len(), d),
        ];
        match &self.activation {
            InferenceActivation::JumpRelu { threshold } => {
                checks.push(("threshold", threshold.len(), h))
            }
            InferenceActivation::Gated { r_mag, b_mag } => {
                checks.push(("r_mag", r_mag.len(), h));
                checks.push(("b_mag", b_mag.len(), h));
            }
            InferenceActivation::TopK { k } if *k == 0 || *k > h => {
                return Err(Error::Shape(format!("k = {k} is not in 1..={h}")))
            }
            _ => {}
        }
        if d == 0 || h == 0 {
            return Err(Error::Shape(format!(
                "d_in = {d} and d_sae = {h} must be >= 1"
            )));
        }
        for (name, got, want) in checks {
            if got != want {
                return Err(Error::Shape(format!(
                    "{name} has {got} values; d_in = {d}, d_sae = {h} need {want}"
                )));
            }
        }
        Ok(())
    }

    /// An [`Sae`] on `device` that encodes and reconstructs as this form: `apply_b_dec_to_input
    /// = false` is folded into the encoder bias (`b_enc += b_dec W_enc`, `b_mag` likewise), a
    /// threshold `θ ≤ 0` becomes `θ = 0` (`relu(z)·1[z > θ] = relu(z)` then). A `relu` SAE gets
    /// an `l1` penalty in its config (ours needs one; it plays no part at inference).
    ///
    /// # Errors
    /// [`Error::Shape`] (see [`validate`](Self::validate)); those of [`SaeConfig::init`].
    pub fn to_sae(&self, device: &Device) -> Result<Sae> {
        self.validate()?;
        let (d, h) = (self.d_in, self.d_sae);
        let architecture: Architecture = match &self.activation {
            InferenceActivation::Relu => ReluConfig::new().into(),
            InferenceActivation::TopK { k } => TopKConfig { k: *k }.into(),
            InferenceActivation::JumpRelu { .. } => JumpReluConfig::new().into(),
            InferenceActivation::Gated { .. } => GatedConfig::new().into(),
        };
        let penalty = matches!(self.activation, InferenceActivation::Relu)
            .then(|| PenaltyConfig::L1(L1Config::new()));
        let config = SaeConfig::new(d, h)
            .with_architecture(architecture)
            .with_penalty(penalty)
            .with_input_normalization(self.normalization);
        let mut sae = config.init(device)?;
        let mut b_enc = self.b_enc.clone();
        let mut b_mag = match &self.activation {
            InferenceActivation::Gated { b_mag, .. } => b_mag.clone(),
            _ => Vec::new(),
        };
        if !self.apply_b_dec_to_input {
            add_row_product(&mut b_enc, &self.b_dec, &self.w_enc);
            if let InferenceActivation::Gated { r_mag, .. } = &self.activation {
                let w_mag: Vec<f32> = self
                    .w_enc
                    .iter()
                    .enumerate()
                    .map(|(i, w)| w * r_mag[i % h].exp())
                    .collect();
                add_row_product(&mut b_mag, &self.b_dec, &w_mag);
            }
        }
        let t2 = |v: &[f32], shape: [usize; 2]| {
            Tensor::<2>::from_data(TensorData::new(v.to_vec(), shape), device)
        };
        let t1 = |v: &[f32]| Tensor::<1>::from_data(TensorData::new(v.to_vec(), [v.len()]), device);
        // The ids of `Sae::new` (params.rs).
        sae.w_enc = param(1, t2(&self.w_enc, [d, h]), true);
        sae.b_enc = param(2, t1(&b_enc), true);
        sae.w_dec = param(3, t2(&self.w_dec, [h, d]), true);
        sae.b_dec = param(4, t1(&self.b_dec), true);
        match (&self.activation, &mut sae.arch) {
            (InferenceActivation::JumpRelu { threshold }, AnyArchitecture::JumpRelu(j)) => {
                let logs: Vec<f32> = threshold.iter().map(|t| t.max(0.0).ln()).collect();
                j.thresholds.log_threshold = param(LOG_THRESHOLD, t1(&logs), true);
            }
            (InferenceActivation::Gated { r_mag, .. }, AnyArchitecture::Gated(g)) => {
                g.magnitude.r_mag = param(R_MAG, t1(r_mag), true);
                g.magnitude.b_mag = param(B_MAG, t1(&b_mag), true);
            }
            _ => {}
        }
        Ok(sae)
    }

    /// The form with the decoder rows scaled to unit norm and the scale moved into the encoder
    /// (`W_enc[:, j] · n_j`, `b_enc_j · n_j`, `W_dec[j] / n_j`, thresholds `· n_j`, gated's
    /// `b_mag · n_j` and `r_mag + ln n_j`): the same reconstructions, codes in unit-decoder
    /// units. A latent whose decoder row is zero is left as it is.
    pub fn fold_decoder_norms(&mut self) {
        let (d, h) = (self.d_in, self.d_sae);
        for j in 0..h {
            let row = &mut self.w_dec[j * d..(j + 1) * d];
            let n = row.iter().map(|w| w * w).sum::<f32>().sqrt();
            if n == 0.0 || !n.is_finite() {
                continue;
            }
            row.iter_mut().for_each(|w| *w /= n);
            match &mut self.activation {
                InferenceActivation::Gated { r_mag, b_mag } => {
                    r_mag[j] += n.ln();
                    b_mag[j] *= n;
                }
                other => {
                    for i in 0..d {
                        self.w_enc[i * h + j] *= n;
                    }
                    self.b_enc[j] *= n;
                    if let InferenceActivation::JumpRelu { threshold } = other {
                        threshold[j] *= n;
                    }
                }
            }
        }
    }
}
