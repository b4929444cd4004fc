//! Products of an SAE whose work is mostly zeros, as custom autodiff operations that skip the
//! zeros on Flex.
//!
//! An SAE's codes have k ≪ h nonzeros per row (TopK: 32 of 1024), and so does the gradient
//! of its pre-activations (ReLU and TopK pass no gradient where a code is 0). A dense GEMM
//! does h / k times the necessary work in each of these products:
//!
//! - [`sparse_matmul`]: the decoder's `codes · W_dec`; its backward `codesᵀ · grad` for the
//!   weight. The codes' gradient `grad · W_decᵀ` is dense by nature.
//! - [`sparse_matmul_on_support`]: the same, with the codes' gradient computed only where the
//!   codes are nonzero (one dot product per nonzero), for codes from an activation that passes
//!   no gradient through zero outputs (ReLU, TopK, BatchTopK).
//! - [`centred_matmul`]: the encoder's dense `(x − b_dec) · W_enc`, whose backward products
//!   (`(x − b_dec)ᵀ · grad` for the weight, `grad · W_encᵀ` for `x`) skip the zeros of the
//!   incoming gradient, and whose centre gets a vector-matrix product.
//!
//! On Flex, each product takes the sparse path when at most a quarter ([`SPARSE_BELOW`]) of
//! the entries it skips on are nonzero, and a GEMM otherwise; on other backends, a GEMM. Values
//! and gradients equal the dense products' up to float32 rounding.
// NdArray is deprecated in Burn 0.22 but still supported, and this crate offers it.
#![allow(deprecated)]

mod backward;
#[cfg(feature = "flex")]
mod flex;

use burn::backend::tensor::FloatTensor;
use burn::backend::{backend_extension, Autodiff, Backend, Dispatch};
use burn::tensor::Tensor;

use backward::{CentredBackward, SparseMatmulBackward};

/// Operands denser than this (fraction of nonzeros) take the dense GEMM.
pub const SPARSE_BELOW: f64 = 0.25;

/// The sparse products as operations of a backend: `Some` on Flex for sparse enough `f32`
/// operands, `None` elsewhere (the caller then uses `matmul`). The `Autodiff` backend records
/// the products with their own backward steps.
#[backend_extension(
    Flex: cfg(feature = "flex"),
    NdArray: cfg(feature = "ndarray"),
    Cube: cfg(any(feature = "wgpu", feature = "cuda")),
    Autodiff
)]
pub trait SparseMatmulOps: Backend {
    /// `codes [B, h] · weight [h, d]`, or `None`. `on_support`: the codes' gradient only
    /// where they are nonzero (see [`sparse_matmul_on_support`]); it matters only to `Autodiff`.
    #[allow(unused_variables)]
    fn sparse_matmul(
        codes: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        on_support: bool,
    ) -> Option<FloatTensor<Self>> {
        None
    }

    /// `codesᵀ · grad` (`[h, d]`), skipping zero codes, or `None`.
    #[allow(unused_variables)]
    fn sparse_matmul_weight_grad(
        codes: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> Option<FloatTensor<Self>> {
        None
    }

    /// `xᵀ · grad` (`[d, h]`) for `grad [B, h]` and `x [B, d]`, skipping the zeros of `grad`,
    /// or `None`.
    #[allow(unused_variables)]
    fn sparse_matmul_weight_grad_t(
        grad: FloatTensor<Self>,
        x: FloatTensor<Self>,
    ) -> Option<FloatTensor<Self>> {
        None
    }

    /// `grad [B, h] · weightᵀ` (`[B, d]`) for `weight [d, h]`, skipping the zeros of `grad`, or
    /// `None`.
    #[allow(unused_variables)]
    fn sparse_matmul_t(
        grad: FloatTensor<Self>,
        weight: FloatTensor<Self>,
    ) -> Option<FloatTensor<Self>> {
        None
    }

    /// `(grad · weightᵀ) ⊙ 1[codes ≠ 0]` (`[B, h]`), one dot product per nonzero code, or
    /// `None`.
    #[allow(unused_variables)]
    fn sparse_matmul_codes_grad(
        codes: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        weight: FloatTensor<Self>,
    ) -> Option<FloatTensor<Self>> {
        None
    }

    /// `(x [B, d] − centre [d]) · weight [d, h]` recorded with a backward step that skips the
    /// zeros of the incoming gradient, or `None` (only `Autodiff` records it).
    #[allow(unused_variables)]
    fn centred_matmul(
        x: FloatTensor<Self>,
        centre: FloatTensor<Self>,
        weight: FloatTensor<Self>,
    ) -> Option<FloatTensor<Self>> {
        None
    }
}

#[cfg(feature = "flex")]
impl SparseMatmulOps for burn::backend::Flex {
    fn sparse_matmul(
        codes: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        _on_support: bool,
    ) -> Option<FloatTensor<Self>> {
        flex::product(&codes, &weight)
    }

