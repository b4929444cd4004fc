//! NumPy `.npy` files: a reader for floating-point arrays and an `f32` writer.
//!
//! A `.npy` file is the magic string `\x93NUMPY`, a version (`1.0`: 2-byte header length;
//! `2.0` and `3.0`: 4-byte header length, `3.0` allowing UTF-8 in the header), a header that is
//! a Python dict literal such as `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`
//! padded with spaces to a multiple of 64 bytes and ended by `\n`, then the raw elements.
//! `np.save` and `torch`-to-numpy exports write this.
//!
//! The reader accepts the element types `<f4`, `<f2`, `<f8` and their big-endian variants
//! (`>f4`, `>f2`, `>f8`), converting everything to `f32`; Fortran-order (column-major) arrays are
//! transposed to row-major order. It parses the header dict itself, never panics on any input,
//! and checks that the header's element count times the item size equals the number of data
//! bytes in the file *before* allocating anything for the data, so a corrupt or hostile header
//! cannot make it allocate more than the file holds.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::Path;

use half::f16;

use super::error::{element_count, escape_bytes, open_file, DataError, DataResult};

/// The first six bytes of every `.npy` file.
const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// The format name in error messages.
const FORMAT: &str = ".npy";
/// Headers longer than this are refused (NumPy itself refuses more than 10 000 bytes by
/// default); the header is read into memory before it is parsed.
const MAX_HEADER_LEN: u64 = 1 << 20;
/// Nesting limit of tuples and lists in the header (keeps the recursive parser's stack small).
const MAX_DEPTH: usize = 32;
/// The element types [`read_npy`] accepts, for error messages.
pub const SUPPORTED_NPY_DTYPES: &str = "<f4, <f2, <f8, >f4, >f2, >f8";
/// Bytes read (and converted) at a time.
const CHUNK: usize = 1 << 16;

/// The element type of a `.npy` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NpyDtype {
    /// IEEE half precision (`f2`).
    F16,
    /// IEEE single precision (`f4`).
    F32,
    /// IEEE double precision (`f8`), rounded to `f32` when read.
    F64,
}

impl NpyDtype {
    /// Bytes per element.
    pub fn itemsize(self) -> usize {
        match self {
            NpyDtype::F16 => 2,
            NpyDtype::F32 => 4,
            NpyDtype::F64 => 8,
        }
    }
}

/// A `.npy` array converted to `f32`, always in row-major (C) order.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    /// The shape, outermost dimension first (empty for a 0-d array).
    pub shape: Vec<usize>,
    /// The elements in row-major order.
    pub data: Vec<f32>,
    /// The element type stored in the file.
    pub dtype: NpyDtype,
    /// Whether the file stores its elements big-endian.
    pub big_endian: bool,
    /// Whether the file stored the array in Fortran order (it has been transposed since).
    pub fortran_order: bool,
}

/// Reads a `.npy` file of floating-point elements (see the module docs of `data::npy`).
pub fn read_npy(path: impl AsRef<Path>) -> DataResult<NpyArray> {
    let path = path.as_ref();
    let (file, len) = open_file(path)?;
    read_npy_from(BufReader::with_capacity(CHUNK, file), len, path)
}

/// Decodes the bytes of a `.npy` file already in memory. `path` only labels the errors.
pub fn parse_npy(bytes: &[u8], path: &Path) -> DataResult<NpyArray> {
    read_npy_from(bytes, bytes.len() as u64, path)
}

/// Writes `data` (row-major) as a little-endian `f32` `.npy` file of the given shape (format
/// version 1.0, or 2.0 when the header would not fit in 1.0). The header is padded so that the
/// data starts at a multiple of 64 bytes, as NumPy does.
pub fn write_npy_f32(path: impl AsRef<Path>, shape: &[usize], data: &[f32]) -> DataResult<()> {
    let path = path.as_ref();
    let expected = element_count(shape, path)?;
    if expected != data.len() {
        return Err(DataError::ValueCount {
            path: path.to_path_buf(),
            shape: shape.to_vec(),
            len: data.len(),
            expected,
        });
    }
    let header = npy_header("<f4", false, shape);
    let write = |e| DataError::write(path, e);
    let mut w = BufWriter::with_capacity(CHUNK, File::create(path).map_err(write)?);
    w.write_all(&header).map_err(write)?;
    let mut buf = Vec::with_capacity(CHUNK);
    for chunk in data.chunks(CHUNK / 4) {
        buf.clear();
        for v in chunk {
            buf.extend_from_slice(&v.to_le_bytes());
        }
        w.write_all(&buf).map_err(write)?;
    }
    w.into_inner().map_err(|e| write(e.into_error()))?;
    Ok(())
}

/// The header of a little-endian `f32`, C-order `.npy` file of `shape` (the bytes before its
/// elements): to write a file larger than memory, this, then the rows as they come.
pub fn npy_f32_header(shape: &[usize]) -> Vec<u8> {
    npy_header("<f4", false, shape)
}

