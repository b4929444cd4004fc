//! [`Activations`]: a row-major `f32` matrix of model activations (one row per token or
//! example), loaded from `.npy` or `.safetensors` files, or built from memory or a tensor.

use std::path::Path;

use burn::tensor::{Device, Tensor, TensorData};

use super::error::{element_count, DataError, DataResult, FROM_TENSOR, IN_MEMORY};
use super::npy::{read_npy, write_npy_f32};
use super::safetensors::read_safetensors;

/// A matrix of activations: `rows` rows of `dim` values, row-major.
///
/// The constructors guarantee at least one row, `dim > 0`, `values.len() == rows * dim` and
/// finite values. Arrays of rank 1 are read as one row; arrays of rank 3 or more are flattened
/// to rows of their last dimension (`[batch, seq, d]` → `[batch · seq, d]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Activations {
    /// Number of rows.
    pub rows: usize,
    /// Values per row.
    pub dim: usize,
    /// `rows * dim` values, row after row.
    pub values: Vec<f32>,
}

/// The (rows, dim) of an array of `shape`: rank 1 → one row, rank ≥ 2 → rows of the last
/// dimension.
fn rows_and_dim(shape: &[usize], path: &Path) -> DataResult<(usize, usize)> {
    let Some((&dim, lead)) = shape.split_last() else {
        return Err(DataError::WrongRank {
            path: path.to_path_buf(),
            expected: "1 or more (a vector, [rows, dim] or [..., dim])",
            found: 0,
            shape: Vec::new(),
        });
    };
    let rows = element_count(lead, path).map_err(|_| DataError::DimensionOverflow {
        path: path.to_path_buf(),
        shape: format!("{shape:?}"),
    })?;
    if rows == 0 || dim == 0 {
        return Err(DataError::Empty {
            path: path.to_path_buf(),
            shape: shape.to_vec(),
        });
    }
    Ok((rows, dim))
}

