//! Sparsity metrics: plain, non-differentiable measurements to report during training.
//!
//! Each returns a tensor of shape `[1]` on the input's device (read it with
//! `.into_scalar::<f32>()`), so that it can be computed on a GPU without a sync per batch.
//! Rows are the vectors along the last dimension; a rank-1 tensor is one row.

use burn::tensor::Tensor;

use crate::util::{check_nonempty, rows};
use crate::{Error, Result};

/// L0: the mean number of nonzero entries per row.
///
/// ```
/// use burn::prelude::*;
/// let codes = Tensor::<2>::from_floats([[0.0, 1.0, 2.0], [0.0, 0.0, -3.0]], &Device::flex());
/// let l0: f32 = sparse_losses::metrics::l0(codes).unwrap().into_scalar();
/// assert_eq!(l0, 1.5);
/// ```
///
/// # Errors
/// [`Error::EmptyInput`] for a tensor without elements.
pub fn l0<const D: usize>(x: Tensor<D>) -> Result<Tensor<1>> {
    check_nonempty(&x, "l0")?;
    let m = rows(x);
    let n_rows = m.dims()[0] as f64;
    Ok(m.not_equal_elem(0.0).float().sum().div_scalar(n_rows))
}

/// The fraction of entries that are exactly zero, in `[0, 1]`.
///
/// ```
/// use burn::prelude::*;
/// let w = Tensor::<1>::from_floats([0.0, 1.0, 0.0, 0.5], &Device::flex());
/// let zeros: f32 = sparse_losses::metrics::zero_fraction(w).unwrap().into_scalar();
/// assert_eq!(zeros, 0.5);
/// ```
///
/// # Errors
/// [`Error::EmptyInput`] for a tensor without elements.
pub fn zero_fraction<const D: usize>(x: Tensor<D>) -> Result<Tensor<1>> {
    check_nonempty(&x, "zero_fraction")?;
    Ok(x.equal_elem(0.0).float().mean())
}

/// Hoyer's sparsity measure (Hoyer, 2004), averaged over rows, in `[0, 1]`:
///
/// ```text
/// sparsity(v) = (√n − ‖v‖₁ / ‖v‖₂) / (√n − 1),   n = row length
/// ```
///
/// 1 for a row with a single nonzero, 0 for a row whose entries all have the same magnitude.
/// A row of zeros counts as 1 (no active entry). Scale-invariant per row.
///
/// ```
/// use burn::prelude::*;
/// let x = Tensor::<2>::from_floats([[0.0, 0.0, 5.0, 0.0], [1.0, -1.0, 1.0, 1.0]], &Device::flex());
/// let s: f32 = sparse_losses::metrics::hoyer_sparsity(x).unwrap().into_scalar();
/// assert!((s - 0.5).abs() < 1e-6);
/// ```
///
/// # Errors
/// [`Error::EmptyInput`] for a tensor without elements, [`Error::RowTooShort`]
/// for rows of length 1 (the measure divides by `√n − 1`).
pub fn hoyer_sparsity<const D: usize>(x: Tensor<D>) -> Result<Tensor<1>> {
    check_nonempty(&x, "hoyer_sparsity")?;
    let m = rows(x.detach());
    let len = m.dims()[1];
    if len < 2 {
        return Err(Error::RowTooShort {
            item: "hoyer_sparsity",
            len,
        });
    }
    // Scale each row to max |v| = 1 so squares neither underflow nor overflow.
    let scale = m.clone().abs().max_dim(1);
    let zero_row = scale.clone().equal_elem(0.0);
    let m = m / scale.mask_fill(zero_row.clone(), 1.0);
    let l1 = m.clone().abs().sum_dim(1);
    let l2 = m
        .square()
        .sum_dim(1)
        .sqrt()
        .mask_fill(zero_row.clone(), 1.0);
    let sqrt_n = (len as f64).sqrt();
    let measure = (l1 / l2)
        .neg()
        .add_scalar(sqrt_n)
        .div_scalar(sqrt_n - 1.0)
        .mask_fill(zero_row, 1.0);
    Ok(measure.mean())
}
