//! The CPU kernels behind [`Kernel`]: plain Rust on `&[f32]` (row-major, contiguous), in
//! parallel on rayon's pool, accumulating in `f64`.
//!
//! [`value`] reads the data once; [`grad`] reads it once (twice for the kernels that need a
//! statistic of a row, a column or a group first) and writes the gradient once.
//!
//! One file per kernel family, each with a `value` and a `grad` that [`value`] and [`grad`]
//! here dispatch to by [`Kernel`] variant, and its GPU twin of the same name in `cube/`:
//! `elementwise` ([`Kernel::Elementwise`]), `hoyer`, `entropy`, `kl`, `group_lasso`,
//! `total_variation`, and `top_k` ([`top_k_mask`]). Shared: `math` (branch-free `f32`
//! elementary functions, AVX2 dispatch) and `reduce` (the parallel sums and maps, `CHUNK`).

mod elementwise;
mod entropy;
mod group_lasso;
mod hoyer;
mod kl;
pub(crate) mod math;
mod reduce;
mod top_k;
mod total_variation;

pub(crate) use kl::column_factors as kl_column_factors;
pub use top_k::top_k_mask;

use super::kernel::Kernel;

/// The penalty `kernel` of the row-major tensor `data` of shape `dims`.
pub fn value(kernel: &Kernel, data: &[f32], dims: &[usize]) -> f64 {
    match kernel {
        Kernel::Elementwise { f, scale } => scale * elementwise::value(*f, data),
        Kernel::Hoyer {
            lambda,
            squared,
            row,
        } => lambda * hoyer::value(data, *row, *squared),
        Kernel::Entropy { lambda, softmax } => lambda * entropy::value(data, last(dims), *softmax),
        Kernel::Kl { target, beta, eps } => beta * kl::value(data, last(dims), *target, *eps),
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
        } => hoyer::grad(data, *row, *squared, upstream * lambda),
        Kernel::Entropy { lambda, softmax } => {
            entropy::grad(data, last(dims), *softmax, upstream * lambda)
        }
        Kernel::Kl { target, beta, eps } => {
            kl::grad(data, last(dims), *target, *eps, upstream * beta)
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
