//! The CubeCL side of [`FusedPenaltyOps`](super::FusedPenaltyOps): the [`kernels`] on Burn's
//! CubeCL backend (wgpu, CUDA: the kernels are generic over the runtime, and a tensor's device
//! says which one runs them), launched on `CubeTensor`s.
//!
//! - [`Kernel::Elementwise`] and [`Kernel::TotalVariation`]: the forward is one kernel that
//!   reads `x` once, each cube adding its chunk into one partial in shared memory, then one
//!   cube adds the partials and applies the factor (two passes, no atomics, so also on wgpu,
//!   which has no `f32` atomics). The backward is one elementwise kernel that reads `x` and
//!   the upstream gradient, on the device.
//! - [`Kernel::Hoyer`]: per row, `max|x|`, `Σ|x|/max` and `Σ(x/max)²` (no overflow nor
//!   underflow in `f32`), by chunks of a row, then per row, then the mean of the ratios; its
//!   backward computes the row statistics again and then writes the gradient elementwise.
//! - The other kernels and dtypes other than `float32` return `None` (the op chain runs).
//!
//! `burn::backend::Cube` is `CubeBackend` unless Burn's `fusion` feature is on, when it is
//! `Fusion<CubeBackend>`, whose tensors are lazy: [`value`] and [`grad`] take the backend's
//! primitive by type and return `None` for any primitive other than a `CubeTensor`, so a build
//! with fusion compiles and takes the op chain.

mod kernels;

use std::any::Any;

use burn::tensor::{DType, Shape};
use burn_cubecl::cubecl::calculate_cube_count_elemwise;
use burn_cubecl::cubecl::prelude::{BufferArg, Client, CubeCount, CubeDim};
use burn_cubecl::kernel::{cast as cast_dtype, into_contiguous};
use burn_cubecl::ops::numeric::empty_device_contiguous_dtype;
use burn_cubecl::tensor::CubeTensor;

use super::{Elementwise, Kernel};
use crate::TvKind;

/// The most partial sums of a forward pass (so that [`kernels::finish_sum`]'s one cube adds
/// at most 16 a unit).
const MAX_PARTIALS: u32 = 4096;
/// The units of a reducing cube (fewer where the device allows fewer).
const BLOCK: u32 = 256;

/// The penalty `kernel` of `x` (the backend's float primitive), shape `[1]`; `None` for a
/// kernel without a CubeCL version, a dtype other than `float32` or a primitive that is not a
/// `CubeTensor`.
pub(super) fn value<T: 'static>(x: T, kernel: &Kernel) -> Option<T> {
    if !supported(kernel) {
        return None;
    }
    let x = input(downcast::<T, CubeTensor>(x)?)?;
    let n = elements(&x)?;
    let out = match kernel {
        Kernel::Elementwise { f, scale } => {
            let term = Term::of(*f);
            reduce(
                &x,
                n,
                *scale as f32,
                |client, count, dim, chunk, partials, block| {
                    let [c0, c1, c2, c3, c4, c5] = term.c;
                    kernels::elementwise_partials::launch(
                        client,
                        count,
                        dim,
                        x.clone().into_buffer_arg(),
                        partials,
                        n,
                        chunk,
                        c0,
                        c1,
                        c2,
                        c3,
                        c4,
                        c5,
                        term.op,
                        block,
                    )
                },
            )
        }
        Kernel::TotalVariation { kind, scale } => {
            let (op, h, w) = tv_plane(&x, *kind)?;
            reduce(
                &x,
                n,
                *scale as f32,
                |client, count, dim, chunk, partials, block| {
                    kernels::tv_partials::launch(
                        client,
                        count,
                        dim,
                        x.clone().into_buffer_arg(),
                        partials,
                        n,
                        chunk,
                        h,
                        w,
                        op,
                        block,
                    )
                },
            )
        }
        Kernel::Hoyer {
            lambda,
            squared,
            row,
        } => {
            let rows = hoyer_rows(&x, n, *row)?;
            let client = x.client.clone();
            let ratios = client.empty(rows.rows as usize * size_of::<f32>());
            // The forward reads no upstream gradient: any buffer does.
            let unused = client.empty(size_of::<f32>());
            rows.launch(
                &x,
                // SAFETY: `ratios` holds `rows` floats, `unused` one.
                unsafe { BufferArg::from_raw_parts(unused, 1) },
                unsafe { BufferArg::from_raw_parts(ratios.clone(), rows.rows as usize) },
                1.0,
                *squared,
                false,
            );
            let out = scalar_output(&x);
            let block = block_size(&client, BLOCK);
            kernels::finish_sum::launch(
                &client,
                CubeCount::new_single(),
                cube_dim(block),
                // SAFETY: as above.
                unsafe { BufferArg::from_raw_parts(ratios, rows.rows as usize) },
                out.clone().into_buffer_arg(),
                rows.rows,
                (lambda / f64::from(rows.rows)) as f32,
                block as usize,
            );
            out
        }
        _ => return None,
    };
    downcast(out)
}

