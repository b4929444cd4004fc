//! `MaskedLinear`: a drop-in for `burn::nn::Linear` with a learnable 0/1 mask on its weight.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::{Initializer, Linear, LinearLayout};
use burn::tensor::module::linear;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::{BinaryMask, BinaryMaskConfig, Error, MaskKind, MaskRule, Result};

/// How [`MaskedLinear`] initialises its mask scores.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ScoreInit {
    /// `s = |w|`: the mask starts as magnitude pruning (default).
    #[default]
    Magnitude,
    /// Every score starts at this value.
    Constant(f64),
}

/// Configuration of a [`MaskedLinear`]: the fields of Burn's `LinearConfig` (`d_input`,
/// `d_output`, `bias`, `initializer`, `layout`) plus the mask (`mask`, `score_init`).
#[derive(Config, Debug)]
pub struct MaskedLinearConfig {
    /// The size of the input features.
    pub d_input: usize,
    /// The size of the output features.
    pub d_output: usize,
    /// If a bias should be applied (never masked). Default true.
    #[config(default = true)]
    pub bias: bool,
    /// The initializer of the weight and bias. Default: Burn's `Linear` default,
    /// Kaiming-uniform with gain 1/√3.
    #[config(
        default = "Initializer::KaimingUniform{gain: 0.577_350_269_189_625_8, fan_out_only: false}"
    )]
    pub initializer: Initializer,
    /// The layout in which the weight is saved, as in `LinearConfig`: `Row` (default) saves
    /// `[d_input, d_output]`, `Col` saves `[d_output, d_input]` (e.g. for PyTorch-style
    /// checkpoints). In memory the weight is `[d_input, d_output]` either way. As with Burn
    /// 0.22.1's own `Linear`, a `Col` record loads only into a layer whose weight is still
    /// lazy (not yet used); `score_init = magnitude` reads the weight at `init`, so load `Col`
    /// records into a layer made with `ScoreInit::Constant`.
    #[config(default = "LinearLayout::Row")]
    pub layout: LinearLayout,
    /// The masking rule. `topk` and `n_of_m` rank along the inputs of each output neuron.
    /// Default: threshold at 0.
    #[config(default = "BinaryMaskConfig::new()")]
    pub mask: BinaryMaskConfig,
    /// How the scores start. Default `magnitude`.
    #[config(default = "ScoreInit::Magnitude")]
    pub score_init: ScoreInit,
}

impl MaskedLinearConfig {
    /// Validates the config and initialises the layer on `device`.
    ///
    /// # Errors
    /// The mask config's errors; [`Error::InvalidHyperParameter`] for zero sizes or a
    /// non-finite constant score; [`Error::TopkTooLarge`] when `k > d_input`;
    /// [`Error::RowNotMultipleOfM`] when `d_input` is not a multiple of `m`.
    pub fn init(&self, device: &Device) -> Result<MaskedLinear> {
        let invalid = |field, value: f64, expected| Error::InvalidHyperParameter {
            item: "masked_linear",
            field,
            value,
            expected,
        };
        if self.d_input == 0 {
            return Err(invalid("d_input", 0.0, "an integer >= 1"));
        }
        if self.d_output == 0 {
            return Err(invalid("d_output", 0.0, "an integer >= 1"));
        }
        if let ScoreInit::Constant(c) = self.score_init {
            if !c.is_finite() {
                return Err(invalid("score_init", c, "a finite constant"));
            }
        }
        let rule = self.mask.init()?;
        let weight = match self.layout {
            LinearLayout::Row => self.initializer.init_with(
                [self.d_input, self.d_output],
                Some(self.d_input),
                Some(self.d_output),
                device,
            ),
            // As Burn's `Linear`: initialised and saved as [d_output, d_input], used transposed.
            LinearLayout::Col => self
                .initializer
                .init_with(
                    [self.d_output, self.d_input],
                    Some(self.d_output),
                    Some(self.d_input),
                    device,
                )
                .save_mapper(|tensor| tensor.transpose())
                .load_mapper(|tensor| tensor.transpose())
                .init_mapper(|tensor| tensor.transpose()),
        };
        let scores = match self.score_init {
            ScoreInit::Magnitude => weight.val().abs().detach(),
            ScoreInit::Constant(c) => Tensor::full([self.d_input, self.d_output], c, device),
        };
        let bias = self.bias.then(|| {
            self.initializer.init_with(
                [self.d_output],
                Some(self.d_input),
                Some(self.d_output),
                device,
            )
        });
        // Ranking runs along the inputs: the rule sees the transposed scores.
        let mask = BinaryMask::new(scores.transpose(), rule)?;
        Ok(MaskedLinear { weight, bias, mask })
    }
}

