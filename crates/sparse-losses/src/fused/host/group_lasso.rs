//! The group lasso: squared norms of the groups first, then the value or the gradient.

use rayon::prelude::*;

use super::math::{sign, vectorized};
use super::reduce::{sum_map, CHUNK};

/// A row-major tensor seen as `[outer, size, inner]` around the group axis.
pub(super) struct Layout<'a> {
    outer: usize,
    size: usize,
    inner: usize,
    group_of: &'a [usize],
    weights: &'a [f64],
}

impl<'a> Layout<'a> {
    pub(super) fn new(
        dims: &[usize],
        axis: usize,
        group_of: &'a [usize],
        weights: &'a [f64],
    ) -> Self {
        Self {
            outer: dims[..axis].iter().product(),
            size: dims[axis],
            inner: dims[axis + 1..].iter().product(),
            group_of,
            weights,
        }
    }

    /// `‖x_g‖₂²` of every group.
    fn group_squares(&self, data: &[f32]) -> Vec<f64> {
        let block = self.size * self.inner;
        let slice_sq = |x: &[f32]| sum_lanes(x);
        // The squared norm of each slice (index along the axis) within one outer block.
        let per_slice = |b: &[f32]| -> Vec<f64> { b.chunks(self.inner).map(slice_sq).collect() };
        let slices: Vec<f64> = if self.outer == 1 && self.inner >= 256 {
            // One block (axis 0): split it between tasks by slices.
            data.par_chunks(self.inner).map(slice_sq).collect()
        } else {
            let blocks_per_task = (CHUNK / block.max(1)).max(1);
            data.par_chunks(block * blocks_per_task)
                .map(|task| {
                    let mut acc = vec![0f64; self.size];
                    for b in task.chunks(block) {
                        if self.inner == 1 {
                            let acc = &mut acc;
                            vectorized(
                                #[inline(always)]
                                move || {
                                    for (a, &x) in acc.iter_mut().zip(b) {
                                        *a += f64::from(x) * f64::from(x);
                                    }
                                },
                            )
                        } else {
                            acc.iter_mut().zip(per_slice(b)).for_each(|(a, s)| *a += s);
                        }
                    }
                    acc
                })
                .reduce(
                    || vec![0f64; self.size],
                    |mut a, b| {
                        a.iter_mut().zip(&b).for_each(|(a, b)| *a += b);
                        a
                    },
                )
        };
        let mut groups = vec![0f64; self.weights.len()];
        for (k, s) in slices.into_iter().enumerate() {
            groups[self.group_of[k]] += s;
        }
        groups
    }
}

/// `Σx²` in 8 lanes.
fn sum_lanes(x: &[f32]) -> f64 {
    vectorized(|| sum_lanes_body(x))
}

/// The body of [`sum_lanes`].
#[inline(always)]
fn sum_lanes_body(x: &[f32]) -> f64 {
    let mut lanes = [0f64; 8];
    let mut blocks = x.chunks_exact(8);
    for block in &mut blocks {
        for (l, &v) in lanes.iter_mut().zip(block) {
            *l += f64::from(v) * f64::from(v);
        }
    }
    lanes.iter().sum::<f64>()
        + blocks
            .remainder()
            .iter()
            .map(|&v| f64::from(v) * f64::from(v))
            .sum::<f64>()
}

/// `(1 − α) Σ_g w_g ‖x_g‖₂ + α Σ|x|`.
pub(super) fn value(data: &[f32], layout: &Layout, alpha: f64) -> f64 {
    let mut value = 0.0;
    if alpha != 1.0 {
        let norms: f64 = layout
            .group_squares(data)
            .iter()
            .zip(layout.weights)
            .map(|(sq, w)| w * sq.sqrt())
            .sum();
        value += (1.0 - alpha) * norms;
    }
    if alpha != 0.0 {
        value += alpha
            * sum_map(
                data,
                #[inline(always)]
                |x| x.abs(),
            );
    }
    value
}

/// `scale ·` the gradient of [`value`]: `(1 − α) w_g x/‖x_g‖₂ + α sign(x)` (the first term 0
/// for a zero group).
pub(super) fn grad(data: &[f32], layout: &Layout, alpha: f64, scale: f64) -> Vec<f32> {
    // The factor of each slice: scale (1 − α) w_g / ‖x_g‖₂, or 0.
    let factors: Vec<f32> = if alpha == 1.0 {
        vec![0.0; layout.size]
    } else {
        let groups: Vec<f64> = layout
            .group_squares(data)
            .iter()
            .zip(layout.weights)
            .map(|(&sq, w)| {
                if sq > 0.0 {
                    scale * (1.0 - alpha) * w / sq.sqrt()
                } else {
                    0.0
                }
            })
            .collect();
        layout.group_of.iter().map(|&g| groups[g] as f32).collect()
    };
    let a = (scale * alpha) as f32;
    let mut out = vec![0f32; data.len()];
    let (size, inner) = (layout.size, layout.inner);
    if inner == 1 {
        // Groups along the last axis: one factor per column.
        let rows_per_task = (CHUNK / size.max(1)).max(1);
        out.par_chunks_mut(size * rows_per_task)
            .zip(data.par_chunks(size * rows_per_task))
            .for_each(|(o, d)| {
                let factors = &factors[..];
                vectorized(
                    #[inline(always)]
                    move || {
                        for (o, d) in o.chunks_mut(size).zip(d.chunks(size)) {
                            for ((o, &x), &f) in o.iter_mut().zip(d).zip(factors) {
                                *o = f * x + a * sign(x);
                            }
                        }
                    },
                )
            });
        return out;
    }
    // One factor per slice of `inner` elements.
    let fill = |o: &mut [f32], d: &[f32], f: f32| {
        vectorized(
            #[inline(always)]
            move || {
                for (o, &x) in o.iter_mut().zip(d) {
                    *o = f * x + a * sign(x);
                }
            },
        )
    };
    let slices_per_task = (CHUNK / inner).max(1);
    out.par_chunks_mut(inner * slices_per_task)
        .zip(data.par_chunks(inner * slices_per_task))
        .enumerate()
        .for_each(|(t, (o, d))| {
            for (s, (o, d)) in o.chunks_mut(inner).zip(d.chunks(inner)).enumerate() {
                fill(o, d, factors[(t * slices_per_task + s) % size]);
            }
        });
    out
}
