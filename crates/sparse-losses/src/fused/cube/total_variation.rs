//! Total variation on the device, the twin of `host/total_variation.rs`: the forward adds each
//! element's terms (its differences to the right and downwards) by the two-pass [`reduce`]; the
//! backward is one elementwise kernel (each element's own terms, its left neighbour's and the
//! one above's).

use burn_cubecl::cubecl;
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;

use super::launch::GradLaunch;
use super::math::{hypot, sign};
use super::reduce::{cube_sum, reduce};
use crate::fused::kernel::TvKind;

/// The total variations (comptime codes of [`tv_partials`] and [`tv_grad`]; `one_d` is the
/// anisotropic one on images of height 1).
const TV_ABS: u32 = 0;
const TV_ISOTROPIC: u32 = 1;
const TV_SQUARED: u32 = 2;

/// The total-variation terms that element `i` starts (its forward differences to the right and
/// downwards, in images of `h × w`), for `kind`.
#[cube]
fn tv_term(x: &[f32], i: u32, h: u32, w: u32, #[comptime] kind: u32) -> f32 {
    let j = i % w;
    let r = (i / w) % h;
    let has_right = j + 1u32 < w;
    let has_down = r + 1u32 < h;
    let v = x[i as usize];
    let dw = x[select(has_right, i + 1u32, i) as usize] - v;
    let dh = x[select(has_down, i + w, i) as usize] - v;
    let mut t = 0.0f32;
    if comptime![kind == TV_ABS] {
        t = select(has_right, dw.abs(), 0.0f32) + select(has_down, dh.abs(), 0.0f32);
    }
    if comptime![kind == TV_SQUARED] {
        t = select(has_right, dw * dw, 0.0f32) + select(has_down, dh * dh, 0.0f32);
    }
    if comptime![kind == TV_ISOTROPIC] {
        t = select(has_right && has_down, hypot(dh, dw), 0.0f32);
    }
    t
}

/// Per cube, the total-variation terms of its `chunk` elements, into `partials[CUBE_POS]`.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn tv_partials(
    x: &[f32],
    partials: &mut [f32],
    n: u32,
    chunk: u32,
    h: u32,
    w: u32,
    #[comptime] kind: u32,
    #[comptime] block: usize,
) {
    let start = CUBE_POS as u32 * chunk;
    let end = select(n - start < chunk, n, start + chunk);
    let mut acc = 0.0f32;
    let mut i = start + UNIT_POS;
    while i < end {
        acc += tv_term(x, i, h, w, kind);
        i += CUBE_DIM;
    }
    let total = cube_sum(acc, block);
    if UNIT_POS == 0u32 {
        partials[CUBE_POS] = total;
    }
}

/// `φ'(d)`: `sign(d)` for the absolute variations, `2d` for the squared one.
#[cube]
fn tv_dphi(d: f32, #[comptime] kind: u32) -> f32 {
    let mut g = 0.0f32;
    if comptime![kind == TV_SQUARED] {
        g = 2.0f32 * d;
    }
    if comptime![kind != TV_SQUARED] {
        g = sign(d);
    }
    g
}

/// `d√(a² + b²)` factor `1/√(a² + b²)`, 0 where both are 0.
#[cube]
fn inv_norm(a: f32, b: f32) -> f32 {
    let r = hypot(a, b);
    let safe = select(r > 0.0f32, r, 1.0f32);
    select(r > 0.0f32, 1.0f32 / safe, 0.0f32)
}

