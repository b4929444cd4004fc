//! [`StoreManifest`]: the JSON that describes an activation store.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::data::{DataError, DataResult};

/// The manifest's file name in a store folder.
pub const MANIFEST: &str = "manifest.json";

/// The `format` field of every manifest.
pub const STORE_FORMAT: &str = "sparse-autoencoders activation store";

/// The element type of a store's shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum StoreDtype {
    /// IEEE single precision (4 bytes a value).
    #[default]
    F32,
    /// IEEE half precision (2 bytes; about 3 significant digits, range ±65,504).
    F16,
    /// bfloat16 (2 bytes; f32's range, about 2 significant digits).
    Bf16,
}

impl StoreDtype {
    /// Bytes a value.
    pub fn size(self) -> usize {
        match self {
            StoreDtype::F32 => 4,
            StoreDtype::F16 | StoreDtype::Bf16 => 2,
        }
    }
}

/// One shard of a store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardEntry {
    /// Its file name in the store folder.
    pub file: String,
    /// Its rows.
    pub rows: usize,
}

/// Where a store's rows came from: fingerprints that a resumed harvest must match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct StoreSource {
    /// The model's fingerprint ([`module_fingerprint`](crate::harvest::module_fingerprint)),
    /// or any text that names it.
    pub model: String,
    /// The data's fingerprint, or any text that names it.
    pub data: String,
}

/// `manifest.json` of a store: what its rows are and which shards hold them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreManifest {
    /// Always [`STORE_FORMAT`].
    pub format: String,
    /// The layout version (1).
    pub version: u32,
    /// The name of the point the activations were taken at (`h1`, `blocks.3.mlp`, ...).
    pub point: String,
    /// Values a row.
    pub dim: usize,
    /// The shards' element type.
    pub dtype: StoreDtype,
    /// Rows a shard (the last may hold fewer).
    pub rows_per_shard: usize,
    /// Rows in all the shards listed.
    pub total_rows: usize,
    /// The shards, in order.
    pub shards: Vec<ShardEntry>,
    /// Where the rows came from.
    pub source: StoreSource,
    /// Whether the harvest finished (a store that is not complete can be continued).
    pub complete: bool,
}

impl StoreManifest {
    /// Reads `dir/manifest.json` and checks it (format, a sum of shard rows equal to
    /// `total_rows`, shard names that stay in the folder). At most 64 MiB are read.
    ///
    /// # Errors
    /// [`DataError::Store`] naming the manifest and what is wrong; an I/O error.
    pub fn read(dir: &Path) -> DataResult<Self> {
        use std::io::Read as _;
        let path = dir.join(MANIFEST);
        let bad = |reason: String| DataError::Store {
            path: path.clone(),
            reason,
        };
        let file = std::fs::File::open(&path).map_err(|e| DataError::read(&path, e))?;
        let mut text = String::new();
        file.take(64 << 20)
            .read_to_string(&mut text)
            .map_err(|e| DataError::read(&path, e))?;
        let m: StoreManifest =
            serde_json::from_str(&text).map_err(|e| bad(format!("not a store manifest: {e}")))?;
        if m.format != STORE_FORMAT || m.version != 1 {
            return Err(bad(format!(
                "format {:?} version {}, expected {STORE_FORMAT:?} version 1",
                m.format, m.version
            )));
        }
        if m.dim == 0 || m.rows_per_shard == 0 {
            return Err(bad("dim and rows_per_shard must be at least 1".into()));
        }
        let sum: usize = m.shards.iter().map(|s| s.rows).sum();
        if sum != m.total_rows {
            return Err(bad(format!(
                "its shards hold {sum} rows but total_rows is {}",
                m.total_rows
            )));
        }
        if let Some(s) = m
            .shards
            .iter()
            .find(|s| s.file.contains('/') || s.file.contains('\\') || s.file.starts_with('.'))
        {
            return Err(bad(format!("shard file {:?} is not a plain name", s.file)));
        }
        Ok(m)
    }
}
