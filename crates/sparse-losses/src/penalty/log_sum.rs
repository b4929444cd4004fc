//! Log-sum penalty (Candès, Wakin & Boyd's reweighted L1).

use burn::config::Config;
use burn::module::Module;
use burn::tensor::Tensor;

use crate::fused::{fused_penalty, Elementwise, Kernel};
use crate::util::{check_nonempty, log1p, non_negative, positive};
use crate::{Penalty, Reduction, Result};

/// The serde name of this penalty.
const NAME: &str = "log_sum";

/// Configuration of the [`LogSum`] penalty. Serde names: `lambda`, `eps`.
#[derive(Config, Debug)]
pub struct LogSumConfig {
    /// The weight λ; finite and `>= 0`. Default 1.0.
    #[config(default = 1.0)]
    pub lambda: f64,
    /// ε, the scale below which the penalty is nearly linear (`eps`); finite and `> 0`.
    /// Default 0.1.
    #[config(default = 0.1)]
    pub eps: f64,
}

impl LogSumConfig {
    /// One line on what the penalty is, for help texts ([`PenaltyConfig::summary`](crate::PenaltyConfig::summary)).
    pub const SUMMARY: &'static str = "λ Σ log(1 + |x|/ε): reweighted-L1's penalty";

    /// Validates the config and builds the penalty.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`](crate::Error::InvalidHyperParameter) when `lambda` is
    /// negative or not finite, or `eps` is not a finite number `> 0`.
    pub fn init(&self) -> Result<LogSum> {
        non_negative(NAME, "lambda", self.lambda)?;
        positive(NAME, "eps", self.eps)?;
        Ok(LogSum {
            lambda: self.lambda,
            eps: self.eps,
        })
    }
}

/// The log-sum penalty, whose majorise-minimise steps are Candès, Wakin & Boyd's (2008)
/// reweighted L1.
///
/// ```text
/// LogSum(x) = λ Σᵢ log(1 + |xᵢ| / ε)
/// gradient:   λ sign(xᵢ) / (ε + |xᵢ|)
/// ```
///
/// Defaults: λ = 1, ε (`eps`) = 0.1. Computed with an accurate `log1p`, so that the value
/// keeps float32 precision where `|xᵢ| ≪ ε`. At `xᵢ = 0` the gradient is 0
/// (`sign(0) = 0`). Any rank; returns shape `[1]`.
///
/// ```
/// use burn::prelude::*;
/// use sparse_losses::prelude::*;
///
/// let penalty = LogSumConfig::new().with_eps(0.5).init().unwrap();
/// let x = Tensor::<1>::from_floats([1.5, 0.0, -0.5], &Device::flex());
/// let value: f32 = penalty.forward(x).unwrap().into_scalar();
/// // ln 4 + 0 + ln 2 = ln 8
/// assert!((value - 8f32.ln()).abs() < 1e-6);
/// ```
#[derive(Module, Debug)]
pub struct LogSum {
    lambda: f64,
    eps: f64,
}

impl LogSum {
    /// The weight λ.
    pub fn lambda(&self) -> f64 {
        self.lambda
    }

    /// The scale ε.
    pub fn eps(&self) -> f64 {
        self.eps
    }

    /// This penalty with the scale `eps` (λ unchanged), as [`EpsAnneal`](crate::EpsAnneal)
    /// uses it.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`](crate::Error::InvalidHyperParameter) when `eps` is not
    /// a finite number `> 0`.
    pub fn with_eps(&self, eps: f64) -> Result<LogSum> {
        positive(NAME, "eps", eps)?;
        Ok(LogSum {
            lambda: self.lambda,
            eps,
        })
    }
}

impl Penalty for LogSum {
    fn name(&self) -> &'static str {
        NAME
    }

    /// [`Reduction::Sum`]: the terms sum over all elements.
    fn reduction(&self) -> Reduction {
        Reduction::Sum
    }

    fn forward<const D: usize>(&self, x: Tensor<D>) -> Result<Tensor<1>> {
        check_nonempty(&x, NAME)?;
        if let Some(value) = fused_penalty(&x, Kernel::Elementwise { f: Elementwise::LogSum { eps: self.eps }, scale: self.lambda }) {
            return Ok(value);
        }
        let z = x.abs().mul_scalar(1.0 / self.eps);
        Ok(log1p(z).sum().mul_scalar(self.lambda))
    }
}
