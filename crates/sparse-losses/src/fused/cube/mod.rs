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
//! - [`Kernel::Entropy`]: one cube per row (the last dimension), which reduces its row in
//!   shared memory (`Σ|x|`, or the maximum of `x/T`), then `−Σ p ln p` (or `Σ eʸ` and
//!   `Σ eʸ y`) in a second sweep over the row (from cache), into one entropy per row and then
//!   their mean by [`kernels::finish_sum`]; the backward computes the row's statistics the
//!   same way and writes its gradient in a third sweep, all in one kernel.
//! - [`Kernel::Kl`]: column sums by chunks of rows (neighbouring units read neighbouring
//!   columns), then one unit per column adds its chunks and writes the column's term (the
//!   forward, then [`kernels::finish_sum`]) or gradient factor (the backward, broadcast over
//!   the rows by an elementwise kernel).
//! - [`Kernel::GroupLasso`]: the tensor as `[outer, size, inner]` around the group axis; the
//!   `Σx²` of each slice (index along the axis: one cube per slice, after column sums over
//!   the outer blocks where there are several), then one unit per group adds its slices (the
//!   slices sorted by group on the host), giving `w_g ‖x_g‖₂` (then [`kernels::finish_sum`],
//!   plus the L1 part by the elementwise reduction) or the factor `w_g / ‖x_g‖₂` of the
//!   elementwise backward.
//! - The top-k mask ([`top_k_mask`]): radix select of each row's k-th largest key (four
//!   8-bit passes, each a histogram over the rows' chunks in shared memory with `u32`
//!   atomics, then one cube per row picks the digit), then the ties per chunk and the mask,
//!   which keeps the first ties in index order (the same mask as the host kernel).
//! - Dtypes other than `float32`, and an inconsistent group description, return `None` (the
//!   op chain runs).
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
use burn_cubecl::cubecl::server::Handle;
use burn_cubecl::kernel::{cast as cast_dtype, into_contiguous};
use burn_cubecl::ops::numeric::empty_device_contiguous_dtype;
use burn_cubecl::tensor::CubeTensor;

