//! [`StoreWriter`]: writes an activation store shard by shard, resumable after a kill.

use std::path::{Path, PathBuf};

use ::safetensors::tensor::TensorView;
use ::safetensors::Dtype;
use burn::config::Config;
use half::{bf16, f16};

use super::{ShardEntry, StoreDtype, StoreManifest, StoreSource, MANIFEST, STORE_FORMAT};
use crate::data::{DataError, DataResult};

/// The tensor name of a shard's rows.
pub const SHARD_TENSOR: &str = "activations";

/// How a store is written.
#[derive(Config, Debug)]
pub struct StoreConfig {
    /// The name of the point the activations are taken at (recorded in the manifest).
    pub point: String,
    /// Values a row.
    pub dim: usize,
    /// The shards' element type: f32 (exact), f16 or bf16 (half the disk, rounded).
    #[config(default = "StoreDtype::F32")]
    pub dtype: StoreDtype,
    /// Rows a shard (the last may hold fewer). A shard is the unit a killed harvest loses and
    /// a streaming reader holds at once: 16,384 rows of 768 f32 values are 48 MiB.
    #[config(default = 16384)]
    pub rows_per_shard: usize,
}

/// Writes rows into a store folder: full shards as they fill, the manifest after each.
#[derive(Debug)]
pub struct StoreWriter {
    dir: PathBuf,
    manifest: StoreManifest,
    pending: Vec<f32>,
}

