//! The data of a run: MNIST images or the rows of a file, and their fingerprint.

use std::path::{Path, PathBuf};

use sparse_autoencoders::data::{Activations, Mnist, Split};

use crate::error::AppError;

/// The fewest rows of a test split: explained variance compares the rows' spread.
pub const MIN_TEST_ROWS: usize = 2;

/// Reads `--data FILE` (`.npy`, `.safetensors`, or `FILE.safetensors:NAME`) as a data set:
/// the last 10% of the rows (at least [`MIN_TEST_ROWS`]) are the test split. Each row is shown
/// as a `1 × d` "image". A file that exists is read as it is, even when its path contains
/// `.safetensors:`.
pub fn load_rows(path: &Path) -> Result<Mnist, AppError> {
    let (file, name) = match path.to_str() {
        Some(text) if !path.exists() => match text.rsplit_once(".safetensors:") {
            Some((stem, name)) => (PathBuf::from(format!("{stem}.safetensors")), Some(name)),
            None => (path.to_path_buf(), None),
        },
        _ => (path.to_path_buf(), None),
    };
    if file.exists() && !file.is_file() {
        return Err(AppError::Setting(format!(
            "{}: not a regular file (a folder, a FIFO or a device); --data reads a .npy or \
             .safetensors file",
            file.display()
        )));
    }
    let acts = Activations::load(&file, name).map_err(|e| AppError::Setting(e.to_string()))?;
    if acts.rows < MIN_TEST_ROWS + 1 {
        return Err(AppError::Setting(format!(
            "{}: {} row(s); at least {} are needed (one to train, {MIN_TEST_ROWS} to test)",
            file.display(),
            acts.rows,
            MIN_TEST_ROWS + 1
        )));
    }
    let d = acts.dim;
    let n_test = (acts.rows / 10).max(MIN_TEST_ROWS);
    let n_train = acts.rows - n_test;
    Ok(Mnist {
        train: Split::of_rows(&acts.values[..n_train * d], d),
        test: Split::of_rows(&acts.values[n_train * d..], d),
    })
}

/// A fingerprint of the data (FNV-1a, 64 bits, of the shapes and the values' bits of both
/// splits, as hexadecimal): equal data give equal fingerprints on every platform.
pub fn fingerprint(data: &Mnist) -> String {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |word: u64| {
        h ^= word;
        h = h.wrapping_mul(PRIME);
    };
    for split in [&data.train, &data.test] {
        for dim in [split.n, split.rows, split.cols] {
            eat(dim as u64);
        }
        for v in &split.images {
            eat(u64::from(v.to_bits()));
        }
    }
    format!("{h:016x}")
}
