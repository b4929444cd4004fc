//! Soft-thresholding, the proximal operator of the absolute value.

use burn::tensor::Tensor;

/// Soft-thresholding `S(x, τ) = sign(x) · max(|x| − τ, 0)`, elementwise, for a threshold
/// `τ >= 0`: the proximal operator of `τ |·|` and the building block of the L1, elastic-net and
/// sparse-group-lasso proxes.
///
/// Every element with `|x| <= τ` comes out as exactly `+0.0` (a mask fill, not arithmetic that
/// could leave `−0.0` or a rounding residue); the others are `x − τ sign(x)`. NaN stays NaN.
/// Pure tensor ops, so any backend; on an autodiff device the result is an ordinary graph node
/// (the proxes of this crate are meant to run outside the graph, see [`Prox`](crate::Prox)).
///
/// ```
/// use burn::prelude::*;
/// use sparse_losses::soft_threshold;
///
/// let x = Tensor::<1>::from_floats([-3.0, -0.5, 0.0, 1.0, 2.5], &Device::flex());
/// let z: Vec<f32> = soft_threshold(x, 1.0).into_data().try_into_vec().unwrap();
/// assert_eq!(z, [-2.0, 0.0, 0.0, 0.0, 1.5]);
/// // Exact positive zeros, never −0.0.
/// assert!(z[1].is_sign_positive() && z[3].is_sign_positive());
/// ```
pub fn soft_threshold<const D: usize>(x: Tensor<D>, tau: f64) -> Tensor<D> {
    let zero = x.clone().abs().lower_equal_elem(tau);
    let shrunk = x.clone() - x.sign().mul_scalar(tau);
    shrunk.mask_fill(zero, 0.0)
}
