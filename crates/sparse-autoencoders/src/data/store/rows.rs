//! [`RowStore`]: rows on disk, read a chunk at a time.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{StoreManifest, MANIFEST, SHARD_TENSOR};
use crate::data::npy::decode_values;
use crate::data::{
    npy_layout, read_safetensors_rows, safetensors_info, DataError, DataResult, NpyLayout,
};

/// The bytes (as f32) of the chunks a single file is read in: 16 MiB.
pub const CHUNK_BYTES: usize = 16 << 20;

#[derive(Debug)]
enum Source {
    Npy { path: PathBuf, layout: NpyLayout },
    Safetensors { path: PathBuf, name: String },
}

#[derive(Debug, Clone)]
struct Chunk {
    source: Arc<Source>,
    /// The row of the whole store this chunk starts at.
    first: usize,
    /// Its rows.
    rows: usize,
    /// Its first row within its file.
    offset: usize,
}

/// Rows of a fixed width on disk (a store written by [`StoreWriter`](super::StoreWriter), a
/// folder of `.npy` / `.safetensors` files, or one file), read a chunk at a time, and a view
/// of a range of them. Cloning is cheap; nothing is read until a chunk is asked for.
#[derive(Debug, Clone)]
pub struct RowStore {
    path: PathBuf,
    dim: usize,
    chunks: Arc<Vec<Chunk>>,
    range: (usize, usize),
    manifest: Option<Arc<StoreManifest>>,
}