/// The gradient of `upstream · value(x, kernel)` with respect to `x` (`upstream` has shape
/// `[1]`, read on the device); `None` where [`value`] is.
pub(super) fn grad<T: 'static>(x: T, upstream: T, kernel: &Kernel) -> Option<T> {
    if !supported(kernel) {
        return None;
    }
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
    match kernel {
        Kernel::Elementwise { f, scale } => {
            let term = Term::of(*f);
            let [c0, c1, c2, c3, c4, c5] = term.c;
            kernels::elementwise_grad::launch(
                &client,
                count,
                dim,
                x.into_buffer_arg(),
                upstream.into_buffer_arg(),
                out.clone().into_buffer_arg(),
                n,
                *scale as f32,
                c0,
                c1,
                c2,
                c3,
                c4,
                c5,
                term.op,
            );
        }
        Kernel::TotalVariation { kind, scale } => {
            let (op, h, w) = tv_plane(&x, *kind)?;
            kernels::tv_grad::launch(
                &client,
                count,
                dim,
                x.into_buffer_arg(),
                upstream.into_buffer_arg(),
                out.clone().into_buffer_arg(),
                n,
                h,
                w,
                *scale as f32,
                op,
            );
        }
        Kernel::Hoyer {
            lambda,
            squared,
            row,
        } => {
            let rows = hoyer_rows(&x, n, *row)?;
            let factors = client.empty(3 * rows.rows as usize * size_of::<f32>());
            rows.launch(
                &x,
                upstream.into_buffer_arg(),
                // SAFETY: `factors` holds `3 rows` floats.
                unsafe { BufferArg::from_raw_parts(factors.clone(), 3 * rows.rows as usize) },
                (lambda / f64::from(rows.rows)) as f32,
                *squared,
                true,
            );
            kernels::hoyer_grad::launch(
                &client,
                count,
                dim,
                x.into_buffer_arg(),
                // SAFETY: as above.
                unsafe { BufferArg::from_raw_parts(factors, 3 * rows.rows as usize) },
                out.clone().into_buffer_arg(),
                n,
                rows.row,
            );
        }
        _ => return None,
    }
    downcast(out)
}

/// Whether the kernel has a CubeCL version.
fn supported(kernel: &Kernel) -> bool {
    matches!(
        kernel,
        Kernel::Elementwise { .. } | Kernel::Hoyer { .. } | Kernel::TotalVariation { .. }
    )
}

/// The number of elements of `x`, if there are some and fewer than 2³¹ (so that the kernels'
/// `u32` indices, strides added, never wrap).
fn elements(x: &CubeTensor) -> Option<u32> {
    let n = x.meta.shape().num_elements();
    (n > 0 && n < 1 << 31).then_some(n as u32)
}

/// `a` as a `B` when `A` is `B` (the backend's primitive as a `CubeTensor` and back).
fn downcast<A: 'static, B: 'static>(a: A) -> Option<B> {
    let boxed: Box<dyn Any> = Box::new(a);
    boxed.downcast::<B>().ok().map(|b| *b)
}

/// `x` as a contiguous, row-major `float32` tensor (a copy for a strided view); `None` for
/// another dtype.
fn input(x: CubeTensor) -> Option<CubeTensor> {
    if x.dtype != DType::F32 || x.qparams.is_some() {
        return None;
    }
    let x = into_contiguous(x);
    x.is_contiguous().then_some(x)
}

