//! `Σᵢ f(xᵢ)` and `f'(xᵢ)` for the elementwise penalties ([`Elementwise`]).

use super::math::{self, sign};
use super::reduce::{map, sum_map};
use crate::fused::kernel::{mixture_terms, Elementwise, MixtureTerms};

/// `Σᵢ f(xᵢ)`.
pub(super) fn value(f: Elementwise, data: &[f32]) -> f64 {
    match f {
        Elementwise::Abs => sum_map(
            data,
            #[inline(always)]
            |x| x.abs(),
        ),
        Elementwise::ElasticNet { l1_ratio } => {
            let (rho, half) = (l1_ratio as f32, (0.5 * (1.0 - l1_ratio)) as f32);
            sum_map(
                data,
                #[inline(always)]
                move |x| rho * x.abs() + half * x * x,
            )
        }
        Elementwise::Tanh { scale } => {
            let c = scale as f32;
            sum_map(
                data,
                #[inline(always)]
                move |x| math::tanh(c * x.abs()),
            )
        }
        Elementwise::LogSum { eps } => {
            let (ln_eps, inv_eps) = (eps.ln() as f32, (1.0 / eps) as f32);
            let eps = eps as f32;
            sum_map(
                data,
                #[inline(always)]
                move |x| log_sum_term(x.abs(), eps, inv_eps, ln_eps),
            )
        }
        Elementwise::Lp { p, eps } => match LpRoot::new(p, eps) {
            Some(root) if root.half => sum_map(
                data,
                #[inline(always)]
                move |x| root.value::<true>(x),
            ),
            Some(root) => sum_map(
                data,
                #[inline(always)]
                move |x| root.value::<false>(x),
            ),
            None => {
                let lp = LpTerm::new(p, eps);
                sum_map(
                    data,
                    #[inline(always)]
                    move |x| lp.value(x),
                )
            }
        },
        Elementwise::Scad { lambda, a } => {
            let (lambda, a) = (lambda as f32, a as f32);
            let flat = 0.5 * lambda * lambda * (a + 1.0);
            let (top, slope) = (a * lambda, 0.5 / (a - 1.0));
            sum_map(
                data,
                #[inline(always)]
                move |x| {
                    let b = x.abs();
                    // Ordered so that NaN takes the middle piece and stays NaN.
                    if b <= lambda {
                        lambda * b
                    } else if b > top {
                        flat
                    } else {
                        lambda * lambda + (b - lambda) * ((2.0 * a - 1.0) * lambda - b) * slope
                    }
                },
            )
        }
        Elementwise::Mcp { lambda, gamma } => {
            let (lambda, gamma) = (lambda as f32, gamma as f32);
            let (top, half_inv) = (gamma * lambda, 0.5 / gamma);
            sum_map(
                data,
                #[inline(always)]
                move |x| {
                    let b = x.abs();
                    // Not `min`, which would turn NaN into γλ.
                    let b = if b > top { top } else { b };
                    lambda * b - b * b * half_inv
                },
            )
        }
        Elementwise::SpikeAndSlab {
            slab_prob,
            sigma_spike,
            sigma_slab,
        } => {
            let m = Mixture::new(slab_prob, sigma_spike, sigma_slab);
            sum_map(
                data,
                #[inline(always)]
                move |x| m.neg_log_density(x),
            )
        }
    }
}

