//! The SAE metrics, as burn-train [`Metric`]s and as a plain [`evaluate`] over a data set.
//!
//! | metric | formula (over every row seen in the epoch) |
//! | --- | --- |
//! | explained variance | `1 − Σ(x − x̂)² / Σ(x − x̄)²`, x̄ the per-feature mean |
//! | MSE | `Σ(x − x̂)² / (rows · d_in)` |
//! | L0 | mean number of nonzero codes per row |
//! | dead fraction | fraction of latents never nonzero |
//! | shrinkage γ | `Σ‖x̂ − b_dec‖² / Σ⟨x̂ − b_dec, x − b_dec⟩` (1 = no shrinkage; L1 gives < 1) |
//! | Hoyer | mean over rows of `(√h − ‖f‖₁/‖f‖₂)/(√h − 1)` (1 = one active latent; rows of zeros count 1) |

use std::sync::Arc;

use burn::prelude::*;
use burn::tensor::TensorReadError;
use burn::train::metric::{
    Metric, MetricAttributes, MetricMetadata, MetricName, Numeric, NumericAttributes, NumericEntry,
    SerializedEntry,
};
use serde::{Deserialize, Serialize};

/// What the SAE metrics read from a step.
#[derive(Debug, Clone)]
pub struct SaeMetricInput {
    /// Inputs `[B, d_in]`.
    pub x: Tensor<2>,
    /// Reconstructions `[B, d_in]`.
    pub x_hat: Tensor<2>,
    /// Codes `[B, d_sae]`.
    pub codes: Tensor<2>,
    /// Decoder bias `[d_in]`.
    pub b_dec: Tensor<1>,
}

/// Which SAE metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaeMetricKind {
    /// Explained variance.
    ExplainedVariance,
    /// Mean squared error per element.
    Mse,
    /// Mean active latents per row.
    L0,
    /// Fraction of latents never active.
    DeadFraction,
    /// Shrinkage γ.
    Shrinkage,
    /// Hoyer sparsity of the codes.
    Hoyer,
}

impl SaeMetricKind {
    /// Every kind.
    pub const ALL: [Self; 6] = [
        Self::ExplainedVariance,
        Self::Mse,
        Self::L0,
        Self::DeadFraction,
        Self::Shrinkage,
        Self::Hoyer,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::ExplainedVariance => "Explained variance",
            Self::Mse => "MSE",
            Self::L0 => "L0",
            Self::DeadFraction => "Dead fraction",
            Self::Shrinkage => "Shrinkage",
            Self::Hoyer => "Hoyer",
        }
    }

    fn higher_is_better(self) -> bool {
        matches!(self, Self::ExplainedVariance | Self::Hoyer)
    }
}

/// Sums over the rows seen so far, from which every metric is computed exactly.
#[derive(Debug, Clone, Default)]
pub struct SaeAccumulator {
    rows: f64,
    sum_x: Vec<f64>,
    sum_x2: Vec<f64>,
    err: f64,
    active: f64,
    fired: Vec<bool>,
    shrink_num: f64,
    shrink_den: f64,
    hoyer: f64,
    elements: f64,
}

fn host(t: Tensor<1>) -> Result<Vec<f64>, TensorReadError> {
    t.try_into_vec_as::<f64>()
}

