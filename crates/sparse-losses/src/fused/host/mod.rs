//! The CPU kernels behind [`Kernel`]: plain Rust on `&[f32]` (row-major, contiguous), in
//! parallel on rayon's pool, accumulating in `f64`.
//!
//! [`value`] reads the data once; [`grad`] reads it once (twice for the kernels that need a
//! statistic of a row, a column or a group first) and writes the gradient once.

mod elementwise;
mod group_lasso;
pub(crate) mod math;
mod rows;
mod top_k;
mod total_variation;

pub(crate) use rows::kl_column_factors;
pub use top_k::top_k_mask;

use super::Kernel;

/// Elements per parallel task: large enough that rayon's overhead is noise, small enough to
/// split a `[256, 1024]` batch between cores.
pub(crate) const CHUNK: usize = 1 << 14;

/// The penalty `kernel` of the row-major tensor `data` of shape `dims`.
pub fn value(kernel: &Kernel, data: &[f32], dims: &[usize]) -> f64 {
    match kernel {
        Kernel::Elementwise { f, scale } => scale * elementwise::value(*f, data),
        Kernel::Hoyer {
            lambda,
            squared,
            row,
        } => lambda * rows::hoyer_value(data, *row, *squared),
        Kernel::Entropy { lambda, softmax } => {
            lambda * rows::entropy_value(data, last(dims), *softmax)
        }
        Kernel::Kl { target, beta, eps } => beta * rows::kl_value(data, last(dims), *target, *eps),
        Kernel::GroupLasso {
            lambda,
            l1_ratio,
            axis,
            group_of,
            weights,
        } => {
            let layout = group_lasso::Layout::new(dims, *axis, group_of, weights);
            lambda * group_lasso::value(data, &layout, *l1_ratio)
        }
        Kernel::TotalVariation { kind, scale } => scale * total_variation::value(data, dims, *kind),
    }
}

/// The gradient of `upstream · value(kernel, data, dims)` with respect to `data`.
pub fn grad(kernel: &Kernel, data: &[f32], dims: &[usize], upstream: f64) -> Vec<f32> {
    match kernel {
        Kernel::Elementwise { f, scale } => elementwise::grad(*f, data, upstream * scale),
        Kernel::Hoyer {
            lambda,
            squared,
            row,
        } => rows::hoyer_grad(data, *row, *squared, upstream * lambda),
        Kernel::Entropy { lambda, softmax } => {
            rows::entropy_grad(data, last(dims), *softmax, upstream * lambda)
        }
        Kernel::Kl { target, beta, eps } => {
            rows::kl_grad(data, last(dims), *target, *eps, upstream * beta)
        }
        Kernel::GroupLasso {
            lambda,
            l1_ratio,
            axis,
            group_of,
            weights,
        } => {
            let layout = group_lasso::Layout::new(dims, *axis, group_of, weights);
            group_lasso::grad(data, &layout, *l1_ratio, upstream * lambda)
        }
        Kernel::TotalVariation { kind, scale } => {
            total_variation::grad(data, dims, *kind, upstream * scale)
        }
    }
}

/// The last dimension (a rank-0 shape is one element).
fn last(dims: &[usize]) -> usize {
    dims.last().copied().unwrap_or(1)
}
