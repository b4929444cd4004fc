//! The reconstruction loss every architecture shares.

use burn::prelude::*;

/// Mean over rows of Σ (x̂ − x)².
///
/// ```
/// use burn::prelude::*;
/// use sparse_autoencoders::recon_loss;
///
/// let device = Device::flex();
/// let x = Tensor::<2>::zeros([2, 3], &device);
/// let x_hat = Tensor::<2>::ones([2, 3], &device);
/// assert_eq!(recon_loss(&x_hat, &x).into_scalar::<f32>(), 3.0);
/// ```
pub fn recon_loss(x_hat: &Tensor<2>, x: &Tensor<2>) -> Tensor<1> {
    let [b, _] = x.dims();
    (x_hat.clone() - x.clone()).square().sum() / b as f64
}
