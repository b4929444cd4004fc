//! Sigmoid + penalty: `f = σ(z)`, in (0, 1), the classic sparse autoencoder of KL sparsity
//! (Ng 2011): pair it with [`KlSparsity`](sparse_losses::KlSparsity) on the codes. Codes are
//! never exactly zero, so L0 counts every latent.

use burn::config::Config;
use burn::module::Module;
use burn::prelude::*;
use burn::tensor::activation::sigmoid;

use super::{ArchitectureConfig, ArchitectureProperties, Encoded, SaeArchitecture, SaeParts};
use crate::Result;

/// The config of [`Sigmoid`]: no fields (the sparsity comes from the SAE's penalty).
#[derive(Config, Debug, PartialEq)]
pub struct SigmoidConfig {}

impl ArchitectureConfig for SigmoidConfig {
    type Module = Sigmoid;
    const NAME: &'static str = "sigmoid";
    const SUMMARY: &'static str = "sigmoid codes, for the KL sparsity penalty on the mean activations";

    fn validate(&self, _d_sae: usize) -> Result<()> {
        Ok(())
    }

    fn init(&self, _d_sae: usize, _device: &Device) -> Result<Sigmoid> {
        Ok(Sigmoid {})
    }
}

impl ArchitectureProperties for SigmoidConfig {
    fn needs_penalty(&self) -> bool {
        true
    }
}

/// Sigmoid codes: no parameters of their own.
#[derive(Module, Debug)]
pub struct Sigmoid {}

impl SaeArchitecture for Sigmoid {
    fn training_pass(&self, sae: &impl SaeParts, x: Tensor<2>, _warm: f64) -> Encoded {
        Encoded::codes(self.inference_pass(sae, x))
    }

    /// `σ(z)`.
    fn inference_pass(&self, sae: &impl SaeParts, x: Tensor<2>) -> Tensor<2> {
        sigmoid(sae.pre_activations(x))
    }
}
