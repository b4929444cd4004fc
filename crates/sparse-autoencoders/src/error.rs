//! The crate's error type.

use thiserror::Error;

use crate::data::DataError;

/// Everything that can go wrong when an SAE is configured, built, fed or trained. Every
/// message is one line.
#[derive(Debug, Error)]
pub enum Error {
    /// A field of a config ([`SaeConfig`](crate::SaeConfig), an architecture's config,
    /// [`TrainConfig`](crate::TrainConfig), [`SyntheticConfig`](crate::synthetic::SyntheticConfig)) is
    /// outside its domain. The same shape and message as sparse-losses'
    /// [`InvalidHyperParameter`](sparse_losses::Error::InvalidHyperParameter), except that
    /// `value` is text, not an `f64`: the fields of an SAE include integers, lists and names.
    #[error("{item}: `{field}` = {value} is invalid; expected {expected}")]
    InvalidHyperParameter {
        /// The serde name of the config that raised it: `"sae"` ([`SaeConfig`](crate::SaeConfig)),
        /// the architecture's name ([`ArchitectureConfig::NAME`](crate::arch::ArchitectureConfig::NAME),
        /// e.g. `"top_k"`), `"train"`, `"finetune"`, `"synthetic"`.
        item: &'static str,
        /// The field, by its serde name.
        field: &'static str,
        /// The value given, as text (a number, a list, a name).
        value: String,
        /// The domain, in words, e.g. `"a finite number >= 0"`.
        expected: &'static str,
    },
    /// The `relu` and `sigmoid` architectures have no sparsity of their own: they need a
    /// penalty.
    #[error("the `{0}` architecture needs a `penalty` (e.g. l1); without one nothing makes the codes sparse")]
    MissingPenalty(&'static str),
    /// An architecture name that is not in the registry (nor an old spelling of one).
    #[error("unknown architecture `{name}`; expected one of {expected}")]
    UnknownArchitecture {
        /// The name given.
        name: String,
        /// The registry's names, comma-separated.
        expected: String,
    },
    /// AuxK was asked for an architecture it does not reach (see
    /// [`ArchitectureProperties::supports_aux_k`](crate::arch::ArchitectureProperties::supports_aux_k)).
    #[error("aux_k applies to top_k, batch_top_k, matryoshka and jump_relu, not to `{0}`")]
    AuxKUnsupported(&'static str),
    /// A penalty, activation or OMP error from sparse-losses.
    #[error(transparent)]
    Penalty(#[from] sparse_losses::Error),
    /// A data file could not be read.
    #[error(transparent)]
    Data(#[from] DataError),
    /// Data of the wrong shape for the model.
    #[error("{0}")]
    Shape(String),
    /// A tensor given to a checked [`Sae`](crate::Sae) method ([`try_encode`], [`try_decode`],
    /// [`try_forward`], [`try_forward_train`]) is not `[B, width]` with `B ≥ 1`: inputs are
    /// `[B, d_in]`, codes `[B, d_sae]`.
    ///
    /// [`try_encode`]: crate::Sae::try_encode
    /// [`try_decode`]: crate::Sae::try_decode
    /// [`try_forward`]: crate::Sae::try_forward
    /// [`try_forward_train`]: crate::Sae::try_forward_train
    #[error("{what} must have shape [B ≥ 1, {width}], got {shape:?}")]
    InputShape {
        /// What was given ("the input of Sae::encode", "the codes given to Sae::decode").
        what: &'static str,
        /// The width expected (`d_in` or `d_sae`).
        width: usize,
        /// The shape given.
        shape: Vec<usize>,
    },
    /// A config object that cannot be read: JSON text with an unknown field, a value of the
    /// wrong type or a missing required field (see
    /// [`SaeConfig::from_json`](crate::SaeConfig::from_json)). The same shape and message as
    /// sparse-losses' [`InvalidConfig`](sparse_losses::Error::InvalidConfig).
    #[error("{item}: invalid config: {message}")]
    InvalidConfig {
        /// The serde name of the config, e.g. `"sae"`.
        item: &'static str,
        /// The parser's message.
        message: String,
    },
    /// Training stopped with an error.
    #[error("training failed: {0}")]
    Training(String),
    /// Training diverged: the loss of optimizer step `step` (0-based over the run) was not
    /// finite or absurdly large (see [`ABSURD_GROWTH`](crate::train::ABSURD_GROWTH)). No update
    /// was applied from that step on; the checkpoints hold the last good parameters.
    #[error("training diverged at step {step}: the loss became {loss}")]
    Diverged {
        /// The optimizer step, 0-based over the whole run.
        step: usize,
        /// The loss.
        loss: f64,
    },
    /// A checkpoint to resume from cannot be read back (a file cut short or corrupt), found
    /// before training resumes (see [`fit`](crate::fit)). Nothing is changed on disk.
    #[error(
        "the checkpoint {} of epoch {epoch} cannot be read ({reason}); remove that epoch's \
         model, optim and scheduler files to resume from an earlier checkpoint, if any",
        path.display()
    )]
    Checkpoint {
        /// The file that could not be read.
        path: std::path::PathBuf,
        /// The checkpoint's epoch.
        epoch: usize,
        /// Why, in burn-train's words.
        reason: String,
    },
    /// A checkpoint to resume from reads back but does not fit the model (another config:
    /// other sizes or architecture), found before training resumes (see [`fit`](crate::fit)).
    #[error(
        "the checkpoint {} does not fit the model ({reason}): was the config changed since it \
         was saved?",
        path.display()
    )]
    CheckpointMismatch {
        /// The model file.
        path: std::path::PathBuf,
        /// What does not fit, in Burn's words.
        reason: String,
    },
    /// [`fit`](crate::fit) (or another trainer) was given a model on a device without
    /// autodiff.
    #[error(
        "training needs the model on an autodiff device: build it on `device.autodiff()` (e.g. \
         Device::flex().autodiff())"
    )]
    NoAutodiff,
    /// Training was asked for an SAE with an input normalisation
    /// ([`SaeConfig::input_normalization`](crate::SaeConfig::input_normalization)), an
    /// inference form for SAEs trained elsewhere.
    #[error(
        "this SAE normalises its inputs ({0}) at inference only; training needs input_normalization none"
    )]
    InferenceOnly(&'static str),
    /// An SAE with no exact SAELens or sparsify equivalent (hard-concrete's stochastic gates,
    /// OMP's codes, sigmoid codes), or a form the target format cannot hold.
    #[error("{format}: {reason}")]
    NoExternalForm {
        /// The target format, `"saelens"` or `"sparsify"`.
        format: &'static str,
        /// Why, in words, e.g. "`omp` has no exact equivalent (its codes come from the decoder)".
        reason: String,
    },
    /// A SAELens or sparsify directory that cannot be read as an SAE: a missing or invalid
    /// `cfg.json`, a missing or misshapen tensor, an architecture or option not supported.
    #[error("{}: {message}", path.display())]
    ExternalSae {
        /// The file or directory.
        path: std::path::PathBuf,
        /// What is wrong, in one line.
        message: String,
    },
    /// A value of the training rows is NaN or infinite.
    #[error("the {what} has a non-finite value {value} at row {row}, column {col}")]
    NonFinite {
        /// Which rows ("training data", "validation data").
        what: &'static str,
        /// Row of the value.
        row: usize,
        /// Column of the value.
        col: usize,
        /// The value.
        value: f32,
    },
    /// The training rows' scale is outside what float32 training handles: their largest |x|
    /// is 0 or outside [`DATA_SCALE`] (squared errors overflow above, lose their precision
    /// or vanish below).
    #[error("{}", scale_message(what, *max_abs))]
    DataScale {
        /// Which rows.
        what: &'static str,
        /// Their largest |x|.
        max_abs: f32,
    },
    /// Not enough memory for what was asked, found before allocating it
    /// (see [`memory`](crate::memory)).
    #[error(
        "{what} would need about {} of memory, and {} is available (use a smaller d_sae or batch size)",
        gib(*.needed),
        gib(u128::from(*.available))
    )]
    OutOfMemory {
        /// What needs it ("the SAE's weights", "training").
        what: &'static str,
        /// Bytes needed (an estimate).
        needed: u128,
        /// Bytes available.
        available: u64,
    },
}

