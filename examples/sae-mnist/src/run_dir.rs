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

/// The lock file of a run folder: held (an advisory lock, `flock`) for the life of a run, so
/// that a second writer is refused. The OS releases it when the process ends, however it ends:
/// a killed run leaves no stale lock. The file itself stays (removing it would race).
pub const LOCK: &str = ".lock";

impl RunDir {
    /// Locks the folder (which must exist) for this process until the returned file is
    /// dropped, or refuses when another run holds it.
    ///
    /// # Errors
    /// [`AppError::Setting`] when another process holds the lock; [`AppError::Io`] when the
    /// lock file cannot be opened.
    pub fn lock(&self) -> Result<std::fs::File, AppError> {
        let path = self.root.join(LOCK);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io(&path))?;
        match file.try_lock() {
            Ok(()) => Ok(file),
            Err(std::fs::TryLockError::WouldBlock) => Err(AppError::Setting(format!(
                "{} is in use by another sae-mnist run (it holds {LOCK}); wait for it to end, \
                 or choose another --out",
                self.root.display()
            ))),
            Err(std::fs::TryLockError::Error(e)) => Err(io(&path)(e)),
        }
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
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        // Unreadable (permissions, a folder): say so, not "no settings.json".
        Err(e) => return Some(Err(AppError::Io { path, source: e })),
    };
    Some(serde_json::from_slice(&bytes).map_err(|source| AppError::Json { path, source }))
}

/// The epochs of the finished run in `dir` by its results (`metrics.json` with its epochs; not
/// a diverged run's record), whatever its checkpoints say; `None` when it has none.
pub fn finished_epochs(dir: &Path) -> Option<usize> {
    let bytes = std::fs::read(dir.join("metrics.json")).ok()?;
    let metrics: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    metrics.get("epochs")?.as_array().map(Vec::len)
}

/// Removes the temporary files a killed run left in its checkpoint folders (burn-train writes
/// `model-N.bpk.PID-K.tmp` and renames it; a kill between the two leaves it), once the folder
/// is locked for a resumed run. Best effort: what cannot be removed stays.
pub fn remove_stale_temporaries(dir: &Path) {
    for sub in ["burn/checkpoint", "burn-finetune/checkpoint"] {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            if name.to_string_lossy().ends_with(".tmp") && entry.path().is_file() {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}
