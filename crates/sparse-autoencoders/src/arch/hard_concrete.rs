//! Hard-concrete L0 gates (Louizos et al. 2018) on a gated encoder: the gate pre-activations
//! are the log-α of one gate per latent and row, the codes are gate ⊙ magnitude:
//!
//! ```text
//! log α = (x − b_dec) W_enc + b_enc
//! training: s = σ((log u − log(1 − u) + log α)/β), u ~ U(0, 1);  g = clamp(s(ζ − γ) + γ, 0, 1)
//! test:     g = clamp(σ(log α)(ζ − γ) + γ, 0, 1)
//! f = g ⊙ relu((x − b_dec)(W_enc ⊙ exp(r_mag)) + b_mag)
//! loss = recon + λ · mean_rows Σ_j σ(log α_j − β log(−γ/ζ))        (the expected L0)
//! ```
//!
//! with γ = −0.1, ζ = 1.1 (SPEC.md, "Hard-concrete L0 gates").

use burn::prelude::*;
use burn::tensor::activation::sigmoid;
use burn::tensor::Distribution;

use super::Encoded;
use crate::Sae;

const GAMMA: f64 = -0.1;
const ZETA: f64 = 1.1;

/// Training codes from noisy gates, with `λ · E[L0]`.
pub fn train(sae: &Sae, x: Tensor<2>, lambda: f64, beta: f64) -> Encoded {
    let log_alpha = sae.pre_activations(x.clone());
    let device = log_alpha.device();
    let u = Tensor::<2>::random(
        log_alpha.dims(),
        Distribution::Uniform(1e-6, 1.0 - 1e-6),
        &device,
    );
    let noise = u.clone().log() - (u.neg() + 1.0).log();
    let s = sigmoid((noise + log_alpha.clone()) / beta);
    let g = (s * (ZETA - GAMMA) + GAMMA).clamp(0.0, 1.0);
    let [b, _] = log_alpha.dims();
    let shift = beta * (-GAMMA / ZETA).ln();
    let expected_l0 = sigmoid(log_alpha - shift).sum() / b as f64;
    let mut e = Encoded::codes(g * sae.magnitudes(x));
    e.sparsity = Some(expected_l0 * lambda);
    e
}

/// Inference codes from the deterministic test-time gates.
pub fn infer(sae: &Sae, x: Tensor<2>, _beta: f64) -> Tensor<2> {
    let log_alpha = sae.pre_activations(x.clone());
    let g = (sigmoid(log_alpha) * (ZETA - GAMMA) + GAMMA).clamp(0.0, 1.0);
    g * sae.magnitudes(x)
}
