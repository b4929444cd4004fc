//! [`MetricLog`]: the metric logger of [`fit`](super::fit): one JSON line per epoch and split
//! in one file, instead of burn-train's default `FileMetricLogger`, which writes a folder per
//! epoch and split with a file per metric and a line per step (about 11 files an epoch: 16,500
//! for a 1,500-epoch run).

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use burn::train::logger::MetricLogger;
use burn::train::metric::store::{EpochSummary, MetricsUpdate, Split};
use burn::train::metric::{MetricDefinition, MetricId, NumericEntry};
use serde::{Deserialize, Serialize};

/// The file [`fit`](super::fit) writes the epochs' metrics to, in its folder.
pub const METRIC_LOG: &str = "metrics.jsonl";

/// One line of [`METRIC_LOG`]: the metrics of one epoch on one split, each the epoch's value
/// (burn-train's running value at the epoch's end, or the metric's final value).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// 1-based epoch.
    pub epoch: usize,
    /// `train` or `valid`.
    pub split: String,
    /// The value of each metric, by its name.
    pub metrics: BTreeMap<String, f64>,
}

/// A burn-train [`MetricLogger`] that appends an [`EpochMetrics`] line per epoch and split to
/// one file, and keeps the epochs' values (a few numbers an epoch) for burn-train's queries.
/// A line that cannot be written is skipped: logging never stops a run.
pub struct MetricLog {
    file: PathBuf,
    names: HashMap<MetricId, String>,
    current: BTreeMap<String, f64>,
    epochs: HashMap<(String, String), Vec<(usize, f64)>>,
}

impl MetricLog {
    /// A logger appending to `file`.
    pub fn new(file: impl Into<PathBuf>) -> Self {
        Self {
            file: file.into(),
            names: HashMap::new(),
            current: BTreeMap::new(),
            epochs: HashMap::new(),
        }
    }

    fn append(&self, line: &EpochMetrics) {
        let Ok(mut text) = serde_json::to_string(line) else {
            return;
        };
        text.push('\n');
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.file)
        {
            let _ = f.write_all(text.as_bytes());
        }
    }
}

impl MetricLogger for MetricLog {
    fn log(&mut self, update: MetricsUpdate, _epoch: usize, _split: &Split) {
        for numeric in &update.entries_numeric {
            let Some(name) = self.names.get(&numeric.entry.metric_id) else {
                continue;
            };
            let value = match (&numeric.numeric_entry, &numeric.running_entry) {
                (Some(NumericEntry::Final(v)), _) => *v,
                (_, Some(running)) => running.current(),
                (Some(entry), None) => entry.current(),
                (None, None) => continue,
            };
            self.current.insert(name.clone(), value);
        }
    }

    fn read_numeric(
        &mut self,
        name: &str,
        epoch: usize,
        split: &Split,
    ) -> Result<Vec<NumericEntry>, String> {
        Ok(self
            .epochs
            .get(&(name.to_string(), split.to_string()))
            .into_iter()
            .flatten()
            .filter(|(e, _)| *e == epoch)
            .map(|(_, v)| NumericEntry::Value(*v))
            .collect())
    }

    fn log_metric_definition(&mut self, definition: MetricDefinition) {
        self.names
            .insert(definition.metric_id.clone(), definition.name.to_string());
    }

    fn log_epoch_summary(&mut self, summary: EpochSummary) {
        let split = summary.split.to_string();
        let metrics = std::mem::take(&mut self.current);
        for (name, value) in &metrics {
            self.epochs
                .entry((name.clone(), split.clone()))
                .or_default()
                .push((summary.epoch_number, *value));
        }
        self.append(&EpochMetrics {
            epoch: summary.epoch_number,
            split,
            metrics,
        });
    }
}

/// The lines of the [`METRIC_LOG`] file in `dir` that read back (across resumed runs; a line
/// cut short by a kill is skipped).
pub fn read_metric_log(dir: &Path) -> Vec<EpochMetrics> {
    std::fs::read_to_string(dir.join(METRIC_LOG))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}
