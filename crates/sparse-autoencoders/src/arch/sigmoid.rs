//! Sigmoid + penalty: `f = σ(z)`, in (0, 1), the classic sparse autoencoder of KL sparsity
//! (Ng 2011): pair it with [`KlSparsity`](sparse_losses::KlSparsity) on the codes. Codes are
//! never exactly zero, so L0 counts every latent.

use burn::prelude::*;
use burn::tensor::activation::sigmoid;

use super::Encoded;
use crate::Sae;

/// Training codes.
pub fn train(sae: &Sae, x: Tensor<2>) -> Encoded {
    Encoded::codes(infer(sae, x))
}

/// Inference codes: `σ(z)`.
pub fn infer(sae: &Sae, x: Tensor<2>) -> Tensor<2> {
    sigmoid(sae.pre_activations(x))
}
