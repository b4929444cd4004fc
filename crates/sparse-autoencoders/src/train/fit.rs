//! [`fit`]: trains an [`Sae`] with burn-train's `SupervisedTraining`.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use burn::config::Config;
use burn::optim::{AdamConfig, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::TensorReadError;
use burn::train::checkpoint::KeepLastNCheckpoints;
use burn::train::metric::{
    Adaptor, LossMetric, Metric, MetricMetadata, MetricName, SerializedEntry,
};
use burn::train::renderer::MetricsRenderer;
use burn::train::{ExecutionStrategy, Learner, SupervisedTraining};
use serde::{Deserialize, Serialize};

use super::checkpoint::remove_checkpoints_where;
use super::{check_checkpoint_fits, RowSource, SaeMetric, SaeMetricKind, SaeOutput};
use super::{MetricLog, METRIC_LOG};
use crate::{Error, Result, Sae};

/// How to train.
#[derive(Config, Debug)]
pub struct TrainConfig {
    /// Passes over the training rows.
    #[config(default = 20)]
    pub epochs: usize,
    /// Rows per step.
    #[config(default = 256)]
    pub batch_size: usize,
    /// Adam's learning rate.
    #[config(default = 1e-3)]
    pub learning_rate: f64,
    /// Adam's ε (PyTorch's default, 1e-8).
    #[config(default = 1e-8)]
    pub epsilon: f32,
    /// Seed of the per-epoch shuffles and of the device's generator (hard-concrete noise).
    #[config(default = 0)]
    pub seed: u64,
    /// Save burn-train checkpoints (model, optimizer, scheduler) after every epoch.
    #[config(default = true)]
    pub checkpoints: bool,
    /// Rows of the mixing buffer when the training rows are streamed from disk
    /// ([`RowSource::Disk`]): chunks are read into it and it is shuffled before half of it is
    /// used, so the memory of the rows is about this many rows (plus a chunk) whatever the
    /// size of the data. Rows in memory are shuffled whole and ignore it.
    #[config(default = 65536)]
    pub buffer_rows: usize,
}

impl TrainConfig {
    /// Checks every field.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`] naming the first invalid field.
    pub fn validate(&self) -> Result<()> {
        let bad = |field, value: String, expected| {
            Err(crate::error::invalid("train", field, value, expected))
        };
        if self.epochs == 0 {
            return bad("epochs", "0".into(), "at least 1");
        }
        if self.batch_size == 0 {
            return bad("batch_size", "0".into(), "at least 1");
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad(
                "learning_rate",
                self.learning_rate.to_string(),
                "a finite number > 0",
            );
        }
        if !(self.epsilon.is_finite() && self.epsilon > 0.0) {
            return bad("epsilon", self.epsilon.to_string(), "a finite number > 0");
        }
        Ok(())
    }

    /// A fresh Adam with this config's ε (PyTorch's default), for one model.
    pub(crate) fn optimizer(&self) -> ModuleOptimizer {
        AdamConfig::new().with_epsilon(self.epsilon).init()
    }

    /// Seeds `device`'s generator (it draws the hard-concrete noise) from the run's seed and
    /// the first epoch of this call, so a run is reproducible (a resumed hard-concrete run
    /// draws other noise than the uninterrupted one: the generator's state is not
    /// checkpointed).
    pub(crate) fn seed_device(&self, device: &Device, first_epoch: usize) {
        device.seed(
            self.seed
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .wrapping_add(first_epoch as u64),
        );
    }
}

/// One training epoch, as recorded by [`EpochLog`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training loss per row (all terms).
    pub loss: f64,
    /// Mean per-row squared reconstruction error `Σ (x̂ − x)²`.
    pub reconstruction: f64,
    /// Mean active latents per training row.
    pub l0: f64,
    /// Wall-clock seconds from the epoch's first step to its last.
    pub seconds: f64,
}

