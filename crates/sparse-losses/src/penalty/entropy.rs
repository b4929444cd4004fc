//! Entropy sparsity penalty.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::activation::log_softmax;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::fused::{fused_penalty, Kernel};
use crate::util::{check_nonempty, non_negative, positive, rows};
use crate::{Penalty, Reduction, Result};

/// The serde name of this penalty.
const NAME: &str = "entropy";

/// How [`Entropy`] turns a row into a probability vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum EntropyNormalize {
    /// `pᵢ = |xᵢ| / Σ|x|` (default).
    #[default]
    Abs,
    /// `p = softmax(x / T)`.
    Softmax,
}

/// Configuration of the [`Entropy`] penalty. Serde names: `lambda`, `normalize`
/// (`"abs"`|`"softmax"`), `temperature`.
#[derive(Config, Debug)]
pub struct EntropyConfig {
    /// The weight λ; finite and `>= 0`. Default 1.0.
    #[config(default = 1.0)]
    pub lambda: f64,
    /// How rows become distributions. Default `abs`.
    #[config(default = "EntropyNormalize::Abs")]
    pub normalize: EntropyNormalize,
    /// The softmax temperature T; finite and `> 0` (also checked for `abs`, where it is
    /// unused). Default 1.0.
    #[config(default = 1.0)]
    pub temperature: f64,
}

impl EntropyConfig {
    /// One line on what the penalty is, for help texts ([`PenaltyConfig::summary`](crate::PenaltyConfig::summary)).
    pub const SUMMARY: &'static str = "λ × the entropy of |x| / ‖x‖₁ per row: few large entries";

    /// Validates the config and builds the penalty.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`](crate::Error::InvalidHyperParameter) when `lambda` is
    /// negative or not finite, or `temperature` is not a finite positive number.
    pub fn init(&self) -> Result<Entropy> {
        non_negative("entropy", "lambda", self.lambda)?;
        positive("entropy", "temperature", self.temperature)?;
        Ok(Entropy {
            lambda: self.lambda,
            normalize: self.normalize,
            temperature: self.temperature,
        })
    }
}

/// The entropy penalty: low when each row concentrates its mass on few entries.
///
/// ```text
/// abs:      pᵢ = |xᵢ| / Σⱼ |xⱼ|          softmax:  p = softmax(x / T)
/// H(row) = −Σᵢ pᵢ log pᵢ,  with 0 log 0 = 0
/// Entropy(x) = λ · mean over rows of H
/// ```
///
/// Rows are the last dimension (a rank-1 tensor is one row). Defaults: λ = 1, `abs`, T = 1.
/// A row of zeros gives H = 0 with gradient 0 (`abs`), and an entry with `pᵢ = 0` (an exact
/// zero, or a softmax probability that underflows) contributes 0 to the gradient. With `abs`
/// the penalty is scale-invariant per row. Any rank; returns shape `[1]`.
///
/// ```
/// use burn::prelude::*;
/// use sparse_losses::prelude::*;
///
/// let entropy = EntropyConfig::new().init().unwrap();
/// let device = Device::flex();
/// let one_hot = Tensor::<1>::from_floats([0.0, 3.0, 0.0, 0.0], &device);
/// let uniform = Tensor::<1>::from_floats([1.0, -1.0, 1.0, -1.0], &device);
/// assert_eq!(entropy.forward(one_hot).unwrap().into_scalar::<f32>(), 0.0);
/// let h: f32 = entropy.forward(uniform).unwrap().into_scalar();
/// assert!((h - 4f32.ln()).abs() < 1e-6);
/// ```
#[derive(Module, Debug)]
pub struct Entropy {
    lambda: f64,
    #[module(skip)]
    normalize: EntropyNormalize,
    temperature: f64,
}

impl Entropy {
    /// The weight λ.
    pub fn lambda(&self) -> f64 {
        self.lambda
    }

    /// The normalisation.
    pub fn normalize(&self) -> EntropyNormalize {
        self.normalize
    }

    /// The softmax temperature.
    pub fn temperature(&self) -> f64 {
        self.temperature
    }
}

impl Penalty for Entropy {
    fn name(&self) -> &'static str {
        NAME
    }

    /// [`Reduction::BatchMean`]: the entropy of each row, averaged over the rows.
    fn reduction(&self) -> Reduction {
        Reduction::BatchMean
    }

    fn forward<const D: usize>(&self, x: Tensor<D>) -> Result<Tensor<1>> {
        check_nonempty(&x, NAME)?;
        let softmax = (self.normalize == EntropyNormalize::Softmax).then_some(self.temperature);
        let kernel = Kernel::Entropy {
            lambda: self.lambda,
            softmax,
        };
        if let Some(value) = fused_penalty(&x, kernel) {
            return Ok(value);
        }
        let m = rows(x);
        let plogp = match self.normalize {
            EntropyNormalize::Abs => {
                // p is the same for |x| and c|x|: each row is first divided by its largest
                // |x| (detached, so value and gradient are unchanged), so that the division's
                // gradient −a/total² stays finite for rows of tiny values (1e-30).
                let a = m.abs();
                let largest = a.clone().max_dim(1).detach();
                let a = a / largest.clone().mask_fill(largest.equal_elem(0.0), 1.0);
                let total = a.clone().sum_dim(1);
                let total = total.clone().mask_fill(total.equal_elem(0.0), 1.0);
                let p = a / total;
                // 0 log 0 = 0, with zero gradient: take log(1) where p = 0.
                let log_p = p.clone().mask_fill(p.clone().equal_elem(0.0), 1.0).log();
                p * log_p
            }
            EntropyNormalize::Softmax => {
                let log_p = log_softmax(m.div_scalar(self.temperature), 1);
                log_p.clone().exp() * log_p
            }
        };
        let h = plogp.sum_dim(1).neg(); // [rows, 1]
        Ok(h.mean().mul_scalar(self.lambda))
    }
}
