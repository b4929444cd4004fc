//! JumpReLU and its Heaviside step as custom autodiff operations with the rectangle-kernel
//! pseudo-derivatives of Rajamanoharan et al. (2024).
//!
//! With bandwidth ε and the strict rectangle kernel `K(u) = 1[−½ < u < ½]`:
//!
//! ```text
//! jump_relu(z, θ) = z · 1[z > θ]     ∂/∂z = 1[z > θ]    ∂/∂θ = −(θ/ε) K((z − θ)/ε)
//! jump_step(z, θ) = 1[z > θ]         ∂/∂z = 0           ∂/∂θ = −(1/ε) K((z − θ)/ε)
//! ```
//!
//! Both are real operations of Burn's autodiff graph, declared with `#[backend_extension]`
//! like [`straight_through`](crate::ops::ste::straight_through): the concrete backends (Flex,
//! NdArray, CubeCL for wgpu and CUDA) compute the forward from their own ops, and the
//! `Autodiff` decorator registers a [`Backward`] step with two parents, `z` and `θ`. On a
//! device without autodiff the same calls compute the forward alone.
// NdArray is deprecated in Burn 0.22 but still supported, and this crate offers it.
#![allow(deprecated)]

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{binary, Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::TensorMetadata;
use burn::backend::{backend_extension, get_device_settings, Autodiff, Backend, Dispatch};
use burn::tensor::Tensor;

/// The JumpReLU operations, implemented for every backend this crate enables.
#[backend_extension(
    Flex: cfg(feature = "flex"),
    NdArray: cfg(feature = "ndarray"),
    Cube: cfg(any(feature = "wgpu", feature = "cuda")),
    Autodiff
)]
pub trait JumpReluOps: Backend {
    /// Forward `z · 1[z > θ]` (`θ` has the shape of `z`; ε only matters to the backward pass).
    #[allow(unused_variables)]
    fn jump_relu(
        z: FloatTensor<Self>,
        threshold: FloatTensor<Self>,
        bandwidth: f64,
    ) -> FloatTensor<Self> {
        let above = step_forward::<Self>(z.clone(), threshold);
        Self::float_mul(z, above)
    }

    /// Forward `1[z > θ]` as 0/1 floats (`θ` has the shape of `z`).
    #[allow(unused_variables)]
    fn jump_step(
        z: FloatTensor<Self>,
        threshold: FloatTensor<Self>,
        bandwidth: f64,
    ) -> FloatTensor<Self> {
        step_forward::<Self>(z, threshold)
    }
}

#[cfg(feature = "flex")]
impl JumpReluOps for burn::backend::Flex {}
#[cfg(feature = "ndarray")]
impl JumpReluOps for burn::backend::NdArray {}
#[cfg(any(feature = "wgpu", feature = "cuda"))]
impl JumpReluOps for burn::backend::Cube {}

/// `1[z > θ]` as floats of `z`'s dtype.
fn step_forward<B: Backend>(z: FloatTensor<B>, threshold: FloatTensor<B>) -> FloatTensor<B> {
    let dtype = z.dtype();
    let bool_dtype = get_device_settings::<B>(&z.device()).bool_dtype;
    B::bool_into_float(B::float_greater(z, threshold, bool_dtype), dtype.into())
}

/// `K((z − θ)/ε) = 1[|z − θ|/ε < ½]` as floats.
fn kernel<B: Backend>(
    z: FloatTensor<B>,
    threshold: FloatTensor<B>,
    bandwidth: f64,
) -> FloatTensor<B> {
    let dtype = z.dtype();
    let bool_dtype = get_device_settings::<B>(&z.device()).bool_dtype;
    let u = B::float_div_scalar(B::float_sub(z, threshold), bandwidth.into());
    let inside = B::float_lower_elem(B::float_abs(u), 0.5.into(), bool_dtype);
    B::bool_into_float(inside, dtype.into())
}

/// Which of the two operations a backward step belongs to.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// `z · 1[z > θ]`.
    JumpRelu,
    /// `1[z > θ]`.
    Step,
}

/// The backward step of both operations: the rectangle-kernel pseudo-derivatives.
#[derive(Debug)]
struct JumpReluBackward {
    kind: Kind,
    bandwidth: f64,
}

impl<B: Backend> Backward<B, 2> for JumpReluBackward {
    /// The inputs `z` and `θ`.
    type State = (FloatTensor<B>, FloatTensor<B>);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (z, threshold) = ops.state;
        let (z_for_theta, theta_for_theta) = (z.clone(), threshold.clone());
        let Self { kind, bandwidth } = self;
        binary::<B, _, _>(
            ops.parents,
            ops.node,
            grads,
            // ∂/∂z
            |grad| match kind {
                Kind::JumpRelu => B::float_mul(grad, step_forward::<B>(z, threshold)),
                Kind::Step => {
                    let dtype = grad.dtype();
                    B::float_zeros(grad.shape(), &grad.device(), dtype.into())
                }
            },
            // ∂/∂θ = −(θ/ε) K (JumpReLU) or −(1/ε) K (step)
            |grad| {
                let k = kernel::<B>(z_for_theta, theta_for_theta.clone(), bandwidth);
                let scaled = B::float_mul_scalar(B::float_mul(grad, k), (-1.0 / bandwidth).into());
                match kind {
                    Kind::JumpRelu => B::float_mul(scaled, theta_for_theta),
                    Kind::Step => scaled,
                }
            },
        );
    }
}