/// A new `float32` tensor of shape `[1]` on `x`'s device.
fn scalar_output(x: &CubeTensor) -> CubeTensor {
    empty_device_contiguous_dtype(
        x.client.clone(),
        x.device.clone(),
        Shape::new([1]),
        DType::F32,
    )
}

/// The units of a reducing cube: `want`, or the largest power of two the device allows.
fn block_size(client: &Client, want: u32) -> u32 {
    let max = client.properties().hardware.max_units_per_cube.max(1);
    let cap = want.min(max);
    if cap.is_power_of_two() {
        cap
    } else {
        cap.next_power_of_two() >> 1
    }
}

/// A cube of `units` units (a power of two), at most 32 along x.
fn cube_dim(units: u32) -> CubeDim {
    let x = units.min(32);
    CubeDim::new_2d(x, units / x)
}

/// A grid of at least `cubes` cubes within the device's limits (the extra ones do nothing).
fn grid(client: &Client, cubes: u32, units: u32) -> CubeCount {
    calculate_cube_count_elemwise(client, cubes as usize * units as usize, cube_dim(units))
}

/// The forward reduction: `partials` launches the first pass on `(client, cube count, cube
/// dim, chunk, partials buffer, block)`, each cube adding the terms of `chunk` elements into
/// one partial; then one cube adds the partials times `scale` into a new `[1]` tensor.
fn reduce(
    x: &CubeTensor,
    n: u32,
    scale: f32,
    partials: impl FnOnce(&Client, CubeCount, CubeDim, u32, BufferArg, usize),
) -> CubeTensor {
    let client = x.client.clone();
    let block = block_size(&client, BLOCK);
    // At least 4 elements a unit, at most MAX_PARTIALS cubes.
    let chunk = (4 * block).max(n.div_ceil(MAX_PARTIALS).next_multiple_of(block));
    let cubes = n.div_ceil(chunk);
    let buffer = client.empty(cubes as usize * size_of::<f32>());
    partials(
        &client,
        CubeCount::new_1d(cubes),
        cube_dim(block),
        chunk,
        // SAFETY: `buffer` holds `cubes` floats, one per cube.
        unsafe { BufferArg::from_raw_parts(buffer.clone(), cubes as usize) },
        block as usize,
    );
    let out = scalar_output(x);
    kernels::finish_sum::launch(
        &client,
        CubeCount::new_single(),
        cube_dim(block),
        // SAFETY: as above.
        unsafe { BufferArg::from_raw_parts(buffer, cubes as usize) },
        out.clone().into_buffer_arg(),
        cubes,
        scale,
        block as usize,
    );
    out
}

/// An elementwise term as the kernels take it: its code and its constants (`f32`, computed in
/// `f64`).
struct Term {
    op: u32,
    c: [f32; 6],
}

impl Term {
    fn of(f: Elementwise) -> Self {
        let (op, c): (u32, [f64; 6]) = match f {
            Elementwise::Abs => (kernels::ABS, [0.0; 6]),
            Elementwise::ElasticNet { l1_ratio } => (
                kernels::ELASTIC_NET,
                [
                    l1_ratio,
                    0.5 * (1.0 - l1_ratio),
                    1.0 - l1_ratio,
                    0.0,
                    0.0,
                    0.0,
                ],
            ),
            Elementwise::Tanh { scale } => (kernels::TANH, [scale, 0.0, 0.0, 0.0, 0.0, 0.0]),
            Elementwise::LogSum { eps } => (kernels::LOG_SUM, [eps, eps.ln(), 0.0, 0.0, 0.0, 0.0]),
            Elementwise::Lp { p, eps } => (
                kernels::LP,
                [0.5 * p, eps, eps.ln(), eps.powf(p), p, p * eps.ln()],
            ),
            Elementwise::Scad { lambda, a } => (
                kernels::SCAD,
                [
                    lambda,
                    a,
                    0.5 * lambda * lambda * (a + 1.0),
                    a * lambda,
                    0.5 / (a - 1.0),
                    1.0 / (a - 1.0),
                ],
            ),
            Elementwise::Mcp { lambda, gamma } => (
                kernels::MCP,
                [lambda, gamma * lambda, 0.5 / gamma, 1.0 / gamma, 0.0, 0.0],
            ),
            Elementwise::SpikeAndSlab {
                slab_prob,
                sigma_spike,
                sigma_slab,
            } => {
                let half_log_2pi = 0.5 * (2.0 * std::f64::consts::PI).ln();
                (
                    kernels::SPIKE_AND_SLAB,
                    [
                        slab_prob.ln() - sigma_slab.ln() - half_log_2pi,
                        (1.0 - slab_prob).ln() - sigma_spike.ln() - half_log_2pi,
                        -0.5 / (sigma_slab * sigma_slab),
                        -0.5 / (sigma_spike * sigma_spike),
                        0.0,
                        0.0,
                    ],
                )
            }
        };
        Self {
            op,
            c: c.map(|c| c as f32),
        }
    }
}

