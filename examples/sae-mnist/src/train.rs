//! Training a run with the sparse-autoencoders library on burn-train: the fit, the optional
//! decoder fine-tune, the evaluation, and the records of `metrics.json`.

use std::path::Path;

use burn::module::Module;
use serde::{Deserialize, Serialize};
use sparse_autoencoders::{
    evaluate_source, finetune_decoder, fit, FinetuneConfig, FitOptions, Sae, SaeMetrics,
    TrainConfig,
};

use crate::backend::{device_for, strategy};
use crate::error::{library, AppError};
use crate::model::sae_config;
use crate::run_dir::{write_atomic, SETTINGS};
use crate::settings::Settings;

/// Rows of the training data the SAE's decoder bias is initialised from (all of MNIST's; no
/// more than `--buffer-rows`).
pub const INIT_ROWS: usize = 65_536;

/// One epoch's record in `metrics.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based.
    pub epoch: usize,
    /// Mean training loss over the epoch's images (reconstruction + penalties).
    pub train_loss: f64,
    /// Mean per-image squared reconstruction error Σ_pixels (x̂ − x)².
    pub train_recon: f64,
    /// Mean active latents per training image.
    pub train_l0: f64,
    /// Wall seconds of the epoch's optimisation steps.
    pub seconds: f64,
}

impl From<&sparse_autoencoders::EpochRecord> for EpochRecord {
    fn from(r: &sparse_autoencoders::EpochRecord) -> Self {
        Self {
            epoch: r.epoch,
            train_loss: r.loss,
            train_recon: r.reconstruction,
            train_l0: r.l0,
            seconds: r.seconds,
        }
    }
}

/// The result of a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunReport {
    /// The settings.
    pub settings: Settings,
    /// The backend that ran the last session, in words.
    pub device: String,
    /// Per-epoch records.
    pub epochs: Vec<EpochRecord>,
    /// Metrics on the test split (`dead_fraction`: latents never active on the training
    /// split).
    pub test: SaeMetrics,
    /// Fraction of encoder weights the mask removes, when there is a mask.
    pub mask_sparsity: Option<f64>,
    /// Epoch the run resumed from (0 for a fresh run).
    pub resumed_from: usize,
    /// The test metrics before the decoder fine-tune, when there was one (`test` is after).
    #[serde(default)]
    pub before_finetune: Option<SaeMetrics>,
    /// Seconds of the decoder fine-tune.
    #[serde(default)]
    pub finetune_seconds: Option<f64>,
    /// Test metrics that are undefined, one line each with the reason (also printed).
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// The error of a run that diverged at `step` (1-based; 0 when unknown) of `epoch`, after
/// writing `metrics.json` with `"status": "diverged"` (so that the folder does not look like a
/// finished run); the checkpoints keep the last good parameters.
fn diverged(dir: &Path, epoch: usize, step: usize, value: f64) -> AppError {
    let record = serde_json::json!({
        "status": "diverged",
        "epoch": epoch,
        "step": step,
        "loss": value.is_finite().then_some(value),
        "loss_text": value.to_string(),
    });
    let bytes = serde_json::to_vec_pretty(&record).expect("a JSON value serialises");
    match write_atomic(&dir.join("metrics.json"), &bytes) {
        Ok(()) => AppError::Diverged { epoch, step, value },
        Err(e) => e,
    }
}

