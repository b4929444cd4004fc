//! The backend extension: [`FusedPenaltyOps`] and its autodiff backward.
#![allow(deprecated)]

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{unary, Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{backend_extension, Autodiff, AutodiffBackend, Backend, Dispatch};
use std::sync::atomic::{AtomicBool, Ordering};

use burn::tensor::Tensor;

use super::Kernel;

/// Fused penalty kernels as operations of a backend: `Some` where the backend has them (Flex
/// and the CubeCL backend, every kernel, for `float32`), `None` elsewhere (the caller then
/// uses the op chain).
#[backend_extension(
    Flex: cfg(feature = "flex"),
    NdArray: cfg(feature = "ndarray"),
    Cube: cfg(any(feature = "wgpu", feature = "cuda")),
    Autodiff
)]
pub trait FusedPenaltyOps: Backend {
    /// The penalty's value, shape `[1]`, or `None` when this backend has no fused kernel.
    #[allow(unused_variables)]
    fn fused_penalty(x: FloatTensor<Self>, kernel: Kernel) -> Option<FloatTensor<Self>> {
        None
    }

    /// The 0/1 mask of the `k` largest entries of each row (last dimension) of `scores`, ties
    /// to the lower index, without gradient (`1 <= k < row length`), or `None` when this
    /// backend has no fused kernel.
    #[allow(unused_variables)]
    fn fused_top_k_mask(scores: FloatTensor<Self>, k: usize) -> Option<FloatTensor<Self>> {
        None
    }

    /// The gradient of `upstream · penalty(x)` with respect to `x` (`upstream` has shape
    /// `[1]`), or `None` when this backend has no fused kernel.
    #[allow(unused_variables)]
    fn fused_penalty_grad(
        x: FloatTensor<Self>,
        upstream: FloatTensor<Self>,
        kernel: Kernel,
    ) -> Option<FloatTensor<Self>> {
        None
    }
}

#[cfg(feature = "flex")]
impl FusedPenaltyOps for burn::backend::Flex {
    fn fused_penalty(x: FloatTensor<Self>, kernel: Kernel) -> Option<FloatTensor<Self>> {
        flex::value(&x, &kernel)
    }

    fn fused_penalty_grad(
        x: FloatTensor<Self>,
        upstream: FloatTensor<Self>,
        kernel: Kernel,
    ) -> Option<FloatTensor<Self>> {
        flex::grad(&x, &upstream, &kernel)
    }

    fn fused_top_k_mask(scores: FloatTensor<Self>, k: usize) -> Option<FloatTensor<Self>> {
        flex::top_k_mask(&scores, k)
    }
}
#[cfg(feature = "ndarray")]
impl FusedPenaltyOps for burn::backend::NdArray {}
/// The CubeCL kernels (the `cube` module) for wgpu and CUDA: every [`Kernel`] (the elementwise
/// penalties, Hoyer, entropy, KL sparsity, group lasso and total variation), for `float32`.
#[cfg(any(feature = "wgpu", feature = "cuda"))]
impl FusedPenaltyOps for burn::backend::Cube {
    fn fused_penalty(x: FloatTensor<Self>, kernel: Kernel) -> Option<FloatTensor<Self>> {
        super::cube::value(x, &kernel)
    }

    fn fused_penalty_grad(
        x: FloatTensor<Self>,
        upstream: FloatTensor<Self>,
        kernel: Kernel,
    ) -> Option<FloatTensor<Self>> {
        super::cube::grad(x, upstream, &kernel)
    }

    fn fused_top_k_mask(scores: FloatTensor<Self>, k: usize) -> Option<FloatTensor<Self>> {
        super::cube::top_k_mask(scores, k)
    }
}

/// The Flex side: borrow the `float32` data (a contiguous copy only for a strided view), run
/// the [`host`](super::host) kernel, wrap the result.
#[cfg(feature = "flex")]
mod flex {
    use burn::backend::flex::FlexTensor;
    use burn::backend::TensorMetadata;
    use burn::tensor::{DType, TensorData};

    use crate::fused::{host, Kernel};

    /// The data of `x` as a contiguous `f32` slice, handed to `f`; `None` for another dtype.
    fn with_f32<R>(x: &FlexTensor, f: impl FnOnce(&[f32]) -> R) -> Option<R> {
        if x.dtype() != DType::F32 {
            return None;
        }
        match x.as_slice::<f32>() {
            Some(data) => Some(f(data)),
            None => {
                let contiguous = x.to_contiguous();
                Some(f(contiguous.as_slice::<f32>()?))
            }
        }
    }

    pub(super) fn value(x: &FlexTensor, kernel: &Kernel) -> Option<FlexTensor> {
        let dims = x.shape().to_vec();
        let value = with_f32(x, |data| host::value(kernel, data, &dims))?;
        Some(FlexTensor::from_data(TensorData::new(
            vec![value as f32],
            [1],
        )))
    }