/// The total variation's kernel code and image plane `(h, w)` (`one_d`: the anisotropic
/// variation of images of height 1); `None` for a shape without a plane.
fn tv_plane(x: &CubeTensor, kind: TvKind) -> Option<(u32, u32, u32)> {
    let dims = x.meta.shape();
    let rank = dims.num_dims();
    let w = u32::try_from(*dims.last()?).ok()?;
    let (op, h) = match kind {
        TvKind::OneD => (kernels::TV_ABS, 1),
        TvKind::Anisotropic => (kernels::TV_ABS, dims[rank.checked_sub(2)?]),
        TvKind::Squared => (kernels::TV_SQUARED, dims[rank.checked_sub(2)?]),
        TvKind::Isotropic => (kernels::TV_ISOTROPIC, dims[rank.checked_sub(2)?]),
    };
    let h = u32::try_from(h).ok()?;
    (h > 0 && w > 0).then_some((op, h, w))
}

/// Hoyer's layout: `rows` rows of `row` elements, cut in `chunks` chunks of `chunk`.
struct HoyerRows {
    row: u32,
    rows: u32,
    chunk: u32,
    chunks: u32,
    /// Units of the cubes of the first pass.
    block: u32,
}

/// Hoyer's layout for `n` elements in rows of `row`; `None` when `row` does not divide `n`.
fn hoyer_rows(x: &CubeTensor, n: u32, row: usize) -> Option<HoyerRows> {
    let row = u32::try_from(row).ok()?;
    if row == 0 || !n.is_multiple_of(row) {
        return None;
    }
    // Short rows get small cubes (a plane or two), long ones 256 units of 8 elements each.
    let block = block_size(
        &x.client,
        row.div_ceil(4).next_power_of_two().clamp(32, BLOCK),
    );
    let chunk = 8 * block;
    Some(HoyerRows {
        row,
        rows: n / row,
        chunk,
        chunks: row.div_ceil(chunk),
        block,
    })
}

impl HoyerRows {
    /// The first two passes: the statistics of every chunk, then of every row, into `out` (the
    /// ratios, or with `grad` the backward factors scaled by `upstream[0] · scale`).
    fn launch(
        &self,
        x: &CubeTensor,
        upstream: BufferArg,
        out: BufferArg,
        scale: f32,
        squared: bool,
        grad: bool,
    ) {
        let client = &x.client;
        let cubes = self.rows * self.chunks;
        let stats = client.empty(3 * cubes as usize * size_of::<f32>());
        kernels::hoyer_chunk_stats::launch(
            client,
            grid(client, cubes, self.block),
            cube_dim(self.block),
            x.clone().into_buffer_arg(),
            // SAFETY: `stats` holds 3 floats per cube.
            unsafe { BufferArg::from_raw_parts(stats.clone(), 3 * cubes as usize) },
            self.row,
            self.chunk,
            self.chunks,
            cubes,
            self.block as usize,
        );
        let block = block_size(client, self.chunks.next_power_of_two().clamp(32, BLOCK));
        kernels::hoyer_rows::launch(
            client,
            grid(client, self.rows, block),
            cube_dim(block),
            // SAFETY: as above.
            unsafe { BufferArg::from_raw_parts(stats, 3 * cubes as usize) },
            upstream,
            out,
            self.rows,
            self.chunks,
            scale,
            squared,
            grad,
            block as usize,
        );
    }
}
