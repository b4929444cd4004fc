//! The Flex side of the fused operations ([`FusedPenaltyOps`](super::FusedPenaltyOps),
//! [`FusedTopKOps`](super::FusedTopKOps)): borrow the `float32` data (a contiguous copy only
//! for a strided view), run the [`host`](super::host) kernel, wrap the result.

use burn::backend::flex::FlexTensor;
use burn::backend::TensorMetadata;
use burn::tensor::{DType, TensorData};

use super::host;
use super::kernel::Kernel;

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

/// [`host::value`] of `x`, shape `[1]`; `None` for a dtype other than `float32`.
pub(super) fn value(x: &FlexTensor, kernel: &Kernel) -> Option<FlexTensor> {
    let dims = x.shape().to_vec();
    let value = with_f32(x, |data| host::value(kernel, data, &dims))?;
    Some(FlexTensor::from_data(TensorData::new(
        vec![value as f32],
        [1],
    )))
}

/// [`host::top_k_mask`] of the rows (last dimension) of `scores`; `None` for a dtype other
/// than `float32` or a rank-0 tensor.
pub(super) fn top_k_mask(scores: &FlexTensor, k: usize) -> Option<FlexTensor> {
    let dims = scores.shape().to_vec();
    let row = *dims.last()?;
    let mask = with_f32(scores, |data| host::top_k_mask(data, row, k))?;
    Some(FlexTensor::from_data(TensorData::new(mask, dims)))
}

/// [`host::grad`] of `x` times `upstream[0]` (KL sparsity: one row of factors, broadcast);
/// `None` for a dtype other than `float32`.
pub(super) fn grad(x: &FlexTensor, upstream: &FlexTensor, kernel: &Kernel) -> Option<FlexTensor> {
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
