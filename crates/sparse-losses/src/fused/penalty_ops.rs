//! The backend extension of the penalties: [`FusedPenaltyOps`], its autodiff backward and
//! [`fused_penalty`].
#![allow(deprecated)]

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{unary, Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{backend_extension, Autodiff, Backend, Dispatch};
use burn::tensor::Tensor;

use super::kernel::Kernel;
use super::switch::enabled;

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
        super::flex::value(&x, &kernel)
    }

    fn fused_penalty_grad(
        x: FloatTensor<Self>,
        upstream: FloatTensor<Self>,
        kernel: Kernel,
    ) -> Option<FloatTensor<Self>> {
        super::flex::grad(&x, &upstream, &kernel)
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
