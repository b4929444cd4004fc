//! Binary masks with a straight-through estimator (STE): the rule ([`BinaryMaskConfig`],
//! [`MaskRule`]) and the learnable mask module ([`BinaryMask`]).

use burn::config::Config;
use burn::module::{Module, Param};
use burn::tensor::{Bool, Tensor};
use serde::{Deserialize, Serialize};

use crate::ops::top_k::top_k_mask_bool;
use crate::ste::straight_through;
use crate::{Error, Result};

/// The serde name of the mask family.
const NAME: &str = "binary_mask";

/// Which entries a [`MaskRule`] keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum MaskKind {
    /// Keep `s > threshold` (default).
    #[default]
    Threshold,
    /// Keep the `k` largest scores of each row (or `round_half_even(fraction · row length)`).
    Topk,
    /// In every group of `m` consecutive entries of a row, keep the `n` largest (N:M sparsity).
    NOfM,
}

/// Configuration of a [`MaskRule`]. Serde names: `kind` (`"threshold"`|`"topk"`|`"n_of_m"`),
/// `threshold`, `k`, `fraction`, `n`, `m`, `clipped`.
#[derive(Config, Debug)]
pub struct BinaryMaskConfig {
    /// The rule. Default `threshold`.
    #[config(default = "MaskKind::Threshold")]
    pub kind: MaskKind,
    /// τ for `threshold`: keep `s > τ`. Finite. Default 0.
    #[config(default = 0.0)]
    pub threshold: f64,
    /// k for `topk`: entries kept per row, `>= 1`. Give `k` or `fraction`, not both.
    pub k: Option<usize>,
    /// The kept fraction for `topk`, in `(0, 1]`: `k = round_half_even(fraction · row length)`.
    pub fraction: Option<f64>,
    /// N for `n_of_m`: entries kept per group, `1 <= n <= m`. Default 2.
    #[config(default = 2)]
    pub n: usize,
    /// M for `n_of_m`: the group length, `>= 1`; rows must be a multiple of it. Default 4.
    #[config(default = 4)]
    pub m: usize,
    /// Clip the straight-through gradient to `|s| <= 1`. Default false.
    #[config(default = false)]
    pub clipped: bool,
}

/// How many entries a `topk` rule keeps per row.
#[derive(Debug, Clone, Copy, PartialEq)]
enum TopK {
    Count(usize),
    Fraction(f64),
}

impl BinaryMaskConfig {
    /// Reads the config from a JSON object holding only the fields that differ from the
    /// defaults (the form of the reference fixtures), e.g. `{"kind": "topk", "k": 3}`.
    ///
    /// # Errors
    /// As [`merge_json`](crate::merge_json).
    pub fn from_json(fields: &serde_json::Value) -> Result<Self> {
        crate::merge_json(NAME, &Self::new(), fields)
    }

    /// Validates the config and builds the rule.
    ///
    /// # Errors
    /// [`Error::MissingHyperParameter`] (field `k`) for a `topk` rule with neither `k` nor
    /// `fraction`; [`Error::InvalidHyperParameter`] for a non-finite `threshold`, a `topk` rule
    /// with both `k` and `fraction`, `k = 0`, a `fraction` outside `(0, 1]`, or an `n_of_m`
    /// rule without `1 <= n <= m`.
    pub fn init(&self) -> Result<MaskRule> {
        let invalid = |field, value: f64, expected| Error::InvalidHyperParameter {
            item: NAME,
            field,
            value,
            expected,
        };
        let topk = match (self.kind, self.k, self.fraction) {
            (MaskKind::Topk, Some(_), Some(f)) => {
                return Err(invalid("fraction", f, "to be left out when `k` is given"))
            }
            (MaskKind::Topk, None, None) => {
                return Err(Error::MissingHyperParameter {
                    item: NAME,
                    field: "k",
                })
            }
            (MaskKind::Topk, Some(0), None) => return Err(invalid("k", 0.0, "an integer >= 1")),
            (MaskKind::Topk, Some(k), None) => Some(TopK::Count(k)),
            (MaskKind::Topk, None, Some(f)) => {
                if !(f > 0.0 && f <= 1.0) {
                    return Err(invalid("fraction", f, "a number in (0, 1]"));
                }
                Some(TopK::Fraction(f))
            }
            _ => None,
        };
        match self.kind {
            MaskKind::Threshold if !self.threshold.is_finite() => {
                return Err(invalid("threshold", self.threshold, "a finite number"))
            }
            MaskKind::NOfM if self.m == 0 => {
                return Err(invalid("m", 0.0, "an integer >= 1"));
            }
            MaskKind::NOfM if self.n == 0 || self.n > self.m => {
                return Err(invalid("n", self.n as f64, "an integer with 1 <= n <= m"));
            }
            _ => {}
        }
        Ok(MaskRule {
            kind: self.kind,
            threshold: self.threshold,
            topk,
            n: self.n,
            m: self.m,
            clipped: self.clipped,
        })
    }
}

