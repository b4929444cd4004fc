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
//! are not `float32` also take the op chain. The per-row top-k mask of
//! [`top_k_mask`](crate::ops::top_k::top_k_mask) is fused the same way ([`FusedTopKOps`],
//! [`fused_top_k_mask`]), without a backward (a mask is a constant of the graph).
//!
//! ## Layout
//!
//! The kernel layer imports nothing from the penalties, operators or activations that call
//! it: what they share with it ([`TvKind`], the spike-and-slab mixture's constants) is
//! defined here and re-exported there.
//!
//! | file | what |
//! | --- | --- |
//! | `kernel.rs` | [`Kernel`] (one variant per kernel family), [`Elementwise`], [`TvKind`] |
//! | `penalty_ops.rs` | [`FusedPenaltyOps`], its autodiff backward, [`fused_penalty`] |
//! | `top_k_ops.rs` | [`FusedTopKOps`], [`fused_top_k_mask`] |
//! | `switch.rs` | [`set_enabled`], [`enabled`] |
//! | `flex.rs` | the Flex side: borrow the data, run the [`host`] kernel, wrap the result |
//! | `host/x.rs` | kernel family `x` on the CPU (`&[f32]` in, `f64` or `Vec<f32>` out) |
//! | `cube/x.rs` | the same family on the GPU: its `#[cube]` kernels and their launch |
//!
//! The families, each a sibling pair `host/x.rs` + `cube/x.rs` with a `value` and a `grad`:
//! `elementwise`, `hoyer`, `entropy`, `kl`, `group_lasso`, `total_variation`, and `top_k`
//! (its `top_k_mask` only). Shared within each side: `host/math.rs` + `cube/math.rs`
//! (elementary functions), `host/reduce.rs` + `cube/reduce.rs` (parallel sums), and
//! `cube/launch.rs` (grids, cube sizes, `CubeTensor` plumbing). `host/mod.rs` and
//! `cube/mod.rs` dispatch a [`Kernel`] to its family.
//!
//! ## To add a kernel `x`
//!
//! 1. a [`Kernel`] variant in `kernel.rs` with its hyper-parameters resolved (or an
//!    [`Elementwise`] term, which needs no new family: add its arm to `host/elementwise.rs`
//!    and `cube/elementwise.rs`);
//! 2. `host/x.rs` with `value` and `grad`, and its arms in `host/mod.rs`'s `value` and `grad`;
//! 3. `cube/x.rs` with its kernels, `value` and `grad` (taking a `GradLaunch`), and its arms in
//!    `cube/mod.rs`'s `value` and `grad` (a backend without it returns `None`: the op chain
//!    runs);
//! 4. in the penalty's `forward`, build the variant and try [`fused_penalty`] before its op
//!    chain;
//! 5. tests: the fused kernel against the op chain in `tests/fused.rs`, and the fixtures
//!    (`tests/fixtures/`), which the runner checks on Flex, NdArray and wgpu.
// NdArray is deprecated in Burn 0.22 but still supported, and this crate offers it.
#![allow(deprecated)]

#[cfg(any(feature = "wgpu", feature = "cuda"))]
mod cube;
#[cfg(feature = "flex")]
mod flex;
#[cfg(feature = "flex")]
pub mod host;
mod kernel;
mod penalty_ops;
mod switch;
mod top_k_ops;

pub use kernel::*;
pub use penalty_ops::*;
pub use switch::*;
pub use top_k_ops::*;

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
