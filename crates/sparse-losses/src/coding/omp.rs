//! Orthogonal matching pursuit (OMP), batched, as tensor ops on any backend.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::kind::Basic;
use burn::tensor::{Device, IndexingUpdateOp, Int, Tensor, TensorData};

use super::reconstruction::reconstruction_loss;
use super::thresholds::{NOISE, PIVOT_EPS};
use crate::util::check_nonempty;
use crate::{Error, Result};

/// The serde name of this family.
const NAME: &str = "omp";

/// Largest preallocated Gram-row buffer, in elements (256 MiB of float32).
const ROWS_BUFFER_LIMIT: usize = 64 << 20;

/// Configuration of [`Omp`]. Serde names: `n_nonzero`, `tol`.
#[derive(Config, Debug)]
pub struct OmpConfig {
    /// The most nonzeros per code, `k`, in `1..=n_atoms`. `None` (default) means
    /// `max(1, ⌊0.1·n_atoms⌋)`. Ignored when `tol` is set.
    pub n_nonzero: Option<usize>,
    /// Stop a signal as soon as its squared residual norm `‖x − D c‖²` is `<= tol` (checked
    /// after each atom, as scikit-learn does); overrides `n_nonzero` (the cap becomes
    /// `n_atoms`). Finite and `>= 0`. Default `None`.
    pub tol: Option<f64>,
}

impl OmpConfig {
    /// Reads a JSON object that gives only the fields that differ from the defaults
    /// (`{"n_nonzero": 8}`); unknown fields are an error.
    ///
    /// # Errors
    /// [`Error::UnknownField`] or [`Error::InvalidConfig`].
    pub fn from_json(fields: &serde_json::Value) -> Result<Self> {
        crate::merge_json(NAME, &Self::new(), fields)
    }

    /// Validates the config and builds the solver.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`] for `n_nonzero = 0` or a negative, NaN or
    /// infinite `tol`. (`n_nonzero > n_atoms` is reported by [`Omp::codes`], which knows the
    /// dictionary.)
    pub fn init(&self) -> Result<Omp> {
        if self.n_nonzero == Some(0) {
            return Err(Error::InvalidHyperParameter {
                item: NAME,
                field: "n_nonzero",
                value: 0.0,
                expected: "an integer >= 1",
            });
        }
        if let Some(tol) = self.tol {
            crate::util::non_negative(NAME, "tol", tol)?;
        }
        Ok(Omp {
            n_nonzero: self.n_nonzero.map_or(0, |k| k as u64),
            tol: self.tol.unwrap_or(-1.0),
        })
    }
}

/// Batched orthogonal matching pursuit: sparse codes `C` (`[batch, n_atoms]`, at most `k`
/// nonzeros per row) of signals `X` (`[batch, n_features]`) over a dictionary `D`
/// (`[n_features, n_atoms]`, atoms as columns), equal to scikit-learn's
/// `orthogonal_mp(D, X.T, n_nonzero_coefs=k, tol=tol).T`.
///
/// Each step picks, for every signal, the atom with the largest `|Dᵀr|` (ties: the lowest
/// index), then refits the codes on the chosen support by least squares. It stops, per signal,
/// after `k` atoms; or, with `tol`, once `‖r‖² <= tol`; or early when the next atom is already
/// chosen, when its correlation with `x` is zero (a zero signal gets a zero code), when the
/// residual correlation is at float32 rounding level (`|α_j| <= 16ε‖x‖`: the signal is
/// already fitted exactly), or when it is linearly dependent on the chosen ones (Cholesky
/// pivot `<= 8ε‖d_j‖²`; SPEC says `<= ε`, which float32 rounding cannot resolve).
///
/// The Batch-OMP scheme (Rubinstein, Zibulevsky and Elad, 2008): `G = DᵀD` and `DᵀX` are
/// computed once; correlations are updated as `α = Dᵀx − G_I c_I` without forming residuals;
/// the chosen atoms' Gram block is factored progressively (its Cholesky factor's inverse is
/// kept, so each step is a few batched matrix products). Everything is tensor ops on the
/// inputs' device, one host read per step (to stop when every signal has stopped).
///
/// **The atoms are not normalised for you**: OMP assumes unit-norm columns (as
/// scikit-learn does); with other norms the greedy choice favours long atoms.
///
/// Defaults: `k = max(1, ⌊0.1·n_atoms⌋)`, no `tol`. The codes carry no gradient; use
/// [`Omp::loss`] for dictionary learning.
///
/// ```
/// use burn::prelude::*;
/// use sparse_losses::OmpConfig;
///
/// let dev = Device::flex();
/// // Two orthonormal atoms and a diagonal one (columns).
/// let s = std::f32::consts::FRAC_1_SQRT_2;
/// let d = Tensor::<2>::from_floats([[1.0, 0.0, s], [0.0, 1.0, s]], &dev);
/// let x = Tensor::<2>::from_floats([[3.0, 0.1]], &dev);
/// let omp = OmpConfig::new().with_n_nonzero(Some(1)).init().unwrap();
/// let c: Vec<f32> = omp.codes(d, x).unwrap().try_into_vec_as().unwrap();
/// assert_eq!(c, vec![3.0, 0.0, 0.0]);
/// ```
#[derive(Module, Debug)]
pub struct Omp {
    /// `k`, or 0 for the default.
    n_nonzero: u64,
    /// `tol`, or a negative number for none.
    tol: f64,
}