impl SaeAccumulator {
    /// Adds a batch.
    ///
    /// # Errors
    /// When a tensor cannot be read back from its device.
    pub fn update(&mut self, b: &SaeMetricInput) -> Result<(), TensorReadError> {
        let [n, d] = b.x.dims();
        let [_, h] = b.codes.dims();
        let x = b.x.clone();
        let sx = host(x.clone().sum_dim(0).squeeze_dim::<1>(0))?;
        let sx2 = host(x.clone().square().sum_dim(0).squeeze_dim::<1>(0))?;
        let resid = x.clone() - b.x_hat.clone();
        let centre = b.b_dec.clone().unsqueeze::<2>();
        let xh_c = b.x_hat.clone() - centre.clone();
        let x_c = x - centre;
        let nz = b.codes.clone().not_equal_elem(0.0).float();
        let l1 = b.codes.clone().abs().sum_dim(1);
        let l2 = b.codes.clone().square().sum_dim(1).sqrt();
        let sqrt_h = (h as f64).sqrt();
        let hoyer = if h > 1 {
            let ratio = l1 / l2.clone().clamp_min(1e-30);
            let hoy = (ratio.neg() + sqrt_h) / (sqrt_h - 1.0);
            hoy.mask_fill(l2.equal_elem(0.0), 1.0).sum()
        } else {
            Tensor::<1>::full([1], n as f64, &b.x.device())
        };
        let scalars = Tensor::cat(
            vec![
                resid.square().sum(),
                nz.clone().sum(),
                xh_c.clone().square().sum(),
                (xh_c * x_c).sum(),
                hoyer,
            ],
            0,
        );
        let s = host(scalars)?;
        let fired = host(nz.sum_dim(0).squeeze_dim::<1>(0))?;
        if self.sum_x.is_empty() {
            self.sum_x = vec![0.0; d];
            self.sum_x2 = vec![0.0; d];
            self.fired = vec![false; h];
        }
        for (a, v) in self.sum_x.iter_mut().zip(sx) {
            *a += v;
        }
        for (a, v) in self.sum_x2.iter_mut().zip(sx2) {
            *a += v;
        }
        for (a, v) in self.fired.iter_mut().zip(fired) {
            *a |= v > 0.0;
        }
        self.rows += n as f64;
        self.elements += (n * d) as f64;
        self.err += s[0];
        self.active += s[1];
        self.shrink_num += s[2];
        self.shrink_den += s[3];
        self.hoyer += s[4];
        Ok(())
    }

    /// Adds the rows of another accumulator.
    pub fn merge(&mut self, other: &SaeAccumulator) {
        if other.sum_x.is_empty() {
            return;
        }
        if self.sum_x.is_empty() {
            *self = other.clone();
            return;
        }
        for (a, b) in self.sum_x.iter_mut().zip(&other.sum_x) {
            *a += b;
        }
        for (a, b) in self.sum_x2.iter_mut().zip(&other.sum_x2) {
            *a += b;
        }
        for (a, b) in self.fired.iter_mut().zip(&other.fired) {
            *a |= *b;
        }
        self.rows += other.rows;
        self.elements += other.elements;
        self.err += other.err;
        self.active += other.active;
        self.shrink_num += other.shrink_num;
        self.shrink_den += other.shrink_den;
        self.hoyer += other.hoyer;
    }

    /// The metrics so far.
    pub fn metrics(&self) -> SaeMetrics {
        let total_var: f64 = self
            .sum_x
            .iter()
            .zip(&self.sum_x2)
            .map(|(s, s2)| s2 - s * s / self.rows.max(1.0))
            .sum();
        let dead = if self.fired.is_empty() {
            0.0
        } else {
            self.fired.iter().filter(|f| !**f).count() as f64 / self.fired.len() as f64
        };
        SaeMetrics {
            rows: self.rows as usize,
            mse: self.err / self.elements.max(1.0),
            explained_variance: if total_var > 0.0 {
                1.0 - self.err / total_var
            } else {
                f64::NAN
            },
            l0: self.active / self.rows.max(1.0),
            dead_fraction: dead,
            gamma: if self.shrink_den != 0.0 {
                self.shrink_num / self.shrink_den
            } else {
                f64::NAN
            },
            hoyer: self.hoyer / self.rows.max(1.0),
        }
    }
}

/// The SAE metrics over a set of rows (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SaeMetrics {
    /// Rows evaluated.
    pub rows: usize,
    /// Mean squared error per element.
    pub mse: f64,
    /// Explained variance (NaN when the rows have no variance).
    pub explained_variance: f64,
    /// Mean active latents per row.
    pub l0: f64,
    /// Fraction of latents never active on these rows.
    pub dead_fraction: f64,
    /// Shrinkage γ (NaN when undefined).
    pub gamma: f64,
    /// Mean Hoyer sparsity of the codes.
    pub hoyer: f64,
}

