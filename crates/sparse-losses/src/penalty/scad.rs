//! Smoothly clipped absolute deviation penalty (SCAD, Fan & Li 2001).

use burn::config::Config;
use burn::module::Module;
use burn::tensor::Tensor;

use crate::fused::{fused_penalty, Elementwise, Kernel};
use crate::util::{check_nonempty, non_negative, require};
use crate::{Penalty, Reduction, Result};

/// The serde name of this penalty.
const NAME: &str = "scad";

/// Configuration of the [`Scad`] penalty. Serde names: `lambda`, `gamma`.
#[derive(Config, Debug)]
pub struct ScadConfig {
    /// λ, both the threshold and the scale (SCAD has no separate weight); finite and `>= 0`.
    /// Default 1.0.
    #[config(default = 1.0)]
    pub lambda: f64,
    /// a, the papers' shape parameter: the penalty is flat beyond `|x| = aλ`; finite and
    /// `> 2`. Default 3.7 (Fan & Li's choice).
    #[config(default = 3.7)]
    pub gamma: f64,
}

impl ScadConfig {
    /// One line on what the penalty is, for help texts ([`PenaltyConfig::summary`](crate::PenaltyConfig::summary)).
    pub const SUMMARY: &'static str = "SCAD (Fan & Li): λ|x| near 0, flat beyond gamma·λ (gamma = a, default 3.7)";

    /// Validates the config and builds the penalty.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`](crate::Error::InvalidHyperParameter) when `lambda` is
    /// negative or not finite, or `gamma` is not a finite number `> 2`.
    pub fn init(&self) -> Result<Scad> {
        non_negative(NAME, "lambda", self.lambda)?;
        let ok = self.gamma.is_finite() && self.gamma > 2.0;
        require(ok, NAME, "gamma", self.gamma, "a finite number > 2")?;
        Ok(Scad {
            lambda: self.lambda,
            gamma: self.gamma,
        })
    }
}

/// The smoothly clipped absolute deviation penalty (Fan & Li 2001), elementwise and summed,
/// with a = `gamma`:
///
/// ```text
/// Scad(x) = Σᵢ  λ|xᵢ|                                 if |xᵢ| ≤ λ
///               (2aλ|xᵢ| − xᵢ² − λ²) / (2(a − 1))     if λ < |xᵢ| ≤ aλ
///               λ² (a + 1) / 2                        if |xᵢ| > aλ
/// gradient:     sign(xᵢ) · { λ;  (aλ − |xᵢ|) / (a − 1);  0 }
/// ```
///
/// λ is both the threshold and the scale, as in the paper and in skglm. Defaults: λ = 1,
/// a = 3.7. The penalty and its gradient are continuous; the gradient is exactly 0 at
/// `xᵢ = 0` (`sign(0) = 0`) and beyond `aλ`. Any rank; returns shape `[1]`.
///
/// ```
/// use burn::prelude::*;
/// use sparse_losses::prelude::*;
///
/// let scad = ScadConfig::new().with_lambda(1.0).with_gamma(3.0).init().unwrap();
/// let x = Tensor::<1>::from_floats([0.5, 0.0, -2.0, 10.0], &Device::flex());
/// // 0.5 + 0 + (12 − 4 − 1)/4 + 4/2
/// assert_eq!(scad.forward(x).unwrap().into_scalar::<f32>(), 4.25);
/// ```
#[derive(Module, Debug)]
pub struct Scad {
    lambda: f64,
    gamma: f64,
}

impl Scad {
    /// λ, the threshold and scale.
    pub fn lambda(&self) -> f64 {
        self.lambda
    }

    /// a (`gamma`), the shape parameter (`> 2`).
    pub fn gamma(&self) -> f64 {
        self.gamma
    }
}

impl Penalty for Scad {
    fn name(&self) -> &'static str {
        NAME
    }

    /// [`Reduction::Sum`]: the terms sum over all elements.
    fn reduction(&self) -> Reduction {
        Reduction::Sum
    }

    fn forward<const D: usize>(&self, x: Tensor<D>) -> Result<Tensor<1>> {
        check_nonempty(&x, NAME)?;
        if let Some(value) = fused_penalty(&x, Kernel::Elementwise { f: Elementwise::Scad { lambda: self.lambda, a: self.gamma }, scale: 1.0 }) {
            return Ok(value);
        }
        let (lambda, a) = (self.lambda, self.gamma);
        let abs = x.abs();
        let linear = abs.clone().mul_scalar(lambda);
        // The middle piece, written as λ² + (b − λ)(2aλ − b − λ) / (2(a − 1)) (the same
        // polynomial without the cancellation), on b = |x| clamped to [λ, aλ] so that it stays
        // finite, with a finite gradient, wherever it is not selected.
        let b = abs.clone().clamp(lambda, a * lambda);
        let middle = (b.clone().sub_scalar(lambda) * b.neg().add_scalar((2.0 * a - 1.0) * lambda))
            .mul_scalar(0.5 / (a - 1.0))
            .add_scalar(lambda * lambda);
        // Each element takes exactly one piece, so its gradient is that piece's: λ at |x| = λ,
        // (aλ − |x|)/(a − 1) inside, 0 above aλ (where the middle one reaches 0 as well).
        let value = linear
            .mask_where(abs.clone().greater_elem(lambda), middle)
            .mask_fill(abs.greater_elem(a * lambda), 0.5 * lambda * lambda * (a + 1.0));
        Ok(value.sum())
    }
}
