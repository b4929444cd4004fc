//! The Flex kernels of the sparse products: compressed sparse rows of the codes, then one
//! vectorised axpy (or dot product) per nonzero, rows in parallel.

use std::borrow::Cow;

use burn::backend::flex::FlexTensor;
use burn::backend::TensorMetadata;
use burn::tensor::{DType, TensorData};
use rayon::prelude::*;

use super::SPARSE_BELOW;
use crate::fused::host::math::{madd, vectorized};

/// `x` as a contiguous `f32` matrix `(data, rows, cols)`; `None` for another dtype or rank.
fn matrix(x: &FlexTensor) -> Option<(Cow<'_, [f32]>, usize, usize)> {
    let dims = x.shape().to_vec();
    if x.dtype() != DType::F32 || dims.len() != 2 {
        return None;
    }
    let data = match x.as_slice::<f32>() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(x.to_contiguous().as_slice::<f32>()?.to_vec()),
    };
    Some((data, dims[0], dims[1]))
}

/// The nonzero codes in compressed sparse row form, or `None` when they are too dense.
struct Csr {
    /// Row `b`'s entries are `entries[starts[b]..starts[b + 1]]`.
    starts: Vec<usize>,
    /// `(column, value)`.
    entries: Vec<(u32, f32)>,
}

impl Csr {
    fn new(codes: &[f32], rows: usize, h: usize) -> Option<Self> {
        if h > u32::MAX as usize || rows * h == 0 {
            return None;
        }
        // Two passes, rows in parallel: count the nonzeros of each row, then fill each row's
        // slice of the entries.
        let counts: Vec<usize> = codes
            .par_chunks(h)
            .map(|r| r.iter().filter(|&&c| c != 0.0).count())
            .collect();
        let nnz: usize = counts.iter().sum();
        if nnz as f64 > SPARSE_BELOW * (rows * h) as f64 {
            return None;
        }
        let mut starts = Vec::with_capacity(rows + 1);
        starts.push(0);
        let mut entries = vec![(0u32, 0f32); nnz];
        let mut slices = Vec::with_capacity(rows);
        let mut rest = &mut entries[..];
        for &count in &counts {
            let (row, tail) = rest.split_at_mut(count);
            slices.push(row);
            rest = tail;
            starts.push(starts.last().copied().unwrap_or(0) + count);
        }
        slices
            .into_par_iter()
            .zip(codes.par_chunks(h))
            .for_each(|(out, row)| {
                let nonzero = row.iter().enumerate().filter(|(_, &c)| c != 0.0);
                for (o, (j, &c)) in out.iter_mut().zip(nonzero) {
                    *o = (j as u32, c);
                }
            });
        Some(Self { starts, entries })
    }

    fn row(&self, b: usize) -> &[(u32, f32)] {
        &self.entries[self.starts[b]..self.starts[b + 1]]
    }

    /// The same entries by column: `(starts, (row, value))`, rows ascending in each column.
    fn transpose(&self, h: usize) -> (Vec<usize>, Vec<(u32, f32)>) {
        let mut counts = vec![0usize; h + 1];
        for &(j, _) in &self.entries {
            counts[j as usize + 1] += 1;
        }
        for j in 0..h {
            counts[j + 1] += counts[j];
        }
        let starts = counts.clone();
        let mut next = counts;
        let mut entries = vec![(0u32, 0f32); self.entries.len()];
        for b in 0..self.starts.len() - 1 {
            for &(j, v) in self.row(b) {
                entries[next[j as usize]] = (b as u32, v);
                next[j as usize] += 1;
            }
        }
        (starts, entries)
    }
}

/// `out[b, :] += Σ v · w[j, :]` over `entries` (an axpy per nonzero, vectorised).
/// Compiled for AVX2 + FMA where the CPU has them.
#[inline(always)]
fn accumulate(out: &mut [f32], entries: &[(u32, f32)], w: &[f32], d: usize) {
    vectorized(
        #[inline(always)]
        move || {
            for &(j, v) in entries {
                let j = j as usize;
                for (o, &x) in out.iter_mut().zip(&w[j * d..(j + 1) * d]) {
                    *o = madd(v, x, *o);
                }
            }
        },
    )
}

/// `Σ a[i] b[i]` in 8 lanes of `f32`, compiled for AVX2 + FMA where the CPU has them.
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    vectorized(
        #[inline(always)]
        move || {
            let mut lanes = [0f32; 8];
            let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
            let tail: f32 = ca
                .remainder()
                .iter()
                .zip(cb.remainder())
                .map(|(x, y)| x * y)
                .sum();
            for (pa, pb) in ca.zip(cb) {
                for ((l, &x), &y) in lanes.iter_mut().zip(pa).zip(pb) {
                    *l = madd(x, y, *l);
                }
            }
            lanes.iter().sum::<f32>() + tail
        },
    )
}

