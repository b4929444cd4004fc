//! The CubeCL kernels (`f32`, generic over the runtime: the same code runs on wgpu and CUDA).
//!
//! Reductions are two-pass and need no atomics: every cube reduces its part to one partial in
//! shared memory (a tree of `CUBE_DIM` units, a power of two), and one cube of
//! [`finish_sum`] adds the partials. Backward kernels are elementwise and read the upstream
//! gradient from device memory (no host read-back).
//!
//! Accuracy: the elementary functions of the GPU's `exp` and `ln` are good in relative terms
//! away from 1 (Vulkan only promises an absolute 2⁻²¹ for `ln` near 1, a few ulps for `exp`),
//! so `ln(1 + z)`, `eᵛ − 1` and `tanh` are series or polynomials for small arguments
//! ([`log1p`], [`expm1`], [`tanh`]), as in the CPU kernels.

// The Cephes and Taylor coefficients are written with the digits they were published with.
#![allow(clippy::excessive_precision)]

use burn_cubecl::cubecl;
use cubecl::prelude::*;

/// The elementwise terms (comptime codes of [`elementwise_partials`] and [`elementwise_grad`]).
pub(super) const ABS: u32 = 0;
pub(super) const ELASTIC_NET: u32 = 1;
pub(super) const TANH: u32 = 2;
pub(super) const LOG_SUM: u32 = 3;
pub(super) const LP: u32 = 4;
pub(super) const SCAD: u32 = 5;
pub(super) const MCP: u32 = 6;
pub(super) const SPIKE_AND_SLAB: u32 = 7;

/// The total variations (comptime codes of [`tv_partials`] and [`tv_grad`]; `one_d` is the
/// anisotropic one on images of height 1).
pub(super) const TV_ABS: u32 = 0;
pub(super) const TV_ISOTROPIC: u32 = 1;
pub(super) const TV_SQUARED: u32 = 2;

/// `sign(x)` with `sign(0) = 0` and NaN for NaN.
#[cube]
fn sign(x: f32) -> f32 {
    let zero = x * 0.0f32;
    select(x > 0.0f32, 1.0f32, select(x < 0.0f32, -1.0f32, zero))
}