use super::{Elementwise, Kernel};
use crate::penalty::{mixture_terms, MixtureTerms};
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
            finish(
                &x,
                ratios,
                rows.rows,
                (lambda / f64::from(rows.rows)) as f32,
            )
        }
        Kernel::Entropy { lambda, softmax } => {
            let rows = EntropyRows::of(&x, n)?;
            let client = x.client.clone();
            let entropies = client.empty(rows.rows as usize * size_of::<f32>());
            let unused = client.empty(size_of::<f32>());
            rows.launch(
                &x,
                // SAFETY: `entropies` holds `rows` floats, `unused` one.
                unsafe { BufferArg::from_raw_parts(unused, 1) },
                unsafe { BufferArg::from_raw_parts(entropies.clone(), rows.rows as usize) },
                *softmax,
                1.0,
                false,
            );
            finish(
                &x,
                entropies,
                rows.rows,
                (lambda / f64::from(rows.rows)) as f32,
            )
        }
        Kernel::Kl { target, beta, eps } => {
            let columns = Columns::of(&x, n)?;
            let client = x.client.clone();
            let unused = client.empty(size_of::<f32>());
            // SAFETY: `unused` holds one float.
            let terms = columns.kl(
                &x,
                unsafe { BufferArg::from_raw_parts(unused, 1) },
                *target,
                *eps,
                1.0,
                false,
            );
            // `terms` holds one float per column.
            finish(&x, terms, columns.cols, *beta as f32)
        }
        Kernel::GroupLasso {
            lambda,
            l1_ratio,
            axis,
            group_of,
            weights,
        } => {
            let groups = Groups::of(&x, *axis, group_of, weights)?;
            let client = x.client.clone();
            let l1 = (lambda * l1_ratio) as f32;
            let abs = (*l1_ratio != 0.0).then(|| {
                reduce(&x, n, l1, |client, count, dim, chunk, partials, block| {
                    kernels::elementwise_partials::launch(
                        client,
                        count,
                        dim,
                        x.clone().into_buffer_arg(),
                        partials,
                        n,
                        chunk,
                        0.0,
                        0.0,
                        0.0,
                        0.0,
                        0.0,
                        0.0,
                        kernels::ABS,
                        block,
                    )
                })
            });
            match abs {
                Some(abs) if *l1_ratio == 1.0 => abs,
                abs => {
                    let unused = client.empty(size_of::<f32>());
                    // SAFETY: `unused` holds one float.
                    let terms = groups.norms(
                        &x,
                        unsafe { BufferArg::from_raw_parts(unused, 1) },
                        1.0,
                        false,
                    );
                    // `terms` holds one float per group.
                    let scale = (lambda * (1.0 - l1_ratio)) as f32;
                    let out = finish(&x, terms, groups.groups, scale);
                    if let Some(abs) = abs {
                        kernels::add_scalar::launch(
                            &client,
                            CubeCount::new_single(),
                            CubeDim::new_1d(1),
                            out.clone().into_buffer_arg(),
                            abs.into_buffer_arg(),
                        );
                    }
                    out
                }
            }
        }
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
        Kernel::Entropy { lambda, softmax } => {
            let rows = EntropyRows::of(&x, n)?;
            rows.launch(
                &x,
                upstream.into_buffer_arg(),
                out.clone().into_buffer_arg(),
                *softmax,
                (lambda / f64::from(rows.rows)) as f32,
                true,
            );
        }
        Kernel::Kl { target, beta, eps } => {
            let columns = Columns::of(&x, n)?;
            let factors = columns.kl(
                &x,
                upstream.into_buffer_arg(),
                *target,
                *eps,
                (beta / f64::from(columns.rows)) as f32,
                true,
            );
            kernels::broadcast_columns::launch(
                &client,
                count,
                dim,
                // SAFETY: `factors` holds `cols` floats.
                unsafe { BufferArg::from_raw_parts(factors, columns.cols as usize) },
                out.clone().into_buffer_arg(),
                n,
                columns.cols,
            );
        }
        Kernel::GroupLasso {
            lambda,
            l1_ratio,
            axis,
            group_of,
            weights,
        } => {
            let groups = Groups::of(&x, *axis, group_of, weights)?;
            let norms = *l1_ratio != 1.0;
            let factors = if norms {
                groups.norms(
                    &x,
                    upstream.clone().into_buffer_arg(),
                    (lambda * (1.0 - l1_ratio)) as f32,
                    true,
                )
            } else {
                client.empty(size_of::<f32>())
            };
            let factor_len = if norms { groups.groups as usize } else { 1 };
            kernels::group_grad::launch(
                &client,
                count,
                dim,
                x.into_buffer_arg(),
                // SAFETY: `group_of` holds `size` ids, `factors` `factor_len` floats.
                unsafe { BufferArg::from_raw_parts(groups.group_of.clone(), groups.size as usize) },
                unsafe { BufferArg::from_raw_parts(factors, factor_len) },
                upstream.into_buffer_arg(),
                out.clone().into_buffer_arg(),
                n,
                groups.size,
                groups.inner,
                (lambda * l1_ratio) as f32,
                norms,
            );
        }
    }
    downcast(out)
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
    finish(x, buffer, cubes, scale)
}

