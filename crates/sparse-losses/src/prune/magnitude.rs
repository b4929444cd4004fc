//! Magnitude pruning: the lowest `|W|` (per tensor, per `n:m` group, whole rows by their L2
//! norm, or over several tensors at once).

use super::{apply, check_weight, how_many, prune_lowest, PrunePattern, Pruned};
use crate::{Error, Result};

const NAME: &str = "magnitude";

/// The keep mask of `scores` (`[out, in]`) for `pattern`, pruning the lowest: over the whole
/// tensor (`unstructured`), per group of `m` inputs of each row (`n:m`), or per row given one
/// score per row (`rows`, `scores` then has `out` entries).
pub(crate) fn select(scores: &[f64], [out, cols]: [usize; 2], pattern: PrunePattern) -> Vec<bool> {
    match pattern {
        PrunePattern::Unstructured { sparsity } => {
            prune_lowest(scores, how_many(sparsity, scores.len()))
        }
        PrunePattern::NOfM { n, m } => scores
            .chunks(m)
            .flat_map(|group| prune_lowest(group, m - n))
            .collect(),
        PrunePattern::Rows { sparsity } => prune_lowest(scores, how_many(sparsity, out))
            .into_iter()
            .flat_map(|keep| std::iter::repeat_n(keep, cols))
            .collect(),
    }
}

/// Magnitude pruning of `w` (`[out, in]`, row-major): score `|W|`; `rows` scores each row by
/// its L2 norm.
///
/// # Errors
/// [`Error::EmptyInput`], [`Error::ShapeMismatch`] for a weight that is not `shape`; those of
/// [`PrunePattern::validate`].
pub fn magnitude(w: &[f32], shape: [usize; 2], pattern: PrunePattern) -> Result<Pruned> {
    check_weight(NAME, w, shape)?;
    pattern.validate(NAME, shape[1])?;
    let scores: Vec<f64> = match pattern {
        PrunePattern::Rows { .. } => w
            .chunks(shape[1])
            .map(|row| row.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt())
            .collect(),
        _ => w.iter().map(|v| (*v as f64).abs()).collect(),
    };
    Ok(apply(w, &select(&scores, shape, pattern)))
}

/// Global magnitude pruning: one selection of the `⌊s · total⌋` lowest `|W|` over the
/// weights concatenated in the given order (ties: the earlier tensor, then the lower index);
/// a result per weight.
///
/// # Errors
/// [`Error::InvalidHyperParameter`] for a sparsity outside `[0, 1)`; [`Error::EmptyInput`] for
/// no weights or an empty one.
pub fn magnitude_global(weights: &[&[f32]], sparsity: f64) -> Result<Vec<Pruned>> {
    const GLOBAL: &str = "magnitude_global";
    PrunePattern::Unstructured { sparsity }.validate(GLOBAL, 1)?;
    if weights.is_empty() || weights.iter().any(|w| w.is_empty()) {
        return Err(Error::EmptyInput {
            item: GLOBAL,
            shape: weights.iter().map(|w| w.len()).collect(),
        });
    }
    let scores: Vec<f64> = weights
        .iter()
        .flat_map(|w| w.iter().map(|v| (*v as f64).abs()))
        .collect();
    let keep = prune_lowest(&scores, how_many(sparsity, scores.len()));
    let mut at = 0;
    Ok(weights
        .iter()
        .map(|w| {
            let part = apply(w, &keep[at..at + w.len()]);
            at += w.len();
            part
        })
        .collect())
}
