//! Minimax concave penalty (MCP, Zhang 2010).

use burn::config::Config;
use burn::module::Module;
use burn::tensor::Tensor;

use crate::fused::{fused_penalty, Elementwise, Kernel};
use crate::util::{check_nonempty, non_negative, require};
use crate::{Penalty, Reduction, Result};

/// The serde name of this penalty.
const NAME: &str = "mcp";

/// Configuration of the [`Mcp`] penalty. Serde names: `lambda`, `gamma`.
#[derive(Config, Debug)]
pub struct McpConfig {
    /// λ, both the threshold and the scale (MCP has no separate weight); finite and `>= 0`.
    /// Default 1.0.
    #[config(default = 1.0)]
    pub lambda: f64,
    /// γ, the concavity: the penalty is flat beyond `|x| = γλ`; finite and `> 1`. Default 3.0.
    #[config(default = 3.0)]
    pub gamma: f64,
}

impl McpConfig {
    /// One line on what the penalty is, for help texts ([`PenaltyConfig::summary`](crate::PenaltyConfig::summary)).
    pub const SUMMARY: &'static str = "MCP (Zhang): λ|x| − x²/(2γ) up to γλ, then flat (gamma default 3)";

    /// Validates the config and builds the penalty.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`](crate::Error::InvalidHyperParameter) when `lambda` is
    /// negative or not finite, or `gamma` is not a finite number `> 1`.
    pub fn init(&self) -> Result<Mcp> {
        non_negative(NAME, "lambda", self.lambda)?;
        check_gamma(self.gamma)?;
        Ok(Mcp {
            lambda: self.lambda,
            gamma: self.gamma,
        })
    }
}

/// `gamma` must be finite and `> 1`.
fn check_gamma(gamma: f64) -> Result<()> {
    let ok = gamma.is_finite() && gamma > 1.0;
    require(ok, NAME, "gamma", gamma, "a finite number > 1")
}

/// The minimax concave penalty (Zhang 2010), elementwise and summed.
///
/// ```text
/// Mcp(x) = Σᵢ  λ|xᵢ| − xᵢ² / (2γ)    if |xᵢ| ≤ γλ
///              γλ² / 2               otherwise
/// gradient:    sign(xᵢ) (λ − |xᵢ|/γ) if |xᵢ| ≤ γλ, else 0
/// ```
///
/// λ is both the threshold and the scale, as in the paper and in skglm. Defaults: λ = 1,
/// γ (`gamma`) = 3. The penalty is continuous and so is its gradient, which is exactly 0 at
/// `xᵢ = 0` (`sign(0) = 0`) and beyond `γλ`. Any rank; returns shape `[1]`.
///
/// ```
/// use burn::prelude::*;
/// use sparse_losses::prelude::*;
///
/// let mcp = McpConfig::new().with_lambda(1.0).with_gamma(2.0).init().unwrap();
/// let x = Tensor::<1>::from_floats([1.0, 0.0, -5.0], &Device::flex());
/// // (1 − 1/4) + 0 + γλ²/2 = 0.75 + 1
/// assert_eq!(mcp.forward(x).unwrap().into_scalar::<f32>(), 1.75);
/// ```
#[derive(Module, Debug)]
pub struct Mcp {
    lambda: f64,
    gamma: f64,
}

impl Mcp {
    /// λ, the threshold and scale.
    pub fn lambda(&self) -> f64 {
        self.lambda
    }

    /// γ, the concavity (`> 1`).
    pub fn gamma(&self) -> f64 {
        self.gamma
    }
}

impl Penalty for Mcp {
    fn name(&self) -> &'static str {
        NAME
    }

    /// [`Reduction::Sum`]: the terms sum over all elements.
    fn reduction(&self) -> Reduction {
        Reduction::Sum
    }

    fn forward<const D: usize>(&self, x: Tensor<D>) -> Result<Tensor<1>> {
        check_nonempty(&x, NAME)?;
        if let Some(value) = fused_penalty(&x, Kernel::Elementwise { f: Elementwise::Mcp { lambda: self.lambda, gamma: self.gamma }, scale: 1.0 }) {
            return Ok(value);
        }
        let (lambda, gamma) = (self.lambda, self.gamma);
        // With a = min(|x|, γλ), λa − a²/(2γ) is the concave part below γλ and the constant
        // γλ²/2 above it; the clamp's gradient is 0 above γλ, where the true one is 0 too, and
        // at γλ itself both sides give λ − γλ/γ = 0.
        let a = x.abs().clamp_max(gamma * lambda);
        let value = a.clone().mul_scalar(lambda) - a.square().mul_scalar(0.5 / gamma);
        Ok(value.sum())
    }
}