/// `ln(1 + z)` for `z >= 0`: `2 artanh(z / (2 + z))` as a series below 0.5 (relative error
/// below 1e-8), the GPU's `ln` above (where `ln(1 + z) > 0.4`).
#[cube]
fn log1p(z: f32) -> f32 {
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
fn expm1(v: f32) -> f32 {
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
fn tanh(y: f32) -> f32 {
    let z = y * y;
    let p = z * -5.704_988_7e-3f32 + 2.063_908_9e-2f32;
    let p = p * z - 5.373_971_6e-2f32;
    let p = p * z + 1.333_144_2e-1f32;
    let p = p * z - 3.333_328_2e-1f32;
    let small = y + y * z * p;
    let large = 1.0f32 - 2.0f32 / ((2.0f32 * y).exp() + 1.0f32);
    select(y < 0.625f32, small, large)
}

/// `L = ln(1 + x²/ε²)` of the smoothed Lp term (`ln_eps = ln ε`): [`log1p`] of `(|x|/ε)²`,
/// `2 (ln|x| − ln ε)` where `|x|/ε >= 1e18` (the square would overflow).
#[cube]
fn lp_log_ratio(x: f32, eps: f32, ln_eps: f32) -> f32 {
    let a = x.abs();
    let r = a / eps;
    let huge = r >= 1.0e18f32;
    let moderate = select(huge, 0.0f32, r);
    let small = log1p(moderate * moderate);
    let large = 2.0f32 * (a.ln() - ln_eps);
    select(huge, large, small)
}

/// The term `f(x)` of an elementwise penalty (`op`), its constants in `c0..c5` (see
/// `super::Term`).
#[cube]
#[allow(clippy::too_many_arguments)]
fn term_value(
    x: f32,
    c0: f32,
    c1: f32,
    c2: f32,
    c3: f32,
    c4: f32,
    c5: f32,
    #[comptime] op: u32,
) -> f32 {
    let mut v = 0.0f32;
    if comptime![op == ABS] {
        v = x.abs();
    }
    if comptime![op == ELASTIC_NET] {
        // c0 = ρ, c1 = ½(1 − ρ).
        v = c0 * x.abs() + c1 * x * x;
    }
    if comptime![op == TANH] {
        // c0 = c.
        v = tanh(c0 * x.abs());
    }
    if comptime![op == LOG_SUM] {
        // c0 = ε, c1 = ln ε: log1p(|x|/ε), or ln|x| − ln ε where |x|/ε overflows.
        let a = x.abs();
        let z = a / c0;
        let finite = z < 1.0e30f32;
        let moderate = select(finite, z, 0.0f32);
        v = select(finite, log1p(moderate), a.ln() - c1);
    }
    if comptime![op == LP] {
        // c0 = p/2, c1 = ε, c2 = ln ε, c3 = ε^p, c5 = p ln ε: ε^p expm1((p/2) L), or where
        // that is at least 0.65 ε^p, exp(p ln ε + (p/2) L) − ε^p (ε^p may underflow, and
        // expm1 overflow, where the term does neither).
        let h = c0 * lp_log_ratio(x, c1, c2);
        v = select(h < 0.5f32, c3 * expm1(h), (c5 + h).exp() - c3);
    }
    if comptime![op == SCAD] {
        // c0 = λ, c1 = a, c2 = λ²(a + 1)/2, c3 = aλ, c4 = 1/(2(a − 1)).
        let b = x.abs();
        let middle = c0 * c0 + (b - c0) * ((2.0f32 * c1 - 1.0f32) * c0 - b) * c4;
        // Ordered so that NaN takes the middle piece and stays NaN.
        v = select(b <= c0, c0 * b, select(b > c3, c2, middle));
    }
    if comptime![op == MCP] {
        // c0 = λ, c1 = γλ, c2 = 1/(2γ): λ min(|x|, γλ) − min(|x|, γλ)²/(2γ). Not through
        // `min` (nor a select a compiler may turn into one, as NVIDIA's Vulkan driver does),
        // which can turn NaN into γλ: NaN takes the quadratic piece.
        let b = x.abs();
        let flat = c0 * c1 - c1 * c1 * c2;
        v = select(b > c1, flat, c0 * b - b * b * c2);
    }
    if comptime![op == SPIKE_AND_SLAB] {
        // c0, c1: the slab's and the spike's log-weight and normalisation; c2, c3: their
        // −1/(2σ²); c4 = c1 − c0, c5 = c3 − c2. −log(e^a + e^b) = −(hi + log1p(e^−|b − a|)),
        // hi the larger. `x (x c)`, not `x² c`: −x²/(2σ²) is finite as long as it fits in f32,
        // and b − a is one product (−∞ far out, where a − b would be −∞ + ∞).
        let a = c0 + x * (x * c2);
        let b = c1 + x * (x * c3);
        let d = c4 + x * (x * c5);
        let hi = select(d <= 0.0f32, a, b);
        v = -(hi + log1p((-d.abs()).exp()));
    }
    v
}

/// `f'(x)` of an elementwise penalty (`op`), its constants in `c0..c5` (see `super::Term`).
#[cube]
#[allow(clippy::too_many_arguments)]
fn term_grad(
    x: f32,
    c0: f32,
    c1: f32,
    c2: f32,
    c3: f32,
    c4: f32,
    c5: f32,
    #[comptime] op: u32,
) -> f32 {
    let mut g = 0.0f32;
    if comptime![op == ABS] {
        g = sign(x);
    }
    if comptime![op == ELASTIC_NET] {
        // c0 = ρ, c2 = 1 − ρ.
        g = c0 * sign(x) + c2 * x;
    }
    if comptime![op == TANH] {
        // c0 = c.
        let t = tanh(c0 * x.abs());
        g = c0 * (1.0f32 - t * t) * sign(x);
    }
    if comptime![op == LOG_SUM] {
        // c0 = ε.
        g = sign(x) / (c0 + x.abs());
    }
    if comptime![op == LP] {
        // c0 = p/2, c1 = ε, c2 = ln ε, c4 = p: p x exp(e), e = (p/2 − 1)(2 ln ε + L). Where
        // exp(e) leaves float32's range (|x| ≫ 1 ≫ ε, or ε ≪ 1 and x small) but the product
        // does not: p sign(x) exp(ln|x| + e).
        let e = (c0 - 1.0f32) * (2.0f32 * c2 + lp_log_ratio(x, c1, c2));
        let direct = x * e.exp();
        let far = sign(x) * (x.abs().ln() + e).exp();
        g = c4 * select(e.abs() > 80.0f32, far, direct);
    }
    if comptime![op == SCAD] {
        // c0 = λ, c3 = aλ, c5 = 1/(a − 1).
        let b = x.abs();
        let slope = select(b <= c0, c0, select(b <= c3, (c3 - b) * c5, 0.0f32));
        g = slope * sign(x);
    }
    if comptime![op == MCP] {
        // c0 = λ, c1 = γλ, c3 = 1/γ.
        let b = x.abs();
        let slope = select(b <= c1, c0 - b * c3, 0.0f32);
        g = slope * sign(x);
    }
    if comptime![op == SPIKE_AND_SLAB] {
        // x (w_slab/σ_slab² + w_spike/σ_spike²), w the posterior weights, from the difference
        // of the log-densities alone (finite for every finite x).
        let d = c4 + x * (x * c5);
        let slab_first = d <= 0.0f32;
        let p_hi = select(slab_first, c2, c3);
        let p_lo = select(slab_first, c3, c2);
        let e = (-d.abs()).exp();
        g = -2.0f32 * x * (p_hi + e * p_lo) / (1.0f32 + e);
    }
    g
}

/// The sum of `value` over the units of the cube (`CUBE_DIM`, a power of two, at most
/// `block`), by a tree in shared memory; every unit gets it.
#[cube]
fn cube_sum(value: f32, #[comptime] block: usize) -> f32 {
    let mut shared = Shared::<[f32]>::new_slice(block);
    shared[UNIT_POS as usize] = value;
    sync_cube();
    let mut half = CUBE_DIM / 2u32;
    while half > 0u32 {
        if UNIT_POS < half {
            let other = shared[(UNIT_POS + half) as usize];
            shared[UNIT_POS as usize] += other;
        }
        sync_cube();
        half /= 2u32;
    }
    shared[0]
}

/// Per cube, `Σ f(xᵢ)` over its `chunk` elements (`CUBE_POS · chunk ..`, clipped to `n`),
/// into `partials[CUBE_POS]`.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub(super) fn elementwise_partials(
    x: &[f32],
    partials: &mut [f32],
    n: u32,
    chunk: u32,
    c0: f32,
    c1: f32,
    c2: f32,
    c3: f32,
    c4: f32,
    c5: f32,
    #[comptime] op: u32,
    #[comptime] block: usize,
) {
    let start = CUBE_POS as u32 * chunk;
    let end = select(n - start < chunk, n, start + chunk);
    let mut acc = 0.0f32;
    let mut i = start + UNIT_POS;
    while i < end {
        acc += term_value(x[i as usize], c0, c1, c2, c3, c4, c5, op);
        i += CUBE_DIM;
    }
    let total = cube_sum(acc, block);
    if UNIT_POS == 0u32 {
        partials[CUBE_POS] = total;
    }
}

/// `out[0] = scale · Σ partials[..count]`, by one cube.
#[cube(launch)]
pub(super) fn finish_sum(
    partials: &[f32],
    out: &mut [f32],
    count: u32,
    scale: f32,
    #[comptime] block: usize,
) {
    let mut acc = 0.0f32;
    let mut i = UNIT_POS;
    while i < count {
        acc += partials[i as usize];
        i += CUBE_DIM;
    }
    let total = cube_sum(acc, block);
    if UNIT_POS == 0u32 {
        out[0] = total * scale;
    }
}

/// `out[i] = upstream[0] · scale · f'(x[i])`.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub(super) fn elementwise_grad(
    x: &[f32],
    upstream: &[f32],
    out: &mut [f32],
    n: u32,
    scale: f32,
    c0: f32,
    c1: f32,
    c2: f32,
    c3: f32,
    c4: f32,
    c5: f32,
    #[comptime] op: u32,
) {
    let i = ABSOLUTE_POS;
    if i < n as usize {
        let u = upstream[0] * scale;
        out[i] = u * term_grad(x[i], c0, c1, c2, c3, c4, c5, op);
    }
}

