//! Pruning a weight matrix: magnitude, Wanda and SparseGPT masks for the `unstructured`,
//! `n:m` and `rows` patterns (SPEC.md, "Pruning (v3)").
//!
//! A weight is read as `W [out, in]`: rows are output units, columns inputs (Burn's `Linear`
//! stores `[in, out]`: transpose it first). `X [n, in]` holds the layer's calibration inputs.
//! The mask is 1 where a weight is kept and 0 where it is pruned; the pruned weight is exactly
//! 0.0 where the mask is 0. Every selection prunes the lowest scores, ties going to the lower
//! row-major index, and prunes `⌊s · count⌋` of them for a sparsity `s`.
//!
//! | method | score | patterns | weights |
//! | --- | --- | --- | --- |
//! | [`magnitude`] | `\|W\|` (a row's L2 norm for `rows`) | all | kept as they are |
//! | [`magnitude_global`] | `\|W\|` over several tensors at once | `unstructured` | kept |
//! | [`wanda`] | `\|W[o,i]\| · ‖X[:, i]‖₂`, per output row | `unstructured`, `n:m` | kept |
//! | [`sparsegpt`] | `W² / diag(H⁻¹ chol)²`, blockwise | `unstructured`, `n:m` | updated to compensate |
//!
//! These run on the host (SparseGPT in `f64`); [`prune_tensor`] takes and returns Burn tensors
//! on any device, and [`ModulePruner`] prunes the layers of a whole module, layer after layer,
//! with [`PruneMasks`] to keep the pruned weights at zero while it trains (saved beside a
//! checkpoint with [`PruneMasks::save`]); [`GradualPruning`] prunes by magnitude during training
//! on the cubic schedule. A pruned module is a plain Burn module with exact zeros (nothing to
//! squash): Burn's recorders save it as any other. [`SparseLinear`] stores a pruned `Linear`
//! as compressed sparse rows for a faster CPU forward.
//!
//! ```
//! use sparse_losses::prune::{magnitude, PrunePattern};
//!
//! let w = [0.5, -2.0, 0.1, 3.0, -0.2, 1.0, 4.0, -0.3];
//! let p = magnitude(&w, [2, 4], PrunePattern::NOfM { n: 2, m: 4 })?;
//! assert_eq!(p.mask, [0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0]);
//! assert_eq!(p.weight, [0.0, -2.0, 0.0, 3.0, 0.0, 1.0, 4.0, 0.0]);
//! # Ok::<(), sparse_losses::Error>(())
//! ```

mod gradual;
mod magnitude;
mod masks_file;
mod model;
mod sparse_linear;
mod sparsegpt;
mod sparsegpt_tensor;
mod tensor;
mod wanda;

pub use gradual::{GradualPruning, GradualPruningConfig};
pub use magnitude::{magnitude, magnitude_global};
pub use model::{LayerReport, ModulePruner, PruneMasks, PruneReport, PrunedModule};
pub use sparse_linear::SparseLinear;
pub use sparsegpt::{sparsegpt, SparseGptConfig};
pub use tensor::{prune_tensor, PruneMethod};
pub use wanda::wanda;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Which weights may be pruned together.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum PrunePattern {
    /// Any weights: a fraction `sparsity ∈ [0, 1)` of them.
    #[serde(rename = "unstructured")]
    Unstructured {
        /// The fraction pruned.
        sparsity: f64,
    },
    /// At most `n` nonzeros in every `m` consecutive inputs of a row (2:4 is NVIDIA's
    /// semi-structured pattern); `in % m == 0` is required.
    #[serde(rename = "n:m")]
    NOfM {
        /// Kept per group.
        n: usize,
        /// The group length.
        m: usize,
    },
    /// Whole output rows: a fraction `sparsity ∈ [0, 1)` of them.
    #[serde(rename = "rows")]
    Rows {
        /// The fraction of rows pruned.
        sparsity: f64,
    },
}

impl PrunePattern {
    /// The pattern's name (`unstructured`, `n:m`, `rows`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Unstructured { .. } => "unstructured",
            Self::NOfM { .. } => "n:m",
            Self::Rows { .. } => "rows",
        }
    }

    /// Checks the pattern for a weight of `cols` inputs.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`] for a sparsity outside `[0, 1)` or `n > m`, `m = 0`;
    /// [`Error::RowNotMultipleOfM`] when `cols % m != 0`.
    pub fn validate(&self, item: &'static str, cols: usize) -> Result<()> {
        match *self {
            Self::Unstructured { sparsity } | Self::Rows { sparsity } => {
                if !(0.0..1.0).contains(&sparsity) {
                    return Err(Error::InvalidHyperParameter {
                        item,
                        field: "sparsity",
                        value: sparsity,
                        expected: "a number in [0, 1)",
                    });
                }
            }
            Self::NOfM { n, m } => {
                if m == 0 || n > m {
                    return Err(Error::InvalidHyperParameter {
                        item,
                        field: "n",
                        value: n as f64,
                        expected: "n <= m with m >= 1",
                    });
                }
                if !cols.is_multiple_of(m) {
                    return Err(Error::RowNotMultipleOfM { len: cols, m });
                }
            }
        }
        Ok(())
    }
}

