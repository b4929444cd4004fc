//! KL sparsity of the column means (columns = the last dimension): the means first, then the
//! value or the gradient (the same row of factors for every row).

use rayon::prelude::*;

use super::math::vectorized;
use super::reduce::rows_per_task;

/// The gradient of [`grad`]'s one row: every row's gradient is this (`cols` long).
pub(crate) fn column_factors(
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
pub(super) fn value(data: &[f32], cols: usize, rho: f64, eps: f64) -> f64 {
    column_means(data, cols)
        .into_iter()
        .map(|mean| {
            let (p, q, _) = clamp_mean(mean, eps);
            rho * (rho / p).ln() + (1.0 - rho) * ((1.0 - rho) / q).ln()
        })
        .sum()
}

/// `scale ·` the gradient of [`value`]: `(−ρ/ρ̂_j + (1 − ρ)/(1 − ρ̂_j)) / rows` for every
/// element of column j, 0 where the clamp is active.
pub(super) fn grad(data: &[f32], cols: usize, rho: f64, eps: f64, scale: f64) -> Vec<f32> {
    let per_column = column_factors(data, cols, rho, eps, scale);
    let mut out = vec![0f32; data.len()];
    out.par_chunks_mut(cols * rows_per_task(cols))
        .for_each(|task| {
            for r in task.chunks_mut(cols) {
                r.copy_from_slice(&per_column);
            }
        });
    out
}
