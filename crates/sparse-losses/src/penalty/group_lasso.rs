//! Group lasso and sparse-group lasso.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::fused::{fused_penalty, Kernel};
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
    /// One line on what the penalty is, for help texts ([`PenaltyConfig::summary`](crate::PenaltyConfig::summary)).
    pub const SUMMARY: &'static str = "λ Σ_g √|g| ‖x_g‖₂ over the rows or columns (axis): removes whole groups";

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
/// Range in float32: on Flex and NdArray (the op chain) value and gradient are finite and
/// exact at every scale: each group's norm is taken in units of its largest |x|, so the
/// squares neither overflow nor underflow. The wgpu and CUDA kernels sum the squares as they
/// are: a group's term is exact while its `Σ x²` is a normal float32 (entries between about
/// 1e-19 and 1e19); beyond, its value is +∞ and its gradient 0, and below, both are 0.
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

    /// Whether each group's norm is weighted by `√p_g` (`weight_by_size`).
    pub fn weight_by_size(&self) -> bool {
        self.weight_by_size
    }

    /// The sum of the (weighted) group norms, `Σ_g w_g ‖x_g‖₂`, without λ or the L1 part.
    /// Useful for reporting which groups are alive.
    ///
    /// # Errors
    /// As [`forward`](Penalty::forward).
    pub fn group_norms<const D: usize>(&self, x: Tensor<D>) -> Result<Tensor<1>> {
        check_nonempty(&x, NAME)?;
        let layout = self.layout(&x.dims())?;
        let device = x.device();
        // Each group's norm is taken in units of its largest |x| (detached: the norm is
        // homogeneous, so value and gradient are unchanged), as the Flex kernel does, so that
        // the squares neither overflow (|x| > 1.8e19) nor underflow (|x| < 1e-19).
        let nonzero = |m: Tensor<2>| m.clone().mask_fill(m.equal_elem(0.0), 1.0);
        let slices = layout.slices(x); // [size, per_slice]
        let slice_max = slices.clone().abs().max_dim(1).detach(); // [size, 1]
        Ok(match &layout.groups {
            None => {
                let scale = nonzero(slice_max);
                let sq = (slices / scale.clone()).square().sum_dim(1);
                (safe_sqrt(sq) * scale).sum().mul_scalar(layout.slice_weight)
            }
            Some(groups) => {
                let onehot = groups.onehot(&device); // [n_groups, size]
                let outside = onehot.clone().equal_elem(0.0);
                let group_max = slice_max
                    .transpose()
                    .expand(onehot.dims())
                    .mask_fill(outside, 0.0)
                    .max_dim(1); // [n_groups, 1]
                let group_max = nonzero(group_max);
                let scale = group_max.clone().select(0, groups.ids(&device)); // [size, 1]
                let sq = (slices / scale).square().sum_dim(1);
                let group_sq = onehot.matmul(sq); // [n_groups, 1]
                (safe_sqrt(group_sq) * group_max * groups.weights(&device)).sum()
            }
        })
    }

    /// Resolves the axis, checks the shape `dims` against it and the group ids, and says how
    /// an input of that shape is grouped. Shared by the penalty and its proximal operator.
    pub(crate) fn layout(&self, dims: &[usize]) -> Result<GroupLayout> {
        let rank = dims.len();
        let ax = if self.axis < 0 {
            self.axis + rank as i64
        } else {
            self.axis
        };
        if ax < 0 || ax >= rank as i64 {
            return Err(Error::AxisOutOfRange {
                item: NAME,
                axis: self.axis,
                rank,
            });
        }
        let axis = ax as usize;
        let size = dims[axis];
        let per_slice = dims.iter().product::<usize>() / size.max(1);
        let weight = |elements: usize| {
            if self.weight_by_size {
                (elements as f64).sqrt()
            } else {
                1.0
            }
        };
        let groups = match &self.groups {
            None => None,
            Some(groups) if groups.dense.len() != size => {
                return Err(Error::GroupIdsLength {
                    axis,
                    expected: size,
                    got: groups.dense.len(),
                    shape: dims.to_vec(),
                })
            }
            Some(groups) => Some(SliceGroups {
                dense: groups.dense.clone(),
                weights: groups.counts.iter().map(|&c| weight(c * per_slice)).collect(),
            }),
        };
        Ok(GroupLayout {
            axis,
            dims: dims.to_vec(),
            size,
            per_slice,
            slice_weight: weight(per_slice),
            groups,
        })
    }
}

