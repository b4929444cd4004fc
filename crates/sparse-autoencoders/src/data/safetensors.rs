//! Reading one tensor of a `.safetensors` file as `f32`.
//!
//! The file is memory-mapped (`memmap2`) and parsed by the format's reference crate
//! (`safetensors`), which validates the header and that every tensor's byte range matches its
//! shape and dtype, so nothing is allocated except the converted `f32` copy of the one tensor
//! asked for. Element types `F32`, `F16`, `BF16` and `F64` are converted; safetensors data is
//! always little-endian and row-major.

use std::path::Path;

use ::safetensors::{Dtype, SafeTensors};
use half::{bf16, f16};

use super::error::{open_file, DataError, DataResult};

/// The element types [`read_safetensors`] converts, for error messages.
pub const SUPPORTED_SAFETENSORS_DTYPES: &str = "F32, F16, BF16, F64";

/// One tensor read from a `.safetensors` file, converted to `f32`.
#[derive(Debug, Clone, PartialEq)]
pub struct SafetensorsTensor {
    /// The tensor's name in the file.
    pub name: String,
    /// Its shape, outermost dimension first.
    pub shape: Vec<usize>,
    /// The element type stored in the file.
    pub dtype: String,
    /// The elements in row-major order.
    pub data: Vec<f32>,
}

/// Maps `path` and parses its header; `f` gets the parsed file.
fn with_file<T>(path: &Path, f: impl FnOnce(&SafeTensors<'_>) -> DataResult<T>) -> DataResult<T> {
    let (file, len) = open_file(path)?;
    if len < 8 {
        return Err(DataError::ShortHeader {
            path: path.to_path_buf(),
            format: "safetensors",
            needed: 8,
            found: len,
        });
    }
    // SAFETY: the map is only read, and only inside this function. As with every mmap, a
    // process truncating or rewriting the file meanwhile could change or invalidate the bytes;
    // the data files this crate reads are not modified while training reads them.
    #[allow(unsafe_code)]
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| DataError::read(path, e))?;
    with_bytes(&map, path, f)
}

