//! Helpers shared by the test binaries of sparse-autoencoders.
#![allow(dead_code)]

use burn::prelude::*;
use sparse_autoencoders::arch::{
    BatchTopKConfig, GatedConfig, HardConcreteConfig, JumpReluConfig, MatryoshkaConfig, OmpConfig,
    TopKConfig,
};
use sparse_autoencoders::Architecture;

/// Flex with autodiff, the device the library tests train on.
pub fn device() -> Device {
    Device::flex().autodiff()
}

/// Every architecture of the registry (but sigmoid, which needs KL sparsity: see
/// `suppression.rs`), with `k` latents per row for the k-sparse ones, the Matryoshka
/// `prefixes`, and the small λ the tests train with. The match has no wildcard: a new
/// architecture does not compile here until it is given its test settings.
pub fn architectures(k: usize, prefixes: &[usize]) -> Vec<Architecture> {
    Architecture::all()
        .into_iter()
        .filter_map(|arch| {
            Some(match arch {
                Architecture::Sigmoid(_) => return None,
                Architecture::Relu(c) => Architecture::Relu(c),
                Architecture::TopK(_) => Architecture::TopK(TopKConfig { k }),
                Architecture::BatchTopK(_) => Architecture::BatchTopK(BatchTopKConfig { k }),
                Architecture::Matryoshka(_) => Architecture::Matryoshka(MatryoshkaConfig {
                    k,
                    prefixes: prefixes.to_vec(),
                }),
                Architecture::JumpRelu(_) => Architecture::JumpRelu(JumpReluConfig {
                    lambda: 0.1,
                    threshold_init: 0.05,
                    bandwidth: 0.05,
                }),
                Architecture::Gated(_) => Architecture::Gated(GatedConfig { lambda: 0.1 }),
                Architecture::HardConcrete(_) => Architecture::HardConcrete(HardConcreteConfig {
                    lambda: 0.05,
                    beta: 2.0 / 3.0,
                    floor: true,
                }),
                Architecture::Omp(_) => Architecture::Omp(OmpConfig { k }),
            })
        })
        .collect()
}
