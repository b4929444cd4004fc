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

/// The files and folders a run writes into its folder (its pictures come last, after a
/// checkpoint): what [`Created::discard`] removes from a folder that was there before a run.
pub const RUN_FILES: [&str; 6] = [
    SETTINGS,
    "burn",
    "burn-finetune",
    "history.json",
    "metrics.json",
    LOCK,
];

/// A run folder as a fresh run made it: which folders did not exist before, so that a run
/// that fails before its first checkpoint leaves no folder behind ([`Created::discard`]).
#[derive(Debug)]
pub struct Created {
    root: PathBuf,
    /// The outermost folder the run created (`--out a/b/run` with only `a` there: `a/b`);
    /// `None` when the folder existed.
    top: Option<PathBuf>,
}

impl RunDir {
    /// Creates the folder and the folders above it that are missing.
    ///
    /// # Errors
    /// [`AppError::Io`] when a folder cannot be created.
    pub fn create(&self) -> Result<Created, AppError> {
        let top = self
            .root
            .ancestors()
            .take_while(|a| !a.as_os_str().is_empty() && a.symlink_metadata().is_err())
            .last()
            .map(Path::to_path_buf);
        std::fs::create_dir_all(&self.root).map_err(io(&self.root))?;
        Ok(Created {
            root: self.root.clone(),
            top,
        })
    }
}

impl Created {
    /// Whether the run made the folder (it did not exist before).
    pub fn is_new(&self) -> bool {
        self.top.is_some()
    }

    /// Removes what the run made: the folders it created, or the run's `files` (a run's:
    /// [`RUN_FILES`]) from a folder that was there before (anything else in it stays). Best
    /// effort: a file that cannot be removed stays.
    pub fn discard(self, files: &[&str]) {
        match self.top {
            Some(top) => {
                let _ = std::fs::remove_dir_all(top);
            }
            None => {
                for name in files {
                    let path = self.root.join(name);
                    if path.is_dir() {
                        let _ = std::fs::remove_dir_all(&path);
                    } else {
                        let _ = std::fs::remove_file(&path);
                    }
                }
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("run-dir-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A discarded run removes the folders it created, up to the outermost one, and nothing
    /// above it.
    #[test]
    fn discard_removes_the_folders_the_run_created() {
        let base = scratch("new");
        let run = RunDir {
            root: base.join("a/b/run"),
        };
        let created = run.create().unwrap();
        assert!(created.is_new());
        std::fs::write(run.root.join(SETTINGS), "{}").unwrap();
        std::fs::create_dir_all(run.root.join("burn/checkpoint")).unwrap();
        created.discard(&RUN_FILES);
        assert!(!base.join("a").exists());
        assert!(base.is_dir());
        std::fs::remove_dir_all(&base).unwrap();
    }

    /// In a folder that was there before, only the run's files go.
    #[test]
    fn discard_keeps_what_was_in_a_folder_before() {
        let base = scratch("old");
        std::fs::write(base.join("notes.txt"), "mine").unwrap();
        let run = RunDir { root: base.clone() };
        let created = run.create().unwrap();
        assert!(!created.is_new());
        let _lock = run.lock().unwrap();
        std::fs::write(run.root.join(SETTINGS), "{}").unwrap();
        std::fs::create_dir_all(run.root.join("burn/checkpoint")).unwrap();
        created.discard(&RUN_FILES);
        let left: Vec<_> = std::fs::read_dir(&base)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(left, ["notes.txt"]);
        std::fs::remove_dir_all(&base).unwrap();
    }
}
