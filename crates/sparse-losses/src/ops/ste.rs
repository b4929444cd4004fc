//! The straight-through estimator as a custom autodiff operation.
//!
//! [`straight_through`] returns a hard mask in the forward pass and, in the backward pass, hands
//! the mask's incoming gradient to the scores unchanged (or zeroed where `|s| > 1` when
//! `clipped`). It is a real operation of Burn's autodiff graph, declared with
//! `#[backend_extension]`: concrete backends (Flex, NdArray, CubeCL for wgpu and CUDA) compute
//! the forward, and the `Autodiff` decorator registers a [`Backward`] step.
// NdArray is deprecated in Burn 0.22 but still supported, and this crate offers it.
#![allow(deprecated)]

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{unary, Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::TensorMetadata;
use burn::backend::{backend_extension, get_device_settings, Autodiff, Backend, Dispatch};
use burn::tensor::Tensor;

/// The straight-through-estimator operation, implemented for every backend this crate enables.
#[backend_extension(
    Flex: cfg(feature = "flex"),
    NdArray: cfg(feature = "ndarray"),
    Cube: cfg(any(feature = "wgpu", feature = "cuda")),
    Autodiff
)]
pub trait StraightThroughOps: Backend {
    /// Forward: returns `mask` (the scores only matter to the backward pass).
    #[allow(unused_variables)]
    fn straight_through(
        scores: FloatTensor<Self>,
        mask: FloatTensor<Self>,
        clipped: bool,
    ) -> FloatTensor<Self> {
        mask
    }
}

#[cfg(feature = "flex")]
impl StraightThroughOps for burn::backend::Flex {}
#[cfg(feature = "ndarray")]
impl StraightThroughOps for burn::backend::NdArray {}
#[cfg(any(feature = "wgpu", feature = "cuda"))]
impl StraightThroughOps for burn::backend::Cube {}

/// The backward step: the gradient of the mask flows to the scores, times `1[|s| <= 1]` when
/// clipped.
#[derive(Debug)]
struct StraightThroughBackward;

impl<B: Backend> Backward<B, 1> for StraightThroughBackward {
    /// The 0/1 clip window `1[|s| <= 1]`, when clipped.
    type State = Option<FloatTensor<B>>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let window = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |grad| match window {
            Some(window) => B::float_mul(grad, window),
            None => grad,
        });
    }
}

impl<B: StraightThroughOps, C: CheckpointStrategy> StraightThroughOps for Autodiff<B, C> {
    fn straight_through(
        scores: FloatTensor<Self>,
        mask: FloatTensor<Self>,
        clipped: bool,
    ) -> FloatTensor<Self> {
        let (scores, node) = scores.into_parts();
        // The mask is a constant of the graph: no gradient reaches it.
        let mask = mask.into_primitive();
        match StraightThroughBackward
            .prepare::<C>([node])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let window = clipped.then(|| {
                    let dtype = scores.dtype();
                    let bool_dtype = get_device_settings::<B>(&scores.device()).bool_dtype;
                    let inside = B::float_lower_equal_elem(
                        B::float_abs(scores.clone()),
                        1.0.into(),
                        bool_dtype,
                    );
                    B::bool_into_float(inside, dtype.into())
                });
                prep.finish(window, B::straight_through(scores, mask, clipped))
            }
            OpsKind::UnTracked(prep) => prep.finish(B::straight_through(scores, mask, clipped)),
        }
    }
}

/// Returns `mask` in the forward pass; in the backward pass the gradient of the result flows
/// to `scores` unchanged (`clipped = false`) or times `1[|scores| <= 1]` (`clipped = true`),
/// and nothing flows to `mask`. On a device without autodiff it simply returns `mask`.
///
/// `mask` must have the shape of `scores`; it is normally a function of the scores computed
/// without gradient (see [`MaskRule::mask`](crate::MaskRule::mask)).
pub fn straight_through<const D: usize>(
    scores: Tensor<D>,
    mask: Tensor<D>,
    clipped: bool,
) -> Tensor<D> {
    Tensor::from_dispatch(<Dispatch as StraightThroughOps>::straight_through(
        scores.into_dispatch(),
        mask.into_dispatch(),
        clipped,
    ))
}
