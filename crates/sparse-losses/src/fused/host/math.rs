//! `f32` elementary functions written without branches or calls, so that the compiler
//! vectorises the loops that use them (libm's scalar `exp`, `ln`, `tanh` cost 5-20 ns an
//! element), and [`vectorized`], which compiles a loop for AVX2 + FMA when the CPU has them.
//!
//! The polynomials are the classic Cephes single-precision ones (relative error about 1e-7
//! on the reduced ranges); special values (0, ±∞, NaN, subnormals) are selected explicitly.

// The Cephes coefficients are written with the digits they were published with.
#![allow(clippy::excessive_precision)]

use std::f32::consts::LN_2;

/// Runs `f` compiled for AVX2 and FMA when this CPU has them (checked once), else as is.
/// `f` and what it inlines (the functions below are `#[inline(always)]`) get vectorised with
/// 8-lane instructions instead of the 4-lane SSE2 baseline.
#[inline(always)]
pub(crate) fn vectorized<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        use std::sync::OnceLock;
        static AVX2: OnceLock<bool> = OnceLock::new();
        if *AVX2.get_or_init(|| {
            std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
        }) {
            // SAFETY: the CPU has AVX2 and FMA (checked just above).
            return unsafe { avx2(f) };
        }
    }
    f()
}

/// `f()` with AVX2 and FMA enabled.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// `eˣ`: `+∞` above 88.72, `0` below −103.9 (subnormal results in between), NaN for NaN.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    const MAX: f32 = 88.722_84;
    const MIN: f32 = -103.972_08;
    let (y, n) = exp_parts(x.clamp(MIN, MAX));
    // 2ⁿ in two factors, so that n in [−150, 128] needs no special case.
    let half = n >> 1;
    let y = y * pow2(half) * pow2(n - half);
    if x > MAX {
        f32::INFINITY
    } else if x < MIN {
        0.0
    } else if x.is_nan() {
        x
    } else {
        y
    }
}

/// `m · eᵉ` where `eᵉ` alone may leave float32's range but the product does not (`e` up to
/// ±192 for normal `m`): `eᵉ = y 2ⁿ` with `2ⁿ` applied in three factors of the same sign,
/// `((y 2ⁿ¹) m) 2ⁿ² 2ⁿ³`, so that every partial product is normal or lies between `m y` and the
/// result. `e` beyond ±250 is taken as
/// ±∞ (the product then over- or underflows for every float32 `m`); NaN gives NaN.
#[inline(always)]
pub(crate) fn mul_exp(m: f32, e: f32) -> f32 {
    const LIMIT: f32 = 250.0;
    let (y, n) = exp_parts(e.clamp(-LIMIT, LIMIT));
    // |n| <= 361: each third within [−121, 121].
    let n1 = n / 3;
    let n2 = (n - n1) / 2;
    let n3 = n - n1 - n2;
    let p = y * pow2(n1) * m * pow2(n2) * pow2(n3);
    if e > LIMIT {
        m * f32::INFINITY
    } else if e < -LIMIT {
        m * 0.0
    } else if e.is_nan() {
        e
    } else {
        p
    }
}

/// `eᶜ = y · 2ⁿ` for a finite `c` with `|c| <= 250`: `n = round(c / ln 2)` and `y` in
/// `[√½, √2]` by Cephes' polynomial on `r = c − n ln 2`.
#[inline(always)]
fn exp_parts(c: f32) -> (f32, i32) {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // 1.5 · 2²³: adding and subtracting it rounds to the nearest integer without a call.
    const ROUND: f32 = 12_582_912.0;
    let t = madd(c, LOG2E, ROUND);
    let n = t - ROUND;
    // The integer n sits in the low mantissa bits of t (no saturating float-to-int cast).
    let n_int = t.to_bits() as i32 - ROUND.to_bits() as i32;
    let r = madd(-n, LN2_LO, madd(-n, LN2_HI, c));
    let p = 1.987_569_1e-4;
    let p = madd(p, r, 1.398_199_9e-3);
    let p = madd(p, r, 8.333_452e-3);
    let p = madd(p, r, 4.166_579_6e-2);
    let p = madd(p, r, 1.666_666_5e-1);
    let p = madd(p, r, 5.000_000_1e-1);
    (madd(p * r, r, r + 1.0), n_int)
}

/// `2ᵏ` for an integer `k` in `[−126, 127]`, from its bits.
#[inline(always)]
fn pow2(k: i32) -> f32 {
    f32::from_bits(((k + 127) << 23) as u32)
}

/// `ln x` for `x >= 0` (subnormals included): `−∞` at 0, `+∞` at `+∞`, NaN below 0 and for NaN.
#[inline(always)]
pub(crate) fn ln(x: f32) -> f32 {
    // Subnormals: scale by 2²³ first.
    let tiny = x < f32::MIN_POSITIVE;
    let s = if tiny { x * 8_388_608.0 } else { x };
    let y = ln_normal(s, if tiny { 23.0 } else { 0.0 });
    if x == 0.0 {
        f32::NEG_INFINITY
    } else if x == f32::INFINITY {
        x
    } else if x.is_nan() || x < 0.0 {
        f32::NAN
    } else {
        y
    }
}

