//! L1 penalty on codes weighted by the norms of their decoder atoms (Anthropic's SAE penalty).

use burn::config::Config;
use burn::module::Module;
use burn::tensor::Tensor;

use crate::util::{check_nonempty, non_negative, safe_sqrt};
use crate::{Error, Penalty, Reduction, Result};

/// The serde name of this penalty.
const NAME: &str = "l1_decoder_norm";

/// Configuration of the [`L1DecoderNorm`] penalty. Serde name: `lambda`.
#[derive(Config, Debug)]
pub struct L1DecoderNormConfig {
    /// The weight λ; finite and `>= 0`. Default 1.0.
    #[config(default = 1.0)]
    pub lambda: f64,
}

impl L1DecoderNormConfig {
    /// One line on what the penalty is, for help texts ([`PenaltyConfig::summary`](crate::PenaltyConfig::summary)).
    pub const SUMMARY: &'static str = "λ Σ_j |f_j| ‖W_d[j,:]‖₂: L1 of the codes weighted by their decoder rows' norms";

    /// Validates the config and builds the penalty.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`] when `lambda` is negative or not finite.
    pub fn init(&self) -> Result<L1DecoderNorm> {
        non_negative(NAME, "lambda", self.lambda)?;
        Ok(L1DecoderNorm {
            lambda: self.lambda,
        })
    }
}

/// The L1 norm of sparse-autoencoder codes, each weighted by the Euclidean norm of its decoder
/// atom, as in Anthropic's "Towards Monosemanticity" updates: the penalty cannot be lowered by
/// shrinking the codes and growing the decoder.
///
/// ```text
/// L1DecoderNorm(f, W) = λ Σ_{b,j} |f_bj| ‖W_j‖₂
/// ∂/∂f_bj = λ sign(f_bj) ‖W_j‖₂        ∂/∂W_j = λ (Σ_b |f_bj|) W_j / ‖W_j‖₂  (0 for W_j = 0)
/// ```
///
/// Codes f are `[B, h]`, the decoder W is `[h, d]`: row j is atom j, the layout of the weight
/// of Burn's `Linear` from h latents to d outputs. Use
/// [`forward_with_decoder`](L1DecoderNorm::forward_with_decoder). Default λ = 1.
///
/// [`Penalty::forward`] has only one input, so it takes `x` to be **already weighted** codes,
/// `f_bj ‖W_j‖₂` (equivalently: codes of a decoder whose rows have unit norm), and returns
/// `λ Σ|x|`, the L1 penalty. That is what the [`PenaltyConfig`](crate::PenaltyConfig) registry
/// calls; to weight by a decoder, call `forward_with_decoder`.
///
/// ```
/// use burn::prelude::*;
/// use sparse_losses::prelude::*;
///
/// let device = Device::flex();
/// let penalty = L1DecoderNormConfig::new().with_lambda(0.5).init()?;
/// let codes = Tensor::<2>::from_floats([[1.0, -2.0], [0.0, 4.0]], &device);
/// // Atom 0 has norm 5, atom 1 norm 1.
/// let decoder = Tensor::<2>::from_floats([[3.0, 4.0, 0.0], [0.0, 0.0, 1.0]], &device);
/// let value: f32 = penalty.forward_with_decoder(codes, decoder)?.into_scalar();
/// // 0.5 (1·5 + 2·1 + 0·5 + 4·1)
/// assert_eq!(value, 5.5);
/// # Ok::<(), Error>(())
/// ```
#[derive(Module, Debug)]
pub struct L1DecoderNorm {
    lambda: f64,
}

impl L1DecoderNorm {
    /// The weight λ.
    pub fn lambda(&self) -> f64 {
        self.lambda
    }

    /// `λ Σ_{b,j} |f_bj| ‖W_j‖₂` for codes `[B, h]` and a decoder `[h, d]`, differentiable in
    /// both (shape `[1]`).
    ///
    /// # Errors
    /// [`Error::EmptyInput`] when the codes or the decoder have no elements,
    /// [`Error::ShapeMismatch`] when the decoder does not have one row per latent (code
    /// column). Checked before any computation.
    pub fn forward_with_decoder(&self, codes: Tensor<2>, decoder: Tensor<2>) -> Result<Tensor<1>> {
        check_nonempty(&codes, NAME)?;
        check_nonempty(&decoder, NAME)?;
        let [_, h] = codes.dims();
        let [rows, _] = decoder.dims();
        if rows != h {
            return Err(Error::ShapeMismatch {
                what: "l1_decoder_norm: codes [batch, h] and decoder [h, d]",
                left: codes.dims().to_vec(),
                right: decoder.dims().to_vec(),
            });
        }
        // [h, 1] -> [1, h]; a zero row has norm 0 and gradient 0.
        let norms = safe_sqrt(decoder.square().sum_dim(1)).reshape([1, h]);
        Ok((codes.abs() * norms).sum().mul_scalar(self.lambda))
    }
}

impl Penalty for L1DecoderNorm {
    fn name(&self) -> &'static str {
        NAME
    }

    /// [`Reduction::Sum`]: the terms sum over all elements.
    fn reduction(&self) -> Reduction {
        Reduction::Sum
    }

    /// `λ Σ|x|`, for codes already weighted by their atoms' norms (or a unit-norm decoder):
    /// see the type's documentation, and
    /// [`forward_with_decoder`](Self::forward_with_decoder) for the two-input form.
    fn forward<const D: usize>(&self, x: Tensor<D>) -> Result<Tensor<1>> {
        check_nonempty(&x, NAME)?;
        Ok(x.abs().sum().mul_scalar(self.lambda))
    }
}