/// How [`GroupLasso`] groups an input of a given shape: the input is seen as a matrix
/// `[size, per_slice]` whose row `i` is the slice at index `i` of the axis, and each group is
/// one slice or, with `group_ids`, the slices that share an id.
#[derive(Debug, Clone)]
pub(crate) struct GroupLayout {
    /// The resolved (non-negative) axis.
    pub(crate) axis: usize,
    /// The input's shape.
    pub(crate) dims: Vec<usize>,
    /// The size of the axis: the number of slices.
    pub(crate) size: usize,
    /// Elements per slice.
    pub(crate) per_slice: usize,
    /// `w_g` of a group made of one slice (`√per_slice` or 1).
    pub(crate) slice_weight: f64,
    /// With `group_ids`: the dense group of each slice and `w_g` of each group.
    pub(crate) groups: Option<SliceGroups>,
}

/// Explicit groups of slices, for one input shape.
#[derive(Debug, Clone)]
pub(crate) struct SliceGroups {
    /// The dense group (`0..n_groups`) of each slice.
    pub(crate) dense: Vec<usize>,
    /// `w_g` of each dense group.
    pub(crate) weights: Vec<f64>,
}

impl GroupLayout {
    /// This layout as a fused [`Kernel`]: every slice its own group of weight
    /// `slice_weight`, or the explicit groups.
    fn kernel(&self, lambda: f64, l1_ratio: f64) -> Kernel {
        let (group_of, weights): (Vec<usize>, Vec<f64>) = match &self.groups {
            None => ((0..self.size).collect(), vec![self.slice_weight; self.size]),
            Some(groups) => (groups.dense.clone(), groups.weights.clone()),
        };
        Kernel::GroupLasso {
            lambda,
            l1_ratio,
            axis: self.axis,
            group_of: group_of.into(),
            weights: weights.into(),
        }
    }

    /// `x` as the matrix of its slices, `[size, per_slice]`.
    pub(crate) fn slices<const D: usize>(&self, x: Tensor<D>) -> Tensor<2> {
        let moved = if self.axis == 0 {
            x
        } else {
            x.swap_dims(0, self.axis)
        };
        moved.reshape([self.size, self.per_slice])
    }

    /// The inverse of [`slices`](Self::slices): a `[size, per_slice]` matrix back to the
    /// input's shape.
    pub(crate) fn unslice<const D: usize>(&self, m: Tensor<2>) -> Tensor<D> {
        let mut moved: [usize; D] = self
            .dims
            .clone()
            .try_into()
            .expect("the layout was made for rank D");
        moved.swap(0, self.axis);
        let moved = m.reshape(moved);
        if self.axis == 0 {
            moved
        } else {
            moved.swap_dims(0, self.axis)
        }
    }
}

impl SliceGroups {
    /// The `[n_groups, size]` 0/1 matrix whose row g marks the slices of group g.
    pub(crate) fn onehot(&self, device: &Device) -> Tensor<2> {
        let (n_groups, size) = (self.weights.len(), self.dense.len());
        let mut onehot = vec![0f32; n_groups * size];
        for (i, &g) in self.dense.iter().enumerate() {
            onehot[g * size + i] = 1.0;
        }
        Tensor::from_data(TensorData::new(onehot, [n_groups, size]), device)
    }

    /// `w_g` of each group, `[n_groups, 1]`.
    pub(crate) fn weights(&self, device: &Device) -> Tensor<2> {
        let weights: Vec<f32> = self.weights.iter().map(|&w| w as f32).collect();
        Tensor::from_data(TensorData::new(weights, [self.weights.len(), 1]), device)
    }

    /// The dense group of each slice, `[size]`, for `select`.
    pub(crate) fn ids(&self, device: &Device) -> Tensor<1, Int> {
        let ids: Vec<i64> = self.dense.iter().map(|&g| g as i64).collect();
        Tensor::from_data(TensorData::new(ids, [self.dense.len()]), device)
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
        check_nonempty(&x, NAME)?;
        let layout = self.layout(&x.dims())?;
        if let Some(value) = fused_penalty(&x, layout.kernel(self.lambda, self.l1_ratio)) {
            return Ok(value);
        }
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