/// `codes [B, h] · weight [h, d]`, or `None` for dense codes.
pub(super) fn product(codes: &FlexTensor, weight: &FlexTensor) -> Option<FlexTensor> {
    let (c, rows, h) = matrix(codes)?;
    let (w, h2, d) = matrix(weight)?;
    if h != h2 || rows == 0 || d == 0 {
        return None;
    }
    let csr = Csr::new(&c, rows, h)?;
    Some(rows_times(&csr, rows, &w, d))
}

/// `codes · w` for the codes in `csr` (`rows` rows) and a row-major `w [h, d]`: one axpy of a
/// row of `w` per nonzero, rows in parallel.
fn rows_times(csr: &Csr, rows: usize, w: &[f32], d: usize) -> FlexTensor {
    let mut out = vec![0f32; rows * d];
    out.par_chunks_mut(d)
        .enumerate()
        .for_each(|(b, o)| accumulate(o, csr.row(b), w, d));
    FlexTensor::from_data(TensorData::new(out, [rows, d]))
}

/// `codesᵀ · grad` (`[h, d]`; `[d, h]`, transposed, with `transposed`), or `None` for dense
/// codes.
pub(super) fn weight_grad(
    codes: &FlexTensor,
    grad: &FlexTensor,
    transposed: bool,
) -> Option<FlexTensor> {
    let (c, rows, h) = matrix(codes)?;
    let (g, rows2, d) = matrix(grad)?;
    if rows != rows2 || d == 0 || h == 0 {
        return None;
    }
    // Row j of the result gathers the rows of `grad` where code j is nonzero.
    let (starts, entries) = Csr::new(&c, rows, h)?.transpose(h);
    let mut out = vec![0f32; h * d];
    out.par_chunks_mut(d)
        .enumerate()
        .for_each(|(j, o)| accumulate(o, &entries[starts[j]..starts[j + 1]], &g, d));
    Some(if transposed {
        FlexTensor::from_data(TensorData::new(transpose(&out, h, d), [d, h]))
    } else {
        FlexTensor::from_data(TensorData::new(out, [h, d]))
    })
}

/// `codes [B, h] · weightᵀ` for a contiguous `weight [d, h]` (`[B, d]`), or `None` for dense
/// codes: `weight` transposed once (blocked), then [`product`]'s loop.
pub(super) fn product_transposed(codes: &FlexTensor, weight: &FlexTensor) -> Option<FlexTensor> {
    let (c, rows, h) = matrix(codes)?;
    let (w, d, h2) = matrix(weight)?;
    if h != h2 || rows == 0 || d == 0 {
        return None;
    }
    let csr = Csr::new(&c, rows, h)?;
    Some(rows_times(&csr, rows, &transpose(&w, d, h), d))
}

/// The transpose (`[cols, rows]`, contiguous) of the row-major `src [rows, cols]`, in
/// 32 × 32 tiles, bands of output rows in parallel, written once into uninitialised memory.
fn transpose(src: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    const TILE: usize = 32;
    let n = rows * cols;
    let mut out: Vec<f32> = Vec::with_capacity(n);
    if n == 0 {
        return out;
    }
    // Output rows j0..j0 + TILE (input columns) per task.
    out.spare_capacity_mut()[..n]
        .par_chunks_mut(TILE * rows)
        .enumerate()
        .for_each(|(band, o)| {
            let j0 = band * TILE;
            let width = o.len() / rows;
            for i0 in (0..rows).step_by(TILE) {
                let height = TILE.min(rows - i0);
                for dj in 0..width {
                    let dst = &mut o[dj * rows + i0..dj * rows + i0 + height];
                    for (di, v) in dst.iter_mut().enumerate() {
                        v.write(src[(i0 + di) * cols + j0 + dj]);
                    }
                }
            }
        });
    // SAFETY: the bands cover the first n elements exactly (each band is `width` whole output
    // rows of length `rows`, the last band possibly narrower), and within a band every output
    // row `dj` is written for every `i` in `0..rows` (tiles of `height` rows from 0 to `rows`).
    unsafe { out.set_len(n) };
    out
}

/// `(grad [B, d] · weightᵀ) ⊙ 1[codes ≠ 0]` (`[B, h]`): one dot product per nonzero code, or
/// `None` for dense codes.
pub(super) fn codes_grad_on_support(
    codes: &FlexTensor,
    grad: &FlexTensor,
    weight: &FlexTensor,
) -> Option<FlexTensor> {
    let (c, rows, h) = matrix(codes)?;
    let (g, rows2, d) = matrix(grad)?;
    let (w, h2, d2) = matrix(weight)?;
    if rows != rows2 || h != h2 || d != d2 || h == 0 {
        return None;
    }
    let csr = Csr::new(&c, rows, h)?;
    let mut out = vec![0f32; rows * h];
    out.par_chunks_mut(h).enumerate().for_each(|(b, o)| {
        let gb = &g[b * d..(b + 1) * d];
        for &(j, _) in csr.row(b) {
            let j = j as usize;
            o[j] = dot(gb, &w[j * d..(j + 1) * d]);
        }
    });
    Some(FlexTensor::from_data(TensorData::new(out, [rows, h])))
}
