//! The BatchTopK activation (Bussmann et al. 2024).

use burn::config::Config;
use burn::module::Module;
use burn::tensor::activation::relu;
use burn::tensor::Tensor;

use super::check_k;
use crate::ops::top_k::top_k_mask_bool;
use crate::util::{check_nonempty, require};
use crate::Error;

/// The item name in errors.
const NAME: &str = "batch_top_k";

/// Configuration of a [`BatchTopK`] activation.
#[derive(Config, Debug)]
pub struct BatchTopKConfig {
    /// The average number of entries kept per row: a batch `[B, h]` keeps `k·B` entries in
    /// all. `>= 1`, and at most `h` (checked when the activation is applied).
    pub k: usize,
}

impl BatchTopKConfig {
    /// Validates the config and builds the activation.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`] for `k = 0`.
    pub fn init(&self) -> crate::Result<BatchTopK> {
        require(self.k >= 1, NAME, "k", self.k as f64, "an integer >= 1")?;
        Ok(BatchTopK { k: self.k })
    }
}

/// What [`BatchTopK::forward`] returns.
#[derive(Debug, Clone)]
pub struct BatchTopKOutput {
    /// `y = relu(z) ⊙ m`, `[B, h]`, differentiable (gradient `G ⊙ m ⊙ 1[z > 0]`).
    pub output: Tensor<2>,
    /// The 0/1 mask `m`, `[B, h]`, with exactly `k·B` ones; no gradient.
    pub mask: Tensor<2>,
    /// The batch's inference threshold, shape `[1]`, on the input's device, no gradient: the
    /// smallest positive kept entry of `relu(z)`, or 0 when no kept entry is positive.
    pub threshold: Tensor<1>,
}

/// The BatchTopK activation of sparse autoencoders (Bussmann, Leask & Nanda 2024): the k·B
/// largest activations of the whole batch survive, so rows may keep more or fewer than k.
///
/// ```text
/// a = relu(z)                                          z: [B, h]
/// m = 1 for the k·B largest entries of a over the whole batch
///     (ties: the lower row-major index; when fewer than k·B entries of a are positive,
///      the remaining ones go to zeros of a, lowest index first), else 0
/// y = a ⊙ m,    ∂y/∂z = m ⊙ 1[z > 0]
/// θ = min { a_bj : m_bj = 1, a_bj > 0 }   (0 when that set is empty)
/// inference:  y = z · 1[z > θ]   (strict: the threshold entry itself is dropped)
/// ```
///
/// At inference time, with batches of any size, use [`infer`](Self::infer) with a threshold
/// estimated during training (for instance a running average of [`BatchTopKOutput::threshold`]).
/// Everything stays on the device: the threshold is a `[1]` tensor, never read back.
///
/// ```
/// use burn::prelude::*;
/// use sparse_losses::activation::BatchTopKConfig;
///
/// let batch_top_k = BatchTopKConfig::new(1).init().unwrap();
/// let device = Device::flex().autodiff();
/// // k·B = 2 entries survive over the whole batch: both from row 0.
/// let z = Tensor::<2>::from_floats([[3.0, -1.0, 2.0], [0.5, 1.0, -2.0]], &device).require_grad();
/// let out = batch_top_k.forward(z.clone()).unwrap();
/// let y: Vec<f32> = out.output.clone().into_data().try_into_vec().unwrap();
/// assert_eq!(y, [3.0, 0.0, 2.0, 0.0, 0.0, 0.0]);
/// let m: Vec<f32> = out.mask.into_data().try_into_vec().unwrap();
/// assert_eq!(m, [1.0, 0.0, 1.0, 0.0, 0.0, 0.0]);
/// assert_eq!(out.threshold.clone().into_scalar::<f32>(), 2.0);
/// let grads = out.output.sum().backward();
/// let g: Vec<f32> = z.grad(&grads).unwrap().into_data().try_into_vec().unwrap();
/// assert_eq!(g, [1.0, 0.0, 1.0, 0.0, 0.0, 0.0]);
/// // Inference keeps z > θ = 2 (strictly).
/// let z_new = Tensor::<2>::from_floats([[2.0, 2.5, 0.0]], &device);
/// let y = batch_top_k.infer(z_new, out.threshold).unwrap();
/// let y: Vec<f32> = y.into_data().try_into_vec().unwrap();
/// assert_eq!(y, [0.0, 2.5, 0.0]);
/// ```
#[derive(Module, Debug)]
pub struct BatchTopK {
    k: usize,
}

impl BatchTopK {
    /// The average number of entries kept per row.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Output, mask and inference threshold of a batch `z` of shape `[B, h]` (see the type's
    /// docs for the formulas).
    ///
    /// # Errors
    /// [`Error::EmptyInput`] on an empty batch, [`Error::TopkTooLarge`] when `k > h` (the
    /// batch has fewer than k·B entries).
    pub fn forward(&self, z: Tensor<2>) -> crate::Result<BatchTopKOutput> {
        check_nonempty(&z, NAME)?;
        let [batch, h] = z.dims();
        check_k(NAME, self.k, h)?;
        let a = relu(z.clone().detach());
        let positive = a.clone().greater_elem(0.0);
        let mask =
            top_k_mask_bool(a.clone().reshape([1, batch * h]), self.k * batch).reshape([batch, h]);
        let kept_positive = mask.clone().bool_and(positive);
        // The smallest kept positive entry: every other entry is replaced by max(a), which is
        // at least as large (and 0 when nothing is positive, giving the threshold 0).
        let max = a.clone().max().reshape([1, 1]).expand([batch, h]);
        let threshold = max.mask_where(kept_positive.clone(), a).min();
        Ok(BatchTopKOutput {
            // mask_fill keeps a boolean mask for its gradient, not a float copy.
            output: z.mask_fill(kept_positive.bool_not(), 0.0),
            mask: mask.float(),
            threshold,
        })
    }

    /// Inference with a fixed threshold θ: `y = z · 1[z > θ]` (strict), for `z` of any shape;
    /// gradient `G ⊙ 1[z > θ]`, none to θ.
    ///
    /// # Errors
    /// [`Error::EmptyInput`] on an empty `z`, [`Error::ShapeMismatch`] when `threshold` is
    /// not of shape `[1]`.
    pub fn infer<const D: usize>(
        &self,
        z: Tensor<D>,
        threshold: Tensor<1>,
    ) -> crate::Result<Tensor<D>> {
        check_nonempty(&z, NAME)?;
        if threshold.dims() != [1] {
            return Err(Error::ShapeMismatch {
                what: "batch_top_k: the inference threshold (expected shape [1])",
                left: threshold.dims().to_vec(),
                right: vec![1],
            });
        }
        let dims = z.dims();
        let theta = threshold.detach().reshape([1usize; D]).expand(dims);
        let keep = z.clone().detach().greater(theta).float();
        Ok(z * keep)
    }
}
