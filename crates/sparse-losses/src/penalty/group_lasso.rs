//! Group lasso and sparse-group lasso.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Tensor, TensorData};

use crate::util::{check_nonempty, in_closed, non_negative, safe_sqrt};
use crate::{Error, Penalty, Reduction, Result};

/// The serde name of this penalty.
const NAME: &str = "group_lasso";

/// Configuration of the [`GroupLasso`] penalty. Serde names: `lambda`, `l1_ratio`, `axis`,
/// `group_ids`, `weight_by_size`.
#[derive(Config, Debug)]
pub struct GroupLassoConfig {
    /// The weight λ; finite and `>= 0`. Default 1.0.
    #[config(default = 1.0)]
    pub lambda: f64,
    /// α, the share of the plain L1 term (sparse-group lasso); in `[0, 1]`. Default 0
    /// (plain group lasso); 1 is the L1 penalty.
    #[config(default = 0.0)]
    pub l1_ratio: f64,
    /// The axis that defines the groups: all elements with the same index along it form one
    /// group. Negative values count from the end (−1 is the last axis). Default 0, so for a
    /// weight matrix `[d_input, d_output]` (Burn's `Linear`) each input row is a group.
    #[config(default = 0)]
    pub axis: i64,
    /// Optional explicit groups: one id per index of `axis`; indices that share an id form
    /// one group. Ids need not be sorted or contiguous. Default: none (each index is a group).
    pub group_ids: Option<Vec<usize>>,
    /// Weight each group's norm by `√p_g`, `p_g` its number of elements. Default true.
    #[config(default = true)]
    pub weight_by_size: bool,
}

impl GroupLassoConfig {
    /// Validates the config and builds the penalty.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`] for a negative or non-finite `lambda` or an
    /// `l1_ratio` outside `[0, 1]`; [`Error::EmptyGroupIds`] for `group_ids = []`.
    /// Whether `axis` and `group_ids` fit the input is checked by
    /// [`forward`](Penalty::forward).
    pub fn init(&self) -> Result<GroupLasso> {
        non_negative("group_lasso", "lambda", self.lambda)?;
        in_closed(
            "group_lasso",
            "l1_ratio",
            self.l1_ratio,
            (0.0, 1.0),
            "a number in [0, 1]",
        )?;
        let groups = match &self.group_ids {
            None => None,
            Some(ids) if ids.is_empty() => return Err(Error::EmptyGroupIds),
            Some(ids) => Some(Groups::new(ids)),
        };
        Ok(GroupLasso {
            lambda: self.lambda,
            l1_ratio: self.l1_ratio,
            axis: self.axis,
            weight_by_size: self.weight_by_size,
            groups,
        })
    }
}

/// Explicit groups, with ids made dense (`0..n_groups`) in order of first appearance.
#[derive(Debug, Clone, PartialEq)]
struct Groups {
    /// The dense group of each index along the axis.
    dense: Vec<usize>,
    /// How many indices each dense group has.
    counts: Vec<usize>,
}

impl Groups {
    fn new(ids: &[usize]) -> Self {
        let mut seen: Vec<usize> = Vec::new();
        let mut dense = Vec::with_capacity(ids.len());
        let mut counts: Vec<usize> = Vec::new();
        for &id in ids {
            let g = match seen.iter().position(|&s| s == id) {
                Some(g) => g,
                None => {
                    seen.push(id);
                    counts.push(0);
                    seen.len() - 1
                }
            };
            counts[g] += 1;
            dense.push(g);
        }
        Self { dense, counts }
    }
}

/// The group lasso, optionally mixed with L1 (the sparse-group lasso).
///
/// ```text
/// GroupLasso(x) = λ [ (1 − α) Σ_g w_g ‖x_g‖₂  +  α Σᵢ |xᵢ| ]
/// w_g = √p_g  (p_g = number of elements in group g) when weight_by_size, else 1
/// ```
///
/// Groups: all elements with the same index along `axis` form one group, or, with
/// `group_ids`, all indices of `axis` that share an id. Defaults: λ = 1, α (`l1_ratio`) = 0,
/// `axis` = 0, no `group_ids`, `weight_by_size` = true.
///
/// At zero: a group whose elements are all 0 has gradient 0 (the minimum-norm subgradient of
/// ‖·‖₂ at 0), and the L1 part uses `sign(0) = 0`. Any rank; returns shape `[1]`.
///
/// Cost: with `group_ids`, the group sums are one matrix product with a `[n_groups, axis_len]`
/// 0/1 matrix built on the input's device at each call (portable across backends, and small
/// for the usual handful of groups; `n_groups · axis_len` floats of memory).
///
/// ```
/// use burn::prelude::*;
/// use sparse_losses::prelude::*;
///
/// // Prune whole inputs of a Linear layer: its weight is [d_input, d_output], one group per row.
/// let penalty = GroupLassoConfig::new().with_axis(0).init().unwrap();
/// let w = Tensor::<2>::from_floats([[3.0, 4.0], [0.0, 0.0]], &Device::flex());
/// // √2 · ‖(3, 4)‖₂ + √2 · 0
/// let v: f32 = penalty.forward(w).unwrap().into_scalar();
/// assert!((v - 5.0 * 2f32.sqrt()).abs() < 1e-5);
/// ```
#[derive(Module, Debug)]
pub struct GroupLasso {
    lambda: f64,
    l1_ratio: f64,
    axis: i64,
    weight_by_size: bool,
    #[module(skip)]
    groups: Option<Groups>,
}

