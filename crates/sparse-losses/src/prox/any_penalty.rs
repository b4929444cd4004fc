//! The proximal operator of a penalty chosen at run time.

use burn::tensor::Tensor;

use super::Prox;
use crate::{AnyPenalty, Error, Penalty, Result};

/// Calls `$call` with `$p` bound to the wrapped penalty when it has a prox, else returns
/// [`Error::NoProximalOperator`].
macro_rules! with_prox {
    ($self:ident, $p:ident => $call:expr) => {
        match $self {
            AnyPenalty::L1($p) => $call,
            AnyPenalty::ElasticNet($p) => $call,
            AnyPenalty::GroupLasso($p) => $call,
            AnyPenalty::Mcp($p) => $call,
            AnyPenalty::Scad($p) => $call,
            other => Err(Error::NoProximalOperator { item: other.name() }),
        }
    };
}

/// The prox of the wrapped penalty: [`L1`](crate::L1), [`ElasticNet`](crate::ElasticNet),
/// [`GroupLasso`](crate::GroupLasso), [`Mcp`](crate::Mcp) and [`Scad`](crate::Scad) have
/// one; every other penalty (Hoyer, KL, entropy, ...) gives [`Error::NoProximalOperator`],
/// from [`check_prox`](Prox::check_prox) as from [`prox`](Prox::prox).
///
/// ```
/// use burn::prelude::*;
/// use sparse_losses::prelude::*;
///
/// let x = Tensor::<1>::from_floats([2.0, -0.5], &Device::flex());
/// let l1 = PenaltyConfig::from_json("l1", &serde_json::json!({"lambda": 1.0}))?.init()?;
/// let z = l1.prox(x.clone(), 1.0)?;
/// assert_eq!(z.into_data().try_into_vec::<f32>().unwrap(), [1.0, 0.0]);
///
/// let hoyer = PenaltyConfig::default_for("hoyer")?.init()?;
/// assert_eq!(hoyer.prox(x, 1.0).unwrap_err(), Error::NoProximalOperator { item: "hoyer" });
/// # Ok::<(), Error>(())
/// ```
impl Prox for AnyPenalty {
    /// # Errors
    /// [`Error::NoProximalOperator`] for a penalty without a prox, else the wrapped
    /// penalty's errors.
    fn check_prox(&self, dims: &[usize], step: f64) -> Result<()> {
        with_prox!(self, p => p.check_prox(dims, step))
    }

    fn prox<const D: usize>(&self, x: Tensor<D>, step: f64) -> Result<Tensor<D>> {
        with_prox!(self, p => p.prox(x, step))
    }
}
