//! The cubic sparsity schedule of movement pruning.

use burn::config::Config;

use crate::{Error, Result};

/// Configuration of a [`CubicSchedule`].
#[derive(Config, Debug)]
pub struct CubicScheduleConfig {
    /// The value during warm-up and at the start of the decay (e.g. a kept fraction of 1.0).
    pub initial: f64,
    /// The value reached at the end of the decay and kept afterwards (e.g. 0.1).
    pub last: f64,
    /// The total number of training steps.
    pub total_steps: usize,
    /// Steps at `initial` before the decay starts. Default 0.
    #[config(default = 0)]
    pub warmup_steps: usize,
    /// Steps at `last` at the end of training. Default 0.
    #[config(default = 0)]
    pub cooldown_steps: usize,
}

impl CubicScheduleConfig {
    /// Validates the config.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`] for non-finite values or when
    /// `warmup_steps + cooldown_steps >= total_steps`.
    pub fn init(&self) -> Result<CubicSchedule> {
        let invalid = |field, value: f64, expected| Error::InvalidHyperParameter {
            item: "cubic_schedule",
            field,
            value,
            expected,
        };
        if !self.initial.is_finite() {
            return Err(invalid("initial", self.initial, "a finite number"));
        }
        if !self.last.is_finite() {
            return Err(invalid("last", self.last, "a finite number"));
        }
        if self.warmup_steps + self.cooldown_steps >= self.total_steps {
            return Err(invalid(
                "total_steps",
                self.total_steps as f64,
                "more than warmup_steps + cooldown_steps",
            ));
        }
        Ok(CubicSchedule {
            initial: self.initial,
            last: self.last,
            start: self.warmup_steps,
            span: self.total_steps - self.warmup_steps - self.cooldown_steps,
        })
    }
}

/// The cubic schedule of Zhu & Gupta (2017), used by movement pruning (Sanh et al., 2020)
/// for the threshold or the kept fraction of a mask:
///
/// ```text
/// v(t) = initial                                             t < warmup
/// v(t) = last + (initial − last) (1 − (t − warmup) / span)³  during the decay
/// v(t) = last                                                afterwards
/// span = total_steps − warmup_steps − cooldown_steps
/// ```
///
/// ```
/// use sparse_losses::CubicScheduleConfig;
///
/// let keep = CubicScheduleConfig::new(1.0, 0.125, 100).init().unwrap();
/// assert_eq!(keep.value(0), 1.0);
/// assert!((keep.value(50) - (0.125 + 0.875 / 8.0)).abs() < 1e-12);
/// assert_eq!(keep.value(100), 0.125);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct CubicSchedule {
    initial: f64,
    last: f64,
    start: usize,
    span: usize,
}

impl CubicSchedule {
    /// The scheduled value at `step` (0-based).
    pub fn value(&self, step: usize) -> f64 {
        if step <= self.start {
            return self.initial;
        }
        let progress = ((step - self.start) as f64 / self.span as f64).min(1.0);
        self.last + (self.initial - self.last) * (1.0 - progress).powi(3)
    }
}