/// `upstream · f'(xᵢ)` for every element.
pub(super) fn grad(f: Elementwise, data: &[f32], upstream: f64) -> Vec<f32> {
    match f {
        Elementwise::Abs => {
            let u = upstream as f32;
            map(
                data,
                #[inline(always)]
                move |x| u * sign(x),
            )
        }
        Elementwise::ElasticNet { l1_ratio } => {
            let (a, b) = (
                (upstream * l1_ratio) as f32,
                (upstream * (1.0 - l1_ratio)) as f32,
            );
            map(
                data,
                #[inline(always)]
                move |x| a * sign(x) + b * x,
            )
        }
        Elementwise::Tanh { scale } => {
            let (c, uc) = (scale as f32, (upstream * scale) as f32);
            map(
                data,
                #[inline(always)]
                move |x| {
                    let t = math::tanh(c * x.abs());
                    uc * (1.0 - t * t) * sign(x)
                },
            )
        }
        Elementwise::LogSum { eps } => {
            let (u, eps) = (upstream as f32, eps as f32);
            map(
                data,
                #[inline(always)]
                move |x| u * sign(x) / (eps + x.abs()),
            )
        }
        Elementwise::Lp { p, eps } => {
            let u = (upstream * p) as f32;
            match LpRoot::new(p, eps) {
                Some(root) if root.half => map(
                    data,
                    #[inline(always)]
                    move |x| u * root.grad_over_p::<true>(x),
                ),
                Some(root) => map(
                    data,
                    #[inline(always)]
                    move |x| u * root.grad_over_p::<false>(x),
                ),
                None => {
                    let lp = LpTerm::new(p, eps);
                    map(
                        data,
                        #[inline(always)]
                        move |x| u * lp.grad_over_p(x),
                    )
                }
            }
        }
        Elementwise::Scad { lambda, a } => {
            let u = upstream as f32;
            let (lambda, a) = (lambda as f32, a as f32);
            let (top, inv) = (a * lambda, 1.0 / (a - 1.0));
            map(
                data,
                #[inline(always)]
                move |x| {
                    let b = x.abs();
                    let slope = if b <= lambda {
                        lambda
                    } else if b <= top {
                        (top - b) * inv
                    } else {
                        0.0
                    };
                    u * slope * sign(x)
                },
            )
        }
        Elementwise::Mcp { lambda, gamma } => {
            let u = upstream as f32;
            let (lambda, gamma) = (lambda as f32, gamma as f32);
            let (top, inv) = (gamma * lambda, 1.0 / gamma);
            map(
                data,
                #[inline(always)]
                move |x| {
                    let b = x.abs();
                    let slope = if b <= top { lambda - b * inv } else { 0.0 };
                    u * slope * sign(x)
                },
            )
        }
        Elementwise::SpikeAndSlab {
            slab_prob,
            sigma_spike,
            sigma_slab,
        } => {
            let m = Mixture::new(slab_prob, sigma_spike, sigma_slab);
            let u = upstream as f32;
            map(
                data,
                #[inline(always)]
                move |x| u * m.neg_log_density_grad(x),
            )
        }
    }
}

/// `log(1 + a/ε)` for `a = |x| >= 0` with one logarithm: `ln(ε + a) − ln ε` above ε (no
/// cancellation there: the result is at least ln 2), `log1p(a/ε)` below.
#[inline(always)]
fn log_sum_term(a: f32, eps: f32, inv_eps: f32, ln_eps: f32) -> f32 {
    let big = a > eps;
    let z = a * inv_eps;
    let u = 1.0 + z;
    let l = math::ln_positive(if big { eps + a } else { u });
    let small = if u == 1.0 { z } else { l * (z / (u - 1.0)) };
    if big {
        l - ln_eps
    } else {
        small
    }
}

/// The smoothed Lp term `(x² + ε²)^{p/2} − ε^p` and its derivative, in `f32` without
/// overflow, with one logarithm and one exponential: with `L = ln(1 + x²/ε²)` (taken as
/// `2 ln|x| − 2 ln ε` where `|x|/ε >= 1e18`), the term is
/// `ε^p expm1(pL/2)` and the derivative `p x exp((p/2 − 1)(2 ln ε + L))`.
/// (For `p = 1/2` and `p = 1`, [`LpRoot`] needs neither.)
#[derive(Clone, Copy)]
struct LpTerm {
    half_p: f32,
    eps: f32,
    ln_eps: f32,
    eps_p: f32,
}

impl LpTerm {
    /// Above this `|x|/ε`, its square nears float32's limit: `ln(1 + x²/ε²)` is taken as
    /// `2 (ln|x| − ln ε)`.
    const HUGE: f32 = 1e18;

    fn new(p: f64, eps: f64) -> Self {
        Self {
            half_p: (0.5 * p) as f32,
            eps: eps as f32,
            ln_eps: eps.ln() as f32,
            eps_p: eps.powf(p) as f32,
        }
    }

