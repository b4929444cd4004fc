//! Pruning Burn tensors on any device: the weight (and the calibration inputs) are read to the
//! host, pruned there, and the mask and pruned weight put back on the weight's device.

use burn::prelude::*;
use burn::tensor::TensorData;

use super::sparsegpt_tensor::sparsegpt_tensor;
use super::{magnitude, wanda, PrunePattern, SparseGptConfig};
use crate::{Error, Result};

/// A pruning method and its settings.
#[derive(Debug, Clone, PartialEq)]
pub enum PruneMethod {
    /// [`magnitude`](super::magnitude).
    Magnitude,
    /// [`wanda`](super::wanda) (needs calibration inputs).
    Wanda,
    /// [`sparsegpt`](super::sparsegpt) (needs calibration inputs).
    SparseGpt(SparseGptConfig),
}

impl PruneMethod {
    /// The method's name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Magnitude => "magnitude",
            Self::Wanda => "wanda",
            Self::SparseGpt(_) => "sparsegpt",
        }
    }
}

fn host(t: Tensor<2>) -> Vec<f32> {
    t.try_into_vec_as::<f32>()
        .expect("a float tensor converts to f32")
}

/// Prunes `w` (`[out, in]`, on any device) with `method` for `pattern`, given calibration
/// inputs `x` (`[n, in]`) for Wanda and SparseGPT; returns the mask and the pruned weight on
/// `w`'s device. Magnitude and Wanda select on the host; SparseGPT runs in `f32` on the device,
/// its `O(in³)` and `O(out·in²)` parts as matrix products (the host function
/// [`sparsegpt`](super::sparsegpt) is the `f64` one).
///
/// ```
/// use burn::prelude::*;
/// use sparse_losses::prune::{prune_tensor, PruneMethod, PrunePattern};
///
/// let device = Device::flex();
/// let w = Tensor::<2>::from_floats([[0.5, -2.0, 0.1, 3.0]], &device);
/// let pattern = PrunePattern::Unstructured { sparsity: 0.5 };
/// let (mask, pruned) = prune_tensor(w, None, &PruneMethod::Magnitude, pattern)?;
/// assert_eq!(mask.try_into_vec_as::<f32>().unwrap(), [0.0, 1.0, 0.0, 1.0]);
/// assert_eq!(pruned.try_into_vec_as::<f32>().unwrap(), [0.0, -2.0, 0.0, 3.0]);
/// # Ok::<(), sparse_losses::Error>(())
/// ```
///
/// # Errors
/// [`Error::MissingHyperParameter`] (`calibration`) for Wanda or SparseGPT without `x`; those
/// of the method.
pub fn prune_tensor(
    w: Tensor<2>,
    x: Option<Tensor<2>>,
    method: &PruneMethod,
    pattern: PrunePattern,
) -> Result<(Tensor<2>, Tensor<2>)> {
    if let PruneMethod::SparseGpt(c) = method {
        // In f32 on the weight's device, the heavy parts as matrix products.
        let x = x.ok_or(Error::MissingHyperParameter {
            item: method.name(),
            field: "calibration",
        })?;
        return sparsegpt_tensor(w, x, pattern, c);
    }
    let device = w.device();
    let shape = w.dims();
    let values = host(w);
    let calibration = || {
        x.clone().map(host).ok_or(Error::MissingHyperParameter {
            item: method.name(),
            field: "calibration",
        })
    };
    let p = match method {
        PruneMethod::Magnitude => magnitude(&values, shape, pattern)?,
        PruneMethod::Wanda => wanda(&values, shape, &calibration()?, pattern)?,
        PruneMethod::SparseGpt(_) => unreachable!("handled above"),
    };
    let put = |v: Vec<f32>| Tensor::<2>::from_data(TensorData::new(v, shape), &device);
    Ok((put(p.mask), put(p.weight)))
}
