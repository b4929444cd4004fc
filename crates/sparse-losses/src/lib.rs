//! # sparse-losses
//!
//! Sparsity penalties for the [Burn](https://burn.dev) deep-learning framework: functions of a
//! `Tensor<D>` of any rank that return a differentiable scalar (`Tensor<1>` of shape `[1]`), on
//! any backend (Flex, NdArray, wgpu, CUDA...), with gradients that are finite everywhere,
//! exact zeros included.
//!
//! | penalty | value | config fields (defaults) | [`Reduction`] |
//! | --- | --- | --- | --- |
//! | [`L1`] | `λ Σ\|x\|` (or `/ n`) | `lambda` (1), `reduction` (`sum`\|`mean`) | `sum` or `mean` |
//! | [`ElasticNet`] | `λ (ρ Σ\|x\| + ½ (1−ρ) Σ x²)` | `lambda` (1), `l1_ratio` (0.5) | `sum` |
//! | [`GroupLasso`] | `λ [(1−α) Σ_g √p_g ‖x_g‖₂ + α Σ\|x\|]` | `lambda` (1), `l1_ratio` (0), `axis` (0), `group_ids` (none), `weight_by_size` (true) | `sum` |
//! | [`KlSparsity`] | `β Σ_j KL(ρ ‖ ρ̂_j)` | `target` (0.05), `beta` (1), `eps` (1e-6) | `batch` |
//! | [`Hoyer`] | `λ ‖v‖₁/‖v‖₂` or `λ ‖v‖₁²/‖v‖₂²` | `lambda` (1), `squared` (false), `per_row` (false) | `batch`, `batch_mean` with `per_row` |
//! | [`TotalVariation`] | anisotropic / isotropic / squared / 1-D TV | `lambda` (1), `kind` (`anisotropic`), `reduction` (`batch_mean`) | `batch_mean` or `sum` |
//! | [`SpikeAndSlab`] | `−λ Σ log(π N(x;0,σ_slab²) + (1−π) N(x;0,σ_spike²))` | `lambda` (1), `slab_prob` (0.5), `sigma_spike` (0.01), `sigma_slab` (1) | `sum` |
//! | [`Entropy`] | `λ mean_rows(−Σ p log p)` | `lambda` (1), `normalize` (`abs`\|`softmax`), `temperature` (1) | `batch_mean` |
//! | [`Tanh`] | `λ Σ tanh(c\|x\|)` | `lambda` (1), `scale` (1) | `sum` |
//! | [`LogSum`] | `λ Σ log(1 + \|x\|/ε)` | `lambda` (1), `eps` (0.1) | `sum` |
//! | [`Lp`] | `λ Σ [(x² + ε²)^{p/2} − ε^p]` | `lambda` (1), `p` (0.5), `eps` (1e-3) | `sum` |
//! | [`Scad`] | SCAD (Fan & Li): `λ\|x\|`, then quadratic, flat beyond `aλ` | `lambda` (1), `gamma` (3.7) | `sum` |
//! | [`Mcp`] | MCP (Zhang): `λ\|x\| − x²/(2γ)`, flat beyond `γλ` | `lambda` (1), `gamma` (3) | `sum` |
//! | [`L1DecoderNorm`] | `λ Σ_{b,j} \|f_bj\| ‖W_j‖₂` (codes and SAE decoder) | `lambda` (1) | `sum` |
//!
//! Each penalty follows the shape of Burn's own losses: a `XxxConfig` (`#[derive(Config)]`)
//! whose `init` validates it and returns the penalty, a `#[derive(Module)]` struct that can live
//! inside a model, and the [`Penalty`] trait's `forward`. Unlike Burn's losses, `init` returns
//! an [`Error`] instead of panicking, and so does `forward` on a tensor of the wrong shape.
//! [`Penalty::reduction`] says what each penalty sums or averages (one [`Reduction`]
//! vocabulary for the whole crate), and [`Penalty::per_example`] puts any of them on the scale
//! of a per-example sum averaged over the batch.
//!
//! ```
//! use burn::prelude::*;
//! use sparse_losses::prelude::*;
//!
//! let device = Device::flex().autodiff();
//! let codes = Tensor::<2>::from_floats([[0.0, 2.0, -1.0], [0.5, 0.0, 0.0]], &device).require_grad();
//! let l1 = L1Config::new().with_lambda(0.1).init()?;
//! let loss = l1.forward(codes.clone())?;
//! let grads = loss.backward();
//! // d/dx 0.1 |x| = 0.1 sign(x), and 0 at exact zeros.
//! let g = codes.grad(&grads).unwrap().into_data();
//! assert_eq!(g.try_to_vec::<f32>().unwrap(), [0.0, 0.1, -0.1, 0.1, 0.0, 0.0]);
//! # Ok::<(), Error>(())
//! ```
//!
//! ## Binary masks
//!
//! [`MaskRule`] (from a [`BinaryMaskConfig`]) turns scores into a 0/1 mask (`threshold`,
//! per-row `topk`, or N:M such as 2:4) whose gradient reaches the scores straight through
//! (optionally clipped to `|s| <= 1`). The straight-through estimator is a custom operation of
//! Burn's autodiff graph ([`ste::straight_through`], a `#[backend_extension]` over Flex,
//! NdArray, CubeCL and Autodiff), not a `detach` trick. [`BinaryMask`] holds learnable scores
//! as a `Param`; [`MaskedLinear`] is a drop-in for `burn::nn::Linear` that ranks along the
//! inputs of each output neuron; [`CubicSchedule`] anneals a threshold or a kept fraction as
//! movement pruning does.
//!
//! ## Proximal operators
//!
//! [`Prox`] gives `prox_{t·P}(x) = argmin_z ½‖z − x‖² + t·P(z)` for [`L1`] (soft-thresholding),
//! [`ElasticNet`], [`GroupLasso`] (block soft-thresholding, sparse-group included), [`Mcp`]
//! (firm thresholding) and [`Scad`], with exact zeros; [`ProxStep`] applies one to the
//! parameters of a model after each optimizer step (proximal gradient, selected by path as
//! [`ModulePenalty`] does), so pruned weights are exactly `0.0` instead of merely small.
//!
//! ## More
//!
//! [`ModulePenalty`] applies a penalty to the parameters of a whole model, selected by path;
//! [`metrics`] has L0, Hoyer sparsity and the fraction of zeros; [`PenaltyConfig`] picks a
//! penalty at run time from a tagged JSON object.
//!
//! ## Layout
//!
//! One folder per concept, each item in its own file, everything re-exported at the crate root
//! and in [`prelude`]: [`penalty`] (the penalties and their registry), [`mask`] (binary masks,
//! `MaskedLinear`, the schedule), [`coding`] (OMP and dictionary learning), [`ops`] (operations
//! with a custom backward), [`activation`] (SAE activations), [`schedule`] (penalty warm-up
//! and p-annealing over training), [`prox`] (proximal operators, [`soft_threshold`],
//! [`ProxStep`]), plus [`metrics`], [`Error`] and [`Reduction`].
//!
//! ## Backends
//!
//! The crate is backend-agnostic; its cargo features only switch Burn backends on:
//! `flex` (default, pure-Rust CPU), `ndarray`, `wgpu`, `cuda`.
#![warn(missing_docs)]

pub mod activation;
pub mod coding;
mod error;
pub mod fused;
pub mod mask;
pub mod metrics;
pub mod ops;
mod param_selection;
pub mod penalty;
pub mod prox;
pub mod prune;
mod reduction;
pub mod schedule;
mod util;

pub use activation::*;
pub use coding::*;
pub use error::{Error, Result};
pub use mask::*;
pub use ops::ste;
pub use penalty::*;
pub use prox::*;
pub use reduction::Reduction;
pub use schedule::*;

/// Everything needed to use the penalties, proximal operators, masks, activations and solvers:
/// `use sparse_losses::prelude::*;`.
pub mod prelude {
    pub use crate::activation::*;
    pub use crate::coding::*;
    pub use crate::error::{Error, Result};
    pub use crate::mask::*;
    pub use crate::penalty::*;
    pub use crate::prox::*;
    pub use crate::reduction::Reduction;
    pub use crate::schedule::*;
}
