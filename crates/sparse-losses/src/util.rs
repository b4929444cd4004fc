//! Small building blocks shared by the penalties.

use burn::tensor::Tensor;

use crate::{Error, Result};

/// Fails with [`Error::EmptyInput`] when `x` has no elements.
pub(crate) fn check_nonempty<const D: usize>(x: &Tensor<D>, item: &'static str) -> Result<()> {
    let dims = x.dims();
    if dims.iter().product::<usize>() == 0 {
        return Err(Error::EmptyInput {
            item,
            shape: dims.to_vec(),
        });
    }
    Ok(())
}

/// [`Error::InvalidHyperParameter`] unless `ok`.
pub(crate) fn require(
    ok: bool,
    item: &'static str,
    field: &'static str,
    value: f64,
    expected: &'static str,
) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidHyperParameter {
            item,
            field,
            value,
            expected,
        })
    }
}

/// Checks that `value` is finite and `>= 0`.
pub(crate) fn non_negative(item: &'static str, field: &'static str, value: f64) -> Result<()> {
    let ok = value.is_finite() && value >= 0.0;
    require(ok, item, field, value, "a finite number >= 0")
}

/// Checks that `value` is finite and `> 0`.
pub(crate) fn positive(item: &'static str, field: &'static str, value: f64) -> Result<()> {
    let ok = value.is_finite() && value > 0.0;
    require(ok, item, field, value, "a finite number > 0")
}

/// Checks that `lo <= value <= hi` (closed interval; NaN fails).
pub(crate) fn in_closed(
    item: &'static str,
    field: &'static str,
    value: f64,
    (lo, hi): (f64, f64),
    expected: &'static str,
) -> Result<()> {
    require(value >= lo && value <= hi, item, field, value, expected)
}

/// Checks that `lo < value < hi` (open interval; NaN fails).
pub(crate) fn in_open(
    item: &'static str,
    field: &'static str,
    value: f64,
    (lo, hi): (f64, f64),
    expected: &'static str,
) -> Result<()> {
    require(value > lo && value < hi, item, field, value, expected)
}

/// Views `x` as a matrix of rows along its last dimension: `[n / last, last]`.
/// A rank-1 tensor is one row.
pub(crate) fn rows<const D: usize>(x: Tensor<D>) -> Tensor<2> {
    let dims = x.dims();
    let last = dims[D - 1];
    let n: usize = dims.iter().product();
    x.reshape([n / last, last])
}

/// `sqrt(s)` for `s >= 0` whose gradient is 0 (not infinite) where `s == 0`, so that the
/// gradient of a Euclidean norm at the zero vector is the minimum-norm subgradient, 0.
pub(crate) fn safe_sqrt<const D: usize>(s: Tensor<D>) -> Tensor<D> {
    let zero = s.clone().equal_elem(0.0);
    s.mask_fill(zero.clone(), 1.0).sqrt().mask_fill(zero, 0.0)
}

/// `num / den` where `den == 0` gives 0 with zero gradient (used for `0 / 0 := 0` conventions).
pub(crate) fn safe_div<const D: usize>(num: Tensor<D>, den: Tensor<D>) -> Tensor<D> {
    let zero = den.clone().equal_elem(0.0);
    (num / den.mask_fill(zero.clone(), 1.0)).mask_fill(zero, 0.0)
}
