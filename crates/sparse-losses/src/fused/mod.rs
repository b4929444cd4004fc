//! Fused penalty kernels: each penalty's value and gradient in one pass over the data.
//!
//! Burn runs a penalty as a chain of tensor ops (`abs`, `sum`, `mul_scalar`, ...): every op is
//! one pass over memory and one allocation, and its backward is as many again. On the CPU that
//! costs far more than the arithmetic. Here each penalty is one custom operation of Burn's
//! autodiff graph, declared with `#[backend_extension]` like the straight-through estimator
//! ([`ops::ste`](crate::ops::ste)):
//!
//! - the forward pass reads the input once and returns the value (shape `[1]`);
//! - the backward pass reads it once more and writes the gradient once.
//!
//! On Flex ([`host`] kernels, parallel over rayon's pool) and on the CubeCL backend (wgpu,
//! CUDA: CubeCL kernels in the private `cube` module, for every kernel) the penalties use it
//! automatically:
//! [`Penalty::forward`](crate::Penalty::forward) tries [`fused_penalty`] first. Other backends,
//! and the kernels a backend lacks, return `None` from the extension and the penalty falls
//! back to its op chain, so every backend computes the same function; the fixture runner
//! checks both paths (the fused ones on Flex and wgpu, the op chain on NdArray). Inputs that
//! are not `float32` also take the op chain.
//!
//! To add a fused kernel for a penalty: add a [`Kernel`] variant (or an [`Elementwise`] one),
//! its value and gradient in [`host`] (and in `cube` for the GPU), and return it from the
//! penalty's `kernel` in its `forward`.
// NdArray is deprecated in Burn 0.22 but still supported, and this crate offers it.
#![allow(deprecated)]

#[cfg(any(feature = "wgpu", feature = "cuda"))]
mod cube;
mod extension;
#[cfg(feature = "flex")]
pub mod host;
mod kernel;

pub use extension::*;
pub use kernel::*;

/// Whether tensors on `device` live in this machine's memory (Flex, NdArray; with or without
/// autodiff): reading them back costs no synchronisation with a device, and the host's
/// available memory is their limit.
///
/// ```
/// use burn::prelude::*;
///
/// assert!(sparse_losses::fused::in_host_memory(&Device::flex().autodiff()));
/// ```
pub fn in_host_memory(device: &burn::tensor::Device) -> bool {
    use burn::tensor::Device;
    let device = device.clone().without_autodiff();
    #[cfg(feature = "ndarray")]
    if device == Device::ndarray() {
        return true;
    }
    #[cfg(feature = "flex")]
    if device == Device::flex() {
        return true;
    }
    let _ = device;
    false
}
