//! SparseGPT (Frantar & Alistarh 2023): prune a block of columns at a time by
//! `W² / diag(U)²` and update the remaining weights to compensate, with `U` the upper Cholesky
//! factor of the damped inverse Hessian `(2/n · XᵀX + λI)⁻¹`. In `f64` on the host.

use burn::config::Config;

use super::{check_calibration, check_weight, how_many, prune_lowest, PrunePattern, Pruned};
use crate::{Error, Result};

const NAME: &str = "sparsegpt";

/// SparseGPT's settings.
#[derive(Config, Debug, PartialEq)]
pub struct SparseGptConfig {
    /// Columns pruned and updated together (`B`; a multiple of `m` for `n:m`).
    #[config(default = 128)]
    pub block_size: usize,
    /// The damping, as a fraction of the mean diagonal of `H` added to it.
    #[config(default = 0.01)]
    pub damp: f64,
}

impl SparseGptConfig {
    /// Checks the settings for `pattern`.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`] for `block_size = 0`, a negative or non-finite `damp`,
    /// or a block size that is not a multiple of `m`.
    pub fn validate(&self, pattern: PrunePattern) -> Result<()> {
        let bad = |field, value: f64, expected| Error::InvalidHyperParameter {
            item: NAME,
            field,
            value,
            expected,
        };
        if self.block_size == 0 {
            return Err(bad("block_size", 0.0, "at least 1"));
        }
        if !(self.damp.is_finite() && self.damp >= 0.0) {
            return Err(bad("damp", self.damp, "a finite number >= 0"));
        }
        if let PrunePattern::NOfM { m, .. } = pattern {
            if m > 0 && !self.block_size.is_multiple_of(m) {
                return Err(bad(
                    "block_size",
                    self.block_size as f64,
                    "a multiple of the pattern's m",
                ));
            }
        }
        Ok(())
    }
}

/// The lower Cholesky factor of the symmetric `a` (`k × k`), `None` when it is not positive
/// definite.
pub(crate) fn cholesky(a: &[f64], k: usize) -> Option<Vec<f64>> {
    let mut l = vec![0f64; k * k];
    for j in 0..k {
        let mut d = a[j * k + j];
        for p in 0..j {
            d -= l[j * k + p] * l[j * k + p];
        }
        if d.is_nan() || d <= 0.0 || !d.is_finite() {
            return None;
        }
        let d = d.sqrt();
        l[j * k + j] = d;
        for i in j + 1..k {
            let mut s = a[i * k + j];
            for p in 0..j {
                s -= l[i * k + p] * l[j * k + p];
            }
            l[i * k + j] = s / d;
        }
    }
    Some(l)
}

/// `L⁻¹` of the lower triangular `l` (`k × k`), lower triangular, column by column.
pub(crate) fn lower_inverse(l: &[f64], k: usize) -> Vec<f64> {
    let mut inv = vec![0f64; k * k];
    for j in 0..k {
        inv[j * k + j] = 1.0 / l[j * k + j];
        for i in j + 1..k {
            let mut s = 0.0;
            for p in j..i {
                s += l[i * k + p] * inv[p * k + j];
            }
            inv[i * k + j] = -s / l[i * k + i];
        }
    }
    inv
}

/// `H⁻¹` from the lower Cholesky factor `l` of `H` (`H⁻¹ = L⁻ᵀ L⁻¹`).
fn inverse_from_cholesky(l: &[f64], k: usize) -> Vec<f64> {
    let inv = lower_inverse(l, k);
    let mut h = vec![0f64; k * k];
    for a in 0..k {
        for b in 0..=a {
            let mut s = 0.0;
            for p in a..k {
                s += inv[p * k + a] * inv[p * k + b];
            }
            h[a * k + b] = s;
            h[b * k + a] = s;
        }
    }
    h
}

