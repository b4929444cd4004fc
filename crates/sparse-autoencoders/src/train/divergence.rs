//! The divergence guard: a training step whose loss is not finite, or more than
//! [`ABSURD_GROWTH`] times the run's first loss, stops the run. The step that saw it applies no
//! update, nor does any later one (the model keeps its last good parameters, and so do the
//! checkpoints written after), burn-train stops after that epoch, [`fit`](super::fit) removes the
//! checkpoints of parameters that were not good and returns
//! [`Error::Diverged`](crate::Error::Diverged) naming the step and the loss.
//!
//! The guard reads each step's loss on the CPU backends (Flex, NdArray). On a GPU that read
//! would synchronise every step, so there the guard is off: check the epochs' losses that
//! [`fit`](super::fit) reports.

use std::sync::{Arc, Mutex};

use burn::train::metric::store::EventStoreClient;
use burn::train::EarlyStoppingStrategy;

/// A loss this many times the run's first loss counts as diverged (a finite but absurd loss,
/// such as 1e36 after a learning rate of 2e4).
pub const ABSURD_GROWTH: f64 = 1e6;

/// Where a training run diverged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Divergence {
    /// The optimizer step (0-based, counted over the whole run) whose loss was bad.
    pub step: usize,
    /// That loss.
    pub loss: f64,
}

/// The guard's state, shared by every clone of an [`Sae`](crate::Sae) (burn-train clones the
/// model) and by the early-stopping strategy that ends the run.
#[derive(Debug, Clone, Default)]
pub struct DivergenceWatch(Arc<Mutex<WatchState>>);

#[derive(Debug, Default)]
struct WatchState {
    first_loss: Option<f64>,
    divergence: Option<Divergence>,
}

impl DivergenceWatch {
    /// The divergence, once one was seen.
    pub fn get(&self) -> Option<Divergence> {
        self.lock().divergence
    }

    /// Records the loss of `step`; returns whether the run has diverged (now or before).
    pub fn observe(&self, step: usize, loss: f64) -> bool {
        let mut state = self.lock();
        if state.divergence.is_some() {
            return true;
        }
        let first = *state.first_loss.get_or_insert(loss);
        let absurd = first.is_finite() && first > 0.0 && loss > ABSURD_GROWTH * first;
        if !loss.is_finite() || absurd {
            state.divergence = Some(Divergence { step, loss });
            return true;
        }
        false
    }

    /// Forgets the run (a new `fit` starts from a clean state).
    pub fn reset(&self) {
        *self.lock() = WatchState::default();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, WatchState> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// burn-train's early stop: ends the run after the epoch in which the watch saw a divergence.
#[derive(Debug, Clone)]
pub(crate) struct StopOnDivergence(pub DivergenceWatch);

impl EarlyStoppingStrategy for StopOnDivergence {
    fn should_stop(&mut self, _epoch: usize, _store: &EventStoreClient) -> bool {
        self.0.get().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_and_absurd_losses_diverge_once() {
        let watch = DivergenceWatch::default();
        assert!(!watch.observe(0, 10.0));
        assert!(!watch.observe(1, 1e6)); // 1e5 × the first loss: still a loss
        assert!(watch.observe(2, 1e8));
        assert_eq!(watch.get(), Some(Divergence { step: 2, loss: 1e8 }));
        // Later steps keep the first divergence.
        assert!(watch.observe(3, 1.0));
        assert_eq!(watch.get().map(|d| d.step), Some(2));
        watch.reset();
        assert!(!watch.observe(0, 1.0));
        assert!(watch.observe(1, f64::NAN));
        assert!(watch.get().unwrap().loss.is_nan());
        let clone = watch.clone();
        assert!(clone.get().is_some(), "clones share the state");
    }
}