impl GroupLasso {
    /// The weight λ.
    pub fn lambda(&self) -> f64 {
        self.lambda
    }

    /// α, the share of the L1 term.
    pub fn l1_ratio(&self) -> f64 {
        self.l1_ratio
    }

    /// The grouping axis as configured (may be negative).
    pub fn axis(&self) -> i64 {
        self.axis
    }

    /// The sum of the (weighted) group norms, `Σ_g w_g ‖x_g‖₂`, without λ or the L1 part.
    /// Useful for reporting which groups are alive.
    ///
    /// # Errors
    /// As [`forward`](Penalty::forward).
    pub fn group_norms<const D: usize>(&self, x: Tensor<D>) -> Result<Tensor<1>> {
        let (ax, size) = self.check_shape(&x)?;
        let device = x.device();
        let m = x.dims().iter().product::<usize>() / size;
        let moved = if ax == 0 { x } else { x.swap_dims(0, ax) };
        // [size, 1]: squared norm of each slice along the axis.
        let slice_sq = moved.reshape([size, m]).square().sum_dim(1);
        Ok(match &self.groups {
            None => {
                let w = if self.weight_by_size {
                    (m as f64).sqrt()
                } else {
                    1.0
                };
                safe_sqrt(slice_sq).sum().mul_scalar(w)
            }
            Some(groups) => {
                let n_groups = groups.counts.len();
                let mut onehot = vec![0f32; n_groups * size];
                for (i, &g) in groups.dense.iter().enumerate() {
                    onehot[g * size + i] = 1.0;
                }
                let onehot =
                    Tensor::<2>::from_data(TensorData::new(onehot, [n_groups, size]), &device);
                let weights: Vec<f32> = groups
                    .counts
                    .iter()
                    .map(|&c| {
                        if self.weight_by_size {
                            ((c * m) as f64).sqrt() as f32
                        } else {
                            1.0
                        }
                    })
                    .collect();
                let weights =
                    Tensor::<2>::from_data(TensorData::new(weights, [n_groups, 1]), &device);
                let group_sq = onehot.matmul(slice_sq); // [n_groups, 1]
                (safe_sqrt(group_sq) * weights).sum()
            }
        })
    }

    /// Resolves the axis and checks the input against it and the group ids.
    fn check_shape<const D: usize>(&self, x: &Tensor<D>) -> Result<(usize, usize)> {
        check_nonempty(x, NAME)?;
        let dims = x.dims();
        let ax = if self.axis < 0 {
            self.axis + D as i64
        } else {
            self.axis
        };
        if ax < 0 || ax >= D as i64 {
            return Err(Error::AxisOutOfRange {
                item: NAME,
                axis: self.axis,
                rank: D,
            });
        }
        let ax = ax as usize;
        if let Some(groups) = &self.groups {
            if groups.dense.len() != dims[ax] {
                return Err(Error::GroupIdsLength {
                    axis: ax,
                    expected: dims[ax],
                    got: groups.dense.len(),
                    shape: dims.to_vec(),
                });
            }
        }
        Ok((ax, dims[ax]))
    }
}

impl Penalty for GroupLasso {
    fn name(&self) -> &'static str {
        NAME
    }

    /// [`Reduction::Sum`]: a sum over the groups (and, for the L1 part, over the elements).
    /// With the default `axis` = 0 and no `group_ids`, each slice along dim 0 (each example
    /// of a batch) is a group, so [`per_example`](Penalty::per_example) gives the mean per
    /// example exactly; groups that span several examples (another axis, or ids that merge
    /// slices of dim 0) have norms that grow like `√B`, which no single reduction describes.
    fn reduction(&self) -> Reduction {
        Reduction::Sum
    }

    fn forward<const D: usize>(&self, x: Tensor<D>) -> Result<Tensor<1>> {
        self.check_shape(&x)?;
        let alpha = self.l1_ratio;
        // Only the terms with a nonzero share are computed (α is 0 for plain group lasso).
        let value = if alpha == 1.0 {
            x.abs().sum()
        } else if alpha == 0.0 {
            self.group_norms(x)?
        } else {
            let l1 = x.clone().abs().sum().mul_scalar(alpha);
            self.group_norms(x)?.mul_scalar(1.0 - alpha) + l1
        };
        Ok(value.mul_scalar(self.lambda))
    }
}
