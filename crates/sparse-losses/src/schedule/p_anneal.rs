//! Annealing the exponent of the [`Lp`] penalty.

use burn::config::Config;

use crate::util::require;
use crate::{Lp, Result};

/// The serde name of this schedule.
const NAME: &str = "p_anneal";

/// Configuration of a [`PAnneal`] schedule. Serde names: `p_start`, `p_end`, `start_step`,
/// `steps`.
#[derive(Config, Debug)]
pub struct PAnnealConfig {
    /// p before and at `start_step`; in `(0, 2]`. Default 1.0 (a smoothed L1).
    #[config(default = 1.0)]
    pub p_start: f64,
    /// p after the anneal; in `(0, 2]`. Default 0.5.
    #[config(default = 0.5)]
    pub p_end: f64,
    /// The 0-based optimizer step at which the anneal starts. Default 0.
    #[config(default = 0)]
    pub start_step: usize,
    /// The number of steps over which p moves linearly from `p_start` to `p_end`; 0 jumps to
    /// `p_end` at `start_step`.
    pub steps: usize,
}

impl PAnnealConfig {
    /// Validates the config and builds the schedule.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`](crate::Error::InvalidHyperParameter) when `p_start`
    /// or `p_end` is outside `(0, 2]` (or NaN), the domain of [`Lp`]'s p.
    pub fn init(&self) -> Result<PAnneal> {
        for (field, p) in [("p_start", self.p_start), ("p_end", self.p_end)] {
            require(p > 0.0 && p <= 2.0, NAME, field, p, "a number in (0, 2]")?;
        }
        Ok(PAnneal {
            p_start: self.p_start,
            p_end: self.p_end,
            start_step: self.start_step,
            steps: self.steps,
        })
    }
}

/// A linear anneal of the exponent p of the [`Lp`] penalty (Karvonen et al. 2024, "Measuring
/// progress in dictionary learning for language model interpretability with board game
/// models"): train with p = 1 first, then lower p towards a sparser, non-convex penalty.
///
/// ```text
/// p(step) = p_start                                                  step ≤ start_step
///           p_start + (p_end − p_start) (step − start_step) / steps  during the anneal
///           p_end                                                    step ≥ start_step + steps
/// ```
///
/// ```
/// use sparse_losses::prelude::*;
///
/// let anneal = PAnnealConfig::new(100).with_start_step(50).init()?;
/// assert_eq!(anneal.p(0), 1.0);
/// assert_eq!(anneal.p(100), 0.75);
/// assert_eq!(anneal.p(1000), 0.5);
/// let lp = LpConfig::new().init()?;
/// assert_eq!(anneal.apply(&lp, 100)?.p(), 0.75);
/// # Ok::<(), Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PAnneal {
    p_start: f64,
    p_end: f64,
    start_step: usize,
    steps: usize,
}

impl PAnneal {
    /// p at the 0-based optimizer step `step`; always in `(0, 2]`, between `p_start` and
    /// `p_end`.
    pub fn p(&self, step: usize) -> f64 {
        let Some(elapsed) = step.checked_sub(self.start_step) else {
            return self.p_start;
        };
        if elapsed >= self.steps {
            return self.p_end;
        }
        let t = elapsed as f64 / self.steps as f64;
        self.p_start + (self.p_end - self.p_start) * t
    }

    /// `lp` with the exponent of step `step` (λ and ε unchanged).
    ///
    /// # Errors
    /// Those of [`Lp::with_p`]; none in practice, since `init` checked both ends of the
    /// anneal and p stays between them.
    pub fn apply(&self, lp: &Lp, step: usize) -> Result<Lp> {
        lp.with_p(self.p(step))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Error, LpConfig};

    #[test]
    fn holds_then_moves_linearly_then_holds() {
        let a = PAnnealConfig::new(4)
            .with_p_start(1.0)
            .with_p_end(0.5)
            .with_start_step(2)
            .init()
            .unwrap();
        let got: Vec<f64> = (0..9).map(|s| a.p(s)).collect();
        assert_eq!(got, [1.0, 1.0, 1.0, 0.875, 0.75, 0.625, 0.5, 0.5, 0.5]);
        assert_eq!(a.p(usize::MAX), 0.5);
    }

    #[test]
    fn defaults_anneal_from_one_to_a_half_from_step_zero() {
        let a = PAnnealConfig::new(10).init().unwrap();
        assert_eq!(a.p(0), 1.0);
        assert_eq!(a.p(5), 0.75);
        assert_eq!(a.p(10), 0.5);
    }

    #[test]
    fn zero_steps_jump_at_the_start_step() {
        let a = PAnnealConfig::new(0).with_start_step(3).init().unwrap();
        assert_eq!([a.p(2), a.p(3), a.p(4)], [1.0, 0.5, 0.5]);
    }

    #[test]
    fn can_anneal_upwards() {
        let a = PAnnealConfig::new(2)
            .with_p_start(0.5)
            .with_p_end(2.0)
            .init()
            .unwrap();
        assert_eq!([a.p(0), a.p(1), a.p(2)], [0.5, 1.25, 2.0]);
    }

    #[test]
    fn apply_changes_only_p() {
        let lp = LpConfig::new()
            .with_lambda(0.25)
            .with_eps(0.125)
            .init()
            .unwrap();
        let a = PAnnealConfig::new(4).init().unwrap();
        let annealed = a.apply(&lp, 2).unwrap();
        assert_eq!(
            (annealed.p(), annealed.lambda(), annealed.eps()),
            (0.75, 0.25, 0.125)
        );
        assert_eq!(lp.p(), 0.5, "the original is unchanged");
    }

    #[test]
    fn p_outside_zero_two_is_refused() {
        for (start, end, field) in [
            (0.0, 0.5, "p_start"),
            (2.5, 0.5, "p_start"),
            (f64::NAN, 0.5, "p_start"),
            (1.0, 0.0, "p_end"),
            (1.0, -1.0, "p_end"),
            (1.0, f64::INFINITY, "p_end"),
        ] {
            let err = PAnnealConfig::new(10)
                .with_p_start(start)
                .with_p_end(end)
                .init()
                .unwrap_err();
            assert!(
                matches!(err, Error::InvalidHyperParameter { item: "p_anneal", field: f, .. } if f == field),
                "{start} {end}: {err:?}"
            );
        }
        assert!(PAnnealConfig::new(10)
            .with_p_start(2.0)
            .with_p_end(1e-3)
            .init()
            .is_ok());
    }
}
