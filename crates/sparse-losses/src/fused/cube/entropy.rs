//! The entropy of each row on the device, the twin of `host/entropy.rs`: one cube per row (the
//! last dimension), which reduces its row in shared memory (`Σ|x|`, or the maximum of `x/T`),
//! then `−Σ p ln p` (or `Σ eʸ` and `Σ eʸ y`) in a second sweep over the row (from cache), into
//! one entropy per row and then their mean by [`finish`]; the backward computes the row's
//! statistics the same way and writes its gradient in a third sweep, all in one kernel.

use burn_cubecl::cubecl;
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;

use super::launch::{block_size, cube_dim, grid, GradLaunch, BLOCK};
use super::math::{log1p, sign};
use super::reduce::{cube_sum, finish};

/// The largest `value` over the units of the cube (a tree in shared memory, like
/// [`cube_sum`]); every unit gets it. NaN is kept only where it comes first (the callers'
/// sums propagate it anyway).
#[cube]
fn cube_max(value: f32, #[comptime] block: usize) -> f32 {
    let mut shared = Shared::<[f32]>::new_slice(block);
    shared[UNIT_POS as usize] = value;
    sync_cube();
    let mut half = CUBE_DIM / 2u32;
    while half > 0u32 {
        if UNIT_POS < half {
            let other = shared[(UNIT_POS + half) as usize];
            let mine = shared[UNIT_POS as usize];
            shared[UNIT_POS as usize] = select(other > mine, other, mine);
        }
        sync_cube();
        half /= 2u32;
    }
    shared[0]
}

/// `ln p` for `p = a/S`, `0 < a <= S`: `−ln(1 + (S − a)/a)` by [`log1p`] (exactly 0 for a
/// one-hot row, accurate near `p = 1`), `ln a − ln S` where the ratio would overflow.
#[cube]
fn ln_share(a: f32, total: f32) -> f32 {
    let z = (total - a) / a;
    let finite = z < 1.0e30f32;
    let near = -log1p(select(finite, z, 0.0f32));
    select(finite, near, a.ln() - total.ln())
}

