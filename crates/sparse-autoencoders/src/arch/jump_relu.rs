//! JumpReLU (Rajamanoharan et al. 2024): `f = z · 1[z > θ]` with learnable thresholds
//! θ = exp(log_threshold) and loss `λ · mean_rows Σ_j 1[z_j > θ_j]`; the thresholds learn
//! through the rectangle-kernel pseudo-derivatives of [`sparse_losses::JumpRelu`].

use burn::prelude::*;

use super::Encoded;
use crate::Sae;

const SHAPES: &str = "the thresholds have one entry per latent";

/// Training codes with `λ · L0`.
pub fn train(sae: &Sae, x: Tensor<2>, lambda: f64) -> Encoded {
    let j = sae
        .jump_relu
        .as_ref()
        .expect("jump_relu SAEs are built with thresholds");
    let z = sae.pre_activations(x);
    let codes = j.forward(z.clone()).expect(SHAPES);
    let mut e = Encoded::codes(codes);
    e.sparsity = Some(j.l0(z).expect(SHAPES) * lambda);
    e
}

/// Inference codes.
pub fn infer(sae: &Sae, x: Tensor<2>) -> Tensor<2> {
    let j = sae
        .jump_relu
        .as_ref()
        .expect("jump_relu SAEs are built with thresholds");
    j.forward(sae.pre_activations(x)).expect(SHAPES)
}
