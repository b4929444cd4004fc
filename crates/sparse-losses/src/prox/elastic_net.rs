//! The proximal operator of [`ElasticNet`].

use burn::tensor::Tensor;

use super::{check_step_and_dims, soft_threshold, Prox};
use crate::{ElasticNet, Penalty, Result};

/// Soft-thresholding followed by the ridge shrinkage:
///
/// ```text
/// prox_{t·ElasticNet}(x) = S(x, tλρ) / (1 + tλ(1 − ρ))      ρ = l1_ratio
/// ```
///
/// ρ = 1 is the L1 prox, ρ = 0 a pure rescaling `x / (1 + tλ)` (no zeros but the input's).
/// Elements with `|x| <= tλρ` become exactly `+0.0`.
///
/// ```
/// use burn::prelude::*;
/// use sparse_losses::prelude::*;
///
/// let net = ElasticNetConfig::new().with_lambda(1.0).with_l1_ratio(0.5).init()?;
/// let x = Tensor::<1>::from_floats([3.5, -0.25, -1.0], &Device::flex());
/// // S(x, 0.5) / (1 + 0.5)
/// let z = net.prox(x, 1.0)?;
/// assert_eq!(z.into_data().try_into_vec::<f32>().unwrap(), [2.0, 0.0, -1.0 / 3.0]);
/// # Ok::<(), Error>(())
/// ```
impl Prox for ElasticNet {
    /// # Errors
    /// [`Error::InvalidStep`](crate::Error::InvalidStep) unless `step` is finite and `> 0`;
    /// [`Error::EmptyInput`](crate::Error::EmptyInput) for a shape without elements.
    fn check_prox(&self, dims: &[usize], step: f64) -> Result<()> {
        check_step_and_dims(self.name(), dims, step)
    }

    fn prox<const D: usize>(&self, x: Tensor<D>, step: f64) -> Result<Tensor<D>> {
        self.check_prox(&x.dims(), step)?;
        let (t_lambda, rho) = (step * self.lambda(), self.l1_ratio());
        let shrunk = if rho > 0.0 {
            soft_threshold(x, t_lambda * rho)
        } else {
            x
        };
        let ridge = 1.0 + t_lambda * (1.0 - rho);
        Ok(if ridge == 1.0 {
            shrunk
        } else {
            shrunk.div_scalar(ridge)
        })
    }
}
