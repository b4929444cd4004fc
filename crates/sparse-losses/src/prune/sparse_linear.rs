//! A pruned `Linear` layer stored sparse (CSR) for a faster CPU forward: `y = x Wᵀ + b` over
//! the kept weights only.

use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::TensorData;

use crate::{Error, Result};

/// The batch columns accumulated at once in the forward (a multiple of the SIMD width).
const TILE: usize = 32;

/// Column indices: 16 bits when the layer has at most 65,536 inputs, else 32.
#[derive(Debug, Clone, PartialEq)]
enum Columns {
    U16(Vec<u16>),
    U32(Vec<u32>),
}

/// A `Linear` layer's weight in compressed sparse rows (`W [out, in]`, the nonzeros of each
/// output row with their input indices) and its bias, for the CPU: the forward reads
/// `nnz · (4 + 2)` bytes of weights (16-bit indices) instead of `out · in · 4`.
///
/// ```
/// use burn::nn::LinearConfig;
/// use burn::prelude::*;
/// use sparse_losses::prune::SparseLinear;
///
/// let device = Device::flex();
/// let linear = LinearConfig::new(4, 2).init(&device);
/// let sparse = SparseLinear::from_linear(&linear)?;
/// let x = Tensor::<2>::ones([3, 4], &device);
/// let diff = (sparse.forward(x.clone())? - linear.forward(x)).abs().max();
/// assert!(diff.into_scalar::<f32>() < 1e-5);
/// # Ok::<(), sparse_losses::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SparseLinear {
    out: usize,
    inputs: usize,
    row_start: Vec<u32>,
    columns: Columns,
    values: Vec<f32>,
    bias: Option<Vec<f32>>,
}

impl SparseLinear {
    /// The nonzeros of `weight` (`[out, in]`, row-major) and `bias` (`[out]`).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when the lengths do not match the shape.
    pub fn from_rows(
        weight: &[f32],
        [out, inputs]: [usize; 2],
        bias: Option<Vec<f32>>,
    ) -> Result<Self> {
        if weight.len() != out * inputs || bias.as_ref().is_some_and(|b| b.len() != out) {
            return Err(Error::ShapeMismatch {
                what: "sparse_linear: the weight [out, in] and bias [out]",
                left: vec![weight.len(), bias.as_ref().map_or(out, Vec::len)],
                right: vec![out, inputs],
            });
        }
        let mut row_start = Vec::with_capacity(out + 1);
        let mut cols = Vec::new();
        let mut values = Vec::new();
        row_start.push(0);
        for row in weight.chunks(inputs.max(1)).take(out) {
            for (i, v) in row.iter().enumerate() {
                if *v != 0.0 {
                    cols.push(i as u32);
                    values.push(*v);
                }
            }
            row_start.push(values.len() as u32);
        }
        let columns = if inputs <= 1 << 16 {
            Columns::U16(cols.into_iter().map(|c| c as u16).collect())
        } else {
            Columns::U32(cols)
        };
        Ok(Self {
            out,
            inputs,
            row_start,
            columns,
            values,
            bias,
        })
    }

    /// The layer of a Burn `Linear` (weight `[in, out]`, read as `W [out, in]`).
    ///
    /// # Errors
    /// As [`from_rows`](Self::from_rows).
    pub fn from_linear(linear: &Linear) -> Result<Self> {
        let w = linear.weight.val().transpose();
        let shape = w.dims();
        let weight = w.try_into_vec_as::<f32>().expect("a float weight");
        let bias = linear
            .bias
            .as_ref()
            .map(|b| b.val().try_into_vec_as::<f32>().expect("a float bias"));
        Self::from_rows(&weight, shape, bias)
    }

    /// Nonzero weights kept.
    pub fn nnz(&self) -> usize {
        self.values.len()
    }

    /// Bytes of the weights as stored (values, column indices, row starts).
    pub fn bytes(&self) -> usize {
        let idx = match &self.columns {
            Columns::U16(c) => 2 * c.len(),
            Columns::U32(c) => 4 * c.len(),
        };
        4 * self.values.len() + idx + 4 * self.row_start.len()
    }

