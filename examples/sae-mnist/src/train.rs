//! The training loop, the objective, checkpoints and resuming.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::{Int, TensorData};
use serde::{Deserialize, Serialize};
use sparse_losses::prelude::*;
use sparse_losses::{AnyPenalty, Penalty, PenaltyConfig};

use crate::error::{io, AppError};
use crate::eval::{evaluate, TestMetrics};
use crate::idx::Mnist;
use crate::model::{Activation, Sae};
use crate::progress::Progress;
use crate::rng::epoch_order;
use crate::settings::{Arch, BackendKind, PenaltyName, Settings};

/// One epoch's record in `metrics.json` and in the checkpoints.
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

/// What a checkpoint records besides the model and optimiser: `state.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckpointState {
    /// Format version of this file.
    pub format: u32,
    /// Epochs completed.
    pub epoch: usize,
    /// The run's settings (the backend of the last session that trained it).
    pub settings: Settings,
    /// One record per completed epoch.
    pub history: Vec<EpochRecord>,
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
    /// Metrics on the test split.
    pub test: TestMetrics,
    /// Fraction of encoder weights the mask removes, when there is a mask.
    pub mask_sparsity: Option<f64>,
    /// Epoch the run resumed from (0 for a fresh run).
    pub resumed_from: usize,
}

/// The device for a backend.
pub fn device_for(kind: BackendKind) -> Result<Device, AppError> {
    match kind {
        BackendKind::Flex => Ok(Device::flex()),
        #[allow(deprecated)]
        BackendKind::Ndarray => Ok(Device::ndarray()),
        BackendKind::Wgpu => wgpu_device(),
    }
}

#[cfg(feature = "wgpu")]
fn wgpu_device() -> Result<Device, AppError> {
    // Adapter discovery can panic inside wgpu on some systems: report it as "no adapter".
    match std::panic::catch_unwind(|| Device::wgpu_options().init()) {
        Ok(Ok(device)) => Ok(device),
        Ok(Err(e)) => Err(AppError::Backend(format!(
            "no wgpu adapter ({e}); on a machine without a GPU install Mesa's lavapipe \
             (Debian: mesa-vulkan-drivers)"
        ))),
        Err(_) => Err(AppError::Backend(
            "wgpu panicked while looking for an adapter".into(),
        )),
    }
}

#[cfg(not(feature = "wgpu"))]
fn wgpu_device() -> Result<Device, AppError> {
    Err(AppError::Backend(
        "this build has no wgpu backend; rebuild with `cargo run --release -p sae-mnist \
         --features wgpu -- --backend wgpu`"
            .into(),
    ))
}

/// The training objective: reconstruction plus the chosen penalties.
pub struct Objective {
    penalty: PenaltyName,
    on_codes: Option<AnyPenalty>,
    tv: Option<AnyPenalty>,
    image: (usize, usize),
}

impl Objective {
    /// Builds the penalties of `settings` for images of `rows × cols` pixels.
    pub fn new(settings: &Settings, rows: usize, cols: usize) -> Result<Self, AppError> {
        let lambda = settings.lambda;
        let config = match settings.penalty {
            PenaltyName::None => None,
            PenaltyName::L1 | PenaltyName::L1Dec => {
                Some(PenaltyConfig::L1(L1Config::new().with_lambda(lambda)))
            }
            PenaltyName::ElasticNet => Some(PenaltyConfig::ElasticNet(
                ElasticNetConfig::new().with_lambda(lambda),
            )),
            PenaltyName::Hoyer => Some(PenaltyConfig::Hoyer(
                HoyerConfig::new().with_lambda(lambda).with_per_row(true),
            )),
            PenaltyName::Kl => Some(PenaltyConfig::KlSparsity(
                KlSparsityConfig::new()
                    .with_beta(lambda)
                    .with_target(settings.kl_target),
            )),
            PenaltyName::Entropy => Some(PenaltyConfig::Entropy(
                EntropyConfig::new().with_lambda(lambda),
            )),
            PenaltyName::SpikeAndSlab => Some(PenaltyConfig::SpikeAndSlab(
                SpikeAndSlabConfig::new().with_lambda(lambda),
            )),
            PenaltyName::GroupLasso => Some(PenaltyConfig::GroupLasso(
                GroupLassoConfig::new().with_lambda(lambda).with_axis(1),
            )),
        };
        let on_codes = config.map(|c| c.init()).transpose()?;
        let tv = if settings.tv > 0.0 {
            Some(
                PenaltyConfig::TotalVariation(TotalVariationConfig::new().with_lambda(settings.tv))
                    .init()?,
            )
        } else {
            None
        };
        Ok(Self {
            penalty: settings.penalty,
            on_codes,
            tv,
            image: (rows, cols),
        })
    }

