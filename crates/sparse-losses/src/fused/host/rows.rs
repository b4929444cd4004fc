//! The kernels that need a statistic of each row (Hoyer, entropy) or column (KL) first.

use rayon::prelude::*;

use super::elementwise::{chunk_sum, map, two_sums};
use super::math::{self, sign, vectorized};
use super::CHUNK;

/// Rows per parallel task, so that a task holds about [`CHUNK`] elements.
fn rows_per_task(row: usize) -> usize {
    (CHUNK / row.max(1)).max(1)
}

/// `f(row)` summed over the rows of length `row`, in parallel.
fn sum_rows(data: &[f32], row: usize, f: impl Fn(&[f32]) -> f64 + Sync + Send) -> f64 {
    data.par_chunks(row * rows_per_task(row))
        .map(|task| task.chunks(row).map(&f).sum::<f64>())
        .sum()
}

/// Fills each row's gradient with `g(row, out)`, in parallel.
fn grad_rows(data: &[f32], row: usize, g: impl Fn(&[f32], &mut [f32]) + Sync + Send) -> Vec<f32> {
    let mut out = vec![0f32; data.len()];
    let per_task = row * rows_per_task(row);
    out.par_chunks_mut(per_task)
        .zip(data.par_chunks(per_task))
        .for_each(|(o, d)| {
            for (o, d) in o.chunks_mut(row).zip(d.chunks(row)) {
                g(d, o);
            }
        });
    out
}

/// `(Σ|x|, Σx²)` of a row (in parallel when it is long).
fn l1_l2sq(row: &[f32]) -> (f64, f64) {
    let one = |r: &[f32]| {
        vectorized(
            #[inline(always)]
            move || {
                let (mut l1, mut sq) = ([0f64; 8], [0f64; 8]);
                let mut blocks = r.chunks_exact(8);
                for block in &mut blocks {
                    for ((a, s), &x) in l1.iter_mut().zip(sq.iter_mut()).zip(block) {
                        let x = f64::from(x);
                        *a += x.abs();
                        *s += x * x;
                    }
                }
                let (mut a, mut s) = (l1.iter().sum::<f64>(), sq.iter().sum::<f64>());
                for &x in blocks.remainder() {
                    let x = f64::from(x);
                    a += x.abs();
                    s += x * x;
                }
                (a, s)
            },
        )
    };
    if row.len() <= CHUNK {
        one(row)
    } else {
        row.par_chunks(CHUNK)
            .map(one)
            .reduce(|| (0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1))
    }
}

/// Hoyer's ratio of one row from its `(Σ|x|, Σx²)`; 0 for a zero row.
fn hoyer_ratio((l1, sq): (f64, f64), squared: bool) -> f64 {
    if sq == 0.0 {
        0.0
    } else if squared {
        l1 * l1 / sq
    } else {
        l1 / sq.sqrt()
    }
}

/// Hoyer's ratio averaged over the rows.
pub(super) fn hoyer_value(data: &[f32], row: usize, squared: bool) -> f64 {
    let rows = data.len() / row;
    if rows == 1 {
        return hoyer_ratio(l1_l2sq(data), squared);
    }
    sum_rows(data, row, |r| hoyer_ratio(l1_l2sq(r), squared)) / rows as f64
}

/// The gradient's two factors `(a, c)` for one row, `∂/∂x = a (sign(x) − c x)`: `a = 1/‖v‖₂`
/// (Hoyer-Square: `2‖v‖₁/‖v‖₂²`) and `c = ‖v‖₁/‖v‖₂²` for both; `None` for a zero row. `c x` is
/// of order 1 whatever the scale of the row, so tiny or huge rows stay inside float32's range.
fn hoyer_factors((l1, sq): (f64, f64), squared: bool, scale: f64) -> Option<(f32, f32)> {
    if sq == 0.0 {
        return None;
    }
    let a = if squared {
        2.0 * l1 / sq
    } else {
        1.0 / sq.sqrt()
    };
    Some(((scale * a) as f32, (l1 / sq) as f32))
}