/// The total-variation terms that element `i` starts (its forward differences to the right and
/// downwards, in images of `h × w`), for `kind`.
#[cube]
fn tv_term(x: &[f32], i: u32, h: u32, w: u32, #[comptime] kind: u32) -> f32 {
    let j = i % w;
    let r = (i / w) % h;
    let has_right = j + 1u32 < w;
    let has_down = r + 1u32 < h;
    let v = x[i as usize];
    let dw = x[select(has_right, i + 1u32, i) as usize] - v;
    let dh = x[select(has_down, i + w, i) as usize] - v;
    let mut t = 0.0f32;
    if comptime![kind == TV_ABS] {
        t = select(has_right, dw.abs(), 0.0f32) + select(has_down, dh.abs(), 0.0f32);
    }
    if comptime![kind == TV_SQUARED] {
        t = select(has_right, dw * dw, 0.0f32) + select(has_down, dh * dh, 0.0f32);
    }
    if comptime![kind == TV_ISOTROPIC] {
        t = select(has_right && has_down, hypot(dh, dw), 0.0f32);
    }
    t
}

/// Per cube, the total-variation terms of its `chunk` elements, into `partials[CUBE_POS]`.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub(super) fn tv_partials(
    x: &[f32],
    partials: &mut [f32],
    n: u32,
    chunk: u32,
    h: u32,
    w: u32,
    #[comptime] kind: u32,
    #[comptime] block: usize,
) {
    let start = CUBE_POS as u32 * chunk;
    let end = select(n - start < chunk, n, start + chunk);
    let mut acc = 0.0f32;
    let mut i = start + UNIT_POS;
    while i < end {
        acc += tv_term(x, i, h, w, kind);
        i += CUBE_DIM;
    }
    let total = cube_sum(acc, block);
    if UNIT_POS == 0u32 {
        partials[CUBE_POS] = total;
    }
}

/// `φ'(d)`: `sign(d)` for the absolute variations, `2d` for the squared one.
#[cube]
fn tv_dphi(d: f32, #[comptime] kind: u32) -> f32 {
    let mut g = 0.0f32;
    if comptime![kind == TV_SQUARED] {
        g = 2.0f32 * d;
    }
    if comptime![kind != TV_SQUARED] {
        g = sign(d);
    }
    g
}

/// `√(a² + b²)` as `m √((a/m)² + (b/m)²)`, `m = max(|a|, |b|)`: no overflow or underflow in
/// the squares (finite whenever the exact value is).
#[cube]
fn hypot(a: f32, b: f32) -> f32 {
    let (x, y) = (a.abs(), b.abs());
    let m = select(x > y, x, y);
    let safe = select(m > 0.0f32, m, 1.0f32);
    let (u, v) = (a / safe, b / safe);
    m * (u * u + v * v).sqrt()
}

/// `d√(a² + b²)` factor `1/√(a² + b²)`, 0 where both are 0.
#[cube]
fn inv_norm(a: f32, b: f32) -> f32 {
    let r = hypot(a, b);
    let safe = select(r > 0.0f32, r, 1.0f32);
    select(r > 0.0f32, 1.0f32 / safe, 0.0f32)
}

/// `out[i] = upstream[0] · scale · ∂TV/∂x[i]`: the terms element `i` takes part in are its
/// own (rightwards and downwards), its left neighbour's and the one above's.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub(super) fn tv_grad(
    x: &[f32],
    upstream: &[f32],
    out: &mut [f32],
    n: u32,
    h: u32,
    w: u32,
    scale: f32,
    #[comptime] kind: u32,
) {
    let pos = ABSOLUTE_POS;
    if pos < n as usize {
        let i = pos as u32;
        let s = upstream[0] * scale;
        let j = i % w;
        let r = (i / w) % h;
        let has_left = j > 0u32;
        let has_right = j + 1u32 < w;
        let has_up = r > 0u32;
        let has_down = r + 1u32 < h;
        let v = x[pos];
        let left = x[select(has_left, i - 1u32, i) as usize];
        let right = x[select(has_right, i + 1u32, i) as usize];
        let up = x[select(has_up, i - w, i) as usize];
        let down = x[select(has_down, i + w, i) as usize];
        let mut g = 0.0f32;
        if comptime![kind != TV_ISOTROPIC] {
            g = select(has_up, tv_dphi(v - up, kind), 0.0f32)
                - select(has_down, tv_dphi(down - v, kind), 0.0f32)
                + select(has_left, tv_dphi(v - left, kind), 0.0f32)
                - select(has_right, tv_dphi(right - v, kind), 0.0f32);
        }
        if comptime![kind == TV_ISOTROPIC] {
            // Its own term (dh, dw): −(dh + dw)/r.
            let dh = down - v;
            let dw = right - v;
            let own = select(has_right && has_down, (dh + dw) * inv_norm(dh, dw), 0.0f32);
            // The term above: its dh is v − up, its dw is x[i − w + 1] − up.
            let above = has_up && has_right;
            let up_right = x[select(above, i - w + 1u32, i) as usize];
            let dh_up = v - up;
            let from_above = select(above, dh_up * inv_norm(dh_up, up_right - up), 0.0f32);
            // The term on the left: its dw is v − left, its dh is x[i + w − 1] − left.
            let beside = has_left && has_down;
            let down_left = x[select(beside, i + w - 1u32, i) as usize];
            let dw_left = v - left;
            let from_left = select(
                beside,
                dw_left * inv_norm(down_left - left, dw_left),
                0.0f32,
            );
            g = from_above + from_left - own;
        }
        out[pos] = s * g;
    }
}

