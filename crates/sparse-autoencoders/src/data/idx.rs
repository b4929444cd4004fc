//! A reader for the IDX format of MNIST and Fashion-MNIST (gzipped or not).
//!
//! An IDX file is a 4-byte magic number `0x00 0x00 <type> <rank>`, then `rank` big-endian `u32`
//! dimensions, then the data in row-major order. MNIST uses type `0x08` (unsigned bytes), rank 3
//! for images (`2051` as a big-endian number) and rank 1 for labels (`2049`). Every check that
//! can fail returns a [`DataError`] naming the file. Gzipped files are decompressed as a stream
//! and never to more than the header announces (plus one byte to detect trailing data).

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use super::activations::Activations;
use super::error::{element_count, open_file, DataError, DataResult};
use super::npy::read_up_to;

/// The element type code of unsigned bytes, the only one MNIST uses.
const TYPE_U8: u8 = 0x08;
/// The format name in error messages.
const FORMAT: &str = "IDX";

/// A decoded IDX array of unsigned bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    /// The dimensions, outermost first.
    pub dims: Vec<usize>,
    /// The elements in row-major order.
    pub data: Vec<u8>,
}

/// Checks the header at the start of `bytes` (magic, type, dimensions) and returns the
/// dimensions, the header length and the number of data bytes they announce.
fn parse_header(bytes: &[u8], path: &Path) -> DataResult<(Vec<usize>, usize, usize)> {
    let path_buf = || path.to_path_buf();
    if bytes.len() < 4 {
        return Err(DataError::ShortHeader {
            path: path_buf(),
            format: FORMAT,
            needed: 4,
            found: bytes.len() as u64,
        });
    }
    let magic = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(DataError::BadMagic {
            path: path_buf(),
            format: FORMAT,
            expected: "0x0000",
            found: format!("{magic:#010x}"),
        });
    }
    if bytes[2] != TYPE_U8 {
        return Err(DataError::UnsupportedDtype {
            path: path_buf(),
            dtype: format!("{:#04x}", bytes[2]),
            supported: "0x08 (unsigned bytes)",
        });
    }
    let rank = bytes[3] as usize;
    let header = 4 + 4 * rank;
    if bytes.len() < header {
        return Err(DataError::ShortHeader {
            path: path_buf(),
            format: FORMAT,
            needed: header as u64,
            found: bytes.len() as u64,
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
            shape: dims,
        });
    }
    let expected = element_count(&dims, path)?;
    Ok((dims, header, expected))
}

/// Compares the data length with the header's announcement.
fn check_len(path: &Path, expected: usize, found: usize) -> DataResult<()> {
    if found < expected {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected: expected as u64,
            found: found as u64,
        });
    }
    if found > expected {
        return Err(DataError::TrailingBytes {
            path: path.to_path_buf(),
            expected: expected as u64,
            extra: (found - expected) as u64,
        });
    }
    Ok(())
}

/// Decodes IDX bytes (already gunzipped). `path` only labels the errors.
pub fn parse_idx(bytes: &[u8], path: &Path) -> DataResult<IdxArray> {
    let (dims, header, expected) = parse_header(bytes, path)?;
    check_len(path, expected, bytes.len() - header)?;
    Ok(IdxArray {
        dims,
        data: bytes[header..].to_vec(),
    })
}

/// Decodes a gzipped IDX file, decompressing no more than the header announces plus one byte.
/// A file of several gzip members (`cat a.gz b.gz`, `pigz`, some archivers) is one stream, as
/// `gunzip` reads it.
fn parse_gz(raw: &[u8], path: &Path) -> DataResult<IdxArray> {
    parse_gz_items(raw, path, None).map(|(array, _)| array)
}

