//! The example's error type: every failure the command line can report.

use std::path::PathBuf;

use sparse_autoencoders::data::DataError;

/// Anything that stops a run. The binary prints it and exits with status 1 (2 for bad
/// command-line arguments, from clap).
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The dataset could not be read.
    #[error(transparent)]
    Data(#[from] DataError),
    /// A setting is out of range.
    #[error("invalid setting: {0}")]
    Setting(String),
    /// A penalty or mask rejected its configuration or input.
    #[error(transparent)]
    Penalty(#[from] sparse_losses::Error),
    /// The backend cannot be used.
    #[error("backend: {0}")]
    Backend(String),
    /// A checkpoint to resume from cannot be read (the library's message names the file).
    #[error("{0}")]
    Checkpoint(String),
    /// The output folder already holds a run.
    #[error("{0} already holds a run (metrics or checkpoints); continue it with --resume {0}, or choose another --out")]
    OutInUse(PathBuf),
    /// The sweep's output folder already holds a frontier.
    #[error("{0} already holds a sweep (frontier.csv); choose another --out or remove it")]
    SweepExists(PathBuf),
    /// `--resume` found nothing to resume.
    #[error("nothing to resume in {0}: no settings.json and no checkpoint (burn/checkpoint/model-N.bpk)")]
    NoCheckpoint(PathBuf),
    /// A flag given with `--resume` contradicts the run's saved settings.
    #[error("--resume takes its settings from the checkpoint; {0}")]
    ResumeConflict(String),
    /// A file could not be written or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A JSON file could not be parsed.
    #[error("{path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The error.
        source: serde_json::Error,
    },
    /// A Burn record could not be saved or loaded.
    #[error("{path}: {message}")]
    Record {
        /// The file.
        path: PathBuf,
        /// Burn's message.
        message: String,
    },
    /// A command line clap rejected (one line).
    #[error("{0}")]
    Usage(String),
    /// Training diverged.
    #[error(
        "the loss became {value} at step {step} of epoch {epoch}; training stopped and the \
         checkpoints keep the last good parameters; try a smaller --lr or --lambda"
    )]
    Diverged {
        /// The epoch (1-based).
        epoch: usize,
        /// The step within the epoch (1-based).
        step: usize,
        /// The loss.
        value: f64,
    },
}

/// `map_err` helper for I/O errors.
pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> AppError {
    let path = path.into();
    move |source| AppError::Io { path, source }
}

/// `map_err` helper for the SAE library's errors: a setting the library refused.
pub fn library(e: sparse_autoencoders::Error) -> AppError {
    AppError::Setting(e.to_string())
}