/// The statistics of `|x|` over a set: `m = max|x|`, `a = Σ|x|/m`, `s = Σ(x/m)²` (so
/// `‖v‖₁ = m a` and `‖v‖₂ = m √s`, free of overflow and underflow); all 0 for an empty or
/// zero set.
#[derive(CubeType, Clone, Copy)]
struct Stats {
    m: f32,
    a: f32,
    s: f32,
}

/// `(m, a, s)` with `|x| = ax` added.
#[cube]
fn stats_push(m: f32, a: f32, s: f32, ax: f32) -> Stats {
    let bigger = ax > m;
    // A new maximum rescales what was summed so far; NaN takes the second branch and stays.
    let big = select(bigger, ax, 1.0f32);
    let q = m / big;
    let safe_m = select(m > 0.0f32, m, 1.0f32);
    let ratio = select(m > 0.0f32, ax / safe_m, ax);
    Stats {
        m: select(bigger, ax, m),
        a: select(bigger, a * q + 1.0f32, a + ratio),
        s: select(bigger, s * q * q + 1.0f32, s + ratio * ratio),
    }
}

/// The statistics of the union of two sets.
#[cube]
fn stats_merge(m1: f32, a1: f32, s1: f32, m2: f32, a2: f32, s2: f32) -> Stats {
    let m = select(m2 > m1, m2, m1);
    let safe = select(m > 0.0f32, m, 1.0f32);
    let q1 = select(m > 0.0f32, m1 / safe, 0.0f32);
    let q2 = select(m > 0.0f32, m2 / safe, 0.0f32);
    Stats {
        m,
        a: a1 * q1 + a2 * q2,
        s: s1 * q1 * q1 + s2 * q2 * q2,
    }
}

/// The statistics over the units of the cube (a tree in shared memory); every unit gets them.
#[cube]
fn cube_stats(m: f32, a: f32, s: f32, #[comptime] block: usize) -> Stats {
    let mut sm = Shared::<[f32]>::new_slice(block);
    let mut sa = Shared::<[f32]>::new_slice(block);
    let mut ss = Shared::<[f32]>::new_slice(block);
    let u = UNIT_POS as usize;
    sm[u] = m;
    sa[u] = a;
    ss[u] = s;
    sync_cube();
    let mut half = CUBE_DIM / 2u32;
    while half > 0u32 {
        if UNIT_POS < half {
            let o = (UNIT_POS + half) as usize;
            let merged = stats_merge(sm[u], sa[u], ss[u], sm[o], sa[o], ss[o]);
            sm[u] = merged.m;
            sa[u] = merged.a;
            ss[u] = merged.s;
        }
        sync_cube();
        half /= 2u32;
    }
    Stats {
        m: sm[0],
        a: sa[0],
        s: ss[0],
    }
}

/// Hoyer, first pass: per cube, the statistics (see [`Stats`]) of one `chunk` of one row
/// (cube `k` = row `k / chunks`, chunk `k % chunks`), into `stats[3k..3k + 3]`.
#[cube(launch)]
pub(super) fn hoyer_chunk_stats(
    x: &[f32],
    stats: &mut [f32],
    row: u32,
    chunk: u32,
    chunks: u32,
    cubes: u32,
    #[comptime] block: usize,
) {
    let k = CUBE_POS as u32;
    let valid = k < cubes;
    let r = k / chunks;
    let c = k % chunks;
    let offset = c * chunk;
    let len = select(row - offset < chunk, row - offset, chunk);
    // The cubes past the last (a grid spread over two axes) read nothing.
    let start = select(valid, r * row + offset, 0u32);
    let end = start + select(valid, len, 0u32);
    let mut m = 0.0f32;
    let mut a = 0.0f32;
    let mut s = 0.0f32;
    let mut i = start + UNIT_POS;
    while i < end {
        let pushed = stats_push(m, a, s, x[i as usize].abs());
        m = pushed.m;
        a = pushed.a;
        s = pushed.s;
        i += CUBE_DIM;
    }
    let total = cube_stats(m, a, s, block);
    if UNIT_POS == 0u32 && valid {
        let base = 3usize * k as usize;
        stats[base] = total.m;
        stats[base + 1] = total.a;
        stats[base + 2] = total.s;
    }
}

/// Hoyer, second pass: per cube, one row's statistics from its `chunks` chunks, then
/// - the forward (`grad = false`): the row's ratio `‖v‖₁/‖v‖₂` (or its square) into `out[r]`,
///   0 for a zero row;
/// - the backward: `(1/m, P, Q)` into `out[3r..3r + 3]`, such that the gradient of
///   `upstream[0] · scale ·` the ratio is `(1/m)(P sign(x) − Q x/m)` (all 0 for a zero row).
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub(super) fn hoyer_rows(
    stats: &[f32],
    upstream: &[f32],
    out: &mut [f32],
    rows: u32,
    chunks: u32,
    scale: f32,
    #[comptime] squared: bool,
    #[comptime] grad: bool,
    #[comptime] block: usize,
) {
    let r = CUBE_POS as u32;
    let valid = r < rows;
    let end = select(valid, chunks, 0u32);
    let mut m = 0.0f32;
    let mut a = 0.0f32;
    let mut s = 0.0f32;
    let mut c = UNIT_POS;
    while c < end {
        let base = 3usize * (r * chunks + c) as usize;
        let merged = stats_merge(m, a, s, stats[base], stats[base + 1], stats[base + 2]);
        m = merged.m;
        a = merged.a;
        s = merged.s;
        c += CUBE_DIM;
    }
    let total = cube_stats(m, a, s, block);
    if UNIT_POS == 0u32 && valid {
        let m = total.m;
        let a = total.a;
        let s = total.s;
        // `s >= 1` unless the row is zero (or NaN, which must propagate).
        let zero = s == 0.0f32;
        let safe_s = select(zero, 1.0f32, s);
        let root = safe_s.sqrt();
        if comptime![!grad] {
            let mut ratio = a / root;
            if comptime![squared] {
                ratio = a * a / safe_s;
            }
            out[r as usize] = select(zero, 0.0f32, ratio);
        }
        if comptime![grad] {
            let u = upstream[0] * scale;
            let mut p = u / root;
            let mut q = u * a / (safe_s * root);
            if comptime![squared] {
                p = 2.0f32 * u * a / safe_s;
                q = 2.0f32 * u * a * a / (safe_s * safe_s);
            }
            let safe_m = select(m > 0.0f32, m, 1.0f32);
            let base = 3usize * r as usize;
            out[base] = select(zero, 0.0f32, 1.0f32 / safe_m);
            out[base + 1] = select(zero, 0.0f32, p);
            out[base + 2] = select(zero, 0.0f32, q);
        }
    }
}