impl Activations {
    /// Checks `values` against `shape` (flattened as described on [`Activations`]) and that
    /// every value is finite. `path` labels the errors.
    fn from_shape(path: &Path, shape: &[usize], values: Vec<f32>) -> DataResult<Self> {
        let (rows, dim) = rows_and_dim(shape, path)?;
        if rows.checked_mul(dim) != Some(values.len()) {
            return Err(DataError::ValueCount {
                path: path.to_path_buf(),
                shape: shape.to_vec(),
                len: values.len(),
                expected: rows.saturating_mul(dim),
            });
        }
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(DataError::NonFinite {
                path: path.to_path_buf(),
                row: i / dim,
                col: i % dim,
                value: values[i],
            });
        }
        Ok(Self { rows, dim, values })
    }

    /// Reads a `.npy` file (see [`read_npy`](super::read_npy) for the formats accepted).
    pub fn from_npy(path: impl AsRef<Path>) -> DataResult<Self> {
        let path = path.as_ref();
        let a = read_npy(path)?;
        Self::from_shape(path, &a.shape, a.data)
    }

    /// Reads the tensor `name` of a `.safetensors` file; without a name the file must hold
    /// exactly one tensor (see [`read_safetensors`](super::read_safetensors)).
    pub fn from_safetensors(path: impl AsRef<Path>, name: Option<&str>) -> DataResult<Self> {
        let path = path.as_ref();
        let t = read_safetensors(path, name)?;
        Self::from_shape(path, &t.shape, t.data)
    }

    /// Reads `path` by its extension (case-insensitive): `.npy` or `.safetensors`. `name`
    /// picks a tensor of a `.safetensors` file and must be `None` for `.npy` files.
    pub fn load(path: impl AsRef<Path>, name: Option<&str>) -> DataResult<Self> {
        let path = path.as_ref();
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("npy") => match name {
                Some(name) => Err(DataError::NameNotApplicable {
                    path: path.to_path_buf(),
                    name: name.to_string(),
                }),
                None => Self::from_npy(path),
            },
            Some("safetensors") => Self::from_safetensors(path, name),
            _ => Err(DataError::UnknownExtension {
                path: path.to_path_buf(),
            }),
        }
    }

    /// Takes `values` as rows of `dim` values. Errors (labelled [`IN_MEMORY`]) when there are
    /// no values, `dim` is zero, the length is not a multiple of `dim`, or a value is not
    /// finite.
    pub fn from_vec(values: Vec<f32>, dim: usize) -> DataResult<Self> {
        let path = Path::new(IN_MEMORY);
        if dim == 0 || !values.len().is_multiple_of(dim) {
            if values.is_empty() {
                return Err(DataError::Empty {
                    path: path.to_path_buf(),
                    shape: vec![0, dim],
                });
            }
            return Err(DataError::NotDivisible {
                path: path.to_path_buf(),
                len: values.len(),
                dim,
            });
        }
        let shape = [values.len() / dim, dim];
        Self::from_shape(path, &shape, values)
    }

    /// Reads a `[rows, dim]` tensor back to the host (converting its dtype to `f32`). Errors
    /// are labelled [`FROM_TENSOR`].
    pub fn from_tensor(tensor: Tensor<2>) -> DataResult<Self> {
        let path = Path::new(FROM_TENSOR);
        let shape = tensor.dims();
        let values = tensor
            .try_into_vec_as::<f32>()
            .map_err(|e| DataError::TensorRead {
                path: path.to_path_buf(),
                message: e.to_string().replace('\n', " "),
            })?;
        Self::from_shape(path, &shape, values)
    }

    /// Number of rows (the same as the `rows` field).
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether there are no rows (never, for values from the constructors).
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// `[rows, dim]`.
    pub fn shape(&self) -> [usize; 2] {
        [self.rows, self.dim]
    }

    /// Row `i`.
    ///
    /// # Panics
    ///
    /// If `i >= rows`, like slice indexing.
    pub fn row(&self, i: usize) -> &[f32] {
        assert!(i < self.rows, "row {i} out of range ({} rows)", self.rows);
        &self.values[i * self.dim..(i + 1) * self.dim]
    }

    /// An iterator over the rows.
    pub fn iter_rows(&self) -> std::slice::ChunksExact<'_, f32> {
        self.values.chunks_exact(self.dim.max(1))
    }

    /// Keeps the first `n` rows (all of them when `n` is larger).
    pub fn limit(mut self, n: usize) -> Self {
        if n < self.rows {
            self.rows = n;
            self.values.truncate(n * self.dim);
        }
        self
    }

    /// Splits into the first `n_first` rows and the rest (for example train and validation
    /// rows). Both parts must be non-empty.
    pub fn split(mut self, n_first: usize) -> DataResult<(Self, Self)> {
        if n_first == 0 || n_first >= self.rows {
            return Err(DataError::SplitOutOfRange {
                path: IN_MEMORY.into(),
                rows: self.rows,
                at: n_first,
            });
        }
        let rest = self.values.split_off(n_first * self.dim);
        let second = Self {
            rows: self.rows - n_first,
            dim: self.dim,
            values: rest,
        };
        self.rows = n_first;
        Ok((self, second))
    }

    /// The mean row (accumulated in `f64`); zeros when there are no rows.
    pub fn mean(&self) -> Vec<f32> {
        let mut sum = vec![0f64; self.dim];
        for row in self.iter_rows().take(self.rows) {
            for (s, &v) in sum.iter_mut().zip(row) {
                *s += f64::from(v);
            }
        }
        let n = self.rows.max(1) as f64;
        sum.into_iter().map(|s| (s / n) as f32).collect()
    }

    /// The matrix as a `[rows, dim]` tensor on `device` (one host-to-device copy).
    pub fn to_tensor(&self, device: &Device) -> Tensor<2> {
        Tensor::from_data(
            TensorData::new(self.values.clone(), [self.rows, self.dim]),
            device,
        )
    }

    /// Writes the matrix as a `[rows, dim]` little-endian `f32` `.npy` file.
    pub fn save_npy(&self, path: impl AsRef<Path>) -> DataResult<()> {
        write_npy_f32(path, &[self.rows, self.dim], &self.values)
    }
}

#[cfg(test)]
mod tests {
    use super::super::safetensors::tests::{f32_bytes, temp, write};
    use super::*;
    use ::safetensors::Dtype;
    use std::path::PathBuf;

    fn temp_npy(tag: &str) -> PathBuf {
        temp(tag).with_extension("npy")
    }

    fn seq(n: usize) -> Vec<f32> {
        (0..n).map(|i| i as f32).collect()
    }