/// A burn-train metric that keeps one [`EpochRecord`] per training epoch in a shared list
/// (burn-train's own loggers write text files; this gives the numbers to the caller).
#[derive(Clone)]
pub struct EpochLog {
    records: Arc<Mutex<Vec<EpochRecord>>>,
    file: Option<std::path::PathBuf>,
    next_epoch: usize,
    loss: f64,
    recon: f64,
    active: f64,
    rows: f64,
    started: Option<Instant>,
    name: MetricName,
}

/// What [`EpochLog`] reads from a step.
#[derive(Debug, Clone)]
pub struct EpochInput {
    loss: Tensor<1>,
    x: Tensor<2>,
    x_hat: Tensor<2>,
    codes: Tensor<2>,
}

impl Adaptor<EpochInput> for SaeOutput {
    fn adapt(&self) -> EpochInput {
        EpochInput {
            loss: self.loss.clone(),
            x: self.x.clone(),
            x_hat: self.x_hat.clone(),
            codes: self.codes.clone(),
        }
    }
}

impl EpochLog {
    /// A log whose first record will be epoch `first_epoch` (1-based).
    pub fn new(first_epoch: usize) -> Self {
        Self {
            records: Arc::new(Mutex::new(Vec::new())),
            file: None,
            next_epoch: first_epoch,
            loss: 0.0,
            recon: 0.0,
            active: 0.0,
            rows: 0.0,
            started: None,
            name: Arc::new("Epoch log".to_string()),
        }
    }

    /// Also appends each record, as one JSON line, to `file` (see [`epoch_records`]), so that
    /// a run killed and resumed keeps the records of the epochs before the kill.
    pub fn with_file(mut self, file: impl Into<std::path::PathBuf>) -> Self {
        self.file = Some(file.into());
        self
    }

