//! The entropy of each row (last dimension), averaged over the rows: the row's statistic
//! (`Σ|x|`, or the log-sum-exp of `x/T` for the softmax) first, then the value or the
//! gradient.

use super::math::{self, sign, vectorized};
use super::reduce::{chunk_sum, grad_rows, sum_rows, two_sums};

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
pub(super) fn value(data: &[f32], row: usize, softmax: Option<f64>) -> f64 {
    let rows = data.len() / row;
    sum_rows(data, row, |r| row_entropy(r, softmax).0) / rows as f64
}

/// `scale ·` the gradient of [`value`]: per row with entropy H,
/// `sign(x)(−log p − H)/Σ|x|` (0 where `x = 0`) for `abs`, `−p(log p + H)/T` for the softmax;
/// divided by the number of rows.
pub(super) fn grad(data: &[f32], row: usize, softmax: Option<f64>, scale: f64) -> Vec<f32> {
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
