//! The CubeCL side of [`FusedPenaltyOps`](super::FusedPenaltyOps) and
//! [`FusedTopKOps`](super::FusedTopKOps): `f32` kernels on Burn's CubeCL backend (wgpu, CUDA:
//! the kernels are generic over the runtime, and a tensor's device says which one runs them),
//! launched on `CubeTensor`s.
//!
//! One file per kernel family, the twin of the same file in `host/`: `cube/x.rs` holds the
//! `#[cube]` kernels of `host/x.rs`'s computation and the Rust that launches them,
//! with a `value` (the forward, shape `[1]`) and a `grad` (the backward) that [`value`] and
//! [`grad`] here dispatch to by [`Kernel`] variant:
//!
//! | [`Kernel`] | family |
//! | --- | --- |
//! | [`Kernel::Elementwise`] | [`elementwise`] |
//! | [`Kernel::Hoyer`] | [`hoyer`] |
//! | [`Kernel::Entropy`] | [`entropy`] |
//! | [`Kernel::Kl`] | [`kl`] |
//! | [`Kernel::GroupLasso`] | [`group_lasso`] |
//! | [`Kernel::TotalVariation`] | [`total_variation`] |
//! | the top-k mask ([`top_k_mask`]) | [`top_k`] |
//!
//! Shared by the families: [`launch`] (Burn's primitive as a `CubeTensor` and back, cube sizes
//! and grids, the operands of a backward pass), [`reduce`] (the two-pass sum of every forward,
//! the column sums) and [`math`] (`sign`, `log1p`, `expm1`, `tanh`, `hypot` on the device).
//!
//! Reductions are two-pass and need no atomics: every cube reduces its part to one partial in
//! shared memory (a tree of `CUBE_DIM` units, a power of two), and one cube adds the partials.
//! Backward kernels read the upstream gradient from device memory (no host read-back). Dtypes
//! other than `float32`, and an inconsistent group description, return `None` (the op chain
//! runs).
//!
//! `burn::backend::Cube` is `CubeBackend` unless Burn's `fusion` feature is on, when it is
//! `Fusion<CubeBackend>`, whose tensors are lazy: [`value`] and [`grad`] take the backend's
//! primitive by type and return `None` for any primitive other than a `CubeTensor`, so a build
//! with fusion compiles and takes the op chain.

mod elementwise;
mod entropy;
mod group_lasso;
mod hoyer;
mod kl;
mod launch;
mod math;
mod reduce;
mod top_k;
mod total_variation;

pub(super) use top_k::top_k_mask;

use burn::tensor::DType;
use burn_cubecl::cubecl::calculate_cube_count_elemwise;
use burn_cubecl::cubecl::prelude::CubeDim;
use burn_cubecl::kernel::cast as cast_dtype;
use burn_cubecl::ops::numeric::empty_device_contiguous_dtype;
use burn_cubecl::tensor::CubeTensor;

use super::kernel::Kernel;
use launch::{downcast, elements, input, GradLaunch};

/// The penalty `kernel` of `x` (the backend's float primitive), shape `[1]`; `None` for a
/// kernel without a CubeCL version, a dtype other than `float32` or a primitive that is not a
/// `CubeTensor`.
pub(super) fn value<T: 'static>(x: T, kernel: &Kernel) -> Option<T> {
    let x = input(downcast::<T, CubeTensor>(x)?)?;
    let n = elements(&x)?;
    let out = match kernel {
        Kernel::Elementwise { f, scale } => elementwise::value(&x, n, *f, *scale),
        Kernel::TotalVariation { kind, scale } => total_variation::value(&x, n, *kind, *scale)?,
        Kernel::Hoyer {
            lambda,
            squared,
            row,
        } => hoyer::value(&x, n, *lambda, *squared, *row)?,
        Kernel::Entropy { lambda, softmax } => entropy::value(&x, n, *lambda, *softmax)?,
        Kernel::Kl { target, beta, eps } => kl::value(&x, n, *target, *beta, *eps)?,
        Kernel::GroupLasso {
            lambda,
            l1_ratio,
            axis,
            group_of,
            weights,
        } => group_lasso::value(&x, n, *lambda, *l1_ratio, *axis, group_of, weights)?,
    };
    downcast(out)
}

/// The gradient of `upstream · value(x, kernel)` with respect to `x` (`upstream` has shape
/// `[1]`, read on the device); `None` where [`value`] is.
pub(super) fn grad<T: 'static>(x: T, upstream: T, kernel: &Kernel) -> Option<T> {
    let x = input(downcast::<T, CubeTensor>(x)?)?;
    let upstream = downcast::<T, CubeTensor>(upstream)?;
    let upstream = input(cast_dtype(upstream, DType::F32))?;
    let n = elements(&x)?;
    let client = x.client.clone();
    let out = empty_device_contiguous_dtype(
        client.clone(),
        x.device.clone(),
        x.meta.shape().clone(),
        DType::F32,
    );
    let dim = CubeDim::new(&client, n as usize);
    let count = calculate_cube_count_elemwise(&client, n as usize, dim);
    let g = GradLaunch {
        client,
        x,
        upstream,
        out: out.clone(),
        n,
        count,
        dim,
    };
    match kernel {
        Kernel::Elementwise { f, scale } => elementwise::grad(g, *f, *scale),
        Kernel::TotalVariation { kind, scale } => total_variation::grad(g, *kind, *scale)?,
        Kernel::Hoyer {
            lambda,
            squared,
            row,
        } => hoyer::grad(g, *lambda, *squared, *row)?,
        Kernel::Entropy { lambda, softmax } => entropy::grad(g, *lambda, *softmax)?,
        Kernel::Kl { target, beta, eps } => kl::grad(g, *target, *beta, *eps)?,
        Kernel::GroupLasso {
            lambda,
            l1_ratio,
            axis,
            group_of,
            weights,
        } => group_lasso::grad(g, *lambda, *l1_ratio, *axis, group_of, weights)?,
    }
    downcast(out)
}
