//! The architectures, one file each: how codes are computed in training and at inference, and
//! the architecture's own sparsity terms.
//!
//! To add one: a file here with `train` and `infer`, a variant of
//! [`Architecture`], and its two lines in [`train`]/[`infer`] below.

use burn::prelude::*;

use crate::{Architecture, Sae};

pub mod batch_top_k;
pub mod gated;
pub mod hard_concrete;
pub mod jump_relu;
pub mod matryoshka;
pub mod omp;
pub mod relu;
pub mod sigmoid;
pub mod top_k;

/// What an architecture's training pass produces.
#[derive(Debug, Clone)]
pub struct Encoded {
    /// The codes `[B, d_sae]`.
    pub codes: Tensor<2>,
    /// The pre-activations, for AuxK (top-k architectures only).
    pub pre_activations: Option<Tensor<2>>,
    /// The architecture's own sparsity terms (JumpReLU's λ·L0, the gated L1 and auxiliary
    /// reconstruction, hard-concrete's λ·E\[L0\]), already weighted.
    pub sparsity: Option<Tensor<1>>,
    /// A reconstruction loss that replaces the plain one (Matryoshka's sum over prefixes).
    pub reconstruction: Option<Tensor<1>>,
    /// BatchTopK's batch threshold.
    pub batch_threshold: Option<Tensor<1>>,
}

impl Encoded {
    /// Codes with nothing else.
    pub fn codes(codes: Tensor<2>) -> Self {
        Self {
            codes,
            pre_activations: None,
            sparsity: None,
            reconstruction: None,
            batch_threshold: None,
        }
    }
}

/// The training pass of `sae`'s architecture.
///
/// The λ of `jump_relu`, `gated` and `hard_concrete` is multiplied by the warm-up factor
/// ([`Sae::penalty_factor`]).
pub fn train(sae: &Sae, x: Tensor<2>) -> Encoded {
    let warm = sae.penalty_factor();
    match &sae.config.architecture {
        Architecture::Relu => relu::train(sae, x),
        Architecture::Sigmoid => sigmoid::train(sae, x),
        Architecture::TopK { k } => top_k::train(sae, x, *k),
        Architecture::BatchTopK { k } => batch_top_k::train(sae, x, *k),
        Architecture::Matryoshka { k, prefixes } => matryoshka::train(sae, x, *k, prefixes),
        Architecture::JumpRelu { lambda, .. } => jump_relu::train(sae, x, *lambda * warm),
        Architecture::Gated { lambda } => gated::train(sae, x, *lambda * warm),
        Architecture::HardConcrete { lambda, beta } => {
            hard_concrete::train(sae, x, *lambda * warm, *beta)
        }
        Architecture::Omp { k } => omp::train(sae, x, *k),
    }
}

/// The inference codes of `sae`'s architecture.
pub fn infer(sae: &Sae, x: Tensor<2>) -> Tensor<2> {
    match &sae.config.architecture {
        Architecture::Relu => relu::infer(sae, x),
        Architecture::Sigmoid => sigmoid::infer(sae, x),
        Architecture::TopK { k } => top_k::infer(sae, x, *k),
        Architecture::BatchTopK { .. } | Architecture::Matryoshka { .. } => {
            batch_top_k::infer(sae, x)
        }
        Architecture::JumpRelu { .. } => jump_relu::infer(sae, x),
        Architecture::Gated { .. } => gated::infer(sae, x),
        Architecture::HardConcrete { beta, .. } => hard_concrete::infer(sae, x, *beta),
        Architecture::Omp { k } => omp::infer(sae, x, *k),
    }
}