    /// The records so far.
    pub fn records(&self) -> Vec<EpochRecord> {
        self.records.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl Metric for EpochLog {
    type Input = EpochInput;

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn update(
        &mut self,
        item: &EpochInput,
        _metadata: &MetricMetadata,
    ) -> Result<SerializedEntry, TensorReadError> {
        self.started.get_or_insert_with(Instant::now);
        let [b, _] = item.codes.dims();
        let s = Tensor::cat(
            vec![
                item.loss.clone().mean(),
                item.codes.clone().not_equal_elem(0.0).float().sum(),
                (item.x.clone() - item.x_hat.clone()).square().sum(),
            ],
            0,
        )
        .try_into_vec_as::<f64>()?;
        self.loss += s[0] * b as f64;
        self.active += s[1];
        self.recon += s[2];
        self.rows += b as f64;
        Ok(SerializedEntry::new(
            format!("loss {:.4}", s[0]),
            s[0].to_string(),
        ))
    }

    fn compute(&mut self) -> Result<SerializedEntry, TensorReadError> {
        if self.rows > 0.0 {
            let record = EpochRecord {
                epoch: self.next_epoch,
                loss: self.loss / self.rows,
                reconstruction: self.recon / self.rows,
                l0: self.active / self.rows,
                seconds: self
                    .started
                    .map(|t| t.elapsed().as_secs_f64())
                    .unwrap_or(0.0),
            };
            if let Ok(mut r) = self.records.lock() {
                r.push(record);
            }
            if let Some(file) = &self.file {
                append_record(file, &record);
            }
            self.next_epoch += 1;
        }
        let loss = self.loss / self.rows.max(1.0);
        Ok(SerializedEntry::new(
            format!("loss {loss:.4}"),
            loss.to_string(),
        ))
    }

    fn clear(&mut self) {
        self.loss = 0.0;
        self.recon = 0.0;
        self.active = 0.0;
        self.rows = 0.0;
        self.started = None;
    }
}

/// Appends `record` as one JSON line to `file` (best effort: the records in memory are what
/// [`fit`] returns; the file only serves a resumed run).
fn append_record(file: &Path, record: &EpochRecord) {
    use std::io::Write;
    let Ok(line) = serde_json::to_string(record) else {
        return;
    };
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
    {
        let _ = writeln!(f, "{line}");
    }
}

/// The name of the file in [`fit`]'s `dir` with one [`EpochRecord`] per line.
pub const EPOCH_RECORDS: &str = "epochs.jsonl";

/// How many of the newest checkpoints [`fit`] keeps in `dir/checkpoint` (two: a kill while the
/// newest is written leaves the one before it to resume from).
pub const KEPT_CHECKPOINTS: usize = 2;

/// The epoch records [`fit`] wrote in `dir` (its [`EPOCH_RECORDS`] file), across resumed runs:
/// the last record of each epoch (an epoch trained again after a kill is recorded again), in
/// epoch order; lines that do not parse (a line cut short by a kill) are skipped
/// ([`read_epoch_records`] names them).
pub fn epoch_records(dir: &Path) -> Vec<EpochRecord> {
    read_epoch_records(dir).0
}

/// [`epoch_records`], and each line that did not parse: its 1-based number and the parser's
/// message.
pub fn read_epoch_records(dir: &Path) -> (Vec<EpochRecord>, Vec<(usize, String)>) {
    let text = std::fs::read_to_string(dir.join(EPOCH_RECORDS)).unwrap_or_default();
    let mut by_epoch = std::collections::BTreeMap::new();
    let mut unreadable = Vec::new();
    for (i, line) in text.lines().enumerate() {
        match serde_json::from_str::<EpochRecord>(line) {
            Ok(record) => {
                by_epoch.insert(record.epoch, record);
            }
            Err(e) => unreadable.push((i + 1, e.to_string())),
        }
    }
    (by_epoch.into_values().collect(), unreadable)
}

/// What [`fit`] returns.
pub struct FitResult {
    /// The trained model (validation mode).
    pub model: Sae,
    /// One record per epoch trained in this call.
    pub epochs: Vec<EpochRecord>,
}

/// Options of [`fit`] beyond the [`TrainConfig`].
#[derive(Default)]
pub struct FitOptions {
    /// Resume from burn-train's checkpoint of this epoch in the same directory.
    pub resume_from: Option<usize>,
    /// A renderer (progress display); burn-train's default otherwise (its terminal dashboard
    /// with the `tui` feature, plain lines without it).
    pub renderer: Option<Box<dyn MetricsRenderer>>,
    /// Train on several devices (burn-train's `ExecutionStrategy`); the model's device alone
    /// otherwise.
    pub strategy: Option<ExecutionStrategy>,
}

/// [`Error::InferenceOnly`] for an SAE whose config normalises its inputs (a form loaded from
/// SAELens for inference).
pub(crate) fn check_trainable(sae: &Sae) -> Result<()> {
    match sae.config.input_normalization {
        crate::InputNormalization::None => Ok(()),
        other => Err(Error::InferenceOnly(other.saelens_name())),
    }
}

/// Trains `sae` on `train` rows and reports the SAE metrics on `valid` rows after every epoch,
/// with burn-train's `SupervisedTraining`: Adam, the loss and SAE metrics, checkpoints in
/// `dir/checkpoint` (model, optimizer, scheduler), burn-train's logs in `dir`.
///
/// `train` and `valid` are row-major `[n, d_in]`. The model must live on an autodiff device
/// (`Device::flex().autodiff()`, ...).
///
/// # Errors
/// An invalid config, rows that do not match the model or are not rows to train on
/// ([`check_training_rows`](crate::check_training_rows): non-finite values, a scale outside
/// [`DATA_SCALE`](crate::DATA_SCALE)),
/// [`Error::NoAutodiff`](crate::Error::NoAutodiff) for a model on a device without autodiff,
/// [`Error::OutOfMemory`](crate::Error::OutOfMemory)
/// when a training run on the CPU would not fit in the memory available (checked first),
/// [`Error::Checkpoint`](crate::Error::Checkpoint) when the checkpoint of
/// [`FitOptions::resume_from`] does not read back ([`check_checkpoint`](super::check_checkpoint)),
/// [`Error::CheckpointMismatch`](crate::Error::CheckpointMismatch) when it does not fit `sae`
/// ([`check_checkpoint_fits`]), or a training error.
pub fn fit(
    sae: Sae,
    train: impl Into<RowSource>,
    valid: impl Into<RowSource>,
    config: &TrainConfig,
    dir: &Path,
    options: FitOptions,
) -> Result<FitResult> {
    let (train, valid) = (train.into(), valid.into());
    config.validate()?;
    check_trainable(&sae)?;
    let d = sae.d_in();
    train.check("training data", d)?;
    valid.check("validation data", d)?;
    let rows = train.rows(d);
    let device = sae.w_enc.val().device();
    if !device.is_autodiff() {
        return Err(Error::NoAutodiff);
    }
    if sparse_losses::fused::in_host_memory(&device) {
        let needed = crate::memory::training_bytes(&sae.config, config.batch_size);
        crate::memory::check("training", needed)?;
    }
    let start = options.resume_from.unwrap_or(0);
    // The schedules' clock: the steps the resumed epochs took.
    let mut sae = sae;
    sae.step = start * rows.div_ceil(config.batch_size);
    config.seed_device(&device, start);
    let (batch, buffer) = (config.batch_size, config.buffer_rows);
    let train_loader = train.loader(d, batch, Some(config.seed), buffer, start, &device);
    let valid_loader = valid.loader(d, batch, None, buffer, 0, &device);
    let log = EpochLog::new(start + 1).with_file(dir.join(EPOCH_RECORDS));
    sae.divergence.reset();
    let watch = sae.divergence.clone();
    let mut training = SupervisedTraining::new(dir, train_loader, valid_loader)
        .early_stopping(super::divergence::StopOnDivergence(watch.clone()))
        .metric_train_numeric(LossMetric::new())
        .metric_train(log.clone())
        .metric_valid_numeric(LossMetric::new())
        .num_epochs(config.epochs)
        .with_application_logger(None)
        // One line per epoch and split in `dir/metrics.jsonl` (burn-train's default logger
        // writes about 11 files an epoch).
        .with_metric_logger(MetricLog::new(dir.join(METRIC_LOG)))
        // The newest checkpoints only (burn-train's default also keeps the one of the best
        // validation loss, which stayed behind as a stale `model-1090.bpk`).
        .with_checkpointing_strategy(KeepLastNCheckpoints::new(KEPT_CHECKPOINTS));
    for kind in SaeMetricKind::ALL {
        training = training.metric_valid_numeric(SaeMetric::new(kind));
    }
    if config.checkpoints {
        training = training.with_default_checkpointers();
    }
    if let Some(epoch) = options.resume_from {
        // burn-train panics on a checkpoint it cannot read: it is read here first.
        check_checkpoint_fits(&sae, dir, epoch)?;
        training = training.checkpoint(epoch);
    }
    if let Some(r) = options.renderer {
        training = training.renderer(r);
    }
    if let Some(s) = options.strategy {
        training = training.with_training_strategy(s.into());
    }
    let optim = config.optimizer();
    let result = training.launch(Learner::new(sae, optim, config.learning_rate));
    if let Some(e) = result.error {
        return Err(Error::Training(e.to_string()));
    }
    if let Some(div) = watch.get() {
        // The checkpoint of epoch e holds the parameters first tried at step e · per_epoch: it
        // is good only if that step came before the divergent one.
        let per_epoch = rows.div_ceil(config.batch_size).max(1);
        let last_good = div.step.saturating_sub(1) / per_epoch;
        remove_checkpoints_where(&dir.join("checkpoint"), |e| e > last_good);
        return Err(Error::Diverged {
            step: div.step,
            loss: div.loss,
        });
    }
    // Checkpoints older than the kept ones (left by an earlier run in this folder, or by a
    // version that kept the best epoch's) go too.
    if let Some(newest) = super::latest_checkpoint(dir) {
        super::checkpoint::remove_checkpoints_where(&dir.join("checkpoint"), |e| {
            e + KEPT_CHECKPOINTS <= newest
        });
    }
    Ok(FitResult {
        model: result.model,
        epochs: log.records(),
    })
}