/// [`npy_f32_header`] for little-endian `f16` elements (half the bytes; [`RowStore`](crate::data::RowStore)
/// converts them to `f32` a chunk at a time as it reads).
pub fn npy_f16_header(shape: &[usize]) -> Vec<u8> {
    npy_header("<f2", false, shape)
}

/// The preamble and header of a `.npy` file (magic, version, length, padded dict, `\n`).
fn npy_header(descr: &str, fortran_order: bool, shape: &[usize]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let order = if fortran_order { "True" } else { "False" };
    let dict = format!("{{'descr': '{descr}', 'fortran_order': {order}, 'shape': {shape}, }}");
    // Version 1.0 has a 2-byte length (10-byte preamble), 2.0 a 4-byte one (12 bytes).
    let padded = |pre: usize| {
        let unpadded = pre + dict.len() + 1;
        dict.len() + 1 + (64 - unpadded % 64) % 64
    };
    let (version, pre) = if padded(10) <= u16::MAX as usize {
        (1u8, 10)
    } else {
        (2u8, 12)
    };
    let len = padded(pre);
    let mut out = Vec::with_capacity(pre + len);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[version, 0]);
    if version == 1 {
        out.extend_from_slice(&(len as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&(len as u32).to_le_bytes());
    }
    out.extend_from_slice(dict.as_bytes());
    out.resize(pre + len - 1, b' ');
    out.push(b'\n');
    out
}

/// Reads as many bytes as `buf` holds, stopping early only at the end of the input.
pub(crate) fn read_up_to<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Where a `.npy` file's elements lie, read from its header without reading them: for reading
/// its rows a range at a time ([`RowStore`](super::RowStore)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpyLayout {
    /// The shape, outermost dimension first.
    pub shape: Vec<usize>,
    /// The element type.
    pub dtype: NpyDtype,
    /// Whether the elements are big-endian.
    pub big_endian: bool,
    /// Whether the array is stored in Fortran (column-major) order.
    pub fortran_order: bool,
    /// The byte offset of the first element.
    pub data_offset: u64,
}

/// The layout of the `.npy` file at `path` (its header checked as [`read_npy`] does, and its
/// length against the header's element count).
pub fn npy_layout(path: impl AsRef<Path>) -> DataResult<NpyLayout> {
    let path = path.as_ref();
    let (file, len) = open_file(path)?;
    read_layout(&mut BufReader::with_capacity(4096, file), len, path)
}

/// The reader behind [`read_npy`] and [`parse_npy`]: `total` is the length of the whole input.
fn read_npy_from<R: Read>(mut r: R, total: u64, path: &Path) -> DataResult<NpyArray> {
    let h = read_layout(&mut r, total, path)?;
    let count = element_count(&h.shape, path)?;
    let data =
        read_values(&mut r, count, h.dtype, h.big_endian).map_err(|e| DataError::read(path, e))?;
    let data = if h.fortran_order {
        fortran_to_c(data, &h.shape)
    } else {
        data
    };
    Ok(NpyArray {
        shape: h.shape,
        data,
        dtype: h.dtype,
        big_endian: h.big_endian,
        fortran_order: h.fortran_order,
    })
}

/// Reads and checks the preamble and header of a `.npy` input of `total` bytes, leaving `r` at
/// the first element.
fn read_layout<R: Read>(r: &mut R, total: u64, path: &Path) -> DataResult<NpyLayout> {
    let io_err = |e| DataError::read(path, e);
    let short = |needed: u64, found: u64| DataError::ShortHeader {
        path: path.to_path_buf(),
        format: FORMAT,
        needed,
        found,
    };

    // Preamble: magic (6 bytes), version (2), header length (2 in 1.0, 4 in 2.0 and 3.0).
    let mut pre = [0u8; 12];
    let got = read_up_to(r, &mut pre[..10]).map_err(io_err)?;
    let m = got.min(MAGIC.len());
    if pre[..m] != MAGIC[..m] {
        return Err(DataError::BadMagic {
            path: path.to_path_buf(),
            format: FORMAT,
            expected: "\\x93NUMPY",
            found: escape_bytes(&pre[..got]),
        });
    }
    if got < 10 {
        return Err(short(10, got as u64));
    }
    let (major, minor) = (pre[6], pre[7]);
    let (pre_len, header_len) = match (major, minor) {
        (1, 0) => (10u64, u64::from(u16::from_le_bytes([pre[8], pre[9]]))),
        (2, 0) | (3, 0) => {
            let more = read_up_to(r, &mut pre[10..12]).map_err(io_err)?;
            if more < 2 {
                return Err(short(12, (10 + more) as u64));
            }
            (
                12,
                u64::from(u32::from_le_bytes([pre[8], pre[9], pre[10], pre[11]])),
            )
        }
        _ => {
            return Err(DataError::UnsupportedVersion {
                path: path.to_path_buf(),
                major,
                minor,
            })
        }
    };
    let data_offset = pre_len + header_len;
    if total < data_offset {
        return Err(short(data_offset, total));
    }
    if header_len > MAX_HEADER_LEN {
        return Err(DataError::BadHeader {
            path: path.to_path_buf(),
            format: FORMAT,
            reason: format!(
                "the header is {header_len} bytes long, more than the {MAX_HEADER_LEN}-byte limit"
            ),
        });
    }
    // Bounded by MAX_HEADER_LEN and by the file length (both checked above).
    let mut header = vec![0u8; header_len as usize];
    r.read_exact(&mut header).map_err(io_err)?;
    let h = parse_header(&header, path)?;

    // Size the data from the header and compare with the file BEFORE allocating for it.
    let overflow = || DataError::DimensionOverflow {
        path: path.to_path_buf(),
        shape: format!("{:?}", h.shape),
    };
    let count = element_count(&h.shape, path)?;
    let nbytes = count
        .checked_mul(h.dtype.itemsize())
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(overflow)?;
    let data_len = total - data_offset;
    if data_len < nbytes {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected: nbytes,
            found: data_len,
        });
    }
    if data_len > nbytes {
        return Err(DataError::TrailingBytes {
            path: path.to_path_buf(),
            expected: nbytes,
            extra: data_len - nbytes,
        });
    }
    Ok(NpyLayout {
        shape: h.shape,
        dtype: h.dtype,
        big_endian: h.big_endian,
        fortran_order: h.fortran_order,
        data_offset,
    })
}

