//! Total-variation penalties for images and 1-D signals.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::Tensor;

use crate::fused::{fused_penalty, Kernel};
use crate::util::{check_nonempty, non_negative, safe_sqrt};
use crate::{Error, Penalty, Reduction, Result};

// Defined beside the fused kernels that compute it (`Kernel::TotalVariation`); public here,
// at the crate root and in the prelude as before.
pub use crate::fused::TvKind;

/// The serde name of this penalty.
const NAME: &str = "total_variation";

/// The reductions [`TotalVariation`] supports.
const REDUCTIONS: &[Reduction] = &[Reduction::Sum, Reduction::BatchMean];

/// Configuration of the [`TotalVariation`] penalty. Serde names: `lambda`, `kind`
/// (`"anisotropic"`|`"isotropic"`|`"squared"`|`"one_d"`), `reduction` (`"sum"`|`"batch_mean"`).
#[derive(Config, Debug)]
pub struct TotalVariationConfig {
    /// The weight λ; finite and `>= 0`. Default 1.0.
    #[config(default = 1.0)]
    pub lambda: f64,
    /// The variant. Default `anisotropic`.
    #[config(default = "TvKind::Anisotropic")]
    pub kind: TvKind,
    /// `batch_mean` (default: the sum divided by the size of dimension 0) or `sum`; any
    /// other [`Reduction`] is refused by [`init`](Self::init).
    #[config(default = "Reduction::BatchMean")]
    pub reduction: Reduction,
}

impl TotalVariationConfig {
    /// One line on what the penalty is, for help texts ([`PenaltyConfig::summary`](crate::PenaltyConfig::summary)).
    pub const SUMMARY: &'static str = "λ Σ |neighbour differences| of images (the atoms seen as pictures)";

    /// Validates the config and builds the penalty.
    ///
    /// # Errors
    /// [`Error::InvalidReduction`] for a reduction other than `sum` and `batch_mean`;
    /// [`Error::InvalidHyperParameter`] when `lambda` is negative or not finite.
    /// The input's rank is checked by [`forward`](Penalty::forward).
    pub fn init(&self) -> Result<TotalVariation> {
        let reduction = self.reduction.check(NAME, REDUCTIONS)?;
        non_negative(NAME, "lambda", self.lambda)?;
        Ok(TotalVariation {
            lambda: self.lambda,
            kind: self.kind,
            reduction,
        })
    }
}

/// Total variation: penalises differences between neighbouring pixels (or samples), favouring
/// piecewise-constant images and sparse gradients.
///
/// The last two dimensions are an image `(H, W)`; leading dimensions are the batch (dim 0) and
/// channels. With forward differences and no padding,
/// `dh = x[.., i+1, j] − x[.., i, j]` and `dw = x[.., i, j+1] − x[.., i, j]`:
///
/// ```text
/// anisotropic:  Σ |dh| + Σ |dw|
/// isotropic:    Σ over the (H−1)×(W−1) grid of √(dh² + dw²)
/// squared:      Σ dh² + Σ dw²
/// one_d:        Σ |x[.., i+1] − x[.., i]|          (last dimension only)
/// TV(x) = λ · that sum, divided by the size of dim 0 for reduction = batch_mean
/// ```
///
/// Defaults: λ = 1, `anisotropic`, `batch_mean`. Needs rank ≥ 3 (rank ≥ 2 for `one_d`), so the
/// batch dimension is always explicit. At zero differences the gradient is the minimum-norm
/// subgradient (0 for `|·|`, and 0 for the isotropic norm where `dh = dw = 0`). An image with
/// one row or column has no differences along it; those terms are 0. TV is invariant under
/// adding a constant to `x`. Returns shape `[1]`.
///
/// Range in float32: anisotropic, `one_d` and isotropic are finite for every finite `x` whose
/// differences are, and exact at every scale (isotropic takes `√(dh² + dw²)` in units of
/// `max(|dh|, |dw|)`: its squares neither overflow nor underflow); the gradient of every kind
/// is finite for finite `x`; the value of `squared` while `dh² + dw²` stays within float32
/// (differences up to about 1e19), +∞ beyond.
///
/// ```
/// use burn::prelude::*;
/// use sparse_losses::prelude::*;
///
/// let tv = TotalVariationConfig::new().init().unwrap();
/// // One 2×2 image with a single step of height 1 between its columns.
/// let img = Tensor::<3>::from_floats([[[0.0, 1.0], [0.0, 1.0]]], &Device::flex());
/// assert_eq!(tv.forward(img).unwrap().into_scalar::<f32>(), 2.0);
/// ```
#[derive(Module, Debug)]
pub struct TotalVariation {
    lambda: f64,
    #[module(skip)]
    kind: TvKind,
    #[module(skip)]
    reduction: Reduction,
}

