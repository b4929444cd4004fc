//! KL sparsity on the device, the twin of `host/kl.rs`: column sums by chunks of rows
//! ([`Columns`]: neighbouring units read neighbouring columns), then one unit per column adds
//! its chunks and writes the column's term (the forward, then [`finish`]) or gradient factor
//! (the backward, broadcast over the rows by an elementwise kernel).

use burn_cubecl::cubecl;
use burn_cubecl::cubecl::calculate_cube_count_elemwise;
use burn_cubecl::cubecl::server::Handle;
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;

use super::launch::GradLaunch;
use super::reduce::{finish, Columns};

/// KL sparsity, per column `c` (one unit each): the mean `ρ̂ = inv_rows · Σ_k partials[k ·
/// cols + c]`, clamped to `[ε, 1 − ε]` (`one_minus_eps = 1 − ε`; `1 − ρ̂` formed from the
/// unclamped mean), then
/// - the forward (`grad = false`): `ρ ln(ρ/ρ̂) + (1 − ρ) ln((1 − ρ)/(1 − ρ̂))` into `out[c]`;
/// - the backward: `upstream[0] · scale · (−ρ/ρ̂ + (1 − ρ)/(1 − ρ̂))`, 0 where the clamp is
///   active, into `out[c]`.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn kl_columns(
    partials: &[f32],
    upstream: &[f32],
    out: &mut [f32],
    cols: u32,
    chunks: u32,
    inv_rows: f32,
    rho: f32,
    eps: f32,
    one_minus_eps: f32,
    scale: f32,
    #[comptime] grad: bool,
) {
    let pos = ABSOLUTE_POS;
    if pos < cols as usize {
        let c = pos as u32;
        let mut sum = 0.0f32;
        let mut k = 0u32;
        while k < chunks {
            sum += partials[(k * cols + c) as usize];
            k += 1u32;
        }
        let mean = sum * inv_rows;
        let low = mean < eps;
        let high = mean > one_minus_eps;
        let p = select(low, eps, select(high, one_minus_eps, mean));
        let q = select(low, one_minus_eps, select(high, eps, 1.0f32 - mean));
        let rho_c = 1.0f32 - rho;
        if comptime![!grad] {
            out[pos] = rho * (rho / p).ln() + rho_c * (rho_c / q).ln();
        }
        if comptime![grad] {
            let g = upstream[0] * scale * (-rho / p + rho_c / q);
            out[pos] = select(low || high, 0.0f32, g);
        }
    }
}

/// `out[i] = factors[i % cols]`: a per-column factor broadcast over the rows.
#[cube(launch)]
fn broadcast_columns(factors: &[f32], out: &mut [f32], n: u32, cols: u32) {
    let i = ABSOLUTE_POS;
    if i < n as usize {
        out[i] = factors[(i as u32 % cols) as usize];
    }
}

/// [`kl_columns`] over `columns`: each column's KL term, or with `grad` its gradient factor
/// (`upstream[0] · scale ·`), `cols` floats.
fn kl_terms(
    columns: &Columns,
    x: &CubeTensor,
    upstream: BufferArg,
    rho: f64,
    eps: f64,
    scale: f32,
    grad: bool,
) -> Handle {
    let client = &x.client;
    let partials = columns.partials(x, false);
    let units = columns.chunks as usize * columns.cols as usize;
    let cols = columns.cols as usize;
    let out = client.empty(cols * size_of::<f32>());
    let dim = CubeDim::new(client, cols);
    kl_columns::launch(
        client,
        calculate_cube_count_elemwise(client, cols, dim),
        dim,
        // SAFETY: as in `Columns::partials`; `out` holds `cols` floats.
        unsafe { BufferArg::from_raw_parts(partials, units) },
        upstream,
        unsafe { BufferArg::from_raw_parts(out.clone(), cols) },
        columns.cols,
        columns.chunks,
        (1.0 / f64::from(columns.rows)) as f32,
        rho as f32,
        eps as f32,
        (1.0 - eps) as f32,
        scale,
        grad,
    );
    out
}

/// KL sparsity of the column means (columns = the last dimension) times `beta`, shape `[1]`;
/// `None` for an empty last dimension.
pub(super) fn value(
    x: &CubeTensor,
    n: u32,
    target: f64,
    beta: f64,
    eps: f64,
) -> Option<CubeTensor> {
    let columns = Columns::of(x, n)?;
    let client = x.client.clone();
    let unused = client.empty(size_of::<f32>());
    // SAFETY: `unused` holds one float.
    let terms = kl_terms(
        &columns,
        x,
        unsafe { BufferArg::from_raw_parts(unused, 1) },
        target,
        eps,
        1.0,
        false,
    );
    // `terms` holds one float per column.
    Some(finish(x, terms, columns.cols, beta as f32))
}

/// The gradient of `upstream[0] ·` [`value`] into `out`; `None` where [`value`] is.
pub(super) fn grad(g: GradLaunch, target: f64, beta: f64, eps: f64) -> Option<()> {
    let columns = Columns::of(&g.x, g.n)?;
    let factors = kl_terms(
        &columns,
        &g.x,
        g.upstream.into_buffer_arg(),
        target,
        eps,
        (beta / f64::from(columns.rows)) as f32,
        true,
    );
    broadcast_columns::launch(
        &g.client,
        g.count,
        g.dim,
        // SAFETY: `factors` holds `cols` floats.
        unsafe { BufferArg::from_raw_parts(factors, columns.cols as usize) },
        g.out.into_buffer_arg(),
        g.n,
        columns.cols,
    );
    Some(())
}
