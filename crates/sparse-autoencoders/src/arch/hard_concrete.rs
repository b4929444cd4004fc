//! Hard-concrete L0 gates (Louizos et al. 2018) on a gated encoder: the gate pre-activations
//! are the log α of one gate per latent and row, the codes are gate ⊙ magnitude:
//!
//! ```text
//! log α = (x − b_dec) W_enc + b_enc
//! training: g = clamp(σ((log u − log(1 − u) + log α)/β)(ζ − γ) + γ, 0, 1),  u ~ U(0, 1)
//! test:     g = clamp(σ(log α)(ζ − γ) + γ, 0, 1)
//! f = g ⊙ relu((x − b_dec)(W_enc ⊙ exp(r_mag)) + b_mag)
//! loss = recon + λ · mean_rows Σ_j σ(log α_j − β log(−γ/ζ))        (the expected L0)
//! ```
//!
//! with γ = −0.1, ζ = 1.1 (SPEC.md, "Hard-concrete L0 gates"), computed by sparse-losses'
//! [`hard_concrete_gate`], [`hard_concrete_open_probability`] and [`hard_concrete_test_gate`].

use burn::prelude::*;
use burn::tensor::Distribution;
use sparse_losses::{hard_concrete_gate, hard_concrete_open_probability, hard_concrete_test_gate};

use super::Encoded;
use crate::Sae;

const GAMMA: f64 = -0.1;
const ZETA: f64 = 1.1;
/// The noise range, away from 0 and 1 where the logit is infinite.
const EPS: f64 = 1e-6;

/// Training codes from noisy gates, with `λ · E[L0]`.
pub fn train(sae: &Sae, x: Tensor<2>, lambda: f64, beta: f64) -> Encoded {
    let log_alpha = sae.pre_activations(x.clone());
    let [b, _] = log_alpha.dims();
    let u = Tensor::<2>::random(
        log_alpha.dims(),
        Distribution::Uniform(EPS, 1.0 - EPS),
        &log_alpha.device(),
    );
    let g = hard_concrete_gate(log_alpha.clone(), u, beta, GAMMA, ZETA);
    let expected_l0 = hard_concrete_open_probability(log_alpha, beta, GAMMA, ZETA).sum() / b as f64;
    let mut e = Encoded::codes(g * sae.magnitudes(x));
    e.sparsity = Some(expected_l0 * lambda);
    e
}

/// Inference codes from the deterministic test-time gates.
pub fn infer(sae: &Sae, x: Tensor<2>, _beta: f64) -> Tensor<2> {
    let g = hard_concrete_test_gate(sae.pre_activations(x.clone()), GAMMA, ZETA);
    g * sae.magnitudes(x)
}
