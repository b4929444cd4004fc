//! A run folder: what marks it as used, its settings file, atomic writes, and where a resumed
//! run starts.
//!
//! A run folder holds `settings.json` (written first), burn-train's files under `burn/` (its
//! logs, and `burn/checkpoint/{model,optim,scheduler}-N.bpk` after every epoch),
//! `history.json` (the epochs so far), then `metrics.json` and the pictures. `--resume`
//! continues from the newest burn-train checkpoint.

use std::path::{Path, PathBuf};

use crate::error::{io, AppError};
use crate::settings::Settings;

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
