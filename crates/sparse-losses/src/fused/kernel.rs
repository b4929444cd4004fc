//! [`Kernel`]: what a fused kernel computes, with every hyper-parameter resolved, and the
//! vocabulary the kernels share with the penalties that build them ([`TvKind`], the
//! spike-and-slab mixture's constants): the kernel layer imports nothing from the penalties.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// A penalty as a fused kernel sees it: the function, its hyper-parameters and the constant
/// factor (λ, and `1/n` or `1/rows` for the averaging reductions) folded in.
///
/// Built by each penalty's `forward` (users call the penalties, not this).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Kernel {
    /// `scale · Σᵢ f(xᵢ)` over every element.
    Elementwise {
        /// The term `f`.
        f: Elementwise,
        /// The factor in front of the sum.
        scale: f64,
    },
    /// Hoyer's `‖v‖₁/‖v‖₂` (or `‖v‖₁²/‖v‖₂²` when `squared`) of each row of length `row`
    /// (the whole tensor as one row when `row` is the element count), averaged over the rows,
    /// times `lambda`. A zero row gives 0 with gradient 0.
    Hoyer {
        /// The weight λ.
        lambda: f64,
        /// Hoyer-Square.
        squared: bool,
        /// The row length.
        row: usize,
    },
    /// The entropy of each row (last dimension), averaged over the rows, times `lambda`.
    Entropy {
        /// The weight λ.
        lambda: f64,
        /// `None`: `p = |x| / Σ|x|`; `Some(T)`: `p = softmax(x / T)`.
        softmax: Option<f64>,
    },
    /// KL sparsity of the column means (columns = last dimension) clamped to `[ε, 1 − ε]`.
    Kl {
        /// The target activation ρ.
        target: f64,
        /// The weight β.
        beta: f64,
        /// The clamp ε.
        eps: f64,
    },
    /// Group lasso `λ [(1 − α) Σ_g w_g ‖x_g‖₂ + α Σ|x|]`, the groups given by the index along
    /// `axis`.
    GroupLasso {
        /// The weight λ.
        lambda: f64,
        /// The L1 share α.
        l1_ratio: f64,
        /// The (non-negative) axis the groups run along.
        axis: usize,
        /// The group of each index along the axis (dense ids `0..weights.len()`).
        group_of: Arc<[usize]>,
        /// `w_g` of each group.
        weights: Arc<[f64]>,
    },
    /// Total variation on the last two dimensions (or the last one for `OneD`), times `scale`
    /// (λ, divided by the batch size for `batch_mean`).
    TotalVariation {
        /// Which variation.
        kind: TvKind,
        /// The factor in front of the sum.
        scale: f64,
    },
}

/// The elementwise terms `f(x)` of [`Kernel::Elementwise`] (without λ, which is in `scale`).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Elementwise {
    /// `|x|`.
    Abs,
    /// `ρ|x| + ½(1 − ρ)x²`.
    ElasticNet {
        /// ρ (`l1_ratio`).
        l1_ratio: f64,
    },
    /// `tanh(c|x|)`.
    Tanh {
        /// c (`scale`).
        scale: f64,
    },
    /// `log(1 + |x|/ε)`.
    LogSum {
        /// ε.
        eps: f64,
    },
    /// `(x² + ε²)^{p/2} − ε^p`.
    Lp {
        /// p.
        p: f64,
        /// ε.
        eps: f64,
    },
    /// SCAD with threshold λ and shape a.
    Scad {
        /// λ.
        lambda: f64,
        /// a (`gamma`).
        a: f64,
    },
    /// MCP with threshold λ and concavity γ.
    Mcp {
        /// λ.
        lambda: f64,
        /// γ.
        gamma: f64,
    },
    /// `−log(π N(x; 0, σ_slab²) + (1 − π) N(x; 0, σ_spike²))`.
    SpikeAndSlab {
        /// π (`slab_prob`).
        slab_prob: f64,
        /// σ_spike.
        sigma_spike: f64,
        /// σ_slab.
        sigma_slab: f64,
    },
}

/// Which total variation [`TotalVariation`](crate::TotalVariation) computes (and
/// [`Kernel::TotalVariation`]). Also at `sparse_losses::TvKind` and in the prelude.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TvKind {
    /// `Σ|dh| + Σ|dw|` (default).
    #[default]
    Anisotropic,
    /// `Σ √(dh² + dw²)` over the `(H−1)×(W−1)` grid.
    Isotropic,
    /// `Σ dh² + Σ dw²`.
    Squared,
    /// `Σ |x[.., i+1] − x[.., i]|` along the last dimension only (1-D signals).
    OneD,
}

/// The two weighted log-densities of the spike-and-slab mixture ([`Elementwise::SpikeAndSlab`]),
/// `log(w N(x; 0, σ²)) = offset + half · x²`, slab first: the constants the penalty's op chain
/// and the fused kernels (Flex and CubeCL) share.
pub(crate) struct MixtureTerms {
    /// `log π − log σ_slab − ½ log 2π`, `log(1 − π) − log σ_spike − ½ log 2π`.
    pub(crate) offsets: [f64; 2],
    /// `−1 / 2σ²` of the slab and of the spike.
    pub(crate) halves: [f64; 2],
}

/// The [`MixtureTerms`] of π = `slab_prob`, σ_spike and σ_slab.
pub(crate) fn mixture_terms(slab_prob: f64, sigma_spike: f64, sigma_slab: f64) -> MixtureTerms {
    let half_log_2pi = 0.5 * (2.0 * std::f64::consts::PI).ln();
    MixtureTerms {
        offsets: [
            slab_prob.ln() - sigma_slab.ln() - half_log_2pi,
            (1.0 - slab_prob).ln() - sigma_spike.ln() - half_log_2pi,
        ],
        halves: [
            -0.5 / (sigma_slab * sigma_slab),
            -0.5 / (sigma_spike * sigma_spike),
        ],
    }
}