/// Parses the bytes of a `.safetensors` file; `f` gets the parsed file.
fn with_bytes<T>(
    bytes: &[u8],
    path: &Path,
    f: impl FnOnce(&SafeTensors<'_>) -> DataResult<T>,
) -> DataResult<T> {
    let st = SafeTensors::deserialize(bytes).map_err(|e| DataError::Safetensors {
        path: path.to_path_buf(),
        reason: e.to_string().replace('\n', " "),
    })?;
    f(&st)
}

/// The sorted names of the tensors in a `.safetensors` file.
pub fn safetensors_names(path: impl AsRef<Path>) -> DataResult<Vec<String>> {
    with_file(path.as_ref(), |st| Ok(sorted_names(st)))
}

fn sorted_names(st: &SafeTensors<'_>) -> Vec<String> {
    let mut names: Vec<String> = st.names().into_iter().map(str::to_string).collect();
    names.sort();
    names
}

/// Reads the tensor `name` of a `.safetensors` file as `f32`. Without a name, the file must
/// hold exactly one tensor, which is read.
///
/// Errors: [`DataError::MissingTensor`] (listing the names present) when `name` is not in the
/// file, [`DataError::AmbiguousTensor`] when no name is given and the file holds zero or several
/// tensors, [`DataError::UnsupportedDtype`] for element types other than
/// [`SUPPORTED_SAFETENSORS_DTYPES`], [`DataError::Safetensors`] for an invalid file.
pub fn read_safetensors(
    path: impl AsRef<Path>,
    name: Option<&str>,
) -> DataResult<SafetensorsTensor> {
    let path = path.as_ref();
    with_file(path, |st| tensor_of(st, path, name, None))
}

/// Rows `rows` (of the outermost dimension) of the tensor `name` (or the only one) of a
/// `.safetensors` file, as `f32`: only those bytes of the mapped file are read and converted.
/// The returned shape is the slice's. Errors as [`read_safetensors`], and
/// [`DataError::Store`] for a 0-d tensor or rows past its end.
pub fn read_safetensors_rows(
    path: impl AsRef<Path>,
    name: Option<&str>,
    rows: std::ops::Range<usize>,
) -> DataResult<SafetensorsTensor> {
    let path = path.as_ref();
    with_file(path, |st| tensor_of(st, path, name, Some(rows)))
}

/// The name, shape and element type of the tensor `name` (or the only one) of a
/// `.safetensors` file, without reading its elements.
pub fn safetensors_info(
    path: impl AsRef<Path>,
    name: Option<&str>,
) -> DataResult<(String, Vec<usize>, String)> {
    let path = path.as_ref();
    with_file(path, |st| {
        let name = pick_name(st, path, name)?;
        let view = st.tensor(&name).map_err(|e| DataError::Safetensors {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        Ok((name, view.shape().to_vec(), view.dtype().to_string()))
    })
}

/// [`read_safetensors`] on the bytes of a file (`path` only labels the errors).
pub fn parse_safetensors(
    bytes: &[u8],
    path: &Path,
    name: Option<&str>,
) -> DataResult<SafetensorsTensor> {
    with_bytes(bytes, path, |st| tensor_of(st, path, name, None))
}

/// The name of the tensor `name` (or of the only one) of a parsed file.
fn pick_name(st: &SafeTensors<'_>, path: &Path, name: Option<&str>) -> DataResult<String> {
    let names = sorted_names(st);
    match name {
        Some(n) if names.iter().any(|m| m == n) => Ok(n.to_string()),
        Some(n) => Err(DataError::MissingTensor {
            path: path.to_path_buf(),
            name: n.to_string(),
            present: names,
        }),
        None if names.len() == 1 => Ok(names[0].clone()),
        None => Err(DataError::AmbiguousTensor {
            path: path.to_path_buf(),
            present: names,
        }),
    }
}

/// The tensor `name` (or the only one) of a parsed file, as `f32`; only `rows` of its
/// outermost dimension when given.
fn tensor_of(
    st: &SafeTensors<'_>,
    path: &Path,
    name: Option<&str>,
    rows: Option<std::ops::Range<usize>>,
) -> DataResult<SafetensorsTensor> {
    let name = pick_name(st, path, name)?;
    let view = st.tensor(&name).map_err(|e| DataError::Safetensors {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let mut shape = view.shape().to_vec();
    let mut bytes = view.data();
    if let Some(rows) = rows {
        let Some(&n) = shape.first() else {
            return Err(DataError::Store {
                path: path.to_path_buf(),
                reason: "a 0-d tensor has no rows".into(),
            });
        };
        if rows.start > rows.end || rows.end > n {
            return Err(DataError::Store {
                path: path.to_path_buf(),
                reason: format!("rows {}..{} of a tensor of {n} rows", rows.start, rows.end),
            });
        }
        let row_bytes = bytes.len() / n.max(1);
        bytes = &bytes[rows.start * row_bytes..rows.end * row_bytes];
        shape[0] = rows.end - rows.start;
    }
    // The safetensors crate has checked that `bytes` is exactly the shape's element count
    // times the element size, so this allocation is bounded by the file.
    let data: Vec<f32> = match view.dtype() {
        Dtype::F32 => bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        Dtype::F16 => bytes
            .chunks_exact(2)
            .map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        Dtype::BF16 => bytes
            .chunks_exact(2)
            .map(|c| bf16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        Dtype::F64 => bytes
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32)
            .collect(),
        other => {
            return Err(DataError::UnsupportedDtype {
                path: path.to_path_buf(),
                dtype: other.to_string(),
                supported: SUPPORTED_SAFETENSORS_DTYPES,
            })
        }
    };
    Ok(SafetensorsTensor {
        name,
        shape,
        dtype: view.dtype().to_string(),
        data,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use ::safetensors::tensor::TensorView;
    use std::path::PathBuf;

    /// A unique path in the temp directory (removed by the caller).
    pub(crate) fn temp(tag: &str) -> PathBuf {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        std::env::temp_dir().join(format!(
            "sae-st-{tag}-{}-{}.safetensors",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ))
    }

    /// Writes `(name, dtype, shape, little-endian bytes)` tensors to `path`.
    pub(crate) fn write(path: &Path, tensors: &[(&str, Dtype, Vec<usize>, Vec<u8>)]) {
        let views: Vec<(String, TensorView<'_>)> = tensors
            .iter()
            .map(|(n, d, s, b)| (n.to_string(), TensorView::new(*d, s.clone(), b).unwrap()))
            .collect();
        ::safetensors::serialize_to_file(views, None, path).unwrap();
    }

    pub(crate) fn f32_bytes(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    const VALUES: [f32; 6] = [1.5, -2.0, 0.25, 3.0, 0.0, -0.5];

    #[test]
    fn reads_every_float_dtype() {
        let path = temp("dtypes");
        let f16b: Vec<u8> = VALUES
            .iter()
            .flat_map(|&x| f16::from_f32(x).to_le_bytes())
            .collect();
        let bf16b: Vec<u8> = VALUES
            .iter()
            .flat_map(|&x| bf16::from_f32(x).to_le_bytes())
            .collect();
        let f64b: Vec<u8> = VALUES
            .iter()
            .flat_map(|&x| (x as f64).to_le_bytes())
            .collect();
        write(
            &path,
            &[
                ("a32", Dtype::F32, vec![2, 3], f32_bytes(&VALUES)),
                ("b16", Dtype::F16, vec![3, 2], f16b),
                ("cbf", Dtype::BF16, vec![6], bf16b),
                ("d64", Dtype::F64, vec![1, 2, 3], f64b),
            ],
        );
        assert_eq!(
            safetensors_names(&path).unwrap(),
            vec!["a32", "b16", "cbf", "d64"]
        );
        for (name, shape, dtype) in [
            ("a32", vec![2, 3], "F32"),
            ("b16", vec![3, 2], "F16"),
            ("cbf", vec![6], "BF16"),
            ("d64", vec![1, 2, 3], "F64"),
        ] {
            let t = read_safetensors(&path, Some(name)).unwrap();
            assert_eq!(t.name, name);
            assert_eq!(t.shape, shape);
            assert_eq!(t.dtype, dtype);
            assert_eq!(t.data, VALUES.to_vec(), "{name}");
        }
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn the_only_tensor_needs_no_name() {
        let path = temp("single");
        write(
            &path,
            &[("acts", Dtype::F32, vec![3, 2], f32_bytes(&VALUES))],
        );
        let t = read_safetensors(&path, None).unwrap();
        assert_eq!((t.name.as_str(), t.shape), ("acts", vec![3, 2]));
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn missing_and_ambiguous_names_list_the_names_present() {
        let path = temp("names");
        write(
            &path,
            &[
                ("layer.1", Dtype::F32, vec![1, 2], f32_bytes(&VALUES[..2])),
                ("layer.0", Dtype::F32, vec![1, 2], f32_bytes(&VALUES[..2])),
            ],
        );
        let e = read_safetensors(&path, Some("acts")).unwrap_err();
        assert!(
            matches!(&e, DataError::MissingTensor { name, present, .. }
                if name == "acts" && present == &["layer.0", "layer.1"]),
            "{e}"
        );
        let m = e.to_string();
        assert!(
            m.ends_with("no tensor named \"acts\"; the file holds layer.0, layer.1"),
            "{m}"
        );
        assert!(m.starts_with(&*path.to_string_lossy()), "{m}");
        let e = read_safetensors(&path, None).unwrap_err();
        assert!(matches!(e, DataError::AmbiguousTensor { ref present, .. } if present.len() == 2));
        std::fs::remove_file(&path).unwrap();

        let empty = temp("empty");
        write(&empty, &[]);
        assert!(matches!(
            read_safetensors(&empty, None),
            Err(DataError::AmbiguousTensor { ref present, .. }) if present.is_empty()
        ));
        std::fs::remove_file(&empty).unwrap();
    }

    #[test]
    fn rejects_other_dtypes() {
        let path = temp("int");
        write(&path, &[("i", Dtype::I32, vec![2], vec![0; 8])]);
        let e = read_safetensors(&path, Some("i")).unwrap_err();
        assert!(
            matches!(e, DataError::UnsupportedDtype { ref dtype, .. } if dtype == "I32"),
            "{e}"
        );
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn rejects_invalid_files() {
        let path = temp("bad");
        // A header claiming 4 MB of data in a file of about 100 bytes.
        let claim = br#"{"x":{"dtype":"F32","shape":[1000000],"data_offsets":[0,4000000]}}"#;
        let mut big = (claim.len() as u64).to_le_bytes().to_vec();
        big.extend_from_slice(claim);
        big.extend_from_slice(&[0; 16]);
        // A consistent header whose shape does not match its offsets.
        let lie = br#"{"x":{"dtype":"F32","shape":[5],"data_offsets":[0,16]}}"#;
        let mut wrong = (lie.len() as u64).to_le_bytes().to_vec();
        wrong.extend_from_slice(lie);
        wrong.extend_from_slice(&[0; 16]);
        for bytes in [
            &b""[..],
            b"\x01\x00\x00",
            b"\xff\xff\xff\xff\xff\xff\xff\xff{}",
            b"\x02\x00\x00\x00\x00\x00\x00\x00{",
            b"\x08\x00\x00\x00\x00\x00\x00\x00not json",
            &big[..],
            &wrong[..],
        ] {
            std::fs::write(&path, bytes).unwrap();
            let e = read_safetensors(&path, None).unwrap_err();
            assert!(
                matches!(
                    e,
                    DataError::Safetensors { .. } | DataError::ShortHeader { .. }
                ),
                "{bytes:?}: {e}"
            );
            assert!(!e.to_string().contains('\n'));
        }
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(
            read_safetensors(&path, None),
            Err(DataError::NotFound { .. })
        ));
        assert!(matches!(
            read_safetensors(std::env::temp_dir(), None),
            Err(DataError::IsDirectory { .. })
        ));
    }
}
