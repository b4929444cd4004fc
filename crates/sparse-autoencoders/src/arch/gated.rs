//! Gated SAE (Rajamanoharan et al. 2024):
//!
//! ```text
//! π = (x − b_dec) W_enc + b_enc                       (gate path)
//! f = 1[π > 0] ⊙ relu((x − b_dec)(W_enc ⊙ exp(r_mag)) + b_mag)
//! loss = recon + λ · mean_rows Σ_j relu(π)_j ‖W_dec[j]‖
//!        + mean_rows Σ (x − (relu(π) sg(W_dec) + sg(b_dec)))²
//! ```
//!
//! (sg = stop-gradient). Use it with `unit_norm_decoder = true`, as the paper does: without the
//! constraint the detached auxiliary term lets the decoder norms shrink.

use burn::config::Config;
use burn::module::Module;
use burn::prelude::*;
use burn::tensor::activation::relu;

use super::{
    check_non_negative, ArchitectureConfig, ArchitectureProperties, Encoded, MagnitudePath,
    SaeArchitecture, SaeParts,
};
use crate::{recon_loss, Result};

/// The config of [`Gated`].
#[derive(Config, Debug, PartialEq)]
pub struct GatedConfig {
    /// λ, the weight of the L1 on the gate path.
    #[config(default = 0.8)]
    pub lambda: f64,
}

impl ArchitectureConfig for GatedConfig {
    type Module = Gated;
    const NAME: &'static str = "gated";
    const SUMMARY: &'static str = "a gate path (λ on its L1) times a magnitude path sharing its weights (lambda)";

    fn validate(&self, _d_sae: usize) -> Result<()> {
        check_non_negative(Self::NAME, "lambda", self.lambda)
    }

    fn init(&self, d_sae: usize, device: &Device) -> Result<Gated> {
        self.validate(d_sae)?;
        Ok(Gated {
            magnitude: MagnitudePath::new(d_sae, device),
            lambda: self.lambda,
        })
    }
}

impl ArchitectureProperties for GatedConfig {}

/// The gated SAE's state: the magnitude path.
#[derive(Module, Debug)]
pub struct Gated {
    /// The magnitude path (`r_mag`, `b_mag`).
    pub magnitude: MagnitudePath,
    #[module(skip)]
    lambda: f64,
}

impl SaeArchitecture for Gated {
    /// The codes, with the gate-path L1 and the auxiliary reconstruction.
    fn training_pass(&self, sae: &impl SaeParts, x: Tensor<2>, warm: f64) -> Encoded {
        let pi = sae.pre_activations(x.clone());
        let gate = relu(pi.clone());
        let codes = pi.clone().greater_elem(0.0).float() * self.magnitude.forward(sae, x.clone());
        let [b, _] = pi.dims();
        let l1 = (gate.clone() * sae.decoder_norms().unsqueeze::<2>()).sum() / b as f64
            * (self.lambda * warm);
        let aux_hat = gate.matmul(sae.decoder_weight().detach())
            + sae.decoder_bias().detach().unsqueeze::<2>();
        let aux = recon_loss(&aux_hat, &x);
        let mut e = Encoded::codes(codes);
        e.sparsity = Some(l1 + aux);
        e
    }

    fn inference_pass(&self, sae: &impl SaeParts, x: Tensor<2>) -> Tensor<2> {
        let pi = sae.pre_activations(x.clone());
        pi.greater_elem(0.0).float() * self.magnitude.forward(sae, x)
    }

    fn magnitude(&self) -> Option<&MagnitudePath> {
        Some(&self.magnitude)
    }

    fn magnitude_mut(&mut self) -> Option<&mut MagnitudePath> {
        Some(&mut self.magnitude)
    }
}