/// Reads `count` elements and converts them to `f32`. The caller has checked that the input
/// holds exactly `count * itemsize` more bytes, so the allocation is bounded by the input.
fn read_values<R: Read>(
    r: &mut R,
    count: usize,
    dtype: NpyDtype,
    big_endian: bool,
) -> io::Result<Vec<f32>> {
    let size = dtype.itemsize();
    let mut out = Vec::with_capacity(count);
    let mut buf = vec![0u8; CHUNK.min(count * size)];
    let mut left = count;
    while left > 0 {
        let n = left.min(CHUNK / size);
        let bytes = &mut buf[..n * size];
        r.read_exact(bytes)?;
        decode_values(bytes, dtype, big_endian, &mut out);
        left -= n;
    }
    Ok(out)
}

/// Appends the elements of `bytes` (whole elements of `dtype`) to `out` as `f32`.
pub(crate) fn decode_values(bytes: &[u8], dtype: NpyDtype, big_endian: bool, out: &mut Vec<f32>) {
    match (dtype, big_endian) {
        (NpyDtype::F32, false) => out.extend(
            bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
        ),
        (NpyDtype::F32, true) => out.extend(
            bytes
                .chunks_exact(4)
                .map(|c| f32::from_be_bytes([c[0], c[1], c[2], c[3]])),
        ),
        (NpyDtype::F16, false) => out.extend(
            bytes
                .chunks_exact(2)
                .map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32()),
        ),
        (NpyDtype::F16, true) => out.extend(
            bytes
                .chunks_exact(2)
                .map(|c| f16::from_be_bytes([c[0], c[1]]).to_f32()),
        ),
        (NpyDtype::F64, false) => {
            out.extend(bytes.chunks_exact(8).map(|c| {
                f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32
            }))
        }
        (NpyDtype::F64, true) => {
            out.extend(bytes.chunks_exact(8).map(|c| {
                f64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32
            }))
        }
    }
}

/// Reorders column-major elements of `shape` into row-major order.
fn fortran_to_c(data: Vec<f32>, shape: &[usize]) -> Vec<f32> {
    let rank = shape.len();
    if rank < 2 || data.is_empty() {
        return data;
    }
    // Column-major strides: the first index moves fastest. No overflow: their products are
    // bounded by the element count.
    let mut stride = vec![1usize; rank];
    for k in 1..rank {
        stride[k] = stride[k - 1] * shape[k - 1];
    }
    let mut index = vec![0usize; rank];
    let mut offset = 0usize;
    let mut out = Vec::with_capacity(data.len());
    for _ in 0..data.len() {
        out.push(data[offset]);
        // Advance the row-major multi-index (last axis fastest), keeping `offset` in step.
        for k in (0..rank).rev() {
            index[k] += 1;
            offset += stride[k];
            if index[k] < shape[k] {
                break;
            }
            offset -= stride[k] * shape[k];
            index[k] = 0;
        }
    }
    out
}

/// The three fields of a `.npy` header.
#[derive(Debug)]
struct Header {
    dtype: NpyDtype,
    big_endian: bool,
    fortran_order: bool,
    shape: Vec<usize>,
}

/// A Python literal of the kinds a `.npy` header can hold.
#[derive(Debug)]
enum Value {
    Str(String),
    Bool(bool),
    None,
    /// An integer as written (digits, perhaps with a leading `-`), converted by the user.
    Int(String),
    Tuple(Vec<Value>),
    List(Vec<Value>),
}

