//! Total variation: forward differences on the last two dimensions (or the last one), one
//! image row at a time so that the loops vectorise.

use rayon::prelude::*;

use super::math::{hypot, sign, vectorized};
use super::CHUNK;
use crate::TvKind;

/// `(h, w)` of one image (for `OneD`, `1 × w`: one row, no vertical differences).
fn plane(dims: &[usize], kind: TvKind) -> (usize, usize) {
    let w = dims[dims.len() - 1];
    let h = if kind == TvKind::OneD {
        1
    } else {
        dims[dims.len() - 2]
    };
    (h, w)
}

/// Images per parallel task.
fn planes_per_task(h: usize, w: usize) -> usize {
    (CHUNK / (h * w)).max(1)
}

/// `φ(d)` of the anisotropic (`|d|`), squared (`d²`) and 1-D (`|d|`) variations.
#[inline(always)]
fn phi(d: f32, squared: bool) -> f32 {
    if squared {
        d * d
    } else {
        d.abs()
    }
}

/// `φ'(d)`.
#[inline(always)]
fn dphi(d: f32, squared: bool) -> f32 {
    if squared {
        2.0 * d
    } else {
        sign(d)
    }
}

/// `r[j] = √(dh² + dw²)` of the isotropic terms of one row (`row`, the row below `next`;
/// `j < r.len() = w − 1`): the squares as they are, and the row again with [`hypot`] (in
/// units of `max(|dh|, |dw|)`, two divisions per term) where a square may overflow or
/// underflow: some `a = |dh| + |dw|` above 1.3e19 (then `dh² + dw² ≤ 2a²` may overflow) or
/// nonzero below 2.2e-19 (then `max(|dh|, |dw|)² ≥ a²/4` may be subnormal or 0). Returns
/// their sum.
#[inline(always)]
fn row_norms(row: &[f32], next: &[f32], r: &mut [f32]) -> f32 {
    const LARGE: f32 = 1.3e19;
    const SMALL: f32 = 2.2e-19;
    let n = r.len();
    let (row, right, next) = (&row[..n], &row[1..=n], &next[..n]);
    let (mut lo, mut hi, mut sum) = (f32::INFINITY, 0f32, 0f32);
    for j in 0..n {
        let (dh, dw) = (next[j] - row[j], right[j] - row[j]);
        let norm = (dh * dh + dw * dw).sqrt();
        r[j] = norm;
        sum += norm;
        let a = dh.abs() + dw.abs();
        hi = if a > hi { a } else { hi };
        let positive = if a > 0.0 { a } else { f32::INFINITY };
        lo = if positive < lo { positive } else { lo };
    }
    if hi > LARGE || lo < SMALL {
        sum = 0.0;
        for j in 0..n {
            r[j] = hypot(next[j] - row[j], right[j] - row[j]);
            sum += r[j];
        }
    }
    sum
}

/// The variation of one `h × w` image.
fn plane_value(p: &[f32], h: usize, w: usize, kind: TvKind) -> f64 {
    vectorized(
        #[inline(always)]
        move || {
            let mut total = 0f64;
            if kind == TvKind::Isotropic {
                let mut norms = vec![0f32; w];
                for i in 0..h - 1 {
                    let (row, next) = (&p[i * w..(i + 1) * w], &p[(i + 1) * w..(i + 2) * w]);
                    total += f64::from(row_norms(row, next, &mut norms[..w - 1]));
                }
                return total;
            }
            let squared = kind == TvKind::Squared;
            for i in 0..h {
                let row = &p[i * w..(i + 1) * w];
                let mut acc = 0f32;
                for j in 0..w - 1 {
                    acc += phi(row[j + 1] - row[j], squared);
                }
                if i + 1 < h {
                    let next = &p[(i + 1) * w..(i + 2) * w];
                    for (a, b) in row.iter().zip(next) {
                        acc += phi(b - a, squared);
                    }
                }
                total += f64::from(acc);
            }
            total
        },
    )
}

