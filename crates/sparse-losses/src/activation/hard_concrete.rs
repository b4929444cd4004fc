//! Hard-concrete L0 gates (Louizos, Welling & Kingma 2018).

use burn::config::Config;
use burn::module::{Module, Param};
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Distribution, Tensor};

use crate::util::{check_nonempty, positive, require};
use crate::Error;

/// The item name in errors.
const NAME: &str = "hard_concrete";

/// Configuration of [`HardConcrete`] gates.
#[derive(Config, Debug)]
pub struct HardConcreteConfig {
    /// The number of gates (one `log_alpha` each), `>= 1`.
    pub d_gates: usize,
    /// The temperature β of the concrete distribution, finite and `> 0`. Default 2/3.
    #[config(default = "2.0 / 3.0")]
    pub beta: f64,
    /// The left end γ of the stretched interval, finite and `< 0`. Default −0.1.
    #[config(default = "-0.1")]
    pub gamma: f64,
    /// The right end ζ of the stretched interval, finite and `> 1`. Default 1.1.
    #[config(default = 1.1)]
    pub zeta: f64,
    /// The initial `log_alpha` of every gate, finite. Default 0 (Louizos et al.'s drop rate
    /// 0.5, `log α = ln(1 − 0.5) − ln 0.5`, without their N(0, 0.01²) jitter): the test-time
    /// gate starts at 0.5 and the probability of a nonzero gate at σ(−β ln(−γ/ζ)) ≈ 0.83.
    #[config(default = 0.0)]
    pub log_alpha_init: f64,
    /// The noise of [`HardConcrete::sample_gate`] is drawn from `U(eps, 1 − eps)`, so that
    /// `log u` and `log(1 − u)` stay finite; in `(0, 0.5)`. Default 1e-6.
    #[config(default = 1e-6)]
    pub eps: f64,
}

impl HardConcreteConfig {
    /// Checks every hyper-parameter.
    fn validate(&self) -> crate::Result<()> {
        let d = self.d_gates;
        require(d >= 1, NAME, "d_gates", d as f64, "an integer >= 1")?;
        positive(NAME, "beta", self.beta)?;
        let g = self.gamma;
        require(
            g.is_finite() && g < 0.0,
            NAME,
            "gamma",
            g,
            "a finite number < 0",
        )?;
        let z = self.zeta;
        require(
            z.is_finite() && z > 1.0,
            NAME,
            "zeta",
            z,
            "a finite number > 1",
        )?;
        let l = self.log_alpha_init;
        require(l.is_finite(), NAME, "log_alpha_init", l, "a finite number")?;
        let e = self.eps;
        require(e > 0.0 && e < 0.5, NAME, "eps", e, "a number in (0, 0.5)")
    }

    /// Validates the config and builds the gates on `device`, every `log_alpha` at
    /// `log_alpha_init`.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`] for `d_gates = 0`, β not finite and `> 0`, γ not
    /// finite and `< 0`, ζ not finite and `> 1`, a non-finite `log_alpha_init`, or `eps`
    /// outside `(0, 0.5)`.
    pub fn init(&self, device: &Device) -> crate::Result<HardConcrete> {
        self.validate()?;
        let log_alpha = Tensor::<1>::full([self.d_gates], self.log_alpha_init, device);
        Ok(self.build(log_alpha))
    }

    /// Validates the config and builds the gates with the given `log_alpha` (`[d_gates]`;
    /// `log_alpha_init` is not used). The tensor becomes the module's parameter, so its
    /// gradient can be read with `log_alpha.grad(&grads)`.
    ///
    /// # Errors
    /// As [`init`](Self::init), and [`Error::ShapeMismatch`] when `log_alpha` does not have
    /// `d_gates` entries.
    pub fn init_with(&self, log_alpha: Tensor<1>) -> crate::Result<HardConcrete> {
        self.validate()?;
        if log_alpha.dims() != [self.d_gates] {
            return Err(Error::ShapeMismatch {
                what: "hard_concrete: log_alpha and d_gates",
                left: log_alpha.dims().to_vec(),
                right: vec![self.d_gates],
            });
        }
        Ok(self.build(log_alpha))
    }