    /// `y = x Wᵀ + b` for rows `x` (`[batch, in]`, row-major) into `[batch, out]`, on
    /// `threads` threads (by output rows).
    pub fn forward_rows(&self, x: &[f32], batch: usize, threads: usize) -> Vec<f32> {
        let (o, k) = (self.out, self.inputs);
        // xᵀ [in, batch]: each kept weight then scales one contiguous row of the batch.
        let xt: Vec<f32> = if batch == 1 {
            x.to_vec()
        } else {
            let mut t = vec![0f32; k * batch];
            for b in 0..batch {
                for i in 0..k {
                    t[i * batch + b] = x[b * k + i];
                }
            }
            t
        };
        let mut yt = vec![0f32; o * batch];
        let per = o.div_ceil(threads.max(1)).max(1);
        std::thread::scope(|scope| {
            for (part, chunk) in yt.chunks_mut(per * batch).enumerate() {
                let xt = &xt;
                scope.spawn(move || {
                    let first = part * per;
                    match &self.columns {
                        Columns::U16(c) => self.rows_dispatch(chunk, first, batch, xt, c),
                        Columns::U32(c) => self.rows_dispatch(chunk, first, batch, xt, c),
                    }
                });
            }
        });
        let mut y = vec![0f32; batch * o];
        for r in 0..o {
            let bias = self.bias.as_ref().map_or(0.0, |b| b[r]);
            for b in 0..batch {
                y[b * o + r] = yt[r * batch + b] + bias;
            }
        }
        y
    }

    /// [`rows_into`](Self::rows_into) compiled for AVX2 and FMA when the CPU has them (the
    /// crate is built for the baseline x86-64; this one loop is worth the wider vectors).
    fn rows_dispatch<I: Copy + Into<u32>>(
        &self,
        chunk: &mut [f32],
        first: usize,
        batch: usize,
        xt: &[f32],
        cols: &[I],
    ) {
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports the features the function is compiled with.
            #[allow(unsafe_code)]
            unsafe {
                self.rows_into_avx2(chunk, first, batch, xt, cols)
            };
            return;
        }
        self.rows_into(chunk, first, batch, xt, cols);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    #[allow(unsafe_code)]
    unsafe fn rows_into_avx2<I: Copy + Into<u32>>(
        &self,
        chunk: &mut [f32],
        first: usize,
        batch: usize,
        xt: &[f32],
        cols: &[I],
    ) {
        self.rows_into(chunk, first, batch, xt, cols);
    }

    /// Output rows `first..` into `chunk` (`[rows, batch]`).
    #[inline(always)]
    fn rows_into<I: Copy + Into<u32>>(
        &self,
        chunk: &mut [f32],
        first: usize,
        batch: usize,
        xt: &[f32],
        cols: &[I],
    ) {
        for (local, acc) in chunk.chunks_mut(batch).enumerate() {
            let r = first + local;
            let (a, b) = (self.row_start[r] as usize, self.row_start[r + 1] as usize);
            if batch == 1 {
                let mut s = 0f32;
                for (v, c) in self.values[a..b].iter().zip(&cols[a..b]) {
                    s += v * xt[(*c).into() as usize];
                }
                acc[0] = s;
            } else {
                // Tiles of the batch held in a local array (registers), one pass over the row's
                // nonzeros per tile.
                let mut t0 = 0;
                while t0 < batch {
                    let t = TILE.min(batch - t0);
                    let mut local = [0f32; TILE];
                    if t == TILE {
                        // A fixed trip count: unrolled and vectorised.
                        for (v, c) in self.values[a..b].iter().zip(&cols[a..b]) {
                            let base = (*c).into() as usize * batch + t0;
                            let xs: &[f32; TILE] =
                                xt[base..base + TILE].try_into().expect("a whole tile");
                            for j in 0..TILE {
                                local[j] += v * xs[j];
                            }
                        }
                    } else {
                        for (v, c) in self.values[a..b].iter().zip(&cols[a..b]) {
                            let base = (*c).into() as usize * batch + t0;
                            for (y, x) in local[..t].iter_mut().zip(&xt[base..base + t]) {
                                *y += v * x;
                            }
                        }
                    }
                    acc[t0..t0 + t].copy_from_slice(&local[..t]);
                    t0 += t;
                }
            }
        }
    }

    /// `y = x Wᵀ + b` for a Burn tensor `x` (`[batch, in]`), computed on the host and returned
    /// on `x`'s device.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when `x` does not have `in` columns.
    pub fn forward(&self, x: Tensor<2>) -> Result<Tensor<2>> {
        let [batch, k] = x.dims();
        if k != self.inputs {
            return Err(Error::ShapeMismatch {
                what: "sparse_linear: the input [batch, in] and the layer's inputs",
                left: vec![batch, k],
                right: vec![self.out, self.inputs],
            });
        }
        let device = x.device();
        let rows = x.try_into_vec_as::<f32>().expect("a float input");
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let y = self.forward_rows(&rows, batch, threads);
        Ok(Tensor::<2>::from_data(
            TensorData::new(y, [batch, self.out]),
            &device,
        ))
    }
}