impl Omp {
    /// `k` for a dictionary of `n_atoms` atoms: the configured one, or the default.
    pub fn k_for(&self, n_atoms: usize) -> usize {
        if self.n_nonzero == 0 {
            (n_atoms / 10).max(1)
        } else {
            self.n_nonzero as usize
        }
    }

    /// The tolerance, if any.
    pub fn tol(&self) -> Option<f64> {
        (self.tol >= 0.0).then_some(self.tol)
    }

    fn check(&self, dictionary: &Tensor<2>, signals: &Tensor<2>) -> Result<usize> {
        check_nonempty(dictionary, NAME)?;
        check_nonempty(signals, NAME)?;
        let [n_features, n_atoms] = dictionary.dims();
        if signals.dims()[1] != n_features {
            return Err(Error::ShapeMismatch {
                what: "signals [batch, n_features] and dictionary [n_features, n_atoms]",
                left: signals.dims().to_vec(),
                right: dictionary.dims().to_vec(),
            });
        }
        if self.tol().is_some() {
            return Ok(n_atoms);
        }
        let k = self.k_for(n_atoms);
        if k > n_atoms {
            return Err(Error::TooManyNonzeros { k, n_atoms });
        }
        Ok(k)
    }

    /// The codes `[batch, n_atoms]` (no gradient).
    ///
    /// # Errors
    /// [`Error::EmptyInput`] for an empty dictionary or batch,
    /// [`Error::ShapeMismatch`] when the signals' width is not `n_features`,
    /// [`Error::TooManyNonzeros`] when `k > n_atoms`.
    pub fn codes(&self, dictionary: Tensor<2>, signals: Tensor<2>) -> Result<Tensor<2>> {
        let cap = self.check(&dictionary, &signals)?;
        Ok(batch_omp(
            dictionary.detach(),
            signals.detach(),
            cap,
            self.tol(),
        ))
    }

    /// The OMP loss for dictionary learning: the mean over rows of `‖x − D c‖²`, with `c` the
    /// OMP codes held constant, so the gradient reaches `D` (and `X`) but not the selection.
    /// Returns shape `[1]`.
    ///
    /// # Errors
    /// Those of [`codes`](Self::codes).
    pub fn loss(&self, dictionary: Tensor<2>, signals: Tensor<2>) -> Result<Tensor<1>> {
        let codes = self.codes(dictionary.clone(), signals.clone())?;
        Ok(reconstruction_loss(dictionary, signals, codes))
    }
}

/// Batched OMP on detached inputs; `cap` atoms at most: signal by signal in plain Rust on the
/// CPU backends (unless the fused kernels are off), the batched op chain elsewhere.
fn batch_omp(d: Tensor<2>, x: Tensor<2>, cap: usize, tol: Option<f64>) -> Tensor<2> {
    #[cfg(feature = "flex")]
    let host = crate::fused::in_host_memory(&d.device()) && crate::fused::enabled();
    #[cfg(not(feature = "flex"))]
    let host = false;
    batch_omp_on(d, x, cap, tol, host)
}

