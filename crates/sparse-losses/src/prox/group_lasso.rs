//! The proximal operator of [`GroupLasso`]: block soft-thresholding.

use burn::tensor::Tensor;

use super::{check_step_and_dims, soft_threshold, Prox};
use crate::{GroupLasso, Penalty, Result};

/// Block soft-thresholding, after an elementwise soft-thresholding for the sparse-group part:
///
/// ```text
/// u   = S(x, tλα)                                          α = l1_ratio
/// z_g = u_g · max(0, 1 − tλ(1 − α) w_g / ‖u_g‖₂)           for each group g (u_g = 0 gives 0)
/// ```
///
/// Groups and weights are exactly those of the penalty: the slices along `axis` (or, with
/// `group_ids`, the slices that share an id), `w_g = √p_g` with `weight_by_size`, else 1.
/// A group whose norm `‖u_g‖₂` is at most `tλ(1 − α) w_g` becomes exactly `+0.0` as a whole;
/// the others are scaled towards 0. α = 1 is the L1 prox, λ = 0 the identity.
///
/// ```
/// use burn::prelude::*;
/// use sparse_losses::prelude::*;
///
/// // One group per input row of a Linear weight [d_input, d_output]: w_g = √2.
/// let group_lasso = GroupLassoConfig::new().with_axis(0).init()?;
/// let w = Tensor::<2>::from_floats([[3.0, 4.0], [0.3, -0.4]], &Device::flex());
/// let step = 2f64.sqrt().recip(); // t λ w_g = 1
/// let z: Vec<f32> = group_lasso.prox(w, step)?.into_data().try_into_vec().unwrap();
/// // Row 0 has norm 5 and is scaled by 1 − 1/5; row 1 has norm 0.5 ≤ 1 and is removed.
/// assert!((z[0] - 2.4).abs() < 1e-6 && (z[1] - 3.2).abs() < 1e-6);
/// assert_eq!(&z[2..], [0.0, 0.0]);
/// # Ok::<(), Error>(())
/// ```
impl Prox for GroupLasso {
    /// # Errors
    /// [`Error::InvalidStep`](crate::Error::InvalidStep) unless `step` is finite and `> 0`;
    /// [`Error::EmptyInput`](crate::Error::EmptyInput) for a shape without elements;
    /// [`Error::AxisOutOfRange`](crate::Error::AxisOutOfRange) and
    /// [`Error::GroupIdsLength`](crate::Error::GroupIdsLength) as for the penalty.
    fn check_prox(&self, dims: &[usize], step: f64) -> Result<()> {
        check_step_and_dims(self.name(), dims, step)?;
        self.layout(dims).map(|_| ())
    }

    fn prox<const D: usize>(&self, x: Tensor<D>, step: f64) -> Result<Tensor<D>> {
        self.check_prox(&x.dims(), step)?;
        let layout = self.layout(&x.dims())?;
        let (t_lambda, alpha) = (step * self.lambda(), self.l1_ratio());
        let u = if alpha > 0.0 {
            soft_threshold(x, t_lambda * alpha)
        } else {
            x
        };
        let group_tau = t_lambda * (1.0 - alpha);
        if group_tau == 0.0 {
            return Ok(u);
        }
        let device = u.device();
        let slices = layout.slices(u); // [size, per_slice]
        let slice_sq = slices.clone().square().sum_dim(1); // [size, 1]
                                                           // The factor max(0, 1 − τ w_g / ‖u_g‖) of each slice, [size, 1].
        let factor = match &layout.groups {
            None => {
                let threshold = group_tau * layout.slice_weight;
                let threshold = Tensor::full([layout.size, 1], threshold, &device);
                shrink_factor(slice_sq.sqrt(), threshold)
            }
            Some(groups) => {
                let group_sq = groups.onehot(&device).matmul(slice_sq); // [n_groups, 1]
                let threshold = groups.weights(&device).mul_scalar(group_tau);
                shrink_factor(group_sq.sqrt(), threshold).select(0, groups.ids(&device))
            }
        };
        let removed = factor
            .clone()
            .equal_elem(0.0)
            .expand([layout.size, layout.per_slice]);
        let z = (slices * factor).mask_fill(removed, 0.0);
        Ok(layout.unslice(z))
    }
}

/// `max(0, 1 − threshold / norm)`, exactly 0 where `norm <= threshold` (a zero norm included,
/// since the threshold is > 0); NaN norms give NaN.
fn shrink_factor(norm: Tensor<2>, threshold: Tensor<2>) -> Tensor<2> {
    let dead = norm.clone().lower_equal(threshold.clone());
    let safe_norm = norm.mask_fill(dead.clone(), 1.0);
    (threshold / safe_norm)
        .neg()
        .add_scalar(1.0)
        .mask_fill(dead, 0.0)
}
