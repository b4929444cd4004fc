//! What `sae-mnist model` measures: the SAE's reconstruction of the layer, the classifier with
//! the reconstruction spliced in (and with the layer zeroed or replaced by its train mean),
//! and sparse probes of the latents and of the layer's own units.

use burn::prelude::*;
use burn::tensor::TensorData;
use serde::Serialize;
use sparse_autoencoders::data::RowStore;
use sparse_autoencoders::probe::sparse_probe;
use sparse_autoencoders::splice::SpliceMetrics;
use sparse_autoencoders::{evaluate_source, RowSource, Sae};

use super::classifier::{Classifier, Layer};
use crate::error::AppError;

/// `metrics.json` of a model run: the keys of `torch_model_sae.py`.
#[derive(Debug, Clone, Serialize)]
pub struct ModelMetrics {
    /// The layer.
    pub layer: &'static str,
    /// The layer's width.
    pub d_in: usize,
    /// Latents.
    pub d_sae: usize,
    /// Test accuracy of the classifier.
    pub acc_clean: f64,
    /// Test accuracy with the reconstruction spliced in.
    pub acc_spliced: f64,
    /// Test cross-entropy of the classifier.
    pub ce_clean: f64,
    /// With the reconstruction spliced in.
    pub ce_spliced: f64,
    /// With the layer zeroed.
    pub ce_zero: f64,
    /// With the layer replaced by its train mean.
    pub ce_mean: f64,
    /// Mean KL(p_clean ‖ p_spliced) over the test images.
    pub kl_spliced: f64,
    /// (ce_zero − ce_spliced) / (ce_zero − ce_clean).
    pub loss_recovered_zero: f64,
    /// (ce_mean − ce_spliced) / (ce_mean − ce_clean).
    pub loss_recovered_mean: f64,
    /// 1 − Σ|a − â|² / Σ|a − mean_test(a)|² on the test images.
    pub explained_variance: f64,
    /// Mean active latents per test row.
    pub l0: f64,
    /// Latents never active on the train rows.
    pub dead_fraction: f64,
    /// Sparse probe of the latents, K = 1 (mean balanced accuracy over the classes).
    pub sae_probe_k1: Option<f64>,
    /// K = 5.
    pub sae_probe_k5: Option<f64>,
    /// The same on the layer's units, K = 1.
    pub neuron_probe_k1: Option<f64>,
    /// K = 5.
    pub neuron_probe_k5: Option<f64>,
}

fn host(t: Tensor<2>) -> Result<Vec<f32>, AppError> {
    t.try_into_vec_as::<f32>()
        .map_err(|e| AppError::Backend(format!("{e:?}")))
}

/// Applies `f` to `rows` (`[n, d]`) in batches of 1,000 and gathers the results.
pub(crate) fn batched(
    rows: &[f32],
    d: usize,
    device: &Device,
    f: impl Fn(Tensor<2>) -> Tensor<2>,
) -> Result<Vec<f32>, AppError> {
    let mut out = Vec::new();
    for chunk in rows.chunks(1000 * d) {
        let x = Tensor::<2>::from_data(
            TensorData::new(chunk.to_vec(), [chunk.len() / d, d]),
            device,
        );
        out.extend(host(f(x))?);
    }
    Ok(out)
}

/// The per-column mean of the rows of `store`, read one chunk at a time.
pub(crate) fn column_mean(store: &RowStore) -> Result<Vec<f32>, AppError> {
    let d = store.dim();
    let mut sum = vec![0f64; d];
    store.for_each_chunk::<AppError>(|rows| {
        for row in rows.chunks_exact(d) {
            for (s, v) in sum.iter_mut().zip(row) {
                *s += f64::from(*v);
            }
        }
        Ok(())
    })?;
    let n = store.len().max(1) as f64;
    Ok(sum.into_iter().map(|s| (s / n) as f32).collect())
}

