//! A sweep's folder while it runs, so that a killed sweep resumes (`sweep --resume DIR`):
//! `sweep.json` (its settings, written first), `state/train` and `state/finetune` (the
//! checkpoints of [`fit_many_in`](sparse_autoencoders::fit_many_in), one epoch at a time),
//! and `rows.csv` (the rows of the models already scored, in `frontier.csv`'s format). When
//! the sweep ends it writes `frontier.csv`, `frontier.png` and `frontier.md` and removes
//! `state` and `rows.csv`.

use std::path::{Path, PathBuf};

use crate::error::AppError;
use crate::run_dir::{write_atomic, LOCK};
use crate::sweep::{csv, read_csv, Point};

/// The settings of a sweep, as its command line gave them.
pub const SWEEP_SETTINGS: &str = "sweep.json";
/// The rows of the models scored so far.
pub const ROWS: &str = "rows.csv";
/// The checkpoints of the models in training.
pub const STATE: &str = "state";
/// What a sweep writes into its folder before its results (what a failed start removes from a
/// folder that was there before).
pub const SWEEP_FILES: [&str; 4] = [SWEEP_SETTINGS, ROWS, STATE, LOCK];
/// The largest `sweep.json` or `rows.csv` read back (a few KiB each).
const MAX_BYTES: u64 = 16 << 20;

/// A sweep's output folder.
#[derive(Debug, Clone)]
pub struct SweepDir {
    /// The folder.
    pub root: PathBuf,
}

impl SweepDir {
    /// The checkpoint folder of a phase (`train` or `finetune`).
    pub fn state(&self, phase: &str) -> PathBuf {
        self.root.join(STATE).join(phase)
    }

    /// Whether the sweep has something worth keeping: a checkpoint or a scored row.
    pub fn has_progress(&self) -> bool {
        self.root.join(ROWS).exists()
            || std::fs::read_dir(self.state("train"))
                .map(|mut d| d.next().is_some())
                .unwrap_or(false)
    }

    /// The rows scored in an earlier session (none when there is no `rows.csv`).
    ///
    /// # Errors
    /// [`AppError::Setting`] when `rows.csv` does not read back.
    pub fn rows(&self) -> Result<Vec<Point>, AppError> {
        let path = self.root.join(ROWS);
        if !path.exists() {
            return Ok(Vec::new());
        }
        let text = read_bounded(&path, MAX_BYTES)?;
        read_csv(&text).map_err(|e| AppError::Setting(format!("{}: {e}", path.display())))
    }

    /// Records `rows` (all the rows scored so far) atomically.
    ///
    /// # Errors
    /// [`AppError::Io`] when it cannot be written.
    pub fn save_rows(&self, rows: &[Point]) -> Result<(), AppError> {
        write_atomic(&self.root.join(ROWS), csv(rows).as_bytes())
    }

    /// Removes what only a running sweep needs (its checkpoints and rows), once its results
    /// are written. Best effort.
    pub fn finish(&self) {
        let _ = std::fs::remove_dir_all(self.root.join(STATE));
        let _ = std::fs::remove_file(self.root.join(ROWS));
    }
}

/// The text of `path`, refused past `limit` bytes (`/dev/zero` was read until memory ran out).
///
/// # Errors
/// [`AppError::Io`] when it cannot be read; [`AppError::Setting`] when it is larger than
/// `limit` or not UTF-8.
pub fn read_bounded(path: &Path, limit: u64) -> Result<String, AppError> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).map_err(crate::error::io(path))?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(crate::error::io(path))?;
    if bytes.len() as u64 > limit {
        return Err(AppError::Setting(format!(
            "{}: more than {} MiB; a sweep's files are a few KiB",
            path.display(),
            limit >> 20
        )));
    }
    String::from_utf8(bytes)
        .map_err(|_| AppError::Setting(format!("{}: not UTF-8 text", path.display())))
}
