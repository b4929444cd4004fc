//! Smoothed Lp quasi-norm penalty (0 < p ≤ 2).

use burn::config::Config;
use burn::module::Module;
use burn::tensor::Tensor;

use crate::fused::{fused_penalty, Elementwise, Kernel};
use crate::util::{check_nonempty, expm1, log1p, non_negative, positive, require};
use crate::{Penalty, Reduction, Result};

/// The serde name of this penalty.
const NAME: &str = "lp";

/// Configuration of the [`Lp`] penalty. Serde names: `lambda`, `p`, `eps`.
#[derive(Config, Debug)]
pub struct LpConfig {
    /// The weight λ; finite and `>= 0`. Default 1.0.
    #[config(default = 1.0)]
    pub lambda: f64,
    /// The exponent p, in `(0, 2]`: p < 1 is the non-convex quasi-norm, p = 1 a smoothed L1,
    /// p = 2 the squared L2 norm. Default 0.5.
    #[config(default = 0.5)]
    pub p: f64,
    /// ε, the smoothing scale (`eps`): below `|x| ~ ε` the penalty is quadratic, so its
    /// gradient is finite at 0; finite and `> 0`. Default 1e-3.
    #[config(default = 1e-3)]
    pub eps: f64,
}

impl LpConfig {
    /// One line on what the penalty is, for help texts ([`PenaltyConfig::summary`](crate::PenaltyConfig::summary)).
    pub const SUMMARY: &'static str = "λ Σ [(x² + ε²)^{p/2} − ε^p], 0 < p ≤ 1: a smoothed Lp quasi-norm";

    /// Validates the config and builds the penalty.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`](crate::Error::InvalidHyperParameter) when `lambda` is
    /// negative or not finite, `p` is outside `(0, 2]` (or NaN), or `eps` is not a finite
    /// number `> 0`.
    pub fn init(&self) -> Result<Lp> {
        non_negative(NAME, "lambda", self.lambda)?;
        check_p(self.p)?;
        positive(NAME, "eps", self.eps)?;
        Ok(Lp {
            lambda: self.lambda,
            p: self.p,
            eps: self.eps,
        })
    }
}

/// `p` must be in `(0, 2]`.
fn check_p(p: f64) -> Result<()> {
    require(p > 0.0 && p <= 2.0, NAME, "p", p, "a number in (0, 2]")
}

/// The smoothed Lp penalty: `|x|^p` with a quadratic core of width ε, shifted to be 0 at 0.
///
/// ```text
/// Lp(x) = λ Σᵢ [(xᵢ² + ε²)^{p/2} − ε^p]  =  λ Σᵢ ε^p expm1((p/2) log1p(xᵢ²/ε²))
/// gradient: λ p xᵢ (xᵢ² + ε²)^{p/2 − 1}
/// ```
///
/// Defaults: λ = 1, p = 0.5, ε (`eps`) = 1e-3. For `|x| ≫ ε` each term is close to `|x|^p`;
/// p = 2 is exactly `λ Σ x²`. The value is computed in the second form, with accurate `expm1`
/// and `log1p`, so it keeps float32 precision where `|xᵢ| ≪ ε`, and with `log1p(x²/ε²)`
/// evaluated as `2 ln(|x|/ε) + log1p(ε²/x²)` above ε, so that `x²/ε²` never overflows. The gradient is finite
/// everywhere and exactly 0 at `xᵢ = 0`. [`with_p`](Lp::with_p) changes p (p-annealing, see
/// [`PAnneal`](crate::PAnneal)). Any rank; returns shape `[1]`.
///
/// Range in float32: for `p <= 1` value and gradient are finite for every finite `x`;
/// for `p > 1` the gradient is finite and the value while `(x² + ε²)^{p/2}` is (|x| up to
/// about `(3.4e38)^{1/p}`), +∞ beyond.
///
/// ```
/// use burn::prelude::*;
/// use sparse_losses::prelude::*;
///
/// let penalty = LpConfig::new().with_p(1.0).with_eps(0.75).init().unwrap();
/// let x = Tensor::<1>::from_floats([1.0, 0.0], &Device::flex());
/// // √(1 + 0.5625) − 0.75 = 1.25 − 0.75
/// let value: f32 = penalty.forward(x).unwrap().into_scalar();
/// assert!((value - 0.5).abs() < 1e-6);
/// ```
#[derive(Module, Debug)]
pub struct Lp {
    lambda: f64,
    p: f64,
    eps: f64,
}