    pub(super) fn top_k_mask(scores: &FlexTensor, k: usize) -> Option<FlexTensor> {
        let dims = scores.shape().to_vec();
        let row = *dims.last()?;
        let mask = with_f32(scores, |data| host::top_k_mask(data, row, k))?;
        Some(FlexTensor::from_data(TensorData::new(mask, dims)))
    }

    pub(super) fn grad(
        x: &FlexTensor,
        upstream: &FlexTensor,
        kernel: &Kernel,
    ) -> Option<FlexTensor> {
        let dims = x.shape().to_vec();
        let upstream = f64::from(with_f32(upstream, |u| u.first().copied())??);
        if let Kernel::Kl { target, beta, eps } = kernel {
            // The same factor for every row: one row, broadcast as a view (as the op chain's
            // gradient is), not a written [rows, cols] tensor.
            let cols = dims.last().copied().unwrap_or(1);
            let factors = with_f32(x, |data| {
                host::kl_column_factors(data, cols, *target, *eps, upstream * beta)
            })?;
            let mut row_dims = vec![1; dims.len().max(1)];
            *row_dims.last_mut()? = cols;
            let row = FlexTensor::from_data(TensorData::new(factors, row_dims));
            return Some(
                <burn::backend::Flex as burn::backend::ops::FloatTensorOps<burn::backend::Flex>>::float_expand(row, dims.into()),
            );
        }
        let grad = with_f32(x, |data| host::grad(kernel, data, &dims, upstream))?;
        Some(FlexTensor::from_data(TensorData::new(grad, dims)))
    }
}

/// The backward step: `x`'s gradient from the fused kernel, given the incoming gradient.
#[derive(Debug)]
struct FusedPenaltyBackward;

impl<B: FusedPenaltyOps> Backward<B, 1> for FusedPenaltyBackward {
    /// The input and the kernel.
    type State = (FloatTensor<B>, Kernel);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (x, kernel) = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |upstream| {
            B::fused_penalty_grad(x, upstream, kernel)
                .expect("a backend with a fused forward has its fused backward")
        });
    }
}

impl<B: FusedPenaltyOps, C: CheckpointStrategy> FusedPenaltyOps for Autodiff<B, C> {
    fn fused_penalty(x: FloatTensor<Self>, kernel: Kernel) -> Option<FloatTensor<Self>> {
        let (x, node) = x.into_parts();
        let value = B::fused_penalty(x.clone(), kernel.clone())?;
        Some(
            match FusedPenaltyBackward
                .prepare::<C>([node])
                .compute_bound()
                .stateful()
            {
                OpsKind::Tracked(prep) => prep.finish((x, kernel), value),
                OpsKind::UnTracked(prep) => prep.finish(value),
            },
        )
    }

    fn fused_top_k_mask(scores: FloatTensor<Self>, k: usize) -> Option<FloatTensor<Self>> {
        // A constant of the graph: no gradient flows through a mask.
        let mask = B::fused_top_k_mask(scores.into_primitive(), k)?;
        Some(<Self as AutodiffBackend>::from_inner(mask))
    }
}

/// The penalty described by `kernel` on `x`, in one fused pass (and one for the gradient on
/// an autodiff device), or `None` when `x`'s backend has no fused kernel for it (Flex, wgpu
/// and CUDA have them all; the other backends none) or `x` is not `float32`: then use the op
/// chain.
pub fn fused_penalty<const D: usize>(x: &Tensor<D>, kernel: Kernel) -> Option<Tensor<1>> {
    if !enabled() {
        return None;
    }
    <Dispatch as FusedPenaltyOps>::fused_penalty(x.clone().into_dispatch(), kernel)
        .map(Tensor::from_dispatch)
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
    <Dispatch as FusedPenaltyOps>::fused_top_k_mask(scores.clone().into_dispatch(), k)
        .map(Tensor::from_dispatch)
}

/// Whether the fused kernels are used (the default); see [`set_enabled`].
static ENABLED: AtomicBool = AtomicBool::new(true);

/// Turns the fused kernels on or off for the whole process: with `false`, every penalty and
/// the top-k mask run their Burn op chains on every backend. For benchmarks (the op chain
/// against the fused kernel in one run) and for ruling the kernels out when debugging; the
/// results agree within float32 rounding either way.
///
/// ```
/// use burn::prelude::*;
/// use sparse_losses::prelude::*;
///
/// let l1 = L1Config::new().init()?;
/// let x = Tensor::<1>::from_floats([1.0, -2.0], &Device::flex());
/// sparse_losses::fused::set_enabled(false);
/// let chain: f32 = l1.forward(x.clone())?.into_scalar();
/// sparse_losses::fused::set_enabled(true);
/// let fused: f32 = l1.forward(x)?.into_scalar();
/// assert_eq!(chain, fused);
/// # Ok::<(), sparse_losses::Error>(())
/// ```
pub fn set_enabled(enabled: bool) {
    ENABLED.store(enabled, Ordering::Relaxed);
}

/// Whether the fused kernels are in use ([`set_enabled`]).
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}