/// A recursive-descent parser over the header bytes; errors are reasons for
/// [`DataError::BadHeader`].
struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn describe(&self) -> String {
        match self.peek() {
            Some(c) if c.is_ascii_graphic() => format!("'{}' at byte {}", c as char, self.pos),
            Some(c) => format!("byte {c:#04x} at byte {}", self.pos),
            None => "the end of the header".to_string(),
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        self.ws();
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!(
                "expected '{}', found {}",
                c as char,
                self.describe()
            ))
        }
    }

    fn dict(&mut self) -> Result<Vec<(String, Value)>, String> {
        self.expect(b'{')?;
        let mut items = Vec::new();
        loop {
            self.ws();
            if self.peek() == Some(b'}') {
                self.pos += 1;
                break;
            }
            let key = match self.peek() {
                Some(b'\'' | b'"') => self.string()?,
                _ => return Err(format!("expected a quoted key, found {}", self.describe())),
            };
            self.expect(b':')?;
            let value = self.value(0)?;
            items.push((key, value));
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                _ => return Err(format!("expected ',' or '}}', found {}", self.describe())),
            }
        }
        self.ws();
        if self.pos != self.s.len() {
            return Err(format!("unexpected {} after the dict", self.describe()));
        }
        Ok(items)
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err(format!("nested deeper than {MAX_DEPTH} levels"));
        }
        self.ws();
        match self.peek() {
            Some(b'\'' | b'"') => Ok(Value::Str(self.string()?)),
            Some(b'(') => Ok(Value::Tuple(self.sequence(b')', depth)?)),
            Some(b'[') => Ok(Value::List(self.sequence(b']', depth)?)),
            Some(b'-' | b'0'..=b'9') => self.int(),
            Some(c) if c.is_ascii_alphabetic() => {
                let start = self.pos;
                while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == b'_') {
                    self.pos += 1;
                }
                match &self.s[start..self.pos] {
                    b"True" => Ok(Value::Bool(true)),
                    b"False" => Ok(Value::Bool(false)),
                    b"None" => Ok(Value::None),
                    other => Err(format!(
                        "unknown name '{}' at byte {start}",
                        String::from_utf8_lossy(other)
                    )),
                }
            }
            _ => Err(format!("expected a value, found {}", self.describe())),
        }
    }

    /// The items of a tuple or list, the opening bracket under the cursor.
    fn sequence(&mut self, close: u8, depth: usize) -> Result<Vec<Value>, String> {
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            self.ws();
            if self.peek() == Some(close) {
                self.pos += 1;
                return Ok(items);
            }
            items.push(self.value(depth + 1)?);
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(c) if c == close => {
                    self.pos += 1;
                    return Ok(items);
                }
                _ => {
                    return Err(format!(
                        "expected ',' or '{}', found {}",
                        close as char,
                        self.describe()
                    ))
                }
            }
        }
    }

    /// An integer, with Python 2's `L` suffix allowed (`(3L, 4L)` in old files).
    fn int(&mut self) -> Result<Value, String> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let digits = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        if self.pos == digits {
            return Err(format!("expected digits, found {}", self.describe()));
        }
        let text = String::from_utf8_lossy(&self.s[start..self.pos]).into_owned();
        if matches!(self.peek(), Some(b'L' | b'l')) {
            self.pos += 1;
        }
        Ok(Value::Int(text))
    }

    /// A quoted string (the quote under the cursor); a backslash escapes the next byte.
    fn string(&mut self) -> Result<String, String> {
        let start = self.pos;
        let quote = self.s[self.pos];
        self.pos += 1;
        let mut bytes = Vec::new();
        loop {
            match self.peek() {
                None => return Err(format!("unterminated string starting at byte {start}")),
                Some(c) if c == quote => {
                    self.pos += 1;
                    return Ok(String::from_utf8_lossy(&bytes).into_owned());
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(c) => bytes.push(c),
                        None => {
                            return Err(format!("unterminated string starting at byte {start}"))
                        }
                    }
                    self.pos += 1;
                }
                Some(c) => {
                    bytes.push(c);
                    self.pos += 1;
                }
            }
        }
    }
}

/// `<f4` → (F32, little-endian), and so on; `None` for anything unsupported.
fn parse_descr(descr: &str) -> Option<(NpyDtype, bool)> {
    let b = descr.as_bytes();
    if b.len() != 3 {
        return None;
    }
    let big_endian = match b[0] {
        b'<' => false,
        b'>' => true,
        b'=' => cfg!(target_endian = "big"),
        _ => return None,
    };
    let dtype = match &b[1..] {
        b"f2" => NpyDtype::F16,
        b"f4" => NpyDtype::F32,
        b"f8" => NpyDtype::F64,
        _ => return None,
    };
    Some((dtype, big_endian))
}

