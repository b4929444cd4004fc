//! Training a run with the sparse-autoencoders library on burn-train, its files, and resuming.
//!
//! A run folder holds `settings.json` (written first), burn-train's files under `burn/` (its
//! logs, and `burn/checkpoint/{model,optim,scheduler}-N.bpk` after every epoch),
//! `history.json` (the epochs so far), then `metrics.json` and the pictures. `--resume`
//! continues from the newest burn-train checkpoint.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::module::Module;
use burn::prelude::*;
use burn::tensor::distributed::{DistributedConfig, ReduceOperation};
use burn::train::{ExecutionStrategy, MultiDeviceOptim};
use serde::{Deserialize, Serialize};
use sparse_autoencoders::data::{Activations, Mnist, Split};
use sparse_autoencoders::{
    arch, evaluate, finetune_decoder, fit, Architecture, FinetuneConfig, FitOptions, PenaltyTarget,
    Sae, SaeConfig, SaeMetrics, TrainConfig,
};
use sparse_losses::{
    ElasticNetConfig, EntropyConfig, GroupLassoConfig, HoyerConfig, KlSparsityConfig, L1Config,
    LogSumConfig, LpConfig, McpConfig, PAnnealConfig, PenaltyConfig, ScadConfig,
    SpikeAndSlabConfig, TanhConfig, TotalVariationConfig,
};

use crate::error::{io, AppError};
use crate::settings::{Arch, BackendKind, PenaltyName, Settings};

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

/// The device for a backend.
pub fn device_for(kind: BackendKind) -> Result<Device, AppError> {
    match kind {
        BackendKind::Flex => Ok(Device::flex()),
        #[allow(deprecated)]
        BackendKind::Ndarray => Ok(Device::ndarray()),
        BackendKind::Wgpu => wgpu_device(),
        BackendKind::Cuda => cuda_device(0),
    }
}

/// Device `index` of a backend.
pub fn device_at(kind: BackendKind, index: usize) -> Result<Device, AppError> {
    match kind {
        BackendKind::Cuda => cuda_device(index),
        _ if index == 0 => device_for(kind),
        _ => Err(AppError::Setting(format!(
            "--devices > 1 needs a GPU backend; {} has one device",
            kind.name()
        ))),
    }
}

#[cfg(feature = "cuda")]
fn cuda_device(index: usize) -> Result<Device, AppError> {
    std::panic::catch_unwind(|| Device::cuda(index)).map_err(|_| {
        AppError::Backend(format!(
            "no CUDA device {index} (driver or toolkit missing?)"
        ))
    })
}

#[cfg(not(feature = "cuda"))]
fn cuda_device(_index: usize) -> Result<Device, AppError> {
    Err(AppError::Backend(
        "this build has no CUDA backend; rebuild with `--features cuda`".into(),
    ))
}

/// burn-train's execution strategy for `settings`: one device, several (multi-device), or
/// distributed data parallel.
fn strategy(settings: &Settings) -> Result<Option<ExecutionStrategy>, AppError> {
    if settings.devices == 1 && !settings.ddp {
        return Ok(None);
    }
    let devices = (0..settings.devices)
        .map(|i| device_at(settings.backend, i).map(|d| d.autodiff()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(if settings.ddp {
        ExecutionStrategy::ddp(
            devices,
            DistributedConfig {
                all_reduce_op: ReduceOperation::Mean,
            },
        )
    } else {
        ExecutionStrategy::multi(devices, MultiDeviceOptim::OptimMainDevice)
    }))
}

/// The wgpu device, set up once per process (a second set-up fails in CubeCL with "Service
/// already initialized"), so that the preflight check and the run share it.
#[cfg(feature = "wgpu")]
fn wgpu_device() -> Result<Device, AppError> {
    static DEVICE: std::sync::OnceLock<Result<Device, String>> = std::sync::OnceLock::new();
    DEVICE
        .get_or_init(|| {
            // Adapter discovery can panic inside wgpu on some systems: "no adapter" too.
            match std::panic::catch_unwind(|| Device::wgpu_options().init()) {
                Ok(Ok(device)) => Ok(device),
                Ok(Err(e)) => Err(format!(
                    "no wgpu adapter ({e}); on a machine without a GPU install Mesa's \
                     lavapipe (Debian: mesa-vulkan-drivers)"
                )),
                Err(_) => Err("wgpu panicked while looking for an adapter".into()),
            }
        })
        .clone()
        .map_err(AppError::Backend)
}

#[cfg(not(feature = "wgpu"))]
fn wgpu_device() -> Result<Device, AppError> {
    Err(AppError::Backend(
        "this build has no wgpu backend; rebuild with `cargo run --release -p sae-mnist \
         --features wgpu -- --backend wgpu`"
            .into(),
    ))
}

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, then a rename; the
/// temporary file is removed when either fails.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), AppError> {
    let tmp = path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    // On failure (a full disk, a read-only folder) no temporary file is left behind.
    if let Err(e) = std::fs::write(&tmp, bytes) {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(&tmp)(e));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(path)(e)
    })
}

