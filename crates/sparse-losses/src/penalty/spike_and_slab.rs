//! Spike-and-slab prior as a penalty (negative log-likelihood of a two-Gaussian mixture).

use burn::config::Config;
use burn::module::Module;
use burn::tensor::Tensor;

use crate::fused::{fused_penalty, mixture_terms, Elementwise, Kernel, MixtureTerms};
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
    /// One line on what the penalty is, for help texts ([`PenaltyConfig::summary`](crate::PenaltyConfig::summary)).
    pub const SUMMARY: &'static str = "−λ Σ log(π N(w; 0, σ_slab²) + (1−π) N(w; 0, σ_spike²)), π = slab_prob: a prior on weights";

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
/// Range in float32: the gradient is finite for every finite `x`; the value is finite while
/// `x² / 2σ_slab²` is (|x| up to about 2.6e19 · σ_slab), and +∞ beyond, where the exact value
/// leaves float32.
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
        // Each weighted log-density as x (x c) + o: finite while it fits in f32 (x² overflows
        // first).
        let MixtureTerms {
            offsets: [o_slab, o_spike],
            halves: [h_slab, h_spike],
        } = mixture_terms(self.slab_prob, self.sigma_spike, self.sigma_slab);
        let quadratic = |c: f64, o: f64| x.clone() * x.clone().mul_scalar(c) + o;
        let slab = quadratic(h_slab, o_slab);
        let spike = quadratic(h_spike, o_spike);
        // Log-sum-exp as hi + log1p(e^−|d|), d = spike − slab as one product (−∞ far out,
        // where slab − spike would be −∞ + ∞): value and gradient exact, no overflow.
        let d = quadratic(h_spike - h_slab, o_spike - o_slab);
        let hi = slab.mask_where(d.clone().greater_elem(0.0), spike);
        let lse = hi + d.abs().neg().exp().log1p();
        Ok(lse.sum().mul_scalar(-self.lambda))
    }
}
