//! OMP on the CPU: the greedy steps of `omp.rs`'s batched op chain, one signal per task
//! in plain Rust (a step of the op chain is ~30 small tensor ops over the whole batch; here it is
//! an argmax, a Cholesky row in `f64` and `t` vectorised axpys). Used on Flex and NdArray; the
//! Gram matrix and the initial correlations stay Burn GEMMs.
//!
//! Per signal `x` with correlations `α⁰ = Dᵀx` and Gram matrix `G = DᵀD`, step `t`:
//!
//! ```text
//! j = argmax |α| (lowest index on ties)
//! stop when α⁰_j² < f32::MIN_POSITIVE, α_j² <= NOISE² ‖x‖², j already chosen, or the pivot
//!   g_jj − ‖w‖² <= PIVOT_EPS g_jj, with w = L⁻¹ G_{I,j}   (L: Cholesky factor of G_II)
//! L⁻¹ gains the row [−wᵀL⁻¹, 1] / √pivot;  c = L⁻ᵀ L⁻¹ α⁰_I;  α = α⁰ − G_I c
//! with `tol`: stop after the step when ‖x‖² − cᵀ α⁰_I <= tol
//! ```

use rayon::prelude::*;

use super::thresholds::{NOISE, PIVOT_EPS};
use crate::fused::host::math::{madd, vectorized};

/// The codes `[batch, n]` (row-major) from the Gram matrix `[n, n]`, the correlations
/// `[batch, n]` and the squared signal norms `[batch]`; `cap` atoms at most.
pub(super) fn codes(
    gram: &[f32],
    alpha0: &[f32],
    norms2: &[f32],
    n: usize,
    cap: usize,
    tol: Option<f64>,
) -> Vec<f32> {
    let mut out = vec![0f32; alpha0.len()];
    out.par_chunks_mut(n)
        .zip(alpha0.par_chunks(n))
        .zip(norms2.par_iter())
        .for_each(|((codes, a0), &norm2)| {
            signal(gram, a0, f64::from(norm2), cap, tol, codes);
        });
    out
}

/// One signal's codes into `codes` (zeros on entry).
fn signal(gram: &[f32], a0: &[f32], norm2: f64, cap: usize, tol: Option<f64>, codes: &mut [f32]) {
    let n = a0.len();
    let mut alpha = a0.to_vec();
    let mut support: Vec<usize> = Vec::with_capacity(cap.min(n));
    let mut a0s: Vec<f64> = Vec::with_capacity(cap.min(n));
    // L⁻¹, lower triangular, rows packed: row r at r(r + 1)/2.
    let mut linv: Vec<f64> = Vec::new();
    let mut coef: Vec<f64> = Vec::new();
    let mut w: Vec<f64> = Vec::new();
    let at = |r: usize, c: usize| r * (r + 1) / 2 + c;
    for t in 0..cap {
        let j = argmax_abs(&alpha);
        let g_j = &gram[j * n..(j + 1) * n];
        let g_jj = f64::from(g_j[j]);
        let a0_j = f64::from(a0[j]);
        let alpha_j = f64::from(alpha[j]);
        if a0_j * a0_j < f64::from(f32::MIN_POSITIVE)
            || alpha_j * alpha_j <= norm2 * NOISE * NOISE
            || support.contains(&j)
        {
            break;
        }
        // w = L⁻¹ G_{I,j}.
        w.clear();
        for r in 0..t {
            let row = &linv[at(r, 0)..=at(r, r)];
            w.push(
                row.iter()
                    .zip(&support)
                    .map(|(l, &s)| l * f64::from(g_j[s]))
                    .sum(),
            );
        }
        let pivot = g_jj - w.iter().map(|v| v * v).sum::<f64>();
        if pivot <= g_jj * PIVOT_EPS {
            break;
        }
        let inv_d = 1.0 / pivot.max(f64::from(f32::MIN_POSITIVE)).sqrt();
        // The new row of L⁻¹: −(wᵀ L⁻¹) / √pivot, then 1 / √pivot.
        for c in 0..t {
            let s: f64 = (c..t).map(|r| w[r] * linv[at(r, c)]).sum();
            linv.push(-s * inv_d);
        }
        linv.push(inv_d);
        support.push(j);
        a0s.push(a0_j);
        // c = L⁻ᵀ (L⁻¹ α⁰_I).
        let m = t + 1;
        let y: Vec<f64> = (0..m)
            .map(|r| (0..=r).map(|c| linv[at(r, c)] * a0s[c]).sum())
            .collect();
        coef = (0..m)
            .map(|c| (c..m).map(|r| linv[at(r, c)] * y[r]).sum())
            .collect();
        // α = α⁰ − G_I c, one vectorised axpy per chosen atom.
        alpha.copy_from_slice(a0);
        for (&s, &c) in support.iter().zip(&coef) {
            axpy(&mut alpha, -(c as f32), &gram[s * n..(s + 1) * n]);
        }
        if let Some(tol) = tol {
            let err = norm2 - coef.iter().zip(&a0s).map(|(c, a)| c * a).sum::<f64>();
            if err <= tol {
                break;
            }
        }
    }
    for (&s, &c) in support.iter().zip(&coef) {
        codes[s] += c as f32;
    }
}

/// The index of the largest `|v|`, the lowest one on ties (0 for an all-NaN `v`).
fn argmax_abs(v: &[f32]) -> usize {
    let mut best = (0, f32::NEG_INFINITY);
    for (i, &x) in v.iter().enumerate() {
        let a = x.abs();
        if a > best.1 {
            best = (i, a);
        }
    }
    best.0
}

/// `y += a x`, compiled for AVX2 + FMA where the CPU has them.
fn axpy(y: &mut [f32], a: f32, x: &[f32]) {
    vectorized(
        #[inline(always)]
        move || {
            for (y, &x) in y.iter_mut().zip(x) {
                *y = madd(a, x, *y);
            }
        },
    )
}
