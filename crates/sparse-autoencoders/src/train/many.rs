//! [`fit_many`]: several SAEs trained on one stream of batches (a sweep).

use std::sync::Arc;

use burn::data::dataloader::DataLoader;
use burn::train::TrainStep;

use super::{EpochLoader, TrainConfig};
use crate::error::check_training_rows;
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
    train: Arc<Vec<f32>>,
    config: &TrainConfig,
    mut after_epoch: impl FnMut(usize, &[Sae]),
) -> Result<Vec<Sae>> {
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
    check_training_rows("training data", &train, d)?;
    let device = first.w_enc.val().device();
    if !device.is_autodiff() {
        return Err(Error::NoAutodiff);
    }
    config.seed_device(&device, 0);
    let loader = EpochLoader::new(train, d, config.batch_size, Some(config.seed), &device);
    let mut optims: Vec<_> = saes.iter().map(|_| config.optimizer()).collect();
    let mut models: Vec<Sae> = saes
        .into_iter()
        .map(|mut s| {
            s.step = 0;
            s
        })
        .collect();
    for epoch in 1..=config.epochs {
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
        after_epoch(epoch, &models);
    }
    Ok(models)
}
