//! The data of a run: MNIST images in memory, or the rows of `--data` (a file, a folder of
//! files or an activation store) streamed from disk; and their fingerprint.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sparse_autoencoders::data::{npy_layout, Activations, Mnist, RowStore};
use sparse_autoencoders::RowSource;

use crate::error::AppError;

/// The fewest rows of a test split: explained variance compares the rows' spread.
pub const MIN_TEST_ROWS: usize = 2;

/// The train and test rows of a run, in memory (MNIST) or on disk (`--data`: read a chunk at
/// a time, so memory does not grow with the file).
#[derive(Debug, Clone)]
pub struct RunData {
    /// The training rows.
    pub train: RowSource,
    /// The test rows.
    pub test: RowSource,
    /// Values a row.
    pub dim: usize,
    /// The shape a row is drawn as: 28 × 28 for MNIST, 1 × d for other rows.
    pub image: [usize; 2],
    /// Training rows.
    pub n_train: usize,
    /// Test rows.
    pub n_test: usize,
}

impl RunData {
    /// MNIST's images, in memory.
    pub fn from_mnist(m: Mnist) -> Self {
        let dim = m.train.dim();
        Self {
            n_train: m.train.n,
            n_test: m.test.n,
            image: [m.train.rows, m.train.cols],
            dim,
            train: RowSource::Memory(Arc::new(m.train.images)),
            test: RowSource::Memory(Arc::new(m.test.images)),
        }
    }

    /// Keeps the first `train` training rows and `test` test rows (all when larger or `None`).
    pub fn truncate(&mut self, train: Option<usize>, test: Option<usize>) {
        let d = self.dim;
        let cut = |rows: &mut RowSource, count: &mut usize, keep: Option<usize>| {
            let Some(keep) = keep.filter(|k| k < count) else {
                return;
            };
            *count = keep;
            *rows = match rows {
                RowSource::Memory(v) => RowSource::Memory(Arc::new(v[..keep * d].to_vec())),
                RowSource::Disk(s) => RowSource::Disk(s.view(0, keep)),
            };
        };
        cut(&mut self.train, &mut self.n_train, train);
        cut(&mut self.test, &mut self.n_test, test);
    }

    /// Up to `n` rows from the start of `rows`, in memory.
    fn head(&self, rows: &RowSource, n: usize) -> Result<Vec<f32>, AppError> {
        match rows {
            RowSource::Memory(v) => Ok(v[..n.min(v.len() / self.dim) * self.dim].to_vec()),
            RowSource::Disk(s) => Ok(s.view(0, n).read_all()?),
        }
    }

    /// The first `n` test rows (the pictures' reconstructions).
    pub fn test_head(&self, n: usize) -> Result<Vec<f32>, AppError> {
        self.head(&self.test, n)
    }

    /// Up to `n` training rows from the start (the SAE's initialisation: the decoder bias is
    /// their mean or median).
    pub fn train_head(&self, n: usize) -> Result<Vec<f32>, AppError> {
        self.head(&self.train, n)
    }
}

/// Reads the `FILE.safetensors:NAME` form of `--data` (a file that exists is read as it is,
/// even when its path contains `.safetensors:`).
fn file_and_tensor(path: &Path) -> (PathBuf, Option<&str>) {
    match path.to_str() {
        Some(text) if !path.exists() => match text.rsplit_once(".safetensors:") {
            Some((stem, name)) => (PathBuf::from(format!("{stem}.safetensors")), Some(name)),
            None => (path.to_path_buf(), None),
        },
        _ => (path.to_path_buf(), None),
    }
}

/// Opens `--data` (`.npy`, `.safetensors`, `FILE.safetensors:NAME`, a folder of such files,
/// or an activation store) as a data set streamed from disk: the last 10% of the rows (at
/// least [`MIN_TEST_ROWS`]) are the test split. Each row is drawn as a `1 × d` "image". A
/// Fortran-order `.npy` (which cannot be read a row at a time) is read whole.
pub fn load_rows(path: &Path) -> Result<RunData, AppError> {
    let (file, name) = file_and_tensor(path);
    if file.exists() && !file.is_file() && !file.is_dir() {
        return Err(AppError::Setting(format!(
            "{}: not a regular file (a FIFO or a device); --data reads a .npy or .safetensors \
             file, a folder of them or an activation store",
            file.display()
        )));
    }
    let fortran = file.is_file()
        && file.extension().is_some_and(|e| e == "npy")
        && npy_layout(&file).is_ok_and(|l| l.fortran_order);
    let (rows, dim, all) = if fortran {
        let acts = Activations::load(&file, name).map_err(|e| AppError::Setting(e.to_string()))?;
        let (rows, dim) = (acts.rows, acts.dim);
        (rows, dim, RowSource::Memory(Arc::new(acts.values)))
    } else {
        let store = match name {
            Some(name) => RowStore::open_tensor(&file, name),
            None => RowStore::open(&file),
        }
        .map_err(|e| AppError::Setting(e.to_string()))?;
        (store.len(), store.dim(), RowSource::Disk(store))
    };
    if rows < MIN_TEST_ROWS + 1 {
        return Err(AppError::Setting(format!(
            "{}: {} row(s); at least {} are needed (one to train, {MIN_TEST_ROWS} to test)",
            file.display(),
            rows,
            MIN_TEST_ROWS + 1
        )));
    }
    let n_test = (rows / 10).max(MIN_TEST_ROWS);
    let n_train = rows - n_test;
    let (train, test) = match all {
        RowSource::Memory(v) => (
            RowSource::Memory(Arc::new(v[..n_train * dim].to_vec())),
            RowSource::Memory(Arc::new(v[n_train * dim..].to_vec())),
        ),
        RowSource::Disk(s) => {
            let (a, b) = s.split(n_train);
            (RowSource::Disk(a), RowSource::Disk(b))
        }
    };
    Ok(RunData {
        train,
        test,
        dim,
        image: [1, dim],
        n_train,
        n_test,
    })
}

/// A fingerprint of the data (FNV-1a, 64 bits, of the shapes and the values' bits of both
/// splits, as hexadecimal): equal data give equal fingerprints on every platform. Rows on
/// disk are read once, a chunk at a time.
pub fn fingerprint(data: &RunData) -> Result<String, AppError> {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |word: u64| {
        h ^= word;
        h = h.wrapping_mul(PRIME);
    };
    for (rows, n) in [(&data.train, data.n_train), (&data.test, data.n_test)] {
        for dim in [n, data.image[0], data.image[1]] {
            eat(dim as u64);
        }
        match rows {
            RowSource::Memory(v) => v.iter().for_each(|x| eat(u64::from(x.to_bits()))),
            RowSource::Disk(s) => s.for_each_chunk::<AppError>(|chunk| {
                chunk.iter().for_each(|x| eat(u64::from(x.to_bits())));
                Ok(())
            })?,
        }
    }
    Ok(format!("{h:016x}"))
}

/// [`fingerprint`] of MNIST data in memory.
pub fn fingerprint_mnist(data: &Mnist) -> String {
    fingerprint(&RunData::from_mnist(data.clone())).expect("rows in memory read")
}