/// The last pass of every forward: one cube adds the `len` floats of `values` times `scale`
/// into a new `[1]` tensor on `x`'s device.
fn finish(x: &CubeTensor, values: Handle, len: u32, scale: f32) -> CubeTensor {
    let client = &x.client;
    let block = block_size(client, BLOCK);
    let out = scalar_output(x);
    kernels::finish_sum::launch(
        client,
        CubeCount::new_single(),
        cube_dim(block),
        // SAFETY: the callers' `values` hold `len` floats.
        unsafe { BufferArg::from_raw_parts(values, len as usize) },
        out.clone().into_buffer_arg(),
        len,
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
                let MixtureTerms { offsets, halves } =
                    mixture_terms(slab_prob, sigma_spike, sigma_slab);
                (
                    kernels::SPIKE_AND_SLAB,
                    [
                        offsets[0],
                        offsets[1],
                        halves[0],
                        halves[1],
                        offsets[1] - offsets[0],
                        halves[1] - halves[0],
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

/// The entropy's layout: `rows` rows of `row` elements (the last dimension), one cube each.
struct EntropyRows {
    row: u32,
    rows: u32,
    /// Units of a cube.
    block: u32,
}

impl EntropyRows {
    /// The layout of `x` (`n` elements); `None` for an empty last dimension.
    fn of(x: &CubeTensor, n: u32) -> Option<Self> {
        let row = u32::try_from(x.meta.shape().last().copied().unwrap_or(1)).ok()?;
        if row == 0 || !n.is_multiple_of(row) {
            return None;
        }
        // Short rows get small cubes (a plane or two), long ones 256 units.
        let block = block_size(
            &x.client,
            row.div_ceil(4).next_power_of_two().clamp(32, BLOCK),
        );
        Some(Self {
            row,
            rows: n / row,
            block,
        })
    }

    /// [`kernels::entropy_rows`]: each row's entropy into `out`, or with `grad` the gradient of
    /// `upstream[0] · scale ·` the entropies.
    fn launch(
        &self,
        x: &CubeTensor,
        upstream: BufferArg,
        out: BufferArg,
        softmax: Option<f64>,
        scale: f32,
        grad: bool,
    ) {
        let client = &x.client;
        kernels::entropy_rows::launch(
            client,
            grid(client, self.rows, self.block),
            cube_dim(self.block),
            x.clone().into_buffer_arg(),
            upstream,
            out,
            self.row,
            self.rows,
            softmax.map_or(1.0, |t| (1.0 / t) as f32),
            scale,
            softmax.is_some(),
            grad,
            self.block as usize,
        );
    }
}

/// A `[rows, cols]` view (columns = the last dimension) for the column reductions, the rows
/// cut in `chunks` chunks of `rchunk` (enough units in the first pass to fill a GPU, at most
/// 1024 partials a column).
struct Columns {
    rows: u32,
    cols: u32,
    rchunk: u32,
    chunks: u32,
}

impl Columns {
    /// The view of `x` (`n` elements); `None` for an empty last dimension.
    fn of(x: &CubeTensor, n: u32) -> Option<Self> {
        let cols = u32::try_from(x.meta.shape().last().copied().unwrap_or(1)).ok()?;
        if cols == 0 || !n.is_multiple_of(cols) {
            return None;
        }
        Some(Self::for_rows(n / cols, cols))
    }

    /// The view of `rows` rows of `cols` elements (both at least 1).
    fn for_rows(rows: u32, cols: u32) -> Self {
        let want = (1u32 << 16).div_ceil(cols).clamp(1, 1024).min(rows);
        let rchunk = rows.div_ceil(want);
        Self {
            rows,
            cols,
            rchunk,
            chunks: rows.div_ceil(rchunk),
        }
    }

    /// The column partial sums of `x` (squared with `square`), `chunks · cols` floats.
    fn partials(&self, x: &CubeTensor, square: bool) -> Handle {
        let client = &x.client;
        let units = self.chunks as usize * self.cols as usize;
        let partials = client.empty(units * size_of::<f32>());
        let dim = CubeDim::new(client, units);
        kernels::column_partials::launch(
            client,
            calculate_cube_count_elemwise(client, units, dim),
            dim,
            x.clone().into_buffer_arg(),
            // SAFETY: `partials` holds one float per unit.
            unsafe { BufferArg::from_raw_parts(partials.clone(), units) },
            self.rows,
            self.cols,
            self.rchunk,
            self.chunks,
            square,
        );
        partials
    }

    /// [`kernels::kl_columns`]: each column's KL term, or with `grad` its gradient factor
    /// (`upstream[0] · scale ·`), `cols` floats.
    fn kl(
        &self,
        x: &CubeTensor,
        upstream: BufferArg,
        rho: f64,
        eps: f64,
        scale: f32,
        grad: bool,
    ) -> Handle {
        let client = &x.client;
        let partials = self.partials(x, false);
        let units = self.chunks as usize * self.cols as usize;
        let cols = self.cols as usize;
        let out = client.empty(cols * size_of::<f32>());
        let dim = CubeDim::new(client, cols);
        kernels::kl_columns::launch(
            client,
            calculate_cube_count_elemwise(client, cols, dim),
            dim,
            // SAFETY: as in `partials`; `out` holds `cols` floats.
            unsafe { BufferArg::from_raw_parts(partials, units) },
            upstream,
            unsafe { BufferArg::from_raw_parts(out.clone(), cols) },
            self.cols,
            self.chunks,
            (1.0 / f64::from(self.rows)) as f32,
            rho as f32,
            eps as f32,
            (1.0 - eps) as f32,
            scale,
            grad,
        );
        out
    }
}

/// The group lasso's layout: `x` as `[outer, size, inner]` around the group axis, with the
/// group ids on the device (`group_of`, one per slice) and the slices sorted by group
/// (`order`, the slices of group `g` at `offsets[g]..offsets[g + 1]`) with the weights.
struct Groups {
    outer: u32,
    size: u32,
    inner: u32,
    groups: u32,
    group_of: Handle,
    order: Handle,
    offsets: Handle,
    weights: Handle,
}

/// The bytes of `values` (`u32` or `f32`) to upload.
fn bytes<T: Copy>(values: &[T], to_bytes: impl Fn(T) -> [u8; 4]) -> Vec<u8> {
    values.iter().flat_map(|&v| to_bytes(v)).collect()
}

impl Groups {
    /// The layout of `x` for groups `group_of` (one id per index along `axis`, dense ids
    /// `0..weights.len()`); `None` for an inconsistent description or an empty group axis.
    fn of(x: &CubeTensor, axis: usize, group_of: &[usize], weights: &[f64]) -> Option<Self> {
        let dims = x.meta.shape();
        if axis >= dims.num_dims() || dims[axis] == 0 || group_of.len() != dims[axis] {
            return None;
        }
        let outer = u32::try_from((0..axis).map(|d| dims[d]).product::<usize>()).ok()?;
        let size = u32::try_from(dims[axis]).ok()?;
        let inner = u32::try_from(
            (axis + 1..dims.num_dims())
                .map(|d| dims[d])
                .product::<usize>(),
        )
        .ok()?;
        let groups = u32::try_from(weights.len()).ok()?;
        if groups == 0 || group_of.iter().any(|&g| g >= weights.len()) {
            return None;
        }
        let mut offsets = vec![0u32; weights.len() + 1];
        for &g in group_of {
            offsets[g + 1] += 1;
        }
        for g in 0..weights.len() {
            offsets[g + 1] += offsets[g];
        }
        let mut next = offsets.clone();
        let mut order = vec![0u32; group_of.len()];
        for (k, &g) in group_of.iter().enumerate() {
            order[next[g] as usize] = k as u32;
            next[g] += 1;
        }
        let ids: Vec<u32> = group_of.iter().map(|&g| g as u32).collect();
        let w: Vec<f32> = weights.iter().map(|&w| w as f32).collect();
        let client = &x.client;
        Some(Self {
            outer,
            size,
            inner,
            groups,
            group_of: client.create_from_slice(&bytes(&ids, u32::to_ne_bytes)),
            order: client.create_from_slice(&bytes(&order, u32::to_ne_bytes)),
            offsets: client.create_from_slice(&bytes(&offsets, u32::to_ne_bytes)),
            weights: client.create_from_slice(&bytes(&w, f32::to_ne_bytes)),
        })
    }

    /// `‖x_k‖₂²` of every slice `k`, `size` floats: one cube per slice, straight from `x` for
    /// one outer block, else from the column partial sums of `x²` over the outer blocks.
    fn slices(&self, x: &CubeTensor) -> Handle {
        let client = &x.client;
        let cols = self.size * self.inner;
        let (src, chunks, square) = if self.outer == 1 {
            (x.clone().into_buffer_arg(), 1, true)
        } else {
            let columns = Columns::for_rows(self.outer, cols);
            let partials = columns.partials(x, true);
            let len = columns.chunks as usize * cols as usize;
            // SAFETY: the partials hold `chunks · cols` floats.
            let src = unsafe { BufferArg::from_raw_parts(partials, len) };
            (src, columns.chunks, false)
        };
        let out = client.empty(self.size as usize * size_of::<f32>());
        let per_slice = chunks * self.inner;
        let block = block_size(
            client,
            per_slice.div_ceil(4).next_power_of_two().clamp(32, BLOCK),
        );
        kernels::group_slices::launch(
            client,
            grid(client, self.size, block),
            cube_dim(block),
            src,
            // SAFETY: `out` holds one float per slice.
            unsafe { BufferArg::from_raw_parts(out.clone(), self.size as usize) },
            self.size,
            self.inner,
            cols,
            chunks,
            square,
            block as usize,
        );
        out
    }

    /// [`kernels::group_norms`]: `w_g ‖x_g‖₂` of every group, or with `grad` the gradient
    /// factors `upstream[0] · scale · w_g / ‖x_g‖₂`; `groups` floats.
    fn norms(&self, x: &CubeTensor, upstream: BufferArg, scale: f32, grad: bool) -> Handle {
        let client = &x.client;
        let slices = self.slices(x);
        let groups = self.groups as usize;
        let out = client.empty(groups * size_of::<f32>());
        let dim = CubeDim::new(client, groups);
        kernels::group_norms::launch(
            client,
            calculate_cube_count_elemwise(client, groups, dim),
            dim,
            // SAFETY: `slices` holds `size` floats, `order` `size` ids, `offsets` `groups + 1`,
            // `weights` and `out` `groups` floats.
            unsafe { BufferArg::from_raw_parts(slices, self.size as usize) },
            unsafe { BufferArg::from_raw_parts(self.order.clone(), self.size as usize) },
            unsafe { BufferArg::from_raw_parts(self.offsets.clone(), groups + 1) },
            unsafe { BufferArg::from_raw_parts(self.weights.clone(), groups) },
            upstream,
            unsafe { BufferArg::from_raw_parts(out.clone(), groups) },
            self.groups,
            scale,
            grad,
        );
        out
    }
}

/// The top-k mask's chunk: at most this many units' worth of 16 entries a cube and pass.
const TOP_K_PER_UNIT: u32 = 16;

/// The 0/1 mask of the `k` largest entries of each row (the last dimension) of `scores`, ties
/// to the lower index (as the host kernel, `1 <= k <` the row length); `None` for a dtype
/// other than `float32`, a primitive that is not a `CubeTensor` or a `k` out of range.
///
/// Radix select on the order-preserving `u32` keys ([`kernels::top_k_histogram`]): four
/// passes of 8 bits from the top, each a histogram of the digit over the row's candidates
/// (those matching the prefix found so far; the rows cut in chunks, one cube each, shared-
/// memory atomics, then added into the row's bins) and a choice of the k-th largest's digit
/// per row ([`kernels::top_k_choose`]). Then the ties of every chunk
/// ([`kernels::top_k_ties`]) and the mask ([`kernels::top_k_mask`]), which keeps the first
/// ties in index order.
pub(super) fn top_k_mask<T: 'static>(scores: T, k: usize) -> Option<T> {
    let x = input(downcast::<T, CubeTensor>(scores)?)?;
    let n = elements(&x)?;
    let row = u32::try_from(*x.meta.shape().last()?).ok()?;
    let k = u32::try_from(k).ok()?;
    if row == 0 || !n.is_multiple_of(row) || k == 0 || k >= row {
        return None;
    }
    let rows = n / row;
    let client = x.client.clone();
    let block = block_size(&client, BLOCK);
    // A multiple of `block` (the mask kernel gives each unit `chunk / block` entries).
    let chunk = (block * TOP_K_PER_UNIT).min(row.next_multiple_of(block));
    let chunks = row.div_ceil(chunk);
    let cubes = rows.checked_mul(chunks)?;
    let bins = rows.checked_mul(256)?;
    let hist = client.empty(bins as usize * size_of::<u32>());
    let state = client.empty(2 * rows as usize * size_of::<u32>());
    let ties = client.empty(cubes as usize * size_of::<u32>());
    // SAFETY (every `BufferArg` below): `hist` holds `256 rows` counts, `state` `2 rows`
    // words, `ties` one count per cube.
    let hist_arg = || unsafe { BufferArg::from_raw_parts(hist.clone(), bins as usize) };
    let state_arg = || unsafe { BufferArg::from_raw_parts(state.clone(), 2 * rows as usize) };
    let ties_arg = || unsafe { BufferArg::from_raw_parts(ties.clone(), cubes as usize) };
    let dim = CubeDim::new(&client, bins as usize);
    kernels::top_k_init::launch(
        &client,
        calculate_cube_count_elemwise(&client, bins as usize, dim),
        dim,
        hist_arg(),
        state_arg(),
        bins,
        k,
    );
    for pass in 0..4u32 {
        let shift = 24 - 8 * pass;
        // The digits above this one (none in the first pass).
        let high = if pass == 0 {
            0
        } else {
            u32::MAX << (shift + 8)
        };
        kernels::top_k_histogram::launch(
            &client,
            grid(&client, cubes, block),
            cube_dim(block),
            x.clone().into_buffer_arg(),
            state_arg(),
            hist_arg(),
            row,
            chunk,
            chunks,
            cubes,
            shift,
            high,
        );
        let choose = block_size(&client, 256);
        kernels::top_k_choose::launch(
            &client,
            grid(&client, rows, choose),
            cube_dim(choose),
            hist_arg(),
            state_arg(),
            rows,
            shift,
        );
    }
    kernels::top_k_ties::launch(
        &client,
        grid(&client, cubes, block),
        cube_dim(block),
        x.clone().into_buffer_arg(),
        state_arg(),
        ties_arg(),
        row,
        chunk,
        chunks,
        cubes,
    );
    let out = empty_device_contiguous_dtype(
        client.clone(),
        x.device.clone(),
        x.meta.shape().clone(),
        DType::F32,
    );
    kernels::top_k_mask::launch(
        &client,
        grid(&client, cubes, block),
        cube_dim(block),
        x.into_buffer_arg(),
        state_arg(),
        ties_arg(),
        out.clone().into_buffer_arg(),
        row,
        chunk,
        chunks,
        cubes,
        block as usize,
    );
    downcast(out)
}
