//! L1 (lasso) penalty.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::Tensor;

use crate::fused::{fused_penalty, Elementwise, Kernel};
use crate::util::{check_nonempty, non_negative};
use crate::{Penalty, Reduction, Result};

/// The serde name of this penalty.
const NAME: &str = "l1";

/// The reductions [`L1`] supports.
const REDUCTIONS: &[Reduction] = &[Reduction::Sum, Reduction::Mean];

/// Configuration of the [`L1`] penalty. Serde names: `lambda`, `reduction` (`"sum"`|`"mean"`).
#[derive(Config, Debug)]
pub struct L1Config {
    /// The weight λ; finite and `>= 0`. Default 1.0.
    #[config(default = 1.0)]
    pub lambda: f64,
    /// `sum` (default, `λ Σ|x|`) or `mean` over all elements (`λ Σ|x| / n`); any other
    /// [`Reduction`] is refused by [`init`](Self::init).
    #[config(default = "Reduction::Sum")]
    pub reduction: Reduction,
}

impl L1Config {
    /// One line on what the penalty is, for help texts ([`PenaltyConfig::summary`](crate::PenaltyConfig::summary)).
    pub const SUMMARY: &'static str = "λ Σ|x|: the lasso (field lambda; reduction sum or mean)";

    /// Validates the config and builds the penalty.
    ///
    /// # Errors
    /// [`Error::InvalidReduction`](crate::Error::InvalidReduction) for a reduction other than `sum`
    /// and `mean`; [`Error::InvalidHyperParameter`](crate::Error::InvalidHyperParameter) when
    /// `lambda` is negative, NaN or infinite.
    pub fn init(&self) -> Result<L1> {
        let reduction = self.reduction.check(NAME, REDUCTIONS)?;
        non_negative(NAME, "lambda", self.lambda)?;
        Ok(L1 {
            lambda: self.lambda,
            reduction,
        })
    }
}

/// The L1 penalty (lasso).
///
/// ```text
/// reduction = sum:   L1(x) = λ Σᵢ |xᵢ|
/// reduction = mean:  L1(x) = λ Σᵢ |xᵢ| / n
/// ```
///
/// Defaults: λ = 1, `sum`. At `xᵢ = 0` the gradient is 0 (the minimum-norm subgradient,
/// `sign(0) = 0`); elsewhere it is `λ sign(xᵢ)` (divided by n for `mean`).
/// Works on tensors of any rank and returns a tensor of shape `[1]`.
///
/// ```
/// use burn::prelude::*;
/// use sparse_losses::prelude::*;
///
/// let device = Device::flex();
/// let l1 = L1Config::new().with_lambda(0.5).init().unwrap();
/// let x = Tensor::<2>::from_floats([[1.0, -2.0], [0.0, 3.0]], &device);
/// let value: f32 = l1.forward(x).unwrap().into_scalar();
/// assert_eq!(value, 3.0);
/// ```
#[derive(Module, Debug)]
pub struct L1 {
    lambda: f64,
    #[module(skip)]
    reduction: Reduction,
}

impl L1 {
    /// The weight λ.
    pub fn lambda(&self) -> f64 {
        self.lambda
    }
}

impl Penalty for L1 {
    fn name(&self) -> &'static str {
        NAME
    }

    /// [`Reduction::Sum`] (`λ Σ|x|`) or [`Reduction::Mean`] (`λ Σ|x| / n`), as configured.
    fn reduction(&self) -> Reduction {
        self.reduction
    }

    fn forward<const D: usize>(&self, x: Tensor<D>) -> Result<Tensor<1>> {
        check_nonempty(&x, NAME)?;
        let scale = match self.reduction {
            Reduction::Mean => self.lambda / x.dims().iter().product::<usize>() as f64,
            // `init` admits only `sum` and `mean`.
            _ => self.lambda,
        };
        let kernel = Kernel::Elementwise {
            f: Elementwise::Abs,
            scale,
        };
        if let Some(value) = fused_penalty(&x, kernel) {
            return Ok(value);
        }
        Ok(x.abs().sum().mul_scalar(scale))
    }
}
