//! The reconstruction loss of sparse codes, shared by [`Omp::loss`](super::Omp::loss) and
//! dictionary learning.

use burn::tensor::Tensor;

/// `mean over rows of ‖x − D c‖²` for given codes (`[batch, n_atoms]`), differentiable in
/// `D` and `X`.
pub fn reconstruction_loss(
    dictionary: Tensor<2>,
    signals: Tensor<2>,
    codes: Tensor<2>,
) -> Tensor<1> {
    let batch = signals.dims()[0] as f64;
    let recon = codes.detach().matmul(dictionary.transpose());
    (signals - recon).square().sum().div_scalar(batch)
}