/// [`Error::InvalidHyperParameter`] for the field `field` of the config `item`.
pub(crate) fn invalid(
    item: &'static str,
    field: &'static str,
    value: impl ToString,
    expected: &'static str,
) -> Error {
    Error::InvalidHyperParameter {
        item,
        field,
        value: value.to_string(),
        expected,
    }
}

/// The message of [`Error::DataScale`].
fn scale_message(what: &str, max_abs: f32) -> String {
    if max_abs == 0.0 {
        return format!("every value of the {what} is 0: there is nothing to reconstruct");
    }
    format!(
        "the {what}'s largest |value| is {max_abs:e}, outside {:e}..={:e}, where squared errors \
         leave float32's range; rescale it (e.g. to unit variance)",
        DATA_SCALE.0, DATA_SCALE.1
    )
}

/// `bytes` in GiB, for messages.
fn gib(bytes: u128) -> String {
    format!("{:.1} GiB", bytes as f64 / f64::from(1u32 << 30))
}

/// The range of the largest |x| of rows an SAE trains on: squares of values up to 1e15 and
/// their sums over a batch stay well inside float32, and squares of values down to 1e-15 keep
/// their precision (float32 squares underflow below about 1e-19).
pub const DATA_SCALE: (f32, f32) = (1e-15, 1e15);

