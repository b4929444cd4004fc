//! The progress display of library runs: a burn-train renderer that draws an `indicatif` bar
//! over each training epoch (when stderr is a terminal) and prints one line per epoch
//! (unless `--quiet`), instead of burn-train's per-batch debug lines.

use std::io::IsTerminal;

use burn::train::logger::{EvaluationProgressLogger, TrainingProgressLogger};
use burn::train::metric::MetricDefinition;
use burn::train::renderer::{
    EvaluationName, MetricState, MetricsRenderer, MetricsRendererEvaluation,
    MetricsRendererTraining,
};
use indicatif::{ProgressBar, ProgressStyle};

/// See the module docs.
pub struct BurnProgress {
    quiet: bool,
    terminal: bool,
    bar: Option<ProgressBar>,
    epoch: usize,
    epochs: usize,
    split: String,
}

impl BurnProgress {
    /// A display; `quiet` prints nothing.
    pub fn new(quiet: bool) -> Self {
        Self {
            quiet,
            terminal: std::io::stderr().is_terminal(),
            bar: None,
            epoch: 0,
            epochs: 0,
            split: String::new(),
        }
    }
}

impl MetricsRendererTraining for BurnProgress {
    fn update_train(&mut self, _state: MetricState) {}
    fn update_valid(&mut self, _state: MetricState) {}
}

impl MetricsRendererEvaluation for BurnProgress {
    fn update_test(&mut self, _name: EvaluationName, _state: MetricState) {}
}

impl TrainingProgressLogger for BurnProgress {
    fn start(
        &mut self,
        total: usize,
        starting: usize,
        _items: Option<usize>,
        _label: Option<&str>,
    ) {
        self.epochs = total;
        // burn-train numbers epochs from 1; `starting` is the first one this session trains.
        self.epoch = starting.saturating_sub(1);
    }

    fn update_epoch(&mut self, _epoch: usize) {}

    fn start_split(&mut self, split: &str, total_items: usize) {
        self.split = split.to_string();
        if !self.quiet && self.terminal && split == "train" {
            let bar = ProgressBar::new(total_items as u64);
            bar.set_style(
                ProgressStyle::with_template("epoch {msg} [{bar:30}] {pos}/{len} rows {elapsed}")
                    .expect("a valid template")
                    .progress_chars("=> "),
            );
            bar.set_message(format!("{}/{}", self.epoch + 1, self.epochs));
            self.bar = Some(bar);
        }
    }

    fn update_split(&mut self, items_processed: usize) {
        if let Some(bar) = &self.bar {
            bar.set_position(items_processed as u64);
        }
    }

    fn end_split(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if self.split == "train" {
            self.epoch += 1;
            if !self.quiet {
                crate::say!("epoch {}/{} done", self.epoch, self.epochs);
            }
        }
    }

    fn end(&mut self) {}

    fn log_event_training(&mut self, _event: String) {}
}

impl EvaluationProgressLogger for BurnProgress {
    fn start_global_progress(&mut self, _total_tests: usize) {}
    fn start_test(&mut self, _name: &str, _total_items: usize) {}
    fn update_test_progress(&mut self, _items_processed: usize) {}
    fn end_test(&mut self) {}
    fn end_global_progress(&mut self) {}
    fn log_event_evaluation(&mut self, _event: String) {}
}

impl MetricsRenderer for BurnProgress {
    fn manual_close(&mut self) {}
    fn register_metric(&mut self, _definition: MetricDefinition) {}
}
