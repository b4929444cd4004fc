//! TopK (Makhzani & Frey 2013; Gao et al. 2024): the `k` largest pre-activations of each row,
//! then ReLU (ties to the lower index; [`sparse_losses::TopK`]).

use burn::config::Config;
use burn::module::Module;
use burn::prelude::*;
use sparse_losses::TopKConfig as TopKActivation;

use super::{
    check_k, ArchitectureConfig, ArchitectureProperties, Encoded, SaeArchitecture, SaeParts,
};
use crate::Result;

/// The config of [`TopK`].
#[derive(Config, Debug, PartialEq)]
pub struct TopKConfig {
    /// Latents kept per row.
    #[config(default = 32)]
    pub k: usize,
}

impl ArchitectureConfig for TopKConfig {
    type Module = TopK;
    const NAME: &'static str = "top_k";
    const SUMMARY: &'static str = "the k largest pre-activations of each row, then ReLU (field k)";

    fn validate(&self, d_sae: usize) -> Result<()> {
        check_k(Self::NAME, self.k, d_sae)
    }

    fn init(&self, d_sae: usize, _device: &Device) -> Result<TopK> {
        self.validate(d_sae)?;
        Ok(TopK { k: self.k })
    }
}

impl ArchitectureProperties for TopKConfig {
    fn top_k(&self) -> Option<usize> {
        Some(self.k)
    }
}

/// TopK codes: no parameters of their own.
#[derive(Module, Debug)]
pub struct TopK {
    #[module(skip)]
    k: usize,
}

impl TopK {
    /// Latents kept per row.
    pub fn k(&self) -> usize {
        self.k
    }

    fn select(&self, z: Tensor<2>) -> Tensor<2> {
        TopKActivation::new(self.k)
            .init()
            .and_then(|t| t.forward(z))
            .expect("k is validated against d_sae with the config")
    }
}

impl SaeArchitecture for TopK {
    /// The codes and the pre-activations, for AuxK.
    fn training_pass(&self, sae: &impl SaeParts, x: Tensor<2>, _warm: f64) -> Encoded {
        let z = sae.pre_activations(x);
        let mut e = Encoded::codes(self.select(z.clone()));
        e.pre_activations = Some(z);
        e
    }

    /// The same selection.
    fn inference_pass(&self, sae: &impl SaeParts, x: Tensor<2>) -> Tensor<2> {
        self.select(sae.pre_activations(x))
    }
}
