//! Hard-concrete L0 gates (Louizos et al. 2018) on a gated encoder: the gate pre-activations
//! are the log α of one gate per latent and row, the codes are gate ⊙ magnitude:
//!
//! ```text
//! log α = (x − b_dec) W_enc + b_enc
//! training: g = clamp(σ((log u − log(1 − u) + log α)/β)(ζ − γ) + γ, 0, 1),  u ~ U(0, 1)
//! test:     g = clamp(σ(log α)(ζ − γ) + γ, 0, 1)
//! f = g ⊙ relu((x − b_dec)(W_enc ⊙ exp(r_mag)) + b_mag)
//! loss = recon + λ · mean_rows Σ_j σ(log α_j − β log(−γ/ζ))        (the expected L0)
//! ```
//!
//! with γ = −0.1, ζ = 1.1 (SPEC.md, "Hard-concrete L0 gates"), computed by sparse-losses'
//! [`hard_concrete_gate`], [`hard_concrete_open_probability`] and [`hard_concrete_test_gate`].

use burn::config::Config;
use burn::module::Module;
use burn::prelude::*;
use burn::tensor::Distribution;
use sparse_losses::{hard_concrete_gate, hard_concrete_open_probability, hard_concrete_test_gate};

use super::{
    check_non_negative, check_positive, ArchitectureConfig, ArchitectureProperties, Encoded,
    MagnitudePath, SaeArchitecture, SaeParts,
};
use crate::Result;

const GAMMA: f64 = -0.1;
const ZETA: f64 = 1.1;
/// The noise range, away from 0 and 1 where the logit is infinite.
const EPS: f64 = 1e-6;

/// The config of [`HardConcrete`].
#[derive(Config, Debug, PartialEq)]
pub struct HardConcreteConfig {
    /// λ, the weight of the expected L0.
    #[config(default = 0.8)]
    pub lambda: f64,
    /// Temperature β of the concrete distribution.
    #[config(default = 0.6666666666666666)]
    pub beta: f64,
}

impl ArchitectureConfig for HardConcreteConfig {
    type Module = HardConcrete;
    const NAME: &'static str = "hard_concrete";
    const SUMMARY: &'static str = "hard-concrete L0 gates; λ × the expected L0 (lambda, beta)";

    fn validate(&self, _d_sae: usize) -> Result<()> {
        check_non_negative(Self::NAME, "lambda", self.lambda)?;
        check_positive(Self::NAME, "beta", self.beta)
    }

    fn init(&self, d_sae: usize, device: &Device) -> Result<HardConcrete> {
        self.validate(d_sae)?;
        Ok(HardConcrete {
            magnitude: MagnitudePath::new(d_sae, device),
            lambda: self.lambda,
            beta: self.beta,
        })
    }
}

impl ArchitectureProperties for HardConcreteConfig {}

/// The hard-concrete SAE's state: the magnitude path.
#[derive(Module, Debug)]
pub struct HardConcrete {
    /// The magnitude path (`r_mag`, `b_mag`).
    pub magnitude: MagnitudePath,
    #[module(skip)]
    lambda: f64,
    #[module(skip)]
    beta: f64,
}

impl SaeArchitecture for HardConcrete {
    /// The codes from noisy gates, with `λ · E[L0]`.
    fn training_pass(&self, sae: &impl SaeParts, x: Tensor<2>, warm: f64) -> Encoded {
        let log_alpha = sae.pre_activations(x.clone());
        let [b, _] = log_alpha.dims();
        let u = Tensor::<2>::random(
            log_alpha.dims(),
            Distribution::Uniform(EPS, 1.0 - EPS),
            &log_alpha.device(),
        );
        let g = hard_concrete_gate(log_alpha.clone(), u, self.beta, GAMMA, ZETA);
        let expected_l0 =
            hard_concrete_open_probability(log_alpha, self.beta, GAMMA, ZETA).sum() / b as f64;
        let mut e = Encoded::codes(g * self.magnitude.forward(sae, x));
        e.sparsity = Some(expected_l0 * (self.lambda * warm));
        e
    }

    /// The codes from the deterministic test-time gates.
    fn inference_pass(&self, sae: &impl SaeParts, x: Tensor<2>) -> Tensor<2> {
        let g = hard_concrete_test_gate(sae.pre_activations(x.clone()), GAMMA, ZETA);
        g * self.magnitude.forward(sae, x)
    }

    fn magnitude(&self) -> Option<&MagnitudePath> {
        Some(&self.magnitude)
    }

    fn magnitude_mut(&mut self) -> Option<&mut MagnitudePath> {
        Some(&mut self.magnitude)
    }
}