/// The entropy of each row (cube `r` = row `r`, `row` elements; every unit of the cube takes
/// part in its reductions):
/// - `abs` (`softmax = false`): `S = Σ|x|`, `p = |x|/S`, `H = −Σ p ln p` (0 for a zero row);
/// - softmax: `y = x/T − max`, `Z = Σ eʸ`, `H = ln Z − (Σ eʸ y)/Z`.
///
/// The forward (`grad = false`) writes `H` into `out[r]`; the backward writes the gradient of
/// `upstream[0] · scale · H` into the row of `out`: `s sign(x)(−ln p − H)/S` (0 where `x = 0`)
/// for `abs`, `−s p (ln p + H)/T` for the softmax (`inv_t = 1/T`).
#[cube(launch)]
// A comptime condition does not combine with a runtime one in one `if`.
#[allow(clippy::too_many_arguments, clippy::collapsible_if)]
fn entropy_rows(
    x: &[f32],
    upstream: &[f32],
    out: &mut [f32],
    row: u32,
    rows: u32,
    inv_t: f32,
    scale: f32,
    #[comptime] softmax: bool,
    #[comptime] grad: bool,
    #[comptime] block: usize,
) {
    let r = CUBE_POS as u32;
    let valid = r < rows;
    // The cubes past the last (a grid spread over two axes) read nothing.
    let start = select(valid, r * row, 0u32);
    let end = start + select(valid, row, 0u32);
    let mut h = 0.0f32;
    // abs: S; softmax: the maximum of x/T and ln Z.
    let mut total = 0.0f32;
    let mut m = 0.0f32;
    let mut ln_z = 0.0f32;
    if comptime![!softmax] {
        let mut acc = 0.0f32;
        let mut i = start + UNIT_POS;
        while i < end {
            acc += x[i as usize].abs();
            i += CUBE_DIM;
        }
        total = cube_sum(acc, block);
        sync_cube();
        let zero = total == 0.0f32;
        let safe = select(zero, 1.0f32, total);
        let mut acc2 = 0.0f32;
        let mut i = start + UNIT_POS;
        while i < end {
            let a = x[i as usize].abs();
            let pos = a > 0.0f32;
            let sa = select(pos, a, 1.0f32);
            let p = sa / safe;
            acc2 += select(pos, -p * ln_share(sa, safe), 0.0f32);
            i += CUBE_DIM;
        }
        let sum = cube_sum(acc2, block);
        // NaN (and an infinite sum) propagate; a zero row gives 0.
        h = select(zero, 0.0f32, sum + total * 0.0f32);
    }
    if comptime![softmax] {
        let first = x[start as usize] * inv_t;
        let mut mx = first;
        let mut i = start + UNIT_POS;
        while i < end {
            let y = x[i as usize] * inv_t;
            mx = select(y > mx, y, mx);
            i += CUBE_DIM;
        }
        m = cube_max(mx, block);
        sync_cube();
        let mut zu = 0.0f32;
        let mut eyu = 0.0f32;
        let mut i = start + UNIT_POS;
        while i < end {
            let y = x[i as usize] * inv_t - m;
            let e = y.exp();
            zu += e;
            eyu += e * y;
            i += CUBE_DIM;
        }
        let z = cube_sum(zu, block);
        sync_cube();
        let ey = cube_sum(eyu, block);
        // Z >= 1 (the maximum's term is 1).
        ln_z = log1p(select(z > 1.0f32, z - 1.0f32, 0.0f32)) + z * 0.0f32;
        let safe_z = select(valid, z, 1.0f32);
        h = ln_z - ey / safe_z;
    }
    if comptime![!grad] {
        if UNIT_POS == 0u32 && valid {
            out[r as usize] = h;
        }
    }
    if comptime![grad] {
        let u = upstream[0] * scale;
        if comptime![!softmax] {
            let zero = total == 0.0f32;
            let safe = select(zero, 1.0f32, total);
            let s = u / safe;
            let mut i = start + UNIT_POS;
            while i < end {
                let v = x[i as usize];
                let a = v.abs();
                let pos = a > 0.0f32;
                let sa = select(pos, a, 1.0f32);
                let g = s * sign(v) * (-ln_share(sa, safe) - h);
                out[i as usize] = select(pos && !zero, g, 0.0f32);
                i += CUBE_DIM;
            }
        }
        if comptime![softmax] {
            let s = u * inv_t;
            let lse = m + ln_z;
            let mut i = start + UNIT_POS;
            while i < end {
                let log_p = x[i as usize] * inv_t - lse;
                out[i as usize] = -s * log_p.exp() * (log_p + h);
                i += CUBE_DIM;
            }
        }
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

    /// [`entropy_rows`]: each row's entropy into `out`, or with `grad` the gradient of
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
        entropy_rows::launch(
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

/// The entropy of each row (last dimension), averaged over the rows, times `lambda`, shape
/// `[1]`; `None` for an empty last dimension.
pub(super) fn value(
    x: &CubeTensor,
    n: u32,
    lambda: f64,
    softmax: Option<f64>,
) -> Option<CubeTensor> {
    let rows = EntropyRows::of(x, n)?;
    let client = x.client.clone();
    let entropies = client.empty(rows.rows as usize * size_of::<f32>());
    let unused = client.empty(size_of::<f32>());
    rows.launch(
        x,
        // SAFETY: `entropies` holds `rows` floats, `unused` one.
        unsafe { BufferArg::from_raw_parts(unused, 1) },
        unsafe { BufferArg::from_raw_parts(entropies.clone(), rows.rows as usize) },
        softmax,
        1.0,
        false,
    );
    Some(finish(
        x,
        entropies,
        rows.rows,
        (lambda / f64::from(rows.rows)) as f32,
    ))
}

/// The gradient of `upstream[0] ·` [`value`] into `out`; `None` where [`value`] is.
pub(super) fn grad(g: GradLaunch, lambda: f64, softmax: Option<f64>) -> Option<()> {
    let rows = EntropyRows::of(&g.x, g.n)?;
    rows.launch(
        &g.x,
        g.upstream.into_buffer_arg(),
        g.out.into_buffer_arg(),
        softmax,
        (lambda / f64::from(rows.rows)) as f32,
        true,
    );
    Some(())
}