/// Where a run's files go.
#[derive(Debug, Clone)]
pub struct RunDir {
    /// The output folder.
    pub root: PathBuf,
}

impl RunDir {
    /// Whether the folder already holds a run.
    pub fn in_use(&self) -> bool {
        ["metrics.json", SETTINGS, "burn", "checkpoints"]
            .iter()
            .any(|f| self.root.join(f).exists())
    }
}

/// The settings file of a library run.
pub const SETTINGS: &str = "settings.json";

fn lib_err(e: sparse_autoencoders::Error) -> AppError {
    AppError::Setting(e.to_string())
}

/// A fingerprint of the data (FNV-1a, 64 bits, of the shapes and the values' bits of both
/// splits, as hexadecimal): equal data give equal fingerprints on every platform.
pub fn fingerprint(data: &Mnist) -> String {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |word: u64| {
        h ^= word;
        h = h.wrapping_mul(PRIME);
    };
    for split in [&data.train, &data.test] {
        for dim in [split.n, split.rows, split.cols] {
            eat(dim as u64);
        }
        for v in &split.images {
            eat(u64::from(v.to_bits()));
        }
    }
    format!("{h:016x}")
}

/// Refuses, before any output is written, a model of `settings` on `data` that is invalid or
/// would not fit in memory: the SAE's weights (always drawn on the host), and a whole training
/// run on the CPU backends (the library checks both again; here nothing has been created yet);
/// and a backend with no device.
pub fn preflight(settings: &Settings, data: &Mnist) -> Result<(), AppError> {
    use sparse_autoencoders::memory;
    let config = sae_config(
        settings,
        data.train.dim(),
        [data.train.rows, data.train.cols],
        data.train.n,
    )?;
    memory::check("the SAE's weights", 2 * memory::parameter_bytes(&config)).map_err(lib_err)?;
    // Values the training cannot use (a scale far from 1): refused before the folder exists.
    let d = data.train.dim();
    let source = settings.data_file.as_ref().unwrap_or(&settings.data_dir);
    for (what, rows) in [
        ("training data", &data.train.images),
        ("test data", &data.test.images),
    ] {
        sparse_autoencoders::check_training_rows(what, rows, d)
            .map_err(|e| AppError::Setting(format!("{}: {e}", source.display())))?;
    }
    // A missing GPU (no wgpu adapter, no CUDA device) is found before the folder exists too.
    for index in 0..settings.devices.max(1) {
        device_at(settings.backend, index)?;
    }
    if matches!(settings.backend, BackendKind::Flex | BackendKind::Ndarray) {
        let needed = memory::training_bytes(&config, settings.batch_size);
        memory::check("training", needed).map_err(lib_err)?;
    }
    Ok(())
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

/// The library's SAE definition for `settings`; `image` is the `[rows, cols]` of the data
/// (`rows = 1` for activations from a file); `n_train` training rows (the length of
/// `lp-anneal`'s schedule).
pub fn sae_config(
    settings: &Settings,
    d: usize,
    image: [usize; 2],
    n_train: usize,
) -> Result<SaeConfig, AppError> {
    let h = settings.hidden;
    let k = settings.k;
    let lambda = settings.lambda;
    let architecture = match settings.arch {
        Arch::Relu if settings.penalty == PenaltyName::Kl => {
            Architecture::Sigmoid(arch::SigmoidConfig {})
        }
        Arch::Relu => Architecture::Relu(arch::ReluConfig {}),
        Arch::Topk => Architecture::TopK(arch::TopKConfig { k }),
        Arch::Omp => Architecture::Omp(arch::OmpConfig { k }),
        Arch::Batchtopk => Architecture::BatchTopK(arch::BatchTopKConfig { k }),
        Arch::Matryoshka => Architecture::Matryoshka(arch::MatryoshkaConfig {
            k,
            prefixes: [h / 8, h / 4, h / 2]
                .into_iter()
                .filter(|&p| p > 0 && p < h)
                .fold(Vec::new(), |mut v, p| {
                    if v.last().is_none_or(|&l| p > l) {
                        v.push(p);
                    }
                    v
                }),
        }),
        Arch::Jumprelu => Architecture::JumpRelu(arch::JumpReluConfig {
            lambda,
            threshold_init: settings.threshold_init.unwrap_or(0.3),
            bandwidth: 0.05,
        }),
        Arch::Gated => Architecture::Gated(arch::GatedConfig { lambda }),
        Arch::L0 => Architecture::HardConcrete(arch::HardConcreteConfig {
            lambda,
            beta: 2.0 / 3.0,
        }),
    };
    use PenaltyTarget::{Codes, DecoderWeightedCodes, EncoderWeights, Weights};
    let (penalty, target) = match settings.penalty {
        PenaltyName::None => (None, Codes),
        PenaltyName::L1 => (
            Some(PenaltyConfig::L1(L1Config::new().with_lambda(lambda))),
            Codes,
        ),
        PenaltyName::L1Dec => (
            Some(PenaltyConfig::L1(L1Config::new().with_lambda(lambda))),
            DecoderWeightedCodes,
        ),
        PenaltyName::ElasticNet => (
            Some(PenaltyConfig::ElasticNet(
                ElasticNetConfig::new().with_lambda(lambda),
            )),
            Codes,
        ),
        PenaltyName::Hoyer => (
            Some(PenaltyConfig::Hoyer(
                HoyerConfig::new().with_lambda(lambda).with_per_row(true),
            )),
            Codes,
        ),
        PenaltyName::Kl => (
            Some(PenaltyConfig::KlSparsity(
                KlSparsityConfig::new()
                    .with_beta(lambda)
                    .with_target(settings.kl_target),
            )),
            Codes,
        ),
        PenaltyName::Entropy => (
            Some(PenaltyConfig::Entropy(
                EntropyConfig::new().with_lambda(lambda),
            )),
            Codes,
        ),
        PenaltyName::SpikeAndSlab => (
            Some(PenaltyConfig::SpikeAndSlab(
                SpikeAndSlabConfig::new().with_lambda(lambda),
            )),
            Weights,
        ),
        PenaltyName::GroupLasso => (
            Some(PenaltyConfig::GroupLasso(
                GroupLassoConfig::new().with_lambda(lambda).with_axis(1),
            )),
            EncoderWeights,
        ),
        PenaltyName::Tanh => {
            let c = TanhConfig::new().with_lambda(lambda);
            let c = settings.scale.map_or(c.clone(), |v| c.with_scale(v));
            (Some(PenaltyConfig::Tanh(c)), DecoderWeightedCodes)
        }
        PenaltyName::Logsum => {
            let c = LogSumConfig::new().with_lambda(lambda);
            let c = settings.eps.map_or(c.clone(), |v| c.with_eps(v));
            (Some(PenaltyConfig::LogSum(c)), DecoderWeightedCodes)
        }
        PenaltyName::Lp | PenaltyName::LpAnneal => {
            let c = LpConfig::new()
                .with_lambda(lambda)
                .with_p(settings.p.unwrap_or(0.5));
            let c = settings.eps.map_or(c.clone(), |v| c.with_eps(v));
            (Some(PenaltyConfig::Lp(c)), DecoderWeightedCodes)
        }
        PenaltyName::Scad => (
            Some(PenaltyConfig::Scad(ScadConfig::new().with_lambda(lambda))),
            DecoderWeightedCodes,
        ),
        PenaltyName::Mcp => (
            Some(PenaltyConfig::Mcp(McpConfig::new().with_lambda(lambda))),
            DecoderWeightedCodes,
        ),
    };
    let p_anneal = (settings.penalty == PenaltyName::LpAnneal).then(|| {
        let steps = settings.epochs * n_train.div_ceil(settings.batch_size.max(1));
        PAnnealConfig::new(steps)
            .with_p_start(1.0)
            .with_p_end(settings.p.unwrap_or(0.5))
    });
    let atom_penalty = (settings.tv > 0.0).then(|| {
        PenaltyConfig::TotalVariation(TotalVariationConfig::new().with_lambda(settings.tv))
    });
    if atom_penalty.is_some() && image[0] < 2 {
        return Err(AppError::Setting(
            "--tv needs image data (atoms of at least 2 × 2 pixels), not --data rows".into(),
        ));
    }
    let config = SaeConfig::new(d, h)
        .with_architecture(architecture)
        .with_penalty(penalty)
        .with_penalty_target(target)
        .with_atom_penalty(atom_penalty)
        .with_atom_shape(if settings.tv > 0.0 {
            image.to_vec()
        } else {
            Vec::new()
        })
        .with_encoder_mask_density(settings.mask_density)
        .with_unit_norm_decoder(settings.arch == Arch::Gated)
        .with_aux_k(settings.aux_k)
        .with_penalty_warmup_steps(settings.warmup_steps)
        .with_p_anneal(p_anneal)
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
    Ok(Mnist {
        train: Split::of_rows(&acts.values[..n_train * d], d),
        test: Split::of_rows(&acts.values[n_train * d..], d),
    })
}

/// The epoch of the newest complete burn-train checkpoint of the run in `dir` (see
/// [`sparse_autoencoders::latest_checkpoint`]; the files are not read).
pub fn latest_epoch(dir: &Path) -> Option<usize> {
    sparse_autoencoders::latest_checkpoint(&dir.join("burn"))
}

/// Where a resumed run in `dir` starts: the newest checkpoint that reads back (0: none), and a
/// warning for each newer one skipped (cut short by a crash while it was written).
pub fn resume_point(dir: &Path) -> (usize, Vec<String>) {
    let (epoch, skipped) = sparse_autoencoders::latest_readable_checkpoint(&dir.join("burn"));
    let start = epoch.unwrap_or(0);
    let warnings = skipped
        .iter()
        .map(|e| match e {
            sparse_autoencoders::Error::Checkpoint {
                path,
                epoch,
                reason,
            } => format!(
                "the checkpoint of epoch {epoch} cannot be read ({}: {reason}); resuming from \
                 {}",
                path.display(),
                if start == 0 {
                    "the start".to_string()
                } else {
                    format!("epoch {start}")
                }
            ),
            e => e.to_string(),
        })
        .collect();
    (start, warnings)
}

/// The saved settings of a library run in `dir`, if it is one.
pub fn saved_settings(dir: &Path) -> Option<Result<Settings, AppError>> {
    let path = dir.join(SETTINGS);
    let bytes = std::fs::read(&path).ok()?;
    Some(serde_json::from_slice(&bytes).map_err(|source| AppError::Json { path, source }))
}

/// Trains (or resumes) `settings` on `data` in `dir` with the library; returns the model and
/// the report. `done`: the epochs a resumed run starts after (its checkpoint, from
/// [`resume_point`]); 0 for a fresh run.
pub fn run(
    settings: &Settings,
    data: &Mnist,
    dir: &Path,
    resume: bool,
    done: usize,
    quiet: bool,
) -> Result<(Sae, RunReport), AppError> {
    let d = data.train.dim();
    let config = sae_config(
        settings,
        d,
        [data.train.rows, data.train.cols],
        data.train.n,
    )?;
    let device = device_for(settings.backend)?.autodiff();
    let json = serde_json::to_vec_pretty(settings).expect("settings serialise");
    write_atomic(&dir.join(SETTINGS), &json)?;
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
        // With the `tui` feature, burn-train's own dashboard (it needs a terminal).
        renderer: if cfg!(feature = "tui") && !quiet {
            None
        } else {
            Some(Box::new(crate::burn_progress::BurnProgress::new(quiet)))
        },
        strategy: strategy(settings)?,
    };
    let mut history: Vec<EpochRecord> = if resume {
        // The library's per-epoch file survives a kill (history.json is written at the end).
        let records: Vec<EpochRecord> = sparse_autoencoders::epoch_records(&dir.join("burn"))
            .into_iter()
            .map(|r| EpochRecord {
                epoch: r.epoch,
                train_loss: r.loss,
                train_recon: r.reconstruction,
                train_l0: r.l0,
                seconds: r.seconds,
            })
            .collect();
        if records.len() >= done {
            records
        } else {
            read_history(dir)
        }
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
    .map_err(|e| match e {
        sparse_autoencoders::Error::Diverged { step, loss } => {
            let per_epoch = data.train.n.div_ceil(settings.batch_size).max(1);
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
    let mut model = out.model;
    let eval_device = device.clone().without_autodiff();
    let mut before_finetune = None;
    let mut finetune_seconds = None;
    if settings.finetune_epochs > 0 {
        let before = model.clone().to_device(&eval_device);
        before_finetune =
            Some(evaluate(&before, &data.test.images, 1000, &eval_device).map_err(lib_err)?);
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
            Arc::new(data.train.images.clone()),
            Arc::new(data.test.images.clone()),
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
    let test = evaluate(&model, &data.test.images, 1000, &eval_device).map_err(lib_err)?;
    let train_m = evaluate(&model, &data.train.images, 1000, &eval_device).map_err(lib_err)?;
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

fn read_history(dir: &Path) -> Vec<EpochRecord> {
    std::fs::read(dir.join("history.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}