    fn build(&self, log_alpha: Tensor<1>) -> HardConcrete {
        HardConcrete {
            log_alpha: Param::from_tensor(log_alpha),
            beta: self.beta,
            gamma: self.gamma,
            zeta: self.zeta,
            eps: self.eps,
        }
    }
}

/// Hard-concrete gates for L0 regularisation (Louizos, Welling & Kingma 2018), one learned
/// `log_alpha` per gate.
///
/// ```text
/// training gate, noise u ∈ (0, 1):  s = σ((log u − log(1 − u) + log α) / β)
///                                   g = clamp(s (ζ − γ) + γ, 0, 1)
/// expected L0 (P(g ≠ 0) summed):    Σ σ(log α − β log(−γ/ζ))
/// test-time gate:                   clamp(σ(log α)(ζ − γ) + γ, 0, 1)
/// ```
///
/// Defaults β = 2/3, γ = −0.1, ζ = 1.1. Gradients are the true derivatives with respect to
/// `log_alpha` (the noise is a constant: the reparameterisation trick); the clamp passes a
/// gradient of 0 outside the open interval `(0, 1)`, so a gate that is exactly 0 or 1 gets
/// none. Gates multiply whatever they switch off, e.g. `weight * gate` or `codes * gate`, and
/// `λ · expected_l0()` joins the loss.
///
/// ```
/// use burn::prelude::*;
/// use sparse_losses::activation::HardConcreteConfig;
///
/// let device = Device::flex().autodiff();
/// let gates = HardConcreteConfig::new(3).init(&device).unwrap();
/// // log α = 0 and u = ½: s = ½, g = ½ (ζ − γ) + γ = 0.5.
/// let u = Tensor::<1>::from_floats([0.5, 0.5, 0.5], &device);
/// let g: Vec<f32> = gates.gate(u).unwrap().into_data().try_into_vec().unwrap();
/// assert!(g.iter().all(|&g| (g - 0.5).abs() < 1e-6));
/// // Sampled training gates lie in [0, 1]; the test-time gate of log α = 0 is 0.5.
/// let sampled = gates.sample_gate([4, 3]).unwrap();
/// let s: Vec<f32> = sampled.into_data().try_into_vec().unwrap();
/// assert!(s.iter().all(|&g| (0.0..=1.0).contains(&g)));
/// let t: Vec<f32> = gates.test_gate().into_data().try_into_vec().unwrap();
/// assert!(t.iter().all(|&g| (g - 0.5).abs() < 1e-6));
/// // The expected number of open gates: 3 σ(−β ln(−γ/ζ)) ≈ 3 · 0.8318.
/// let l0 = gates.expected_l0();
/// assert!((l0.clone().into_scalar::<f32>() - 2.4955).abs() < 1e-3);
/// // Its gradient pushes log α down (closing the gates) under gradient descent.
/// let grads = l0.backward();
/// let d = gates.log_alpha.val().grad(&grads).unwrap();
/// let d: Vec<f32> = d.into_data().try_into_vec().unwrap();
/// assert!(d.iter().all(|&d| d > 0.0));
/// ```
#[derive(Module, Debug)]
pub struct HardConcrete {
    /// `log α`, one per gate, `[d_gates]`.
    pub log_alpha: Param<Tensor<1>>,
    beta: f64,
    gamma: f64,
    zeta: f64,
    eps: f64,
}

impl HardConcrete {
    /// The number of gates.
    pub fn d_gates(&self) -> usize {
        self.log_alpha.val().dims()[0]
    }

    /// `(β, γ, ζ)`.
    pub fn params(&self) -> (f64, f64, f64) {
        (self.beta, self.gamma, self.zeta)
    }

    /// `log α` reshaped to broadcast against a tensor of shape `dims` whose last dimension
    /// is `d_gates`.
    fn log_alpha_like<const D: usize>(&self, dims: [usize; D]) -> crate::Result<Tensor<D>> {
        let n = self.d_gates();
        if dims[D - 1] != n {
            return Err(Error::ShapeMismatch {
                what: "hard_concrete: the last dimension of the noise and the gates",
                left: dims.to_vec(),
                right: vec![n],
            });
        }
        let mut gate_dims = [1usize; D];
        gate_dims[D - 1] = n;
        Ok(self.log_alpha.val().reshape(gate_dims).expand(dims))
    }