/// Writes `scale ·` the gradient of [`plane_value`] into `g`; `scratch` holds `2w` floats.
fn plane_grad(
    p: &[f32],
    g: &mut [f32],
    h: usize,
    w: usize,
    kind: TvKind,
    s: f32,
    scratch: &mut [f32],
) {
    vectorized(
        #[inline(always)]
        move || {
            let (prev, cur) = scratch.split_at_mut(w);
            if kind == TvKind::Isotropic {
                // prev[j]: dh/r of the row above at column j; cur: dh/r and dw/r of this row.
                prev.fill(0.0);
                let mut nw = vec![0f32; w];
                let mut norms = vec![0f32; w];
                for i in 0..h {
                    let row = &p[i * w..(i + 1) * w];
                    let out = &mut g[i * w..(i + 1) * w];
                    if i + 1 < h {
                        let next = &p[(i + 1) * w..(i + 2) * w];
                        row_norms(row, next, &mut norms[..w - 1]);
                        for j in 0..w - 1 {
                            let (dh, dw) = (next[j] - row[j], row[j + 1] - row[j]);
                            let r = norms[j];
                            let inv = if r > 0.0 { 1.0 / r } else { 0.0 };
                            cur[j] = dh * inv;
                            nw[j] = dw * inv;
                        }
                        cur[w - 1] = 0.0;
                        nw[w - 1] = 0.0;
                    } else {
                        cur.fill(0.0);
                        nw.fill(0.0);
                    }
                    out[0] = s * (prev[0] - cur[0] - nw[0]);
                    for j in 1..w {
                        out[j] = s * (prev[j] - cur[j] - nw[j] + nw[j - 1]);
                    }
                    prev.copy_from_slice(cur);
                }
                return;
            }
            let squared = kind == TvKind::Squared;
            // prev[j]: φ' of the vertical difference above (row i−1 to i); cur: the one below.
            prev.fill(0.0);
            for i in 0..h {
                let row = &p[i * w..(i + 1) * w];
                let out = &mut g[i * w..(i + 1) * w];
                if i + 1 < h {
                    let next = &p[(i + 1) * w..(i + 2) * w];
                    for ((c, a), b) in cur.iter_mut().zip(row).zip(next) {
                        *c = dphi(b - a, squared);
                    }
                } else {
                    cur.fill(0.0);
                }
                for j in 0..w {
                    out[j] = prev[j] - cur[j];
                }
                for j in 0..w - 1 {
                    let d = dphi(row[j + 1] - row[j], squared);
                    out[j] -= d;
                    out[j + 1] += d;
                }
                for o in out.iter_mut() {
                    *o *= s;
                }
                prev.copy_from_slice(cur);
            }
        },
    )
}

/// The total variation of every image, summed.
pub(super) fn value(data: &[f32], dims: &[usize], kind: TvKind) -> f64 {
    let (h, w) = plane(dims, kind);
    data.par_chunks(h * w * planes_per_task(h, w))
        .map(|task| {
            task.chunks(h * w)
                .map(|p| plane_value(p, h, w, kind))
                .sum::<f64>()
        })
        .sum()
}

/// `scale ·` the gradient of [`value`].
pub(super) fn grad(data: &[f32], dims: &[usize], kind: TvKind, scale: f64) -> Vec<f32> {
    let (h, w) = plane(dims, kind);
    let per_task = h * w * planes_per_task(h, w);
    let mut out = vec![0f32; data.len()];
    out.par_chunks_mut(per_task)
        .zip(data.par_chunks(per_task))
        .for_each(|(g, d)| {
            let mut scratch = vec![0f32; 2 * w];
            for (g, p) in g.chunks_mut(h * w).zip(d.chunks(h * w)) {
                plane_grad(p, g, h, w, kind, scale as f32, &mut scratch);
            }
        });
    out
}