impl SaeMetrics {
    /// One line for each metric that is undefined (NaN) on these rows, saying why: explained
    /// variance without two distinct rows, γ without an active latent. Empty when every
    /// metric has a value.
    ///
    /// ```
    /// use sparse_autoencoders::SaeMetrics;
    ///
    /// let m = SaeMetrics { rows: 1, mse: 0.1, explained_variance: f64::NAN, l0: 0.0,
    ///     dead_fraction: 1.0, gamma: f64::NAN, hoyer: 0.0 };
    /// assert_eq!(m.undefined().len(), 2);
    /// ```
    pub fn undefined(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if !self.explained_variance.is_finite() {
            lines.push(format!(
                "explained variance is undefined: the {} evaluated rows have no variance",
                self.rows
            ));
        }
        if !self.gamma.is_finite() {
            lines
                .push("shrinkage γ is undefined: no latent is active on the evaluated rows".into());
        }
        for (name, v) in [("mse", self.mse), ("l0", self.l0), ("hoyer", self.hoyer)] {
            if !v.is_finite() {
                lines.push(format!("{name} is {v}"));
            }
        }
        lines
    }

    /// The value of one kind.
    pub fn get(&self, kind: SaeMetricKind) -> f64 {
        match kind {
            SaeMetricKind::ExplainedVariance => self.explained_variance,
            SaeMetricKind::Mse => self.mse,
            SaeMetricKind::L0 => self.l0,
            SaeMetricKind::DeadFraction => self.dead_fraction,
            SaeMetricKind::Shrinkage => self.gamma,
            SaeMetricKind::Hoyer => self.hoyer,
        }
    }
}

/// Evaluates `sae` (inference codes) on `rows` (`[n, d_in]` row-major) in batches.
///
/// # Errors
/// [`crate::Error::Shape`] when the rows do not match the model; a read-back failure.
pub fn evaluate(
    sae: &crate::Sae,
    rows: &[f32],
    batch_size: usize,
    device: &Device,
) -> crate::Result<SaeMetrics> {
    let d = sae.d_in();
    crate::error::check_rows("evaluation data", rows, d)?;
    let mut acc = SaeAccumulator::default();
    accumulate(sae, &mut acc, rows, batch_size, device)?;
    Ok(acc.metrics())
}

/// [`evaluate`] on rows in memory or on disk ([`RowSource`](super::RowSource)); on disk one
/// chunk at a time, so memory is bounded by a chunk whatever the number of rows.
///
/// # Errors
/// [`crate::Error::Shape`] when the rows do not match the model; a read error.
pub fn evaluate_source(
    sae: &crate::Sae,
    rows: &super::RowSource,
    batch_size: usize,
    device: &Device,
) -> crate::Result<SaeMetrics> {
    let store = match rows {
        super::RowSource::Memory(v) => return evaluate(sae, v, batch_size, device),
        super::RowSource::Disk(store) => store,
    };
    let d = sae.d_in();
    if store.dim() != d || store.is_empty() {
        return Err(crate::Error::Shape(format!(
            "the evaluation data ({}) has {} rows of {}, expected rows of d_in = {d}",
            store.path().display(),
            store.len(),
            store.dim()
        )));
    }
    let mut acc = SaeAccumulator::default();
    store.for_each_chunk::<crate::Error>(|chunk| {
        accumulate(sae, &mut acc, chunk, batch_size, device)
    })?;
    Ok(acc.metrics())
}

/// Adds the rows of `rows` to `acc`, `batch_size` rows at a time.
fn accumulate(
    sae: &crate::Sae,
    acc: &mut SaeAccumulator,
    rows: &[f32],
    batch_size: usize,
    device: &Device,
) -> crate::Result<()> {
    let d = sae.d_in();
    for chunk in rows.chunks(batch_size.max(1) * d) {
        let n = chunk.len() / d;
        let x = Tensor::<2>::from_data(
            burn::tensor::TensorData::new(chunk.to_vec(), [n, d]),
            device,
        );
        let (codes, x_hat) = sae.encode_and_reconstruct(x.clone());
        acc.update(&SaeMetricInput {
            x,
            x_hat,
            codes,
            b_dec: sae.b_dec.val(),
        })
        .map_err(|e| crate::Error::Training(format!("{e:?}")))?;
    }
    Ok(())
}

/// One SAE metric for burn-train (register each kind you want:
/// `.metric_valid_numeric(SaeMetric::new(SaeMetricKind::L0))`). Values are exact over the
/// epoch's rows, not means of batch values.
#[derive(Clone)]
pub struct SaeMetric {
    kind: SaeMetricKind,
    name: MetricName,
    epoch: SaeAccumulator,
    last: f64,
}