/// Trains (or resumes) `settings` on `data` in `dir` with the library; returns the model and
/// the report. `done`: the epochs a resumed run starts after (its checkpoint, from
/// [`resume_point`](crate::run_dir::resume_point)); 0 for a fresh run.
pub fn run(
    settings: &Settings,
    data: &crate::data::RunData,
    dir: &Path,
    resume: bool,
    done: usize,
    quiet: bool,
) -> Result<(Sae, RunReport), AppError> {
    let config = sae_config(settings, data.dim, data.image, data.n_train)?;
    let device = device_for(settings.backend)?.autodiff();
    // The decoder bias starts at the mean (or median) of the first rows: all of MNIST's; of
    // rows on disk, the first INIT_ROWS (at most --buffer-rows: memory stays within what the
    // user gave the buffer).
    let sample = data.train_head(INIT_ROWS.min(settings.buffer_rows))?;
    let sae = config.init_with_data(&sample, &device).map_err(library)?;
    drop(sample);
    // Everything is checked before anything is written: a resumed run's checkpoint must fit
    // the model (other data with `--new-data` may have another width), or the refused resume
    // would have rewritten settings.json for a model its checkpoints do not hold.
    if done > 0 {
        sparse_autoencoders::check_checkpoint_fits(&sae, &dir.join("burn"), done)
            .map_err(|e| AppError::Checkpoint(e.to_string()))?;
    }
    let json = serde_json::to_vec_pretty(settings).map_err(|e| {
        AppError::Setting(format!(
            "the settings cannot be recorded in settings.json: {e}"
        ))
    })?;
    write_atomic(&dir.join(SETTINGS), &json)?;
    let train = TrainConfig::new()
        .with_epochs(settings.epochs)
        .with_batch_size(settings.batch_size)
        .with_learning_rate(settings.lr)
        .with_seed(settings.seed)
        .with_buffer_rows(settings.buffer_rows);
    let options = FitOptions {
        resume_from: (done > 0).then_some(done),
        // With the `tui` feature, burn-train's own dashboard (it needs a terminal).
        renderer: if cfg!(feature = "tui") && !quiet {
            None
        } else {
            Some(Box::new(crate::burn_progress::BurnProgress::new(quiet)))
        },
        strategy: strategy(settings)?,
    };
    let mut history = if resume {
        resumed_history(dir, done)
    } else {
        Vec::new()
    };
    let out = fit(
        sae,
        data.train.clone(),
        data.test.clone(),
        &train,
        &dir.join("burn"),
        options,
    )
    .map_err(|e| match e {
        sparse_autoencoders::Error::Diverged { step, loss } => {
            let per_epoch = data.n_train.div_ceil(settings.batch_size).max(1);
            diverged(dir, step / per_epoch + 1, step % per_epoch + 1, loss)
        }
        e @ (sparse_autoencoders::Error::Checkpoint { .. }
        | sparse_autoencoders::Error::CheckpointMismatch { .. }) => {
            AppError::Checkpoint(e.to_string())
        }
        e => AppError::Backend(e.to_string()),
    })?;
    for r in &out.epochs {
        if !r.loss.is_finite() {
            return Err(diverged(dir, r.epoch, 0, r.loss));
        }
        history.push(EpochRecord::from(r));
    }
    write_atomic(
        &dir.join("history.json"),
        &serde_json::to_vec_pretty(&history).expect("records serialise"),
    )?;
    let mut model = out.model;
    let eval_device = device.clone().without_autodiff();
    let mut before_finetune = None;
    let mut finetune_seconds = None;
    if settings.finetune_epochs > 0 {
        let before = model.clone().to_device(&eval_device);
        before_finetune =
            Some(evaluate_source(&before, &data.test, 1000, &eval_device).map_err(library)?);
        let tune = FinetuneConfig::new()
            .with_epochs(settings.finetune_epochs)
            .with_batch_size(settings.batch_size)
            .with_learning_rate(settings.lr)
            .with_latent_scale(settings.finetune_scale)
            .with_seed(settings.seed);
        let started = std::time::Instant::now();
        let options = FitOptions {
            renderer: Some(Box::new(crate::burn_progress::BurnProgress::new(quiet))),
            ..FitOptions::default()
        };
        let tuned = finetune_decoder(
            model,
            data.train.clone(),
            data.test.clone(),
            &tune,
            &device,
            &dir.join("burn-finetune"),
            options,
        )
        .map_err(|e| AppError::Backend(e.to_string()))?;
        finetune_seconds = Some(started.elapsed().as_secs_f64());
        model = tuned.model;
    }
    let model = model.to_device(&eval_device);
    let test = evaluate_source(&model, &data.test, 1000, &eval_device).map_err(library)?;
    let train_m = evaluate_source(&model, &data.train, 1000, &eval_device).map_err(library)?;
    let report = RunReport {
        settings: settings.clone(),
        device: format!("{eval_device:?}"),
        epochs: history,
        test: SaeMetrics {
            dead_fraction: train_m.dead_fraction,
            ..test
        },
        mask_sparsity: model.mask.as_ref().map(|m| m.sparsity()),
        resumed_from: done,
        before_finetune: before_finetune.map(|b| SaeMetrics {
            dead_fraction: train_m.dead_fraction,
            ..b
        }),
        finetune_seconds,
        warnings: Vec::new(),
    };
    let report = RunReport {
        warnings: report.test.undefined(),
        ..report
    };
    Ok((model, report))
}

/// The records of epochs `1..=done` of a resumed run, joined by epoch number: the library's
/// per-epoch file (`burn/epochs.jsonl`, which survives a kill; the last record of an epoch
/// trained again wins) over `history.json` (written when a run ends). A line of the per-epoch
/// file that does not read back is skipped with a warning naming it; an epoch found in neither
/// is left out.
fn resumed_history(dir: &Path, done: usize) -> Vec<EpochRecord> {
    let mut by_epoch: std::collections::BTreeMap<usize, EpochRecord> = read_history(dir)
        .into_iter()
        .map(|r| (r.epoch, r))
        .collect();
    let burn = dir.join("burn");
    let (records, unreadable) = sparse_autoencoders::read_epoch_records(&burn);
    for (line, reason) in unreadable {
        crate::say_err!(
            "warning: line {line} of {} cannot be read ({reason}); skipped",
            burn.join(sparse_autoencoders::EPOCH_RECORDS).display()
        );
    }
    by_epoch.extend(records.iter().map(|r| (r.epoch, EpochRecord::from(r))));
    by_epoch.into_values().filter(|r| r.epoch <= done).collect()
}

fn read_history(dir: &Path) -> Vec<EpochRecord> {
    std::fs::read(dir.join("history.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}
