//! `Σᵢ f(xᵢ)` and `f'(xᵢ)` for the elementwise penalties ([`Elementwise`]) on the device: the
//! twin of `host/elementwise.rs`.
//!
//! The forward is one kernel that reads `x` once, each cube adding its chunk into one partial
//! in shared memory, then one cube adds the partials and applies the factor ([`reduce`]). The
//! backward is one elementwise kernel that reads `x` and the upstream gradient, on the device.

use burn_cubecl::cubecl;
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;

use super::launch::GradLaunch;
use super::math::{expm1, log1p, sign, tanh};
use super::reduce::{cube_sum, reduce};
use crate::fused::kernel::{mixture_terms, Elementwise, MixtureTerms};

/// The elementwise terms (comptime codes of [`elementwise_partials`] and [`elementwise_grad`]).
pub(super) const ABS: u32 = 0;
const ELASTIC_NET: u32 = 1;
const TANH: u32 = 2;
const LOG_SUM: u32 = 3;
const LP: u32 = 4;
const SCAD: u32 = 5;
const MCP: u32 = 6;
const SPIKE_AND_SLAB: u32 = 7;

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

/// The term `f(x)` of an elementwise penalty (`op`), its constants in `c0..c5` (see [`Term`]).
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

/// `f'(x)` of an elementwise penalty (`op`), its constants in `c0..c5` (see [`Term`]).
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

/// `out[i] = upstream[0] · scale · f'(x[i])`.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn elementwise_grad(
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

/// An elementwise term as the kernels take it: its code and its constants (`f32`, computed in
/// `f64`).
struct Term {
    op: u32,
    c: [f32; 6],
}

impl Term {
    fn of(f: Elementwise) -> Self {
        let (op, c): (u32, [f64; 6]) = match f {
            Elementwise::Abs => (ABS, [0.0; 6]),
            Elementwise::ElasticNet { l1_ratio } => (
                ELASTIC_NET,
                [
                    l1_ratio,
                    0.5 * (1.0 - l1_ratio),
                    1.0 - l1_ratio,
                    0.0,
                    0.0,
                    0.0,
                ],
            ),
            Elementwise::Tanh { scale } => (TANH, [scale, 0.0, 0.0, 0.0, 0.0, 0.0]),
            Elementwise::LogSum { eps } => (LOG_SUM, [eps, eps.ln(), 0.0, 0.0, 0.0, 0.0]),
            Elementwise::Lp { p, eps } => {
                (LP, [0.5 * p, eps, eps.ln(), eps.powf(p), p, p * eps.ln()])
            }
            Elementwise::Scad { lambda, a } => (
                SCAD,
                [
                    lambda,
                    a,
                    0.5 * lambda * lambda * (a + 1.0),
                    a * lambda,
                    0.5 / (a - 1.0),
                    1.0 / (a - 1.0),
                ],
            ),
            Elementwise::Mcp { lambda, gamma } => (
                MCP,
                [lambda, gamma * lambda, 0.5 / gamma, 1.0 / gamma, 0.0, 0.0],
            ),
            Elementwise::SpikeAndSlab {
                slab_prob,
                sigma_spike,
                sigma_slab,
            } => {
                let MixtureTerms { offsets, halves } =
                    mixture_terms(slab_prob, sigma_spike, sigma_slab);
                (
                    SPIKE_AND_SLAB,
                    [
                        offsets[0],
                        offsets[1],
                        halves[0],
                        halves[1],
                        offsets[1] - offsets[0],
                        halves[1] - halves[0],
                    ],
                )
            }
        };
        Self {
            op,
            c: c.map(|c| c as f32),
        }
    }
}

/// `scale · Σᵢ f(xᵢ)`, shape `[1]`.
pub(super) fn value(x: &CubeTensor, n: u32, f: Elementwise, scale: f64) -> CubeTensor {
    let term = Term::of(f);
    reduce(
        x,
        n,
        scale as f32,
        |client, count, dim, chunk, partials, block| {
            let [c0, c1, c2, c3, c4, c5] = term.c;
            elementwise_partials::launch(
                client,
                count,
                dim,
                x.clone().into_buffer_arg(),
                partials,
                n,
                chunk,
                c0,
                c1,
                c2,
                c3,
                c4,
                c5,
                term.op,
                block,
            )
        },
    )
}

/// `upstream[0] · scale · f'(xᵢ)` into `out`.
pub(super) fn grad(g: GradLaunch, f: Elementwise, scale: f64) {
    let term = Term::of(f);
    let [c0, c1, c2, c3, c4, c5] = term.c;
    elementwise_grad::launch(
        &g.client,
        g.count,
        g.dim,
        g.x.into_buffer_arg(),
        g.upstream.into_buffer_arg(),
        g.out.into_buffer_arg(),
        g.n,
        scale as f32,
        c0,
        c1,
        c2,
        c3,
        c4,
        c5,
        term.op,
    );
}
