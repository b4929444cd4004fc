//! The sparse autoencoder.
//!
//! ```text
//! f  = act((x − b_d) W_e + b_e)        W_e: [d, h], b_e: [h]
//! x̂  = f W_d + b_d                     W_d: [h, d], b_d: [d]
//! ```
//!
//! Initialisation (the reference recipe): `W_e ~ N(0, 1/d)`, `W_d = W_eᵀ`, `b_e = 0`,
//! `b_d` = the mean training image. The random numbers come from [`crate::rng::SplitMix64`] on
//! the host, so a seed gives the same model on every backend.

use burn::module::{Module, Param, ParamId};
use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::{IndexingUpdateOp, TensorData};
use serde::{Deserialize, Serialize};
use sparse_losses::{normalize_atoms, BinaryMask, BinaryMaskConfig, MaskKind, OmpConfig};

use crate::rng::SplitMix64;

/// How latents are activated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// `max(0, z)`.
    Relu,
    /// Keep the `k` largest pre-activations of each example, then ReLU.
    TopK(usize),
    /// `σ(z)`, in (0, 1): what the KL sparsity penalty expects.
    Sigmoid,
    /// No encoder: orthogonal matching pursuit with `k` nonzeros over the decoder atoms
    /// (rows of `W_d`, kept at unit norm), on `x − b_d`.
    Omp(usize),
}

/// A sparse autoencoder; see the module docs for the formulas.
#[derive(Module, Debug)]
pub struct Sae {
    /// Encoder weight, `[d, h]`.
    pub w_enc: Param<Tensor<2>>,
    /// Encoder bias, `[h]`.
    pub b_enc: Param<Tensor<1>>,
    /// Decoder weight, `[h, d]`: row j is atom j.
    pub w_dec: Param<Tensor<2>>,
    /// Decoder bias, `[d]`, initialised to the mean training image.
    pub b_dec: Param<Tensor<1>>,
    /// An optional learnable binary mask on the encoder, scores stored `[h, d]` (each latent
    /// keeps its best-scoring pixels), trained through a straight-through estimator.
    pub mask: Option<BinaryMask<2>>,
    /// The activation.
    #[module(skip)]
    pub activation: Activation,
}

/// A parameter with a fixed id, so that optimiser state saved in one process finds its
/// parameter in the next.
fn param<const D: usize>(id: u64, t: Tensor<D>) -> Param<Tensor<D>> {
    let mut p = Param::from_tensor(t);
    p.id = ParamId::from(id);
    p
}

impl Sae {
    /// A freshly initialised model on `device`.
    ///
    /// `mask_density`: when set, the encoder gets a top-k mask keeping that fraction of each
    /// latent's input weights (scores start at `|W_e|`).
    ///
    /// # Errors
    /// A [`sparse_losses::Error`] for an invalid mask density.
    pub fn init(
        d: usize,
        h: usize,
        mean_image: &[f32],
        activation: Activation,
        mask_density: Option<f64>,
        seed: u64,
        device: &Device,
    ) -> Result<Self, sparse_losses::Error> {
        let mut rng = SplitMix64::new(seed);
        let scale = 1.0 / (d as f64).sqrt();
        let w: Vec<f32> = (0..d * h).map(|_| (rng.normal() * scale) as f32).collect();
        let w_enc = Tensor::<2>::from_data(TensorData::new(w, [d, h]), device);
        let mut w_dec = w_enc.clone().transpose();
        if let Activation::Omp(_) = activation {
            w_dec = unit_rows(w_dec);
        }
        let b_dec = Tensor::<1>::from_data(TensorData::new(mean_image.to_vec(), [d]), device);
        let mask = match mask_density {
            None => None,
            Some(fraction) => {
                let rule = BinaryMaskConfig::new()
                    .with_kind(MaskKind::Topk)
                    .with_fraction(Some(fraction))
                    .init()?;
                let mut m = BinaryMask::new(w_dec.clone().abs(), rule)?;
                m.scores.id = ParamId::from(5);
                Some(m)
            }
        };
        Ok(Self {
            w_enc: param(1, w_enc),
            b_enc: param(2, Tensor::zeros([h], device)),
            w_dec: param(3, w_dec),
            b_dec: param(4, b_dec),
            mask,
            activation,
        })
    }

    /// The number of latents.
    pub fn hidden(&self) -> usize {
        self.b_enc.dims()[0]
    }

    /// The encoder weight actually used: `W_e`, masked when there is a mask.
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

    /// Pre-activations `(x − b_d) W_e + b_e`, `[batch, h]`.
    pub fn pre_activations(&self, x: Tensor<2>) -> Tensor<2> {
        let centred = x - self.b_dec.val().unsqueeze::<2>();
        centred.matmul(self.encoder_weight()) + self.b_enc.val().unsqueeze::<2>()
    }

    /// The codes `f`, `[batch, h]`.
    pub fn encode(&self, x: Tensor<2>) -> Tensor<2> {
        if let Activation::Omp(k) = self.activation {
            let omp = OmpConfig::new()
                .with_n_nonzero(Some(k))
                .init()
                .expect("k >= 1 is validated with the settings");
            let centred = x - self.b_dec.val().unsqueeze::<2>();
            return omp
                .codes(self.w_dec.val().transpose(), centred)
                .expect("k <= hidden and the shapes are validated with the settings");
        }
        let z = self.pre_activations(x);
        match self.activation {
            Activation::Relu => relu(z),
            Activation::Sigmoid => sigmoid(z),
            Activation::Omp(_) => unreachable!("handled above"),
            Activation::TopK(k) => {
                let [b, h] = z.dims();
                let device = z.device();
                let (_, idx) = z.clone().detach().topk_with_indices(k.min(h), 1);
                let keep = Tensor::<2>::zeros([b, h], &device).scatter(
                    1,
                    idx,
                    Tensor::ones([b, k.min(h)], &device),
                    IndexingUpdateOp::Assign,
                );
                relu(z) * keep
            }
        }
    }

    /// The reconstruction `f W_d + b_d`, `[batch, d]`.
    pub fn decode(&self, f: Tensor<2>) -> Tensor<2> {
        f.matmul(self.w_dec.val()) + self.b_dec.val().unsqueeze::<2>()
    }

    /// Scales the atoms (rows of `W_d`) back to unit norm after an optimiser step (OMP
    /// assumes unit-norm atoms); a no-op for other activations.
    pub fn renormalize(mut self) -> Self {
        if let Activation::Omp(_) = self.activation {
            self.w_dec = self.w_dec.map(|w| unit_rows(w).require_grad());
        }
        self
    }

    /// The L2 norm of each decoder row (atom), `[h]`.
    pub fn atom_norms(&self) -> Tensor<1> {
        self.w_dec
            .val()
            .square()
            .sum_dim(1)
            .sqrt()
            .squeeze_dim::<1>(1)
    }
}

/// The atoms (rows) scaled to unit L2 norm, zero rows left at zero: the crate's
/// `normalize_atoms` on the columns of `Wᵀ`. A fresh leaf without gradient history.
fn unit_rows(w: Tensor<2>) -> Tensor<2> {
    normalize_atoms(w.transpose()).transpose().detach()
}
