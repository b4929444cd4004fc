//! Operations with a custom backward pass in Burn's autodiff graph, each declared with
//! `#[backend_extension]` over Flex, NdArray, CubeCL (wgpu, CUDA) and `Autodiff`.
//!
//! - [`ste`]: the straight-through estimator of the binary masks.
//! - [`jump_relu`](mod@jump_relu): JumpReLU and its Heaviside step, with the rectangle-kernel
//!   pseudo-derivatives of the SAE activation [`JumpRelu`](crate::activation::JumpRelu).
//! - [`sparse_matmul`](mod@sparse_matmul): `codes · weight` that skips zero codes (an SAE's
//!   decoder) on Flex.
//! - [`top_k`](mod@top_k): per-row top-k masks (ties to the lower index), shared by the `topk`
//!   binary masks and the TopK / BatchTopK activations (plain tensor ops, no custom backward).

pub mod ste;
pub use ste::*;

pub mod jump_relu;
pub mod sparse_matmul;
pub mod top_k;
pub use jump_relu::*;
pub use top_k::*;
