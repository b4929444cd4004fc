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

/// Below this argument, [`log1p`] and [`expm1`] use their Taylor series.
const SERIES_BELOW: f64 = 1e-2;

/// `ln(1 + z)` for `z >= 0`, accurate in float32 on every backend, also where `z ≪ 1` (Burn's
/// `log1p` is `ln(1 + z)` on CubeCL backends, which returns 0 below float32's epsilon).
///
/// Below 1e-2 it is the series `z − z²/2 + z³/3 − z⁴/4` (relative error < 1e-9), above it
/// `ln(1 + z)` (relative error < 1e-5). The series runs on `z` clamped to 1e-2, so neither
/// piece overflows, and neither has a non-finite gradient, where it is not selected.
pub(crate) fn log1p<const D: usize>(z: Tensor<D>) -> Tensor<D> {
    let small = z.clone().lower_elem(SERIES_BELOW);
    let s = z.clone().clamp_max(SERIES_BELOW);
    // Horner: z (1 − z (1/2 − z (1/3 − z/4)))
    let series = s.clone().mul_scalar(-0.25).add_scalar(1.0 / 3.0);
    let series = (s.clone() * series).neg().add_scalar(0.5);
    let series = (s.clone() * series).neg().add_scalar(1.0);
    let series = s * series;
    z.add_scalar(1.0).log().mask_where(small, series)
}

/// `exp(u) − 1` for `u >= 0`, accurate in float32 also where `u ≪ 1` (Burn has no `expm1`).
///
/// Below 1e-2 it is the series `u + u²/2 + u³/6 + u⁴/24 + u⁵/120` (relative error < 1e-12),
/// above it `exp(u) − 1` (relative error < 1e-5). As in [`log1p`], the series runs on `u`
/// clamped to 1e-2.
pub(crate) fn expm1<const D: usize>(u: Tensor<D>) -> Tensor<D> {
    let small = u.clone().lower_elem(SERIES_BELOW);
    let s = u.clone().clamp_max(SERIES_BELOW);
    // Horner: u (1 + u/2 (1 + u/3 (1 + u/4 (1 + u/5))))
    let mut series = s.clone().mul_scalar(1.0 / 5.0).add_scalar(1.0);
    for k in [4.0, 3.0, 2.0] {
        series = (s.clone() * series).mul_scalar(1.0 / k).add_scalar(1.0);
    }
    let series = s * series;
    u.exp().sub_scalar(1.0).mask_where(small, series)
}

/// Below this |argument|, [`tanh`] uses its Taylor series.
const TANH_SERIES_BELOW: f64 = 0.1;

/// `tanh(y)`, accurate in float32 on every backend, also where `|y| ≪ 1` (on wgpu, Burn's
/// `tanh` has an absolute error near 1e-8 there, a large relative one for tiny `y`).
///
/// Below |y| = 0.1 it is the series `y − y³/3 + 2y⁵/15 − 17y⁷/315` (relative error < 1e-9),
/// above it the backend's `tanh`. The series runs on `y` clamped to ±0.1.
pub(crate) fn tanh<const D: usize>(y: Tensor<D>) -> Tensor<D> {
    let small = y.clone().abs().lower_elem(TANH_SERIES_BELOW);
    let s = y.clone().clamp(-TANH_SERIES_BELOW, TANH_SERIES_BELOW);
    let s2 = s.clone().square();
    // Horner in y²: y (1 − y² (1/3 − y² (2/15 − 17 y²/315)))
    let series = s2.clone().mul_scalar(-17.0 / 315.0).add_scalar(2.0 / 15.0);
    let series = (s2.clone() * series).neg().add_scalar(1.0 / 3.0);
    let series = (s2 * series).neg().add_scalar(1.0);
    let series = s * series;
    y.tanh().mask_where(small, series)
}