/// Hoyer, backward: `out[i] = (1/m)(P sign(x) − Q x/m)` with the factors of `x[i]`'s row.
#[cube(launch)]
pub(super) fn hoyer_grad(x: &[f32], factors: &[f32], out: &mut [f32], n: u32, row: u32) {
    let i = ABSOLUTE_POS;
    if i < n as usize {
        let base = 3usize * (i as u32 / row) as usize;
        let inv_m = factors[base];
        let p = factors[base + 1];
        let q = factors[base + 2];
        let v = x[i];
        out[i] = inv_m * (p * sign(v) - q * (v * inv_m));
    }
}

/// The largest `value` over the units of the cube (a tree in shared memory, like
/// [`cube_sum`]); every unit gets it. NaN is kept only where it comes first (the callers'
/// sums propagate it anyway).
#[cube]
fn cube_max(value: f32, #[comptime] block: usize) -> f32 {
    let mut shared = Shared::<[f32]>::new_slice(block);
    shared[UNIT_POS as usize] = value;
    sync_cube();
    let mut half = CUBE_DIM / 2u32;
    while half > 0u32 {
        if UNIT_POS < half {
            let other = shared[(UNIT_POS + half) as usize];
            let mine = shared[UNIT_POS as usize];
            shared[UNIT_POS as usize] = select(other > mine, other, mine);
        }
        sync_cube();
        half /= 2u32;
    }
    shared[0]
}

/// `ln p` for `p = a/S`, `0 < a <= S`: `−ln(1 + (S − a)/a)` by [`log1p`] (exactly 0 for a
/// one-hot row, accurate near `p = 1`), `ln a − ln S` where the ratio would overflow.
#[cube]
fn ln_share(a: f32, total: f32) -> f32 {
    let z = (total - a) / a;
    let finite = z < 1.0e30f32;
    let near = -log1p(select(finite, z, 0.0f32));
    select(finite, near, a.ln() - total.ln())
}

/// The entropy of each row (cube `r` = row `r`, `row` elements; every unit of the cube takes
/// part in its reductions):
/// - `abs` (`softmax = false`): `S = Σ|x|`, `p = |x|/S`, `H = −Σ p ln p` (0 for a zero row);
/// - softmax: `y = x/T − max`, `Z = Σ eʸ`, `H = ln Z − (Σ eʸ y)/Z`.
///
/// The forward (`grad = false`) writes `H` into `out[r]`; the backward writes the gradient of
/// `upstream[0] · scale · H` into the row of `out`: `s sign(x)(−ln p − H)/S` (0 where `x = 0`)
/// for `abs`, `−s p (ln p + H)/T` for the softmax (`inv_t = 1/T`).
#[cube(launch)]
// A comptime condition does not combine with a runtime one in one `if`.
#[allow(clippy::too_many_arguments, clippy::collapsible_if)]
pub(super) fn entropy_rows(
    x: &[f32],
    upstream: &[f32],
    out: &mut [f32],
    row: u32,
    rows: u32,
    inv_t: f32,
    scale: f32,
    #[comptime] softmax: bool,
    #[comptime] grad: bool,
    #[comptime] block: usize,
) {
    let r = CUBE_POS as u32;
    let valid = r < rows;
    // The cubes past the last (a grid spread over two axes) read nothing.
    let start = select(valid, r * row, 0u32);
    let end = start + select(valid, row, 0u32);
    let mut h = 0.0f32;
    // abs: S; softmax: the maximum of x/T and ln Z.
    let mut total = 0.0f32;
    let mut m = 0.0f32;
    let mut ln_z = 0.0f32;
    if comptime![!softmax] {
        let mut acc = 0.0f32;
        let mut i = start + UNIT_POS;
        while i < end {
            acc += x[i as usize].abs();
            i += CUBE_DIM;
        }
        total = cube_sum(acc, block);
        sync_cube();
        let zero = total == 0.0f32;
        let safe = select(zero, 1.0f32, total);
        let mut acc2 = 0.0f32;
        let mut i = start + UNIT_POS;
        while i < end {
            let a = x[i as usize].abs();
            let pos = a > 0.0f32;
            let sa = select(pos, a, 1.0f32);
            let p = sa / safe;
            acc2 += select(pos, -p * ln_share(sa, safe), 0.0f32);
            i += CUBE_DIM;
        }
        let sum = cube_sum(acc2, block);
        // NaN (and an infinite sum) propagate; a zero row gives 0.
        h = select(zero, 0.0f32, sum + total * 0.0f32);
    }
    if comptime![softmax] {
        let first = x[start as usize] * inv_t;
        let mut mx = first;
        let mut i = start + UNIT_POS;
        while i < end {
            let y = x[i as usize] * inv_t;
            mx = select(y > mx, y, mx);
            i += CUBE_DIM;
        }
        m = cube_max(mx, block);
        sync_cube();
        let mut zu = 0.0f32;
        let mut eyu = 0.0f32;
        let mut i = start + UNIT_POS;
        while i < end {
            let y = x[i as usize] * inv_t - m;
            let e = y.exp();
            zu += e;
            eyu += e * y;
            i += CUBE_DIM;
        }
        let z = cube_sum(zu, block);
        sync_cube();
        let ey = cube_sum(eyu, block);
        // Z >= 1 (the maximum's term is 1).
        ln_z = log1p(select(z > 1.0f32, z - 1.0f32, 0.0f32)) + z * 0.0f32;
        let safe_z = select(valid, z, 1.0f32);
        h = ln_z - ey / safe_z;
    }
    if comptime![!grad] {
        if UNIT_POS == 0u32 && valid {
            out[r as usize] = h;
        }
    }
    if comptime![grad] {
        let u = upstream[0] * scale;
        if comptime![!softmax] {
            let zero = total == 0.0f32;
            let safe = select(zero, 1.0f32, total);
            let s = u / safe;
            let mut i = start + UNIT_POS;
            while i < end {
                let v = x[i as usize];
                let a = v.abs();
                let pos = a > 0.0f32;
                let sa = select(pos, a, 1.0f32);
                let g = s * sign(v) * (-ln_share(sa, safe) - h);
                out[i as usize] = select(pos && !zero, g, 0.0f32);
                i += CUBE_DIM;
            }
        }
        if comptime![softmax] {
            let s = u * inv_t;
            let lse = m + ln_z;
            let mut i = start + UNIT_POS;
            while i < end {
                let log_p = x[i as usize] * inv_t - lse;
                out[i as usize] = -s * log_p.exp() * (log_p + h);
                i += CUBE_DIM;
            }
        }
    }
}

