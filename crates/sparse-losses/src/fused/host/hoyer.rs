//! Hoyer's ratio `‖v‖₁/‖v‖₂` (or its square) of each row, averaged over the rows: the row's
//! `(Σ|x|, Σx²)` first, then the value or the gradient.

use rayon::prelude::*;

use super::math::{sign, vectorized};
use super::reduce::{grad_rows, map, sum_rows, CHUNK};

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
pub(super) fn value(data: &[f32], row: usize, squared: bool) -> f64 {
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

/// `scale ·` the gradient of [`value`], divided by the number of rows; 0 for a zero row.
pub(super) fn grad(data: &[f32], row: usize, squared: bool, scale: f64) -> Vec<f32> {
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
