//! Runs trained by the sparse-autoencoders library on burn-train: `--arch batchtopk`,
//! `matryoshka`, `jumprelu`, `gated`, `l0`, and any architecture with `--data FILE`.
//!
//! The run folder holds `settings.json` (written first), burn-train's files under `burn/`
//! (its logs, and `burn/checkpoint/{model,optim,scheduler}-N.bpk` after every epoch), then
//! `metrics.json` and the pictures. `--resume` continues from the newest burn-train
//! checkpoint.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::prelude::*;
use sparse_autoencoders::data::Activations;
use sparse_autoencoders::{
    evaluate, fit, Architecture, FitOptions, PenaltyTarget, Sae, SaeConfig, TrainConfig,
};
use sparse_losses::{L1Config, PenaltyConfig};

use crate::eval::TestMetrics;
use crate::idx::{Mnist, Split};
use crate::settings::{Arch, PenaltyName, Settings};
use crate::train::{device_for, write_atomic, EpochRecord, RunReport};
use crate::AppError;

/// The settings file of a library run.
pub const SETTINGS: &str = "settings.json";

fn lib_err(e: sparse_autoencoders::Error) -> AppError {
    AppError::Setting(e.to_string())
}

/// The library's SAE definition for `settings` (d = input width).
pub fn sae_config(settings: &Settings, d: usize) -> Result<SaeConfig, AppError> {
    let h = settings.hidden;
    let k = settings.k;
    let lambda = settings.lambda;
    let architecture = match settings.arch {
        Arch::Relu => Architecture::Relu,
        Arch::Topk => Architecture::TopK { k },
        Arch::Omp => Architecture::Omp { k },
        Arch::Batchtopk => Architecture::BatchTopK { k },
        Arch::Matryoshka => Architecture::Matryoshka {
            k,
            prefixes: [h / 8, h / 4, h / 2].into_iter().filter(|&p| p > 0).fold(
                Vec::new(),
                |mut v, p| {
                    if v.last().is_none_or(|&l| p > l) && p < h {
                        v.push(p);
                    }
                    v
                },
            ),
        },
        Arch::Jumprelu => Architecture::JumpRelu {
            lambda,
            threshold_init: 0.3,
            bandwidth: 0.05,
        },
        Arch::Gated => Architecture::Gated { lambda },
        Arch::L0 => Architecture::HardConcrete {
            lambda,
            beta: 2.0 / 3.0,
        },
    };
    let (penalty, target) = match settings.penalty {
        PenaltyName::None => (None, PenaltyTarget::Codes),
        PenaltyName::L1 => (
            Some(PenaltyConfig::L1(L1Config::new().with_lambda(lambda))),
            PenaltyTarget::Codes,
        ),
        PenaltyName::L1Dec => (
            Some(PenaltyConfig::L1(L1Config::new().with_lambda(lambda))),
            PenaltyTarget::DecoderWeightedCodes,
        ),
        other => {
            return Err(AppError::Setting(format!(
                "--penalty {} is not available with --arch {} or --data (use l1 or l1-dec)",
                other.name(),
                settings.arch.name()
            )))
        }
    };
    let config = SaeConfig::new(d, h)
        .with_architecture(architecture)
        .with_penalty(penalty)
        .with_penalty_target(target)
        .with_unit_norm_decoder(settings.arch == Arch::Gated)
        .with_aux_k(settings.aux_k)
        .with_seed(settings.seed);
    config.validate().map_err(lib_err)?;
    Ok(config)
}

/// Reads `--data FILE` (`.npy`, `.safetensors`, or `FILE.safetensors:NAME`) as a data set:
/// the last 10% of the rows (at least one) are the test split. Each row is shown as a
/// `1 × d` "image".
pub fn load_rows(path: &Path) -> Result<Mnist, AppError> {
    let text = path.to_string_lossy();
    let (file, name) = match text.rsplit_once(".safetensors:") {
        Some((stem, name)) => (PathBuf::from(format!("{stem}.safetensors")), Some(name)),
        None => (path.to_path_buf(), None),
    };
    let acts = Activations::load(&file, name).map_err(|e| AppError::Setting(e.to_string()))?;
    if acts.rows < 2 {
        return Err(AppError::Setting(format!(
            "{}: {} row(s); at least 2 are needed (one to train, one to test)",
            file.display(),
            acts.rows
        )));
    }
    let d = acts.dim;
    let n_test = (acts.rows / 10).max(1);
    let n_train = acts.rows - n_test;
    let split = |values: &[f32], n: usize| Split {
        images: values.to_vec(),
        labels: vec![0; n],
        n,
        rows: 1,
        cols: d,
    };
    Ok(Mnist {
        train: split(&acts.values[..n_train * d], n_train),
        test: split(&acts.values[n_train * d..], n_test),
    })
}