/// `scale ·` the gradient of [`hoyer_value`], divided by the number of rows; 0 for a zero row.
pub(super) fn hoyer_grad(data: &[f32], row: usize, squared: bool, scale: f64) -> Vec<f32> {
    let rows = data.len() / row;
    let scale = scale / rows as f64;
    if rows == 1 {
        return match hoyer_factors(l1_l2sq(data), squared, scale) {
            Some((a, c)) => map(
                data,
                #[inline(always)]
                move |x| a * (sign(x) - c * x),
            ),
            None => vec![0.0; data.len()],
        };
    }
    grad_rows(data, row, |r, out| {
        if let Some((a, c)) = hoyer_factors(l1_l2sq(r), squared, scale) {
            vectorized(
                #[inline(always)]
                move || {
                    for (o, &x) in out.iter_mut().zip(r) {
                        *o = a * (sign(x) - c * x);
                    }
                },
            )
        }
    })
}

/// The entropy of one row and the statistic its gradient needs: `1/Σ|x|` for `abs`, the
/// log-sum-exp of `x/T` for the softmax. For `abs`, `S = Σ|x|` then `−Σ p log p`; for the
/// softmax one pass after the maximum:
///
/// ```text
/// softmax:  H = ln Z − (Σ e y) / Z,     y = x/T − max, e = exp(y), Z = Σ e
/// ```
fn row_entropy(r: &[f32], softmax: Option<f64>) -> (f64, f64) {
    match softmax {
        None => {
            let total = chunk_sum(
                r,
                #[inline(always)]
                |x: f32| x.abs(),
            );
            if total == 0.0 || total.is_nan() {
                // A zero row has entropy 0; NaN propagates (SPEC rule 4).
                return (total * 0.0, 0.0);
            }
            // A second pass on p = |x|/S (not ln S − Σ a ln a / S, which loses the exact 0
            // of a one-hot row to rounding).
            let inv = (1.0 / total) as f32;
            let h = chunk_sum(
                r,
                #[inline(always)]
                move |x: f32| {
                    let p = x.abs() * inv;
                    if p > 0.0 {
                        -p * math::ln(p)
                    } else {
                        0.0
                    }
                },
            );
            (h, 1.0 / total)
        }
        Some(t) => {
            let inv_t = (1.0 / t) as f32;
            // T > 0, and rounding is monotonic: max(x/T) = max(x)/T exactly.
            let m = row_max(r) * inv_t;
            let (z, e_y) = two_sums(
                r,
                #[inline(always)]
                move |x: f32| {
                    let y = x * inv_t - m;
                    let e = math::exp(y);
                    (e, e * y)
                },
            );
            let h = z.ln() - e_y / z;
            (h, f64::from(m) + z.ln())
        }
    }
}

/// The largest element of `r` (NaN ignored, as by `f32::max`; −∞ for an empty or all-NaN
/// row), in 8 lanes compiled for AVX2 where the CPU has it.
fn row_max(r: &[f32]) -> f32 {
    vectorized(
        #[inline(always)]
        move || {
            let mut lanes = [f32::NEG_INFINITY; 8];
            let blocks = r.chunks_exact(8);
            let tail = blocks.remainder();
            for block in blocks {
                for (l, &x) in lanes.iter_mut().zip(block) {
                    *l = if x > *l { x } else { *l };
                }
            }
            lanes
                .iter()
                .chain(tail)
                .fold(f32::NEG_INFINITY, |m, &x| m.max(x))
        },
    )
}

/// The mean over rows (last dimension `row`) of the entropy.
pub(super) fn entropy_value(data: &[f32], row: usize, softmax: Option<f64>) -> f64 {
    let rows = data.len() / row;
    sum_rows(data, row, |r| row_entropy(r, softmax).0) / rows as f64
}

