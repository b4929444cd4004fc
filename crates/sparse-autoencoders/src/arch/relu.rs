//! ReLU + penalty: `f = relu(z)`; the sparsity comes from [`SaeConfig::penalty`](crate::SaeConfig::penalty).

use burn::prelude::*;
use burn::tensor::activation::relu;

use super::Encoded;
use crate::Sae;

/// Training codes.
pub fn train(sae: &Sae, x: Tensor<2>) -> Encoded {
    Encoded::codes(infer(sae, x))
}

/// Inference codes: `relu(z)`.
pub fn infer(sae: &Sae, x: Tensor<2>) -> Tensor<2> {
    relu(sae.pre_activations(x))
}
