//! Test-split metrics, computed as in the reference recipe.

use burn::prelude::*;
use burn::tensor::TensorData;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::idx::{Mnist, Split};
use crate::model::Sae;

/// The `"test"` object of `metrics.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestMetrics {
    /// Mean squared error per pixel.
    pub mse: f64,
    /// `1 − Σ(x − x̂)² / Σ(x − x̄)²`, x̄ the per-pixel mean of the test images.
    pub explained_variance: f64,
    /// Mean number of active (nonzero) latents per test image.
    pub l0: f64,
    /// Fraction of latents never active on the whole training split.
    pub dead_fraction: f64,
    /// Shrinkage `Σ‖x̂ − b_d‖² / Σ⟨x̂ − b_d, x − b_d⟩`: below 1 when the codes are too small
    /// (feature suppression), about 1 without.
    pub gamma: f64,
    /// Hoyer sparsity of the test codes, averaged over images, in `[0, 1]`.
    pub hoyer: f64,
}

/// Images per evaluation batch.
const CHUNK: usize = 1000;

fn chunks<'a>(split: &'a Split, device: &Device) -> impl Iterator<Item = Tensor<2>> + 'a {
    let d = split.dim();
    let device = device.clone();
    split.images.chunks(CHUNK * d).map(move |c| {
        Tensor::<2>::from_data(TensorData::new(c.to_vec(), [c.len() / d, d]), &device)
    })
}

fn scalar(t: Tensor<1>) -> f64 {
    t.into_scalar::<f32>() as f64
}

/// Evaluates `model` (on a device without autodiff) on the test split; `dead_fraction` on the
/// training split.
pub fn evaluate(model: &Sae, data: &Mnist) -> Result<TestMetrics, AppError> {
    let device = model.b_dec.val().device();
    let test = &data.test;
    let d = test.dim();
    let b_dec = model.b_dec.val().unsqueeze::<2>();
    let (mut sse, mut l0, mut gamma_num, mut gamma_den, mut hoyer) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for x in chunks(test, &device) {
        let rows = x.dims()[0] as f64;
        let f = model.encode(x.clone());
        let x_hat = model.decode(f.clone());
        sse += scalar((x_hat.clone() - x.clone()).square().sum());
        l0 += scalar(f.clone().not_equal_elem(0.0).float().sum());
        let centred_hat = x_hat - b_dec.clone();
        gamma_num += scalar(centred_hat.clone().square().sum());
        gamma_den += scalar((centred_hat * (x - b_dec.clone())).sum());
        hoyer += scalar(sparse_losses::metrics::hoyer_sparsity(f)?) * rows;
    }
    // Σ(x − x̄)² per pixel on the host, in f64.
    let mean = test.mean_image();
    let total_var: f64 = test
        .images
        .chunks_exact(d)
        .map(|img| {
            img.iter()
                .zip(&mean)
                .map(|(&p, &m)| (p as f64 - m as f64).powi(2))
                .sum::<f64>()
        })
        .sum();
    // Dead latents: never active on the training split.
    let mut active: Option<Tensor<1>> = None;
    for x in chunks(&data.train, &device) {
        let counts = model
            .encode(x)
            .not_equal_elem(0.0)
            .float()
            .sum_dim(0)
            .squeeze_dim::<1>(0);
        active = Some(match active {
            Some(a) => a + counts,
            None => counts,
        });
    }
    let dead = active
        .expect("the training split is never empty")
        .equal_elem(0.0)
        .float()
        .mean();
    let n = test.n as f64;
    Ok(TestMetrics {
        mse: sse / (n * d as f64),
        explained_variance: 1.0 - sse / total_var,
        l0: l0 / n,
        dead_fraction: scalar(dead),
        gamma: gamma_num / gamma_den,
        hoyer: hoyer / n,
    })
}