/// A validated masking rule: turns scores into a 0/1 mask, with a straight-through gradient.
///
/// ```text
/// threshold:  m = 1[s > τ]
/// topk:       m = 1 for the k largest scores of each row (k, or round_half_even(f · row length))
/// n_of_m:     m = 1 for the N largest scores of every group of M consecutive entries of a row
/// masked weight = w ⊙ m
/// backward:   ∂L/∂s = ∂L/∂m                  (straight through)
///             ∂L/∂s = ∂L/∂m · 1[|s| <= 1]    (clipped)
///             ∂L/∂w = m ⊙ ∂L/∂(w ⊙ m)
/// ```
///
/// Rows are the last dimension (a rank-1 tensor is one row). Ranking is by the signed score;
/// ties go to the lower index. Defaults: `threshold` with τ = 0, not clipped. The backward pass
/// is a custom operation of Burn's autodiff graph ([`straight_through`]), not a `detach` trick;
/// on a device without autodiff the same calls return the mask alone.
///
/// ```
/// use burn::prelude::*;
/// use sparse_losses::{BinaryMaskConfig, MaskKind};
///
/// let rule = BinaryMaskConfig::new().with_kind(MaskKind::NOfM).init().unwrap(); // 2:4
/// let device = Device::flex().autodiff();
/// let scores = Tensor::<2>::from_floats([[0.1, 0.7, 0.7, -0.2, 3.0, 1.0, 2.0, 0.0]], &device)
///     .require_grad();
/// let weight = Tensor::<2>::ones([1, 8], &device);
/// let masked = rule.mask_weight(weight, scores.clone()).unwrap();
/// let kept: Vec<f32> = masked.clone().into_data().try_into_vec().unwrap();
/// assert_eq!(kept, [0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0]);
/// // The gradient reaches the scores of every entry, kept or not.
/// let grads = masked.sum().backward();
/// let g: Vec<f32> = scores.grad(&grads).unwrap().into_data().try_into_vec().unwrap();
/// assert_eq!(g, [1.0; 8]);
/// ```
#[derive(Module, Debug)]
pub struct MaskRule {
    #[module(skip)]
    kind: MaskKind,
    threshold: f64,
    #[module(skip)]
    topk: Option<TopK>,
    n: usize,
    m: usize,
    clipped: bool,
}

impl MaskRule {
    /// The rule's kind.
    pub fn kind(&self) -> MaskKind {
        self.kind
    }

    /// Whether the straight-through gradient is clipped to `|s| <= 1`.
    pub fn clipped(&self) -> bool {
        self.clipped
    }

    /// The number of entries kept per row of length `len` by a `topk` rule
    /// (`None` for the other kinds).
    pub fn k_for(&self, len: usize) -> Option<usize> {
        self.topk.map(|t| match t {
            TopK::Count(k) => k,
            TopK::Fraction(f) => round_half_even(f * len as f64),
        })
    }

    /// Checks that `scores` can be masked by this rule.
    pub(crate) fn check<const D: usize>(&self, scores: &Tensor<D>) -> Result<()> {
        crate::util::check_nonempty(scores, NAME)?;
        let len = scores.dims()[D - 1];
        match self.kind {
            MaskKind::Topk => {
                let k = self.k_for(len).unwrap_or(0);
                if k > len {
                    return Err(Error::TopkTooLarge { item: NAME, k, len });
                }
            }
            MaskKind::NOfM if !len.is_multiple_of(self.m) => {
                return Err(Error::RowNotMultipleOfM { len, m: self.m });
            }
            _ => {}
        }
        Ok(())
    }

    /// The hard 0/1 mask of `scores` (a float tensor of the same shape, without gradient).
    ///
    /// # Errors
    /// [`Error::EmptyInput`]; [`Error::TopkTooLarge`] when `k` exceeds the row
    /// length; [`Error::RowNotMultipleOfM`] for `n_of_m` on rows that are not a multiple
    /// of `m`.
    pub fn mask<const D: usize>(&self, scores: Tensor<D>) -> Result<Tensor<D>> {
        self.check(&scores)?;
        Ok(self.mask_unchecked(scores))
    }

    /// [`mask`](Self::mask) for scores already known to fit the rule.
    pub(crate) fn mask_unchecked<const D: usize>(&self, scores: Tensor<D>) -> Tensor<D> {
        let scores = scores.detach();
        let dims = scores.dims();
        let len = dims[D - 1];
        let keep: Tensor<D, Bool> = match self.kind {
            MaskKind::Threshold => scores.greater_elem(self.threshold),
            MaskKind::Topk => top_k_mask_bool(scores, self.k_for(len).unwrap_or(0)),
            MaskKind::NOfM => {
                let n_el: usize = dims.iter().product();
                let groups = scores.reshape([n_el / self.m, self.m]);
                top_k_mask_bool(groups, self.n).reshape(dims)
            }
        };
        keep.float()
    }