/// [`batch_omp`], on the host (`omp_cpu`) or as the op chain.
fn batch_omp_on(d: Tensor<2>, x: Tensor<2>, cap: usize, tol: Option<f64>, host: bool) -> Tensor<2> {
    let device: Device = d.device();
    let [_, n] = d.dims();
    let b = x.dims()[0];
    let gram = d.clone().transpose().matmul(d.clone()); // [N, N]
    let alpha0 = x.clone().matmul(d); // [B, N]
    let norms2 = x.square().sum_dim(1); // [B, 1], for tol
    #[cfg(feature = "flex")]
    if host {
        // The greedy steps signal by signal in plain Rust (see `omp_cpu`).
        let host = |t: Tensor<2>| t.into_data().convert::<f32>().try_into_vec::<f32>();
        if let (Ok(g), Ok(a), Ok(nx)) = (
            host(gram.clone()),
            host(alpha0.clone()),
            host(norms2.clone()),
        ) {
            let codes = super::omp_cpu::codes(&g, &a, &nx, n, cap, tol);
            return Tensor::from_data(TensorData::new(codes, [b, n]), &device);
        }
    }
    let mut alpha = alpha0.clone();
    // 1 while a signal still grows.
    let mut active = Tensor::<2>::ones([b, 1], &device);
    // Per step t: chosen atom (Int [B, t]), α0 of it [B, t], its Gram row [B, t, N], the
    // inverse Cholesky factor of the chosen Gram block [B, t, t], the codes on the support.
    let mut support: Option<Tensor<2, Int>> = None;
    let mut a0_sel: Option<Tensor<2>> = None;
    // The chosen atoms' Gram rows: one preallocated [B, cap, N] buffer written in place row
    // by row (each step then reads a strided view of the first t rows, no copies), unless
    // that buffer would be large (a tol run caps at n_atoms), then grown by concatenation.
    let mut rows_buf =
        (b * cap * n <= ROWS_BUFFER_LIMIT).then(|| Tensor::<3>::zeros([b, cap, n], &device));
    let mut g_rows: Option<Tensor<3>> = None;
    let mut linv: Option<Tensor<3>> = None;
    let mut coef: Option<Tensor<2>> = None;
    for t in 0..cap {
        // Largest |α|, ties to the lowest index.
        let j = argmax_lowest(alpha.clone().abs()); // Int [B, 1]
        let g_j = gram.clone().select(0, j.clone().reshape([b])); // [B, N]
        let g_jj = g_j.clone().gather(1, j.clone()); // [B, 1]
        let a0_j = alpha0.clone().gather(1, j.clone()); // [B, 1]

        // Stop rules, evaluated before the atom joins: a zero correlation with x (a zero
        // signal), a residual at rounding-noise level, a reselected or dependent atom.
        let alpha_j = alpha.clone().gather(1, j.clone());
        let mut stop = a0_j
            .clone()
            .square()
            .lower_elem(f32::MIN_POSITIVE as f64)
            .bool_or(
                alpha_j
                    .square()
                    .lower_equal(norms2.clone().mul_scalar(NOISE * NOISE)),
            );
        let (w, pivot) = match (&support, &linv) {
            (Some(sup), Some(li)) => {
                let reselected = sup
                    .clone()
                    .equal(j.clone().expand([b, t]))
                    .int()
                    .sum_dim(1)
                    .greater_elem(0);
                stop = stop.bool_or(reselected);
                let g_i = g_j.clone().gather(1, sup.clone()); // [B, t]

                // Tiny per-signal products as broadcasts and sums: one batched gemm per
                // signal would cost more in call overhead than in arithmetic.
                let w = (li.clone() * g_i.unsqueeze_dim::<3>(1)).sum_dim(2); // [B, t, 1]
                let pivot = g_jj.clone() - w.clone().square().sum_dim(1).reshape([b, 1]);
                (Some(w), pivot)
            }
            _ => (None, g_jj.clone()),
        };
        stop = stop.bool_or(
            pivot
                .clone()
                .lower_equal(g_jj.clone().mul_scalar(PIVOT_EPS)),
        );
        active = active.mask_fill(stop, 0.0);
        if t > 0 && active.clone().sum().into_scalar::<f32>() == 0.0 {
            break;
        }
        // New row of L⁻¹: [−wᵀL⁻¹/d, 1/d], zero for signals that have stopped, so that their
        // codes stay as they are.
        let inv_d = pivot.clamp_min(f32::MIN_POSITIVE as f64).sqrt().recip() * active.clone(); // [B, 1]
        let new_linv = match (w, linv.take()) {
            (Some(w), Some(li)) => {
                let left = (li.clone() * w).sum_dim(1).neg() * inv_d.clone().unsqueeze_dim::<3>(2); // [B,1,t]
                let row = Tensor::cat(vec![left, inv_d.clone().unsqueeze_dim::<3>(2)], 2); // [B,1,t+1]
                let old = Tensor::cat(vec![li, Tensor::zeros([b, t, 1], &device)], 2); // [B,t,t+1]
                Tensor::cat(vec![old, row], 1)
            }
            _ => inv_d.clone().unsqueeze_dim::<3>(2), // [B, 1, 1]
        };
        let sup = append_col(support.take(), j);
        let a0s = append_col(a0_sel.take(), a0_j);
        let rows = match rows_buf.take() {
            Some(buf) => {
                let buf = buf.slice_assign([0..b, t..t + 1, 0..n], g_j.unsqueeze_dim::<3>(1));
                let view = buf.clone().slice([0..b, 0..t + 1, 0..n]);
                rows_buf = Some(buf);
                view
            }
            None => match g_rows.take() {
                Some(r) => Tensor::cat(vec![r, g_j.unsqueeze_dim::<3>(1)], 1),
                None => g_j.unsqueeze_dim::<3>(1),
            },
        };
        // c = L⁻ᵀ L⁻¹ α0_I.
        let y = (new_linv.clone() * a0s.clone().unsqueeze_dim::<3>(1)).sum_dim(2); // [B, t+1, 1]
        let c_row = (new_linv.clone() * y).sum_dim(1); // [B, 1, t+1]
        let c2 = c_row.clone().reshape([b, t + 1]);
        // β = G_I c_I, one small product per signal on the chosen Gram rows. (A dense
        // [B, N] × [N, N] product with the scattered codes measured 2× slower even at N = 256.)
        alpha = alpha0.clone() - c_row.matmul(rows.clone()).reshape([b, n]);
        if let Some(tol) = tol {
            // ‖r‖² = ‖x‖² − cᵀ α0_I at the least-squares fit.
            let err = norms2.clone() - (c2.clone() * a0s.clone()).sum_dim(1);
            active = active.mask_fill(err.lower_equal_elem(tol), 0.0);
        }
        support = Some(sup);
        a0_sel = Some(a0s);
        if rows_buf.is_none() {
            g_rows = Some(rows);
        }
        linv = Some(new_linv);
        coef = Some(c2);
    }
    let codes = Tensor::<2>::zeros([b, n], &device);
    match (support, coef) {
        // Add, not assign: a stopped signal may list an atom twice (with a zero code).
        (Some(sup), Some(c)) => codes.scatter(1, sup, c, IndexingUpdateOp::Add),
        _ => codes,
    }
}

