//! The JumpReLU activation with a learned threshold per latent (Rajamanoharan et al. 2024).

use burn::config::Config;
use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor};

use crate::ops::jump_relu::{jump_relu, jump_step};
use crate::util::{check_nonempty, positive, require};
use crate::Error;

/// The item name in errors.
const NAME: &str = "jumprelu";

/// Configuration of a [`JumpRelu`] activation.
#[derive(Config, Debug)]
pub struct JumpReluConfig {
    /// The number of latents h (the last dimension of the pre-activations), `>= 1`: one
    /// threshold each.
    pub d_latent: usize,
    /// The bandwidth ε of the rectangle kernel in the pseudo-derivatives, finite and `> 0`.
    /// Default 1e-3 (Rajamanoharan et al. use 1e-3 for inputs normalised to unit mean
    /// squared norm).
    #[config(default = 1e-3)]
    pub bandwidth: f64,
    /// The initial threshold θ of every latent (`log_threshold` starts at `ln θ`), finite and
    /// `> 0`. Default 1e-3, as in Rajamanoharan et al.
    #[config(default = 1e-3)]
    pub threshold_init: f64,
}

impl JumpReluConfig {
    /// Checks every hyper-parameter.
    fn validate(&self) -> crate::Result<()> {
        let d = self.d_latent;
        require(d >= 1, NAME, "d_latent", d as f64, "an integer >= 1")?;
        positive(NAME, "bandwidth", self.bandwidth)?;
        positive(NAME, "threshold_init", self.threshold_init)
    }

    /// Validates the config and builds the activation on `device`, every threshold at
    /// `threshold_init`.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`] for `d_latent = 0`, a bandwidth that is not finite
    /// and `> 0`, or a `threshold_init` that is not finite and `> 0`.
    pub fn init(&self, device: &Device) -> crate::Result<JumpRelu> {
        self.validate()?;
        let log_threshold = Tensor::<1>::full([self.d_latent], self.threshold_init.ln(), device);
        Ok(JumpRelu {
            log_threshold: Param::from_tensor(log_threshold),
            bandwidth: self.bandwidth,
        })
    }

    /// Validates the config and builds the activation with the given `log_threshold` (`[h]`,
    /// `h = d_latent`; `threshold_init` is not used). The tensor becomes the module's
    /// parameter, so its gradient can be read with `log_threshold.grad(&grads)`.
    ///
    /// # Errors
    /// As [`init`](Self::init), and [`Error::ShapeMismatch`] when `log_threshold` does not
    /// have `d_latent` entries.
    pub fn init_with(&self, log_threshold: Tensor<1>) -> crate::Result<JumpRelu> {
        self.validate()?;
        if log_threshold.dims() != [self.d_latent] {
            return Err(Error::ShapeMismatch {
                what: "jumprelu: log_threshold and d_latent",
                left: log_threshold.dims().to_vec(),
                right: vec![self.d_latent],
            });
        }
        Ok(JumpRelu {
            log_threshold: Param::from_tensor(log_threshold),
            bandwidth: self.bandwidth,
        })
    }
}

