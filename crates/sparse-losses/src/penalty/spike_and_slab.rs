//! Spike-and-slab prior as a penalty (negative log-likelihood of a two-Gaussian mixture).

use burn::config::Config;
use burn::module::Module;
use burn::tensor::Tensor;

use crate::fused::{fused_penalty, Elementwise, Kernel};
use crate::util::{check_nonempty, in_open, non_negative, positive};
use crate::{Error, Penalty, Reduction, Result};

/// The serde name of this penalty.
const NAME: &str = "spike_and_slab";

/// Configuration of the [`SpikeAndSlab`] penalty. Serde names: `lambda`, `slab_prob`,
/// `sigma_spike`, `sigma_slab`.
#[derive(Config, Debug)]
pub struct SpikeAndSlabConfig {
    /// The weight λ; finite and `>= 0`. Default 1.0.
    #[config(default = 1.0)]
    pub lambda: f64,
    /// π, the prior probability of the slab; in `(0, 1)`. Default 0.5.
    #[config(default = 0.5)]
    pub slab_prob: f64,
    /// σ_spike, the standard deviation of the narrow component; `> 0` and `< sigma_slab`.
    /// Default 0.01.
    #[config(default = 0.01)]
    pub sigma_spike: f64,
    /// σ_slab, the standard deviation of the wide component; finite and `> sigma_spike`.
    /// Default 1.0.
    #[config(default = 1.0)]
    pub sigma_slab: f64,
}

impl SpikeAndSlabConfig {
    /// Validates the config and builds the penalty.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`] when `lambda` is negative or not finite,
    /// `slab_prob` is outside `(0, 1)`, or a σ is not a finite positive number;
    /// [`Error::SigmaOrder`] when `sigma_spike >= sigma_slab`.
    pub fn init(&self) -> Result<SpikeAndSlab> {
        non_negative("spike_and_slab", "lambda", self.lambda)?;
        in_open(
            "spike_and_slab",
            "slab_prob",
            self.slab_prob,
            (0.0, 1.0),
            "a number in (0, 1)",
        )?;
        positive("spike_and_slab", "sigma_spike", self.sigma_spike)?;
        positive("spike_and_slab", "sigma_slab", self.sigma_slab)?;
        if self.sigma_spike >= self.sigma_slab {
            return Err(Error::SigmaOrder {
                spike: self.sigma_spike,
                slab: self.sigma_slab,
            });
        }
        Ok(SpikeAndSlab {
            lambda: self.lambda,
            slab_prob: self.slab_prob,
            sigma_spike: self.sigma_spike,
            sigma_slab: self.sigma_slab,
        })
    }
}

/// The spike-and-slab prior as a penalty: the negative log-density of each element under a
/// mixture of a narrow Gaussian (the spike, near-zero weights) and a wide one (the slab).
///
/// ```text
/// SpikeAndSlab(x) = −λ Σᵢ log( π N(xᵢ; 0, σ_slab²) + (1 − π) N(xᵢ; 0, σ_spike²) )
/// N(x; 0, σ²) = exp(−x² / 2σ²) / (σ √(2π))
/// ```
///
/// Defaults: λ = 1, π (`slab_prob`) = 0.5, σ_spike = 0.01, σ_slab = 1. Computed in log space
/// (log-sum-exp of the two log-densities), so elements far in the tail of the spike neither
/// underflow nor lose their gradient. Smooth everywhere: the gradient at 0 is 0. The value
/// can be negative (densities exceed 1 near 0). Any rank; returns shape `[1]`.
///
/// Range in float32: value and gradient are finite while `x²` is (|x| up to about 1.8e19);
/// beyond, the value is +∞ and the gradient NaN (both Gaussians' log-densities are −∞).
///
/// ```
/// use burn::prelude::*;
/// use sparse_losses::prelude::*;
///
/// let prior = SpikeAndSlabConfig::new().init().unwrap();
/// let device = Device::flex();
/// let near_zero = prior.forward(Tensor::<1>::from_floats([0.001], &device)).unwrap();
/// let large = prior.forward(Tensor::<1>::from_floats([0.5], &device)).unwrap();
/// // Small weights are cheap, large ones pay the slab's price.
/// assert!(near_zero.into_scalar::<f32>() < large.into_scalar::<f32>());
/// ```
#[derive(Module, Debug)]
pub struct SpikeAndSlab {
    lambda: f64,
    slab_prob: f64,
    sigma_spike: f64,
    sigma_slab: f64,
}

impl SpikeAndSlab {
    /// The weight λ.
    pub fn lambda(&self) -> f64 {
        self.lambda
    }

    /// π, the slab probability.
    pub fn slab_prob(&self) -> f64 {
        self.slab_prob
    }

    /// σ_spike.
    pub fn sigma_spike(&self) -> f64 {
        self.sigma_spike
    }

    /// σ_slab.
    pub fn sigma_slab(&self) -> f64 {
        self.sigma_slab
    }
}

impl Penalty for SpikeAndSlab {
    fn name(&self) -> &'static str {
        NAME
    }

    /// [`Reduction::Sum`]: the negative log-density summed over all elements.
    fn reduction(&self) -> Reduction {
        Reduction::Sum
    }

    fn forward<const D: usize>(&self, x: Tensor<D>) -> Result<Tensor<1>> {
        check_nonempty(&x, NAME)?;
        if let Some(value) = fused_penalty(&x, Kernel::Elementwise { f: Elementwise::SpikeAndSlab { slab_prob: self.slab_prob, sigma_spike: self.sigma_spike, sigma_slab: self.sigma_slab }, scale: self.lambda }) {
            return Ok(value);
        }
        let half_log_2pi = 0.5 * (2.0 * std::f64::consts::PI).ln();
        // log(π N(x; 0, σ²)) = log π − log σ − ½ log 2π − x² / 2σ²
        let log_weighted = |sq: Tensor<D>, weight: f64, sigma: f64| {
            sq.mul_scalar(-0.5 / (sigma * sigma))
                .add_scalar(weight.ln() - sigma.ln() - half_log_2pi)
        };
        let sq = x.square();
        let slab = log_weighted(sq.clone(), self.slab_prob, self.sigma_slab);
        let spike = log_weighted(sq, 1.0 - self.slab_prob, self.sigma_spike);
        // log-sum-exp with a detached shift: exact value and gradient, no overflow.
        let shift = slab.clone().max_pair(spike.clone()).detach();
        let lse = ((slab - shift.clone()).exp() + (spike - shift.clone()).exp()).log() + shift;
        Ok(lse.sum().mul_scalar(-self.lambda))
    }
}
