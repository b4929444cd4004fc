//! A reader for the IDX format of MNIST and Fashion-MNIST (gzipped or not).
//!
//! An IDX file is a 4-byte magic number `0x00 0x00 <type> <rank>`, then `rank` big-endian `u32`
//! dimensions, then the data in row-major order. MNIST uses type `0x08` (unsigned bytes), rank 3
//! for images (`2051` as a big-endian number) and rank 1 for labels (`2049`). Every check that
//! can fail returns a [`DataError`] naming the file.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;

/// The element type code of unsigned bytes, the only one MNIST uses.
const TYPE_U8: u8 = 0x08;

/// Why a dataset could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Neither `name` nor `name.gz` exists in the data directory.
    #[error("{dir} has neither {name} nor {name}.gz (expected the four standard MNIST IDX files)")]
    Missing {
        /// The data directory.
        dir: PathBuf,
        /// The file name looked for.
        name: String,
    },
    /// The gzip stream is corrupt or cut short.
    #[error("{path} is not a valid gzip file: {source}")]
    Gzip {
        /// The file.
        path: PathBuf,
        /// The decoder's error.
        source: std::io::Error,
    },
    /// The file ends inside its header.
    #[error("{path}: the IDX header needs {needed} bytes, the file has {found}")]
    ShortHeader {
        /// The file.
        path: PathBuf,
        /// Bytes the header needs.
        needed: usize,
        /// Bytes present.
        found: usize,
    },
    /// The magic number does not start with two zero bytes.
    #[error("{path}: bad magic number {magic:#010x} (an IDX file starts with 0x0000)")]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The magic number read.
        magic: u32,
    },
    /// The element type is not unsigned bytes.
    #[error("{path}: element type {code:#04x} is not supported (MNIST uses 0x08, unsigned bytes)")]
    UnsupportedType {
        /// The file.
        path: PathBuf,
        /// The type code read.
        code: u8,
    },
    /// The file has the wrong number of dimensions for its role.
    #[error("{path}: expected {expected} dimensions ({role}), found {found}")]
    WrongRank {
        /// The file.
        path: PathBuf,
        /// What the file was read as.
        role: &'static str,
        /// The rank it should have.
        expected: u8,
        /// The rank it has.
        found: u8,
    },
    /// The data is shorter than the dimensions announce.
    #[error("{path}: truncated, the header announces {expected} data bytes, the file has {found}")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Data bytes announced.
        expected: usize,
        /// Data bytes present.
        found: usize,
    },
    /// The data is longer than the dimensions announce.
    #[error("{path}: {extra} bytes after the {expected} data bytes the header announces")]
    TrailingBytes {
        /// The file.
        path: PathBuf,
        /// Data bytes announced.
        expected: usize,
        /// Bytes beyond them.
        extra: usize,
    },
    /// A dimension is zero.
    #[error("{path}: empty, dimensions {dims:?}")]
    Empty {
        /// The file.
        path: PathBuf,
        /// The dimensions read.
        dims: Vec<usize>,
    },
    /// The image and label files of a split hold different numbers of items.
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
    /// A label is not a digit class (0–9).
    #[error("{path}: label {label} at index {index} is not in 0..=9")]
    BadLabel {
        /// The label file.
        path: PathBuf,
        /// Where.
        index: usize,
        /// The value.
        label: u8,
    },
    /// The train and test images differ in size.
    #[error("train images are {train:?} pixels but test images are {test:?}")]
    SizeMismatch {
        /// Train image size (rows, cols).
        train: (usize, usize),
        /// Test image size (rows, cols).
        test: (usize, usize),
    },
}

/// A decoded IDX array of unsigned bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    /// The dimensions, outermost first.
    pub dims: Vec<usize>,
    /// The elements in row-major order.
    pub data: Vec<u8>,
}