    #[test]
    fn from_npy_flattens_to_rows_of_the_last_dimension() {
        let path = temp_npy("ranks");
        for (shape, rows, dim) in [
            (vec![12], 1, 12),
            (vec![3, 4], 3, 4),
            (vec![2, 3, 2], 6, 2),
            (vec![1, 2, 1, 6], 2, 6),
        ] {
            write_npy_f32(&path, &shape, &seq(12)).unwrap();
            let a = Activations::from_npy(&path).unwrap();
            assert_eq!((a.rows, a.dim, a.values.clone()), (rows, dim, seq(12)));
            assert_eq!(Activations::load(&path, None).unwrap(), a);
        }
        write_npy_f32(&path, &[], &[1.0]).unwrap();
        assert!(matches!(
            Activations::from_npy(&path),
            Err(DataError::WrongRank { found: 0, .. })
        ));
        write_npy_f32(&path, &[0, 4], &[]).unwrap();
        assert!(matches!(
            Activations::from_npy(&path),
            Err(DataError::Empty { .. })
        ));
        write_npy_f32(&path, &[2, 2], &[1.0, 2.0, f32::NAN, 4.0]).unwrap();
        let e = Activations::from_npy(&path).unwrap_err();
        assert!(
            matches!(e, DataError::NonFinite { row: 1, col: 0, .. }),
            "{e}"
        );
        assert!(e.to_string().contains(&*path.to_string_lossy()));
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn from_safetensors_and_load_dispatch() {
        let path = temp("acts");
        write(
            &path,
            &[
                ("acts", Dtype::F32, vec![2, 2, 3], f32_bytes(&seq(12))),
                (
                    "big",
                    Dtype::F64,
                    vec![1, 1],
                    1e300f64.to_le_bytes().to_vec(),
                ),
            ],
        );
        let a = Activations::from_safetensors(&path, Some("acts")).unwrap();
        assert_eq!((a.rows, a.dim), (4, 3));
        assert_eq!(Activations::load(&path, Some("acts")).unwrap(), a);
        assert!(matches!(
            Activations::load(&path, None),
            Err(DataError::AmbiguousTensor { .. })
        ));
        // 1e300 does not fit in an f32.
        assert!(matches!(
            Activations::load(&path, Some("big")),
            Err(DataError::NonFinite { row: 0, col: 0, .. })
        ));
        // Extensions are matched case-insensitively.
        let upper = path.with_extension("SafeTensors");
        std::fs::rename(&path, &upper).unwrap();
        assert_eq!(Activations::load(&upper, Some("acts")).unwrap(), a);
        std::fs::remove_file(&upper).unwrap();

        let npy = temp_npy("name");
        a.save_npy(&npy).unwrap();
        assert_eq!(Activations::load(&npy, None).unwrap(), a);
        assert!(matches!(
            Activations::load(&npy, Some("acts")),
            Err(DataError::NameNotApplicable { .. })
        ));
        std::fs::remove_file(&npy).unwrap();
        for other in ["x.pt", "x.npz", "x", "x.npy.gz"] {
            assert!(matches!(
                Activations::load(other, None),
                Err(DataError::UnknownExtension { .. })
            ));
        }
    }

    #[test]
    fn from_vec_checks_its_input() {
        let a = Activations::from_vec(seq(6), 3).unwrap();
        assert_eq!((a.rows, a.dim, a.shape()), (2, 3, [2, 3]));
        assert_eq!(a.row(1), &[3.0, 4.0, 5.0]);
        assert!(matches!(
            Activations::from_vec(seq(7), 3),
            Err(DataError::NotDivisible { len: 7, dim: 3, .. })
        ));
        assert!(matches!(
            Activations::from_vec(seq(7), 0),
            Err(DataError::NotDivisible { .. })
        ));
        assert!(matches!(
            Activations::from_vec(vec![], 3),
            Err(DataError::Empty { .. })
        ));
        assert!(matches!(
            Activations::from_vec(vec![], 0),
            Err(DataError::Empty { .. })
        ));
        let e = Activations::from_vec(vec![0.0, f32::INFINITY], 1).unwrap_err();
        assert!(matches!(e, DataError::NonFinite { row: 1, col: 0, .. }));
        assert!(
            e.to_string()
                .starts_with("<in memory>: non-finite value inf"),
            "{e}"
        );
    }

    #[test]
    fn limit_split_and_mean() {
        let a = Activations::from_vec(seq(12), 3).unwrap();
        assert_eq!(a.mean(), vec![4.5, 5.5, 6.5]);
        let l = a.clone().limit(2);
        assert_eq!((l.rows, l.values.clone()), (2, seq(6)));
        assert_eq!(a.clone().limit(10), a);
        let (first, second) = a.clone().split(1).unwrap();
        assert_eq!((first.rows, first.values), (1, seq(3)));
        assert_eq!((second.rows, second.dim), (3, 3));
        assert_eq!(second.values, seq(12)[3..].to_vec());
        for at in [0, 4, 5] {
            assert!(matches!(
                a.clone().split(at),
                Err(DataError::SplitOutOfRange { rows: 4, .. })
            ));
        }
        assert_eq!(a.clone().limit(0).mean(), vec![0.0; 3]);
        assert_eq!(a.iter_rows().count(), 4);
    }

    #[test]
    fn tensor_round_trip() {
        let device = Device::default();
        let a = Activations::from_vec(seq(6), 2).unwrap();
        let t = a.to_tensor(&device);
        assert_eq!(t.dims(), [3, 2]);
        assert_eq!(Activations::from_tensor(t).unwrap(), a);
        let t = Tensor::<2>::from_floats([[1.0, f32::NAN]], &device);
        assert!(matches!(
            Activations::from_tensor(t),
            Err(DataError::NonFinite { row: 0, col: 1, .. })
        ));
    }
}
