//! BatchTopK (Bussmann et al. 2024): in training the `k·B` largest ReLU'd pre-activations of
//! the whole batch are kept ([`sparse_losses::BatchTopK`]); at inference `f = z · 1[z > θ]`,
//! with θ the running mean of the batches' thresholds ([`Sae::threshold`]).

use burn::prelude::*;
use sparse_losses::BatchTopKConfig;

use super::Encoded;
use crate::Sae;

/// Training codes, pre-activations and the batch threshold.
pub fn train(sae: &Sae, x: Tensor<2>, k: usize) -> Encoded {
    let z = sae.pre_activations(x);
    let out = BatchTopKConfig::new(k)
        .init()
        .and_then(|b| b.forward(z.clone()))
        .expect("k is validated against d_sae with the config");
    let mut e = Encoded::codes(out.output);
    e.pre_activations = Some(z);
    e.batch_threshold = Some(out.threshold);
    e
}

/// Inference codes: `z · 1[z > θ]` (θ = 0 before the first training step).
pub fn infer(sae: &Sae, x: Tensor<2>) -> Tensor<2> {
    let z = sae.pre_activations(x);
    let theta = match &sae.threshold {
        Some(t) => t.val().clamp_min(0.0),
        None => Tensor::zeros([1], &z.device()),
    };
    let keep = z
        .clone()
        .greater(theta.unsqueeze::<2>().expand(z.dims()))
        .float();
    z * keep
}