    /// `L = ln(1 + x²/ε²)`: Goldberg's `ln(u) z/(u − 1)` with `z = (|x|/ε)²`, `u = 1 + z`
    /// (exact for small and large z alike); `2 (ln|x| − ln ε)` where `|x|/ε >= 1e18`, before z
    /// overflows. (Not `ln(x² + ε²)`: `x²` can be subnormal where `x/ε` is large.)
    #[inline(always)]
    fn log_ratio(&self, x: f32) -> f32 {
        let a = x.abs();
        let r = a / self.eps;
        let huge = r >= Self::HUGE;
        let z = r * r;
        let u = 1.0 + z;
        // Where r >= 1e18, |x| >= 1e18 ε is a normal float32.
        let l = math::ln_positive(if huge { a } else { u });
        let moderate = if u == 1.0 { z } else { l * (z / (u - 1.0)) };
        if huge {
            2.0 * (l - self.ln_eps)
        } else {
            moderate
        }
    }

    /// `ε^p expm1(v)`, `v = pL/2`, with one exponential: the series below 0.1, `ε^p (eᵛ − 1)`
    /// up to 1, and above 1 `exp(p ln ε + v) − ε^p`, so that a tiny ε^p (0 in float32) times a
    /// huge `eᵛ` never makes NaN.
    #[inline(always)]
    fn value(&self, x: f32) -> f32 {
        let v = self.half_p * self.log_ratio(x);
        let large = v > 1.0;
        let e = math::exp(if large {
            2.0 * self.half_p * self.ln_eps + v
        } else {
            v
        });
        let series = self.eps_p * math::expm1_small(v.min(0.1));
        // Ordered so that NaN takes the last branch and stays NaN.
        if large {
            e - self.eps_p
        } else if v < 0.1 {
            series
        } else {
            self.eps_p * (e - 1.0)
        }
    }

    /// The derivative divided by p, `x (x² + ε²)^{p/2 − 1}`, as `x · exp((p/2 − 1) ln(x² + ε²))`
    /// by [`math::mul_exp`], which stays exact where the power alone leaves float32's range
    /// (`ε ≪ 1` and `x` small, or `|x| ≫ 1`) but the product does not. 0 at `x = 0`.
    #[inline(always)]
    fn grad_over_p(&self, x: f32) -> f32 {
        let ln_sq = 2.0 * self.ln_eps + self.log_ratio(x);
        let g = math::mul_exp(x, (self.half_p - 1.0) * ln_sq);
        if x == 0.0 {
            0.0
        } else {
            g
        }
    }
}

/// The smoothed Lp term for `p = 1/2` and `p = 1` (the default and the common case) by square
/// roots, with no logarithm or exponential. With `t = |x|/ε` and `ρ = √(t² + 1)`:
///
/// ```text
/// p = 1/2:  (x² + ε²)^{1/4} − ε^{1/2} = ε^{1/2} t² / ((ρ + 1)(√ρ + 1)),  derivative / p = sign(x) ε^{−1/2} t / (ρ √ρ)
/// p = 1:    (x² + ε²)^{1/2} − ε       = ε t² / (ρ + 1),                 derivative / p = sign(x) t / ρ
/// ```
///
/// (differences of powers written as quotients, so that `|x| ≪ ε` loses nothing to
/// cancellation, and in units of ε, so that `x²` does not underflow first). Above `t = 1e18`,
/// where `t²` nears float32's limit, `|x|^p − ε^p` and `sign(x) |x|^{p−1}`. Used for `ε` in
/// `[1e-18, 1e18]`.
#[derive(Clone, Copy)]
struct LpRoot {
    /// `p = 1/2` (else `p = 1`).
    half: bool,
    eps: f32,
    inv_eps: f32,
    sqrt_eps: f32,
    inv_sqrt_eps: f32,
}

impl LpRoot {
    const HUGE: f32 = 1e18;

    fn new(p: f64, eps: f64) -> Option<Self> {
        ((p == 0.5 || p == 1.0) && (1e-18..=1e18).contains(&eps)).then(|| Self {
            half: p == 0.5,
            eps: eps as f32,
            inv_eps: (1.0 / eps) as f32,
            sqrt_eps: eps.sqrt() as f32,
            inv_sqrt_eps: (1.0 / eps.sqrt()) as f32,
        })
    }

