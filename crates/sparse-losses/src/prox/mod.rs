//! Proximal operators of the penalties: the [`Prox`] trait, one file per penalty that has a
//! closed-form prox ([`L1`](crate::L1), [`ElasticNet`](crate::ElasticNet),
//! [`GroupLasso`](crate::GroupLasso), [`Mcp`](crate::Mcp), [`Scad`](crate::Scad)), the run-time
//! dispatch for [`AnyPenalty`](crate::AnyPenalty), [`soft_threshold`], and [`ProxStep`], which
//! applies a prox to the parameters of a model after an optimizer step (proximal gradient).
//!
//! ```text
//! prox_{t·P}(x) = argmin_z  ½ ‖z − x‖²  +  t · P(z)        (step t > 0)
//! ```
//!
//! A gradient step on the penalty only pushes weights towards 0 and leaves them oscillating
//! around it; a proximal step puts them at exactly 0. Elements the prox sets to 0 are exactly
//! `+0.0` (mask fills, never arithmetic that leaves `−0.0` or a `1e-9` residue).

use burn::tensor::Tensor;

use crate::{Error, Penalty, Result};

mod any_penalty;
mod elastic_net;
mod group_lasso;
mod l1;
mod mcp;
mod prox_step;
mod scad;
mod soft_threshold;

pub use prox_step::*;
pub use soft_threshold::*;

/// A penalty with a proximal operator: `prox_{t·P}(x) = argmin_z ½‖z − x‖² + t·P(z)`.
///
/// The prox is a plain tensor function for proximal-gradient methods (ISTA, FISTA, or an
/// optimizer step followed by [`ProxStep`]): it is meant to run **outside the autodiff graph**.
/// It is built from ordinary Burn tensor ops, so it runs on any backend and, given an autodiff
/// tensor, returns one, but its derivative is not what a prox step needs and nothing in this
/// crate differentiates through it. [`ProxStep`] strips autodiff from the parameters it
/// updates and puts it back afterwards, as Burn's optimizers do.
///
/// Every check runs before any computation ([`check_prox`](Self::check_prox)); the result
/// has the input's shape, and elements the prox zeroes are exactly `+0.0`.
///
/// ```
/// use burn::prelude::*;
/// use sparse_losses::prelude::*;
///
/// let l1 = L1Config::new().with_lambda(2.0).init()?;
/// let x = Tensor::<1>::from_floats([3.0, -0.5, -1.5], &Device::flex());
/// // Soft-thresholding at t·λ = 0.5 · 2 = 1.
/// let z = l1.prox(x, 0.5)?;
/// assert_eq!(z.into_data().try_into_vec::<f32>().unwrap(), [2.0, 0.0, -0.5]);
/// # Ok::<(), Error>(())
/// ```
pub trait Prox: Penalty {
    /// Checks, without computing anything, that [`prox`](Self::prox) with step `step` accepts
    /// a tensor of shape `dims`.
    ///
    /// # Errors
    /// [`Error::InvalidStep`] for a step that is not finite and `> 0` or outside the
    /// operator's domain; [`Error::EmptyInput`] for a shape with no elements; the penalty's
    /// own shape errors ([`GroupLasso`](crate::GroupLasso): axis, group ids);
    /// [`Error::NoProximalOperator`] for an [`AnyPenalty`](crate::AnyPenalty) without a prox.
    fn check_prox(&self, dims: &[usize], step: f64) -> Result<()>;

    /// `prox_{t·P}(x)` for the step `t = step`, elementwise except for the group lasso.
    ///
    /// # Errors
    /// As [`check_prox`](Self::check_prox), checked before any computation.
    fn prox<const D: usize>(&self, x: Tensor<D>, step: f64) -> Result<Tensor<D>>;
}

