//! The magnitude path of the architectures whose codes are gate ⊙ magnitude (Gated,
//! hard-concrete): `relu((x − b_dec)(W_enc ⊙ exp(r_mag)) + b_mag)`, sharing `W_enc` with the
//! gate path.

use burn::module::{Module, Param};
use burn::prelude::*;

use super::{relu_codes, SaeParts};
use crate::params::{param, B_MAG, R_MAG};

/// The magnitude path's own parameters.
#[derive(Module, Debug)]
pub struct MagnitudePath {
    /// Per-latent log-rescale: `W_mag = W_enc ⊙ exp(r_mag)`, `[d_sae]`.
    pub r_mag: Param<Tensor<1>>,
    /// Bias of the magnitude path `[d_sae]`.
    pub b_mag: Param<Tensor<1>>,
}

impl MagnitudePath {
    /// `r_mag = 0`, `b_mag = 0`: the magnitude path starts as the gate path.
    pub fn new(d_sae: usize, device: &Device) -> Self {
        Self {
            r_mag: param(R_MAG, Tensor::zeros([d_sae], device), true),
            b_mag: param(B_MAG, Tensor::zeros([d_sae], device), true),
        }
    }

    /// The magnitude weight `W_enc ⊙ exp(r_mag)` for an encoder weight `w`, `[d_in, d_sae]`.
    pub fn weight(&self, w: Tensor<2>) -> Tensor<2> {
        w * self.r_mag.val().exp().unsqueeze::<2>()
    }

    /// `relu((x − b_dec) W_mag + b_mag)`, `[B, d_sae]`.
    pub fn forward(&self, sae: &impl SaeParts, x: Tensor<2>) -> Tensor<2> {
        let w = self.weight(sae.encoder_weight());
        relu_codes(sae.centred_product(x, w) + self.b_mag.val().unsqueeze::<2>())
    }

    /// Both parameters with `require_grad` set to `trainable`.
    pub fn with_trainable(self, trainable: bool) -> Self {
        Self {
            r_mag: self.r_mag.set_require_grad(trainable),
            b_mag: self.b_mag.set_require_grad(trainable),
        }
    }
}
