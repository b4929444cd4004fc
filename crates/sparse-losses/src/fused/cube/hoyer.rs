//! Hoyer's ratio on the device, the twin of `host/hoyer.rs`: per row, `max|x|`, `Σ|x|/max` and
//! `Σ(x/max)²` (no overflow nor underflow in `f32`), by chunks of a row, then per row, then the
//! mean of the ratios ([`finish`]); the backward computes the row statistics again and then
//! writes the gradient elementwise.

use burn_cubecl::cubecl;
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;

use super::launch::{block_size, cube_dim, grid, GradLaunch, BLOCK};
use super::math::sign;
use super::reduce::finish;

/// The statistics of `|x|` over a set: `m = max|x|`, `a = Σ|x|/m`, `s = Σ(x/m)²` (so
/// `‖v‖₁ = m a` and `‖v‖₂ = m √s`, free of overflow and underflow); all 0 for an empty or
/// zero set.
#[derive(CubeType, Clone, Copy)]
struct Stats {
    m: f32,
    a: f32,
    s: f32,
}

/// `(m, a, s)` with `|x| = ax` added.
#[cube]
fn stats_push(m: f32, a: f32, s: f32, ax: f32) -> Stats {
    let bigger = ax > m;
    // A new maximum rescales what was summed so far; NaN takes the second branch and stays.
    let big = select(bigger, ax, 1.0f32);
    let q = m / big;
    let safe_m = select(m > 0.0f32, m, 1.0f32);
    let ratio = select(m > 0.0f32, ax / safe_m, ax);
    Stats {
        m: select(bigger, ax, m),
        a: select(bigger, a * q + 1.0f32, a + ratio),
        s: select(bigger, s * q * q + 1.0f32, s + ratio * ratio),
    }
}

/// The statistics of the union of two sets.
#[cube]
fn stats_merge(m1: f32, a1: f32, s1: f32, m2: f32, a2: f32, s2: f32) -> Stats {
    let m = select(m2 > m1, m2, m1);
    let safe = select(m > 0.0f32, m, 1.0f32);
    let q1 = select(m > 0.0f32, m1 / safe, 0.0f32);
    let q2 = select(m > 0.0f32, m2 / safe, 0.0f32);
    Stats {
        m,
        a: a1 * q1 + a2 * q2,
        s: s1 * q1 * q1 + s2 * q2 * q2,
    }
}

/// The statistics over the units of the cube (a tree in shared memory); every unit gets them.
#[cube]
fn cube_stats(m: f32, a: f32, s: f32, #[comptime] block: usize) -> Stats {
    let mut sm = Shared::<[f32]>::new_slice(block);
    let mut sa = Shared::<[f32]>::new_slice(block);
    let mut ss = Shared::<[f32]>::new_slice(block);
    let u = UNIT_POS as usize;
    sm[u] = m;
    sa[u] = a;
    ss[u] = s;
    sync_cube();
    let mut half = CUBE_DIM / 2u32;
    while half > 0u32 {
        if UNIT_POS < half {
            let o = (UNIT_POS + half) as usize;
            let merged = stats_merge(sm[u], sa[u], ss[u], sm[o], sa[o], ss[o]);
            sm[u] = merged.m;
            sa[u] = merged.a;
            ss[u] = merged.s;
        }
        sync_cube();
        half /= 2u32;
    }
    Stats {
        m: sm[0],
        a: sa[0],
        s: ss[0],
    }
}

/// Hoyer, first pass: per cube, the statistics (see [`Stats`]) of one `chunk` of one row
/// (cube `k` = row `k / chunks`, chunk `k % chunks`), into `stats[3k..3k + 3]`.
#[cube(launch)]
fn hoyer_chunk_stats(
    x: &[f32],
    stats: &mut [f32],
    row: u32,
    chunk: u32,
    chunks: u32,
    cubes: u32,
    #[comptime] block: usize,
) {
    let k = CUBE_POS as u32;
    let valid = k < cubes;
    let r = k / chunks;
    let c = k % chunks;
    let offset = c * chunk;
    let len = select(row - offset < chunk, row - offset, chunk);
    // The cubes past the last (a grid spread over two axes) read nothing.
    let start = select(valid, r * row + offset, 0u32);
    let end = start + select(valid, len, 0u32);
    let mut m = 0.0f32;
    let mut a = 0.0f32;
    let mut s = 0.0f32;
    let mut i = start + UNIT_POS;
    while i < end {
        let pushed = stats_push(m, a, s, x[i as usize].abs());
        m = pushed.m;
        a = pushed.a;
        s = pushed.s;
        i += CUBE_DIM;
    }
    let total = cube_stats(m, a, s, block);
    if UNIT_POS == 0u32 && valid {
        let base = 3usize * k as usize;
        stats[base] = total.m;
        stats[base + 1] = total.a;
        stats[base + 2] = total.s;
    }
}