    /// The training gate for the noise `u` (each entry in `(0, 1)`; `u` of shape
    /// `[.., d_gates]`, its leading dimensions being independent samples):
    /// `g = clamp(σ((log u − log(1 − u) + log α)/β)(ζ − γ) + γ, 0, 1)`, differentiable in
    /// `log_alpha` (the noise is a constant).
    ///
    /// # Errors
    /// [`Error::EmptyInput`] on an empty `u`, [`Error::ShapeMismatch`] when the last
    /// dimension of `u` is not `d_gates`.
    pub fn gate<const D: usize>(&self, noise: Tensor<D>) -> crate::Result<Tensor<D>> {
        check_nonempty(&noise, NAME)?;
        let log_alpha = self.log_alpha_like(noise.dims())?;
        Ok(hard_concrete_gate(
            log_alpha, noise, self.beta, self.gamma, self.zeta,
        ))
    }

    /// A training gate with fresh noise `u ~ U(eps, 1 − eps)` of shape `shape` (last
    /// dimension `d_gates`; leading dimensions are independent samples), drawn on the device
    /// of `log_alpha` with its random generator (seed it with `Device::seed`).
    ///
    /// # Errors
    /// As [`gate`](Self::gate).
    pub fn sample_gate<const D: usize>(&self, shape: [usize; D]) -> crate::Result<Tensor<D>> {
        let device = self.log_alpha.val().device();
        let noise = Tensor::<D>::random(
            shape,
            Distribution::Uniform(self.eps, 1.0 - self.eps),
            &device,
        );
        self.gate(noise)
    }

    /// The expected number of nonzero gates, `Σ σ(log α − β log(−γ/ζ))`, shape `[1]`,
    /// differentiable in `log_alpha`.
    pub fn expected_l0(&self) -> Tensor<1> {
        hard_concrete_open_probability(self.log_alpha.val(), self.beta, self.gamma, self.zeta).sum()
    }

    /// The deterministic test-time gate `clamp(σ(log α)(ζ − γ) + γ, 0, 1)`, `[d_gates]`.
    pub fn test_gate(&self) -> Tensor<1> {
        hard_concrete_test_gate(self.log_alpha.val(), self.gamma, self.zeta)
    }
}

/// `clamp(x, 0, 1)` whose gradient is 0 wherever `x <= 0` or `x >= 1`.
fn hard_clamp<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let low = x.clone().lower_equal_elem(0.0);
    let high = x.clone().greater_equal_elem(1.0);
    x.mask_fill(low, 0.0).mask_fill(high, 1.0)
}

/// The training gate of [`HardConcrete`] for any `log α` (e.g. one per latent and example,
/// computed by an encoder) and noise `u` of the same shape:
/// `clamp(σ((log u − log(1 − u) + log α)/β)(ζ − γ) + γ, 0, 1)`, with zero gradient outside
/// (0, 1); the noise is a constant. Parameters are not validated here (see
/// [`HardConcreteConfig`]).
pub fn hard_concrete_gate<const D: usize>(
    log_alpha: Tensor<D>,
    noise: Tensor<D>,
    beta: f64,
    gamma: f64,
    zeta: f64,
) -> Tensor<D> {
    let noise = noise.detach();
    // log u − log(1 − u), with log1p for u near 1.
    let logit = noise.clone().log() - noise.neg().log1p();
    let s = sigmoid((logit + log_alpha).div_scalar(beta));
    hard_clamp(s.mul_scalar(zeta - gamma).add_scalar(gamma))
}

/// The probability that each gate is open, `σ(log α − β log(−γ/ζ))`: summed, the expected L0.
pub fn hard_concrete_open_probability<const D: usize>(
    log_alpha: Tensor<D>,
    beta: f64,
    gamma: f64,
    zeta: f64,
) -> Tensor<D> {
    let shift = beta * (-gamma / zeta).ln();
    sigmoid(log_alpha.sub_scalar(shift))
}

/// The deterministic test-time gate `clamp(σ(log α)(ζ − γ) + γ, 0, 1)`.
pub fn hard_concrete_test_gate<const D: usize>(
    log_alpha: Tensor<D>,
    gamma: f64,
    zeta: f64,
) -> Tensor<D> {
    hard_clamp(
        sigmoid(log_alpha)
            .mul_scalar(zeta - gamma)
            .add_scalar(gamma),
    )
}
