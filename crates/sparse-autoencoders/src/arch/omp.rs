//! OMP: no encoder. The codes are orthogonal matching pursuit with `k` nonzeros of `x − b_dec`
//! over the decoder rows (kept at unit norm), held constant in the loss, so the dictionary
//! learns by gradient steps on the reconstruction ([`sparse_losses::Omp`]).

use burn::prelude::*;
use sparse_losses::OmpConfig;

use super::Encoded;
use crate::Sae;

/// Training codes (constant in the loss).
pub fn train(sae: &Sae, x: Tensor<2>, k: usize) -> Encoded {
    Encoded::codes(infer(sae, x, k))
}

/// OMP codes over the current (detached) decoder.
pub fn infer(sae: &Sae, x: Tensor<2>, k: usize) -> Tensor<2> {
    let omp = OmpConfig::new()
        .with_n_nonzero(Some(k))
        .init()
        .expect("k >= 1 is validated with the config");
    let centred = sae.centre(x).detach();
    omp.codes(sae.w_dec.val().detach().transpose(), centred)
        .expect("k <= d_sae and the shapes are validated with the config")
        .detach()
}