impl SaeMetric {
    /// The metric of this kind.
    pub fn new(kind: SaeMetricKind) -> Self {
        Self {
            kind,
            name: Arc::new(kind.name().to_string()),
            epoch: SaeAccumulator::default(),
            last: f64::NAN,
        }
    }

    fn entry(&self, value: f64) -> SerializedEntry {
        SerializedEntry::new(
            format!("{}: {value:.4}", self.kind.name()),
            value.to_string(),
        )
    }
}

impl Metric for SaeMetric {
    type Input = SaeMetricInput;

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn attributes(&self) -> MetricAttributes {
        NumericAttributes {
            unit: None,
            higher_is_better: self.kind.higher_is_better(),
        }
        .into()
    }

    fn update(
        &mut self,
        item: &SaeMetricInput,
        _metadata: &MetricMetadata,
    ) -> Result<SerializedEntry, TensorReadError> {
        let mut batch = SaeAccumulator::default();
        batch.update(item)?;
        self.last = batch.metrics().get(self.kind);
        self.epoch.merge(&batch);
        Ok(self.entry(self.last))
    }

    fn compute(&mut self) -> Result<SerializedEntry, TensorReadError> {
        Ok(self.entry(self.epoch.metrics().get(self.kind)))
    }

    fn clear(&mut self) {
        self.epoch = SaeAccumulator::default();
        self.last = f64::NAN;
    }
}

impl Numeric for SaeMetric {
    fn value(&self) -> Option<NumericEntry> {
        Some(NumericEntry::Value(self.last))
    }

    fn running_value(&self) -> Option<NumericEntry> {
        Some(NumericEntry::Value(self.epoch.metrics().get(self.kind)))
    }

    fn final_value(&self) -> NumericEntry {
        NumericEntry::Final(self.epoch.metrics().get(self.kind))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(x: &[f32], x_hat: &[f32], codes: &[f32], d: usize, h: usize) -> SaeMetricInput {
        let dev = Device::flex();
        let t = |v: &[f32], c: usize| {
            Tensor::<2>::from_data(
                burn::tensor::TensorData::new(v.to_vec(), [v.len() / c, c]),
                &dev,
            )
        };
        SaeMetricInput {
            x: t(x, d),
            x_hat: t(x_hat, d),
            codes: t(codes, h),
            b_dec: Tensor::zeros([d], &dev),
        }
    }

    #[test]
    fn metrics_match_hand_computed_values_and_merge_is_exact() {
        // Two rows of 2 features; x̄ = (1, 1); Σ(x − x̄)² = 4; errors 0.25 + 0.25.
        let a = input(&[0.0, 0.0], &[0.5, 0.0], &[1.0, 0.0, 0.0], 2, 3);
        let b = input(&[2.0, 2.0], &[2.0, 1.5], &[0.0, 2.0, 2.0], 2, 3);
        let mut whole = SaeAccumulator::default();
        whole.update(&a).unwrap();
        whole.update(&b).unwrap();
        let m = whole.metrics();
        assert!(
            (m.explained_variance - (1.0 - 0.5 / 4.0)).abs() < 1e-9,
            "{m:?}"
        );
        assert!((m.mse - 0.5 / 4.0).abs() < 1e-9);
        assert_eq!(m.l0, 1.5);
        assert_eq!(m.dead_fraction, 0.0);
        // γ = Σ‖x̂‖² / Σ⟨x̂, x⟩ = (0.25 + 6.25) / (0 + 7) with b_dec = 0.
        assert!((m.gamma - 6.5 / 7.0).abs() < 1e-9);
        // Hoyer: one active latent → 1; two equal ones → (√3 − √2)/(√3 − 1).
        let two = (3f64.sqrt() - 2f64.sqrt()) / (3f64.sqrt() - 1.0);
        assert!((m.hoyer - (1.0 + two) / 2.0).abs() < 1e-6);
        let mut parts = SaeAccumulator::default();
        let (mut pa, mut pb) = (SaeAccumulator::default(), SaeAccumulator::default());
        pa.update(&a).unwrap();
        pb.update(&b).unwrap();
        parts.merge(&pa);
        parts.merge(&pb);
        assert_eq!(parts.metrics(), m);
    }
}