/// `ln x` for `x` that is positive and normal, or `+∞`, or NaN (both returned as they are):
/// [`ln`] without the checks for 0, negative numbers and subnormals, for arguments that are
/// sums with a positive normal term (`ε + |x|`, `1 + z`, `x² + ε²`).
#[inline(always)]
pub(crate) fn ln_positive(x: f32) -> f32 {
    let y = ln_normal(x, 0.0);
    // NaN fails the comparison and is returned as it is, like +∞.
    if x < f32::INFINITY {
        y
    } else {
        x
    }
}

/// `ln s − scaled · ln 2` for a positive normal `s` (garbage for anything else: the callers
/// select their special values): the exponent and the mantissa in `[√½, √2)`, then Cephes'
/// polynomial for `ln(1 + f)`.
#[inline(always)]
fn ln_normal(s: f32, scaled: f32) -> f32 {
    const SQRT_HALF: f32 = std::f32::consts::FRAC_1_SQRT_2;
    let bits = s.to_bits();
    let e = ((bits >> 23) & 0xff) as i32 - 126;
    // The mantissa in [0.5, 1), then in [√½, √2) with the exponent adjusted.
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f00_0000);
    let low = m < SQRT_HALF;
    let e = (if low { e - 1 } else { e }) as f32 - scaled;
    let f = if low { m + m - 1.0 } else { m - 1.0 };
    let z = f * f;
    let p = 7.037_683_6e-2;
    let p = madd(p, f, -1.151_461e-1);
    let p = madd(p, f, 1.167_699_9e-1);
    let p = madd(p, f, -1.242_014_1e-1);
    let p = madd(p, f, 1.424_932_3e-1);
    let p = madd(p, f, -1.666_805_8e-1);
    let p = madd(p, f, 2.000_071_4e-1);
    let p = madd(p, f, -2.499_999_4e-1);
    let p = madd(p, f, 3.333_333e-1);
    madd(e, LN_2, f + madd(p * f, z, -0.5 * z))
}

/// `ln(1 + z)` for `z >= 0`, accurate also where `z ≪ 1` (Goldberg's `ln(u)·z/(u − 1)` with
/// `u = 1 + z`).
#[inline(always)]
pub(crate) fn log1p(z: f32) -> f32 {
    let u = 1.0 + z;
    let y = ln_positive(u) * (z / (u - 1.0));
    if u == 1.0 {
        z
    } else if u == f32::INFINITY {
        u
    } else {
        y
    }
}

/// `eˢ − 1` for `0 <= s <= 0.1`: the Taylor series to `s⁶/720` (relative error < 2e-8), with no
/// exponential: for callers that have `eˢ` from elsewhere for larger arguments.
#[inline(always)]
pub(crate) fn expm1_small(s: f32) -> f32 {
    let p = 1.0 / 720.0;
    let p = madd(p, s, 1.0 / 120.0);
    let p = madd(p, s, 1.0 / 24.0);
    let p = madd(p, s, 1.0 / 6.0);
    let p = madd(p, s, 0.5);
    let p = madd(p, s, 1.0);
    p * s
}

/// `tanh y` for `y >= 0`: the odd polynomial below 0.625, `1 − 2/(e²ʸ + 1)` above.
#[inline(always)]
pub(crate) fn tanh(y: f32) -> f32 {
    let z = y * y;
    let p = -5.704_988_7e-3;
    let p = madd(p, z, 2.063_908_9e-2);
    let p = madd(p, z, -5.373_971_6e-2);
    let p = madd(p, z, 1.333_144_2e-1);
    let p = madd(p, z, -3.333_328_2e-1);
    let small = madd(y * z, p, y);
    let large = 1.0 - 2.0 / (exp(2.0 * y) + 1.0);
    if y < 0.625 {
        small
    } else {
        large
    }
}

/// `a · b + c`, fused into one instruction (one rounding) where the CPU has FMA: inside
/// [`vectorized`] on x86-64 with AVX2 + FMA, and always on AArch64. (Rust never fuses `a * b + c`
/// on its own.) Elsewhere, on x86-64 without FMA, `mul_add` is a call to libm's `fmaf`: correct
/// but slow, on CPUs older than 2013.
#[inline(always)]
pub(crate) fn madd(a: f32, b: f32, c: f32) -> f32 {
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    {
        a.mul_add(b, c)
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        a * b + c
    }
}

/// `sign(x)` with `sign(0) = 0` (NaN for NaN).
#[inline(always)]
pub(crate) fn sign(x: f32) -> f32 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        x * 0.0
    }
}