    fn sparse_matmul_weight_grad(
        codes: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> Option<FloatTensor<Self>> {
        flex::weight_grad(&codes, &grad, false)
    }

    fn sparse_matmul_weight_grad_t(
        grad: FloatTensor<Self>,
        x: FloatTensor<Self>,
    ) -> Option<FloatTensor<Self>> {
        flex::weight_grad(&grad, &x, true)
    }

    fn sparse_matmul_t(
        grad: FloatTensor<Self>,
        weight: FloatTensor<Self>,
    ) -> Option<FloatTensor<Self>> {
        flex::product_transposed(&grad, &weight)
    }

    fn sparse_matmul_codes_grad(
        codes: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        weight: FloatTensor<Self>,
    ) -> Option<FloatTensor<Self>> {
        flex::codes_grad_on_support(&codes, &grad, &weight)
    }
}
#[cfg(feature = "ndarray")]
impl SparseMatmulOps for burn::backend::NdArray {}
#[cfg(any(feature = "wgpu", feature = "cuda"))]
impl SparseMatmulOps for burn::backend::Cube {}

impl<B: SparseMatmulOps, C: burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy>
    SparseMatmulOps for Autodiff<B, C>
{
    fn sparse_matmul(
        codes: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        on_support: bool,
    ) -> Option<FloatTensor<Self>> {
        SparseMatmulBackward { on_support }.record::<B, C>(codes, weight)
    }

    fn centred_matmul(
        x: FloatTensor<Self>,
        centre: FloatTensor<Self>,
        weight: FloatTensor<Self>,
    ) -> Option<FloatTensor<Self>> {
        Some(CentredBackward.record::<B, C>(x, centre, weight))
    }
}

/// `codes · weight` (`[B, h] · [h, d]`), skipping the zero codes on Flex when at most a
/// quarter of them are nonzero (forward and the weight's gradient); `matmul` otherwise. Same
/// value and gradients as `codes.matmul(weight)` up to float32 rounding.
///
/// # Panics
/// As `matmul`, inside Burn, when `codes` has not one column per row of `weight` (the
/// kernels check the shapes and leave such products to Burn).
///
/// ```
/// use burn::prelude::*;
/// use sparse_losses::ops::sparse_matmul::sparse_matmul;
///
/// let device = Device::flex();
/// let codes = Tensor::<2>::from_floats([[0.0, 2.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]], &device);
/// let weight = Tensor::<2>::from_floats([[1.0, 1.0], [3.0, -1.0], [5.0, 5.0], [7.0, 7.0]], &device);
/// let y: Vec<f32> = sparse_matmul(codes, weight).into_data().to_vec().unwrap();
/// assert_eq!(y, [6.0, -2.0, 0.0, 0.0]);
/// ```
pub fn sparse_matmul(codes: Tensor<2>, weight: Tensor<2>) -> Tensor<2> {
    product(codes, weight, false)
}

/// [`sparse_matmul`] whose backward gives the codes a gradient only where they are nonzero:
/// `(grad · weightᵀ) ⊙ 1[codes ≠ 0]`, one dot product per nonzero code on Flex instead of a
/// GEMM (on every backend the same masked value).
///
/// Use it for codes made by an activation whose derivative is 0 wherever its output is 0
/// (ReLU, TopK and BatchTopK after a ReLU): the gradients of everything before the activation
/// are then exactly those of `matmul`. Not for JumpReLU's threshold or other pseudo-gradients
/// that read the codes' gradient where a code is 0.
///
/// # Panics
/// As [`sparse_matmul`].
///
/// ```
/// use burn::prelude::*;
/// use sparse_losses::ops::sparse_matmul::sparse_matmul_on_support;
///
/// let device = Device::flex().autodiff();
/// let codes = Tensor::<2>::from_floats([[0.0, 2.0, 0.0]], &device).require_grad();
/// let weight = Tensor::<2>::from_floats([[1.0, 1.0], [3.0, -1.0], [5.0, 5.0]], &device);
/// let y = sparse_matmul_on_support(codes.clone(), weight);
/// let grads = y.sum().backward();
/// let g: Vec<f32> = codes.grad(&grads).unwrap().into_data().to_vec().unwrap();
/// assert_eq!(g, [0.0, 2.0, 0.0]); // matmul's gradient would be [2, 2, 10]
/// ```
pub fn sparse_matmul_on_support(codes: Tensor<2>, weight: Tensor<2>) -> Tensor<2> {
    product(codes, weight, true)
}

fn product(codes: Tensor<2>, weight: Tensor<2>, on_support: bool) -> Tensor<2> {
    if crate::fused::enabled() {
        let out = <Dispatch as SparseMatmulOps>::sparse_matmul(
            codes.clone().into_dispatch(),
            weight.clone().into_dispatch(),
            on_support,
        );
        if let Some(out) = out {
            return Tensor::from_dispatch(out);
        }
    }
    if on_support && codes.is_autodiff() {
        // The same masked gradient through plain ops: `codes ⊙ 1[codes ≠ 0]` equals `codes`,
        // and the mask carries no gradient.
        let support = codes.clone().abs().sign().detach();
        return (codes * support).matmul(weight);
    }
    codes.matmul(weight)
}

/// `(x − centre) · weight` (`[B, d]`, `[d]`, `[d, h]`: an SAE's encoder, `centre = b_dec`),
/// recorded on an autodiff device with a backward step that skips the zeros of the incoming
/// gradient on Flex (`(x − centre)ᵀ · grad` and `grad · weightᵀ` as sparse products when at
/// most a quarter of `grad` is nonzero, as behind ReLU or TopK) and gives the centre
/// `−(Σ_rows grad) · weightᵀ` directly; a plain `(x − centre).matmul(weight)` otherwise. Same
/// value and gradients up to float32 rounding.
///
/// # Panics
/// As `matmul`, inside Burn, when `x`, `centre` and `weight` do not have the widths `d`.
///
/// ```
/// use burn::prelude::*;
/// use burn::tensor::activation::relu;
/// use sparse_losses::ops::sparse_matmul::centred_matmul;
///
/// let device = Device::flex().autodiff();
/// let x = Tensor::<2>::from_floats([[2.0, 3.0]], &device);
/// let centre = Tensor::<1>::from_floats([1.0, 1.0], &device).require_grad();
/// let w = Tensor::<2>::from_floats([[1.0, -1.0, 0.5], [1.0, -1.0, 0.5]], &device).require_grad();
/// let codes = relu(centred_matmul(x, centre.clone(), w.clone())); // [[3, 0, 1.5]]
/// let grads = codes.sum().backward();
/// let gw: Vec<f32> = w.grad(&grads).unwrap().into_data().to_vec().unwrap();
/// assert_eq!(gw, [1.0, 0.0, 1.0, 2.0, 0.0, 2.0]);
/// let gc: Vec<f32> = centre.grad(&grads).unwrap().into_data().to_vec().unwrap();
/// assert_eq!(gc, [-1.5, -1.5]);
/// ```
pub fn centred_matmul(x: Tensor<2>, centre: Tensor<1>, weight: Tensor<2>) -> Tensor<2> {
    if crate::fused::enabled() {
        let out = <Dispatch as SparseMatmulOps>::centred_matmul(
            x.clone().into_dispatch(),
            centre.clone().into_dispatch(),
            weight.clone().into_dispatch(),
        );
        if let Some(out) = out {
            return Tensor::from_dispatch(out);
        }
    }
    (x - centre.unsqueeze::<2>()).matmul(weight)
}
