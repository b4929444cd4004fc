//! The proximal operator of [`L1`]: soft-thresholding.

use burn::tensor::Tensor;

use super::{check_step_and_dims, soft_threshold, Prox};
use crate::{Penalty, Reduction, Result, L1};

/// Soft-thresholding at `τ = tλ`:
///
/// ```text
/// reduction = sum:   prox_{t·L1}(x) = S(x, tλ)       S(x, τ) = sign(x) max(|x| − τ, 0)
/// reduction = mean:  prox_{t·L1}(x) = S(x, tλ / n)   n = number of elements of x
/// ```
///
/// With the `mean` reduction the penalty is `λ Σ|x| / n`, so its prox thresholds at `tλ/n`:
/// the threshold depends on the size of the tensor it is applied to (each parameter of a
/// [`ProxStep`](crate::ProxStep) uses its own n). Elements with `|x| <= τ` become exactly
/// `+0.0`; λ = 0 gives the identity.
///
/// ```
/// use burn::prelude::*;
/// use sparse_losses::prelude::*;
///
/// let x = Tensor::<2>::from_floats([[2.0, -0.5], [-3.0, 0.25]], &Device::flex());
/// let sum = L1Config::new().with_lambda(1.0).init()?;
/// let z = sum.prox(x.clone(), 0.5)?; // τ = 0.5
/// assert_eq!(z.into_data().try_into_vec::<f32>().unwrap(), [1.5, 0.0, -2.5, 0.0]);
///
/// let mean = L1Config::new().with_lambda(4.0).with_reduction(Reduction::Mean).init()?;
/// let z = mean.prox(x, 0.5)?; // τ = 0.5 · 4 / 4 elements = 0.5
/// assert_eq!(z.into_data().try_into_vec::<f32>().unwrap(), [1.5, 0.0, -2.5, 0.0]);
/// # Ok::<(), Error>(())
/// ```
impl Prox for L1 {
    /// # Errors
    /// [`Error::InvalidStep`](crate::Error::InvalidStep) unless `step` is finite and `> 0`;
    /// [`Error::EmptyInput`](crate::Error::EmptyInput) for a shape without elements.
    fn check_prox(&self, dims: &[usize], step: f64) -> Result<()> {
        check_step_and_dims(self.name(), dims, step)
    }

    fn prox<const D: usize>(&self, x: Tensor<D>, step: f64) -> Result<Tensor<D>> {
        let dims = x.dims();
        self.check_prox(&dims, step)?;
        let tau = match self.reduction() {
            Reduction::Mean => step * self.lambda() / dims.iter().product::<usize>() as f64,
            // `L1Config::init` admits only `sum` and `mean`.
            _ => step * self.lambda(),
        };
        Ok(soft_threshold(x, tau))
    }
}