/// Checks rows to train or evaluate an SAE on: whole rows of width `d` (at least one),
/// every value finite, and the largest |x| within [`DATA_SCALE`]. `what` names the rows in
/// the error ("training data").
///
/// # Errors
/// [`Error::Shape`], [`Error::NonFinite`] (the first such value), [`Error::DataScale`].
///
/// ```
/// use sparse_autoencoders::{check_training_rows, Error};
///
/// assert!(check_training_rows("training data", &[0.5, -1.0, 2.0, 0.0], 2).is_ok());
/// let e = check_training_rows("training data", &[1e30, 0.0], 2).unwrap_err();
/// assert!(matches!(e, Error::DataScale { .. }));
/// let e = check_training_rows("training data", &[1.0, f32::NAN], 1).unwrap_err();
/// assert!(matches!(e, Error::NonFinite { row: 1, col: 0, .. }));
/// ```
pub fn check_training_rows(what: &'static str, rows: &[f32], d: usize) -> Result<()> {
    check_rows(what, rows, d)?;
    if let Some(i) = rows.iter().position(|v| !v.is_finite()) {
        return Err(Error::NonFinite {
            what,
            row: i / d,
            col: i % d,
            value: rows[i],
        });
    }
    let max_abs = rows.iter().fold(0f32, |m, v| m.max(v.abs()));
    if !(DATA_SCALE.0..=DATA_SCALE.1).contains(&max_abs) {
        return Err(Error::DataScale { what, max_abs });
    }
    Ok(())
}

/// Checks that `rows` holds whole rows of width `d` (and at least one):
/// [`Error::Shape`] naming `what` (e.g. "training data") otherwise.
pub(crate) fn check_rows(what: &str, rows: &[f32], d: usize) -> Result<()> {
    if d == 0 || rows.is_empty() || !rows.len().is_multiple_of(d) {
        return Err(Error::Shape(format!(
            "the {what} has {} values, not a positive multiple of d_in = {d}",
            rows.len()
        )));
    }
    Ok(())
}

/// `Result` with this crate's [`Error`](enum@Error).
pub type Result<T, E = Error> = core::result::Result<T, E>;
