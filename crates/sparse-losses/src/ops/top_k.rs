//! Per-row top-k selection with ties to the lower index, shared by the `topk` and `n_of_m`
//! binary masks ([`MaskRule`](crate::MaskRule)) and the SAE activations
//! [`TopK`](crate::activation::TopK) and [`BatchTopK`](crate::activation::BatchTopK).
//!
//! Everything is built from Burn tensor ops (`topk`, comparisons, an integer `cumsum`), so it runs on
//! every backend, wgpu included, without reading values back to the host.

use burn::tensor::{Bool, Tensor};

/// The 0/1 mask (as booleans) of the `k` largest entries of every row of `scores` (rows are
/// the last dimension; a rank-1 tensor is one row).
///
/// ```text
/// m_i = 1  if  s_i > s_(k)  or  (s_i = s_(k)  and  #{j < i : s_j = s_(k)} < k − #{j : s_j > s_(k)})
/// ```
///
/// where `s_(k)` is the k-th largest entry of the row: exactly `min(k, len)` ones per row, and
/// among equal scores the lower index wins. Ranking is by the signed score. `k = 0` gives an
/// all-false mask and `k >= len` an all-true one. The result carries no gradient (the scores
/// are detached).
///
/// ```
/// use burn::prelude::*;
/// use sparse_losses::ops::top_k::top_k_mask_bool;
///
/// let s = Tensor::<2>::from_floats([[0.5, 2.0, 0.5, 0.5], [1.0, -1.0, 3.0, 0.0]], &Device::flex());
/// let m: Vec<bool> = top_k_mask_bool(s, 2).into_data().try_into_vec().unwrap();
/// // Row 0: 2.0 and the first 0.5 (ties go to the lower index); row 1: 3.0 and 1.0.
/// assert_eq!(m, [true, true, false, false, true, false, true, false]);
/// ```
pub fn top_k_mask_bool<const D: usize>(scores: Tensor<D>, k: usize) -> Tensor<D, Bool> {
    let scores = scores.detach();
    let dims = scores.dims();
    let len = dims[D - 1];
    let n: usize = dims.iter().product();
    if n == 0 || k == 0 {
        // Nothing to keep (k = 0 arises from a small `fraction` on a short row).
        return all(scores, false);
    }
    if k >= len {
        return all(scores, true);
    }
    // Flex, wgpu and CUDA: a selection and one mask pass per row (see `fused`).
    if let Some(mask) = crate::fused::fused_top_k_mask(&scores, k) {
        return mask.greater_elem(0.5);
    }
    top_k_rows(scores.reshape([n / len, len]), k).reshape(dims)
}

/// [`top_k_mask_bool`] as a float 0/1 tensor (no gradient).
///
/// ```
/// use burn::prelude::*;
/// use sparse_losses::ops::top_k::top_k_mask;
///
/// // Ties go to the lower index: the first two 1.0s are kept.
/// let s = Tensor::<1>::from_floats([1.0, 0.0, 1.0, 1.0], &Device::flex());
/// let m: Vec<f32> = top_k_mask(s, 2).into_data().try_into_vec().unwrap();
/// assert_eq!(m, [1.0, 0.0, 1.0, 0.0]);
/// ```
pub fn top_k_mask<const D: usize>(scores: Tensor<D>, k: usize) -> Tensor<D> {
    let len = scores.dims()[D - 1];
    if k >= 1 && k < len && scores.dims().iter().product::<usize>() > 0 {
        // Flex, wgpu and CUDA: a selection and one mask pass per row (see `fused`).
        if let Some(mask) = crate::fused::fused_top_k_mask(&scores, k) {
            return mask;
        }
    }
    top_k_mask_bool(scores, k).float()
}

/// An all-`value` boolean tensor of the shape and device of `like`.
fn all<const D: usize>(like: Tensor<D>, value: bool) -> Tensor<D, Bool> {
    let zeros = like.zeros_like();
    if value {
        zeros.equal_elem(0.0)
    } else {
        zeros.not_equal_elem(0.0)
    }
}

/// Above this k, the k-th largest value comes from a sort instead of `topk`.
const LARGE_K: usize = 64;

/// Keeps the `k` largest entries of each row of `s` (`[rows, len]`, `1 <= k < len`); ties go
/// to the lower index.
fn top_k_rows(s: Tensor<2>, k: usize) -> Tensor<2, Bool> {
    let [rows, len] = s.dims();
    // The k-th largest value of each row, [rows, 1]. Burn's `topk` keeps a k-element
    // accumulator per row (CubeCL runs it as a reduction), which is fast for the small k of
    // per-row TopK but crawls for BatchTopK's k·B over one row (k = 8192 took minutes per step
    // on an H200); a sort is O(len log len) whatever k is.
    let kth = if k <= LARGE_K {
        s.clone().topk(k, 1).min_dim(1)
    } else {
        s.clone().sort_descending(1).narrow(1, k - 1, 1)
    }
    .expand([rows, len]);
    let above = s.clone().greater(kth.clone());
    let tied = s.equal(kth);
    // How many tied entries each row still needs, and each tie's rank from the left (integer
    // counts, exact for rows of any length).
    let needed = above.clone().int().sum_dim(1).neg().add_scalar(k as i64);
    let tie_rank = tied.clone().int().cumsum(1);
    let keep_tie = tied.bool_and(tie_rank.lower_equal(needed.expand([rows, len])));
    above.bool_or(keep_tie)
}
