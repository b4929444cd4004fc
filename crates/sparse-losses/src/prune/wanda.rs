//! Wanda (Sun et al. 2023): prune by `|W[o,i]| · ‖X[:, i]‖₂`, per output row; no weight
//! update.

use super::{apply, check_calibration, check_weight, how_many, prune_lowest, PrunePattern, Pruned};
use crate::{Error, Result};

const NAME: &str = "wanda";

/// Wanda pruning of `w` (`[out, in]`) with calibration inputs `x` (`[n, in]`): score
/// `S[o,i] = |W[o,i]| · ‖X[:, i]‖₂`; `unstructured` prunes `⌊s · in⌋` in each row, `n:m` the
/// `m − n` lowest of each group.
///
/// # Errors
/// [`Error::UnsupportedPattern`] for `rows`; [`Error::ShapeMismatch`] for inputs of another
/// width; those of [`PrunePattern::validate`].
pub fn wanda(w: &[f32], shape: [usize; 2], x: &[f32], pattern: PrunePattern) -> Result<Pruned> {
    check_weight(NAME, w, shape)?;
    pattern.validate(NAME, shape[1])?;
    let cols = shape[1];
    check_calibration(x, cols)?;
    let mut norms = vec![0f64; cols];
    for row in x.chunks(cols) {
        for (n, v) in norms.iter_mut().zip(row) {
            *n += (*v as f64).powi(2);
        }
    }
    let norms: Vec<f64> = norms.into_iter().map(f64::sqrt).collect();
    let scores: Vec<f64> = w
        .iter()
        .enumerate()
        .map(|(k, v)| (*v as f64).abs() * norms[k % cols])
        .collect();
    let keep: Vec<bool> = match pattern {
        PrunePattern::Unstructured { sparsity } => scores
            .chunks(cols)
            .flat_map(|row| prune_lowest(row, how_many(sparsity, cols)))
            .collect(),
        PrunePattern::NOfM { .. } => super::magnitude::select(&scores, shape, pattern),
        PrunePattern::Rows { .. } => {
            return Err(Error::UnsupportedPattern {
                item: NAME,
                pattern: "rows",
            })
        }
    };
    Ok(apply(w, &keep))
}