impl Lp {
    /// The weight λ.
    pub fn lambda(&self) -> f64 {
        self.lambda
    }

    /// The exponent p.
    pub fn p(&self) -> f64 {
        self.p
    }

    /// The smoothing scale ε.
    pub fn eps(&self) -> f64 {
        self.eps
    }

    /// The same penalty with exponent `p` (λ and ε unchanged), e.g. for p-annealing.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`](crate::Error::InvalidHyperParameter) when `p` is
    /// outside `(0, 2]` (or NaN).
    pub fn with_p(&self, p: f64) -> Result<Lp> {
        check_p(p)?;
        Ok(Lp {
            lambda: self.lambda,
            p,
            eps: self.eps,
        })
    }
}

impl Penalty for Lp {
    fn name(&self) -> &'static str {
        NAME
    }

    /// [`Reduction::Sum`]: the terms sum over all elements.
    fn reduction(&self) -> Reduction {
        Reduction::Sum
    }

    fn forward<const D: usize>(&self, x: Tensor<D>) -> Result<Tensor<1>> {
        check_nonempty(&x, NAME)?;
        if let Some(value) = fused_penalty(&x, Kernel::Elementwise { f: Elementwise::Lp { p: self.p, eps: self.eps }, scale: self.lambda }) {
            return Ok(value);
        }
        let (p, eps) = (self.p, self.eps);
        // The value from L = ln(1 + x²/ε²) as ε^p expm1(pL/2), the gradient from its formula,
        // p x (x² + ε²)^{p/2 − 1} = p sign(x) exp(ln|x| + (p/2 − 1)(2 ln ε + L)): one exponent,
        // finite for every finite x (p ≤ 2), where autodiff through expm1 would multiply an
        // infinite exp(pL/2) by a vanishing dL/dx (NaN) once the value leaves float32.
        let detached = x.clone().detach();
        let a = detached.clone().abs();
        let l = log1p_square_ratio(a.clone(), eps);
        let value = expm1(l.clone().mul_scalar(0.5 * p))
            .sum()
            .mul_scalar(self.lambda * eps.powf(p));
        let exponent = a.log() + l.add_scalar(2.0 * eps.ln()).mul_scalar(0.5 * p - 1.0);
        let slope = exponent.exp() * detached.clone().sign().mul_scalar(p);
        // (x − x̄) · slope: 0 in value, `slope` as the gradient.
        let tangent = ((x - detached) * slope).sum().mul_scalar(self.lambda);
        Ok(value + tangent)
    }
}

/// `ln(1 + (a/ε)²)` for `a = |x| >= 0`, without overflow for any finite `a`:
///
/// ```text
/// a ≤ ε:  log1p((a/ε)²)
/// a > ε:  2 (ln a − ln ε) + log1p((ε/a)²)
/// ```
///
/// Each piece runs on `a` clamped to its side of ε, so the piece that is not selected stays
/// finite.
fn log1p_square_ratio<const D: usize>(a: Tensor<D>, eps: f64) -> Tensor<D> {
    let big = a.clone().greater_elem(eps);
    let below = log1p(a.clone().clamp_max(eps).mul_scalar(1.0 / eps).square());
    let above = a.clamp_min(eps);
    let above = above
        .clone()
        .log()
        .sub_scalar(eps.ln())
        .mul_scalar(2.0)
        + log1p(above.recip().mul_scalar(eps).square());
    below.mask_where(big, above)
}
