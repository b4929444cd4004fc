//! Sparse-autoencoder activations: functions of the pre-activations `z` whose output is
//! sparse by construction, with the gradients the SAE literature trains them with.
//!
//! | activation | forward | gradient |
//! | --- | --- | --- |
//! | [`TopK`] (per row) | `y = relu(z) ⊙ m`, `m` = the k largest `z` of each row (ties: lower index) | `G ⊙ m ⊙ 1[z > 0]` |
//! | [`BatchTopK`] (Bussmann et al. 2024) | `a = relu(z)`, `y = a ⊙ m`, `m` = the k·B largest `a` of the whole batch `[B, h]` (ties: lower row-major index) | `G ⊙ m ⊙ 1[z > 0]` |
//! | [`JumpRelu`] (Rajamanoharan et al. 2024) | `y = z · 1[z > θ]`, θ = exp(`log_threshold`) per latent | `∂y/∂z = 1[z > θ]`, `∂y/∂θ = −(θ/ε) K((z − θ)/ε)`, `K(u) = 1[−½ < u < ½]` |
//! | [`JumpRelu::l0`] | `mean over rows of Σ_j 1[z_bj > θ_j]` | `0` in z; `∂/∂θ_j = −(1/(Bε)) Σ_b K((z_bj − θ_j)/ε)` |
//! | [`HardConcrete`] (Louizos et al. 2018) | `s = σ((log u − log(1 − u) + log α)/β)`, `g = clamp(s(ζ − γ) + γ, 0, 1)` | true derivative; the clamp passes 0 outside `(0, 1)` |
//! | [`HardConcrete::expected_l0`] | `Σ σ(log α − β log(−γ/ζ))` | true derivative |
//! | [`HardConcrete::test_gate`] | `clamp(σ(log α)(ζ − γ) + γ, 0, 1)` | true derivative, 0 outside `(0, 1)` |
//!
//! Rows are the last dimension; a rank-1 tensor is one row. The JumpReLU pseudo-derivatives
//! are a custom autodiff operation ([`ops::jump_relu`](mod@crate::ops::jump_relu)); the top-k
//! ranking is shared with the binary masks ([`ops::top_k`](mod@crate::ops::top_k)). Every config
//! is a Burn `Config` validated by its `init` (a typed [`Error`], never a panic),
//! and every call checks the input's shape first.

mod batch_top_k;
mod hard_concrete;
mod jump_relu;
mod top_k;

pub use batch_top_k::*;
pub use hard_concrete::*;
pub use jump_relu::*;
pub use top_k::*;

use crate::Error;

/// [`Error::TopkTooLarge`] when `k > len` (k = 0 is refused by the configs).
fn check_k(item: &'static str, k: usize, len: usize) -> crate::Result<()> {
    if k > len {
        return Err(Error::TopkTooLarge { item, k, len });
    }
    Ok(())
}
