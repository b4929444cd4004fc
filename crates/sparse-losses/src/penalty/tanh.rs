//! Tanh penalty: a bounded, smooth surrogate of the L0 count.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::Tensor;

use crate::fused::{fused_penalty, Elementwise, Kernel};
use crate::util::{check_nonempty, non_negative, positive, tanh};
use crate::{Penalty, Reduction, Result};

/// The serde name of this penalty.
const NAME: &str = "tanh";

/// Configuration of the [`Tanh`] penalty. Serde names: `lambda`, `scale`.
#[derive(Config, Debug)]
pub struct TanhConfig {
    /// The weight λ; finite and `>= 0`. Default 1.0.
    #[config(default = 1.0)]
    pub lambda: f64,
    /// c, the slope at 0 (`scale`): `|x| ≫ 1/c` counts ~1, `|x| ≪ 1/c` counts ~`c|x|`;
    /// finite and `> 0`. Default 1.0.
    #[config(default = 1.0)]
    pub scale: f64,
}

impl TanhConfig {
    /// One line on what the penalty is, for help texts ([`PenaltyConfig::summary`](crate::PenaltyConfig::summary)).
    pub const SUMMARY: &'static str = "λ Σ tanh(c |x|), c = scale: a saturating L0 surrogate";

    /// Validates the config and builds the penalty.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`](crate::Error::InvalidHyperParameter) when `lambda` is
    /// negative or not finite, or `scale` is not a finite number `> 0`.
    pub fn init(&self) -> Result<Tanh> {
        non_negative(NAME, "lambda", self.lambda)?;
        positive(NAME, "scale", self.scale)?;
        Ok(Tanh {
            lambda: self.lambda,
            scale: self.scale,
        })
    }
}

/// The tanh penalty: a smooth, bounded count of the nonzeros.
///
/// ```text
/// Tanh(x) = λ Σᵢ tanh(c |xᵢ|)
/// gradient: λ c (1 − tanh²(c|xᵢ|)) sign(xᵢ)
/// ```
///
/// Defaults: λ = 1, c (`scale`) = 1. Each element contributes at most λ, so large values are
/// not shrunk the way L1 shrinks them. Small arguments use tanh's series, so that the value
/// keeps float32 precision where `c|xᵢ| ≪ 1` on every backend. At `xᵢ = 0` the gradient is 0 (`sign(0) = 0`). Any
/// rank; returns shape `[1]`.
///
/// ```
/// use burn::prelude::*;
/// use sparse_losses::prelude::*;
///
/// let penalty = TanhConfig::new().with_lambda(2.0).with_scale(0.5).init().unwrap();
/// let x = Tensor::<1>::from_floats([2.0, 0.0, -2.0], &Device::flex());
/// let value: f32 = penalty.forward(x).unwrap().into_scalar();
/// // 2 (tanh(1) + 0 + tanh(1))
/// assert!((value - 4.0 * 1f32.tanh()).abs() < 1e-6);
/// ```
#[derive(Module, Debug)]
pub struct Tanh {
    lambda: f64,
    scale: f64,
}

impl Tanh {
    /// The weight λ.
    pub fn lambda(&self) -> f64 {
        self.lambda
    }

    /// The slope c.
    pub fn scale(&self) -> f64 {
        self.scale
    }
}

impl Penalty for Tanh {
    fn name(&self) -> &'static str {
        NAME
    }

    /// [`Reduction::Sum`]: the terms sum over all elements.
    fn reduction(&self) -> Reduction {
        Reduction::Sum
    }

    fn forward<const D: usize>(&self, x: Tensor<D>) -> Result<Tensor<1>> {
        check_nonempty(&x, NAME)?;
        if let Some(value) = fused_penalty(&x, Kernel::Elementwise { f: Elementwise::Tanh { scale: self.scale }, scale: self.lambda }) {
            return Ok(value);
        }
        // An accurate tanh: the backend's may lose the relative precision of tiny values.
        Ok(tanh(x.abs().mul_scalar(self.scale))
            .sum()
            .mul_scalar(self.lambda))
    }
}
