//! The proximal operator of [`Mcp`]: firm thresholding.

use burn::tensor::Tensor;

use super::{check_step_and_dims, Prox};
use crate::{Error, Mcp, Penalty, Result};

/// Firm thresholding (Gao & Bruce 1997), the prox of the minimax concave penalty:
///
/// ```text
///                       0                              if |x| ≤ tλ
/// prox_{t·Mcp}(x)  =    sign(x) (|x| − tλ) / (1 − t/γ)   if tλ < |x| ≤ γλ
///                       x                              if |x| > γλ
/// ```
///
/// Domain: `t < γ` (the objective `½(z − x)² + t·Mcp(z)` is then strictly convex, so the prox
/// is unique). Small elements become exactly `+0.0`, large ones are left unbiased, and the
/// band between is stretched back so the map is continuous. λ = 0 gives the identity.
///
/// ```
/// use burn::prelude::*;
/// use sparse_losses::prelude::*;
///
/// let mcp = McpConfig::new().with_lambda(1.0).with_gamma(2.0).init()?;
/// let x = Tensor::<1>::from_floats([0.25, 1.25, -3.0, 0.5], &Device::flex());
/// // t = 0.5: zero up to tλ = 0.5, unchanged beyond γλ = 2, (|x| − 0.5) / 0.75 between.
/// let z: Vec<f32> = mcp.prox(x.clone(), 0.5)?.into_data().try_into_vec().unwrap();
/// assert_eq!([z[0], z[2], z[3]], [0.0, -3.0, 0.0]);
/// assert!((z[1] - 1.0).abs() < 1e-6);
///
/// // γ must exceed the step.
/// assert!(matches!(mcp.prox(x, 2.0), Err(Error::InvalidStep { item: "mcp", .. })));
/// # Ok::<(), Error>(())
/// ```
impl Prox for Mcp {
    /// # Errors
    /// [`Error::InvalidStep`] unless `step` is finite, `> 0` and `< γ`;
    /// [`Error::EmptyInput`] for a shape without elements.
    fn check_prox(&self, dims: &[usize], step: f64) -> Result<()> {
        check_step_and_dims(self.name(), dims, step)?;
        if step < self.gamma() {
            Ok(())
        } else {
            Err(Error::InvalidStep {
                item: self.name(),
                step,
                expected: format!(
                    "t < gamma = {} (firm thresholding needs gamma > t)",
                    self.gamma()
                ),
            })
        }
    }

    fn prox<const D: usize>(&self, x: Tensor<D>, step: f64) -> Result<Tensor<D>> {
        self.check_prox(&x.dims(), step)?;
        let (lambda, gamma) = (self.lambda(), self.gamma());
        let abs = x.clone().abs();
        let zero = abs.clone().lower_equal_elem(step * lambda);
        let unchanged = abs.greater_elem(gamma * lambda);
        let firm =
            (x.clone() - x.clone().sign().mul_scalar(step * lambda)).div_scalar(1.0 - step / gamma);
        Ok(firm.mask_where(unchanged, x).mask_fill(zero, 0.0))
    }
}