/// [`parse_gz`] keeping only the first `keep` items (outermost index) in memory: the rest of
/// the stream is inflated and counted, not stored, so the length checks still see it. Returns
/// the kept array (its first dimension the kept count) and the file's item count.
fn parse_gz_items(raw: &[u8], path: &Path, keep: Option<usize>) -> DataResult<(IdxArray, usize)> {
    let gz = |source| DataError::Gzip {
        path: path.to_path_buf(),
        source,
    };
    let mut dec = MultiGzDecoder::new(raw);
    let mut head = vec![0u8; 4];
    let got = read_up_to(&mut dec, &mut head).map_err(gz)?;
    if got == 4 && head[0] == 0 && head[1] == 0 && head[2] == TYPE_U8 {
        let len = 4 + 4 * head[3] as usize;
        head.resize(len, 0);
        let more = read_up_to(&mut dec, &mut head[4..]).map_err(gz)?;
        head.truncate(4 + more);
    } else {
        head.truncate(got);
    }
    let (mut dims, _, expected) = parse_header(&head, path)?;
    // A rank-0 file is one item (no dimension to cut along).
    let items = dims.first().copied().unwrap_or(1);
    let kept_items = keep.map_or(items, |k| k.min(items));
    let kept = expected / items * kept_items;
    let mut data = Vec::new();
    (&mut dec)
        .take(kept as u64)
        .read_to_end(&mut data)
        .map_err(gz)?;
    // The rest, up to one byte past the announced end, counted without keeping it.
    let rest = io::copy(
        &mut (&mut dec).take((expected - data.len()) as u64 + 1),
        &mut io::sink(),
    )
    .map_err(gz)?;
    let total = data.len() + rest as usize;
    if total > expected {
        let more = io::copy(&mut dec, &mut io::sink()).map_err(gz)?;
        return Err(DataError::TrailingBytes {
            path: path.to_path_buf(),
            expected: expected as u64,
            extra: (total - expected) as u64 + more,
        });
    }
    check_len(path, expected, total)?;
    if let Some(first) = dims.first_mut() {
        *first = kept_items;
    }
    Ok((IdxArray { dims, data }, items))
}

/// The IDX file at `path` keeping its first `keep` items (all of them with `None`): the
/// array (first dimension the kept count) and the file's item count.
fn read_idx_items(path: &Path, keep: Option<usize>) -> DataResult<(IdxArray, usize)> {
    let (mut file, _) = open_file(path)?;
    let mut raw = Vec::new();
    file.read_to_end(&mut raw)
        .map_err(|e| DataError::read(path, e))?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        return parse_gz_items(&raw, path, keep);
    }
    let mut array = parse_idx(&raw, path)?;
    let Some(&items) = array.dims.first() else {
        return Ok((array, 1));
    };
    if let Some(k) = keep.filter(|&k| k < items) {
        let item = array.data.len() / items;
        array.data.truncate(k * item);
        array.dims[0] = k;
    }
    Ok((array, items))
}

/// Reads an IDX file, gunzipping it when it starts with the gzip magic bytes.
pub fn read_idx(path: impl AsRef<Path>) -> DataResult<IdxArray> {
    let path = path.as_ref();
    let (mut file, _) = open_file(path)?;
    let mut raw = Vec::new();
    file.read_to_end(&mut raw)
        .map_err(|e| DataError::read(path, e))?;
    parse_idx_file(&raw, path)
}