/// `√(a² + b²)` without overflow or underflow in the squares: `m √((a/m)² + (b/m)²)`,
/// `m = max(|a|, |b|)` (0 for `a = b = 0`; NaN in, NaN out). Finite whenever the exact
/// value is.
#[inline(always)]
pub(crate) fn hypot(a: f32, b: f32) -> f32 {
    let m = a.abs().max(b.abs());
    let safe = if m > 0.0 { m } else { 1.0 };
    let (u, v) = (a / safe, b / safe);
    m * (u * u + v * v).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(a: f32, b: f64) -> f64 {
        (f64::from(a) - b).abs() / b.abs().max(1e-300)
    }

    #[test]
    fn against_std_f64() {
        let mut worst = [0f64; 5];
        for i in 0..200_000 {
            let t = i as f64 / 200_000.0;
            let x = (t * 170.0 - 85.0) as f32; // exp's range
            worst[0] = worst[0].max(rel(exp(x), f64::from(x).exp()));
            let y = 10f64.powf(t * 76.0 - 38.0) as f32; // 1e-38 .. 1e38
            let (a, b) = (f64::from(ln(y)), f64::from(y).ln());
            worst[1] = worst[1].max((a - b).abs() / b.abs().max(1.0));
            worst[2] = worst[2].max(rel(log1p(y), f64::from(y).ln_1p()));
            if y >= f32::MIN_POSITIVE {
                let (a, b) = (f64::from(ln_positive(y)), f64::from(y).ln());
                worst[1] = worst[1].max((a - b).abs() / b.abs().max(1.0));
            }
            let v = (10f64.powf(t * 11.9 - 10.0)) as f32; // 1e-10 .. 80
            let s = v.min(0.1);
            worst[3] = worst[3].max(rel(expm1_small(s), f64::from(s).exp_m1()));
            worst[4] = worst[4].max(rel(tanh(v), f64::from(v).tanh()));
        }
        for (name, w) in ["exp", "ln", "log1p", "expm1", "tanh"].iter().zip(worst) {
            assert!(w < 2e-6, "{name}: worst relative error {w}");
        }
    }

    #[test]
    fn mul_exp_beyond_exps_range() {
        for (m, e) in [
            (1e-30f32, 103.0f32),
            (-1e-30, 120.0),
            (1e30, -150.0),
            (3e38, -170.0),
            (1e-40, 180.0),
            (2.5, 0.3),
            (1.0, -80.0),
        ] {
            let want = f64::from(m) * f64::from(e).exp();
            let got = mul_exp(m, e);
            assert!(rel(got, want) < 4e-6, "{m} e^{e}: {got}, want {want}");
        }
        assert_eq!(mul_exp(1e-30, 300.0), f32::INFINITY);
        assert_eq!(mul_exp(-1e30, -300.0), 0.0);
        assert_eq!(mul_exp(1e30, 200.0), f32::INFINITY);
        assert_eq!(mul_exp(0.0, 100.0), 0.0);
        assert!(mul_exp(1.0, f32::NAN).is_nan());
    }

    #[test]
    fn special_values() {
        assert_eq!(exp(100.0), f32::INFINITY);
        assert_eq!(exp(-110.0), 0.0);
        assert!((exp(-100.0) - (-100f64).exp() as f32).abs() < 1e-45);
        assert!(exp(f32::NAN).is_nan());
        assert_eq!(ln(0.0), f32::NEG_INFINITY);
        assert_eq!(ln(f32::INFINITY), f32::INFINITY);
        assert!(ln(-1.0).is_nan() && ln(f32::NAN).is_nan());
        assert!((ln(1e-45) - f64::from(1e-45f32).ln() as f32).abs() < 1e-4);
        assert_eq!(ln_positive(f32::INFINITY), f32::INFINITY);
        assert!(ln_positive(f32::NAN).is_nan());
        assert_eq!(ln_positive(1.0), 0.0);
        assert_eq!(log1p(0.0), 0.0);
        assert_eq!(log1p(1e-30), 1e-30);
        assert_eq!(log1p(f32::INFINITY), f32::INFINITY);
        assert_eq!(expm1_small(0.0), 0.0);
        assert_eq!(tanh(0.0), 0.0);
        assert_eq!(tanh(f32::INFINITY), 1.0);
        assert!(tanh(f32::NAN).is_nan());
        assert_eq!(sign(-0.0), 0.0);
    }

    #[test]
    fn hypot_is_exact_at_every_scale() {
        for (a, b, r) in [
            (3e30f32, 4e30f32, 5e30f32),
            (3e-30, -4e-30, 5e-30),
            (0.0, -2e-40, 2e-40),
            (0.0, 0.0, 0.0),
            (1.0, 0.0, 1.0),
        ] {
            assert!(
                (hypot(a, b) - r).abs() <= 1e-6 * r,
                "{a} {b}: {}",
                hypot(a, b)
            );
        }
        assert!(hypot(f32::NAN, 1.0).is_nan() && hypot(0.0, f32::NAN).is_nan());
    }
}
