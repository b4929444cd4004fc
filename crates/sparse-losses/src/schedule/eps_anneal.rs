//! Annealing the scale ε of the [`LogSum`] penalty.

use burn::config::Config;

use crate::util::positive;
use crate::{LogSum, Result};

/// The serde name of this schedule.
const NAME: &str = "eps_anneal";

/// Configuration of an [`EpsAnneal`] schedule. Serde names: `eps_start`, `eps_end`,
/// `start_step`, `steps`.
#[derive(Config, Debug)]
pub struct EpsAnnealConfig {
    /// ε before and at `start_step`; finite and `> 0`. Default 1.0 (`λ log(1 + |x|)`: L1 with
    /// weight λ on codes well below 1).
    #[config(default = 1.0)]
    pub eps_start: f64,
    /// ε after the anneal; finite and `> 0`. Default 0.1 (the [`LogSum`] default).
    #[config(default = 0.1)]
    pub eps_end: f64,
    /// The 0-based optimizer step at which the anneal starts. Default 0.
    #[config(default = 0)]
    pub start_step: usize,
    /// The number of steps over which ε moves geometrically from `eps_start` to `eps_end`;
    /// 0 jumps to `eps_end` at `start_step`.
    pub steps: usize,
}

impl EpsAnnealConfig {
    /// Validates the config and builds the schedule.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`](crate::Error::InvalidHyperParameter) when `eps_start`
    /// or `eps_end` is not a finite number `> 0`, the domain of [`LogSum`]'s ε.
    pub fn init(&self) -> Result<EpsAnneal> {
        positive(NAME, "eps_start", self.eps_start)?;
        positive(NAME, "eps_end", self.eps_end)?;
        Ok(EpsAnneal {
            eps_start: self.eps_start,
            eps_end: self.eps_end,
            start_step: self.start_step,
            steps: self.steps,
        })
    }
}

/// A geometric anneal of the scale ε of the [`LogSum`] penalty `λ Σ log(1 + |x|/ε)`: the
/// log-sum counterpart of [`PAnneal`](crate::PAnneal). Near zero the penalty's slope is λ/ε,
/// so a large ε first trains a mild, nearly-L1 penalty; lowering ε then makes it steeper at
/// zero and flatter for large codes (Candès, Wakin & Boyd's continuation in ε for reweighted
/// L1).
///
/// ```text
/// ε(step) = ε_start                                                   step ≤ start_step
///           ε_start (ε_end / ε_start)^((step − start_step) / steps)   during the anneal
///           ε_end                                                     step ≥ start_step + steps
/// ```
///
/// ```
/// use sparse_losses::prelude::*;
///
/// let anneal = EpsAnnealConfig::new(100).with_start_step(50).init()?;
/// assert_eq!(anneal.eps(0), 1.0);
/// assert!((anneal.eps(100) - 0.1f64.sqrt()).abs() < 1e-12);
/// assert_eq!(anneal.eps(1000), 0.1);
/// let log_sum = LogSumConfig::new().init()?;
/// assert_eq!(anneal.apply(&log_sum, 0)?.eps(), 1.0);
/// # Ok::<(), Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpsAnneal {
    eps_start: f64,
    eps_end: f64,
    start_step: usize,
    steps: usize,
}

impl EpsAnneal {
    /// ε at the 0-based optimizer step `step`; always between `eps_start` and `eps_end`.
    pub fn eps(&self, step: usize) -> f64 {
        let Some(elapsed) = step.checked_sub(self.start_step) else {
            return self.eps_start;
        };
        if elapsed >= self.steps {
            return self.eps_end;
        }
        let t = elapsed as f64 / self.steps as f64;
        self.eps_start * (self.eps_end / self.eps_start).powf(t)
    }

    /// `log_sum` with the scale of step `step` (λ unchanged).
    ///
    /// # Errors
    /// Those of [`LogSum::with_eps`]; none in practice, since `init` checked both ends of the
    /// anneal and ε stays between them.
    pub fn apply(&self, log_sum: &LogSum, step: usize) -> Result<LogSum> {
        log_sum.with_eps(self.eps(step))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Error, LogSumConfig};

    #[test]
    fn holds_then_moves_geometrically_then_holds() {
        let a = EpsAnnealConfig::new(2)
            .with_eps_start(1.0)
            .with_eps_end(0.01)
            .with_start_step(1)
            .init()
            .unwrap();
        let got: Vec<f64> = (0..6).map(|s| a.eps(s)).collect();
        let want = [1.0, 1.0, 0.1, 0.01, 0.01, 0.01];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-15, "{got:?}");
        }
        assert_eq!(a.eps(usize::MAX), 0.01);
    }

    #[test]
    fn defaults_anneal_from_one_to_the_log_sum_default() {
        let a = EpsAnnealConfig::new(10).init().unwrap();
        assert_eq!(a.eps(0), 1.0);
        assert_eq!(a.eps(10), LogSumConfig::new().eps);
    }

    #[test]
    fn zero_steps_jump_at_the_start_step() {
        let a = EpsAnnealConfig::new(0).with_start_step(3).init().unwrap();
        assert_eq!([a.eps(2), a.eps(3), a.eps(4)], [1.0, 0.1, 0.1]);
    }

    #[test]
    fn apply_changes_only_eps() {
        let log_sum = LogSumConfig::new().with_lambda(0.3).init().unwrap();
        let a = EpsAnnealConfig::new(4).init().unwrap();
        let at = a.apply(&log_sum, 4).unwrap();
        assert_eq!((at.lambda(), at.eps()), (0.3, 0.1));
        assert_eq!(a.apply(&log_sum, 0).unwrap().eps(), 1.0);
    }

    #[test]
    fn refuses_a_scale_outside_the_domain() {
        for (start, end) in [
            (0.0, 0.1),
            (1.0, -0.1),
            (f64::NAN, 0.1),
            (1.0, f64::INFINITY),
        ] {
            let err = EpsAnnealConfig::new(10)
                .with_eps_start(start)
                .with_eps_end(end)
                .init()
                .unwrap_err();
            assert!(matches!(err, Error::InvalidHyperParameter { .. }), "{err}");
        }
        let log_sum = LogSumConfig::new().init().unwrap();
        assert!(log_sum.with_eps(0.0).is_err());
    }
}
