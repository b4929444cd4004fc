//! SparseGPT on Burn tensors (`f32`, any backend): the same algorithm as [`sparsegpt`](super::sparsegpt),
//! with the `O(in³)` and `O(out · in²)` parts as matrix products on the weight's device and the
//! per-column work of each block on the host.
//!
//! `U`, the upper Cholesky factor of `H⁻¹` (`H⁻¹ = UᵀU`), comes from one Cholesky factorisation
//! and one triangular inverse: with `P` the reversal permutation and `P H P = L Lᵀ`,
//! `H = R Rᵀ` for the upper triangular `R = P L P`, so `H⁻¹ = R⁻ᵀ R⁻¹` and `U = R⁻¹ = P L⁻¹ P`.
//! Both are blocked: `b × b` diagonal blocks on the host, the rest as products.

use burn::prelude::*;
use burn::tensor::TensorData;

use super::sparsegpt::{cholesky, lower_inverse, prune_block};
use super::{PrunePattern, SparseGptConfig};
use crate::{Error, Result};

const NAME: &str = "sparsegpt";
/// The diagonal blocks of the factorisations.
const PANEL: usize = 128;

fn host(t: Tensor<2>) -> Vec<f64> {
    t.try_into_vec_as::<f32>()
        .expect("a float tensor converts to f32")
        .into_iter()
        .map(f64::from)
        .collect()
}

fn tensor(v: &[f64], shape: [usize; 2], device: &Device) -> Tensor<2> {
    let v: Vec<f32> = v.iter().map(|x| *x as f32).collect();
    Tensor::<2>::from_data(TensorData::new(v, shape), device)
}

fn transpose(v: &[f64], n: usize) -> Vec<f64> {
    let mut t = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            t[j * n + i] = v[i * n + j];
        }
    }
    t
}

/// The lower Cholesky factor of the symmetric positive definite `a` (`k × k`), blocked.
fn blocked_cholesky(a: Tensor<2>, not_pd: impl Fn() -> Error) -> Result<Tensor<2>> {
    let [k, _] = a.dims();
    let device = a.device();
    let mut a = a;
    let mut l = Tensor::<2>::zeros([k, k], &device);
    let mut j = 0;
    while j < k {
        let b = PANEL.min(k - j);
        let a11 = host(a.clone().slice([j..j + b, j..j + b]));
        let l11 = cholesky(&a11, b).ok_or_else(&not_pd)?;
        l = l.slice_assign([j..j + b, j..j + b], tensor(&l11, [b, b], &device));
        if j + b < k {
            // L21 = A21 L11⁻ᵀ; A22 −= L21 L21ᵀ.
            let inv_t = transpose(&lower_inverse(&l11, b), b);
            let a21 = a.clone().slice([j + b..k, j..j + b]);
            let l21 = a21.matmul(tensor(&inv_t, [b, b], &device));
            let a22 = a.clone().slice([j + b..k, j + b..k]);
            let a22 = a22 - l21.clone().matmul(l21.clone().transpose());
            a = a.slice_assign([j + b..k, j + b..k], a22);
            l = l.slice_assign([j + b..k, j..j + b], l21);
        }
        j += b;
    }
    Ok(l)
}

/// `L⁻¹` of a lower triangular `l` (`k × k`), block row by block row:
/// `X_ii = L_ii⁻¹`, `X[i, :i] = −X_ii L[i, :i] X[:i, :i]`.
fn blocked_lower_inverse(l: Tensor<2>) -> Tensor<2> {
    let [k, _] = l.dims();
    let device = l.device();
    let mut x = Tensor::<2>::zeros([k, k], &device);
    let mut i = 0;
    while i < k {
        let b = PANEL.min(k - i);
        let lii = host(l.clone().slice([i..i + b, i..i + b]));
        let xii = tensor(&lower_inverse(&lii, b), [b, b], &device);
        if i > 0 {
            let row = l.clone().slice([i..i + b, 0..i]);
            let left = x.clone().slice([0..i, 0..i]);
            let off = xii.clone().matmul(row.matmul(left)).neg();
            x = x.slice_assign([i..i + b, 0..i], off);
        }
        x = x.slice_assign([i..i + b, i..i + b], xii);
        i += b;
    }
    x
}

