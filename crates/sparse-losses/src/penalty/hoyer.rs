//! Hoyer and Hoyer-Square sparsity penalties.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::Tensor;

use crate::fused::{fused_penalty, Kernel};
use crate::util::{check_nonempty, non_negative, rows, safe_div};
use crate::{Penalty, Reduction, Result};

/// The serde name of this penalty.
const NAME: &str = "hoyer";

/// Configuration of the [`Hoyer`] penalty. Serde names: `lambda`, `squared`, `per_row`.
#[derive(Config, Debug)]
pub struct HoyerConfig {
    /// The weight λ; finite and `>= 0`. Default 1.0.
    #[config(default = 1.0)]
    pub lambda: f64,
    /// Use the Hoyer-Square form `‖v‖₁² / ‖v‖₂²` (Yang et al., 2020). Default false.
    #[config(default = false)]
    pub squared: bool,
    /// Apply to each row (last dimension) and average over rows, instead of to the whole
    /// tensor. Default false.
    #[config(default = false)]
    pub per_row: bool,
}

impl HoyerConfig {
    /// One line on what the penalty is, for help texts ([`PenaltyConfig::summary`](crate::PenaltyConfig::summary)).
    pub const SUMMARY: &'static str = "λ ‖x‖₁/‖x‖₂ (squared: its square), per row or over the tensor";

    /// Validates the config and builds the penalty.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`](crate::Error::InvalidHyperParameter) when `lambda` is
    /// negative or not finite.
    pub fn init(&self) -> Result<Hoyer> {
        non_negative("hoyer", "lambda", self.lambda)?;
        Ok(Hoyer {
            lambda: self.lambda,
            squared: self.squared,
            per_row: self.per_row,
        })
    }
}

/// The Hoyer penalty, a scale-invariant sparsity penalty, and its Hoyer-Square variant.
///
/// ```text
/// Hoyer(v)        = λ ‖v‖₁ / ‖v‖₂
/// Hoyer-Square(v) = λ ‖v‖₁² / ‖v‖₂²          (squared = true)
/// ```
///
/// `v` is the whole tensor, or with `per_row` each row (last dimension), the results averaged
/// over all rows (zero rows included, contributing 0). Defaults: λ = 1, `squared` = false,
/// `per_row` = false. A zero vector gives 0 with gradient 0; a zero entry of a nonzero vector
/// gets the `sign(0) = 0` subgradient of the L1 part. `Hoyer(c·v) = Hoyer(v)` for every
/// `c ≠ 0`. Any rank; returns shape `[1]`.
///
/// ```
/// use burn::prelude::*;
/// use sparse_losses::prelude::*;
///
/// let hoyer = HoyerConfig::new().with_squared(true).init().unwrap();
/// let v = Tensor::<1>::from_floats([1.0, 1.0, 0.0, 0.0], &Device::flex());
/// // (1 + 1)² / (1 + 1) = 2: the number of equal nonzeros.
/// assert!((hoyer.forward(v).unwrap().into_scalar::<f32>() - 2.0).abs() < 1e-6);
/// ```
#[derive(Module, Debug)]
pub struct Hoyer {
    lambda: f64,
    squared: bool,
    per_row: bool,
}

impl Hoyer {
    /// The weight λ.
    pub fn lambda(&self) -> f64 {
        self.lambda
    }

    /// Whether this is the Hoyer-Square variant.
    pub fn squared(&self) -> bool {
        self.squared
    }

    /// Whether the ratio is taken per row.
    pub fn per_row(&self) -> bool {
        self.per_row
    }
}

impl Penalty for Hoyer {
    fn name(&self) -> &'static str {
        NAME
    }

    /// [`Reduction::BatchMean`] with `per_row` (the ratio of each row, averaged over the
    /// rows), [`Reduction::Batch`] without (one ratio for the whole tensor).
    fn reduction(&self) -> Reduction {
        if self.per_row {
            Reduction::BatchMean
        } else {
            Reduction::Batch
        }
    }

    fn forward<const D: usize>(&self, x: Tensor<D>) -> Result<Tensor<1>> {
        check_nonempty(&x, NAME)?;
        let n = x.dims().iter().product::<usize>();
        let row = if self.per_row { x.dims()[D - 1] } else { n };
        let kernel = Kernel::Hoyer {
            lambda: self.lambda,
            squared: self.squared,
            row,
        };
        if let Some(value) = fused_penalty(&x, kernel) {
            return Ok(value);
        }
        let m = if self.per_row {
            rows(x)
        } else {
            let n = x.dims().iter().product::<usize>();
            x.reshape([1, n])
        };
        // The ratio is scale-invariant and its gradient homogeneous of degree −1, so dividing
        // each row by its (detached) largest magnitude changes neither value nor gradient; it
        // keeps the squares of tiny or huge entries inside float32's range.
        let scale = m.clone().abs().max_dim(1).detach();
        let scale = scale.clone().mask_fill(scale.equal_elem(0.0), 1.0);
        let m = m / scale;
        let l1 = m.clone().abs().sum_dim(1); // [rows, 1]
        let sq = m.square().sum_dim(1); // [rows, 1]
        let ratio = if self.squared {
            safe_div(l1.square(), sq)
        } else {
            safe_div(l1, crate::util::safe_sqrt(sq))
        };
        Ok(ratio.mean().mul_scalar(self.lambda))
    }
}
