//! [`fit_online`]: an SAE trained straight from a model's activations, batch after batch,
//! without writing them to disk (as sparsify does), for when the disk is the bottleneck.

use burn::prelude::*;
use burn::tensor::TensorData;
use burn::train::TrainStep;

use super::TrainConfig;
use crate::data::ActivationBatch;
use crate::{Error, Result, Sae};

/// Trains `sae` (on an autodiff device) on the activations `point` computes for each item of
/// `inputs`: each item's activations (`[rows, d_in]`, on any device) are cut into batches of
/// `config.batch_size` rows in their order, and each batch takes one step (the same
/// `TrainStep` and `optimize` as [`fit`](super::fit): Adam, the schedules, the decoder's
/// norm). One pass over `inputs`; give shuffled inputs, and call it again (with the returned
/// model) for more passes. No checkpoints and no burn-train metrics: `after_step(step, rows
/// so far)` reports progress. The Adam state lives for this call.
///
/// ```
/// use burn::prelude::*;
/// use burn::tensor::TensorData;
/// use sparse_autoencoders::prelude::*;
///
/// let device = Device::flex().autodiff();
/// let data = Planted::new(8, 12, 512, 0.2, 0);
/// let sae = SaeConfig::new(8, 16)
///     .with_architecture(Architecture::TopK(arch::TopKConfig { k: 2 }))
///     .init_with_data(&data.rows, &device)?;
/// // The "model" hands out 64 rows of the planted data per input.
/// let inputs = data.rows.chunks(64 * 8).map(|c| c.to_vec());
/// let host = Device::flex();
/// let point = |rows: Vec<f32>| Tensor::<2>::from_data(TensorData::new(rows, [64, 8]), &host);
/// let config = TrainConfig::new().with_batch_size(32);
/// let trained = fit_online(sae, inputs, point, &config, |_, _| {})?;
/// assert_eq!(trained.step, 16);
/// # Ok::<(), sparse_autoencoders::Error>(())
/// ```
///
/// # Errors
/// An invalid config, a model on a device without autodiff, activations of another width
/// than the model's, non-finite activations.
pub fn fit_online<I>(
    sae: Sae,
    inputs: impl IntoIterator<Item = I>,
    mut point: impl FnMut(I) -> Tensor<2>,
    config: &TrainConfig,
    mut after_step: impl FnMut(usize, usize),
) -> Result<Sae> {
    config.validate()?;
    super::fit::check_trainable(&sae)?;
    let device = sae.w_enc.val().device();
    if !device.is_autodiff() {
        return Err(Error::NoAutodiff);
    }
    let d = sae.d_in();
    let mut optim = config.optimizer();
    let mut model = sae;
    let (mut steps, mut rows_seen) = (0usize, 0usize);
    for input in inputs {
        let acts = point(input);
        let [_, width] = acts.dims();
        if width != d {
            return Err(Error::Shape(format!(
                "the activations have {width} values a row, the SAE's d_in is {d}"
            )));
        }
        let values = acts
            .try_into_vec_as::<f32>()
            .map_err(|e| Error::Training(format!("{e:?}")))?;
        crate::check_training_rows("activations", &values, d)?;
        for chunk in values.chunks(config.batch_size * d) {
            let rows = chunk.len() / d;
            let x = Tensor::<2>::from_data(TensorData::new(chunk.to_vec(), [rows, d]), &device);
            let out = TrainStep::step(&model, ActivationBatch { x });
            model = model.optimize(&mut optim, config.learning_rate.into(), out.grads);
            steps += 1;
            rows_seen += rows;
            after_step(steps, rows_seen);
        }
    }
    Ok(model)
}