/// `scale ·` the gradient of [`entropy_value`]: per row with entropy H,
/// `sign(x)(−log p − H)/Σ|x|` (0 where `x = 0`) for `abs`, `−p(log p + H)/T` for the softmax;
/// divided by the number of rows.
pub(super) fn entropy_grad(data: &[f32], row: usize, softmax: Option<f64>, scale: f64) -> Vec<f32> {
    let scale = scale / (data.len() / row) as f64;
    grad_rows(data, row, |r, out| {
        let (h, stat) = row_entropy(r, softmax);
        let h32 = h as f32;
        match softmax {
            None => {
                if stat == 0.0 {
                    return;
                }
                let (inv, s) = (stat as f32, (scale * stat) as f32);
                vectorized(
                    #[inline(always)]
                    move || {
                        for (o, &x) in out.iter_mut().zip(r) {
                            let g = s * sign(x) * (-math::ln(x.abs() * inv) - h32);
                            *o = if x != 0.0 { g } else { 0.0 };
                        }
                    },
                )
            }
            Some(t) => {
                let (inv_t, lse) = ((1.0 / t) as f32, stat as f32);
                let s = (scale / t) as f32;
                vectorized(
                    #[inline(always)]
                    move || {
                        for (o, &x) in out.iter_mut().zip(r) {
                            let log_p = x * inv_t - lse;
                            *o = -s * math::exp(log_p) * (log_p + h32);
                        }
                    },
                )
            }
        }
    })
}

/// The gradient of [`kl_grad`]'s one row: every row's gradient is this (`cols` long).
pub(crate) fn kl_column_factors(
    data: &[f32],
    cols: usize,
    rho: f64,
    eps: f64,
    scale: f64,
) -> Vec<f32> {
    let rows = data.len() / cols;
    column_means(data, cols)
        .into_iter()
        .map(|mean| match clamp_mean(mean, eps) {
            (_, _, true) => 0.0,
            (p, q, false) => (scale * (-rho / p + (1.0 - rho) / q) / rows as f64) as f32,
        })
        .collect()
}

/// The mean of each column (columns = the last dimension, `cols` long) over all rows.
fn column_means(data: &[f32], cols: usize) -> Vec<f64> {
    let rows = data.len() / cols;
    let sums = data
        .par_chunks(cols * rows_per_task(cols))
        .map(|task| {
            vectorized(
                #[inline(always)]
                move || {
                    let mut acc = vec![0f64; cols];
                    for r in task.chunks(cols) {
                        for (a, &x) in acc.iter_mut().zip(r) {
                            *a += f64::from(x);
                        }
                    }
                    acc
                },
            )
        })
        .reduce(
            || vec![0f64; cols],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(a, b)| *a += b);
                a
            },
        );
    sums.into_iter().map(|s| s / rows as f64).collect()
}

/// `(ρ̂, 1 − ρ̂, clamped)` of a column mean: both clamped to `[ε, 1 − ε]`, the second formed
/// from the unclamped mean.
fn clamp_mean(mean: f64, eps: f64) -> (f64, f64, bool) {
    if mean < eps {
        (eps, 1.0 - eps, true)
    } else if mean > 1.0 - eps {
        (1.0 - eps, eps, true)
    } else {
        (mean, 1.0 - mean, false)
    }
}

/// `Σ_j [ρ log(ρ/ρ̂_j) + (1 − ρ) log((1 − ρ)/(1 − ρ̂_j))]`.
pub(super) fn kl_value(data: &[f32], cols: usize, rho: f64, eps: f64) -> f64 {
    column_means(data, cols)
        .into_iter()
        .map(|mean| {
            let (p, q, _) = clamp_mean(mean, eps);
            rho * (rho / p).ln() + (1.0 - rho) * ((1.0 - rho) / q).ln()
        })
        .sum()
}

/// `scale ·` the gradient of [`kl_value`]: `(−ρ/ρ̂_j + (1 − ρ)/(1 − ρ̂_j)) / rows` for every
/// element of column j, 0 where the clamp is active.
pub(super) fn kl_grad(data: &[f32], cols: usize, rho: f64, eps: f64, scale: f64) -> Vec<f32> {
    let per_column = kl_column_factors(data, cols, rho, eps, scale);
    let mut out = vec![0f32; data.len()];
    out.par_chunks_mut(cols * rows_per_task(cols))
        .for_each(|task| {
            for r in task.chunks_mut(cols) {
                r.copy_from_slice(&per_column);
            }
        });
    out
}
