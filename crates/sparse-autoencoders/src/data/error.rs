//! [`DataError`]: every way reading or converting training data can fail.
//!
//! Each message is one line and starts with the file it concerns (or `<in memory>` /
//! `<tensor>` for data that never came from a file), so a command line can print it as is.

use std::io;
use std::path::{Path, PathBuf};

/// The result type of the data layer.
pub type DataResult<T> = Result<T, DataError>;

/// The `path` of errors about data that did not come from a file ([`Activations::from_vec`]).
///
/// [`Activations::from_vec`]: crate::data::Activations::from_vec
pub const IN_MEMORY: &str = "<in memory>";

/// The `path` of errors about data read back from a tensor ([`Activations::from_tensor`]).
///
/// [`Activations::from_tensor`]: crate::data::Activations::from_tensor
pub const FROM_TENSOR: &str = "<tensor>";

/// Why data could not be read, converted or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The file (or a directory on its path) does not exist.
    #[error("{path}: no such file or directory")]
    NotFound {
        /// The file.
        path: PathBuf,
    },
    /// The file exists but may not be read (or written).
    #[error("{path}: permission denied")]
    PermissionDenied {
        /// The file.
        path: PathBuf,
    },
    /// A directory was given where a file was expected.
    #[error("{path}: is a directory, expected a file")]
    IsDirectory {
        /// The path.
        path: PathBuf,
    },
    /// Any other failure to open or read the file.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The file could not be created or written.
    #[error("{path}: cannot write: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Neither `name` nor `name.gz` exists in an MNIST data directory.
    #[error("{dir} has neither {name} nor {name}.gz (expected the four standard MNIST IDX files)")]
    MissingIdxFile {
        /// The data directory.
        dir: PathBuf,
        /// The file name looked for.
        name: String,
    },
    /// The gzip stream is corrupt or cut short.
    #[error("{path}: not a valid gzip file: {source}")]
    Gzip {
        /// The file.
        path: PathBuf,
        /// The decoder's error.
        source: io::Error,
    },
    /// The file ends inside its header.
    #[error("{path}: the {format} header needs {needed} bytes, the file has {found}")]
    ShortHeader {
        /// The file.
        path: PathBuf,
        /// `"IDX"`, `".npy"` or `"safetensors"`.
        format: &'static str,
        /// Bytes the header needs.
        needed: u64,
        /// Bytes present.
        found: u64,
    },
    /// The file does not start with its format's magic bytes.
    #[error("{path}: bad magic {found} ({format} files start with {expected})")]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// `"IDX"` or `".npy"`.
        format: &'static str,
        /// The magic bytes the format requires.
        expected: &'static str,
        /// The bytes found, escaped.
        found: String,
    },
    /// A `.npy` file of a format version other than 1.0, 2.0 and 3.0.
    #[error("{path}: .npy format version {major}.{minor} is not supported (1.0, 2.0 and 3.0 are)")]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// Major version byte.
        major: u8,
        /// Minor version byte.
        minor: u8,
    },
    /// The header is malformed (for `.npy`: not the expected Python dict literal).
    #[error("{path}: malformed {format} header: {reason}")]
    BadHeader {
        /// The file.
        path: PathBuf,
        /// `".npy"` (safetensors headers are reported as [`DataError::Safetensors`]).
        format: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The element type is not one this reader converts.
    #[error("{path}: dtype {dtype} is not supported (supported: {supported})")]
    UnsupportedDtype {
        /// The file.
        path: PathBuf,
        /// The element type as the file spells it.
        dtype: String,
        /// The element types that are supported.
        supported: &'static str,
    },
    /// The array has the wrong number of dimensions.
    #[error("{path}: expected {expected} dimensions, found {found} (shape {shape:?})")]
    WrongRank {
        /// The file.
        path: PathBuf,
        /// The rank expected, in words (for example `"3 (images: count, rows, cols)"`).
        expected: &'static str,
        /// The rank found.
        found: usize,
        /// The shape found.
        shape: Vec<usize>,
    },
    /// The data is shorter than the header announces (also when the header claims far more
    /// data than the whole file holds).
    #[error(
        "{path}: truncated: the header announces {expected} data bytes, the file holds {found}"
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Data bytes announced.
        expected: u64,
        /// Data bytes present.
        found: u64,
    },
    /// The data is longer than the header announces.
    #[error(
        "{path}: {extra} unexpected bytes after the {expected} data bytes the header announces"
    )]
    TrailingBytes {
        /// The file.
        path: PathBuf,
        /// Data bytes announced.
        expected: u64,
        /// Bytes beyond them.
        extra: u64,
    },
    /// The shape's element count (or byte size) does not fit in a `usize`.
    #[error("{path}: shape {shape} is too large: its size overflows")]
    DimensionOverflow {
        /// The file.
        path: PathBuf,
        /// The shape as read.
        shape: String,
    },
    /// The array has no elements (a zero dimension).
    #[error("{path}: empty: shape {shape:?} has no elements")]
    Empty {
        /// The file.
        path: PathBuf,
        /// The shape.
        shape: Vec<usize>,
    },
    /// The image and label files of an MNIST split hold different numbers of items.
    #[error("{images} holds {n_images} images but {labels} holds {n_labels} labels")]
    CountMismatch {
        /// The image file.
        images: PathBuf,
        /// The label file.
        labels: PathBuf,
        /// Images.
        n_images: usize,
        /// Labels.
        n_labels: usize,
    },
    /// An MNIST label is not a digit class (0–9).
    #[error("{path}: label {label} at index {index} is not in 0..=9")]
    BadLabel {
        /// The label file.
        path: PathBuf,
        /// Where.
        index: usize,
        /// The value.
        label: u8,
    },
    /// Two files that must agree in shape do not (MNIST train and test images, ...).
    #[error("{first} has shape {first_shape:?} but {second} has shape {second_shape:?} ({what} must agree)")]
    ShapeMismatch {
        /// The first file.
        first: PathBuf,
        /// Its shape (the part that must agree).
        first_shape: Vec<usize>,
        /// The second file.
        second: PathBuf,
        /// Its shape.
        second_shape: Vec<usize>,
        /// What must agree, in words.
        what: &'static str,
    },
    /// The named tensor is not in the file.
    #[error("{path}: no tensor named {name:?}; the file holds {}", list(.present))]
    MissingTensor {
        /// The file.
        path: PathBuf,
        /// The name asked for.
        name: String,
        /// The names present, sorted.
        present: Vec<String>,
    },
    /// No tensor name was given and the file does not hold exactly one tensor.
    #[error("{path}: holds {} tensors ({}); name the one to read", .present.len(), list(.present))]
    AmbiguousTensor {
        /// The file.
        path: PathBuf,
        /// The names present, sorted.
        present: Vec<String>,
    },
    /// A tensor name was given for a file format without names.
    #[error("{path}: a tensor name ({name:?}) applies only to .safetensors files")]
    NameNotApplicable {
        /// The file.
        path: PathBuf,
        /// The name given.
        name: String,
    },
    /// The safetensors header or layout is invalid.
    #[error("{path}: not a valid safetensors file: {reason}")]
    Safetensors {
        /// The file.
        path: PathBuf,
        /// The safetensors crate's message.
        reason: String,
    },
    /// A value is NaN or infinite (also an `f64` too large for `f32`).
    #[error("{path}: non-finite value {value} at row {row}, column {col}")]
    NonFinite {
        /// The file.
        path: PathBuf,
        /// Row of the value.
        row: usize,
        /// Column of the value.
        col: usize,
        /// The value (after conversion to `f32`).
        value: f32,
    },
    /// The file extension names no supported format.
    #[error("{path}: unsupported file type, expected a .npy or .safetensors file")]
    UnknownExtension {
        /// The file.
        path: PathBuf,
    },
    /// A flat buffer does not split into rows of the given width.
    #[error("{path}: {len} values do not split into rows of {dim}")]
    NotDivisible {
        /// Where the values came from ([`IN_MEMORY`] for a vector).
        path: PathBuf,
        /// Number of values.
        len: usize,
        /// Row width asked for.
        dim: usize,
    },
    /// The number of values does not match the shape (when writing).
    #[error("{path}: {len} values do not fill shape {shape:?} ({expected} elements)")]
    ValueCount {
        /// The file being written.
        path: PathBuf,
        /// The shape.
        shape: Vec<usize>,
        /// Number of values given.
        len: usize,
        /// Number of elements of the shape.
        expected: usize,
    },
    /// [`Activations::split`](crate::data::Activations::split) was asked for an empty part.
    #[error("{path}: cannot split {rows} rows after row {at}: both parts must be non-empty")]
    SplitOutOfRange {
        /// Where the rows came from.
        path: PathBuf,
        /// Rows available.
        rows: usize,
        /// Rows asked for in the first part.
        at: usize,
    },
    /// An activation store or a folder of shards is not what it should be (a manifest that
    /// does not match its shards, shards of different widths, rows asked past the end).
    #[error("{path}: {reason}")]
    Store {
        /// The store, folder or file.
        path: PathBuf,
        /// What is wrong, in words.
        reason: String,
    },
    /// A tensor could not be read back to the host.
    #[error("{path}: cannot read the tensor back to the host: {message}")]
    TensorRead {
        /// [`FROM_TENSOR`].
        path: PathBuf,
        /// Burn's message.
        message: String,
    },
}