/// Registers `kind` on the autodiff graph with parents `z` and `θ`.
fn jump_op<B: JumpReluOps, C: CheckpointStrategy>(
    kind: Kind,
    z: FloatTensor<Autodiff<B, C>>,
    threshold: FloatTensor<Autodiff<B, C>>,
    bandwidth: f64,
) -> FloatTensor<Autodiff<B, C>> {
    let (z, z_node) = z.into_parts();
    let (threshold, threshold_node) = threshold.into_parts();
    let forward = |z, threshold| match kind {
        Kind::JumpRelu => B::jump_relu(z, threshold, bandwidth),
        Kind::Step => B::jump_step(z, threshold, bandwidth),
    };
    match (JumpReluBackward { kind, bandwidth })
        .prepare::<C>([z_node, threshold_node])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let state = (z.clone(), threshold.clone());
            prep.finish(state, forward(z, threshold))
        }
        OpsKind::UnTracked(prep) => prep.finish(forward(z, threshold)),
    }
}

impl<B: JumpReluOps, C: CheckpointStrategy> JumpReluOps for Autodiff<B, C> {
    fn jump_relu(
        z: FloatTensor<Self>,
        threshold: FloatTensor<Self>,
        bandwidth: f64,
    ) -> FloatTensor<Self> {
        jump_op::<B, C>(Kind::JumpRelu, z, threshold, bandwidth)
    }

    fn jump_step(
        z: FloatTensor<Self>,
        threshold: FloatTensor<Self>,
        bandwidth: f64,
    ) -> FloatTensor<Self> {
        jump_op::<B, C>(Kind::Step, z, threshold, bandwidth)
    }
}

/// JumpReLU `y = z · 1[z > θ]` with the pseudo-derivatives `∂y/∂z = 1[z > θ]` and
/// `∂y/∂θ = −(θ/ε) K((z − θ)/ε)`, `K(u) = 1[−½ < u < ½]`, ε = `bandwidth`.
///
/// `threshold` must have the shape of `z` (expand a per-latent θ first: the gradient of
/// Burn's `expand` sums it back over the batch). `bandwidth` must be `> 0`; the checked,
/// module form is [`JumpRelu`](crate::activation::JumpRelu). On a device without autodiff this
/// computes the forward alone.
///
/// ```
/// use burn::prelude::*;
/// use sparse_losses::ops::jump_relu::jump_relu;
///
/// let device = Device::flex().autodiff();
/// let z = Tensor::<1>::from_floats([0.5, 1.0004, 2.0], &device).require_grad();
/// let theta = Tensor::<1>::from_floats([1.0, 1.0, 1.0], &device).require_grad();
/// let y = jump_relu(z.clone(), theta.clone(), 1e-3);
/// let v: Vec<f32> = y.clone().into_data().try_into_vec().unwrap();
/// assert_eq!(v, [0.0, 1.0004, 2.0]);
/// let grads = y.sum().backward();
/// let gz: Vec<f32> = z.grad(&grads).unwrap().into_data().try_into_vec().unwrap();
/// assert_eq!(gz, [0.0, 1.0, 1.0]);
/// // Only z = 1.0004 lies in the window |z − θ| < ε/2: ∂/∂θ = −θ/ε = −1000 there.
/// let gt: Vec<f32> = theta.grad(&grads).unwrap().into_data().try_into_vec().unwrap();
/// assert_eq!(gt, [0.0, -1000.0, 0.0]);
/// ```
pub fn jump_relu<const D: usize>(z: Tensor<D>, threshold: Tensor<D>, bandwidth: f64) -> Tensor<D> {
    Tensor::from_dispatch(<Dispatch as JumpReluOps>::jump_relu(
        z.into_dispatch(),
        threshold.into_dispatch(),
        bandwidth,
    ))
}

/// The Heaviside step `H = 1[z > θ]` with the pseudo-derivatives `∂H/∂z = 0` and
/// `∂H/∂θ = −(1/ε) K((z − θ)/ε)`: the building block of JumpReLU's L0 term.
///
/// Same conventions as [`jump_relu`] (`threshold` has the shape of `z`, `bandwidth > 0`).
///
/// ```
/// use burn::prelude::*;
/// use sparse_losses::ops::jump_relu::jump_step;
///
/// let device = Device::flex().autodiff();
/// let z = Tensor::<1>::from_floats([0.5, 1.0004, 2.0], &device).require_grad();
/// let theta = Tensor::<1>::from_floats([1.0, 1.0, 1.0], &device).require_grad();
/// let h = jump_step(z.clone(), theta.clone(), 1e-3);
/// let v: Vec<f32> = h.clone().into_data().try_into_vec().unwrap();
/// assert_eq!(v, [0.0, 1.0, 1.0]);
/// let grads = h.sum().backward();
/// let gz: Vec<f32> = z.grad(&grads).unwrap().into_data().try_into_vec().unwrap();
/// assert_eq!(gz, [0.0; 3]);
/// let gt: Vec<f32> = theta.grad(&grads).unwrap().into_data().try_into_vec().unwrap();
/// assert_eq!(gt, [0.0, -1000.0, 0.0]);
/// ```
pub fn jump_step<const D: usize>(z: Tensor<D>, threshold: Tensor<D>, bandwidth: f64) -> Tensor<D> {
    Tensor::from_dispatch(<Dispatch as JumpReluOps>::jump_step(
        z.into_dispatch(),
        threshold.into_dispatch(),
        bandwidth,
    ))
}