fn store_error(path: &Path, reason: impl Into<String>) -> DataError {
    DataError::Store {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// The rows and width of a 2-D `.npy` file that can be read a row range at a time.
fn npy_rows(path: &Path) -> DataResult<(Source, usize, usize)> {
    let layout = npy_layout(path)?;
    let [n, d] = layout.shape[..] else {
        return Err(store_error(
            path,
            format!(
                "shape {:?}: rows are read from 2-D arrays [rows, dim]",
                layout.shape
            ),
        ));
    };
    if layout.fortran_order && n > 1 && d > 1 {
        return Err(store_error(
            path,
            "a Fortran-order array cannot be read a row at a time; save it with \
             np.ascontiguousarray",
        ));
    }
    let source = Source::Npy {
        path: path.to_path_buf(),
        layout,
    };
    Ok((source, n, d))
}

/// The rows and width of a 2-D tensor of a `.safetensors` file.
fn safetensors_rows(path: &Path, name: Option<&str>) -> DataResult<(Source, usize, usize)> {
    let (name, shape, _) = safetensors_info(path, name)?;
    let [n, d] = shape[..] else {
        return Err(store_error(
            path,
            format!("tensor {name:?} has shape {shape:?}: rows are read from 2-D tensors"),
        ));
    };
    let source = Source::Safetensors {
        path: path.to_path_buf(),
        name,
    };
    Ok((source, n, d))
}

impl RowStore {
    /// Opens `path`: a store folder (with `manifest.json`), a folder of `.npy` and
    /// `.safetensors` files (each 2-D, all of one width, in the order of their names; a
    /// `.safetensors` file holds one tensor, or one named `activations`), or one such file.
    /// Only headers are read.
    ///
    /// # Errors
    /// [`DataError::Store`] for files of different widths, arrays that are not 2-D, an empty
    /// folder or an inconsistent manifest; the readers' errors for a bad file.
    pub fn open(path: impl AsRef<Path>) -> DataResult<Self> {
        let path = path.as_ref();
        if path.is_dir() {
            if path.join(MANIFEST).exists() {
                return Self::open_store(path);
            }
            return Self::open_folder(path);
        }
        let (source, n, d) = Self::open_file(path, None)?;
        Self::from_sources(path, vec![(source, n, d)], None)
    }

    /// Opens the tensor `name` of a `.safetensors` file.
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub fn open_tensor(path: impl AsRef<Path>, name: &str) -> DataResult<Self> {
        let path = path.as_ref();
        let (source, n, d) = safetensors_rows(path, Some(name))?;
        Self::from_sources(path, vec![(source, n, d)], None)
    }

    fn open_file(path: &Path, name: Option<&str>) -> DataResult<(Source, usize, usize)> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("npy") => npy_rows(path),
            Some("safetensors") => safetensors_rows(path, name),
            _ => Err(DataError::UnknownExtension {
                path: path.to_path_buf(),
            }),
        }
    }

    fn open_store(dir: &Path) -> DataResult<Self> {
        let m = StoreManifest::read(dir)?;
        let mut sources = Vec::with_capacity(m.shards.len());
        for shard in &m.shards {
            let file = dir.join(&shard.file);
            let (source, n, d) = safetensors_rows(&file, Some(SHARD_TENSOR))?;
            if n != shard.rows || d != m.dim {
                return Err(store_error(
                    &file,
                    format!(
                        "holds {n} rows of {d} but {} lists {} rows of {}",
                        MANIFEST, shard.rows, m.dim
                    ),
                ));
            }
            sources.push((source, n, d));
        }
        if sources.is_empty() {
            return Err(store_error(dir, "the store holds no rows yet"));
        }
        Self::from_sources(dir, sources, Some(m))
    }

    fn open_folder(dir: &Path) -> DataResult<Self> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| DataError::read(dir, e))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.is_file()
                    && matches!(
                        p.extension().and_then(|e| e.to_str()),
                        Some("npy" | "safetensors")
                    )
            })
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(store_error(
                dir,
                "no manifest.json and no .npy or .safetensors files",
            ));
        }
        let mut sources = Vec::with_capacity(files.len());
        for file in &files {
            let name = match file.extension().and_then(|e| e.to_str()) {
                Some("safetensors") => {
                    let names = crate::data::safetensors_names(file)?;
                    (names.len() > 1 && names.iter().any(|n| n == SHARD_TENSOR))
                        .then_some(SHARD_TENSOR)
                }
                _ => None,
            };
            sources.push(Self::open_file(file, name)?);
        }
        Self::from_sources(dir, sources, None)
    }

    fn from_sources(
        path: &Path,
        sources: Vec<(Source, usize, usize)>,
        manifest: Option<StoreManifest>,
    ) -> DataResult<Self> {
        let dim = sources[0].2;
        if dim == 0 {
            return Err(store_error(path, "rows of width 0"));
        }
        let per_chunk = (CHUNK_BYTES / 4 / dim).max(1);
        let mut chunks = Vec::new();
        let mut first = 0;
        for (source, n, d) in sources {
            if d != dim {
                let file = match &source {
                    Source::Npy { path, .. } | Source::Safetensors { path, .. } => path.clone(),
                };
                return Err(store_error(
                    &file,
                    format!("rows of {d} values, but the first file's have {dim}"),
                ));
            }
            let source = Arc::new(source);
            // A store's shards are chunks as they are; a file is cut into chunks.
            let step = if manifest.is_some() {
                n.max(1)
            } else {
                per_chunk
            };
            let mut offset = 0;
            while offset < n {
                let rows = step.min(n - offset);
                chunks.push(Chunk {
                    source: source.clone(),
                    first,
                    rows,
                    offset,
                });
                first += rows;
                offset += rows;
            }
        }
        Ok(Self {
            path: path.to_path_buf(),
            dim,
            chunks: Arc::new(chunks),
            range: (0, first),
            manifest: manifest.map(Arc::new),
        })
    }

    /// What was opened.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Values a row.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Rows in this view.
    pub fn len(&self) -> usize {
        self.range.1 - self.range.0
    }

    /// Whether the view holds no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The manifest, for a store.
    pub fn manifest(&self) -> Option<&StoreManifest> {
        self.manifest.as_deref()
    }

    /// Rows `start..end` of this view (clamped to it).
    pub fn view(&self, start: usize, end: usize) -> Self {
        let s = (self.range.0 + start).min(self.range.1);
        let e = (self.range.0 + end).min(self.range.1).max(s);
        Self {
            range: (s, e),
            ..self.clone()
        }
    }

    /// The first `n` rows and the rest.
    pub fn split(&self, n: usize) -> (Self, Self) {
        (self.view(0, n), self.view(n, self.len()))
    }

    /// The chunks of this view: `(chunk, rows within the chunk)`, in order.
    fn parts(&self) -> Vec<(usize, std::ops::Range<usize>)> {
        self.chunks
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let a = c.first.max(self.range.0);
                let b = (c.first + c.rows).min(self.range.1);
                (a < b).then(|| (i, a - c.first..b - c.first))
            })
            .collect()
    }

    /// How many chunks the view reads.
    pub fn chunk_count(&self) -> usize {
        self.parts().len()
    }

    /// The rows of chunk `i` of the view (`0..chunk_count()`), row-major.
    ///
    /// # Errors
    /// The readers' errors (a file changed or removed since it was opened).
    pub fn read_chunk(&self, i: usize) -> DataResult<Vec<f32>> {
        let parts = self.parts();
        let Some((c, rows)) = parts.get(i).cloned() else {
            return Err(store_error(&self.path, format!("no chunk {i}")));
        };
        let chunk = &self.chunks[c];
        let rows = chunk.offset + rows.start..chunk.offset + rows.end;
        match chunk.source.as_ref() {
            Source::Safetensors { path, name } => {
                Ok(read_safetensors_rows(path, Some(name), rows)?.data)
            }
            Source::Npy { path, layout } => read_npy_rows(path, layout, self.dim, rows),
        }
    }

    /// Calls `f` with each chunk's rows in order (a sequential pass holding one chunk).
    ///
    /// # Errors
    /// The first read error, or `f`'s.
    pub fn for_each_chunk<E: From<DataError>>(
        &self,
        mut f: impl FnMut(&[f32]) -> Result<(), E>,
    ) -> Result<(), E> {
        for i in 0..self.chunk_count() {
            f(&self.read_chunk(i)?)?;
        }
        Ok(())
    }

    /// Every row of the view in memory (for a view known to be small).
    ///
    /// # Errors
    /// The readers' errors.
    pub fn read_all(&self) -> DataResult<Vec<f32>> {
        let mut out = Vec::with_capacity(self.len() * self.dim);
        self.for_each_chunk::<DataError>(|rows| {
            out.extend_from_slice(rows);
            Ok(())
        })?;
        Ok(out)
    }
}

/// Rows `rows` of a 2-D `.npy` file: one seek and one read.
fn read_npy_rows(
    path: &Path,
    layout: &NpyLayout,
    dim: usize,
    rows: std::ops::Range<usize>,
) -> DataResult<Vec<f32>> {
    let size = layout.dtype.itemsize();
    let row_bytes = (dim * size) as u64;
    let mut file = std::fs::File::open(path).map_err(|e| DataError::read(path, e))?;
    file.seek(SeekFrom::Start(
        layout.data_offset + rows.start as u64 * row_bytes,
    ))
    .map_err(|e| DataError::read(path, e))?;
    let mut bytes = vec![0u8; (rows.end - rows.start) * dim * size];
    file.read_exact(&mut bytes)
        .map_err(|e| DataError::read(path, e))?;
    let mut out = Vec::with_capacity((rows.end - rows.start) * dim);
    decode_values(&bytes, layout.dtype, layout.big_endian, &mut out);
    Ok(out)
}