/// `a, b, c`, or `no tensors`.
fn list(names: &[String]) -> String {
    if names.is_empty() {
        "no tensors".to_string()
    } else {
        names.join(", ")
    }
}

/// The number of elements of an array of `shape` read from `path`, or
/// [`DataError::DimensionOverflow`] when the product does not fit in `usize`.
pub(crate) fn element_count(shape: &[usize], path: &Path) -> DataResult<usize> {
    shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| DataError::DimensionOverflow {
            path: path.to_path_buf(),
            shape: format!("{shape:?}"),
        })
}

impl DataError {
    /// Classifies an error from opening or reading `path`: not found, permission denied and
    /// is-a-directory get their own variants, anything else is [`DataError::Io`].
    pub fn read(path: &Path, source: io::Error) -> Self {
        let path = path.to_path_buf();
        match source.kind() {
            io::ErrorKind::NotFound => DataError::NotFound { path },
            io::ErrorKind::PermissionDenied => DataError::PermissionDenied { path },
            io::ErrorKind::IsADirectory => DataError::IsDirectory { path },
            _ => DataError::Io { path, source },
        }
    }

    /// Like [`DataError::read`] for an error creating or writing `path` (other errors become
    /// [`DataError::Write`]).
    pub fn write(path: &Path, source: io::Error) -> Self {
        let path = path.to_path_buf();
        match source.kind() {
            io::ErrorKind::NotFound => DataError::NotFound { path },
            io::ErrorKind::PermissionDenied => DataError::PermissionDenied { path },
            io::ErrorKind::IsADirectory => DataError::IsDirectory { path },
            _ => DataError::Write { path, source },
        }
    }
}