/// Per unit `(k, c)` (`pos = k · cols + c`), `Σ x[r, c]` (or `Σ x[r, c]²` when `square`) over
/// the rows `k · rchunk ..` (clipped to `rows`) of a `[rows, cols]` tensor, into
/// `partials[pos]`. Neighbouring units read neighbouring columns.
#[cube(launch)]
pub(super) fn column_partials(
    x: &[f32],
    partials: &mut [f32],
    rows: u32,
    cols: u32,
    rchunk: u32,
    chunks: u32,
    #[comptime] square: bool,
) {
    let pos = ABSOLUTE_POS;
    if pos < (chunks * cols) as usize {
        let p = pos as u32;
        let c = p % cols;
        let r0 = (p / cols) * rchunk;
        let r1 = select(rows - r0 < rchunk, rows, r0 + rchunk);
        let mut acc = 0.0f32;
        let mut r = r0;
        while r < r1 {
            let v = x[(r * cols + c) as usize];
            if comptime![square] {
                acc += v * v;
            }
            if comptime![!square] {
                acc += v;
            }
            r += 1u32;
        }
        partials[pos] = acc;
    }
}

/// KL sparsity, per column `c` (one unit each): the mean `ρ̂ = inv_rows · Σ_k partials[k ·
/// cols + c]`, clamped to `[ε, 1 − ε]` (`one_minus_eps = 1 − ε`; `1 − ρ̂` formed from the
/// unclamped mean), then
/// - the forward (`grad = false`): `ρ ln(ρ/ρ̂) + (1 − ρ) ln((1 − ρ)/(1 − ρ̂))` into `out[c]`;
/// - the backward: `upstream[0] · scale · (−ρ/ρ̂ + (1 − ρ)/(1 − ρ̂))`, 0 where the clamp is
///   active, into `out[c]`.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub(super) fn kl_columns(
    partials: &[f32],
    upstream: &[f32],
    out: &mut [f32],
    cols: u32,
    chunks: u32,
    inv_rows: f32,
    rho: f32,
    eps: f32,
    one_minus_eps: f32,
    scale: f32,
    #[comptime] grad: bool,
) {
    let pos = ABSOLUTE_POS;
    if pos < cols as usize {
        let c = pos as u32;
        let mut sum = 0.0f32;
        let mut k = 0u32;
        while k < chunks {
            sum += partials[(k * cols + c) as usize];
            k += 1u32;
        }
        let mean = sum * inv_rows;
        let low = mean < eps;
        let high = mean > one_minus_eps;
        let p = select(low, eps, select(high, one_minus_eps, mean));
        let q = select(low, one_minus_eps, select(high, eps, 1.0f32 - mean));
        let rho_c = 1.0f32 - rho;
        if comptime![!grad] {
            out[pos] = rho * (rho / p).ln() + rho_c * (rho_c / q).ln();
        }
        if comptime![grad] {
            let g = upstream[0] * scale * (-rho / p + rho_c / q);
            out[pos] = select(low || high, 0.0f32, g);
        }
    }
}

/// `out[i] = factors[i % cols]`: a per-column factor broadcast over the rows.
#[cube(launch)]
pub(super) fn broadcast_columns(factors: &[f32], out: &mut [f32], n: u32, cols: u32) {
    let i = ABSOLUTE_POS;
    if i < n as usize {
        out[i] = factors[(i as u32 % cols) as usize];
    }
}

/// Group lasso, per cube one slice `k` (index `k` along the group axis): `Σ src[c · cols + k ·
/// inner + j]` (squared with `square`) over `c < chunks`, `j < inner`, into `out[k]`. With
/// `src = x`, `chunks = 1` (one outer block) that is the slice's `Σx²`; with `src` the
/// [`column_partials`] of `x²` it adds the chunks of the outer blocks.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub(super) fn group_slices(
    src: &[f32],
    out: &mut [f32],
    size: u32,
    inner: u32,
    cols: u32,
    chunks: u32,
    #[comptime] square: bool,
    #[comptime] block: usize,
) {
    let k = CUBE_POS as u32;
    let valid = k < size;
    let end = select(valid, chunks * inner, 0u32);
    let mut acc = 0.0f32;
    let mut e = UNIT_POS;
    while e < end {
        let c = e / inner;
        let j = e - c * inner;
        let v = src[(c * cols + k * inner + j) as usize];
        if comptime![square] {
            acc += v * v;
        }
        if comptime![!square] {
            acc += v;
        }
        e += CUBE_DIM;
    }
    let total = cube_sum(acc, block);
    if UNIT_POS == 0u32 && valid {
        out[k as usize] = total;
    }
}

