//! Reading and writing the files of an SAE directory: `cfg.json` and a `.safetensors` file of
//! named `f32` tensors, written to a temporary name and renamed, so that a reader never sees
//! half a file and a failed write leaves an earlier file whole.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ::safetensors::tensor::TensorView;
use ::safetensors::Dtype;
use serde_json::Value;

use crate::data::{read_safetensors, safetensors_names};
use crate::{Error, Result};

/// [`Error::ExternalSae`] about `path`.
pub(crate) fn bad(path: &Path, message: impl ToString) -> Error {
    Error::ExternalSae {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

/// The JSON object of `dir/cfg.json`.
pub(crate) fn read_cfg(dir: &Path) -> Result<serde_json::Map<String, Value>> {
    let path = dir.join("cfg.json");
    let text = std::fs::read_to_string(&path).map_err(|e| bad(&path, e))?;
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(bad(&path, "expected a JSON object")),
        Err(e) => Err(bad(&path, format!("not JSON: {e}"))),
    }
}

/// A named tensor read from a file: its shape and its elements as `f32`.
pub(crate) type Tensors = BTreeMap<String, (Vec<usize>, Vec<f32>)>;

/// Every tensor of a `.safetensors` file, converted to `f32` (F32, F16, BF16 and F64 files).
pub(crate) fn read_tensors(path: &Path) -> Result<Tensors> {
    let mut out = Tensors::new();
    for name in safetensors_names(path)? {
        let t = read_safetensors(path, Some(&name))?;
        out.insert(name, (t.shape, t.data));
    }
    Ok(out)
}

/// Takes the tensor `name` out of `tensors`, checking its shape.
pub(crate) fn take(
    tensors: &mut Tensors,
    path: &Path,
    name: &str,
    shape: &[usize],
) -> Result<Vec<f32>> {
    let Some((got, data)) = tensors.remove(name) else {
        return Err(bad(path, format!("has no tensor `{name}`")));
    };
    if got != shape {
        return Err(bad(
            path,
            format!("tensor `{name}` has shape {got:?}; the config says {shape:?}"),
        ));
    }
    Ok(data)
}

/// Refuses the tensors left after the expected ones were taken (the readers are strict, as
/// SAELens' `load_state_dict` is).
pub(crate) fn nothing_left(tensors: &Tensors, path: &Path) -> Result<()> {
    match tensors.keys().next() {
        None => Ok(()),
        Some(_) => Err(bad(
            path,
            format!(
                "has tensors this architecture does not use: {}",
                tensors.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        )),
    }
}

/// `path` with `.tmp` appended to its file name.
fn temporary(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Writes `bytes` to `path` through a temporary file in the same directory.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temporary(path);
    let io = |e: std::io::Error| bad(path, format!("cannot write: {e}"));
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })
}

/// Writes `tensors` (name, shape, row-major `f32` elements) as a `.safetensors` file with no
/// metadata, as SAELens' `save_file` does.
pub(crate) fn write_tensors(path: &Path, tensors: &[(&str, Vec<usize>, &[f32])]) -> Result<()> {
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, _, v)| v.iter().flat_map(|x| x.to_le_bytes()).collect())
        .collect();
    let views = tensors
        .iter()
        .zip(&bytes)
        .map(|((name, shape, _), b)| {
            TensorView::new(Dtype::F32, shape.clone(), b)
                .map(|v| (name.to_string(), v))
                .map_err(|e| bad(path, e))
        })
        .collect::<Result<Vec<_>>>()?;
    let out = ::safetensors::serialize(views, None).map_err(|e| bad(path, e))?;
    write_atomic(path, &out)
}

/// A `usize` field of a config object.
pub(crate) fn usize_field(
    cfg: &serde_json::Map<String, Value>,
    path: &Path,
    key: &str,
) -> Result<usize> {
    match cfg.get(key) {
        Some(v) => v
            .as_u64()
            .map(|n| n as usize)
            .ok_or_else(|| bad(path, format!("`{key}` = {v} is not a non-negative integer"))),
        None => Err(bad(path, format!("has no `{key}`"))),
    }
}

/// A `bool` field of a config object, `default` when absent.
pub(crate) fn bool_field(
    cfg: &serde_json::Map<String, Value>,
    path: &Path,
    key: &str,
    default: bool,
) -> Result<bool> {
    match cfg.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_bool()
            .ok_or_else(|| bad(path, format!("`{key}` = {v} is not true or false"))),
    }
}
