//! Linear warm-up of a penalty's coefficient.

use burn::config::Config;

use crate::Result;

/// Configuration of a [`LinearWarmup`]. Serde name: `steps`.
#[derive(Config, Debug)]
pub struct LinearWarmupConfig {
    /// The number of optimizer steps over which the factor grows from `1/steps` to 1; 0 means
    /// no warm-up (the factor is always 1).
    pub steps: usize,
}

impl LinearWarmupConfig {
    /// Builds the schedule. Every `steps` is valid; this returns a `Result` like every other
    /// `init` of the crate, so that the schedule can gain checked fields without breaking
    /// callers.
    ///
    /// # Errors
    /// None at present.
    pub fn init(&self) -> Result<LinearWarmup> {
        Ok(LinearWarmup { steps: self.steps })
    }
}

/// A linear warm-up of the penalty coefficient, as in SAELens' `l1_warm_up_steps`: the
/// penalty is multiplied by
///
/// ```text
/// factor(step) = min(1, (step + 1) / steps)      (1 when steps = 0)
/// ```
///
/// at the 0-based optimizer step `step`, so it reaches full strength at step `steps − 1` and
/// the first step already has a nonzero penalty.
///
/// ```
/// use sparse_losses::LinearWarmupConfig;
///
/// let warmup = LinearWarmupConfig::new(4).init()?;
/// assert_eq!(warmup.factor(0), 0.25);
/// assert_eq!(warmup.factor(2), 0.75);
/// assert_eq!(warmup.factor(3), 1.0);
/// assert_eq!(warmup.factor(100), 1.0);
/// # Ok::<(), sparse_losses::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinearWarmup {
    steps: usize,
}

impl LinearWarmup {
    /// The number of warm-up steps (0: none).
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// The factor that multiplies the penalty at the 0-based optimizer step `step`, in
    /// `(0, 1]`.
    pub fn factor(&self, step: usize) -> f64 {
        if step >= self.steps {
            1.0
        } else {
            (step + 1) as f64 / self.steps as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_warmup_is_always_one() {
        let w = LinearWarmupConfig::new(0).init().unwrap();
        for step in [0, 1, 7, usize::MAX] {
            assert_eq!(w.factor(step), 1.0);
        }
    }

    #[test]
    fn grows_linearly_then_stays_at_one() {
        let w = LinearWarmupConfig::new(8).init().unwrap();
        let got: Vec<f64> = (0..10).map(|s| w.factor(s)).collect();
        assert_eq!(
            got,
            [0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1.0, 1.0, 1.0]
        );
        assert_eq!(w.factor(usize::MAX), 1.0);
        assert_eq!(w.steps(), 8);
    }

    #[test]
    fn one_step_is_full_strength_at_once() {
        let w = LinearWarmupConfig::new(1).init().unwrap();
        assert_eq!(w.factor(0), 1.0);
    }

    #[test]
    fn config_round_trips_through_json() {
        let config = LinearWarmupConfig::new(1000);
        let json = serde_json::to_string(&config).unwrap();
        assert_eq!(json, r#"{"steps":1000}"#);
        let back: LinearWarmupConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back.init().unwrap().factor(499), 0.5);
    }
}
