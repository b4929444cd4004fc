//! Parameters with fixed ids, shared by the SAE and its architectures.
//!
//! Ids are fixed so that optimizer state saved by one process finds its parameters in the
//! next, and so that a checkpoint saved before a change of the model's layout can be mapped
//! onto the new one ([`crate::train::upgrade_checkpoint`]):
//!
//! | id | parameter |
//! | --- | --- |
//! | 1, 2, 3, 4 | `w_enc`, `b_enc`, `w_dec`, `b_dec` |
//! | 5 | JumpReLU's `log_threshold` |
//! | 6, 7 | the magnitude path's `r_mag`, `b_mag` (Gated, hard-concrete) |
//! | 8 | BatchTopK's (and Matryoshka's) running threshold |
//! | 9 | `since_fired` |
//! | 10 | the encoder mask's scores |
//! | 12, 13 | a decoder fine-tune's frozen `b_dec` and latent scale |

use burn::module::{Param, ParamId};
use burn::prelude::*;
use sparse_losses::normalize_atoms;

/// JumpReLU's log-thresholds.
pub(crate) const LOG_THRESHOLD: u64 = 5;
/// The magnitude path's per-latent log-rescale.
pub(crate) const R_MAG: u64 = 6;
/// The magnitude path's bias.
pub(crate) const B_MAG: u64 = 7;
/// BatchTopK's running threshold.
pub(crate) const THRESHOLD: u64 = 8;

/// A parameter with a fixed id.
pub(crate) fn param<const D: usize>(id: u64, t: Tensor<D>, trainable: bool) -> Param<Tensor<D>> {
    // `Param::set_require_grad` (not `Tensor::require_grad`, which panics without autodiff):
    // a model built on a plain device, for inference, keeps the setting for `.autodiff()`.
    Param::initialized(ParamId::from(id), t).set_require_grad(trainable)
}

/// Rows scaled to unit L2 norm (zero rows stay zero), without gradient history: sparse-losses'
/// [`normalize_atoms`] on the columns of `Wᵀ`.
pub(crate) fn unit_rows(w: Tensor<2>) -> Tensor<2> {
    normalize_atoms(w.transpose()).transpose()
}
