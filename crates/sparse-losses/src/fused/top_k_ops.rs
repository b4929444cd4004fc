//! The backend extension of the top-k mask: [`FusedTopKOps`] and [`fused_top_k_mask`].
#![allow(deprecated)]

use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::tensor::FloatTensor;
use burn::backend::{backend_extension, Autodiff, AutodiffBackend, Backend, Dispatch};
use burn::tensor::Tensor;

use super::switch::enabled;

/// The fused top-k mask as an operation of a backend: `Some` where the backend has it (Flex
/// and the CubeCL backend, for `float32`), `None` elsewhere (the caller then uses the op
/// chain).
#[backend_extension(
    Flex: cfg(feature = "flex"),
    NdArray: cfg(feature = "ndarray"),
    Cube: cfg(any(feature = "wgpu", feature = "cuda")),
    Autodiff
)]
pub trait FusedTopKOps: Backend {
    /// The 0/1 mask of the `k` largest entries of each row (last dimension) of `scores`, ties
    /// to the lower index, without gradient (`1 <= k < row length`), or `None` when this
    /// backend has no fused kernel.
    #[allow(unused_variables)]
    fn fused_top_k_mask(scores: FloatTensor<Self>, k: usize) -> Option<FloatTensor<Self>> {
        None
    }
}

#[cfg(feature = "flex")]
impl FusedTopKOps for burn::backend::Flex {
    fn fused_top_k_mask(scores: FloatTensor<Self>, k: usize) -> Option<FloatTensor<Self>> {
        super::flex::top_k_mask(&scores, k)
    }
}
#[cfg(feature = "ndarray")]
impl FusedTopKOps for burn::backend::NdArray {}
/// The CubeCL kernel (the `cube` module) for wgpu and CUDA, for `float32`.
#[cfg(any(feature = "wgpu", feature = "cuda"))]
impl FusedTopKOps for burn::backend::Cube {
    fn fused_top_k_mask(scores: FloatTensor<Self>, k: usize) -> Option<FloatTensor<Self>> {
        super::cube::top_k_mask(scores, k)
    }
}

impl<B: FusedTopKOps, C: CheckpointStrategy> FusedTopKOps for Autodiff<B, C> {
    fn fused_top_k_mask(scores: FloatTensor<Self>, k: usize) -> Option<FloatTensor<Self>> {
        // A constant of the graph: no gradient flows through a mask.
        let mask = B::fused_top_k_mask(scores.into_primitive(), k)?;
        Some(<Self as AutodiffBackend>::from_inner(mask))
    }
}

/// The 0/1 mask of the `k` largest entries of each row of `scores` (`1 <= k <` the row
/// length): on Flex a linear-time selection and one pass per row, on wgpu and CUDA a radix
/// select (four 8-bit passes) and a mask pass with a tie count, no host synchronisation. `None`
/// on NdArray or when `scores` is not `float32`. See
/// [`top_k_mask`](crate::ops::top_k::top_k_mask), which uses it.
pub fn fused_top_k_mask<const D: usize>(scores: &Tensor<D>, k: usize) -> Option<Tensor<D>> {
    if !enabled() {
        return None;
    }
    <Dispatch as FusedTopKOps>::fused_top_k_mask(scores.clone().into_dispatch(), k)
        .map(Tensor::from_dispatch)
}