/// The index of each row's largest entry, the lowest one on ties; `[rows, 1]`.
fn argmax_lowest(v: Tensor<2>) -> Tensor<2, Int> {
    let [rows, n] = v.dims();
    let max = v.clone().max_dim(1).expand([rows, n]);
    let index = Tensor::<1, Int>::arange(0..n as i64, &v.device())
        .float()
        .unsqueeze::<2>()
        .expand([rows, n]);
    index.mask_fill(v.lower(max), n as f64).min_dim(1).int()
}

/// `[a | b]` along the columns, or `b` when there is no `a` yet.
fn append_col<K: Basic>(a: Option<Tensor<2, K>>, b: Tensor<2, K>) -> Tensor<2, K> {
    match a {
        Some(a) => Tensor::cat(vec![a, b], 1),
        None => b,
    }
}

#[cfg(feature = "flex")]
#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Tensor, TensorData};

    /// The host path against the op chain, on a random dictionary with `k` and with `tol`.
    #[test]
    fn host_path_matches_the_op_chain() {
        let device = Device::flex();
        let (f, n, b) = (24, 60, 40);
        let mut s = 11u64;
        let mut draw = |len: usize| -> Vec<f32> {
            (0..len)
                .map(|_| {
                    s = s
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
                })
                .collect()
        };
        let d = Tensor::<2>::from_data(TensorData::new(draw(f * n), [f, n]), &device);
        let d = crate::normalize_atoms(d);
        let x = Tensor::<2>::from_data(TensorData::new(draw(b * f), [b, f]), &device);
        for (cap, tol) in [(6, None), (n, Some(0.5)), (f + 3, None)] {
            let host = super::batch_omp_on(d.clone(), x.clone(), cap, tol, true);
            let chain = super::batch_omp_on(d.clone(), x.clone(), cap, tol, false);
            let host: Vec<f32> = host.into_data().try_into_vec().unwrap();
            let chain: Vec<f32> = chain.into_data().try_into_vec().unwrap();
            let nonzero = host.iter().filter(|&&c| c != 0.0).count();
            assert!(nonzero >= b, "cap {cap}: {nonzero} nonzero codes");
            for (i, (h, c)) in host.iter().zip(&chain).enumerate() {
                assert_eq!(
                    *h == 0.0,
                    *c == 0.0,
                    "cap {cap}, code {i}: support {h} vs {c}"
                );
                assert!(
                    (h - c).abs() <= 1e-4 * c.abs().max(1.0),
                    "cap {cap}, code {i}: {h} vs {c}"
                );
            }
        }
    }
}
