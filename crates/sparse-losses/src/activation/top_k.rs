//! The per-row TopK activation.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::Tensor;

use super::check_k;
use crate::ops::top_k::top_k_mask;
use crate::util::{check_nonempty, require};

/// The item name in errors.
const NAME: &str = "top_k";

/// Configuration of a [`TopK`] activation.
#[derive(Config, Debug)]
pub struct TopKConfig {
    /// The number of entries kept per row, `>= 1` (and at most the row length, checked when
    /// the activation is applied).
    pub k: usize,
}

impl TopKConfig {
    /// Validates the config and builds the activation.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`](crate::Error::InvalidHyperParameter) for `k = 0`.
    pub fn init(&self) -> crate::Result<TopK> {
        require(self.k >= 1, NAME, "k", self.k as f64, "an integer >= 1")?;
        Ok(TopK { k: self.k })
    }
}

/// The TopK activation of sparse autoencoders (Makhzani & Frey 2013; Gao et al. 2024): keep
/// the k largest pre-activations of each row, then apply ReLU.
///
/// ```text
/// m = 1 for the k largest z of each row (by signed value; ties: the lower index), else 0
/// y = relu(z) ⊙ m = z · m · 1[z > 0]
/// ∂y/∂z = m ⊙ 1[z > 0]
/// ```
///
/// Rows are the last dimension (a rank-1 tensor is one row). The mask has exactly k ones per
/// row; a kept entry that is not positive gives 0, so a row has at most k nonzeros. The ranking
/// is [`top_k_mask`], the one shared with the `topk` binary masks.
///
/// ```
/// use burn::prelude::*;
/// use sparse_losses::activation::TopKConfig;
///
/// let top_k = TopKConfig::new(2).init().unwrap();
/// let device = Device::flex().autodiff();
/// let z = Tensor::<2>::from_floats([[0.5, 3.0, -1.0, 0.5], [-2.0, -1.0, -3.0, 0.2]], &device)
///     .require_grad();
/// let y = top_k.forward(z.clone()).unwrap();
/// let v: Vec<f32> = y.clone().into_data().try_into_vec().unwrap();
/// // Row 0: 3.0 and the first 0.5 (ties go to the lower index). Row 1: 0.2 and relu(−1) = 0.
/// assert_eq!(v, [0.5, 3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.2]);
/// let m: Vec<f32> = top_k.mask(z.clone()).unwrap().into_data().try_into_vec().unwrap();
/// assert_eq!(m, [1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0]);
/// let grads = y.sum().backward();
/// let g: Vec<f32> = z.grad(&grads).unwrap().into_data().try_into_vec().unwrap();
/// assert_eq!(g, [1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
/// ```
#[derive(Module, Debug)]
pub struct TopK {
    k: usize,
}

impl TopK {
    /// Entries kept per row.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Checks that `z` is not empty and that its rows hold at least k entries.
    fn check<const D: usize>(&self, z: &Tensor<D>) -> crate::Result<()> {
        check_nonempty(z, NAME)?;
        check_k(NAME, self.k, z.dims()[D - 1])
    }

    /// `y = relu(z) ⊙ m`, with `m` the k largest entries of each row; gradient
    /// `G ⊙ m ⊙ 1[z > 0]`.
    ///
    /// # Errors
    /// [`Error::EmptyInput`](crate::Error::EmptyInput) on an empty tensor,
    /// [`Error::TopkTooLarge`](crate::Error::TopkTooLarge) when k exceeds the row length.
    pub fn forward<const D: usize>(&self, z: Tensor<D>) -> crate::Result<Tensor<D>> {
        self.check(&z)?;
        let detached = z.clone().detach();
        // What is dropped, as booleans (a quarter of a float mask at LLM widths, where every
        // [B, d_sae] buffer is a gigabyte): outside the top k, or not positive.
        let drop = top_k_mask(detached.clone(), self.k)
            .lower_elem(0.5)
            .bool_or(detached.lower_equal_elem(0.0));
        Ok(z.mask_fill(drop, 0.0))
    }

    /// The 0/1 mask `m` of the k largest entries of each row (ties: the lower index), without
    /// gradient. It has exactly k ones per row.
    ///
    /// # Errors
    /// As [`forward`](Self::forward).
    pub fn mask<const D: usize>(&self, z: Tensor<D>) -> crate::Result<Tensor<D>> {
        self.check(&z)?;
        Ok(top_k_mask(z, self.k))
    }
}
