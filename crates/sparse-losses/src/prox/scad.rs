//! The proximal operator of [`Scad`].

use burn::tensor::Tensor;

use super::{check_step_and_dims, soft_threshold, Prox};
use crate::{Error, Penalty, Result, Scad};

/// The SCAD thresholding rule (Fan & Li 2001), for a step t:
///
/// ```text
///                        S(x, tλ)                                 if |x| ≤ λ(1 + t)
/// prox_{t·Scad}(x)  =    ((a − 1) x − sign(x) t a λ) / (a − 1 − t)   if λ(1 + t) < |x| ≤ aλ
///                        x                                        if |x| > aλ
/// ```
///
/// with a = `gamma`. Domain: `a > 1 + t`, i.e. `t < a − 1` (the objective is then strictly
/// convex). Elements with `|x| <= tλ` become exactly `+0.0`; beyond `aλ` the input is kept.
/// With t = 1 this is the rule of Fan & Li. λ = 0 gives the identity.
///
/// ```
/// use burn::prelude::*;
/// use sparse_losses::prelude::*;
///
/// let scad = ScadConfig::new().with_lambda(1.0).with_gamma(3.7).init()?;
/// let x = Tensor::<1>::from_floats([0.5, 1.5, 3.0, -5.0], &Device::flex());
/// // t = 1: soft-thresholding up to 2, (2.7 x − 3.7) / 1.7 up to 3.7, the identity beyond.
/// let z: Vec<f32> = scad.prox(x.clone(), 1.0)?.into_data().try_into_vec().unwrap();
/// assert_eq!([z[0], z[1], z[3]], [0.0, 0.5, -5.0]);
/// assert!((z[2] - 4.4 / 1.7).abs() < 1e-6);
///
/// // a must exceed 1 + t.
/// assert!(matches!(scad.prox(x, 3.0), Err(Error::InvalidStep { item: "scad", .. })));
/// # Ok::<(), Error>(())
/// ```
impl Prox for Scad {
    /// # Errors
    /// [`Error::InvalidStep`] unless `step` is finite, `> 0` and `< a − 1`;
    /// [`Error::EmptyInput`] for a shape without elements.
    fn check_prox(&self, dims: &[usize], step: f64) -> Result<()> {
        check_step_and_dims(self.name(), dims, step)?;
        let a = self.gamma();
        if 1.0 + step < a {
            Ok(())
        } else {
            Err(Error::InvalidStep {
                item: self.name(),
                step,
                expected: format!(
                    "t < gamma - 1 = {} (the SCAD prox needs gamma > 1 + t)",
                    a - 1.0
                ),
            })
        }
    }

    fn prox<const D: usize>(&self, x: Tensor<D>, step: f64) -> Result<Tensor<D>> {
        self.check_prox(&x.dims(), step)?;
        let (lambda, a) = (self.lambda(), self.gamma());
        let abs = x.clone().abs();
        let soft = abs.clone().lower_equal_elem(lambda * (1.0 + step));
        let unchanged = abs.greater_elem(a * lambda);
        let middle = (x.clone().mul_scalar(a - 1.0)
            - x.clone().sign().mul_scalar(step * a * lambda))
        .div_scalar(a - 1.0 - step);
        Ok(middle
            .mask_where(soft, soft_threshold(x.clone(), step * lambda))
            .mask_where(unchanged, x))
    }
}