fn store_error(path: &Path, reason: impl Into<String>) -> DataError {
    DataError::Store {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

impl StoreWriter {
    /// Opens the store in `dir` to write rows of `config` from `source`: a new store (the
    /// folder is created), or the continuation of an unfinished one with the same point,
    /// width, element type, shard size and source (a killed harvest). Shard files the
    /// manifest does not list (written when the kill came) and temporary files are removed.
    ///
    /// # Errors
    /// [`DataError::Store`] for an invalid config, or a store in `dir` of other rows or
    /// another source; I/O errors.
    pub fn open(dir: &Path, config: &StoreConfig, source: StoreSource) -> DataResult<Self> {
        if config.dim == 0 || config.rows_per_shard == 0 {
            return Err(store_error(
                dir,
                "a store needs dim >= 1 and rows_per_shard >= 1",
            ));
        }
        std::fs::create_dir_all(dir).map_err(|e| DataError::write(dir, e))?;
        let manifest = if dir.join(MANIFEST).exists() {
            let m = StoreManifest::read(dir)?;
            let same = m.point == config.point
                && m.dim == config.dim
                && m.dtype == config.dtype
                && m.rows_per_shard == config.rows_per_shard;
            if !same {
                return Err(store_error(
                    dir,
                    format!(
                        "holds a store of point {:?}, {} values a row in {:?}, {} rows a shard; \
                         this harvest writes {:?}, {} in {:?}, {}: choose another folder",
                        m.point,
                        m.dim,
                        m.dtype,
                        m.rows_per_shard,
                        config.point,
                        config.dim,
                        config.dtype,
                        config.rows_per_shard
                    ),
                ));
            }
            if m.source != source {
                return Err(store_error(
                    dir,
                    format!(
                        "holds activations of another model or data (model {}, data {}; this \
                         harvest: model {}, data {}): choose another folder",
                        m.source.model, m.source.data, source.model, source.data
                    ),
                ));
            }
            m
        } else {
            StoreManifest {
                format: STORE_FORMAT.into(),
                version: 1,
                point: config.point.clone(),
                dim: config.dim,
                dtype: config.dtype,
                rows_per_shard: config.rows_per_shard,
                total_rows: 0,
                shards: Vec::new(),
                source,
                complete: false,
            }
        };
        remove_unlisted(dir, &manifest);
        let writer = Self {
            dir: dir.to_path_buf(),
            manifest,
            pending: Vec::new(),
        };
        if !writer.manifest.complete {
            writer.write_manifest()?;
        }
        Ok(writer)
    }

    /// Rows already stored (a continued harvest skips this many rows of its input).
    pub fn rows_done(&self) -> usize {
        self.manifest.total_rows
    }

    /// Whether the store was finished ([`finish`](Self::finish)).
    pub fn is_complete(&self) -> bool {
        self.manifest.complete
    }

    /// The manifest as written so far.
    pub fn manifest(&self) -> &StoreManifest {
        &self.manifest
    }

    /// Adds rows (row-major, a multiple of `dim` values, all finite); full shards are
    /// written at once.
    ///
    /// # Errors
    /// [`DataError::Store`] for a finished store, values that are not whole rows or not
    /// finite; I/O errors.
    pub fn push(&mut self, rows: &[f32]) -> DataResult<()> {
        let d = self.manifest.dim;
        if self.manifest.complete {
            return Err(store_error(&self.dir, "the store is finished"));
        }
        if !rows.len().is_multiple_of(d) {
            return Err(store_error(
                &self.dir,
                format!("{} values are not rows of {d}", rows.len()),
            ));
        }
        if let Some(i) = rows.iter().position(|v| !v.is_finite()) {
            return Err(store_error(
                &self.dir,
                format!(
                    "the activation at row {}, column {} is {}",
                    self.manifest.total_rows + self.pending.len() / d + i / d,
                    i % d,
                    rows[i]
                ),
            ));
        }
        let shard = self.manifest.rows_per_shard * d;
        let mut rest = rows;
        while !rest.is_empty() {
            let take = (shard - self.pending.len()).min(rest.len());
            self.pending.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.pending.len() == shard {
                self.flush()?;
            }
        }
        Ok(())
    }

    /// Writes the last (partial) shard and marks the store complete.
    ///
    /// # Errors
    /// I/O errors.
    pub fn finish(mut self) -> DataResult<StoreManifest> {
        if !self.pending.is_empty() {
            self.flush()?;
        }
        self.manifest.complete = true;
        self.write_manifest()?;
        Ok(self.manifest)
    }

    /// Writes the pending rows as the next shard, then the manifest.
    fn flush(&mut self) -> DataResult<()> {
        let d = self.manifest.dim;
        let rows = self.pending.len() / d;
        let name = format!("shard-{:05}.safetensors", self.manifest.shards.len());
        let path = self.dir.join(&name);
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let (dtype, bytes) = encode(&self.pending, self.manifest.dtype);
        let view = TensorView::new(dtype, vec![rows, d], &bytes)
            .map_err(|e| store_error(&path, e.to_string()))?;
        ::safetensors::serialize_to_file([(SHARD_TENSOR, view)], None, &tmp).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            store_error(&tmp, format!("cannot be written: {e}"))
        })?;
        std::fs::rename(&tmp, &path).map_err(|e| DataError::write(&path, e))?;
        self.manifest.shards.push(ShardEntry { file: name, rows });
        self.manifest.total_rows += rows;
        self.pending.clear();
        self.write_manifest()
    }

    fn write_manifest(&self) -> DataResult<()> {
        let path = self.dir.join(MANIFEST);
        let tmp = self.dir.join(format!(".{MANIFEST}.tmp"));
        let json = serde_json::to_vec_pretty(&self.manifest).expect("a manifest serialises");
        std::fs::write(&tmp, json).map_err(|e| DataError::write(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| DataError::write(&path, e))
    }
}

/// The values as little-endian bytes of `dtype`, and safetensors' name for it.
fn encode(values: &[f32], dtype: StoreDtype) -> (Dtype, Vec<u8>) {
    let mut out = Vec::with_capacity(values.len() * dtype.size());
    match dtype {
        StoreDtype::F32 => {
            for v in values {
                out.extend_from_slice(&v.to_le_bytes());
            }
            (Dtype::F32, out)
        }
        StoreDtype::F16 => {
            for v in values {
                out.extend_from_slice(&f16::from_f32(*v).to_le_bytes());
            }
            (Dtype::F16, out)
        }
        StoreDtype::Bf16 => {
            for v in values {
                out.extend_from_slice(&bf16::from_f32(*v).to_le_bytes());
            }
            (Dtype::BF16, out)
        }
    }
}

/// Removes shard files the manifest does not list and temporary files (a kill between a
/// shard's rename and the manifest's, or during a write).
fn remove_unlisted(dir: &Path, manifest: &StoreManifest) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let stray_shard = name.starts_with("shard-")
            && name.ends_with(".safetensors")
            && !manifest.shards.iter().any(|s| s.file == name);
        let tmp = name.starts_with('.') && name.ends_with(".tmp");
        if stray_shard || tmp {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}
