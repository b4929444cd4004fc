//! JumpReLU (Rajamanoharan et al. 2024): `f = z · 1[z > θ]` with learnable thresholds
//! θ = exp(log_threshold) and loss `λ · mean_rows Σ_j 1[z_j > θ_j]`; the thresholds learn
//! through the rectangle-kernel pseudo-derivatives of [`sparse_losses::JumpRelu`].

use burn::config::Config;
use burn::module::Module;
use burn::prelude::*;
use sparse_losses::JumpReluConfig as JumpReluActivation;

use super::{
    check_non_negative, check_positive, ArchitectureConfig, ArchitectureProperties, Encoded,
    SaeArchitecture, SaeParts,
};
use crate::params::{param, LOG_THRESHOLD};
use crate::Result;

const SHAPES: &str = "the thresholds have one entry per latent";

/// The config of [`JumpRelu`].
#[derive(Config, Debug, PartialEq)]
pub struct JumpReluConfig {
    /// λ, the weight of the L0 term.
    #[config(default = 0.8)]
    pub lambda: f64,
    /// The initial threshold θ₀ (every latent).
    #[config(default = 0.3)]
    pub threshold_init: f64,
    /// The bandwidth ε of the rectangle-kernel pseudo-derivatives.
    #[config(default = 0.05)]
    pub bandwidth: f64,
}

impl ArchitectureConfig for JumpReluConfig {
    type Module = JumpRelu;
    const NAME: &'static str = "jump_relu";
    const SUMMARY: &'static str = "z·[z > θ] with learned thresholds θ and λ·L0 by straight-through (lambda, threshold_init, bandwidth)";

    fn validate(&self, _d_sae: usize) -> Result<()> {
        check_non_negative(Self::NAME, "lambda", self.lambda)?;
        check_positive(Self::NAME, "threshold_init", self.threshold_init)?;
        check_positive(Self::NAME, "bandwidth", self.bandwidth)
    }

    fn init(&self, d_sae: usize, device: &Device) -> Result<JumpRelu> {
        self.validate(d_sae)?;
        let mut thresholds = JumpReluActivation::new(d_sae)
            .with_threshold_init(self.threshold_init)
            .with_bandwidth(self.bandwidth)
            .init(device)?;
        thresholds.log_threshold = param(LOG_THRESHOLD, thresholds.log_threshold.val(), true);
        Ok(JumpRelu {
            thresholds,
            lambda: self.lambda,
        })
    }
}

impl ArchitectureProperties for JumpReluConfig {
    /// AuxK applies: a dead JumpReLU latent stays below its threshold θ > 0, but its
    /// pre-activation can still be positive, so AuxK's ReLU'd top-k reaches it (a dead ReLU
    /// latent's pre-activation is negative on every row, and AuxK passes it no gradient).
    fn supports_aux_k(&self) -> bool {
        true
    }
}

/// JumpReLU's state: the learnable thresholds.
#[derive(Module, Debug)]
pub struct JumpRelu {
    /// The thresholds θ = exp(log_threshold), one per latent, and their pseudo-derivatives.
    pub thresholds: sparse_losses::JumpRelu,
    #[module(skip)]
    lambda: f64,
}

impl SaeArchitecture for JumpRelu {
    /// The codes, with `λ · L0`, and the pre-activations (for AuxK).
    fn training_pass(&self, sae: &impl SaeParts, x: Tensor<2>, warm: f64) -> Encoded {
        let z = sae.pre_activations(x);
        let codes = self.thresholds.forward(z.clone()).expect(SHAPES);
        let mut e = Encoded::codes(codes);
        e.sparsity = Some(self.thresholds.l0(z.clone()).expect(SHAPES) * (self.lambda * warm));
        e.pre_activations = Some(z);
        e
    }

    fn inference_pass(&self, sae: &impl SaeParts, x: Tensor<2>) -> Tensor<2> {
        self.thresholds
            .forward(sae.pre_activations(x))
            .expect(SHAPES)
    }

    fn with_trainable(mut self, trainable: bool) -> Self {
        self.thresholds.log_threshold = self
            .thresholds
            .log_threshold
            .clone()
            .set_require_grad(trainable);
        self
    }
}
