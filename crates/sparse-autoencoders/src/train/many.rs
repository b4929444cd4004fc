//! [`fit_many`]: several SAEs trained on one stream of batches (a sweep), from rows in memory
//! or streamed from disk ([`RowSource`]).

use std::path::Path;
use std::time::Instant;

use burn::train::TrainStep;

use super::many_checkpoint::{restore, save};
use super::{RowSource, TrainConfig};
use crate::{Error, Result, Sae};

/// Trains every SAE of `saes` on the same stream of batches: each epoch's shuffled batches
/// are built once and each model takes its step on them in turn (its own Adam, the same
/// `TrainStep::step` and `optimize` as [`fit`](super::fit): unit-norm decoder, running
/// statistics, schedules). For a sweep over methods and strengths this reads and copies the
/// data once instead of once per model, and skips burn-train's per-step metric reads; there
/// are no checkpoints. The models must share one autodiff device.
///
/// `after_epoch(epoch, models)` is called after every epoch (1-based), e.g. to report
/// progress.
///
/// ```
/// use std::sync::Arc;
/// use burn::prelude::*;
/// use sparse_autoencoders::prelude::*;
///
/// let data = Planted::new(16, 24, 256, 0.1, 0);
/// let rows = Arc::new(data.rows.clone());
/// let device = Device::flex().autodiff();
/// let saes = [2, 4]
///     .map(|k| {
///         SaeConfig::new(16, 32)
///             .with_architecture(Architecture::TopK(arch::TopKConfig { k }))
///             .init_with_data(&rows, &device)
///     })
///     .into_iter()
///     .collect::<Result<Vec<_>>>()?;
/// let config = TrainConfig::new().with_epochs(2).with_batch_size(64);
/// let trained = fit_many(saes, rows.clone(), &config, |_, _| {})?;
/// assert_eq!(evaluate(&trained[1], &rows, 256, &device)?.l0, 4.0);
/// # Ok::<(), sparse_autoencoders::Error>(())
/// ```
///
/// # Errors
/// An invalid config, no model, rows that do not match the models' width, or
/// [`Error::NoAutodiff`] for models on a device without autodiff.
pub fn fit_many(
    saes: Vec<Sae>,
    train: impl Into<RowSource>,
    config: &TrainConfig,
    after_epoch: impl FnMut(usize, &[Sae]),
) -> Result<Vec<Sae>> {
    train_many(saes, train.into(), config, None, after_epoch).map(|run| run.models)
}

/// [`fit_many`] with a checkpoint of every model and its Adam state after every epoch in
/// `dir`, resumed from the newest one found there: a sweep killed at any moment (SIGTERM,
/// SIGKILL) continues from its last finished epoch to the same models as an uninterrupted
/// run. The batch order and the generator's seed are functions of (seed, epoch), so the
/// resumed epochs are the ones the uninterrupted run would have trained.
///
/// The checkpoint of epoch `e` is the folder `dir/epoch-e` (`model-i.bpk` and `optim-i.bpk`
/// per model, and `state.json`), written as `dir/epoch-e.tmp` and renamed when complete; the
/// older one is then removed. Call it again with the same models (same configs, in the same
/// order), rows and config to resume; a finished run loads its last checkpoint and trains
/// nothing.
///
/// # Errors
/// Those of [`fit_many`]; [`Error::Checkpoint`] when the checkpoint cannot be written, or read
/// back, or holds another number of models; [`Error::CheckpointMismatch`] when its tensors do
/// not fit the models.
pub fn fit_many_in(
    saes: Vec<Sae>,
    train: impl Into<RowSource>,
    config: &TrainConfig,
    dir: &Path,
    after_epoch: impl FnMut(usize, &[Sae]),
) -> Result<ManyRun> {
    train_many(saes, train.into(), config, Some(dir), after_epoch)
}

/// What [`fit_many_in`] returns.
#[derive(Debug, Clone)]
pub struct ManyRun {
    /// The trained models, in the order given.
    pub models: Vec<Sae>,
    /// Seconds of training over every session of the run (a resumed run counts the earlier
    /// sessions' epochs, as recorded in its checkpoint).
    pub seconds: f64,
    /// The epoch it resumed after (0: from the start).
    pub resumed_from: usize,
}

fn train_many(
    saes: Vec<Sae>,
    train: RowSource,
    config: &TrainConfig,
    dir: Option<&Path>,
    mut after_epoch: impl FnMut(usize, &[Sae]),
) -> Result<ManyRun> {
    for sae in &saes {
        super::fit::check_trainable(sae)?;
    }
    config.validate()?;
    let Some(first) = saes.first() else {
        return Err(Error::Shape("fit_many needs at least one model".into()));
    };
    let d = first.d_in();
    if let Some(other) = saes.iter().find(|s| s.d_in() != d) {
        return Err(Error::Shape(format!(
            "the models have different input widths ({d} and {})",
            other.d_in()
        )));
    }
    train.check("training data", d)?;
    let device = first.w_enc.val().device();
    if !device.is_autodiff() {
        return Err(Error::NoAutodiff);
    }
    let per_epoch = train.rows(d).div_ceil(config.batch_size).max(1);
    let mut optims: Vec<_> = saes.iter().map(|_| config.optimizer()).collect();
    let mut models = saes;
    let (mut start, mut seconds) = (0, 0.0);
    if let Some(dir) = dir {
        if let Some(saved) = restore(dir, &mut models, &mut optims)? {
            (start, seconds) = (saved.epoch, saved.seconds);
        }
    }
    for model in &mut models {
        model.step = start * per_epoch;
    }
    let (batch, buffer) = (config.batch_size, config.buffer_rows);
    let loader = train.loader(d, batch, Some(config.seed), buffer, start, &device);
    for epoch in start + 1..=config.epochs {
        let began = Instant::now();
        // Seeded per epoch (the hard-concrete noise): a resumed epoch draws what the
        // uninterrupted run drew.
        config.seed_device(&device, epoch - 1);
        for batch in loader.iter() {
            let batch = batch.map_err(|e| Error::Training(e.to_string()))?;
            models = models
                .into_iter()
                .zip(optims.iter_mut())
                .map(|(model, optim)| {
                    let out = TrainStep::step(&model, batch.clone());
                    model.optimize(optim, config.learning_rate.into(), out.grads)
                })
                .collect();
        }
        seconds += began.elapsed().as_secs_f64();
        if let Some(dir) = dir {
            save(dir, epoch, seconds, &models, &optims)?;
        }
        after_epoch(epoch, &models);
    }
    Ok(ManyRun {
        models,
        seconds,
        resumed_from: start,
    })
}
