//! KL-divergence sparsity penalty (the sparse autoencoder's classic target-activation penalty).

use burn::config::Config;
use burn::module::Module;
use burn::tensor::Tensor;

use crate::fused::{fused_penalty, Kernel};
use crate::util::{check_nonempty, in_open, non_negative, rows};
use crate::{Penalty, Reduction, Result};

/// The serde name of this penalty.
const NAME: &str = "kl_sparsity";

/// Configuration of the [`KlSparsity`] penalty. Serde names: `target`, `beta`, `eps`.
#[derive(Config, Debug)]
pub struct KlSparsityConfig {
    /// The target mean activation ρ; in `(0, 1)`. Default 0.05.
    #[config(default = 0.05)]
    pub target: f64,
    /// The weight β; finite and `>= 0`. Default 1.0.
    #[config(default = 1.0)]
    pub beta: f64,
    /// The clamp ε applied to the mean activations ρ̂ (to `[ε, 1 − ε]`); in `(0, 0.5)`.
    /// Default 1e-6.
    #[config(default = 1e-6)]
    pub eps: f64,
}

impl KlSparsityConfig {
    /// One line on what the penalty is, for help texts ([`PenaltyConfig::summary`](crate::PenaltyConfig::summary)).
    pub const SUMMARY: &'static str = "beta Σ_j KL(ρ ‖ ρ̂_j) on the mean activations ρ̂ (target ρ): sigmoid latents";

    /// Validates the config and builds the penalty.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`](crate::Error::InvalidHyperParameter) when `target` is
    /// outside `(0, 1)`, `beta` is negative or not finite, or `eps` is outside `(0, 0.5)`.
    pub fn init(&self) -> Result<KlSparsity> {
        in_open(
            "kl_sparsity",
            "target",
            self.target,
            (0.0, 1.0),
            "a number in (0, 1)",
        )?;
        non_negative("kl_sparsity", "beta", self.beta)?;
        in_open(
            "kl_sparsity",
            "eps",
            self.eps,
            (0.0, 0.5),
            "a number in (0, 0.5)",
        )?;
        Ok(KlSparsity {
            target: self.target,
            beta: self.beta,
            eps: self.eps,
        })
    }
}

/// The KL sparsity penalty: the Kullback–Leibler divergence between a Bernoulli(ρ) target and
/// the mean activation of each unit.
///
/// ```text
/// ρ̂_j = clamp( mean of column j over all rows, ε, 1 − ε )
/// KL(x) = β Σ_j [ ρ log(ρ / ρ̂_j) + (1 − ρ) log((1 − ρ) / (1 − ρ̂_j)) ]
/// ```
///
/// Columns are the last dimension; every leading dimension counts as rows (a rank-1 tensor is
/// one row). Defaults: ρ (`target`) = 0.05, β = 1, ε = 1e-6. Activations are expected in
/// `[0, 1]` (e.g. after a sigmoid); values outside are clamped through ρ̂. Where ρ̂_j is clamped,
/// the gradient with respect to column j is 0. Any rank; returns shape `[1]`.
///
/// ```
/// use burn::prelude::*;
/// use sparse_losses::prelude::*;
///
/// let kl = KlSparsityConfig::new().with_target(0.5).init().unwrap();
/// // Every column already has mean 0.5: no penalty.
/// let h = Tensor::<2>::from_floats([[0.2, 0.9], [0.8, 0.1]], &Device::flex());
/// assert!(kl.forward(h).unwrap().into_scalar::<f32>().abs() < 1e-6);
/// ```
#[derive(Module, Debug)]
pub struct KlSparsity {
    target: f64,
    beta: f64,
    eps: f64,
}

impl KlSparsity {
    /// The target activation ρ.
    pub fn target(&self) -> f64 {
        self.target
    }

    /// The weight β.
    pub fn beta(&self) -> f64 {
        self.beta
    }

    /// The clamp ε.
    pub fn eps(&self) -> f64 {
        self.eps
    }
}

impl Penalty for KlSparsity {
    fn name(&self) -> &'static str {
        NAME
    }

    /// [`Reduction::Batch`]: a divergence of the batch-mean activations, which does not grow
    /// with the batch.
    fn reduction(&self) -> Reduction {
        Reduction::Batch
    }

    fn forward<const D: usize>(&self, x: Tensor<D>) -> Result<Tensor<1>> {
        check_nonempty(&x, NAME)?;
        let kernel = Kernel::Kl {
            target: self.target,
            beta: self.beta,
            eps: self.eps,
        };
        if let Some(value) = fused_penalty(&x, kernel) {
            return Ok(value);
        }
        let (rho, eps) = (self.target, self.eps);
        let mean = rows(x).mean_dim(0); // [1, cols]
        let low = mean.clone().lower_elem(eps);
        let high = mean.clone().greater_elem(1.0 - eps);
        // Clamp by masking, so that the gradient is exactly 0 where the clamp is active.
        // 1 − ρ̂ is formed from the unclamped mean and clamped on its own: at the upper clamp it
        // is exactly ε, where `1 − (1 − ε)` in float32 would be off by about 1 %.
        let one_minus = mean
            .clone()
            .neg()
            .add_scalar(1.0)
            .mask_fill(high.clone(), eps)
            .mask_fill(low.clone(), 1.0 - eps);
        let rho_hat = mean.mask_fill(low, eps).mask_fill(high, 1.0 - eps);
        // ρ log ρ + (1 − ρ) log(1 − ρ), summed over the columns, is a constant.
        let cols = rho_hat.dims()[1] as f64;
        let constant = cols * (rho * rho.ln() + (1.0 - rho) * (1.0 - rho).ln());
        let cross = rho_hat.log().mul_scalar(rho) + one_minus.log().mul_scalar(1.0 - rho);
        Ok(cross.sum().neg().add_scalar(constant).mul_scalar(self.beta))
    }
}
