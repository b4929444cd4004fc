//! ReLU + penalty: `f = relu(z)`; the sparsity comes from [`SaeConfig::penalty`](crate::SaeConfig::penalty).

use burn::config::Config;
use burn::module::Module;
use burn::prelude::*;

use super::{
    relu_codes, ArchitectureConfig, ArchitectureProperties, Encoded, SaeArchitecture, SaeParts,
};
use crate::Result;

/// The config of [`Relu`]: no fields (the sparsity comes from the SAE's penalty).
#[derive(Config, Debug, PartialEq)]
pub struct ReluConfig {}

impl ArchitectureConfig for ReluConfig {
    type Module = Relu;
    const NAME: &'static str = "relu";
    const SUMMARY: &'static str = "ReLU codes; sparse only through a penalty (e.g. l1 on the decoder-weighted codes)";

    fn validate(&self, _d_sae: usize) -> Result<()> {
        Ok(())
    }

    fn init(&self, _d_sae: usize, _device: &Device) -> Result<Relu> {
        Ok(Relu {})
    }
}

impl ArchitectureProperties for ReluConfig {
    fn needs_penalty(&self) -> bool {
        true
    }

    fn codes_gradient_on_support(&self) -> bool {
        true
    }
}

/// ReLU codes: no parameters of their own.
#[derive(Module, Debug)]
pub struct Relu {}

impl SaeArchitecture for Relu {
    fn training_pass(&self, sae: &impl SaeParts, x: Tensor<2>, _warm: f64) -> Encoded {
        Encoded::codes(self.inference_pass(sae, x))
    }

    /// `relu(z)`.
    fn inference_pass(&self, sae: &impl SaeParts, x: Tensor<2>) -> Tensor<2> {
        relu_codes(sae.pre_activations(x))
    }
}
