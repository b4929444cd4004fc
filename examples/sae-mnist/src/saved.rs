//! A trained SAE read back from where it was saved: a run folder of ours (`sae-mnist` or
//! `sae-mnist model`), a SAELens directory or a sparsify directory.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::prelude::*;
use sparse_autoencoders::data::RowStore;
use sparse_autoencoders::interop::{self, ExternalFormat};
use sparse_autoencoders::{latest_checkpoint, Sae};

use crate::error::AppError;
use crate::model_run::cli::{ModelCli, MODEL_SETTINGS};
use crate::run_dir::SETTINGS;
use crate::settings::Settings;

/// Where an SAE was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SavedKind {
    /// A `sae-mnist` run on MNIST images (`[rows, cols]`).
    Images([usize; 2]),
    /// A `sae-mnist --data` run on rows of a file (the file).
    Rows(PathBuf),
    /// A `sae-mnist model` run (its layer's name).
    Model(String),
    /// A directory of another tool.
    External(ExternalFormat),
}

/// An SAE read back, with its settings when it is a run of ours.
pub struct Saved {
    /// The SAE (on the device asked for).
    pub sae: Sae,
    /// What it is.
    pub kind: SavedKind,
    /// The run's settings (runs of ours).
    pub settings: Option<Settings>,
}

fn load_record(sae: Sae, file: &Path) -> Result<Sae, AppError> {
    let record = burn::store::ModuleRecord::load(file)
        .map_err(|e| AppError::Checkpoint(format!("{}: cannot be read ({e:?})", file.display())))?;
    Ok(sae.load_record(record))
}

/// The SAE of a run of ours in `dir` (its last checkpoint, through its decoder fine-tune when
/// it had one), or of a SAELens or sparsify directory, on `device`.
///
/// # Errors
/// [`AppError::Setting`] for a path that is none of these, a run with no checkpoint (still
/// running, or killed before its first epoch); the readers' errors.
pub fn load_sae(path: &Path, device: &Device) -> Result<Saved, AppError> {
    if !path.is_dir() {
        return Err(AppError::Setting(format!(
            "{}: not a directory (a run folder, a SAELens or a sparsify directory)",
            path.display()
        )));
    }
    if let Some(format) = ExternalFormat::detect(path) {
        let sae = interop::load(path, device).map_err(|e| AppError::Setting(e.to_string()))?;
        return Ok(Saved {
            sae,
            kind: SavedKind::External(format),
            settings: None,
        });
    }
    let (settings, d, image, n_train, kind) = if path.join(MODEL_SETTINGS).is_file() {
        let text = std::fs::read_to_string(path.join(MODEL_SETTINGS)).map_err(|e| {
            AppError::Setting(format!("{}: {e}", path.join(MODEL_SETTINGS).display()))
        })?;
        let cli: ModelCli = serde_json::from_str(&text).map_err(|e| {
            AppError::Setting(format!("{}: {e}", path.join(MODEL_SETTINGS).display()))
        })?;
        let layer = cli.layer.name().to_string();
        let store = RowStore::open(path.join("activations/train").join(&layer))?;
        let mut settings = cli.sae;
        settings.fill_defaults();
        let (d, n) = (store.dim(), store.len());
        (settings, d, [1, d], n, SavedKind::Model(layer))
    } else if path.join(SETTINGS).is_file() {
        let text = std::fs::read_to_string(path.join(SETTINGS))
            .map_err(|e| AppError::Setting(format!("{}: {e}", path.join(SETTINGS).display())))?;
        let mut settings: Settings = serde_json::from_str(&text)
            .map_err(|e| AppError::Setting(format!("{}: {e}", path.join(SETTINGS).display())))?;
        settings.fill_defaults();
        match settings.data_file.clone() {
            Some(file) => {
                let data = crate::data::load_rows(&file)?;
                let (d, n) = (data.dim, data.n_train);
                (settings, d, [1, d], n, SavedKind::Rows(file))
            }
            None => {
                let n = settings.train_limit.unwrap_or(8000);
                (settings, 784, [28, 28], n, SavedKind::Images([28, 28]))
            }
        }
    } else {
        return Err(AppError::Setting(format!(
            "{}: not a run folder (no {SETTINGS} or {MODEL_SETTINGS}), nor a SAELens \
             (sae_weights.safetensors) or sparsify (sae.safetensors) directory",
            path.display()
        )));
    };
    let config = crate::model::sae_config(&settings, d, image, n_train)?;
    let sae = config.init(device).map_err(crate::error::library)?;
    let Some(epoch) = latest_checkpoint(&path.join("burn")) else {
        return Err(AppError::Setting(format!(
            "{}: the run has no checkpoint yet (still training, or stopped before its first \
             epoch)",
            path.display()
        )));
    };
    let mut sae = load_record(
        sae,
        &path
            .join("burn/checkpoint")
            .join(format!("model-{epoch}.bpk")),
    )?;
    if settings.finetune_epochs > 0 {
        if let Some(tuned) = latest_checkpoint(&path.join("burn-finetune")) {
            let start = sae
                .into_decoder_finetune(settings.finetune_scale)
                .map_err(crate::error::library)?;
            sae = load_record(
                start,
                &path
                    .join("burn-finetune/checkpoint")
                    .join(format!("model-{tuned}.bpk")),
            )?
            .finish_decoder_finetune();
        }
    }
    Ok(Saved {
        sae,
        kind,
        settings: Some(settings),
    })
}
