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

use burn::prelude::*;
use burn::tensor::activation::relu;

use super::Encoded;
use crate::sae::recon_loss;
use crate::Sae;

/// Training codes with the gate-path L1 and the auxiliary reconstruction.
pub fn train(sae: &Sae, x: Tensor<2>, lambda: f64) -> Encoded {
    let pi = sae.pre_activations(x.clone());
    let gate = relu(pi.clone());
    let codes = pi.clone().greater_elem(0.0).float() * sae.magnitudes(x.clone());
    let [b, _] = pi.dims();
    let l1 = (gate.clone() * sae.decoder_norms().unsqueeze::<2>()).sum() / b as f64 * lambda;
    let aux_hat = gate.matmul(sae.w_dec.val().detach()) + sae.b_dec.val().detach().unsqueeze::<2>();
    let aux = recon_loss(&aux_hat, &x);
    let mut e = Encoded::codes(codes);
    e.sparsity = Some(l1 + aux);
    e
}

/// Inference codes.
pub fn infer(sae: &Sae, x: Tensor<2>) -> Tensor<2> {
    let pi = sae.pre_activations(x.clone());
    pi.greater_elem(0.0).float() * sae.magnitudes(x)
}