/// The epoch of the newest burn-train checkpoint in `dir/burn/checkpoint`.
pub fn latest_epoch(dir: &Path) -> Option<usize> {
    std::fs::read_dir(dir.join("burn").join("checkpoint"))
        .ok()?
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_prefix("model-")?
                .strip_suffix(".bpk")?
                .parse()
                .ok()
        })
        .max()
}

/// The saved settings of a library run in `dir`, if it is one.
pub fn saved_settings(dir: &Path) -> Option<Result<Settings, AppError>> {
    let path = dir.join(SETTINGS);
    let bytes = std::fs::read(&path).ok()?;
    Some(serde_json::from_slice(&bytes).map_err(|source| AppError::Json { path, source }))
}

/// Trains (or resumes) `settings` on `data` in `dir` with the library; returns the model and
/// the report.
pub fn run(
    settings: &Settings,
    data: &Mnist,
    dir: &Path,
    resume: bool,
    quiet: bool,
) -> Result<(Sae, RunReport), AppError> {
    let d = data.train.dim();
    let config = sae_config(settings, d)?;
    let device = device_for(settings.backend)?.autodiff();
    let json = serde_json::to_vec_pretty(settings).expect("settings serialise");
    write_atomic(&dir.join(SETTINGS), &json)?;
    let done = if resume {
        latest_epoch(dir).unwrap_or(0)
    } else {
        0
    };
    let sae = config
        .init_with_data(&data.train.images, &device)
        .map_err(lib_err)?;
    let train = TrainConfig::new()
        .with_epochs(settings.epochs)
        .with_batch_size(settings.batch_size)
        .with_learning_rate(settings.lr)
        .with_seed(settings.seed);
    let options = FitOptions {
        resume_from: (done > 0).then_some(done),
        renderer: Some(Box::new(crate::burn_progress::BurnProgress::new(quiet))),
        ..FitOptions::default()
    };
    let mut history: Vec<EpochRecord> = if resume {
        read_history(dir)
    } else {
        Vec::new()
    };
    history.truncate(done);
    let out = fit(
        sae,
        Arc::new(data.train.images.clone()),
        Arc::new(data.test.images.clone()),
        &train,
        &dir.join("burn"),
        options,
    )
    .map_err(|e| AppError::Backend(e.to_string()))?;
    for r in &out.epochs {
        if !r.loss.is_finite() {
            return Err(AppError::Diverged {
                epoch: r.epoch,
                value: r.loss,
            });
        }
        history.push(EpochRecord {
            epoch: r.epoch,
            train_loss: r.loss,
            train_recon: r.reconstruction,
            train_l0: r.l0,
            seconds: r.seconds,
        });
    }
    write_atomic(
        &dir.join("history.json"),
        &serde_json::to_vec_pretty(&history).expect("records serialise"),
    )?;
    let model = out.model;
    let eval_device = device.clone().without_autodiff();
    let model = model.to_device(&eval_device);
    let test = evaluate(&model, &data.test.images, 1000, &eval_device).map_err(lib_err)?;
    let train_m = evaluate(&model, &data.train.images, 1000, &eval_device).map_err(lib_err)?;
    let report = RunReport {
        settings: settings.clone(),
        device: format!("{eval_device:?}"),
        epochs: history,
        test: TestMetrics {
            mse: test.mse,
            explained_variance: test.explained_variance,
            l0: test.l0,
            dead_fraction: train_m.dead_fraction,
            gamma: test.gamma,
            hoyer: test.hoyer,
        },
        mask_sparsity: None,
        resumed_from: done,
    };
    Ok((model, report))
}

fn read_history(dir: &Path) -> Vec<EpochRecord> {
    std::fs::read(dir.join("history.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}