/// Opens `path` for reading, classifying failures, and refuses directories (which `open`
/// accepts on Unix). Returns the file and its length in bytes.
pub(crate) fn open_file(path: &Path) -> DataResult<(std::fs::File, u64)> {
    let file = std::fs::File::open(path).map_err(|e| DataError::read(path, e))?;
    let meta = file.metadata().map_err(|e| DataError::read(path, e))?;
    if meta.is_dir() {
        return Err(DataError::IsDirectory {
            path: path.to_path_buf(),
        });
    }
    Ok((file, meta.len()))
}

/// Escapes up to 8 bytes for a bad-magic message: `"PK\x03\x04"`.
pub(crate) fn escape_bytes(bytes: &[u8]) -> String {
    let shown = &bytes[..bytes.len().min(8)];
    let mut s = String::from("\"");
    for &b in shown {
        s.extend(std::ascii::escape_default(b).map(char::from));
    }
    s.push('"');
    if bytes.len() > shown.len() {
        s.push_str("...");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_are_classified() {
        let p = Path::new("a.npy");
        let e = DataError::read(p, io::Error::from(io::ErrorKind::NotFound));
        assert!(matches!(e, DataError::NotFound { .. }));
        assert_eq!(e.to_string(), "a.npy: no such file or directory");
        let e = DataError::read(p, io::Error::from(io::ErrorKind::PermissionDenied));
        assert!(matches!(e, DataError::PermissionDenied { .. }));
        let e = DataError::read(p, io::Error::from(io::ErrorKind::IsADirectory));
        assert!(matches!(e, DataError::IsDirectory { .. }));
        let e = DataError::read(p, io::Error::from(io::ErrorKind::Interrupted));
        assert!(matches!(e, DataError::Io { .. }));
        let e = DataError::write(p, io::Error::from(io::ErrorKind::StorageFull));
        assert!(matches!(e, DataError::Write { .. }));
    }

    #[test]
    fn open_file_refuses_directories_and_missing_files() {
        let dir = std::env::temp_dir();
        assert!(matches!(
            open_file(&dir),
            Err(DataError::IsDirectory { .. })
        ));
        let missing = dir.join(format!("sae-data-missing-{}", std::process::id()));
        assert!(matches!(
            open_file(&missing),
            Err(DataError::NotFound { .. })
        ));
    }

    #[test]
    fn messages_are_one_line_and_name_the_file() {
        let errors = [
            DataError::MissingTensor {
                path: "x.safetensors".into(),
                name: "acts".into(),
                present: vec!["a".into(), "b".into()],
            },
            DataError::AmbiguousTensor {
                path: "x.safetensors".into(),
                present: vec![],
            },
            DataError::BadMagic {
                path: "x.safetensors".into(),
                format: ".npy",
                expected: "\\x93NUMPY",
                found: escape_bytes(b"PK\x03\x04\n\n\n\n\n"),
            },
        ];
        for e in &errors {
            let m = e.to_string();
            assert!(!m.contains('\n'), "{m}");
            assert!(m.starts_with("x.safetensors: "), "{m}");
        }
        assert!(errors[0].to_string().ends_with("the file holds a, b"));
        assert!(errors[1]
            .to_string()
            .contains("holds 0 tensors (no tensors)"));
        assert!(errors[2].to_string().contains(r#""PK\x03\x04\n\n\n\n"..."#));
    }
}