/// The JumpReLU activation with one learned threshold per latent (Rajamanoharan et al. 2024,
/// "Jumping Ahead"), and its L0 sparsity term.
///
/// ```text
/// θ = exp(log_threshold)                       one per latent (last dimension of z)
/// y = z · 1[z > θ]
/// ∂y/∂z = 1[z > θ],   ∂y/∂θ = −(θ/ε) K((z − θ)/ε),   K(u) = 1[−½ < u < ½]   (ε = bandwidth)
/// L0 = mean over rows of Σ_j 1[z_bj > θ_j]
/// ∂L0/∂z = 0,          ∂L0/∂θ_j = −(1/(Bε)) Σ_b K((z_bj − θ_j)/ε)
/// ```
///
/// The gradient reaching `log_threshold` is the θ-gradient times θ, summed over the rows
/// (B = the number of rows: all leading dimensions; a rank-1 `z` is one row). Both
/// pseudo-derivatives are a custom autodiff operation ([`jump_relu`], [`jump_step`]), so an
/// optimizer moves the thresholds; on a device without autodiff the calls compute the forward
/// alone.
///
/// ```
/// use burn::prelude::*;
/// use sparse_losses::activation::JumpReluConfig;
///
/// let device = Device::flex().autodiff();
/// let jump = JumpReluConfig::new(3).with_threshold_init(0.5).init(&device).unwrap();
/// let z = Tensor::<2>::from_floats([[0.2, 0.9, 0.5004], [1.0, -1.0, 0.6]], &device)
///     .require_grad();
/// let y = jump.forward(z.clone()).unwrap();
/// let v: Vec<f32> = y.clone().into_data().try_into_vec().unwrap();
/// assert_eq!(v, [0.0, 0.9, 0.5004, 1.0, 0.0, 0.6]);
/// // L0: 2 active latents in each row.
/// let l0 = jump.l0(z.clone()).unwrap();
/// assert_eq!(l0.clone().into_scalar::<f32>(), 2.0);
/// // Only z = 0.5004 lies in the window |z − θ| < ε/2 (ε = 1e-3) of its threshold, so only
/// // that latent's threshold gets a gradient: −(1/(Bε)) · θ = −(1/(2e-3)) · 0.5 = −250.
/// let grads = l0.backward();
/// let g = jump.log_threshold.val().grad(&grads).unwrap();
/// let g: Vec<f32> = g.into_data().try_into_vec().unwrap();
/// assert!(g[0] == 0.0 && g[1] == 0.0 && (g[2] + 250.0).abs() < 1e-2);
/// ```
#[derive(Module, Debug)]
pub struct JumpRelu {
    /// `ln θ`, one per latent, `[h]`.
    pub log_threshold: Param<Tensor<1>>,
    bandwidth: f64,
}

impl JumpRelu {
    /// The kernel bandwidth ε.
    pub fn bandwidth(&self) -> f64 {
        self.bandwidth
    }

    /// The number of latents h.
    pub fn d_latent(&self) -> usize {
        self.log_threshold.val().dims()[0]
    }

    /// The thresholds `θ = exp(log_threshold)`, `[h]` (differentiable in `log_threshold`).
    pub fn threshold(&self) -> Tensor<1> {
        self.log_threshold.val().exp()
    }

    /// Checks `z` and returns θ expanded to its shape.
    fn expanded_threshold<const D: usize>(&self, z: &Tensor<D>) -> crate::Result<Tensor<D>> {
        check_nonempty(z, NAME)?;
        let dims = z.dims();
        let h = self.d_latent();
        if dims[D - 1] != h {
            return Err(Error::ShapeMismatch {
                what: "jumprelu: the last dimension of z and the thresholds",
                left: dims.to_vec(),
                right: vec![h],
            });
        }
        let mut theta_dims = [1usize; D];
        theta_dims[D - 1] = h;
        Ok(self.threshold().reshape(theta_dims).expand(dims))
    }

    /// `y = z · 1[z > θ]` with the pseudo-derivatives of the type's docs; z has h entries in
    /// its last dimension, any rank.
    ///
    /// # Errors
    /// [`Error::EmptyInput`] on an empty `z`, [`Error::ShapeMismatch`] when the last
    /// dimension of `z` is not `d_latent`.
    pub fn forward<const D: usize>(&self, z: Tensor<D>) -> crate::Result<Tensor<D>> {
        let theta = self.expanded_threshold(&z)?;
        Ok(jump_relu(z, theta, self.bandwidth))
    }

    /// The L0 term `mean over rows of Σ_j 1[z_bj > θ_j]`, shape `[1]`: no gradient to z,
    /// the rectangle-kernel pseudo-derivative to the thresholds.
    ///
    /// # Errors
    /// As [`forward`](Self::forward).
    pub fn l0<const D: usize>(&self, z: Tensor<D>) -> crate::Result<Tensor<1>> {
        let theta = self.expanded_threshold(&z)?;
        let dims = z.dims();
        let rows: usize = dims[..D - 1].iter().product();
        Ok(jump_step(z, theta, self.bandwidth)
            .sum()
            .div_scalar(rows as f64))
    }
}
