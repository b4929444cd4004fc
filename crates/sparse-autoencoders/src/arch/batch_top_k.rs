//! BatchTopK (Bussmann et al. 2024): in training the `k·B` largest ReLU'd pre-activations of
//! the whole batch are kept ([`sparse_losses::BatchTopK`]); at inference `f = z · 1[z > θ]`,
//! with θ the running mean of the batches' thresholds ([`BatchTopK::threshold`]).

use burn::config::Config;
use burn::module::{Module, Param};
use burn::prelude::*;
use sparse_losses::BatchTopKConfig as BatchTopKActivation;

use super::{
    check_k, ArchitectureConfig, ArchitectureProperties, Encoded, SaeArchitecture, SaeParts,
};
use crate::params::{param, THRESHOLD};
use crate::Result;

/// The config of [`BatchTopK`].
#[derive(Config, Debug, PartialEq)]
pub struct BatchTopKConfig {
    /// Mean latents kept per row.
    #[config(default = 32)]
    pub k: usize,
}

impl ArchitectureConfig for BatchTopKConfig {
    type Module = BatchTopK;
    const NAME: &'static str = "batch_top_k";
    const SUMMARY: &'static str = "the k·B largest of a batch of B rows in training; a learned threshold at inference (k)";

    fn validate(&self, d_sae: usize) -> Result<()> {
        check_k(Self::NAME, self.k, d_sae)
    }

    fn init(&self, d_sae: usize, device: &Device) -> Result<BatchTopK> {
        self.validate(d_sae)?;
        Ok(BatchTopK::new(self.k, device))
    }
}

impl ArchitectureProperties for BatchTopKConfig {
    fn top_k(&self) -> Option<usize> {
        Some(self.k)
    }
}

/// BatchTopK's state: the running inference threshold.
#[derive(Module, Debug)]
pub struct BatchTopK {
    /// The inference threshold θ `[1]` (a running mean; negative until the first batch). Not
    /// trained by the optimizer; saved with the model.
    pub threshold: Param<Tensor<1>>,
    #[module(skip)]
    k: usize,
}

impl BatchTopK {
    /// Keeps `k·B` per batch; θ starts negative (no batch seen).
    pub(crate) fn new(k: usize, device: &Device) -> Self {
        Self {
            threshold: param(THRESHOLD, Tensor::full([1], -1.0, device), false),
            k,
        }
    }

    /// Mean latents kept per row.
    pub fn k(&self) -> usize {
        self.k
    }

    /// The training codes of a batch of pre-activations `z`, with `z` kept for AuxK and the
    /// batch's threshold.
    pub(crate) fn select(&self, z: Tensor<2>) -> Encoded {
        let out = BatchTopKActivation::new(self.k)
            .init()
            .and_then(|b| b.forward(z.clone()))
            .expect("k is validated against d_sae with the config");
        let mut e = Encoded::codes(out.output);
        e.pre_activations = Some(z);
        e.batch_threshold = Some(out.threshold);
        e
    }

    /// `z · 1[z > θ]` (θ = 0 before the first training step).
    pub(crate) fn threshold_codes(&self, z: Tensor<2>) -> Tensor<2> {
        let theta = self.threshold.val().clamp_min(0.0);
        let keep = z
            .clone()
            .greater(theta.unsqueeze::<2>().expand(z.dims()))
            .float();
        z * keep
    }
}

impl SaeArchitecture for BatchTopK {
    fn training_pass(&self, sae: &impl SaeParts, x: Tensor<2>, _warm: f64) -> Encoded {
        self.select(sae.pre_activations(x))
    }

    fn inference_pass(&self, sae: &impl SaeParts, x: Tensor<2>) -> Tensor<2> {
        self.threshold_codes(sae.pre_activations(x))
    }

    fn running_threshold(&self) -> Option<&Param<Tensor<1>>> {
        Some(&self.threshold)
    }

    fn running_threshold_mut(&mut self) -> Option<&mut Param<Tensor<1>>> {
        Some(&mut self.threshold)
    }
}