/// The checks every prox shares: a finite step `> 0` and an input with elements.
pub(crate) fn check_step_and_dims(item: &'static str, dims: &[usize], step: f64) -> Result<()> {
    if !(step.is_finite() && step > 0.0) {
        return Err(Error::InvalidStep {
            item,
            step,
            expected: "a finite number > 0".to_string(),
        });
    }
    if dims.iter().product::<usize>() == 0 {
        return Err(Error::EmptyInput {
            item,
            shape: dims.to_vec(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use burn::prelude::*;

    use super::Prox;
    use crate::{
        ElasticNetConfig, Error, GroupLassoConfig, L1Config, McpConfig, PenaltyConfig, ScadConfig,
    };

    fn x() -> Tensor<1> {
        Tensor::from_floats([-2.0, 0.5, 3.0], &Device::flex())
    }

    fn invalid_step<P: Prox>(p: &P, step: f64) -> Option<String> {
        match p.prox(x(), step) {
            Err(Error::InvalidStep {
                item,
                step: got,
                expected,
            }) if item == p.name() && got.to_bits() == step.to_bits() => Some(expected),
            _ => None,
        }
    }

    #[test]
    fn every_prox_refuses_steps_that_are_not_finite_and_positive() {
        let l1 = L1Config::new().init().unwrap();
        let net = ElasticNetConfig::new().init().unwrap();
        let group = GroupLassoConfig::new().init().unwrap();
        let mcp = McpConfig::new().init().unwrap();
        let scad = ScadConfig::new().init().unwrap();
        for step in [0.0, -0.5, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let expected = "a finite number > 0";
            assert_eq!(invalid_step(&l1, step).as_deref(), Some(expected));
            assert_eq!(invalid_step(&net, step).as_deref(), Some(expected));
            assert_eq!(invalid_step(&group, step).as_deref(), Some(expected));
            assert_eq!(invalid_step(&mcp, step).as_deref(), Some(expected));
            assert_eq!(invalid_step(&scad, step).as_deref(), Some(expected));
        }
    }

    #[test]
    fn mcp_needs_gamma_above_the_step_and_scad_a_above_one_plus_the_step() {
        // McpConfig's γ = 3, ScadConfig's a = 3.7.
        let mcp = McpConfig::new().init().unwrap();
        assert!(invalid_step(&mcp, 3.0).unwrap().contains("gamma = 3"));
        assert!(invalid_step(&mcp, 10.0).is_some());
        let z = mcp.prox(x(), 2.9).unwrap().into_data();
        // tλ = 2.9 zeroes |x| ≤ 2.9; 3 = γλ is in the firm band: (3 − 2.9)/(1 − 2.9/3).
        let z: Vec<f32> = z.try_into_vec().unwrap();
        assert_eq!(&z[..2], [0.0, 0.0]);
        assert!((z[2] - 3.0).abs() < 1e-4, "{z:?}");

        let scad = ScadConfig::new().init().unwrap();
        assert!(invalid_step(&scad, 2.7).is_some());
        assert!(invalid_step(&scad, 5.0).is_some());
        let z: Vec<f32> = scad
            .prox(x(), 2.6)
            .unwrap()
            .into_data()
            .try_into_vec()
            .unwrap();
        // λ(1 + t) = 3.6: soft-thresholding at 2.6 for every element.
        assert_eq!(z, [0.0, 0.0, 3.0 - 2.6]);
    }

    #[test]
    fn shape_errors_come_before_any_computation() {
        let l1 = L1Config::new().init().unwrap();
        let empty = Tensor::<2>::zeros([0, 3], &Device::flex());
        assert_eq!(
            l1.prox(empty, 1.0).unwrap_err(),
            Error::EmptyInput {
                item: "l1",
                shape: vec![0, 3]
            }
        );
        let by_ids = GroupLassoConfig::new()
            .with_group_ids(Some(vec![0, 1]))
            .init()
            .unwrap();
        assert!(matches!(
            by_ids.prox(x(), 1.0),
            Err(Error::GroupIdsLength {
                expected: 3,
                got: 2,
                ..
            })
        ));
        assert_eq!(by_ids.check_prox(&[2, 5], 1.0), Ok(()));
    }

    #[test]
    fn penalties_without_a_prox_say_so() {
        let with_prox = ["l1", "elastic_net", "group_lasso", "mcp", "scad"];
        for name in PenaltyConfig::NAMES {
            let penalty = PenaltyConfig::default_for(name).unwrap().init().unwrap();
            let result = penalty.prox(x(), 0.5);
            if with_prox.contains(&name) {
                assert!(result.is_ok(), "{name}: {result:?}");
            } else {
                assert_eq!(
                    result.unwrap_err(),
                    Error::NoProximalOperator { item: name },
                    "{name}"
                );
                assert!(penalty.check_prox(&[3], 0.5).is_err());
            }
        }
    }

    #[test]
    fn sparse_group_lasso_with_explicit_groups_by_hand() {
        // Groups {rows 0, 2} and {row 1} of a [3, 2] input, weights √4 = 2 and √2.
        let penalty = GroupLassoConfig::new()
            .with_lambda(1.0)
            .with_l1_ratio(0.5)
            .with_group_ids(Some(vec![7, 3, 7]))
            .init()
            .unwrap();
        let x = Tensor::<2>::from_floats([[3.5, -0.5], [1.0, -1.0], [0.5, 2.5]], &Device::flex());
        let z: Vec<f32> = penalty
            .prox(x, 0.5)
            .unwrap()
            .into_data()
            .try_into_vec()
            .unwrap();
        // u = S(x, 0.25); group {0, 2}: u = (3.25, −0.25, 0.25, 2.25), ‖u‖ = √15.75,
        // factor 1 − 0.25·2/‖u‖; group {1}: ‖(0.75, −0.75)‖ = 1.06 > 0.25·√2 = 0.354.
        let norm = 15.75f32.sqrt();
        let f0 = 1.0 - 0.5 / norm;
        let f1 = 1.0 - 0.25 * 2f32.sqrt() / (0.75f32 * 2f32.sqrt());
        let want = [
            3.25 * f0,
            -0.25 * f0,
            0.75 * f1,
            -0.75 * f1,
            0.25 * f0,
            2.25 * f0,
        ];
        for (g, w) in z.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{z:?} != {want:?}");
        }
    }
}