    /// The penalty terms for a batch with codes `f` (`[batch, h]`); `[1]`.
    pub fn penalty(&self, model: &Sae, f: &Tensor<2>) -> Result<Option<Tensor<1>>, AppError> {
        let mut total: Option<Tensor<1>> = None;
        if let Some(p) = &self.on_codes {
            let term = match self.penalty {
                PenaltyName::None => unreachable!("no penalty object without a penalty"),
                // Penalties on the codes, on the scale of the loss: the mean over the batch of
                // the per-image value. `per_example` divides the sums (L1, elastic net) by the
                // batch size and leaves the means over rows and batch statistics as they are.
                PenaltyName::L1
                | PenaltyName::ElasticNet
                | PenaltyName::Hoyer
                | PenaltyName::Entropy
                | PenaltyName::Kl => p.per_example(p.forward(f.clone())?, f.dims()),
                PenaltyName::L1Dec => {
                    let weighted = f.clone() * model.atom_norms().unsqueeze::<2>();
                    p.per_example(p.forward(weighted)?, f.dims())
                }
                // Penalties on the weights, which do not depend on the batch.
                PenaltyName::SpikeAndSlab => {
                    p.forward(model.w_enc.val())? + p.forward(model.w_dec.val())?
                }
                PenaltyName::GroupLasso => p.forward(model.w_enc.val())?,
            };
            total = Some(term);
        }
        if let Some(tv) = &self.tv {
            let (rows, cols) = self.image;
            let atoms = model.w_dec.val().reshape([model.hidden(), rows, cols]);
            let term = tv.forward(atoms)?;
            total = Some(match total {
                Some(t) => t + term,
                None => term,
            });
        }
        Ok(total)
    }
}

/// The activation of `settings`.
pub fn activation(settings: &Settings) -> Activation {
    match (settings.arch, settings.penalty) {
        (Arch::Topk, _) => Activation::TopK(settings.k),
        (Arch::Omp, _) => Activation::Omp(settings.k),
        (Arch::Relu, PenaltyName::Kl) => Activation::Sigmoid,
        (Arch::Relu, _) => Activation::Relu,
        // Trained by the sparse-autoencoders library (see `library.rs`), never by this loop.
        _ => Activation::TopK(settings.k),
    }
}

fn adam() -> ModuleOptimizer {
    // PyTorch's ε, as in the reference recipe (Burn's default is 1e-5).
    AdamConfig::new().with_epsilon(1e-8).init()
}

/// Where a run's files go.
#[derive(Debug, Clone)]
pub struct RunDir {
    /// The output folder.
    pub root: PathBuf,
}

impl RunDir {
    /// The folder of the checkpoint after `epoch`.
    pub fn checkpoint(&self, epoch: usize) -> PathBuf {
        self.root
            .join("checkpoints")
            .join(format!("epoch-{epoch:04}"))
    }

    /// The newest complete checkpoint: the highest `epoch-NNNN` folder with a `state.json`
    /// (folders still being written carry a `.tmp` suffix and are ignored).
    pub fn latest_checkpoint(&self) -> Option<(usize, PathBuf)> {
        let entries = std::fs::read_dir(self.root.join("checkpoints")).ok()?;
        entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let epoch: usize = name.strip_prefix("epoch-")?.parse().ok()?;
                e.path()
                    .join("state.json")
                    .is_file()
                    .then(|| (epoch, e.path()))
            })
            .max_by_key(|(epoch, _)| *epoch)
    }

    /// Whether the folder already holds a run.
    pub fn in_use(&self) -> bool {
        self.root.join("metrics.json").exists()
            || self.root.join("checkpoints").exists()
            || self.root.join(crate::library::SETTINGS).exists()
    }
}

