//! Dictionary learning around OMP: unit-norm atoms and one learning step (the loss it
//! minimises is `reconstruction.rs`'s).

use burn::tensor::Tensor;

use super::omp::Omp;
use crate::Result;

/// The serde name of the family (errors of [`dictionary_step`] are reported as OMP's).
const NAME: &str = "omp";

/// Scales every atom (column) of `dictionary` (`[n_features, n_atoms]`) to unit L2 norm; an
/// all-zero atom stays zero. No gradient flows through the scaling.
pub fn normalize_atoms(dictionary: Tensor<2>) -> Tensor<2> {
    let d = dictionary.detach();
    let norms = d.clone().square().sum_dim(0).sqrt();
    let zero = norms.clone().equal_elem(0.0);
    d / norms.mask_fill(zero, 1.0)
}

/// One step of OMP dictionary learning on a batch: OMP codes `C` for `signals` with the
/// current atoms, a gradient step on the OMP loss `L = mean over rows of ‖x − D c‖²`
/// (`∂L/∂D = −(2/batch) (X − C Dᵀ)ᵀ C`, codes held constant), then the atoms renormalised to
/// unit norm. Returns the new dictionary and the batch's loss before the step (`[1]`).
///
/// Alternating the two steps over minibatches is the method of optimal directions'
/// stochastic cousin (as in K-SVD's sparse-coding stage, with a gradient dictionary update).
/// Plain tensor ops: no autodiff device needed. To use another optimiser, take
/// [`Omp::loss`]'s gradient on an autodiff device and call [`normalize_atoms`] after each step.
///
/// ```
/// use burn::prelude::*;
/// use sparse_losses::{dictionary_step, normalize_atoms, OmpConfig};
///
/// let dev = Device::flex();
/// let omp = OmpConfig::new().with_n_nonzero(Some(2)).init().unwrap();
/// let x = Tensor::<2>::random([64, 8], burn::tensor::Distribution::Normal(0.0, 1.0), &dev);
/// let mut d = normalize_atoms(Tensor::random([8, 16], burn::tensor::Distribution::Normal(0.0, 1.0), &dev));
/// let mut first = None;
/// for _ in 0..50 {
///     let (next, loss) = dictionary_step(&omp, d, x.clone(), 0.05).unwrap();
///     first.get_or_insert(loss.clone().into_scalar::<f32>());
///     d = next;
/// }
/// let (_, last) = dictionary_step(&omp, d, x, 0.05).unwrap();
/// assert!(last.into_scalar::<f32>() < first.unwrap());
/// ```
///
/// # Errors
/// Those of [`Omp::codes`];
/// [`Error::InvalidHyperParameter`](crate::Error::InvalidHyperParameter) for a negative or
/// non-finite `lr`.
pub fn dictionary_step(
    omp: &Omp,
    dictionary: Tensor<2>,
    signals: Tensor<2>,
    lr: f64,
) -> Result<(Tensor<2>, Tensor<1>)> {
    crate::util::non_negative(NAME, "lr", lr)?;
    let d = dictionary.detach();
    let x = signals.detach();
    let codes = omp.codes(d.clone(), x.clone())?;
    let batch = x.dims()[0] as f64;
    let residual = x - codes.clone().matmul(d.clone().transpose()); // [B, F]
    let loss = residual.clone().square().sum().div_scalar(batch);
    let grad = residual.transpose().matmul(codes).mul_scalar(-2.0 / batch); // [F, N]
    Ok((normalize_atoms(d - grad.mul_scalar(lr)), loss))
}
