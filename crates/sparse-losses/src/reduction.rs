//! The crate-wide reduction vocabulary.

use core::fmt;

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// How a penalty (or another item of this crate) reduces its per-element or per-row terms to
/// one scalar. Serde names: `sum`, `mean`, `batch_mean` (and `batch`).
///
/// Configs that let the user choose (`L1Config::reduction`: `sum` | `mean`,
/// `TotalVariationConfig::reduction`: `sum` | `batch_mean`) reject the others at `init` with
/// [`Error::InvalidReduction`](crate::Error::InvalidReduction) (`Reduction::check`, written
/// beside the error in `error.rs`, so that this file does not import it); every penalty
/// reports its own with [`Penalty::reduction`](crate::Penalty::reduction), and
/// [`Penalty::per_example`](crate::Penalty::per_example) rescales any of them to "the mean
/// over dim 0 of the per-example sum", so that a caller never needs to know which penalties
/// already average.
///
/// Why not `burn::nn::loss::Reduction`: its serde names are `Mean`, `Sum`, `BatchMean` (the
/// fixtures and config files use snake_case), it has an `Auto` that means nothing here, and
/// no variant for a statistic of the whole batch ([`Batch`](Self::Batch)). Convert with
/// `Option::<burn::nn::loss::Reduction>::from(reduction)` where a Burn loss needs one
/// (`None` for `Batch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reduction {
    /// A plain sum over elements (or rows): the value grows with the batch.
    Sum,
    /// The mean over all elements: the sum divided by the number of elements `n`.
    Mean,
    /// The sum within each example, averaged over the examples: dim 0 (for the row-wise
    /// penalties, the rows along the last dimension, which is the same for `[batch, features]`).
    BatchMean,
    /// A statistic of the whole batch that does not grow with its size (KL divergence of the
    /// batch-mean activations, Hoyer's ratio over the whole tensor).
    Batch,
}

impl Reduction {
    /// The serde name: `"sum"`, `"mean"`, `"batch_mean"` or `"batch"`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sum => "sum",
            Self::Mean => "mean",
            Self::BatchMean => "batch_mean",
            Self::Batch => "batch",
        }
    }

    /// Rescales `value`, reduced this way from an input of shape `x_dims`, to the mean over
    /// dim 0 of the per-example sum: `Sum` is divided by the batch size `B`, `Mean` multiplied
    /// by `n / B` (`n` the number of elements), `BatchMean` and `Batch` are returned unchanged.
    ///
    /// `B` is the size of dim 0; a rank-1 input is one example (`B = 1`), as a rank-1 tensor
    /// is one row everywhere in this crate.
    ///
    /// ```
    /// use burn::prelude::*;
    /// use sparse_losses::Reduction;
    ///
    /// let v = Tensor::<1>::from_floats([12.0], &Device::flex());
    /// let per_example = |r: Reduction| r.per_example(v.clone(), [4, 3]).into_scalar::<f32>();
    /// assert_eq!(per_example(Reduction::Sum), 3.0); // 12 / 4
    /// assert_eq!(per_example(Reduction::Mean), 36.0); // 12 · 12 / 4
    /// assert_eq!(per_example(Reduction::BatchMean), 12.0);
    /// ```
    pub fn per_example<const D: usize>(self, value: Tensor<1>, x_dims: [usize; D]) -> Tensor<1> {
        let batch = if D > 1 { x_dims[0].max(1) } else { 1 };
        match self {
            Self::Sum => value.div_scalar(batch as f64),
            Self::Mean => {
                let n = x_dims.iter().product::<usize>();
                value.mul_scalar(n as f64 / batch as f64)
            }
            Self::BatchMean | Self::Batch => value,
        }
    }

    /// `"sum, mean"`: the serde names of `reductions`, for messages.
    pub(crate) fn list(reductions: &[Reduction]) -> String {
        let names: Vec<&str> = reductions.iter().map(|r| r.name()).collect();
        names.join(", ")
    }
}

impl fmt::Display for Reduction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl From<Reduction> for Option<burn::nn::loss::Reduction> {
    /// Burn's loss reduction with the same meaning; `None` for [`Reduction::Batch`], which Burn
    /// has no name for.
    fn from(reduction: Reduction) -> Self {
        match reduction {
            Reduction::Sum => Some(burn::nn::loss::Reduction::Sum),
            Reduction::Mean => Some(burn::nn::loss::Reduction::Mean),
            Reduction::BatchMean => Some(burn::nn::loss::Reduction::BatchMean),
            Reduction::Batch => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{Error, L1Config, PenaltyConfig, Reduction, TotalVariationConfig};

    #[test]
    fn serde_names_are_snake_case() {
        for r in [
            Reduction::Sum,
            Reduction::Mean,
            Reduction::BatchMean,
            Reduction::Batch,
        ] {
            assert_eq!(serde_json::to_value(r).unwrap(), r.name());
            assert_eq!(
                serde_json::from_value::<Reduction>(r.name().into()).unwrap(),
                r
            );
        }
    }

    #[test]
    fn configs_refuse_reductions_they_do_not_support() {
        assert!(matches!(
            L1Config::new().with_reduction(Reduction::BatchMean).init(),
            Err(Error::InvalidReduction {
                item: "l1",
                reduction: Reduction::BatchMean,
                ..
            })
        ));
        assert!(matches!(
            TotalVariationConfig::new()
                .with_reduction(Reduction::Mean)
                .init(),
            Err(Error::InvalidReduction {
                item: "total_variation",
                reduction: Reduction::Mean,
                ..
            })
        ));
        let err = PenaltyConfig::from_json("l1", &serde_json::json!({"reduction": "batch"}));
        assert!(
            matches!(&err, Err(Error::InvalidConfig { item: "l1", message }) if message.contains("sum, mean")),
            "{err:?}"
        );
    }
}
