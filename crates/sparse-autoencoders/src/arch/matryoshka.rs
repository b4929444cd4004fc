//! Matryoshka SAE (Bussmann et al. 2025): BatchTopK codes whose reconstruction loss is summed
//! over nested prefixes of the latents, `Σ_m mean_rows Σ (f[:, :m] W_dec[:m] + b_dec − x)²`,
//! so that the first latents learn general features and later ones refine them.

use burn::prelude::*;
use sparse_losses::ops::sparse_matmul::sparse_matmul_on_support;

use super::{batch_top_k, Encoded};
use crate::sae::recon_loss;
use crate::Sae;

/// Training codes with the summed prefix reconstruction.
pub fn train(sae: &Sae, x: Tensor<2>, k: usize, prefixes: &[usize]) -> Encoded {
    let mut e = batch_top_k::train(sae, x.clone(), k);
    let h = sae.d_sae();
    let mut sizes: Vec<usize> = prefixes.to_vec();
    if sizes.last() != Some(&h) {
        sizes.push(h);
    }
    let w = sae.w_dec.val();
    let b = sae.b_dec.val().unsqueeze::<2>();
    let mut total: Option<Tensor<1>> = None;
    for m in sizes {
        // BatchTopK codes: a zero passes no gradient back (see `Sae::decode`).
        let x_hat =
            sparse_matmul_on_support(e.codes.clone().narrow(1, 0, m), w.clone().narrow(0, 0, m))
                + b.clone();
        let l = recon_loss(&x_hat, &x);
        total = Some(match total {
            None => l,
            Some(t) => t + l,
        });
    }
    e.reconstruction = total;
    e
}