/// Hoyer, second pass: per cube, one row's statistics from its `chunks` chunks, then
/// - the forward (`grad = false`): the row's ratio `‖v‖₁/‖v‖₂` (or its square) into `out[r]`,
///   0 for a zero row;
/// - the backward: `(1/m, P, Q)` into `out[3r..3r + 3]`, such that the gradient of
///   `upstream[0] · scale ·` the ratio is `(1/m)(P sign(x) − Q x/m)` (all 0 for a zero row).
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn hoyer_rows(
    stats: &[f32],
    upstream: &[f32],
    out: &mut [f32],
    rows: u32,
    chunks: u32,
    scale: f32,
    #[comptime] squared: bool,
    #[comptime] grad: bool,
    #[comptime] block: usize,
) {
    let r = CUBE_POS as u32;
    let valid = r < rows;
    let end = select(valid, chunks, 0u32);
    let mut m = 0.0f32;
    let mut a = 0.0f32;
    let mut s = 0.0f32;
    let mut c = UNIT_POS;
    while c < end {
        let base = 3usize * (r * chunks + c) as usize;
        let merged = stats_merge(m, a, s, stats[base], stats[base + 1], stats[base + 2]);
        m = merged.m;
        a = merged.a;
        s = merged.s;
        c += CUBE_DIM;
    }
    let total = cube_stats(m, a, s, block);
    if UNIT_POS == 0u32 && valid {
        let m = total.m;
        let a = total.a;
        let s = total.s;
        // `s >= 1` unless the row is zero (or NaN, which must propagate).
        let zero = s == 0.0f32;
        let safe_s = select(zero, 1.0f32, s);
        let root = safe_s.sqrt();
        if comptime![!grad] {
            let mut ratio = a / root;
            if comptime![squared] {
                ratio = a * a / safe_s;
            }
            out[r as usize] = select(zero, 0.0f32, ratio);
        }
        if comptime![grad] {
            let u = upstream[0] * scale;
            let mut p = u / root;
            let mut q = u * a / (safe_s * root);
            if comptime![squared] {
                p = 2.0f32 * u * a / safe_s;
                q = 2.0f32 * u * a * a / (safe_s * safe_s);
            }
            let safe_m = select(m > 0.0f32, m, 1.0f32);
            let base = 3usize * r as usize;
            out[base] = select(zero, 0.0f32, 1.0f32 / safe_m);
            out[base + 1] = select(zero, 0.0f32, p);
            out[base + 2] = select(zero, 0.0f32, q);
        }
    }
}

/// Hoyer, backward: `out[i] = (1/m)(P sign(x) − Q x/m)` with the factors of `x[i]`'s row.
#[cube(launch)]
fn hoyer_grad(x: &[f32], factors: &[f32], out: &mut [f32], n: u32, row: u32) {
    let i = ABSOLUTE_POS;
    if i < n as usize {
        let base = 3usize * (i as u32 / row) as usize;
        let inv_m = factors[base];
        let p = factors[base + 1];
        let q = factors[base + 2];
        let v = x[i];
        out[i] = inv_m * (p * sign(v) - q * (v * inv_m));
    }
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

impl HoyerRows {
    /// Hoyer's layout for `n` elements in rows of `row`; `None` when `row` does not divide `n`.
    fn of(x: &CubeTensor, n: u32, row: usize) -> Option<Self> {
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
        Some(Self {
            row,
            rows: n / row,
            chunk,
            chunks: row.div_ceil(chunk),
            block,
        })
    }

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
        hoyer_chunk_stats::launch(
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
        hoyer_rows::launch(
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

/// Hoyer's ratio of each row of length `row`, averaged over the rows, times `lambda`, shape
/// `[1]`; `None` when `row` does not divide the element count.
pub(super) fn value(
    x: &CubeTensor,
    n: u32,
    lambda: f64,
    squared: bool,
    row: usize,
) -> Option<CubeTensor> {
    let rows = HoyerRows::of(x, n, row)?;
    let client = x.client.clone();
    let ratios = client.empty(rows.rows as usize * size_of::<f32>());
    // The forward reads no upstream gradient: any buffer does.
    let unused = client.empty(size_of::<f32>());
    rows.launch(
        x,
        // SAFETY: `ratios` holds `rows` floats, `unused` one.
        unsafe { BufferArg::from_raw_parts(unused, 1) },
        unsafe { BufferArg::from_raw_parts(ratios.clone(), rows.rows as usize) },
        1.0,
        squared,
        false,
    );
    Some(finish(
        x,
        ratios,
        rows.rows,
        (lambda / f64::from(rows.rows)) as f32,
    ))
}

/// The gradient of `upstream[0] ·` [`value`] into `out`; `None` where [`value`] is.
pub(super) fn grad(g: GradLaunch, lambda: f64, squared: bool, row: usize) -> Option<()> {
    let rows = HoyerRows::of(&g.x, g.n, row)?;
    let factors = g.client.empty(3 * rows.rows as usize * size_of::<f32>());
    rows.launch(
        &g.x,
        g.upstream.into_buffer_arg(),
        // SAFETY: `factors` holds `3 rows` floats.
        unsafe { BufferArg::from_raw_parts(factors.clone(), 3 * rows.rows as usize) },
        (lambda / f64::from(rows.rows)) as f32,
        squared,
        true,
    );
    hoyer_grad::launch(
        &g.client,
        g.count,
        g.dim,
        g.x.into_buffer_arg(),
        // SAFETY: as above.
        unsafe { BufferArg::from_raw_parts(factors, 3 * rows.rows as usize) },
        g.out.into_buffer_arg(),
        g.n,
        rows.row,
    );
    Some(())
}
