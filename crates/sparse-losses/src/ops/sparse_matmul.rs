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

    /// The nonzero codes in compressed sparse row form, or `None` when they are too dense.
    struct Csr {
        /// Row `b`'s entries are `entries[starts[b]..starts[b + 1]]`.
        starts: Vec<usize>,
        /// `(column, value)`.
        entries: Vec<(u32, f32)>,
    }

    impl Csr {
        fn new(codes: &[f32], rows: usize, h: usize) -> Option<Self> {
            let nnz = codes.iter().filter(|&&c| c != 0.0).count();
            if nnz as f64 > SPARSE_BELOW * (rows * h) as f64 || h > u32::MAX as usize {
                return None;
            }
            let mut starts = Vec::with_capacity(rows + 1);
            let mut entries = Vec::with_capacity(nnz);
            starts.push(0);
            for row in codes.chunks(h) {
                for (j, &c) in row.iter().enumerate() {
                    if c != 0.0 {
                        entries.push((j as u32, c));
                    }
                }
                starts.push(entries.len());
            }
            Some(Self { starts, entries })
        }

        fn row(&self, b: usize) -> &[(u32, f32)] {
            &self.entries[self.starts[b]..self.starts[b + 1]]
        }

        /// The same entries by column: `(starts, (row, value))`, rows ascending in each column.
        fn transpose(&self, h: usize) -> (Vec<usize>, Vec<(u32, f32)>) {
            let mut counts = vec![0usize; h + 1];
            for &(j, _) in &self.entries {
                counts[j as usize + 1] += 1;
            }
            for j in 0..h {
                counts[j + 1] += counts[j];
            }
            let starts = counts.clone();
            let mut next = counts;
            let mut entries = vec![(0u32, 0f32); self.entries.len()];
            for b in 0..self.starts.len() - 1 {
                for &(j, v) in self.row(b) {
                    entries[next[j as usize]] = (b as u32, v);
                    next[j as usize] += 1;
                }
            }
            (starts, entries)
        }
    }

    /// `out[b, :] += Σ v · w[j, :]` over `entries` (an axpy per nonzero, vectorised).
    /// Compiled for AVX2 + FMA where the CPU has them.
    #[inline(always)]
    fn accumulate(out: &mut [f32], entries: &[(u32, f32)], w: &[f32], d: usize) {
        crate::fused::host::math::vectorized(
            #[inline(always)]
            move || {
                for &(j, v) in entries {
                    let j = j as usize;
                    for (o, &x) in out.iter_mut().zip(&w[j * d..(j + 1) * d]) {
                        *o += v * x;
                    }
                }
            },
        )
    }

    pub(super) fn product(codes: &FlexTensor, weight: &FlexTensor) -> Option<FlexTensor> {
        let (c, rows, h) = matrix(codes)?;
        let (w, h2, d) = matrix(weight)?;
        if h != h2 || rows == 0 || d == 0 {
            return None;
        }
        let csr = Csr::new(&c, rows, h)?;
        let mut out = vec![0f32; rows * d];
        out.par_chunks_mut(d)
            .enumerate()
            .for_each(|(b, o)| accumulate(o, csr.row(b), &w, d));
        Some(FlexTensor::from_data(TensorData::new(out, [rows, d])))
    }

    pub(super) fn weight_grad(codes: &FlexTensor, grad: &FlexTensor) -> Option<FlexTensor> {
        let (c, rows, h) = matrix(codes)?;
        let (g, rows2, d) = matrix(grad)?;
        if rows != rows2 || d == 0 {
            return None;
        }
        // Row j of the result gathers the rows of `grad` where code j is nonzero.
        let (starts, entries) = Csr::new(&c, rows, h)?.transpose(h);
        let mut out = vec![0f32; h * d];
        out.par_chunks_mut(d)
            .enumerate()
            .for_each(|(j, o)| accumulate(o, &entries[starts[j]..starts[j + 1]], &g, d));
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