/// Group lasso, per group `g` (one unit each): `sq = Σ slices[order[i]]` over
/// `offsets[g] ≤ i < offsets[g + 1]` (the slices of the group), then
/// - the forward (`grad = false`): `w_g √sq` into `out[g]`;
/// - the backward: `upstream[0] · scale · w_g / √sq` (0 for a zero group) into `out[g]`.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub(super) fn group_norms(
    slices: &[f32],
    order: &[u32],
    offsets: &[u32],
    weights: &[f32],
    upstream: &[f32],
    out: &mut [f32],
    groups: u32,
    scale: f32,
    #[comptime] grad: bool,
) {
    let pos = ABSOLUTE_POS;
    if pos < groups as usize {
        let mut sq = 0.0f32;
        let mut i = offsets[pos];
        let end = offsets[pos + 1];
        while i < end {
            sq += slices[order[i as usize] as usize];
            i += 1u32;
        }
        let norm = sq.sqrt();
        let w = weights[pos];
        if comptime![!grad] {
            out[pos] = w * norm;
        }
        if comptime![grad] {
            let safe = select(sq > 0.0f32, norm, 1.0f32);
            let f = upstream[0] * scale * w / safe;
            // A zero group has no norm term (as in the CPU kernel).
            out[pos] = select(sq > 0.0f32, f, 0.0f32);
        }
    }
}

/// Group lasso, backward: `out[i] = factors[g] x + upstream[0] · l1 · sign(x)`, `g` the group
/// of `x[i]`'s slice `(i / inner) % size` (without `norms`, `α = 1`, only the second term).
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub(super) fn group_grad(
    x: &[f32],
    group_of: &[u32],
    factors: &[f32],
    upstream: &[f32],
    out: &mut [f32],
    n: u32,
    size: u32,
    inner: u32,
    l1: f32,
    #[comptime] norms: bool,
) {
    let i = ABSOLUTE_POS;
    if i < n as usize {
        let v = x[i];
        let mut g = upstream[0] * l1 * sign(v);
        if comptime![norms] {
            let k = (i as u32 / inner) % size;
            g += factors[group_of[k as usize] as usize] * v;
        }
        out[i] = g;
    }
}

/// `a[0] += b[0]` (one unit).
#[cube(launch)]
pub(super) fn add_scalar(a: &mut [f32], b: &[f32]) {
    if ABSOLUTE_POS == 0usize {
        a[0] += b[0];
    }
}

/// The top-k mask's integer key of `x`, with the float's order: IEEE's order on numbers
/// (`−0.0` is mapped to `+0.0`), positive NaN above every number (as the host kernel's key).
#[cube]
fn order_key(x: f32) -> u32 {
    let raw = u32::reinterpret(x);
    // −0.0 → +0.0 by its bits (an `x + 0.0` a compiler might fold away).
    let bits = select(raw == 0x8000_0000u32, 0u32, raw);
    let negative = (bits >> 31u32) == 1u32;
    select(negative, !bits, bits | 0x8000_0000u32)
}

/// The top-k selection's start: `hist[..n]` zeroed (`rows · 256` bins) and each row's state
/// `(prefix, remaining) = (0, k)` in `state[2r], state[2r + 1]`.
#[cube(launch)]
pub(super) fn top_k_init(hist: &mut [u32], state: &mut [u32], n: u32, k: u32) {
    let i = ABSOLUTE_POS;
    if i < n as usize {
        hist[i] = 0u32;
        if (i & 255) == 0 {
            let r = i / 256;
            state[2 * r] = 0u32;
            state[2 * r + 1] = k;
        }
    }
}

/// The part of the data one cube of the top-k kernels covers: row `row = c / chunks`, its chunk
/// `index = c % chunks` of `chunk` elements, `[start, end)` in the data (empty for a cube at or
/// beyond `cubes`, whose `cube` is then 0 and `valid` false).
#[derive(CubeType, Clone, Copy)]
struct RowChunk {
    cube: u32,
    valid: bool,
    row: u32,
    index: u32,
    start: u32,
    end: u32,
}

/// This cube's [`RowChunk`] (`row` is the row length).
#[cube]
fn row_chunk(row: u32, chunk: u32, chunks: u32, cubes: u32) -> RowChunk {
    let c = CUBE_POS as u32;
    let valid = c < cubes;
    let c = select(valid, c, 0u32);
    let r = c / chunks;
    let index = c % chunks;
    let offset = index * chunk;
    let start = r * row + offset;
    let len = select(row - offset < chunk, row - offset, chunk);
    RowChunk {
        cube: c,
        valid,
        row: r,
        index,
        start,
        end: start + select(valid, len, 0u32),
    }
}

/// One radix-select pass, per cube one chunk of a row (cube `c` = row `c / chunks`, chunk
/// `c % chunks`, `chunk` elements): the histogram of the digit `(key >> shift) & 255` over the
/// chunk's candidates (`key & high == prefix & high`, the row's prefix found so far) in shared
/// memory, then added into the row's 256 bins of `hist`.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub(super) fn top_k_histogram(
    x: &[f32],
    state: &[u32],
    hist: &mut [Atomic<u32>],
    row: u32,
    chunk: u32,
    chunks: u32,
    cubes: u32,
    shift: u32,
    high: u32,
) {
    let part = row_chunk(row, chunk, chunks, cubes);
    let (r, start, end) = (part.row, part.start, part.end);
    let bins = Shared::<[Atomic<u32>]>::new_slice(256usize);
    let mut b = UNIT_POS;
    while b < 256u32 {
        bins[b as usize].store(0u32);
        b += CUBE_DIM;
    }
    sync_cube();
    let prefix = state[(2 * r) as usize] & high;
    let mut i = start + UNIT_POS;
    while i < end {
        let key = order_key(x[i as usize]);
        if (key & high) == prefix {
            bins[((key >> shift) & 255u32) as usize].fetch_add(1u32);
        }
        i += CUBE_DIM;
    }
    sync_cube();
    let mut b = UNIT_POS;
    while b < 256u32 {
        let v = bins[b as usize].load();
        if v > 0u32 {
            hist[(r * 256u32 + b) as usize].fetch_add(v);
        }
        b += CUBE_DIM;
    }
}

