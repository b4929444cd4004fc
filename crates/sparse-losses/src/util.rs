//! Small building blocks shared by the penalties.

use burn::tensor::Tensor;

use crate::PenaltyError;

/// Fails with [`PenaltyError::EmptyInput`] when `x` has no elements.
pub(crate) fn check_nonempty<const D: usize>(
    x: &Tensor<D>,
    penalty: &'static str,
) -> Result<(), PenaltyError> {
    let dims = x.dims();
    if dims.iter().product::<usize>() == 0 {
        return Err(PenaltyError::EmptyInput {
            penalty,
            shape: dims.to_vec(),
        });
    }
    Ok(())
}

/// [`PenaltyError::InvalidHyperParameter`] unless `ok`.
fn require(
    ok: bool,
    penalty: &'static str,
    field: &'static str,
    value: f64,
    expected: &'static str,
) -> Result<(), PenaltyError> {
    if ok {
        Ok(())
    } else {
        Err(PenaltyError::InvalidHyperParameter {
            penalty,
            field,
            value,
            expected,
        })
    }
}

/// Checks that `value` is finite and `>= 0`.
pub(crate) fn non_negative(
    penalty: &'static str,
    field: &'static str,
    value: f64,
) -> Result<(), PenaltyError> {
    let ok = value.is_finite() && value >= 0.0;
    require(ok, penalty, field, value, "a finite number >= 0")
}

/// Checks that `value` is finite and `> 0`.
pub(crate) fn positive(
    penalty: &'static str,
    field: &'static str,
    value: f64,
) -> Result<(), PenaltyError> {
    let ok = value.is_finite() && value > 0.0;
    require(ok, penalty, field, value, "a finite number > 0")
}

/// Checks that `lo <= value <= hi` (closed interval; NaN fails).
pub(crate) fn in_closed(
    penalty: &'static str,
    field: &'static str,
    value: f64,
    (lo, hi): (f64, f64),
    expected: &'static str,
) -> Result<(), PenaltyError> {
    require(value >= lo && value <= hi, penalty, field, value, expected)
}

/// Checks that `lo < value < hi` (open interval; NaN fails).
pub(crate) fn in_open(
    penalty: &'static str,
    field: &'static str,
    value: f64,
    (lo, hi): (f64, f64),
    expected: &'static str,
) -> Result<(), PenaltyError> {
    require(value > lo && value < hi, penalty, field, value, expected)
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