/// Decodes IDX bytes (already gunzipped). `path` only labels the errors.
pub fn parse_idx(bytes: &[u8], path: &Path) -> Result<IdxArray, DataError> {
    let path_buf = || path.to_path_buf();
    if bytes.len() < 4 {
        return Err(DataError::ShortHeader {
            path: path_buf(),
            needed: 4,
            found: bytes.len(),
        });
    }
    let magic = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(DataError::BadMagic {
            path: path_buf(),
            magic,
        });
    }
    if bytes[2] != TYPE_U8 {
        return Err(DataError::UnsupportedType {
            path: path_buf(),
            code: bytes[2],
        });
    }
    let rank = bytes[3] as usize;
    let header = 4 + 4 * rank;
    if bytes.len() < header {
        return Err(DataError::ShortHeader {
            path: path_buf(),
            needed: header,
            found: bytes.len(),
        });
    }
    let dims: Vec<usize> = (0..rank)
        .map(|i| {
            let o = 4 + 4 * i;
            u32::from_be_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]) as usize
        })
        .collect();
    if dims.contains(&0) {
        return Err(DataError::Empty {
            path: path_buf(),
            dims,
        });
    }
    // Saturating: absurd dimensions read as "more than the file has", not as an overflow.
    let expected = dims.iter().fold(1usize, |a, &d| a.saturating_mul(d));
    let found = bytes.len() - header;
    if found < expected {
        return Err(DataError::Truncated {
            path: path_buf(),
            expected,
            found,
        });
    }
    if found > expected {
        return Err(DataError::TrailingBytes {
            path: path_buf(),
            expected,
            extra: found - expected,
        });
    }
    Ok(IdxArray {
        dims,
        data: bytes[header..].to_vec(),
    })
}

/// Reads an IDX file, gunzipping it when it starts with the gzip magic bytes.
pub fn read_idx(path: &Path) -> Result<IdxArray, DataError> {
    let mut raw = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut raw))
        .map_err(|source| DataError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|source| DataError::Gzip {
                path: path.to_path_buf(),
                source,
            })?;
        out
    } else {
        raw
    };
    parse_idx(&bytes, path)
}

/// One split of an image dataset, pixels scaled to `[0, 1]`.
#[derive(Debug, Clone)]
pub struct Split {
    /// `n × rows × cols` pixels, row-major, in `[0, 1]`.
    pub images: Vec<f32>,
    /// One class per image.
    pub labels: Vec<u8>,
    /// Number of images.
    pub n: usize,
    /// Image height.
    pub rows: usize,
    /// Image width.
    pub cols: usize,
}

impl Split {
    /// Pixels per image.
    pub fn dim(&self) -> usize {
        self.rows * self.cols
    }

    /// Keeps the first `n` images (all of them when `n` is larger).
    pub fn truncate(&mut self, n: usize) {
        if n < self.n {
            self.n = n;
            self.images.truncate(n * self.dim());
            self.labels.truncate(n);
        }
    }

    /// The per-pixel mean image.
    pub fn mean_image(&self) -> Vec<f32> {
        let d = self.dim();
        let mut sum = vec![0f64; d];
        for img in self.images.chunks_exact(d) {
            for (s, &p) in sum.iter_mut().zip(img) {
                *s += p as f64;
            }
        }
        sum.into_iter()
            .map(|s| (s / self.n as f64) as f32)
            .collect()
    }
}

/// The train and test splits of a dataset directory.
#[derive(Debug, Clone)]
pub struct Mnist {
    /// `train-images-idx3-ubyte` / `train-labels-idx1-ubyte`.
    pub train: Split,
    /// `t10k-images-idx3-ubyte` / `t10k-labels-idx1-ubyte`.
    pub test: Split,
}

/// Finds `name` or `name.gz` in `dir`.
fn locate(dir: &Path, name: &str) -> Result<PathBuf, DataError> {
    let plain = dir.join(name);
    if plain.is_file() {
        return Ok(plain);
    }
    let gz = dir.join(format!("{name}.gz"));
    if gz.is_file() {
        return Ok(gz);
    }
    if !dir.is_dir() {
        return Err(DataError::Io {
            path: dir.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such directory"),
        });
    }
    Err(DataError::Missing {
        dir: dir.to_path_buf(),
        name: name.to_string(),
    })
}