/// Parses and checks the header dict.
fn parse_header(bytes: &[u8], path: &Path) -> DataResult<Header> {
    let bad = |reason: String| DataError::BadHeader {
        path: path.to_path_buf(),
        format: FORMAT,
        reason,
    };
    let items = Parser { s: bytes, pos: 0 }.dict().map_err(bad)?;
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    for (key, value) in items {
        let slot = match key.as_str() {
            "descr" => &mut descr,
            "fortran_order" => &mut fortran,
            "shape" => &mut shape,
            _ => return Err(bad(format!("unexpected key {key:?}"))),
        };
        if slot.replace(value).is_some() {
            return Err(bad(format!("duplicate key {key:?}")));
        }
    }
    let (Some(descr), Some(fortran), Some(shape)) = (descr, fortran, shape) else {
        return Err(bad(
            "the dict must have the keys 'descr', 'fortran_order' and 'shape'".to_string(),
        ));
    };
    let unsupported = |dtype: String| DataError::UnsupportedDtype {
        path: path.to_path_buf(),
        dtype,
        supported: SUPPORTED_NPY_DTYPES,
    };
    let (dtype, big_endian) = match descr {
        Value::Str(s) => parse_descr(&s).ok_or_else(|| unsupported(format!("'{s}'")))?,
        Value::List(fields) => {
            return Err(unsupported(format!(
                "a structured (record) dtype of {} fields",
                fields.len()
            )))
        }
        other => return Err(bad(format!("'descr' is not a string: {other:?}"))),
    };
    let fortran_order = match fortran {
        Value::Bool(b) => b,
        other => {
            return Err(bad(format!(
                "'fortran_order' is not True or False: {other:?}"
            )))
        }
    };
    let Value::Tuple(dims) = shape else {
        return Err(bad(format!("'shape' is not a tuple: {shape:?}")));
    };
    let texts: Vec<String> = dims
        .into_iter()
        .map(|d| match d {
            Value::Int(t) => Ok(t),
            other => Err(bad(format!("'shape' holds a non-integer: {other:?}"))),
        })
        .collect::<DataResult<_>>()?;
    let mut shape = Vec::with_capacity(texts.len());
    for t in &texts {
        if t.starts_with('-') {
            return Err(bad(format!("negative dimension {t} in 'shape'")));
        }
        shape.push(
            t.parse::<usize>()
                .map_err(|_| DataError::DimensionOverflow {
                    path: path.to_path_buf(),
                    shape: format!("({})", texts.join(", ")),
                })?,
        );
    }
    Ok(Header {
        dtype,
        big_endian,
        fortran_order,
        shape,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> &'static Path {
        Path::new("t.npy")
    }

    /// A `.npy` file of format `version` with header dict `dict` (padded to 64 bytes as NumPy
    /// does) and the raw `data` bytes.
    fn npy(version: u8, dict: &str, data: &[u8]) -> Vec<u8> {
        let pre = if version == 1 { 10 } else { 12 };
        let unpadded = pre + dict.len() + 1;
        let len = dict.len() + 1 + (64 - unpadded % 64) % 64;
        let mut b = MAGIC.to_vec();
        b.extend_from_slice(&[version, 0]);
        if version == 1 {
            b.extend_from_slice(&(len as u16).to_le_bytes());
        } else {
            b.extend_from_slice(&(len as u32).to_le_bytes());
        }
        b.extend_from_slice(dict.as_bytes());
        b.resize(pre + len - 1, b' ');
        b.push(b'\n');
        assert_eq!(b.len() % 64, 0);
        b.extend_from_slice(data);
        b
    }

    fn dict(descr: &str, fortran: bool, shape: &str) -> String {
        let f = if fortran { "True" } else { "False" };
        format!("{{'descr': '{descr}', 'fortran_order': {f}, 'shape': {shape}, }}")
    }

    const VALUES: [f32; 6] = [1.5, -2.0, 0.25, 3.0, 0.0, -65504.0];

    fn encode(descr: &str, values: &[f32]) -> Vec<u8> {
        let mut b = Vec::new();
        for &v in values {
            match descr {
                "<f4" => b.extend_from_slice(&v.to_le_bytes()),
                ">f4" => b.extend_from_slice(&v.to_be_bytes()),
                "<f2" => b.extend_from_slice(&f16::from_f32(v).to_le_bytes()),
                ">f2" => b.extend_from_slice(&f16::from_f32(v).to_be_bytes()),
                "<f8" => b.extend_from_slice(&(v as f64).to_le_bytes()),
                ">f8" => b.extend_from_slice(&(v as f64).to_be_bytes()),
                _ => unreachable!(),
            }
        }
        b
    }

    #[test]
    fn reads_every_dtype_version_and_byte_order() {
        for descr in ["<f4", ">f4", "<f2", ">f2", "<f8", ">f8"] {
            for version in [1, 2, 3] {
                let b = npy(
                    version,
                    &dict(descr, false, "(2, 3)"),
                    &encode(descr, &VALUES),
                );
                let a = parse_npy(&b, p()).unwrap_or_else(|e| panic!("{descr} v{version}: {e}"));
                assert_eq!(a.shape, vec![2, 3], "{descr}");
                // Every test value is exact in f16.
                assert_eq!(a.data, VALUES.to_vec(), "{descr} v{version}");
                assert_eq!(a.big_endian, descr.starts_with('>'));
                assert_eq!(a.dtype.itemsize(), descr[2..].parse::<usize>().unwrap());
            }
        }
    }

    #[test]
    fn f16_and_f64_are_rounded_to_f32() {
        let b = npy(
            1,
            &dict("<f2", false, "(1,)"),
            &f16::from_f32(0.1).to_le_bytes(),
        );
        assert_eq!(
            parse_npy(&b, p()).unwrap().data,
            vec![f16::from_f32(0.1).to_f32()]
        );
        let b = npy(1, &dict("<f8", false, "(1,)"), &0.1f64.to_le_bytes());
        assert_eq!(parse_npy(&b, p()).unwrap().data, vec![0.1f32]);
    }

    #[test]
    fn reads_every_rank() {
        let data = encode("<f4", &VALUES);
        for (shape, dims) in [
            ("(6,)", vec![6]),
            ("(1, 2, 3)", vec![1, 2, 3]),
            ("(3, 1, 2, 1)", vec![3, 1, 2, 1]),
        ] {
            let a = parse_npy(&npy(1, &dict("<f4", false, shape), &data), p()).unwrap();
            assert_eq!((a.shape, a.data), (dims, VALUES.to_vec()));
        }
        let a = parse_npy(&npy(1, &dict("<f4", false, "()"), &data[..4]), p()).unwrap();
        assert_eq!((a.shape, a.data), (vec![], vec![1.5]));
        let a = parse_npy(&npy(1, &dict("<f4", false, "(0, 3)"), &[]), p()).unwrap();
        assert_eq!((a.shape, a.data), (vec![0, 3], vec![]));
    }

    #[test]
    fn transposes_fortran_order() {
        // [[0, 1, 2], [3, 4, 5]] stored column by column.
        let col_major = [0.0, 3.0, 1.0, 4.0, 2.0, 5.0];
        let b = npy(1, &dict("<f4", true, "(2, 3)"), &encode("<f4", &col_major));
        let a = parse_npy(&b, p()).unwrap();
        assert!(a.fortran_order);
        assert_eq!(a.data, vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);

        // Rank 3, shape (2, 3, 4): element (i, j, k) = 100 i + 10 j + k.
        let shape = [2usize, 3, 4];
        let mut f = Vec::new();
        for k in 0..4 {
            for j in 0..3 {
                for i in 0..2 {
                    f.push((100 * i + 10 * j + k) as f32);
                }
            }
        }
        let b = npy(2, &dict(">f8", true, "(2, 3, 4)"), &encode(">f8", &f));
        let a = parse_npy(&b, p()).unwrap();
        assert_eq!(a.shape, shape.to_vec());
        let mut c = Vec::new();
        for i in 0..2 {
            for j in 0..3 {
                for k in 0..4 {
                    c.push((100 * i + 10 * j + k) as f32);
                }
            }
        }
        assert_eq!(a.data, c);

        // Rank 1 is the same in both orders.
        let b = npy(1, &dict("<f4", true, "(6,)"), &encode("<f4", &VALUES));
        assert_eq!(parse_npy(&b, p()).unwrap().data, VALUES.to_vec());
    }

    #[test]
    fn accepts_header_spellings_numpy_and_python2_produce() {
        let data = encode("<f4", &VALUES);
        for d in [
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L), }",
            "{\"shape\": (2, 3), \"descr\": \"<f4\", \"fortran_order\": False}",
            "{'fortran_order':False,'shape':(2,3),'descr':'<f4'}",
            "  {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3,)}  ",
        ] {
            let a = parse_npy(&npy(1, d, &data), p()).unwrap_or_else(|e| panic!("{d}: {e}"));
            assert_eq!(a.shape, vec![2, 3]);
        }
        // Unpadded header, no trailing newline.
        let d = dict("<f4", false, "(6,)");
        let mut b = MAGIC.to_vec();
        b.extend_from_slice(&[1, 0]);
        b.extend_from_slice(&(d.len() as u16).to_le_bytes());
        b.extend_from_slice(d.as_bytes());
        b.extend_from_slice(&data);
        assert_eq!(parse_npy(&b, p()).unwrap().data, VALUES.to_vec());
    }

    #[test]
    fn rejects_bad_magic() {
        for b in [
            &b"PK\x03\x04 a zip file, perhaps an .npz"[..],
            b"\x93NUMPz\x01\x00",
        ] {
            let e = parse_npy(b, p()).unwrap_err();
            assert!(matches!(e, DataError::BadMagic { .. }), "{e}");
            assert!(e.to_string().starts_with("t.npy: bad magic"), "{e}");
        }
    }

    #[test]
    fn rejects_short_and_truncated_headers() {
        assert!(matches!(
            parse_npy(b"", p()),
            Err(DataError::ShortHeader {
                needed: 10,
                found: 0,
                ..
            })
        ));
        assert!(matches!(
            parse_npy(b"\x93NUM", p()),
            Err(DataError::ShortHeader { found: 4, .. })
        ));
        assert!(matches!(
            parse_npy(b"\x93NUMPY\x02\x00\x10\x00", p()),
            Err(DataError::ShortHeader {
                needed: 12,
                found: 10,
                ..
            })
        ));
        let b = npy(1, &dict("<f4", false, "(2, 3)"), &[]);
        assert!(matches!(
            parse_npy(&b[..50], p()),
            Err(DataError::ShortHeader {
                needed: 128,
                found: 50,
                ..
            })
        ));
        // A version 2.0 header length of 4 GiB in a small file.
        let mut b = b"\x93NUMPY\x02\x00\xff\xff\xff\xff".to_vec();
        b.extend_from_slice(&[b' '; 100]);
        assert!(matches!(
            parse_npy(&b, p()),
            Err(DataError::ShortHeader { .. })
        ));
    }

    #[test]
    fn rejects_unsupported_versions() {
        for (major, minor) in [(0, 0), (1, 1), (4, 0), (255, 255)] {
            let mut b = npy(1, &dict("<f4", false, "(1,)"), &[0; 4]);
            b[6] = major;
            b[7] = minor;
            assert!(matches!(
                parse_npy(&b, p()),
                Err(DataError::UnsupportedVersion { major: a, minor: i, .. }) if (a, i) == (major, minor)
            ));
        }
    }

    #[test]
    fn huge_claimed_shapes_error_without_allocating() {
        // 10^12 f32 elements announced in a file of about 100 bytes: the check happens before
        // any allocation (allocating 4 TB would abort the test process).
        let d = "{'descr':'<f4','fortran_order':False,'shape':(1000000,1000000)}";
        let mut b = MAGIC.to_vec();
        b.extend_from_slice(&[1, 0]);
        b.extend_from_slice(&(d.len() as u16).to_le_bytes());
        b.extend_from_slice(d.as_bytes());
        let found = 100 - b.len() as u64;
        b.resize(100, 0);
        let e = parse_npy(&b, p()).unwrap_err();
        assert!(
            matches!(
                e,
                DataError::Truncated {
                    expected: 4_000_000_000_000,
                    found: f,
                    ..
                } if f == found
            ),
            "{e}"
        );
        // Element counts or byte sizes that overflow.
        for shape in [
            "(4294967296, 4294967296)",
            "(4611686018427387904,)",
            "(99999999999999999999999,)",
        ] {
            let b = npy(1, &dict("<f4", false, shape), &[]);
            let e = parse_npy(&b, p()).unwrap_err();
            assert!(
                matches!(e, DataError::DimensionOverflow { .. }),
                "{shape}: {e}"
            );
        }
    }

    #[test]
    fn rejects_truncated_and_overlong_data() {
        let data = encode("<f2", &VALUES);
        let b = npy(1, &dict("<f2", false, "(2, 3)"), &data[..11]);
        assert!(matches!(
            parse_npy(&b, p()),
            Err(DataError::Truncated {
                expected: 12,
                found: 11,
                ..
            })
        ));
        let mut b = npy(1, &dict("<f2", false, "(2, 3)"), &data);
        b.extend_from_slice(&[0; 3]);
        assert!(matches!(
            parse_npy(&b, p()),
            Err(DataError::TrailingBytes {
                expected: 12,
                extra: 3,
                ..
            })
        ));
    }

    #[test]
    fn rejects_unsupported_dtypes() {
        for descr in [
            "<i4", "|u1", "<c8", "<f16", "|b1", "<M8[ns]", "f4", "|f4", "<U3",
        ] {
            let b = npy(1, &dict(descr, false, "(1,)"), &[0; 4]);
            let e = parse_npy(&b, p()).unwrap_err();
            assert!(
                matches!(e, DataError::UnsupportedDtype { .. }),
                "{descr}: {e}"
            );
            assert!(e.to_string().contains(descr), "{e}");
        }
        let d = "{'descr': [('x', '<f4'), ('y', '<f4')], 'fortran_order': False, 'shape': (1,), }";
        assert!(matches!(
            parse_npy(&npy(1, d, &[0; 8]), p()),
            Err(DataError::UnsupportedDtype { .. })
        ));
    }

    #[test]
    fn rejects_garbage_dicts() {
        let deep = format!(
            "{{'descr': '<f4', 'fortran_order': False, 'shape': {}1{}}}",
            "(".repeat(5000),
            ")".repeat(5000)
        );
        let cases: Vec<String> = vec![
            "".into(),
            "{".into(),
            "}".into(),
            "{}".into(),
            "[1, 2]".into(),
            "{,}".into(),
            "{'descr': '<f4'}".into(),
            "{'descr': '<f4', 'fortran_order': False}".into(),
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1}".into(),
            "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}".into(),
            "{'descr': <f4, 'fortran_order': False, 'shape': (1,)}".into(),
            "{'descr': 4, 'fortran_order': False, 'shape': (1,)}".into(),
            "{'descr': '<f4', 'fortran_order': 'no', 'shape': (1,)}".into(),
            "{'descr': '<f4', 'fortran_order': false, 'shape': (1,)}".into(),
            "{'descr': '<f4', 'fortran_order': False, 'shape': 1}".into(),
            "{'descr': '<f4', 'fortran_order': False, 'shape': [1]}".into(),
            "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}".into(),
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 'a')}".into(),
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1,,)}".into(),
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1 2)}".into(),
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)".into(),
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} junk".into(),
            "{'descr': '<f4, 'fortran_order': False, 'shape': (1,)}".into(),
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }}".into(),
            "{descr: '<f4', fortran_order: False, shape: (1,)}".into(),
            "{'descr': '<f4' 'fortran_order': False 'shape': (1,)}".into(),
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1.5,)}".into(),
            "{'descr': '<f4', 'fortran_order': False, 'shape': (-,)}".into(),
            "{'descr': '<f4\\', 'fortran_order': False, 'shape': (1,)}".into(),
            deep,
        ];
        for d in &cases {
            let e = parse_npy(&npy(1, d, &[0; 4]), p()).unwrap_err();
            assert!(matches!(e, DataError::BadHeader { .. }), "{d:?}: {e}");
            assert!(!e.to_string().contains('\n'), "{e}");
        }
        // Bytes that are not text at all.
        let mut b = npy(1, &dict("<f4", false, "(1,)"), &[0; 4]);
        b[12] = 0xff;
        b[20] = 0x00;
        assert!(matches!(
            parse_npy(&b, p()),
            Err(DataError::BadHeader { .. })
        ));
    }

    #[test]
    fn never_panics_on_prefixes_or_corrupted_bytes() {
        let good = npy(1, &dict("<f2", true, "(2, 3)"), &encode("<f2", &VALUES));
        for n in 0..good.len() {
            assert!(parse_npy(&good[..n], p()).is_err(), "prefix {n}");
        }
        for i in 0..good.len() {
            for v in [
                0x00, 0x01, 0x22, 0x27, 0x28, 0x29, 0x2c, 0x39, 0x7b, 0x7d, 0x80, 0xff,
            ] {
                let mut b = good.clone();
                b[i] = v;
                let _ = parse_npy(&b, p());
            }
        }
    }

    fn temp(tag: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("sae-npy-{tag}-{}.npy", std::process::id()))
    }

    #[test]
    fn write_then_read_round_trips() {
        let path = temp("rt");
        let values: Vec<f32> = (0..24).map(|i| i as f32 * 0.5 - 3.0).collect();
        for shape in [vec![24], vec![4, 6], vec![2, 3, 4]] {
            write_npy_f32(&path, &shape, &values).unwrap();
            let bytes = std::fs::read(&path).unwrap();
            assert_eq!(
                (bytes.len() - 24 * 4) % 64,
                0,
                "data starts 64-byte aligned"
            );
            let a = read_npy(&path).unwrap();
            assert_eq!(
                (a.shape, a.dtype, a.big_endian),
                (shape, NpyDtype::F32, false)
            );
            assert_eq!(a.data, values);
        }
        // Exact header NumPy would write for the last one.
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes.starts_with(
            b"\x93NUMPY\x01\x00\x76\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }"
        ));
        write_npy_f32(&path, &[], &[7.0]).unwrap();
        assert_eq!(read_npy(&path).unwrap().data, vec![7.0]);
        assert!(matches!(
            write_npy_f32(&path, &[2, 3], &values),
            Err(DataError::ValueCount {
                len: 24,
                expected: 6,
                ..
            })
        ));
        assert!(matches!(
            write_npy_f32(&path, &[usize::MAX, 2], &values),
            Err(DataError::DimensionOverflow { .. })
        ));
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn long_shapes_use_version_2() {
        // A header longer than 65535 bytes needs format 2.0.
        let shape = vec![1usize; 30_000];
        let h = npy_header("<f4", false, &shape);
        assert_eq!(&h[6..8], &[2, 0]);
        assert_eq!(h.len() % 64, 0);
        let mut b = h;
        b.extend_from_slice(&1.0f32.to_le_bytes());
        let a = parse_npy(&b, p()).unwrap();
        assert_eq!(a.shape.len(), 30_000);
        assert_eq!(a.data, vec![1.0]);
    }

    #[test]
    fn file_errors_name_the_path() {
        let missing = temp("missing");
        let e = read_npy(&missing).unwrap_err();
        assert!(matches!(e, DataError::NotFound { .. }));
        assert!(e.to_string().contains(&*missing.to_string_lossy()));
        assert!(matches!(
            read_npy(std::env::temp_dir()),
            Err(DataError::IsDirectory { .. })
        ));
        let dir = std::env::temp_dir().join(format!("sae-npy-nodir-{}", std::process::id()));
        assert!(matches!(
            write_npy_f32(dir.join("x.npy"), &[1], &[1.0]),
            Err(DataError::NotFound { .. })
        ));
    }
}