/// `out[i] = upstream[0] · scale · ∂TV/∂x[i]`: the terms element `i` takes part in are its
/// own (rightwards and downwards), its left neighbour's and the one above's.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn tv_grad(
    x: &[f32],
    upstream: &[f32],
    out: &mut [f32],
    n: u32,
    h: u32,
    w: u32,
    scale: f32,
    #[comptime] kind: u32,
) {
    let pos = ABSOLUTE_POS;
    if pos < n as usize {
        let i = pos as u32;
        let s = upstream[0] * scale;
        let j = i % w;
        let r = (i / w) % h;
        let has_left = j > 0u32;
        let has_right = j + 1u32 < w;
        let has_up = r > 0u32;
        let has_down = r + 1u32 < h;
        let v = x[pos];
        let left = x[select(has_left, i - 1u32, i) as usize];
        let right = x[select(has_right, i + 1u32, i) as usize];
        let up = x[select(has_up, i - w, i) as usize];
        let down = x[select(has_down, i + w, i) as usize];
        let mut g = 0.0f32;
        if comptime![kind != TV_ISOTROPIC] {
            g = select(has_up, tv_dphi(v - up, kind), 0.0f32)
                - select(has_down, tv_dphi(down - v, kind), 0.0f32)
                + select(has_left, tv_dphi(v - left, kind), 0.0f32)
                - select(has_right, tv_dphi(right - v, kind), 0.0f32);
        }
        if comptime![kind == TV_ISOTROPIC] {
            // Its own term (dh, dw): −(dh + dw)/r.
            let dh = down - v;
            let dw = right - v;
            let own = select(has_right && has_down, (dh + dw) * inv_norm(dh, dw), 0.0f32);
            // The term above: its dh is v − up, its dw is x[i − w + 1] − up.
            let above = has_up && has_right;
            let up_right = x[select(above, i - w + 1u32, i) as usize];
            let dh_up = v - up;
            let from_above = select(above, dh_up * inv_norm(dh_up, up_right - up), 0.0f32);
            // The term on the left: its dw is v − left, its dh is x[i + w − 1] − left.
            let beside = has_left && has_down;
            let down_left = x[select(beside, i + w - 1u32, i) as usize];
            let dw_left = v - left;
            let from_left = select(
                beside,
                dw_left * inv_norm(down_left - left, dw_left),
                0.0f32,
            );
            g = from_above + from_left - own;
        }
        out[pos] = s * g;
    }
}

/// The total variation's kernel code and image plane `(h, w)` (`one_d`: the anisotropic
/// variation of images of height 1); `None` for a shape without a plane.
fn tv_plane(x: &CubeTensor, kind: TvKind) -> Option<(u32, u32, u32)> {
    let dims = x.meta.shape();
    let rank = dims.num_dims();
    let w = u32::try_from(*dims.last()?).ok()?;
    let (op, h) = match kind {
        TvKind::OneD => (TV_ABS, 1),
        TvKind::Anisotropic => (TV_ABS, dims[rank.checked_sub(2)?]),
        TvKind::Squared => (TV_SQUARED, dims[rank.checked_sub(2)?]),
        TvKind::Isotropic => (TV_ISOTROPIC, dims[rank.checked_sub(2)?]),
    };
    let h = u32::try_from(h).ok()?;
    (h > 0 && w > 0).then_some((op, h, w))
}

/// `scale ·` the total variation of `x`, shape `[1]`; `None` for a shape without a plane.
pub(super) fn value(x: &CubeTensor, n: u32, kind: TvKind, scale: f64) -> Option<CubeTensor> {
    let (op, h, w) = tv_plane(x, kind)?;
    Some(reduce(
        x,
        n,
        scale as f32,
        |client, count, dim, chunk, partials, block| {
            tv_partials::launch(
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
    ))
}

/// `upstream[0] · scale · ∂TV/∂x` into `out`; `None` where [`value`] is.
pub(super) fn grad(g: GradLaunch, kind: TvKind, scale: f64) -> Option<()> {
    let (op, h, w) = tv_plane(&g.x, kind)?;
    tv_grad::launch(
        &g.client,
        g.count,
        g.dim,
        g.x.into_buffer_arg(),
        g.upstream.into_buffer_arg(),
        g.out.into_buffer_arg(),
        g.n,
        h,
        w,
        scale as f32,
        op,
    );
    Some(())
}