/// SparseGPT of `w` (`[out, in]`) with calibration inputs `x` (`[n, in]`) on their device, in
/// `f32`: the mask and the pruned weight (see [`sparsegpt`](super::sparsegpt) for the
/// algorithm and the errors).
pub(crate) fn sparsegpt_tensor(
    w: Tensor<2>,
    x: Tensor<2>,
    pattern: PrunePattern,
    config: &SparseGptConfig,
) -> Result<(Tensor<2>, Tensor<2>)> {
    // Computed outside any autodiff graph (the inputs may come from a forward pass of a model
    // whose parameters require gradients); an autodiff weight gets autodiff results back.
    let autodiff = w.is_autodiff();
    let strip = |t: Tensor<2>| {
        if t.is_autodiff() {
            t.without_autodiff()
        } else {
            t
        }
    };
    let (w, x) = (strip(w), strip(x));
    let [out, k] = w.dims();
    let [n, kx] = x.dims();
    if kx != k || n == 0 {
        return Err(Error::ShapeMismatch {
            what: "prune: the calibration inputs [n, in] and the weight's inputs",
            left: vec![n, kx],
            right: vec![out, k],
        });
    }
    pattern.validate(NAME, k)?;
    config.validate(pattern)?;
    if let PrunePattern::Rows { .. } = pattern {
        return Err(Error::UnsupportedPattern {
            item: NAME,
            pattern: "rows",
        });
    }
    let device = w.device();
    let x = x.to_device(&device);
    // H = (2/n) XᵀX; a dead input gets H[i,i] = 1 and W[:, i] = 0; then the damping.
    let h = x
        .clone()
        .transpose()
        .matmul(x.clone())
        .mul_scalar(2.0 / n as f64);
    let diag: Vec<f64> = host(x.square().sum_dim(0))
        .into_iter()
        .map(|v| v * 2.0 / n as f64)
        .collect();
    let dead: Vec<bool> = diag.iter().map(|d| *d == 0.0).collect();
    let fixed: Vec<f64> = diag
        .iter()
        .map(|d| if *d == 0.0 { 1.0 } else { *d })
        .collect();
    let mean = fixed.iter().sum::<f64>() / k as f64;
    let mut add = vec![0f64; k * k];
    for i in 0..k {
        add[i * k + i] = config.damp * mean + if dead[i] { 1.0 } else { 0.0 };
    }
    let h = h + tensor(&add, [k, k], &device);
    let live: Vec<f64> = dead.iter().map(|d| if *d { 0.0 } else { 1.0 }).collect();
    let mut wt = w * tensor(&live, [1, k], &device);
    let not_pd = || Error::InvalidHyperParameter {
        item: NAME,
        field: "damp",
        value: config.damp,
        expected: "a damping that makes 2/n·XᵀX + damp·mean(diag)·I positive definite",
    };
    let l = blocked_cholesky(h.flip([0, 1]), not_pd)?;
    let u = blocked_lower_inverse(l).flip([0, 1]);
    let block = config.block_size;
    let mut mask = vec![1f32; out * k];
    let mut i1 = 0;
    while i1 < k {
        let i2 = (i1 + block).min(k);
        let cnt = i2 - i1;
        let mut w1 = host(wt.clone().slice([0..out, i1..i2]));
        let u1 = host(u.clone().slice([i1..i2, i1..i2]));
        let (q1, err1, pruned1) = prune_block(&mut w1, &u1, out, cnt, pattern);
        wt = wt.slice_assign([0..out, i1..i2], tensor(&q1, [out, cnt], &device));
        if i2 < k {
            let update =
                tensor(&err1, [out, cnt], &device).matmul(u.clone().slice([i1..i2, i2..k]));
            let rest = wt.clone().slice([0..out, i2..k]) - update;
            wt = wt.slice_assign([0..out, i2..k], rest);
        }
        for r in 0..out {
            for c in 0..cnt {
                if pruned1[r * cnt + c] {
                    mask[r * k + i1 + c] = 0.0;
                }
            }
        }
        i1 = i2;
    }
    let mask = Tensor::<2>::from_data(TensorData::new(mask, [out, k]), &device);
    if autodiff {
        return Ok((mask.autodiff(), wt.autodiff()));
    }
    Ok((mask, wt))
}