/// A drop-in for `burn::nn::Linear` whose weight is multiplied by a learnable binary mask.
///
/// ```text
/// y = x (W ⊙ Mᵀ) + b,    M = mask(S)   (S, M: [d_output, d_input])
/// ```
///
/// The weight `W` is stored as Burn stores it, `[d_input, d_output]`; the scores `S` are kept
/// transposed, one row per output neuron, so that `topk` keeps k inputs of every output neuron
/// and `n_of_m` prunes groups of M consecutive inputs (2:4 along the inputs, the layout sparse
/// tensor cores expect). Gradients: `W` gets `M ⊙ G`, the scores the straight-through gradient
/// (see [`MaskRule`]); the bias is not masked.
///
/// ```
/// use burn::prelude::*;
/// use sparse_losses::{BinaryMaskConfig, MaskKind, MaskedLinearConfig};
///
/// let device = Device::flex().autodiff();
/// let mask = BinaryMaskConfig::new().with_kind(MaskKind::Topk).with_k(Some(2));
/// let layer = MaskedLinearConfig::new(8, 3).with_mask(mask).init(&device).unwrap();
/// let y = layer.forward(Tensor::<2>::ones([5, 8], &device));
/// assert_eq!(y.dims(), [5, 3]);
/// assert!((layer.sparsity() - 0.75).abs() < 1e-9); // each output keeps 2 of 8 inputs
/// assert_eq!(layer.pruned_weight().dims(), [8, 3]);
/// // Once trained, ship a plain Linear with the pruned weight.
/// let plain: burn::nn::Linear = layer.to_linear();
/// assert_eq!(plain.weight.val().dims(), [8, 3]);
/// ```
#[derive(Module, Debug)]
pub struct MaskedLinear {
    /// The dense weight, `[d_input, d_output]`.
    pub weight: Param<Tensor<2>>,
    /// The bias, `[d_output]`.
    pub bias: Option<Param<Tensor<1>>>,
    /// The mask; its scores are `[d_output, d_input]`.
    pub mask: BinaryMask<2>,
}

impl MaskedLinear {
    /// Applies the masked linear map to the last dimension of `input` (`[..., d_input]` to
    /// `[..., d_output]`), like `burn::nn::Linear::forward`, which it mirrors: an input whose
    /// last dimension is not `d_input` panics inside Burn. Use
    /// [`try_forward`](Self::try_forward) for a typed error instead.
    pub fn forward<const D: usize>(&self, input: Tensor<D>) -> Tensor<D> {
        let weight = self.masked_weight();
        linear(input, weight, self.bias.as_ref().map(|b| b.val()))
    }

    /// [`forward`](Self::forward), with the input's last dimension checked first.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when the last dimension of `input` is not `d_input`.
    pub fn try_forward<const D: usize>(&self, input: Tensor<D>) -> Result<Tensor<D>> {
        let [d_input, _] = self.weight.val().dims();
        let dims = input.dims();
        if dims[D - 1] != d_input {
            return Err(Error::ShapeMismatch {
                what: "masked_linear input (last dimension) and d_input",
                left: dims.to_vec(),
                right: vec![d_input],
            });
        }
        Ok(self.forward(input))
    }

    /// `W ⊙ Mᵀ`, differentiable (weight and scores), `[d_input, d_output]`.
    pub fn masked_weight(&self) -> Tensor<2> {
        let scores = self.mask.scores.val();
        let mask = self.mask.rule.apply_unchecked(scores).transpose();
        self.weight.val() * mask
    }

    /// The current hard mask in the weight's layout, `[d_input, d_output]` (no gradient).
    pub fn mask(&self) -> Tensor<2> {
        self.mask.mask().transpose()
    }

    /// The pruned dense weight `W ⊙ Mᵀ`, `[d_input, d_output]`, without gradient: what to
    /// export or load into a plain `burn::nn::Linear`.
    pub fn pruned_weight(&self) -> Tensor<2> {
        (self.weight.val() * self.mask()).detach()
    }

    /// The fraction of weights the mask currently removes, in `[0, 1]`.
    pub fn sparsity(&self) -> f64 {
        self.mask.sparsity()
    }

    /// A plain `burn::nn::Linear` holding the pruned weight and the bias: the layer to ship
    /// once the mask is final (new parameter ids, no gradient history).
    pub fn to_linear(&self) -> Linear {
        Linear {
            weight: Param::from_tensor(self.pruned_weight()),
            bias: self
                .bias
                .as_ref()
                .map(|b| Param::from_tensor(b.val().detach())),
        }
    }

    /// Replaces the masking rule (e.g. to follow a sparsity schedule). The new rule must fit
    /// the layer.
    ///
    /// # Errors
    /// [`Error::TopkTooLarge`] or [`Error::RowNotMultipleOfM`] when it does not;
    /// the layer is then unchanged.
    pub fn set_rule(&mut self, rule: MaskRule) -> Result<()> {
        rule.check(&self.mask.scores.val())?;
        self.mask.rule = rule;
        Ok(())
    }

    /// The kind of the current rule.
    pub fn mask_kind(&self) -> MaskKind {
        self.mask.rule.kind()
    }
}