    /// The mask of `scores` with the straight-through gradient: forward [`mask`](Self::mask),
    /// backward identity (or clipped) to the scores.
    ///
    /// # Errors
    /// As [`mask`](Self::mask).
    pub fn apply<const D: usize>(&self, scores: Tensor<D>) -> Result<Tensor<D>> {
        self.check(&scores)?;
        Ok(self.apply_unchecked(scores))
    }

    /// [`apply`](Self::apply) for scores already known to fit the rule.
    pub(crate) fn apply_unchecked<const D: usize>(&self, scores: Tensor<D>) -> Tensor<D> {
        let mask = self.mask_unchecked(scores.clone());
        straight_through(scores, mask, self.clipped)
    }

    /// The same rule with another threshold (for a `threshold` schedule).
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`] for a non-finite threshold or a rule of
    /// another kind.
    pub fn with_threshold(&self, threshold: f64) -> Result<Self> {
        if self.kind != MaskKind::Threshold || !threshold.is_finite() {
            return Err(Error::InvalidHyperParameter {
                item: NAME,
                field: "threshold",
                value: threshold,
                expected: "a finite number, on a rule of kind threshold",
            });
        }
        Ok(Self {
            threshold,
            ..self.clone()
        })
    }

    /// The same rule keeping another fraction of each row (for a `topk` schedule).
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`] for a fraction outside `(0, 1]` or a rule of
    /// another kind.
    pub fn with_fraction(&self, fraction: f64) -> Result<Self> {
        if self.kind != MaskKind::Topk || !(fraction > 0.0 && fraction <= 1.0) {
            return Err(Error::InvalidHyperParameter {
                item: NAME,
                field: "fraction",
                value: fraction,
                expected: "a number in (0, 1], on a rule of kind topk",
            });
        }
        Ok(Self {
            topk: Some(TopK::Fraction(fraction)),
            ..self.clone()
        })
    }

    /// `weight ⊙ mask(scores)`, differentiable with respect to both (see the type's docs).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when the shapes differ, and the errors of
    /// [`mask`](Self::mask).
    pub fn mask_weight<const D: usize>(
        &self,
        weight: Tensor<D>,
        scores: Tensor<D>,
    ) -> Result<Tensor<D>> {
        if weight.dims() != scores.dims() {
            return Err(Error::ShapeMismatch {
                what: "weight and scores",
                left: weight.dims().to_vec(),
                right: scores.dims().to_vec(),
            });
        }
        Ok(weight * self.apply(scores)?)
    }
}

/// A learnable binary mask: scores as a [`Param`], turned into a 0/1 mask by a [`MaskRule`]
/// with a straight-through gradient, so that the optimiser trains the scores.
///
/// The rule's rows are the last dimension of the scores. For a weight stored as
/// `[d_input, d_output]` (Burn's `Linear`), use [`MaskedLinear`](crate::MaskedLinear), which ranks
/// along the inputs.
#[derive(Module, Debug)]
pub struct BinaryMask<const D: usize> {
    /// The scores, one per masked entry.
    pub scores: Param<Tensor<D>>,
    /// The rule.
    pub rule: MaskRule,
}

impl<const D: usize> BinaryMask<D> {
    /// A mask with the given initial scores (made a trainable parameter) and rule.
    ///
    /// # Errors
    /// The errors of [`MaskRule::mask`] for scores that do not fit the rule (checked on the
    /// shape only).
    pub fn new(scores: Tensor<D>, rule: MaskRule) -> Result<Self> {
        rule.check(&scores)?;
        Ok(Self {
            scores: Param::from_tensor(scores),
            rule,
        })
    }

    /// `weight ⊙ mask(scores)`, with gradients to the weight (`m ⊙ G`) and to the scores
    /// (straight through).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when `weight` and the scores differ in shape.
    pub fn forward(&self, weight: Tensor<D>) -> Result<Tensor<D>> {
        self.rule.mask_weight(weight, self.scores.val())
    }

    /// The current hard mask (no gradient).
    pub fn mask(&self) -> Tensor<D> {
        self.rule.mask_unchecked(self.scores.val())
    }

    /// The fraction of entries the mask currently removes, in `[0, 1]`.
    pub fn sparsity(&self) -> f64 {
        1.0 - self.mask().mean().into_scalar::<f64>()
    }
}

/// Rounds half to even, as Python's `round` and NumPy do.
fn round_half_even(x: f64) -> usize {
    x.round_ties_even().max(0.0) as usize
}

#[cfg(test)]
mod tests {
    use super::round_half_even;

    #[test]
    fn rounding_half_to_even() {
        assert_eq!(round_half_even(2.5), 2);
        assert_eq!(round_half_even(1.5), 2);
        assert_eq!(round_half_even(3.5), 4);
        assert_eq!(round_half_even(0.5), 0);
        assert_eq!(round_half_even(2.4), 2);
        assert_eq!(round_half_even(2.6), 3);
    }
}