/// A pruned weight: the mask (1 kept, 0 pruned) and the weight after pruning, both
/// `[out, in]` row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Pruned {
    /// 1.0 where the weight is kept, 0.0 where it is pruned.
    pub mask: Vec<f32>,
    /// The weight after pruning (exactly 0.0 where the mask is 0; SparseGPT also updates the
    /// kept weights).
    pub weight: Vec<f32>,
}

impl Pruned {
    /// The fraction of weights pruned.
    pub fn sparsity(&self) -> f64 {
        self.mask.iter().filter(|m| **m == 0.0).count() as f64 / self.mask.len().max(1) as f64
    }
}

/// A keep mask of `scores.len()` entries with the `count` lowest scores set to `false` (ties:
/// the lower index). A selection, not a sort: `O(len)`.
pub(crate) fn prune_lowest(scores: &[f64], count: usize) -> Vec<bool> {
    let mut keep = vec![true; scores.len()];
    if count == 0 {
        return keep;
    }
    let mut order: Vec<u32> = (0..scores.len() as u32).collect();
    // (score, index) is a total order, so the selected set is the one a stable sort gives.
    let by = |a: &u32, b: &u32| {
        scores[*a as usize]
            .total_cmp(&scores[*b as usize])
            .then(a.cmp(b))
    };
    if count < order.len() {
        order.select_nth_unstable_by(count - 1, by);
    }
    for &i in order.iter().take(count) {
        keep[i as usize] = false;
    }
    keep
}

/// `⌊s · count⌋`.
pub(crate) fn how_many(sparsity: f64, count: usize) -> usize {
    (sparsity * count as f64).floor() as usize
}

/// Checks that `w` holds `out · in` values, at least one.
pub(crate) fn check_weight(item: &'static str, w: &[f32], [out, cols]: [usize; 2]) -> Result<()> {
    if out == 0 || cols == 0 {
        return Err(Error::EmptyInput {
            item,
            shape: vec![out, cols],
        });
    }
    if w.len() != out * cols {
        return Err(Error::ShapeMismatch {
            what: "prune: the weight's values and its shape [out, in]",
            left: vec![w.len()],
            right: vec![out, cols],
        });
    }
    Ok(())
}

/// Checks calibration inputs `x` of `in` columns: `[n ≥ 1, in]`.
pub(crate) fn check_calibration(x: &[f32], cols: usize) -> Result<usize> {
    if x.is_empty() || !x.len().is_multiple_of(cols) {
        return Err(Error::ShapeMismatch {
            what: "prune: the calibration inputs [n, in] and the weight's inputs",
            left: vec![x.len()],
            right: vec![cols],
        });
    }
    Ok(x.len() / cols)
}

/// The pruned weight of a keep mask.
pub(crate) fn apply(w: &[f32], keep: &[bool]) -> Pruned {
    Pruned {
        mask: keep.iter().map(|k| if *k { 1.0 } else { 0.0 }).collect(),
        weight: w
            .iter()
            .zip(keep)
            .map(|(v, k)| if *k { *v } else { 0.0 })
            .collect(),
    }
}

/// Whether `w` (`[out, in]`) has at most `n` nonzeros in every `m` consecutive inputs of each
/// row (`false` when `in % m != 0`).
pub fn satisfies_n_of_m(w: &[f32], [out, cols]: [usize; 2], n: usize, m: usize) -> bool {
    if m == 0 || cols % m != 0 || w.len() != out * cols {
        return false;
    }
    w.chunks(m)
        .all(|group| group.iter().filter(|v| **v != 0.0).count() <= n)
}

/// `‖X (W − W_pruned)ᵀ‖²_F`: how far the pruned layer's outputs move on the calibration
/// inputs `x` (`[n, in]`), in `f64`.
pub fn output_error(w: &[f32], pruned: &[f32], [out, cols]: [usize; 2], x: &[f32]) -> f64 {
    let d: Vec<f64> = w
        .iter()
        .zip(pruned)
        .map(|(a, b)| (*a - *b) as f64)
        .collect();
    let mut total = 0.0;
    for row in x.chunks(cols) {
        for o in 0..out {
            let y: f64 = row
                .iter()
                .zip(&d[o * cols..(o + 1) * cols])
                .map(|(a, b)| *a as f64 * b)
                .sum();
            total += y * y;
        }
    }
    total
}