fn record_err(path: &Path, e: impl std::fmt::Display) -> AppError {
    AppError::Record {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, then a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), AppError> {
    let tmp = path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

/// Saves model, optimiser and state into `checkpoints/epoch-NNNN/` atomically: everything
/// goes into `epoch-NNNN.tmp/` first, which is renamed when complete; older checkpoints are
/// removed only after that.
fn save_checkpoint(
    dir: &RunDir,
    model: &Sae,
    optim: &ModuleOptimizer,
    state: &CheckpointState,
) -> Result<(), AppError> {
    let final_dir = dir.checkpoint(state.epoch);
    let tmp = final_dir.with_extension("tmp");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
    }
    std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    let model_path = tmp.join("model.bpk");
    model
        .clone()
        .save_file(&model_path)
        .map_err(|e| record_err(&model_path, e))?;
    let optim_path = tmp.join("optim.bpk");
    optim
        .save(&optim_path)
        .map_err(|e| record_err(&optim_path, e))?;
    let state_path = tmp.join("state.json");
    let json = serde_json::to_vec_pretty(state).expect("state serialises");
    std::fs::write(&state_path, json).map_err(io(&state_path))?;
    if final_dir.exists() {
        std::fs::remove_dir_all(&final_dir).map_err(io(&final_dir))?;
    }
    std::fs::rename(&tmp, &final_dir).map_err(io(&final_dir))?;
    // Only now drop the older ones.
    if let Ok(entries) = std::fs::read_dir(final_dir.parent().expect("has a parent")) {
        for e in entries.filter_map(|e| e.ok()) {
            let p = e.path();
            if p != final_dir {
                let _ = std::fs::remove_dir_all(&p);
            }
        }
    }
    Ok(())
}

/// Reads `state.json` of a checkpoint folder.
pub fn read_state(checkpoint: &Path) -> Result<CheckpointState, AppError> {
    let path = checkpoint.join("state.json");
    let bytes = std::fs::read(&path).map_err(io(&path))?;
    serde_json::from_slice(&bytes).map_err(|source| AppError::Json { path, source })
}

/// Something that hears about the run's progress (the binary prints it).
pub trait Observer {
    /// A run starts (or resumes) at `start_epoch` of `epochs`.
    fn start(&mut self, _settings: &Settings, _start_epoch: usize, _n_train: usize) {}
    /// A step finished: `done` of `total` batches of the current epoch.
    fn step(&mut self, _epoch: usize, _done: usize, _total: usize, _loss: f64, _l0: f64) {}
    /// An epoch finished and its checkpoint is saved.
    fn epoch(&mut self, _record: &EpochRecord, _epochs: usize) {}
}

impl Observer for Progress {
    fn start(&mut self, _settings: &Settings, start_epoch: usize, _n: usize) {
        if start_epoch > 0 {
            self.line(&format!("resuming after epoch {start_epoch}"));
        }
    }
    fn step(&mut self, epoch: usize, done: usize, total: usize, loss: f64, l0: f64) {
        self.update(epoch, done, total, loss, l0);
    }
    fn epoch(&mut self, r: &EpochRecord, epochs: usize) {
        self.line(&format!(
            "epoch {:>3}/{epochs}  loss {:>9.4}  recon {:>9.4}  L0 {:>6.1}  {:.2} s",
            r.epoch, r.train_loss, r.train_recon, r.train_l0, r.seconds
        ));
    }
}

/// The model and optimiser at the start of a session: fresh, or from the latest checkpoint.
fn starting_point(
    settings: &Settings,
    data: &Mnist,
    dir: &RunDir,
    resume: bool,
    device: &Device,
) -> Result<(Sae, ModuleOptimizer, Vec<EpochRecord>), AppError> {
    let d = data.train.dim();
    let model = Sae::init(
        d,
        settings.hidden,
        &data.train.mean_image(),
        activation(settings),
        settings.mask_density,
        settings.seed,
        device,
    )?;
    let optim = adam();
    if !resume {
        return Ok((model, optim, Vec::new()));
    }
    let (_, ckpt) = dir
        .latest_checkpoint()
        .ok_or_else(|| AppError::NoCheckpoint(dir.root.clone()))?;
    let state = read_state(&ckpt)?;
    let model_path = ckpt.join("model.bpk");
    let model = model
        .try_load_file(&model_path)
        .map_err(|e| record_err(&model_path, e))?;
    // Burn materialises optimiser state on `Device::default()` and moves it on the next
    // step; point the default at the training backend so that nothing else is initialised.
    if std::env::var_os("BURN_DEVICE").is_none() {
        std::env::set_var("BURN_DEVICE", settings.backend.name());
    }
    let optim_path = ckpt.join("optim.bpk");
    let optim = optim
        .load(&optim_path)
        .map_err(|e| record_err(&optim_path, e))?;
    Ok((model, optim, state.history))
}

/// Trains (or resumes) a run in `dir` and writes its checkpoints; returns the trained model
/// on the training device and the history.
pub fn train(
    settings: &Settings,
    data: &Mnist,
    dir: &RunDir,
    resume: bool,
    observer: &mut dyn Observer,
) -> Result<(Sae, Vec<EpochRecord>, usize), AppError> {
    settings.validate()?;
    let base = device_for(settings.backend)?;
    let device = base.clone().autodiff();
    let (mut model, mut optim, mut history) = starting_point(settings, data, dir, resume, &device)?;
    let start_epoch = history.len();
    let objective = Objective::new(settings, data.train.rows, data.train.cols)?;
    let train = &data.train;
    let (n, d) = (train.n, train.dim());
    observer.start(settings, start_epoch, n);
    // The whole training split lives on the device; batches are gathered from it.
    let all = Tensor::<2>::from_data(TensorData::new(train.images.clone(), [n, d]), &device);
    let steps = n.div_ceil(settings.batch_size);
    for epoch in start_epoch..settings.epochs {
        let order = epoch_order(n, settings.seed, epoch);
        let started = Instant::now();
        let (mut sum_loss, mut sum_recon, mut sum_l0) = (0.0, 0.0, 0.0);
        for (step, chunk) in order.chunks(settings.batch_size).enumerate() {
            let b = chunk.len();
            let ids: Vec<i64> = chunk.iter().map(|&i| i as i64).collect();
            let idx = Tensor::<1, Int>::from_data(TensorData::new(ids, [b]), &device);
            let x = all.clone().select(0, idx);
            let f = model.encode(x.clone());
            let x_hat = model.decode(f.clone());
            let recon = (x_hat - x).square().sum().div_scalar(b as f64);
            let loss = match objective.penalty(&model, &f)? {
                Some(p) => recon.clone() + p,
                None => recon.clone(),
            };
            let l0 = f
                .detach()
                .not_equal_elem(0.0)
                .float()
                .sum()
                .div_scalar(b as f64);
            let stats = Tensor::cat(vec![loss.clone().detach(), recon.detach(), l0], 0)
                .try_into_vec_as::<f64>()
                .expect("three finite floats");
            let (loss_v, recon_v, l0_v) = (stats[0], stats[1], stats[2]);
            if !loss_v.is_finite() {
                return Err(AppError::Diverged {
                    epoch: epoch + 1,
                    value: loss_v,
                });
            }
            sum_loss += loss_v * b as f64;
            sum_recon += recon_v * b as f64;
            sum_l0 += l0_v * b as f64;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(settings.lr, model, grads).renormalize();
            observer.step(epoch + 1, step + 1, steps, loss_v, l0_v);
        }
        base.sync()
            .map_err(|e| AppError::Backend(format!("device sync failed: {e:?}")))?;
        let record = EpochRecord {
            epoch: epoch + 1,
            train_loss: sum_loss / n as f64,
            train_recon: sum_recon / n as f64,
            train_l0: sum_l0 / n as f64,
            seconds: started.elapsed().as_secs_f64(),
        };
        history.push(record.clone());
        let state = CheckpointState {
            format: 1,
            epoch: epoch + 1,
            settings: settings.clone(),
            history: history.clone(),
        };
        save_checkpoint(dir, &model, &optim, &state)?;
        observer.epoch(&record, settings.epochs);
    }
    Ok((model, history, start_epoch))
}

/// Trains, evaluates and returns the report (the binary then writes the outputs).
pub fn run(
    settings: &Settings,
    data: &Mnist,
    dir: &RunDir,
    resume: bool,
    observer: &mut dyn Observer,
) -> Result<(Sae, RunReport), AppError> {
    let (model, history, start) = train(settings, data, dir, resume, observer)?;
    let model = model.valid();
    let test = evaluate(&model, data)?;
    let mask_sparsity = model.mask.as_ref().map(|m| m.sparsity());
    let report = RunReport {
        settings: settings.clone(),
        device: format!("{:?}", model.b_dec.val().device()),
        epochs: history,
        test,
        mask_sparsity,
        resumed_from: start,
    };
    Ok((model, report))
}
