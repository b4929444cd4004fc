//! The checkpoints of [`fit_many_in`](super::fit_many_in): a folder per epoch, written under
//! a temporary name and renamed when complete, so that a kill at any moment leaves either the
//! previous checkpoint or the new one, never half of one.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::{ModuleOptimizer, OptimizerRecord};
use burn::store::ModuleRecord;
use burn::train::checkpoint::Checkpoint;
use serde::{Deserialize, Serialize};

use crate::{Error, Result, Sae};

/// `state.json` of a checkpoint.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(super) struct Saved {
    /// The epochs trained.
    pub epoch: usize,
    /// The models it holds.
    pub models: usize,
    /// Seconds of training so far.
    pub seconds: f64,
}

const STATE: &str = "state.json";

fn epoch_dir(dir: &Path, epoch: usize) -> PathBuf {
    dir.join(format!("epoch-{epoch}"))
}

/// The epoch of a checkpoint folder's name (`epoch-E`; not `epoch-E.tmp`).
fn epoch_of(name: &str) -> Option<usize> {
    name.strip_prefix("epoch-")?.parse().ok()
}

fn failed(path: &Path, epoch: usize, reason: impl ToString) -> Error {
    Error::Checkpoint {
        path: path.to_path_buf(),
        epoch,
        reason: reason.to_string(),
    }
}

/// Writes the checkpoint of `epoch` into `dir`, then removes the older ones.
pub(super) fn save(
    dir: &Path,
    epoch: usize,
    seconds: f64,
    models: &[Sae],
    optims: &[ModuleOptimizer],
) -> Result<()> {
    let tmp = dir.join(format!("epoch-{epoch}.tmp"));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| failed(&tmp, epoch, e))?;
    for (i, (model, optim)) in models.iter().zip(optims).enumerate() {
        let path = tmp.join(format!("model-{i}.bpk"));
        <ModuleRecord as Checkpoint>::save(model.clone().into_record(), path.clone())
            .map_err(|e| failed(&path, epoch, e))?;
        let path = tmp.join(format!("optim-{i}.bpk"));
        <OptimizerRecord as Checkpoint>::save(optim.to_record(), path.clone())
            .map_err(|e| failed(&path, epoch, e))?;
    }
    let state = Saved {
        epoch,
        models: models.len(),
        seconds,
    };
    let path = tmp.join(STATE);
    let json = serde_json::to_vec(&state).expect("the state serialises");
    std::fs::write(&path, json).map_err(|e| failed(&path, epoch, e))?;
    let done = epoch_dir(dir, epoch);
    let _ = std::fs::remove_dir_all(&done);
    std::fs::rename(&tmp, &done).map_err(|e| failed(&done, epoch, e))?;
    remove_except(dir, Some(epoch));
    Ok(())
}

/// Removes the checkpoint folders of `dir` other than `keep`'s, complete or not.
fn remove_except(dir: &Path, keep: Option<usize>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let complete = epoch_of(name);
        let partial = name.strip_suffix(".tmp").and_then(epoch_of).is_some();
        if partial || (complete.is_some() && complete != keep) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The newest complete checkpoint in `dir`, loaded into `models` and `optims`; `None` when
/// there is none. Temporary folders of a kill are removed.
pub(super) fn restore(
    dir: &Path,
    models: &mut [Sae],
    optims: &mut [ModuleOptimizer],
) -> Result<Option<Saved>> {
    let newest = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(epoch_of))
        .filter(|&e| epoch_dir(dir, e).join(STATE).is_file())
        .max();
    remove_except(dir, newest);
    let Some(epoch) = newest else {
        return Ok(None);
    };
    let folder = epoch_dir(dir, epoch);
    let path = folder.join(STATE);
    let bytes = std::fs::read(&path).map_err(|e| failed(&path, epoch, e))?;
    let saved: Saved = serde_json::from_slice(&bytes).map_err(|e| failed(&path, epoch, e))?;
    if saved.models != models.len() || saved.epoch != epoch {
        return Err(failed(
            &path,
            epoch,
            format!(
                "it holds {} models of epoch {}, not {} of epoch {epoch}: the checkpoint of \
                 another run",
                saved.models,
                saved.epoch,
                models.len()
            ),
        ));
    }
    for (i, (model, optim)) in models.iter_mut().zip(optims.iter_mut()).enumerate() {
        let path = folder.join(format!("model-{i}.bpk"));
        let record = <ModuleRecord as Checkpoint>::load(path.clone())
            .map_err(|e| failed(&path, epoch, e))?;
        *model = model
            .clone()
            .try_load_record(record)
            .map_err(|e| Error::CheckpointMismatch {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        let path = folder.join(format!("optim-{i}.bpk"));
        let record = <OptimizerRecord as Checkpoint>::load(path.clone())
            .map_err(|e| failed(&path, epoch, e))?;
        *optim = optim.clone().load_record(record);
    }
    Ok(Some(saved))
}
