//! [`PruneMasks`] on disk, beside a model's checkpoint: a JSON header line (each mask's path
//! and shape) and the masks bit-packed, written to a temporary name and renamed.

use std::path::Path;

use burn::tensor::TensorData;
use serde::{Deserialize, Serialize};

use super::PruneMasks;
use crate::{Error, Result};

const MAGIC: &str = "sparse-losses prune masks v1";

#[derive(Serialize, Deserialize)]
struct Header {
    format: String,
    masks: Vec<(String, Vec<usize>)>,
}

fn bad(path: &Path, message: impl ToString) -> Error {
    Error::MaskFile {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

impl PruneMasks {
    /// Writes the masks to `path` (atomically: a temporary file renamed).
    ///
    /// # Errors
    /// [`Error::MaskFile`] when the file cannot be written.
    pub fn save(&self, path: &Path) -> Result<()> {
        let header = Header {
            format: MAGIC.into(),
            masks: self
                .masks
                .iter()
                .map(|(p, m)| (p.clone(), m.shape().to_vec()))
                .collect(),
        };
        let mut bytes = serde_json::to_vec(&header).expect("a header serialises");
        bytes.push(b'\n');
        for (_, m) in &self.masks {
            let v: Vec<f32> = m
                .clone()
                .convert::<f32>()
                .try_to_vec::<f32>()
                .expect("f32 mask");
            for chunk in v.chunks(8) {
                let mut byte = 0u8;
                for (i, x) in chunk.iter().enumerate() {
                    if *x != 0.0 {
                        byte |= 1 << i;
                    }
                }
                bytes.push(byte);
            }
        }
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = std::path::PathBuf::from(tmp);
        std::fs::write(&tmp, &bytes).map_err(|e| bad(path, format!("cannot write: {e}")))?;
        std::fs::rename(&tmp, path).map_err(|e| bad(path, format!("cannot write: {e}")))
    }

    /// Reads masks written by [`save`](Self::save). Memory is bounded by the file: the header's
    /// shapes must account for exactly the bytes that follow it.
    ///
    /// # Errors
    /// [`Error::MaskFile`] for a file that cannot be read or is not a masks file.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| bad(path, format!("cannot read: {e}")))?;
        let end = bytes
            .iter()
            .position(|b| *b == b'\n')
            .ok_or_else(|| bad(path, "not a masks file (no header line)"))?;
        let header: Header = serde_json::from_slice(&bytes[..end])
            .map_err(|e| bad(path, format!("not a masks file: {e}")))?;
        if header.format != MAGIC {
            return Err(bad(
                path,
                format!("not a masks file (format `{}`)", header.format),
            ));
        }
        let body = &bytes[end + 1..];
        let mut need = 0usize;
        for (_, shape) in &header.masks {
            let n = shape.iter().try_fold(1usize, |a, d| a.checked_mul(*d));
            need = n
                .and_then(|n| need.checked_add(n.div_ceil(8)))
                .ok_or_else(|| bad(path, "a mask's shape overflows"))?;
        }
        if need != body.len() {
            return Err(bad(
                path,
                format!(
                    "the header's masks need {need} bytes; the file has {}",
                    body.len()
                ),
            ));
        }
        let mut at = 0;
        let mut masks = Vec::new();
        for (name, shape) in header.masks {
            let n: usize = shape.iter().product();
            let values: Vec<f32> = (0..n)
                .map(|i| f32::from((body[at + i / 8] >> (i % 8)) & 1))
                .collect();
            at += n.div_ceil(8);
            masks.push((name, TensorData::new(values, shape)));
        }
        Ok(Self { masks })
    }
}
