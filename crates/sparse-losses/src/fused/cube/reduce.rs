//! The reductions the kernel families share: the two-pass sum of every forward ([`reduce`],
//! then [`finish`]: each cube adds its part into one partial in shared memory, one cube adds
//! the partials; no atomics, so also on wgpu, which has no `f32` atomics), the sum over a
//! cube ([`cube_sum`]) and the column partial sums of a `[rows, cols]` view ([`Columns`], for
//! KL sparsity and the group lasso).

use burn_cubecl::cubecl;
use burn_cubecl::cubecl::calculate_cube_count_elemwise;
use burn_cubecl::cubecl::server::Handle;
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;

use super::launch::{block_size, cube_dim, scalar_output, BLOCK};

/// The most partial sums of a forward pass (so that [`finish_sum`]'s one cube adds
/// at most 16 a unit).
const MAX_PARTIALS: u32 = 4096;

/// The sum of `value` over the units of the cube (`CUBE_DIM`, a power of two, at most
/// `block`), by a tree in shared memory; every unit gets it.
#[cube]
pub(super) fn cube_sum(value: f32, #[comptime] block: usize) -> f32 {
    let mut shared = Shared::<[f32]>::new_slice(block);
    shared[UNIT_POS as usize] = value;
    sync_cube();
    let mut half = CUBE_DIM / 2u32;
    while half > 0u32 {
        if UNIT_POS < half {
            let other = shared[(UNIT_POS + half) as usize];
            shared[UNIT_POS as usize] += other;
        }
        sync_cube();
        half /= 2u32;
    }
    shared[0]
}

/// `out[0] = scale · Σ partials[..count]`, by one cube.
#[cube(launch)]
fn finish_sum(partials: &[f32], out: &mut [f32], count: u32, scale: f32, #[comptime] block: usize) {
    let mut acc = 0.0f32;
    let mut i = UNIT_POS;
    while i < count {
        acc += partials[i as usize];
        i += CUBE_DIM;
    }
    let total = cube_sum(acc, block);
    if UNIT_POS == 0u32 {
        out[0] = total * scale;
    }
}

/// The forward reduction: `partials` launches the first pass on `(client, cube count, cube
/// dim, chunk, partials buffer, block)`, each cube adding the terms of `chunk` elements into
/// one partial; then one cube adds the partials times `scale` into a new `[1]` tensor.
pub(super) fn reduce(
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
pub(super) fn finish(x: &CubeTensor, values: Handle, len: u32, scale: f32) -> CubeTensor {
    let client = &x.client;
    let block = block_size(client, BLOCK);
    let out = scalar_output(x);
    finish_sum::launch(
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

/// A `[rows, cols]` view (columns = the last dimension) for the column reductions, the rows
/// cut in `chunks` chunks of `rchunk` (enough units in the first pass to fill a GPU, at most
/// 1024 partials a column).
pub(super) struct Columns {
    pub(super) rows: u32,
    pub(super) cols: u32,
    pub(super) rchunk: u32,
    pub(super) chunks: u32,
}

impl Columns {
    /// The view of `x` (`n` elements); `None` for an empty last dimension.
    pub(super) fn of(x: &CubeTensor, n: u32) -> Option<Self> {
        let cols = u32::try_from(x.meta.shape().last().copied().unwrap_or(1)).ok()?;
        if cols == 0 || !n.is_multiple_of(cols) {
            return None;
        }
        Some(Self::for_rows(n / cols, cols))
    }

    /// The view of `rows` rows of `cols` elements (both at least 1).
    pub(super) fn for_rows(rows: u32, cols: u32) -> Self {
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
    pub(super) fn partials(&self, x: &CubeTensor, square: bool) -> Handle {
        let client = &x.client;
        let units = self.chunks as usize * self.cols as usize;
        let partials = client.empty(units * size_of::<f32>());
        let dim = CubeDim::new(client, units);
        column_partials::launch(
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
}

/// Per unit `(k, c)` (`pos = k · cols + c`), `Σ x[r, c]` (or `Σ x[r, c]²` when `square`) over
/// the rows `k · rchunk ..` (clipped to `rows`) of a `[rows, cols]` tensor, into
/// `partials[pos]`. Neighbouring units read neighbouring columns.
#[cube(launch)]
fn column_partials(
    x: &[f32],
    partials: &mut [f32],
    rows: u32,
    cols: u32,
    rchunk: u32,
    chunks: u32,
    #[comptime] square: bool,
) {
    let pos = ABSOLUTE_POS;
    if pos < (chunks * cols) as usize {
        let p = pos as u32;
        let c = p % cols;
        let r0 = (p / cols) * rchunk;
        let r1 = select(rows - r0 < rchunk, rows, r0 + rchunk);
        let mut acc = 0.0f32;
        let mut r = r0;
        while r < r1 {
            let v = x[(r * cols + c) as usize];
            if comptime![square] {
                acc += v * v;
            }
            if comptime![!square] {
                acc += v;
            }
            r += 1u32;
        }
        partials[pos] = acc;
    }
}
