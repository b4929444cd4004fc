//! `codes · weight` for sparse codes (most entries exactly 0), as a custom autodiff operation:
//! the product and the weight's gradient skip the zeros on Flex.
//!
//! An SAE's decoder multiplies codes with k ≪ h nonzeros per row (TopK: 32 of 1024) by the
//! decoder matrix. A dense GEMM does h / k times the necessary work in the forward pass and in
//! the weight's gradient (`codesᵀ · grad`). [`sparse_matmul`] does only the nonzero part on
//! Flex when at most a quarter of the codes are nonzero; the codes' gradient (`grad · weightᵀ`,
//! dense by nature) stays a GEMM. Other backends, and denser codes, use `matmul`.
// NdArray is deprecated in Burn 0.22 but still supported, and this crate offers it.
#![allow(deprecated)]

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{binary, Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{backend_extension, Autodiff, Backend, Dispatch};
use burn::tensor::Tensor;

/// Codes denser than this (fraction of nonzeros) take the dense GEMM.
pub const SPARSE_BELOW: f64 = 0.25;

/// The sparse product as an operation of a backend: `Some` on Flex for sparse enough `f32`
/// codes, `None` elsewhere (the caller then uses `matmul`).
#[backend_extension(
    Flex: cfg(feature = "flex"),
    NdArray: cfg(feature = "ndarray"),
    Cube: cfg(any(feature = "wgpu", feature = "cuda")),
    Autodiff
)]
pub trait SparseMatmulOps: Backend {
    /// `codes [B, h] · weight [h, d]`, or `None`.
    #[allow(unused_variables)]
    fn sparse_matmul(
        codes: FloatTensor<Self>,
        weight: FloatTensor<Self>,
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
}

#[cfg(feature = "flex")]
impl SparseMatmulOps for burn::backend::Flex {
    fn sparse_matmul(
        codes: FloatTensor<Self>,
        weight: FloatTensor<Self>,
    ) -> Option<FloatTensor<Self>> {
        flex::product(&codes, &weight)
    }

    fn sparse_matmul_weight_grad(
        codes: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> Option<FloatTensor<Self>> {
        flex::weight_grad(&codes, &grad)
    }
}
#[cfg(feature = "ndarray")]
impl SparseMatmulOps for burn::backend::NdArray {}
#[cfg(any(feature = "wgpu", feature = "cuda"))]
impl SparseMatmulOps for burn::backend::Cube {}

#[cfg(feature = "flex")]
mod flex {
    use burn::backend::flex::FlexTensor;
    use burn::backend::TensorMetadata;
    use burn::tensor::{DType, TensorData};
    use rayon::prelude::*;

    use super::SPARSE_BELOW;

    /// `x` as a contiguous `f32` matrix `(data, rows, cols)`; `None` for another dtype or rank.
    fn matrix(x: &FlexTensor) -> Option<(std::borrow::Cow<'_, [f32]>, usize, usize)> {
        let dims = x.shape().to_vec();
        if x.dtype() != DType::F32 || dims.len() != 2 {
            return None;
        }
        let data = match x.as_slice::<f32>() {
            Some(s) => std::borrow::Cow::Borrowed(s),
            None => std::borrow::Cow::Owned(x.to_contiguous().as_slice::<f32>()?.to_vec()),
        };
        Some((data, dims[0], dims[1]))
    }

    /// Each row's nonzero `(index, value)` pairs, or `None` when the codes are too dense.
    fn nonzeros(codes: &[f32], rows: usize, h: usize) -> Option<Vec<Vec<(usize, f32)>>> {
        let nnz = codes.iter().filter(|&&c| c != 0.0).count();
        if nnz as f64 > SPARSE_BELOW * (rows * h) as f64 {
            return None;
        }
        Some(
            codes
                .chunks(h)
                .map(|row| {
                    row.iter()
                        .enumerate()
                        .filter(|(_, &c)| c != 0.0)
                        .map(|(j, &c)| (j, c))
                        .collect()
                })
                .collect(),
        )
    }