/// Reads one split (`prefix` = `train` or `t10k`) from `dir`.
pub fn load_split(dir: &Path, prefix: &str) -> Result<Split, DataError> {
    let images_path = locate(dir, &format!("{prefix}-images-idx3-ubyte"))?;
    let labels_path = locate(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
    let images = read_idx(&images_path)?;
    if images.dims.len() != 3 {
        return Err(DataError::WrongRank {
            path: images_path,
            role: "images: count, rows, cols",
            expected: 3,
            found: images.dims.len() as u8,
        });
    }
    let labels = read_idx(&labels_path)?;
    if labels.dims.len() != 1 {
        return Err(DataError::WrongRank {
            path: labels_path,
            role: "labels: count",
            expected: 1,
            found: labels.dims.len() as u8,
        });
    }
    let (n, rows, cols) = (images.dims[0], images.dims[1], images.dims[2]);
    if labels.dims[0] != n {
        return Err(DataError::CountMismatch {
            images: images_path,
            labels: labels_path,
            n_images: n,
            n_labels: labels.dims[0],
        });
    }
    if let Some((index, &label)) = labels.data.iter().enumerate().find(|(_, &l)| l > 9) {
        return Err(DataError::BadLabel {
            path: labels_path,
            index,
            label,
        });
    }
    Ok(Split {
        images: images.data.iter().map(|&p| p as f32 / 255.0).collect(),
        labels: labels.data,
        n,
        rows,
        cols,
    })
}

/// Reads the four standard files (each plain or `.gz`) from `dir`.
pub fn load_mnist(dir: &Path) -> Result<Mnist, DataError> {
    let train = load_split(dir, "train")?;
    let test = load_split(dir, "t10k")?;
    if (train.rows, train.cols) != (test.rows, test.cols) {
        return Err(DataError::SizeMismatch {
            train: (train.rows, train.cols),
            test: (test.rows, test.cols),
        });
    }
    Ok(Mnist { train, test })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(kind: u8, dims: &[u32]) -> Vec<u8> {
        let mut b = vec![0, 0, kind, dims.len() as u8];
        for d in dims {
            b.extend_from_slice(&d.to_be_bytes());
        }
        b
    }

    fn p() -> &'static Path {
        Path::new("x")
    }

    #[test]
    fn parses_a_valid_file() {
        let mut b = header(8, &[2, 1, 3]);
        b.extend_from_slice(&[0, 1, 2, 3, 4, 255]);
        let a = parse_idx(&b, p()).unwrap();
        assert_eq!(a.dims, vec![2, 1, 3]);
        assert_eq!(a.data, vec![0, 1, 2, 3, 4, 255]);
        // Images are magic 2051, labels 2049.
        assert_eq!(u32::from_be_bytes([b[0], b[1], b[2], b[3]]), 2051);
    }

    #[test]
    fn rejects_bad_magic() {
        let mut b = header(8, &[1]);
        b[0] = 0x1f;
        b.push(3);
        assert!(matches!(
            parse_idx(&b, p()),
            Err(DataError::BadMagic { .. })
        ));
    }

    #[test]
    fn rejects_other_element_types() {
        let mut b = header(0x0d, &[1]);
        b.extend_from_slice(&[0, 0, 0, 0]);
        assert!(matches!(
            parse_idx(&b, p()),
            Err(DataError::UnsupportedType { code: 0x0d, .. })
        ));
    }

    #[test]
    fn rejects_short_headers() {
        assert!(matches!(
            parse_idx(&[0, 0], p()),
            Err(DataError::ShortHeader { needed: 4, .. })
        ));
        let b = &header(8, &[5, 28, 28])[..9];
        assert!(matches!(
            parse_idx(b, p()),
            Err(DataError::ShortHeader {
                needed: 16,
                found: 9,
                ..
            })
        ));
    }

    #[test]
    fn rejects_truncated_and_overlong_data() {
        let mut b = header(8, &[2, 2, 2]);
        b.extend_from_slice(&[1; 7]);
        assert!(matches!(
            parse_idx(&b, p()),
            Err(DataError::Truncated {
                expected: 8,
                found: 7,
                ..
            })
        ));
        b.extend_from_slice(&[1; 3]);
        assert!(matches!(
            parse_idx(&b, p()),
            Err(DataError::TrailingBytes {
                expected: 8,
                extra: 2,
                ..
            })
        ));
    }

    #[test]
    fn rejects_empty_and_absurd_dimensions() {
        let b = header(8, &[0, 28, 28]);
        assert!(matches!(parse_idx(&b, p()), Err(DataError::Empty { .. })));
        let b = header(8, &[u32::MAX, u32::MAX, u32::MAX]);
        assert!(matches!(
            parse_idx(&b, p()),
            Err(DataError::Truncated { .. })
        ));
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) {
        std::fs::write(dir.join(name), bytes).unwrap();
    }

    fn images(n: u32) -> Vec<u8> {
        let mut b = header(8, &[n, 2, 2]);
        b.extend((0..n * 4).map(|i| (i * 17 % 256) as u8));
        b
    }

    fn labels(values: &[u8]) -> Vec<u8> {
        let mut b = header(8, &[values.len() as u32]);
        b.extend_from_slice(values);
        b
    }

    fn tempdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sae-idx-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn loads_plain_and_gzipped_splits() {
        use flate2::write::GzEncoder;
        use std::io::Write;
        let d = tempdir("ok");
        write(&d, "train-images-idx3-ubyte", &images(3));
        write(&d, "train-labels-idx1-ubyte", &labels(&[1, 2, 3]));
        let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&images(2)).unwrap();
        write(&d, "t10k-images-idx3-ubyte.gz", &gz.finish().unwrap());
        write(&d, "t10k-labels-idx1-ubyte", &labels(&[9, 0]));
        let m = load_mnist(&d).unwrap();
        assert_eq!((m.train.n, m.train.rows, m.train.cols), (3, 2, 2));
        assert_eq!(m.test.labels, vec![9, 0]);
        assert_eq!(m.train.images[1], 17.0 / 255.0);
        assert!(m.train.images.iter().all(|&v| (0.0..=1.0).contains(&v)));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn split_errors() {
        let d = tempdir("bad");
        assert!(matches!(
            load_split(&d, "train"),
            Err(DataError::Missing { .. })
        ));
        write(&d, "train-images-idx3-ubyte", &images(3));
        write(&d, "train-labels-idx1-ubyte", &labels(&[1, 2]));
        assert!(matches!(
            load_split(&d, "train"),
            Err(DataError::CountMismatch {
                n_images: 3,
                n_labels: 2,
                ..
            })
        ));
        write(&d, "train-labels-idx1-ubyte", &labels(&[1, 2, 12]));
        assert!(matches!(
            load_split(&d, "train"),
            Err(DataError::BadLabel {
                index: 2,
                label: 12,
                ..
            })
        ));
        // Labels where images belong.
        write(&d, "train-images-idx3-ubyte", &labels(&[1, 2, 3]));
        assert!(matches!(
            load_split(&d, "train"),
            Err(DataError::WrongRank {
                expected: 3,
                found: 1,
                ..
            })
        ));
        // A gzip file cut short.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, &images(3)).unwrap();
        let bytes = gz.finish().unwrap();
        std::fs::remove_file(d.join("train-images-idx3-ubyte")).unwrap();
        write(&d, "train-images-idx3-ubyte.gz", &bytes[..bytes.len() / 2]);
        assert!(matches!(
            load_split(&d, "train"),
            Err(DataError::Gzip { .. })
        ));
        assert!(matches!(
            load_split(&d.join("nowhere"), "train"),
            Err(DataError::Io { .. })
        ));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn train_and_test_sizes_must_agree() {
        let d = tempdir("size");
        write(&d, "train-images-idx3-ubyte", &images(1));
        write(&d, "train-labels-idx1-ubyte", &labels(&[1]));
        let mut b = header(8, &[1, 1, 4]);
        b.extend_from_slice(&[0; 4]);
        write(&d, "t10k-images-idx3-ubyte", &b);
        write(&d, "t10k-labels-idx1-ubyte", &labels(&[1]));
        assert!(matches!(
            load_mnist(&d),
            Err(DataError::SizeMismatch { .. })
        ));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
