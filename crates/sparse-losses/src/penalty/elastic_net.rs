//! Elastic-net penalty (scikit-learn's parametrisation).

use burn::config::Config;
use burn::module::Module;
use burn::tensor::Tensor;

use crate::fused::{fused_penalty, Elementwise, Kernel};
use crate::util::{check_nonempty, in_closed, non_negative};
use crate::{Penalty, Reduction, Result};

/// The serde name of this penalty.
const NAME: &str = "elastic_net";

/// Configuration of the [`ElasticNet`] penalty. Serde names: `lambda`, `l1_ratio`.
#[derive(Config, Debug)]
pub struct ElasticNetConfig {
    /// The weight λ; finite and `>= 0`. Default 1.0.
    #[config(default = 1.0)]
    pub lambda: f64,
    /// The mixing ratio ρ between the L1 part (ρ = 1: lasso) and the ridge part (ρ = 0);
    /// in `[0, 1]`. Default 0.5.
    #[config(default = 0.5)]
    pub l1_ratio: f64,
}

impl ElasticNetConfig {
    /// One line on what the penalty is, for help texts ([`PenaltyConfig::summary`](crate::PenaltyConfig::summary)).
    pub const SUMMARY: &'static str = "λ (r Σ|x| + (1−r)/2 Σx²), r = l1_ratio: L1 plus ridge";

    /// Validates the config and builds the penalty.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`](crate::Error::InvalidHyperParameter) when `lambda` is
    /// negative or not finite, or `l1_ratio` is outside `[0, 1]` (or NaN).
    pub fn init(&self) -> Result<ElasticNet> {
        non_negative("elastic_net", "lambda", self.lambda)?;
        in_closed(
            "elastic_net",
            "l1_ratio",
            self.l1_ratio,
            (0.0, 1.0),
            "a number in [0, 1]",
        )?;
        Ok(ElasticNet {
            lambda: self.lambda,
            l1_ratio: self.l1_ratio,
        })
    }
}

/// The elastic-net penalty, in scikit-learn's form.
///
/// ```text
/// ElasticNet(x) = λ ( ρ Σᵢ |xᵢ|  +  ½ (1 − ρ) Σᵢ xᵢ² )
/// ```
///
/// Defaults: λ = 1, ρ (`l1_ratio`) = 0.5. ρ = 1 is the L1 penalty, ρ = 0 half the squared
/// L2 norm. At `xᵢ = 0` the gradient is 0 (`sign(0) = 0`); elsewhere
/// `λ (ρ sign(xᵢ) + (1 − ρ) xᵢ)`. Any rank; returns shape `[1]`.
///
/// Range in float32: the gradient is finite for every finite `x`; the value while
/// `½ λ (1 − ρ) Σ xᵢ²` stays below float32's largest number (|x| up to about 1e19 with the
/// defaults), +∞ beyond (the exact value is not representable).
///
/// ```
/// use burn::prelude::*;
/// use sparse_losses::prelude::*;
///
/// let net = ElasticNetConfig::new().with_l1_ratio(0.5).init().unwrap();
/// let x = Tensor::<1>::from_floats([2.0, 0.0], &Device::flex());
/// // 0.5 * 2 + 0.5 * 0.5 * 4 = 2
/// assert_eq!(net.forward(x).unwrap().into_scalar::<f32>(), 2.0);
/// ```
#[derive(Module, Debug)]
pub struct ElasticNet {
    lambda: f64,
    l1_ratio: f64,
}

impl ElasticNet {
    /// The weight λ.
    pub fn lambda(&self) -> f64 {
        self.lambda
    }

    /// The L1 mixing ratio ρ.
    pub fn l1_ratio(&self) -> f64 {
        self.l1_ratio
    }
}

impl Penalty for ElasticNet {
    fn name(&self) -> &'static str {
        NAME
    }

    /// [`Reduction::Sum`]: both terms sum over all elements.
    fn reduction(&self) -> Reduction {
        Reduction::Sum
    }

    fn forward<const D: usize>(&self, x: Tensor<D>) -> Result<Tensor<1>> {
        check_nonempty(&x, NAME)?;
        if let Some(value) = fused_penalty(&x, Kernel::Elementwise { f: Elementwise::ElasticNet { l1_ratio: self.l1_ratio }, scale: self.lambda }) {
            return Ok(value);
        }
        let rho = self.l1_ratio;
        // Only the terms with a nonzero share are computed.
        let value = if rho == 1.0 {
            x.abs().sum()
        } else if rho == 0.0 {
            x.square().sum().mul_scalar(0.5)
        } else {
            let l1 = x.clone().abs().sum().mul_scalar(rho);
            l1 + x.square().sum().mul_scalar(0.5 * (1.0 - rho))
        };
        Ok(value.mul_scalar(self.lambda))
    }
}
