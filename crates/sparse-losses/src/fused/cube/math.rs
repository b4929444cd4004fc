//! The device's elementary functions, the twins of `host/math.rs`'s:
//! `sign`, and `ln(1 + z)`, `eᵛ − 1`, `tanh` and `√(a² + b²)` written so that they stay
//! accurate where the GPU's `exp` and `ln` are not.
//!
//! Accuracy: the elementary functions of the GPU's `exp` and `ln` are good in relative terms
//! away from 1 (Vulkan only promises an absolute 2⁻²¹ for `ln` near 1, a few ulps for `exp`),
//! so `ln(1 + z)`, `eᵛ − 1` and `tanh` are series or polynomials for small arguments
//! ([`log1p`], [`expm1`], [`tanh`]), as in the CPU kernels.

// The Cephes and Taylor coefficients are written with the digits they were published with.
#![allow(clippy::excessive_precision)]

use burn_cubecl::cubecl;
use cubecl::prelude::*;

/// `sign(x)` with `sign(0) = 0` and NaN for NaN.
#[cube]
pub(super) fn sign(x: f32) -> f32 {
    let zero = x * 0.0f32;
    select(x > 0.0f32, 1.0f32, select(x < 0.0f32, -1.0f32, zero))
}

/// `ln(1 + z)` for `z >= 0`: `2 artanh(z / (2 + z))` as a series below 0.5 (relative error
/// below 1e-8), the GPU's `ln` above (where `ln(1 + z) > 0.4`).
#[cube]
pub(super) fn log1p(z: f32) -> f32 {
    let t = z / (2.0f32 + z);
    let t2 = t * t;
    let p = t2 * (1.0f32 / 11.0f32) + 1.0f32 / 9.0f32;
    let p = p * t2 + 1.0f32 / 7.0f32;
    let p = p * t2 + 1.0f32 / 5.0f32;
    let p = p * t2 + 1.0f32 / 3.0f32;
    let p = p * t2 + 1.0f32;
    let series = 2.0f32 * t * p;
    let direct = (1.0f32 + z).ln();
    select(z < 0.5f32, series, direct)
}

/// `eᵛ − 1` for `v >= 0`: the Taylor series to `v⁹/9!` below 0.5, `eᵛ − 1` above.
#[cube]
pub(super) fn expm1(v: f32) -> f32 {
    let s = select(v < 0.5f32, v, 0.5f32);
    let p = s * (1.0f32 / 362880.0f32) + 1.0f32 / 40320.0f32;
    let p = p * s + 1.0f32 / 5040.0f32;
    let p = p * s + 1.0f32 / 720.0f32;
    let p = p * s + 1.0f32 / 120.0f32;
    let p = p * s + 1.0f32 / 24.0f32;
    let p = p * s + 1.0f32 / 6.0f32;
    let p = p * s + 0.5f32;
    let p = p * s + 1.0f32;
    let series = p * s;
    let direct = v.exp() - 1.0f32;
    select(v < 0.5f32, series, direct)
}

/// `tanh y` for `y >= 0`: Cephes' odd polynomial below 0.625, `1 − 2/(e²ʸ + 1)` above.
#[cube]
pub(super) fn tanh(y: f32) -> f32 {
    let z = y * y;
    let p = z * -5.704_988_7e-3f32 + 2.063_908_9e-2f32;
    let p = p * z - 5.373_971_6e-2f32;
    let p = p * z + 1.333_144_2e-1f32;
    let p = p * z - 3.333_328_2e-1f32;
    let small = y + y * z * p;
    let large = 1.0f32 - 2.0f32 / ((2.0f32 * y).exp() + 1.0f32);
    select(y < 0.625f32, small, large)
}

/// `√(a² + b²)` as `m √((a/m)² + (b/m)²)`, `m = max(|a|, |b|)`: no overflow or underflow in
/// the squares (finite whenever the exact value is).
#[cube]
pub(super) fn hypot(a: f32, b: f32) -> f32 {
    let (x, y) = (a.abs(), b.abs());
    let m = select(x > y, x, y);
    let safe = select(m > 0.0f32, m, 1.0f32);
    let (u, v) = (a / safe, b / safe);
    m * (u * u + v * v).sqrt()
}
