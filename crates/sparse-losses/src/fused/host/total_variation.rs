//! Total variation: forward differences on the last two dimensions (or the last one), one
//! image row at a time so that the loops vectorise.

use rayon::prelude::*;

use super::math::{hypot, sign, vectorized};
use super::reduce::CHUNK;
use crate::fused::kernel::TvKind;

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

/// Whether the squares of the isotropic differences of the image `p` can neither overflow nor
/// underflow: every |x| at most 3e18 (so `|dh| + |dw| ≤ 1.2e19` and `dh² + dw²` stays finite)
/// and every nonzero |x| at least 1e-11 (then a nonzero difference of two such floats is at
/// least the spacing of floats at 1e-11, 2⁻⁶⁰ ≈ 8.7e-19, whose square is a normal float).
/// One pass over the image, cheaper than checking every difference.
#[inline(always)]
fn squares_in_range(p: &[f32]) -> bool {
    // In 8 lanes: a running maximum is a reduction the compiler does not vectorise.
    let (mut lo, mut hi) = ([f32::INFINITY; 8], [0f32; 8]);
    let mut update = |k: usize, v: f32| {
        let a = v.abs();
        hi[k] = if a > hi[k] { a } else { hi[k] };
        let positive = if a > 0.0 { a } else { f32::INFINITY };
        lo[k] = if positive < lo[k] { positive } else { lo[k] };
    };
    let chunks = p.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for (k, &v) in c.iter().enumerate() {
            update(k, v);
        }
    }
    for (k, &v) in rest.iter().enumerate() {
        update(k, v);
    }
    hi.iter().all(|&h| h <= 3e18) && lo.iter().all(|&l| l >= 1e-11)
}

/// `Σ r` in 8 lanes (a running sum is a reduction the compiler does not vectorise).
#[inline(always)]
fn lane_sum(r: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let chunks = r.chunks_exact(8);
    let rest: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for (lane, &v) in lanes.iter_mut().zip(c) {
            *lane += v;
        }
    }
    lanes.iter().sum::<f32>() + rest
}

/// `r[j] = √(dh² + dw²)` of the isotropic terms of one row (`row`, the row below `next`;
/// `j < r.len() = w − 1`), and their sum: the squares as they are when `plain` (see
/// [`squares_in_range`]), else [`hypot`] (in units of `max(|dh|, |dw|)`, two divisions per
/// term).
#[inline(always)]
fn row_norms(row: &[f32], next: &[f32], r: &mut [f32], plain: bool) -> f32 {
    let n = r.len();
    let (row, right, next) = (&row[..n], &row[1..=n], &next[..n]);
    if plain {
        for j in 0..n {
            let (dh, dw) = (next[j] - row[j], right[j] - row[j]);
            r[j] = (dh * dh + dw * dw).sqrt();
        }
    } else {
        for j in 0..n {
            r[j] = hypot(next[j] - row[j], right[j] - row[j]);
        }
    }
    lane_sum(r)
}

/// The variation of one `h × w` image.
fn plane_value(p: &[f32], h: usize, w: usize, kind: TvKind) -> f64 {
    vectorized(
        #[inline(always)]
        move || {
            let mut total = 0f64;
            if kind == TvKind::Isotropic {
                let mut norms = vec![0f32; w];
                let plain = squares_in_range(p);
                for i in 0..h - 1 {
                    let (row, next) = (&p[i * w..(i + 1) * w], &p[(i + 1) * w..(i + 2) * w]);
                    total += f64::from(row_norms(row, next, &mut norms[..w - 1], plain));
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
                let plain = squares_in_range(p);
                for i in 0..h {
                    let row = &p[i * w..(i + 1) * w];
                    let out = &mut g[i * w..(i + 1) * w];
                    if i + 1 < h {
                        let next = &p[(i + 1) * w..(i + 2) * w];
                        row_norms(row, next, &mut norms[..w - 1], plain);
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