impl TotalVariation {
    /// The weight λ.
    pub fn lambda(&self) -> f64 {
        self.lambda
    }

    /// The variant.
    pub fn kind(&self) -> TvKind {
        self.kind
    }
}

/// Forward differences along `dim`, or `None` when that dimension has fewer than 2 entries.
fn diff<const D: usize>(x: &Tensor<D>, dim: usize) -> Option<Tensor<D>> {
    let len = x.dims()[dim];
    (len >= 2).then(|| x.clone().narrow(dim, 1, len - 1) - x.clone().narrow(dim, 0, len - 1))
}

impl Penalty for TotalVariation {
    fn name(&self) -> &'static str {
        NAME
    }

    /// [`Reduction::BatchMean`] (the sum of each image's variation, averaged over dim 0) or
    /// [`Reduction::Sum`] (the plain sum over the batch), as configured.
    fn reduction(&self) -> Reduction {
        self.reduction
    }

    fn forward<const D: usize>(&self, x: Tensor<D>) -> Result<Tensor<1>> {
        check_nonempty(&x, NAME)?;
        let min = if self.kind == TvKind::OneD { 2 } else { 3 };
        if D < min {
            return Err(Error::RankTooLow {
                item: NAME,
                rank: D,
                shape: x.dims().to_vec(),
                min,
            });
        }
        let dims = x.dims();
        let batch = dims[0] as f64;
        let scale = match self.reduction {
            Reduction::BatchMean => self.lambda / batch,
            // `init` admits only `sum` and `batch_mean`.
            _ => self.lambda,
        };
        // The fused kernel for images with differences in both directions (or rows of at
        // least two for `one_d`); the degenerate shapes keep the op chain's graph-attached 0.
        let (h, w) = (dims[D - 2], dims[D - 1]);
        if w >= 2 && (h >= 2 || self.kind == TvKind::OneD) {
            let kernel = Kernel::TotalVariation {
                kind: self.kind,
                scale,
            };
            if let Some(value) = fused_penalty(&x, kernel) {
                return Ok(value);
            }
        }
        // A zero that stays attached to the graph (and propagates NaN, rule 4).
        let zero = || x.clone().sum().mul_scalar(0.0);
        let abs_sum = |d: Option<Tensor<D>>| d.map_or_else(zero, |d| d.abs().sum());
        let total = match self.kind {
            TvKind::OneD => abs_sum(diff(&x, D - 1)),
            TvKind::Anisotropic => abs_sum(diff(&x, D - 2)) + abs_sum(diff(&x, D - 1)),
            TvKind::Squared => {
                let sq_sum = |d: Option<Tensor<D>>| d.map_or_else(zero, |d| d.square().sum());
                sq_sum(diff(&x, D - 2)) + sq_sum(diff(&x, D - 1))
            }
            TvKind::Isotropic => {
                let (h, w) = (dims[D - 2], dims[D - 1]);
                match (diff(&x, D - 2), diff(&x, D - 1)) {
                    (Some(dh), Some(dw)) => {
                        // Restrict both to the (H−1)×(W−1) grid.
                        let dh = dh.narrow(D - 1, 0, w - 1);
                        let dw = dw.narrow(D - 2, 0, h - 1);
                        // √(dh² + dw²) in units of m = max(|dh|, |dw|) (detached: the norm is
                        // homogeneous, so value and gradient are unchanged), so that the
                        // squares neither overflow (|d| > 1.8e19) nor underflow (|d| < 1e-19).
                        let m = dh.clone().abs().max_pair(dw.clone().abs()).detach();
                        let m = m.clone().mask_fill(m.equal_elem(0.0), 1.0);
                        let (u, v) = (dh / m.clone(), dw / m.clone());
                        (safe_sqrt(u.square() + v.square()) * m).sum()
                    }
                    _ => zero(),
                }
            }
        };
        Ok(total.mul_scalar(scale))
    }
}