/// Decodes the bytes of an IDX file, gunzipped first when they start with the gzip magic
/// bytes (what [`read_idx`] does after reading the file). `path` only labels the errors.
pub fn parse_idx_file(raw: &[u8], path: &Path) -> DataResult<IdxArray> {
    if raw.starts_with(&[0x1f, 0x8b]) {
        parse_gz(raw, path)
    } else {
        parse_idx(raw, path)
    }
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

    /// Rows of activations (row-major `[n, dim]`, `n = rows.len() / dim`) as a split of
    /// `1 × dim` "images", every label 0.
    pub fn of_rows(rows: &[f32], dim: usize) -> Self {
        let n = rows.len() / dim.max(1);
        Self {
            images: rows.to_vec(),
            labels: vec![0; n],
            n,
            rows: 1,
            cols: dim,
        }
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

    /// The images as [`Activations`], one row of `rows × cols` pixels per image.
    pub fn into_activations(self) -> DataResult<Activations> {
        let dim = self.dim();
        Activations::from_vec(self.images, dim)
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

/// Finds `name` or `name.gz` in `dir`. A folder that is missing, not a folder, or may not be
/// searched is named as such (not as a folder without the files).
fn locate(dir: &Path, name: &str) -> DataResult<PathBuf> {
    match std::fs::metadata(dir) {
        Err(e) => return Err(DataError::read(dir, e)),
        Ok(m) if !m.is_dir() => {
            return Err(DataError::Io {
                path: dir.to_path_buf(),
                source: io::Error::new(io::ErrorKind::NotADirectory, "not a directory"),
            })
        }
        Ok(_) => {}
    }
    for candidate in [dir.join(name), dir.join(format!("{name}.gz"))] {
        match std::fs::metadata(&candidate) {
            Ok(m) if m.is_file() => return Ok(candidate),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            // `stat` of a file needs only search permission on its folder.
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                return Err(DataError::PermissionDenied {
                    path: dir.to_path_buf(),
                })
            }
            Err(e) => return Err(DataError::read(&candidate, e)),
        }
    }
    Err(DataError::MissingIdxFile {
        dir: dir.to_path_buf(),
        name: name.to_string(),
    })
}

/// [`load_split`], also returning the image file's path.
fn load_split_at(dir: &Path, prefix: &str, limit: Option<usize>) -> DataResult<(Split, PathBuf)> {
    let images_path = locate(dir, &format!("{prefix}-images-idx3-ubyte"))?;
    let labels_path = locate(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
    let (images, n_images) = read_idx_items(&images_path, limit)?;
    if images.dims.len() != 3 {
        return Err(DataError::WrongRank {
            path: images_path,
            expected: "3 (images: count, rows, cols)",
            found: images.dims.len(),
            shape: images.dims,
        });
    }
    let (labels, n_labels) = read_idx_items(&labels_path, limit)?;
    if labels.dims.len() != 1 {
        return Err(DataError::WrongRank {
            path: labels_path,
            expected: "1 (labels: count)",
            found: labels.dims.len(),
            shape: labels.dims,
        });
    }
    let (n, rows, cols) = (images.dims[0], images.dims[1], images.dims[2]);
    if n_labels != n_images {
        return Err(DataError::CountMismatch {
            images: images_path,
            labels: labels_path,
            n_images,
            n_labels,
        });
    }
    if let Some((index, &label)) = labels.data.iter().enumerate().find(|(_, &l)| l > 9) {
        return Err(DataError::BadLabel {
            path: labels_path,
            index,
            label,
        });
    }
    let split = Split {
        images: images.data.iter().map(|&p| p as f32 / 255.0).collect(),
        labels: labels.data,
        n,
        rows,
        cols,
    };
    Ok((split, images_path))
}

/// Reads one split (`prefix` = `train` or `t10k`) from `dir`.
pub fn load_split(dir: impl AsRef<Path>, prefix: &str) -> DataResult<Split> {
    load_split_at(dir.as_ref(), prefix, None).map(|(split, _)| split)
}

/// Reads the four standard files (each plain or `.gz`) from `dir`.
pub fn load_mnist(dir: impl AsRef<Path>) -> DataResult<Mnist> {
    load_mnist_limited(dir, None, None)
}

/// [`load_mnist`] keeping only the first `train_limit` training and `test_limit` test images
/// (all with `None`): the files are still read and checked whole, but only the kept images are
/// stored and converted to `f32`, so memory follows the limits, not the files.
pub fn load_mnist_limited(
    dir: impl AsRef<Path>,
    train_limit: Option<usize>,
    test_limit: Option<usize>,
) -> DataResult<Mnist> {
    let dir = dir.as_ref();
    let (train, train_path) = load_split_at(dir, "train", train_limit)?;
    let (test, test_path) = load_split_at(dir, "t10k", test_limit)?;
    if (train.rows, train.cols) != (test.rows, test.cols) {
        return Err(DataError::ShapeMismatch {
            first: train_path,
            first_shape: vec![train.rows, train.cols],
            second: test_path,
            second_shape: vec![test.rows, test.cols],
            what: "image sizes",
        });
    }
    Ok(Mnist { train, test })
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use std::io::Write;

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

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(bytes).unwrap();
        gz.finish().unwrap()
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
        let e = parse_idx(&b, p()).unwrap_err();
        assert!(matches!(e, DataError::BadMagic { .. }));
        assert_eq!(
            e.to_string(),
            "x: bad magic 0x1f000801 (IDX files start with 0x0000)"
        );
    }

    #[test]
    fn rejects_other_element_types() {
        let mut b = header(0x0d, &[1]);
        b.extend_from_slice(&[0, 0, 0, 0]);
        assert!(matches!(
            parse_idx(&b, p()),
            Err(DataError::UnsupportedDtype { ref dtype, .. }) if dtype == "0x0d"
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
        // Fits in a usize but far more than the file holds.
        let b = header(8, &[u32::MAX, u32::MAX]);
        assert!(matches!(
            parse_idx(&b, p()),
            Err(DataError::Truncated { .. })
        ));
        let b = header(8, &[u32::MAX, u32::MAX, u32::MAX]);
        assert!(matches!(
            parse_idx(&b, p()),
            Err(DataError::DimensionOverflow { .. })
        ));
    }

    #[test]
    fn keeping_the_first_items_still_checks_the_whole_file() {
        let mut b = header(8, &[5, 2]);
        b.extend(0..10u8);
        for raw in [b.clone(), gzip(&b)] {
            let (a, items) = if raw.starts_with(&[0x1f, 0x8b]) {
                parse_gz_items(&raw, p(), Some(2)).unwrap()
            } else {
                let whole = parse_idx(&raw, p()).unwrap();
                (
                    IdxArray {
                        dims: vec![2, 2],
                        data: whole.data[..4].to_vec(),
                    },
                    5,
                )
            };
            assert_eq!(
                (a.dims.clone(), a.data.clone(), items),
                (vec![2, 2], vec![0, 1, 2, 3], 5)
            );
        }
        // Cut short or overlong beyond the kept items: still refused.
        let mut short = b.clone();
        short.truncate(short.len() - 1);
        assert!(matches!(
            parse_gz_items(&gzip(&short), p(), Some(1)),
            Err(DataError::Truncated { .. })
        ));
        let mut long = b.clone();
        long.extend([7, 7, 7]);
        assert!(matches!(
            parse_gz_items(&gzip(&long), p(), Some(1)),
            Err(DataError::TrailingBytes { extra: 3, .. })
        ));
        // A limit above the count keeps everything.
        let (a, _) = parse_gz_items(&gzip(&b), p(), Some(99)).unwrap();
        assert_eq!(a.dims, vec![5, 2]);
        // A rank-0 file (one element) has nothing to cut (found by the `gzip` fuzz target:
        // an index out of bounds).
        let mut scalar = header(8, &[]);
        scalar.push(42);
        let (a, items) = parse_gz_items(&gzip(&scalar), p(), Some(1)).unwrap();
        assert_eq!((a.dims, a.data, items), (vec![], vec![42], 1));
    }

    #[test]
    fn a_multi_member_gzip_is_one_stream() {
        let mut b = header(8, &[3, 4]);
        b.extend((0..12).map(|i| i as u8));
        let whole = parse_gz(&gzip(&b), p()).unwrap();
        // Split inside the header and inside the data: three members.
        let mut members = gzip(&b[..6]);
        members.extend(gzip(&b[6..15]));
        members.extend(gzip(&b[15..]));
        let split = parse_gz(&members, p()).unwrap();
        assert_eq!(split.dims, whole.dims);
        assert_eq!(split.data, whole.data);
        // A member too many is trailing data, as in one stream.
        let mut more = members.clone();
        more.extend(gzip(&[7]));
        assert!(matches!(
            parse_gz(&more, p()),
            Err(DataError::TrailingBytes { extra: 1, .. })
        ));
    }

    #[test]
    fn gzipped_streams_are_checked_like_plain_ones() {
        let mut b = header(8, &[2, 3]);
        b.extend_from_slice(&[1, 2, 3, 4, 5, 6]);
        let a = parse_gz(&gzip(&b), p()).unwrap();
        assert_eq!((a.dims, a.data), (vec![2, 3], vec![1, 2, 3, 4, 5, 6]));
        assert!(matches!(
            parse_gz(&gzip(&b[..10]), p()),
            Err(DataError::ShortHeader {
                needed: 12,
                found: 10,
                ..
            })
        ));
        assert!(matches!(
            parse_gz(&gzip(&b[..15]), p()),
            Err(DataError::Truncated {
                expected: 6,
                found: 3,
                ..
            })
        ));
        let mut long = b.clone();
        long.extend_from_slice(&[0; 1000]);
        assert!(matches!(
            parse_gz(&gzip(&long), p()),
            Err(DataError::TrailingBytes {
                expected: 6,
                extra: 1000,
                ..
            })
        ));
        // A huge announcement in a tiny stream: decompressed until the stream ends, no more.
        let huge = header(8, &[u32::MAX, u32::MAX]);
        assert!(matches!(
            parse_gz(&gzip(&huge), p()),
            Err(DataError::Truncated { found: 0, .. })
        ));
        let mut bad = b.clone();
        bad[0] = 7;
        assert!(matches!(
            parse_gz(&gzip(&bad), p()),
            Err(DataError::BadMagic { .. })
        ));
        assert!(matches!(
            parse_gz(&gzip(&[]), p()),
            Err(DataError::ShortHeader { found: 0, .. })
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
        let d = tempdir("ok");
        write(&d, "train-images-idx3-ubyte", &images(3));
        write(&d, "train-labels-idx1-ubyte", &labels(&[1, 2, 3]));
        write(&d, "t10k-images-idx3-ubyte.gz", &gzip(&images(2)));
        write(&d, "t10k-labels-idx1-ubyte", &labels(&[9, 0]));
        let m = load_mnist(&d).unwrap();
        assert_eq!((m.train.n, m.train.rows, m.train.cols), (3, 2, 2));
        assert_eq!(m.test.labels, vec![9, 0]);
        assert_eq!(m.train.images[1], 17.0 / 255.0);
        assert!(m.train.images.iter().all(|&v| (0.0..=1.0).contains(&v)));
        let a = m.train.into_activations().unwrap();
        assert_eq!((a.rows, a.dim), (3, 4));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn split_errors() {
        let d = tempdir("bad");
        assert!(matches!(
            load_split(&d, "train"),
            Err(DataError::MissingIdxFile { .. })
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
            Err(DataError::WrongRank { found: 1, .. })
        ));
        // A gzip file cut short.
        let bytes = gzip(&images(3));
        std::fs::remove_file(d.join("train-images-idx3-ubyte")).unwrap();
        write(&d, "train-images-idx3-ubyte.gz", &bytes[..bytes.len() / 2]);
        assert!(matches!(
            load_split(&d, "train"),
            Err(DataError::Gzip { .. })
        ));
        assert!(matches!(
            load_split(d.join("nowhere"), "train"),
            Err(DataError::NotFound { .. })
        ));
        assert!(matches!(
            load_split(d.join("train-labels-idx1-ubyte"), "train"),
            Err(DataError::Io { .. })
        ));
        assert!(matches!(read_idx(&d), Err(DataError::IsDirectory { .. })));
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
        let e = load_mnist(&d).unwrap_err();
        assert!(matches!(
            e,
            DataError::ShapeMismatch {
                ref first_shape,
                ref second_shape,
                ..
            } if first_shape == &[2, 2] && second_shape == &[1, 4]
        ));
        assert!(e.to_string().contains("t10k-images-idx3-ubyte"), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