/// Everything the model run reports, on inference (non-autodiff) models and device.
#[allow(clippy::too_many_arguments)]
pub fn measure(
    classifier: &Classifier,
    sae: &Sae,
    layer: Layer,
    train: &RowStore,
    test: &RowStore,
    train_labels: &[u8],
    test_labels: &[u8],
    probe: bool,
    device: &Device,
) -> Result<ModelMetrics, AppError> {
    let d = test.dim();
    let lib = |e: sparse_autoencoders::Error| AppError::Setting(e.to_string());
    let on_test =
        evaluate_source(sae, &RowSource::Disk(test.clone()), 1000, device).map_err(lib)?;
    let on_train =
        evaluate_source(sae, &RowSource::Disk(train.clone()), 1000, device).map_err(lib)?;
    // The test rows and the logits of each variant (a few MB for MNIST's test split).
    let a_test = test.read_all()?;
    let n = a_test.len() / d;
    let logits = |act: &[f32]| batched(act, d, device, |x| classifier.logits_from(layer, x));
    let clean = logits(&a_test)?;
    let recon = batched(&a_test, d, device, |x| sae.decode(sae.encode(x)))?;
    let spliced = logits(&recon)?;
    let zeroed = logits(&vec![0.0; a_test.len()])?;
    let mean = column_mean(train)?;
    let mean_rows: Vec<f32> = (0..n).flat_map(|_| mean.iter().copied()).collect();
    let mean_ablated = logits(&mean_rows)?;
    let labels: Vec<usize> = test_labels[..n].iter().map(|&l| usize::from(l)).collect();
    let classes = clean.len() / n.max(1);
    let s = SpliceMetrics::from_logits(&clean, &spliced, &zeroed, &mean_ablated, classes, &labels)
        .map_err(AppError::Setting)?;
    let mut m = ModelMetrics {
        layer: layer.name(),
        d_in: d,
        d_sae: sae.d_sae(),
        acc_clean: s.acc_clean,
        acc_spliced: s.acc_spliced,
        ce_clean: s.ce_clean,
        ce_spliced: s.ce_spliced,
        ce_zero: s.ce_zero,
        ce_mean: s.ce_mean,
        kl_spliced: s.kl_spliced,
        loss_recovered_zero: s.loss_recovered_zero,
        loss_recovered_mean: s.loss_recovered_mean,
        explained_variance: on_test.explained_variance,
        l0: on_test.l0,
        dead_fraction: on_train.dead_fraction,
        sae_probe_k1: None,
        sae_probe_k5: None,
        neuron_probe_k1: None,
        neuron_probe_k5: None,
    };
    if probe {
        let a_train = train.read_all()?;
        let n_train = a_train.len() / d;
        let codes_train = batched(&a_train, d, device, |x| sae.encode(x))?;
        let codes_test = batched(&a_test, d, device, |x| sae.encode(x))?;
        let h = sae.d_sae();
        let ytr: Vec<usize> = train_labels[..n_train]
            .iter()
            .map(|&l| usize::from(l))
            .collect();
        let probe_of = |tr: &[f32], te: &[f32], width: usize, k: usize| {
            sparse_probe(tr, n_train, width, &ytr, te, n, &labels, classes, k)
        };
        m.sae_probe_k1 = Some(probe_of(&codes_train, &codes_test, h, 1));
        m.sae_probe_k5 = Some(probe_of(&codes_train, &codes_test, h, 5));
        m.neuron_probe_k1 = Some(probe_of(&a_train, &a_test, d, 1));
        m.neuron_probe_k5 = Some(probe_of(&a_train, &a_test, d, 5));
    }
    Ok(m)
}

/// The terminal table of a model run.
pub fn table(m: &ModelMetrics) -> String {
    let opt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3}"));
    format!(
        "| layer | EV | L0 | dead | acc clean / spliced | CE clean / spliced / zero / mean | KL | \
         loss recovered (zero / mean) | probe K=1 / 5 | neurons K=1 / 5 |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n\
         | {} | {:.3} | {:.1} | {:.2} | {:.3} / {:.3} | {:.3} / {:.3} / {:.3} / {:.3} | {:.4} | \
         {:.3} / {:.3} | {} / {} | {} / {} |",
        m.layer,
        m.explained_variance,
        m.l0,
        m.dead_fraction,
        m.acc_clean,
        m.acc_spliced,
        m.ce_clean,
        m.ce_spliced,
        m.ce_zero,
        m.ce_mean,
        m.kl_spliced,
        m.loss_recovered_zero,
        m.loss_recovered_mean,
        opt(m.sae_probe_k1),
        opt(m.sae_probe_k5),
        opt(m.neuron_probe_k1),
        opt(m.neuron_probe_k5)
    )
}