    pub(super) fn product(codes: &FlexTensor, weight: &FlexTensor) -> Option<FlexTensor> {
        let (c, rows, h) = matrix(codes)?;
        let (w, h2, d) = matrix(weight)?;
        if h != h2 || rows == 0 || d == 0 {
            return None;
        }
        let nz = nonzeros(&c, rows, h)?;
        let mut out = vec![0f32; rows * d];
        out.par_chunks_mut(d)
            .zip(nz.par_iter())
            .for_each(|(o, row)| {
                for &(j, v) in row {
                    for (o, &w) in o.iter_mut().zip(&w[j * d..(j + 1) * d]) {
                        *o += v * w;
                    }
                }
            });
        Some(FlexTensor::from_data(TensorData::new(out, [rows, d])))
    }

    pub(super) fn weight_grad(codes: &FlexTensor, grad: &FlexTensor) -> Option<FlexTensor> {
        let (c, rows, h) = matrix(codes)?;
        let (g, rows2, d) = matrix(grad)?;
        if rows != rows2 || d == 0 {
            return None;
        }
        let nz = nonzeros(&c, rows, h)?;
        let mut out = vec![0f32; h * d];
        // Split the columns between tasks: each task owns a slice of every row of the result.
        let tasks = rayon::current_num_threads().max(1);
        let width = d.div_ceil(tasks).max(64).min(d);
        let bounds: Vec<(usize, usize)> = (0..d)
            .step_by(width)
            .map(|s| (s, (s + width).min(d)))
            .collect();
        let parts: Vec<Vec<f32>> = bounds
            .par_iter()
            .map(|&(s, e)| {
                let w = e - s;
                let mut part = vec![0f32; h * w];
                for (b, row) in nz.iter().enumerate() {
                    let gb = &g[b * d + s..b * d + e];
                    for &(j, v) in row {
                        for (p, &x) in part[j * w..(j + 1) * w].iter_mut().zip(gb) {
                            *p += v * x;
                        }
                    }
                }
                part
            })
            .collect();
        for (&(s, e), part) in bounds.iter().zip(parts) {
            let w = e - s;
            for (j, chunk) in part.chunks(w).enumerate() {
                out[j * d + s..j * d + e].copy_from_slice(chunk);
            }
        }
        Some(FlexTensor::from_data(TensorData::new(out, [h, d])))
    }
}

/// The backward step: the codes get `grad · weightᵀ`, the weight `codesᵀ · grad` (sparse).
#[derive(Debug)]
struct SparseMatmulBackward;

impl<B: SparseMatmulOps> Backward<B, 2> for SparseMatmulBackward {
    /// The codes and the weight.
    type State = (FloatTensor<B>, FloatTensor<B>);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (codes, weight) = ops.state;
        binary::<B, _, _>(
            ops.parents,
            ops.node,
            grads,
            |grad| B::float_matmul(grad, B::float_transpose(weight)),
            |grad| {
                B::sparse_matmul_weight_grad(codes.clone(), grad.clone())
                    .unwrap_or_else(|| B::float_matmul(B::float_transpose(codes), grad))
            },
        );
    }
}

impl<B: SparseMatmulOps, C: CheckpointStrategy> SparseMatmulOps for Autodiff<B, C> {
    fn sparse_matmul(
        codes: FloatTensor<Self>,
        weight: FloatTensor<Self>,
    ) -> Option<FloatTensor<Self>> {
        let (codes, codes_node) = codes.into_parts();
        let (weight, weight_node) = weight.into_parts();
        let out = B::sparse_matmul(codes.clone(), weight.clone())?;
        Some(
            match SparseMatmulBackward
                .prepare::<C>([codes_node, weight_node])
                .compute_bound()
                .stateful()
            {
                OpsKind::Tracked(prep) => prep.finish((codes, weight), out),
                OpsKind::UnTracked(prep) => prep.finish(out),
            },
        )
    }
}

/// `codes · weight` (`[B, h] · [h, d]`), skipping the zero codes on Flex when at most a
/// quarter of them are nonzero (forward and the weight's gradient); `matmul` otherwise. Same
/// value and gradients as `codes.matmul(weight)` up to float32 rounding.
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
    if crate::fused::enabled() {
        let fused = <Dispatch as SparseMatmulOps>::sparse_matmul(
            codes.clone().into_dispatch(),
            weight.clone().into_dispatch(),
        );
        if let Some(out) = fused {
            return Tensor::from_dispatch(out);
        }
    }
    codes.matmul(weight)
}