    /// The term; `HALF` is `self.half` (a constant, so that each loop has one formula).
    #[inline(always)]
    fn value<const HALF: bool>(&self, x: f32) -> f32 {
        let a = x.abs();
        let t = a * self.inv_eps;
        let sq = t * t;
        let rho = (sq + 1.0).sqrt();
        let (body, huge) = if HALF {
            (
                self.sqrt_eps * sq / ((rho + 1.0) * (rho.sqrt() + 1.0)),
                a.sqrt() - self.sqrt_eps,
            )
        } else {
            (self.eps * sq / (rho + 1.0), a - self.eps)
        };
        if t >= Self::HUGE {
            huge
        } else {
            body
        }
    }

    /// The derivative divided by p; `HALF` as in [`LpRoot::value`].
    #[inline(always)]
    fn grad_over_p<const HALF: bool>(&self, x: f32) -> f32 {
        let a = x.abs();
        let t = x * self.inv_eps;
        let rho = (t * t + 1.0).sqrt();
        let (body, huge) = if HALF {
            (
                self.inv_sqrt_eps * t / (rho * rho.sqrt()),
                sign(x) / a.sqrt(),
            )
        } else {
            (t / rho, sign(x))
        };
        if a * self.inv_eps >= Self::HUGE {
            huge
        } else {
            body
        }
    }
}

/// The two-Gaussian mixture of the spike-and-slab penalty, constants resolved.
#[derive(Clone, Copy)]
struct Mixture {
    /// `log π − log σ_slab − ½ log 2π`, `log(1 − π) − log σ_spike − ½ log 2π`.
    offsets: [f32; 2],
    /// `−1 / 2σ²` of the slab and the spike.
    half_precisions: [f32; 2],
    /// The spike's offset and half-precision minus the slab's (computed in `f64`).
    differences: [f32; 2],
}

impl Mixture {
    fn new(slab_prob: f64, sigma_spike: f64, sigma_slab: f64) -> Self {
        let MixtureTerms { offsets, halves } = mixture_terms(slab_prob, sigma_spike, sigma_slab);
        Self {
            offsets: offsets.map(|o| o as f32),
            half_precisions: halves.map(|h| h as f32),
            differences: [
                (offsets[1] - offsets[0]) as f32,
                (halves[1] - halves[0]) as f32,
            ],
        }
    }

    /// `b − a`, the spike's weighted log-density minus the slab's, at `x`: one product in `x`,
    /// so −∞ far out (never −∞ + ∞).
    #[inline(always)]
    fn difference(&self, x: f32) -> f32 {
        math::madd(x, x * self.differences[1], self.differences[0])
    }

    /// `−log(π N(x; 0, σ_slab²) + (1 − π) N(x; 0, σ_spike²))`, by log-sum-exp:
    /// `−(hi + log1p(e^−|b − a|))`, `hi` the larger log-density. `x (x c)`, not `x² c`: the
    /// value is finite as long as it fits in `f32`.
    #[inline(always)]
    fn neg_log_density(&self, x: f32) -> f32 {
        let d = self.difference(x);
        let (h, o) = if d > 0.0 {
            (self.half_precisions[1], self.offsets[1])
        } else {
            (self.half_precisions[0], self.offsets[0])
        };
        let hi = math::madd(x, x * h, o);
        -(hi + math::log1p(math::exp(-d.abs())))
    }

    /// Its derivative: `x · (w_slab / σ_slab² + w_spike / σ_spike²)`, w the posterior weights
    /// (from the difference alone: finite for every finite `x`).
    #[inline(always)]
    fn neg_log_density_grad(&self, x: f32) -> f32 {
        let d = self.difference(x);
        let e = math::exp(-d.abs());
        let (p_hi, p_lo) = if d > 0.0 {
            (self.half_precisions[1], self.half_precisions[0])
        } else {
            (self.half_precisions[0], self.half_precisions[1])
        };
        -2.0 * x * (p_hi + e * p_lo) / (1.0 + e)
    }
}
