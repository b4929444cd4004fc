//! TopK (Makhzani & Frey 2013; Gao et al. 2024): the `k` largest pre-activations of each row,
//! then ReLU (ties to the lower index; [`sparse_losses::TopK`]).

use burn::prelude::*;
use sparse_losses::TopKConfig;

use super::Encoded;
use crate::Sae;

/// Training codes (and the pre-activations, for AuxK).
pub fn train(sae: &Sae, x: Tensor<2>, k: usize) -> Encoded {
    let z = sae.pre_activations(x);
    let mut e = Encoded::codes(top_k(z.clone(), k));
    e.pre_activations = Some(z);
    e
}

/// Inference codes: the same selection.
pub fn infer(sae: &Sae, x: Tensor<2>, k: usize) -> Tensor<2> {
    top_k(sae.pre_activations(x), k)
}

fn top_k(z: Tensor<2>, k: usize) -> Tensor<2> {
    TopKConfig::new(k)
        .init()
        .and_then(|t| t.forward(z))
        .expect("k is validated against d_sae with the config")
}
