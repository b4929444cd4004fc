//! [`spliced_losses`]: what an SAE costs any model, through the model's own loss: for a model
//! whose output is not a classification (a regression, a language model's next-token loss
//! computed your way), the loss clean, with the SAE's reconstruction spliced in, with the point
//! zeroed and with it replaced by a mean.

use burn::prelude::*;
use burn::tensor::TensorData;

use super::loss_recovered;
use crate::{Error, Result, Sae};

/// The mean losses of [`spliced_losses`] and the loss recovered against each ablation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SplicedLosses {
    /// The model's loss on its own activations.
    pub clean: f64,
    /// With the SAE's reconstruction in their place.
    pub spliced: f64,
    /// With the activations zeroed.
    pub zeroed: f64,
    /// With every row replaced by the mean given.
    pub mean_ablated: f64,
    /// (zeroed − spliced) / (zeroed − clean).
    pub loss_recovered_zero: f64,
    /// (mean_ablated − spliced) / (mean_ablated − clean).
    pub loss_recovered_mean: f64,
    /// Rows seen.
    pub rows: usize,
}

/// Runs every item of `inputs` through `point` (the model up to the SAE's point: activations
/// `[rows, d_in]`) and `rest` (from activations and the item to the item's mean loss), four
/// times: with the activations, with `sae`'s reconstruction of them, zeroed, and with every row
/// replaced by `mean` (e.g. the activations' mean over training rows); the losses are averaged
/// over rows. `sae` runs on the activations' device (use an inference model: `sae.valid()`).
///
/// ```
/// use burn::prelude::*;
/// use burn::tensor::TensorData;
/// use sparse_autoencoders::prelude::*;
/// use sparse_autoencoders::splice::spliced_losses;
///
/// let device = Device::flex();
/// let sae = SaeConfig::new(2, 4)
///     .with_architecture(Architecture::TopK(arch::TopKConfig { k: 2 }))
///     .init(&device)?;
/// // A "model" whose point is its input and whose loss is the mean squared activation.
/// let inputs = vec![Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0], [2, 2]), &device)];
/// let mse = |a: Tensor<2>, _: &Tensor<2>| f64::from(a.powf_scalar(2.0).mean().into_scalar::<f32>());
/// let l = spliced_losses(inputs, |x| x.clone(), mse, &sae, &[0.0, 0.0])?;
/// assert_eq!((l.clean, l.zeroed, l.mean_ablated), (7.5, 0.0, 0.0));
/// # Ok::<(), sparse_autoencoders::Error>(())
/// ```
///
/// # Errors
/// [`Error::Shape`] when the activations' width is not the SAE's or `mean`'s.
pub fn spliced_losses<I>(
    inputs: impl IntoIterator<Item = I>,
    mut point: impl FnMut(&I) -> Tensor<2>,
    mut rest: impl FnMut(Tensor<2>, &I) -> f64,
    sae: &Sae,
    mean: &[f32],
) -> Result<SplicedLosses> {
    let d = sae.d_in();
    if mean.len() != d {
        return Err(Error::Shape(format!(
            "the mean has {} values, the SAE's d_in is {d}",
            mean.len()
        )));
    }
    let (mut clean, mut spliced, mut zeroed, mut mean_ablated, mut rows) = (0.0, 0.0, 0.0, 0.0, 0);
    for item in inputs {
        let a = point(&item);
        let [n, width] = a.dims();
        if width != d {
            return Err(Error::Shape(format!(
                "the activations have {width} values a row, the SAE's d_in is {d}"
            )));
        }
        let device = a.device();
        let w = n as f64;
        let recon = sae.forward(a.clone());
        let means: Vec<f32> = (0..n).flat_map(|_| mean.iter().copied()).collect();
        let m = Tensor::<2>::from_data(TensorData::new(means, [n, d]), &device);
        clean += w * rest(a.clone(), &item);
        spliced += w * rest(recon, &item);
        zeroed += w * rest(a.zeros_like(), &item);
        mean_ablated += w * rest(m, &item);
        rows += n;
    }
    let r = rows.max(1) as f64;
    let (clean, spliced, zeroed, mean_ablated) =
        (clean / r, spliced / r, zeroed / r, mean_ablated / r);
    Ok(SplicedLosses {
        clean,
        spliced,
        zeroed,
        mean_ablated,
        loss_recovered_zero: loss_recovered(zeroed, spliced, clean),
        loss_recovered_mean: loss_recovered(mean_ablated, spliced, clean),
        rows,
    })
}