/// SparseGPT pruning of `w` (`[out, in]`) with calibration inputs `x` (`[n, in]`), for the
/// `unstructured` or `n:m` pattern (SPEC.md, "Pruning (v3)"): `H = (2/n) XᵀX`, a dead input
/// (`H[i,i] = 0`) gets `H[i,i] = 1` and `W[:, i] = 0`, `H += damp · mean(diag H) · I`, `U` the
/// upper Cholesky factor of `H⁻¹`; each block of `block_size` columns prunes by
/// `W² / diag(U)²` (over the block for `unstructured`, `⌊s · out · block⌋` of them; per row and
/// group for `n:m`, on the updated weights) and moves each column's error onto the columns
/// after it.
///
/// # Errors
/// [`Error::UnsupportedPattern`] for `rows`; [`Error::ShapeMismatch`] for inputs of another
/// width; those of [`PrunePattern::validate`] and [`SparseGptConfig::validate`];
/// [`Error::InvalidHyperParameter`] on `damp` when the damped Hessian is not positive definite.
pub fn sparsegpt(
    w: &[f32],
    shape: [usize; 2],
    x: &[f32],
    pattern: PrunePattern,
    config: &SparseGptConfig,
) -> Result<Pruned> {
    check_weight(NAME, w, shape)?;
    pattern.validate(NAME, shape[1])?;
    config.validate(pattern)?;
    if let PrunePattern::Rows { .. } = pattern {
        return Err(Error::UnsupportedPattern {
            item: NAME,
            pattern: "rows",
        });
    }
    let [out, k] = shape;
    let n = check_calibration(x, k)?;
    // H = (2/n) XᵀX.
    let mut h = vec![0f64; k * k];
    for row in x.chunks(k) {
        for a in 0..k {
            let xa = row[a] as f64;
            if xa == 0.0 {
                continue;
            }
            for b in 0..k {
                h[a * k + b] += xa * row[b] as f64;
            }
        }
    }
    h.iter_mut().for_each(|v| *v *= 2.0 / n as f64);
    let mut wt: Vec<f64> = w.iter().map(|v| *v as f64).collect();
    for i in 0..k {
        if h[i * k + i] == 0.0 {
            h[i * k + i] = 1.0;
            for r in 0..out {
                wt[r * k + i] = 0.0;
            }
        }
    }
    let mean_diag = (0..k).map(|i| h[i * k + i]).sum::<f64>() / k as f64;
    for i in 0..k {
        h[i * k + i] += config.damp * mean_diag;
    }
    let not_pd = || Error::InvalidHyperParameter {
        item: NAME,
        field: "damp",
        value: config.damp,
        expected: "a damping that makes 2/n·XᵀX + damp·mean(diag)·I positive definite",
    };
    let l = cholesky(&h, k).ok_or_else(not_pd)?;
    let hinv = inverse_from_cholesky(&l, k);
    // U = the upper factor of H⁻¹ = Uᵀ U: the transpose of its lower factor.
    let lower = cholesky(&hinv, k).ok_or_else(not_pd)?;
    let u = |i: usize, j: usize| lower[j * k + i];
    let mut keep = vec![true; out * k];
    let block = config.block_size;
    let mut i1 = 0;
    while i1 < k {
        let i2 = (i1 + block).min(k);
        let cnt = i2 - i1;
        let mut w1: Vec<f64> = (0..out)
            .flat_map(|r| wt[r * k + i1..r * k + i2].to_vec())
            .collect();
        let u1: Vec<f64> = (0..cnt * cnt)
            .map(|e| u(i1 + e / cnt, i1 + e % cnt))
            .collect();
        let (q1, err1, pruned1) = prune_block(&mut w1, &u1, out, cnt, pattern);
        for r in 0..out {
            for c in 0..cnt {
                wt[r * k + i1 + c] = q1[r * cnt + c];
                keep[r * k + i1 + c] = !pruned1[r * cnt + c];
            }
            // W[:, i2:] −= Err1 · U[i1:i2, i2:].
            for j in i2..k {
                let mut s = 0.0;
                for c in 0..cnt {
                    s += err1[r * cnt + c] * u(i1 + c, j);
                }
                wt[r * k + j] -= s;
            }
        }
        i1 = i2;
    }
    Ok(Pruned {
        mask: keep.iter().map(|k| if *k { 1.0 } else { 0.0 }).collect(),
        weight: wt.iter().map(|v| *v as f32).collect(),
    })
}

/// One block of columns (`w1`: `out × cnt`, `u1`: `cnt × cnt`, row-major): the pruned
/// columns `Q1`, the errors `Err1` and the pruned entries.
pub(crate) fn prune_block(
    w1: &mut [f64],
    u1: &[f64],
    out: usize,
    cnt: usize,
    pattern: PrunePattern,
) -> (Vec<f64>, Vec<f64>, Vec<bool>) {
    let d: Vec<f64> = (0..cnt).map(|c| u1[c * cnt + c]).collect();
    let mut pruned = vec![false; out * cnt];
    if let PrunePattern::Unstructured { sparsity } = pattern {
        let scores: Vec<f64> = (0..out * cnt)
            .map(|e| w1[e].powi(2) / d[e % cnt].powi(2))
            .collect();
        for (p, kept) in pruned
            .iter_mut()
            .zip(prune_lowest(&scores, how_many(sparsity, out * cnt)))
        {
            *p = !kept;
        }
    }
    let mut q1 = vec![0f64; out * cnt];
    let mut err1 = vec![0f64; out * cnt];
    // Rows are independent within a block: each row is its own column loop.
    let rows_per_thread = out.div_ceil(std::thread::available_parallelism().map_or(1, |n| n.get()));
    std::thread::scope(|scope| {
        let chunks = w1
            .chunks_mut(rows_per_thread.max(1) * cnt)
            .zip(q1.chunks_mut(rows_per_thread.max(1) * cnt))
            .zip(err1.chunks_mut(rows_per_thread.max(1) * cnt))
            .zip(pruned.chunks_mut(rows_per_thread.max(1) * cnt));
        for (((w, q), e), p) in chunks {
            let d = &d;
            scope.spawn(move || {
                for (((w, q), e), p) in w
                    .chunks_mut(cnt)
                    .zip(q.chunks_mut(cnt))
                    .zip(e.chunks_mut(cnt))
                    .zip(p.chunks_mut(cnt))
                {
                    prune_row(w, q, e, p, u1, d, cnt, pattern);
                }
            });
        }
    });
    (q1, err1, pruned)
}

/// One row of a block: for each column, the `n:m` selection at a group's start (on the
/// updated weights), the pruned value, its error, and the update of the columns after it.
#[allow(clippy::too_many_arguments)]
fn prune_row(
    w: &mut [f64],
    q: &mut [f64],
    e: &mut [f64],
    p: &mut [bool],
    u1: &[f64],
    d: &[f64],
    cnt: usize,
    pattern: PrunePattern,
) {
    for c in 0..cnt {
        if let PrunePattern::NOfM { n: keep, m } = pattern {
            if c % m == 0 {
                let scores: Vec<f64> = (c..c + m).map(|j| w[j].powi(2) / d[j].powi(2)).collect();
                for (j, kept) in prune_lowest(&scores, m - keep).into_iter().enumerate() {
                    p[c + j] = !kept;
                }
            }
        }
        let wv = w[c];
        let qv = if p[c] { 0.0 } else { wv };
        let err = (wv - qv) / d[c];
        e[c] = err;
        q[c] = qv;
        let row = &u1[c * cnt..(c + 1) * cnt];
        for j in c + 1..cnt {
            w[j] -= err * row[j];
        }
    }
}