/// After a [`top_k_histogram`] pass, per cube one row: the digit of the row's k-th largest key
/// (the highest bin where the candidates from the top reach `remaining`), appended to the
/// prefix, `remaining` less the candidates of the higher bins; the bins are zeroed for the
/// next pass.
#[cube(launch)]
pub(super) fn top_k_choose(hist: &mut [u32], state: &mut [u32], rows: u32, shift: u32) {
    let r = CUBE_POS as u32;
    let valid = r < rows;
    let r = select(valid, r, 0u32);
    let mut counts = Shared::<[u32]>::new_slice(256usize);
    let mut b = UNIT_POS;
    while b < 256u32 {
        let at = (r * 256u32 + b) as usize;
        counts[b as usize] = hist[at];
        b += CUBE_DIM;
    }
    sync_cube();
    if valid && UNIT_POS == 0u32 {
        let remaining = state[(2 * r + 1) as usize];
        let mut acc = 0u32;
        let mut digit = 256u32;
        let mut found = false;
        while !found && digit > 0u32 {
            digit -= 1u32;
            let count = counts[digit as usize];
            if acc + count >= remaining {
                found = true;
            } else {
                acc += count;
            }
        }
        let prefix = state[(2 * r) as usize];
        state[(2 * r) as usize] = prefix | (digit << shift);
        state[(2 * r + 1) as usize] = remaining - acc;
    }
    sync_cube();
    let mut b = UNIT_POS;
    while b < 256u32 {
        if valid {
            hist[(r * 256u32 + b) as usize] = 0u32;
        }
        b += CUBE_DIM;
    }
}

/// Per cube one chunk (as in [`top_k_histogram`]): the number of entries equal to the row's
/// k-th largest key (`state[2r]`), into `ties[c]`.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub(super) fn top_k_ties(
    x: &[f32],
    state: &[u32],
    ties: &mut [u32],
    row: u32,
    chunk: u32,
    chunks: u32,
    cubes: u32,
) {
    let part = row_chunk(row, chunk, chunks, cubes);
    let (c, valid, r, start, end) = (part.cube, part.valid, part.row, part.start, part.end);
    let total = Shared::<[Atomic<u32>]>::new_slice(1usize);
    if UNIT_POS == 0u32 {
        total[0].store(0u32);
    }
    sync_cube();
    let kth = state[(2 * r) as usize];
    let mut count = 0u32;
    let mut i = start + UNIT_POS;
    while i < end {
        if order_key(x[i as usize]) == kth {
            count += 1u32;
        }
        i += CUBE_DIM;
    }
    if count > 0u32 {
        total[0].fetch_add(count);
    }
    sync_cube();
    if valid && UNIT_POS == 0u32 {
        ties[c as usize] = total[0].load();
    }
}

/// The mask, per cube one chunk (as in [`top_k_histogram`]; each unit a contiguous run of
/// `chunk / CUBE_DIM` entries): 1 for a key above the row's k-th largest, 1 for a tie whose
/// rank in the row (the ties of the earlier chunks, then of the earlier units, then its own)
/// is below the row's `remaining`, else 0.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub(super) fn top_k_mask(
    x: &[f32],
    state: &[u32],
    ties: &[u32],
    out: &mut [f32],
    row: u32,
    chunk: u32,
    chunks: u32,
    cubes: u32,
    #[comptime] block: usize,
) {
    let part = row_chunk(row, chunk, chunks, cubes);
    let (r, chunk_index, start, end) = (part.row, part.index, part.start, part.end);
    let kth = state[(2 * r) as usize];
    let needed = state[(2 * r + 1) as usize];
    // The ties of the row's earlier chunks.
    let before = Shared::<[Atomic<u32>]>::new_slice(1usize);
    if UNIT_POS == 0u32 {
        before[0].store(0u32);
    }
    sync_cube();
    let mut acc = 0u32;
    let mut j = UNIT_POS;
    while j < chunk_index {
        acc += ties[(r * chunks + j) as usize];
        j += CUBE_DIM;
    }
    if acc > 0u32 {
        before[0].fetch_add(acc);
    }
    // This unit's run and its ties.
    let per = chunk / CUBE_DIM;
    let run_start = start + UNIT_POS * per;
    let run_end = select(run_start + per < end, run_start + per, end);
    let mut own = 0u32;
    let mut i = run_start;
    while i < run_end {
        if order_key(x[i as usize]) == kth {
            own += 1u32;
        }
        i += 1u32;
    }
    let mut runs = Shared::<[u32]>::new_slice(block);
    runs[UNIT_POS as usize] = own;
    sync_cube();
    if UNIT_POS == 0u32 {
        // Exclusive scan of the units' tie counts.
        let mut sum = before[0].load();
        let mut u = 0u32;
        while u < CUBE_DIM {
            let v = runs[u as usize];
            runs[u as usize] = sum;
            sum += v;
            u += 1u32;
        }
    }
    sync_cube();
    let mut rank = runs[UNIT_POS as usize];
    let mut i = run_start;
    while i < run_end {
        let key = order_key(x[i as usize]);
        let tie = key == kth;
        let keep = key > kth || (tie && rank < needed);
        if tie {
            rank += 1u32;
        }
        out[i as usize] = select(keep, 1.0f32, 0.0f32);
        i += 1u32;
    }
}
