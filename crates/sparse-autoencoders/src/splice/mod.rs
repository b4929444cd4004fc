//! Metrics of a classifier whose hidden layer is replaced ("spliced") by a
//! sparse-autoencoder reconstruction.
//!
//! Every function takes logits as a row-major `f32` slice of shape
//! `[n, classes]` and, where needed, one label per row. All arithmetic is
//! done in `f64`. The definitions follow the PyTorch reference:
//!
//! * cross entropy = `F.cross_entropy(logits, labels)` (mean reduction),
//! * accuracy = `(logits.argmax(-1) == labels).float().mean()`,
//! * KL = `F.kl_div(log_softmax(spliced), log_softmax(clean),
//!   log_target=True, reduction="batchmean")`,
//! * loss recovered = `(ce_ablated - ce_spliced) / (ce_ablated - ce_clean)`.
//!
//! [`spliced_losses`] does the same through any model's own loss (a closure), for a model
//! whose output is not a classification.
//!
//! The free functions return `NaN` instead of panicking when the shapes are
//! inconsistent (see [`validate`]); [`SpliceMetrics::from_logits`] reports
//! the same problems as an error message.

mod losses;

pub use losses::*;

/// Checks that `logits` holds `labels.len()` rows of `classes` values and
/// that every label is a valid class index; returns the row count `n`.
///
/// Conditions: `classes > 0`, `n = labels.len() > 0`,
/// `logits.len() == n * classes`, and `label < classes` for every label.
/// The error is a one-line message naming the offending input (`name`).
pub fn validate(
    name: &str,
    logits: &[f32],
    classes: usize,
    labels: &[usize],
) -> Result<usize, String> {
    let n = labels.len();
    if classes == 0 {
        return Err("classes must be > 0".to_string());
    }
    if n == 0 {
        return Err("labels must not be empty (n = 0 rows)".to_string());
    }
    if logits.len() != n * classes {
        return Err(format!(
            "{name} logits have length {}, expected n * classes = {n} * {classes} = {}",
            logits.len(),
            n * classes
        ));
    }
    if let Some((row, &label)) = labels.iter().enumerate().find(|(_, &l)| l >= classes) {
        return Err(format!(
            "label {label} at row {row} is out of range for {classes} classes"
        ));
    }
    Ok(n)
}

/// Log-softmax of one row, in `f64`, computed with the log-sum-exp trick:
/// `log_softmax(x)_c = x_c - m - ln Σ_j exp(x_j - m)` with `m = max_j x_j`.
fn log_softmax(row: &[f32]) -> Vec<f64> {
    let max = row
        .iter()
        .map(|&v| f64::from(v))
        .fold(f64::NEG_INFINITY, f64::max);
    let sum: f64 = row.iter().map(|&v| (f64::from(v) - max).exp()).sum();
    let lse = max + sum.ln();
    row.iter().map(|&v| f64::from(v) - lse).collect()
}

/// Index of the first maximum of `row` (ties go to the lowest index, as
/// `torch.argmax` does).
fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best
}

/// Mean cross entropy of `logits` (`[n, classes]`, row-major) against
/// `labels` (length `n`):
///
/// `CE = (1/n) Σ_i −log softmax(logits_i)[labels_i]`,
///
/// with the log-softmax computed stably by subtracting the row maximum
/// (as `torch.nn.functional.cross_entropy`, reduction `"mean"`).
/// Returns `NaN` if the shapes or labels are invalid (see [`validate`]).
pub fn cross_entropy(logits: &[f32], classes: usize, labels: &[usize]) -> f64 {
    let Ok(n) = validate("", logits, classes, labels) else {
        return f64::NAN;
    };
    let total: f64 = logits
        .chunks_exact(classes)
        .zip(labels)
        .map(|(row, &label)| -log_softmax(row)[label])
        .sum();
    total / n as f64
}

/// Fraction of rows whose arg-max class equals the label:
///
/// `acc = (1/n) Σ_i [argmax_c logits_{i,c} == labels_i]`,
///
/// where ties resolve to the first maximal index (as `torch.argmax`).
/// Returns `NaN` if the shapes or labels are invalid (see [`validate`]).
pub fn accuracy(logits: &[f32], classes: usize, labels: &[usize]) -> f64 {
    let Ok(n) = validate("", logits, classes, labels) else {
        return f64::NAN;
    };
    let correct = logits
        .chunks_exact(classes)
        .zip(labels)
        .filter(|(row, &label)| argmax(row) == label)
        .count();
    correct as f64 / n as f64
}

/// Mean over rows of the KL divergence from the spliced to the clean
/// predictive distribution:
///
/// `KL = (1/n) Σ_i Σ_c p_{i,c} (log p_{i,c} − log q_{i,c})`,
///
/// with `log p = log_softmax(clean)`, `log q = log_softmax(spliced)` (as
/// `F.kl_div(log_softmax(spliced), log_softmax(clean), log_target=True,
/// reduction="batchmean")`). Always `≥ 0` up to rounding, and `0` for
/// identical logits. Returns `NaN` unless `classes > 0` and both slices have
/// the same non-zero length that is a multiple of `classes`.
pub fn mean_kl(clean: &[f32], spliced: &[f32], classes: usize) -> f64 {
    if classes == 0
        || clean.is_empty()
        || clean.len() != spliced.len()
        || !clean.len().is_multiple_of(classes)
    {
        return f64::NAN;
    }
    let n = clean.len() / classes;
    let total: f64 = clean
        .chunks_exact(classes)
        .zip(spliced.chunks_exact(classes))
        .map(|(p_row, q_row)| row_kl(p_row, q_row))
        .sum();
    total / n as f64
}

/// `Σ_c p_c (log p_c − log q_c)` for one row of clean (`p`) and spliced
/// (`q`) logits.
fn row_kl(clean: &[f32], spliced: &[f32]) -> f64 {
    let log_p = log_softmax(clean);
    let log_q = log_softmax(spliced);
    log_p
        .iter()
        .zip(&log_q)
        .map(|(&lp, &lq)| lp.exp() * (lp - lq))
        .sum()
}

/// Fraction of the cross-entropy gap closed by the splice:
///
/// `loss_recovered = (ce_ablated − ce_spliced) / (ce_ablated − ce_clean)`.
///
/// `1` means the spliced model is as good as the clean one, `0` as bad as the
/// ablated one. Returns `NaN` when the denominator `ce_ablated − ce_clean`
/// is exactly `0` (ablation does not change the loss, so the ratio is
/// undefined).
pub fn loss_recovered(ce_ablated: f64, ce_spliced: f64, ce_clean: f64) -> f64 {
    let denominator = ce_ablated - ce_clean;
    if denominator == 0.0 {
        return f64::NAN;
    }
    (ce_ablated - ce_spliced) / denominator
}

/// Splice metrics of one classifier on one labelled data set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpliceMetrics {
    /// Accuracy of the unmodified model: [`accuracy`] of the clean logits.
    pub acc_clean: f64,
    /// Accuracy with the hidden layer replaced by the SAE reconstruction.
    pub acc_spliced: f64,
    /// Mean cross entropy of the clean logits ([`cross_entropy`]).
    pub ce_clean: f64,
    /// Mean cross entropy of the spliced logits.
    pub ce_spliced: f64,
    /// Mean cross entropy with the hidden layer zero-ablated.
    pub ce_zero: f64,
    /// Mean cross entropy with the hidden layer mean-ablated (replaced by its
    /// mean over the data set).
    pub ce_mean: f64,
    /// Mean KL(p_clean ‖ p_spliced) over rows ([`mean_kl`]).
    pub kl_spliced: f64,
    /// `(ce_zero − ce_spliced) / (ce_zero − ce_clean)` ([`loss_recovered`];
    /// `NaN` if `ce_zero == ce_clean`).
    pub loss_recovered_zero: f64,
    /// `(ce_mean − ce_spliced) / (ce_mean − ce_clean)` ([`loss_recovered`];
    /// `NaN` if `ce_mean == ce_clean`).
    pub loss_recovered_mean: f64,
}

impl SpliceMetrics {
    /// Computes every metric from the four sets of logits (each row-major
    /// `[n, classes]`: clean model, SAE-spliced, zero-ablated, mean-ablated)
    /// and the `n` labels.
    ///
    /// Fails with a one-line message unless `classes > 0`, `n =
    /// labels.len() > 0`, each logits slice has length `n * classes`, and
    /// every label is `< classes`.
    pub fn from_logits(
        clean: &[f32],
        spliced: &[f32],
        zeroed: &[f32],
        mean_ablated: &[f32],
        classes: usize,
        labels: &[usize],
    ) -> Result<Self, String> {
        validate("clean", clean, classes, labels)?;
        validate("spliced", spliced, classes, labels)?;
        validate("zero-ablated", zeroed, classes, labels)?;
        validate("mean-ablated", mean_ablated, classes, labels)?;
        let ce_clean = cross_entropy(clean, classes, labels);
        let ce_spliced = cross_entropy(spliced, classes, labels);
        let ce_zero = cross_entropy(zeroed, classes, labels);
        let ce_mean = cross_entropy(mean_ablated, classes, labels);
        Ok(Self {
            acc_clean: accuracy(clean, classes, labels),
            acc_spliced: accuracy(spliced, classes, labels),
            ce_clean,
            ce_spliced,
            ce_zero,
            ce_mean,
            kl_spliced: mean_kl(clean, spliced, classes),
            loss_recovered_zero: loss_recovered(ce_zero, ce_spliced, ce_clean),
            loss_recovered_mean: loss_recovered(ce_mean, ce_spliced, ce_clean),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::E;

    const TOL: f64 = 1e-12;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= TOL
    }

    /// Hand-computed case, 2 rows × 3 classes, labels [1, 1]:
    ///
    /// clean   = [[0,0,0], [0,1,0]]
    /// spliced = [[0,0,0], [0,0,0]]
    /// zeroed  = [[0,0,0], [1,0,0]]
    /// mean    = [[0,0,0], [0,0,0]]
    ///
    /// * row [0,0,0], label 1: p = 1/3, CE = ln 3 ≈ 1.0986; argmax = 0
    ///   (tie → first index), so wrong.
    /// * row [0,1,0], label 1: p = e/(2+e), CE = ln(2+e) − 1 ≈ 0.5514; argmax
    ///   = 1, correct.
    /// * row [1,0,0], label 1: p = 1/(2+e), CE = ln(2+e) ≈ 1.5514.
    ///
    /// ce_clean = (ln 3 + ln(2+e) − 1)/2 ≈ 0.8250, acc_clean = 1/2;
    /// ce_spliced = ce_mean = ln 3, acc_spliced = 0;
    /// ce_zero = (ln 3 + ln(2+e))/2 ≈ 1.3250.
    /// KL row 0 = 0; row 1 with p = (1,e,1)/(2+e), q = 1/3:
    /// Σ p ln(3p) = ln 3 + e/(2+e) − ln(2+e) ≈ 0.1233, so kl = that / 2.
    /// loss_recovered_zero = (ce_zero − ln 3)/(ce_zero − ce_clean)
    ///   = ((ln(2+e) − ln 3)/2) / (1/2) = ln(2+e) − ln 3 ≈ 0.4528;
    /// loss_recovered_mean = (ln 3 − ln 3)/(ln 3 − ce_clean) = 0.
    #[test]
    fn hand_computed_case() {
        let clean = [0.0, 0.0, 0.0, 0.0, 1.0, 0.0];
        let spliced = [0.0; 6];
        let zeroed = [0.0, 0.0, 0.0, 1.0, 0.0, 0.0];
        let mean = [0.0; 6];
        let labels = [1, 1];
        let m = SpliceMetrics::from_logits(&clean, &spliced, &zeroed, &mean, 3, &labels).unwrap();

        let ln3 = 3f64.ln();
        let ln2e = (2.0 + E).ln();
        let ce_clean = (ln3 + ln2e - 1.0) / 2.0;
        let ce_zero = (ln3 + ln2e) / 2.0;
        let kl = (ln3 + E / (2.0 + E) - ln2e) / 2.0;

        assert!(close(m.acc_clean, 0.5), "{m:?}");
        assert!(close(m.acc_spliced, 0.0), "{m:?}");
        assert!(close(m.ce_clean, ce_clean), "{m:?}");
        assert!(close(m.ce_spliced, ln3), "{m:?}");
        assert!(close(m.ce_zero, ce_zero), "{m:?}");
        assert!(close(m.ce_mean, ln3), "{m:?}");
        assert!(close(m.kl_spliced, kl), "{m:?}");
        assert!(close(m.loss_recovered_zero, ln2e - ln3), "{m:?}");
        assert!(close(m.loss_recovered_mean, 0.0), "{m:?}");
        // Numeric sanity of the hand values quoted in the comment.
        assert!((ce_clean - 0.8250).abs() < 1e-4);
        assert!((ln2e - ln3 - 0.4528).abs() < 1e-4);
    }

    #[test]
    fn kl_of_identical_logits_is_zero() {
        let logits = [0.3, -1.2, 4.0, 2.5, 2.5, -0.7, 10.0, -10.0, 0.0];
        assert!(mean_kl(&logits, &logits, 3).abs() <= TOL);
    }

    #[test]
    fn kl_is_non_negative() {
        // Deterministic pseudo-random logits (LCG) of varying scale.
        let mut state: u64 = 12345;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) as f32 / (1u64 << 31) as f32 - 0.5) * 20.0
        };
        for _ in 0..50 {
            let clean: Vec<f32> = (0..20).map(|_| next()).collect();
            let spliced: Vec<f32> = (0..20).map(|_| next()).collect();
            let kl = mean_kl(&clean, &spliced, 5);
            assert!(kl >= -TOL, "kl = {kl}");
            assert!(kl > 0.0, "distinct logits should give positive KL");
        }
    }

    #[test]
    fn per_row_shift_leaves_ce_and_kl_unchanged() {
        let clean = [0.5, -1.0, 2.0, 3.0, 0.25, -2.0];
        let spliced = [1.0, 0.0, -1.0, 2.0, 2.5, 0.5];
        let labels = [2, 0];
        // Shifts are exactly representable so the shifted f32 values are exact.
        let shift = |v: &[f32], s: [f32; 2]| -> Vec<f32> {
            v.chunks(3)
                .zip(s)
                .flat_map(|(row, s)| row.iter().map(move |x| x + s))
                .collect()
        };
        let clean_s = shift(&clean, [8.0, -16.0]);
        let spliced_s = shift(&spliced, [-4.0, 32.0]);
        assert!(close(
            cross_entropy(&clean, 3, &labels),
            cross_entropy(&clean_s, 3, &labels)
        ));
        assert!(close(
            mean_kl(&clean, &spliced, 3),
            mean_kl(&clean_s, &spliced_s, 3)
        ));
        assert_eq!(accuracy(&clean, 3, &labels), accuracy(&clean_s, 3, &labels));
    }

    #[test]
    fn large_logits_stay_finite() {
        let logits = [1000.0, -1000.0, 0.0, 0.0];
        let ce = cross_entropy(&logits, 2, &[1, 0]);
        assert!(close(ce, (2000.0 + 2f64.ln()) / 2.0), "{ce}");
        let kl = mean_kl(&logits, &[-1000.0, 1000.0, 0.0, 0.0], 2);
        assert!(kl.is_finite() && (kl - 1000.0).abs() < 1e-9, "{kl}");
    }

    #[test]
    fn loss_recovered_formula_and_zero_denominator() {
        assert!(close(loss_recovered(2.0, 1.0, 0.5), 1.0 / 1.5));
        assert!(close(loss_recovered(2.0, 0.5, 0.5), 1.0));
        assert!(close(loss_recovered(2.0, 2.0, 0.5), 0.0));
        assert!(loss_recovered(1.0, 0.3, 1.0).is_nan());
    }

    #[test]
    fn errors_for_bad_lengths_and_labels() {
        let good = [0.0; 6];
        let short = [0.0; 5];
        let labels = [0, 2];
        let err = SpliceMetrics::from_logits(&good, &short, &good, &good, 3, &labels).unwrap_err();
        assert!(
            err.contains("spliced") && err.contains('5') && !err.contains('\n'),
            "{err}"
        );
        let err = SpliceMetrics::from_logits(&good, &good, &good, &short, 3, &labels).unwrap_err();
        assert!(err.contains("mean-ablated"), "{err}");
        let err = SpliceMetrics::from_logits(&good, &good, &good, &good, 3, &[0, 3]).unwrap_err();
        assert!(err.contains("label 3") && err.contains("row 1"), "{err}");
        assert!(SpliceMetrics::from_logits(&good, &good, &good, &good, 3, &[0]).is_err());
        assert!(SpliceMetrics::from_logits(&[], &[], &[], &[], 3, &[]).is_err());
        assert!(SpliceMetrics::from_logits(&[], &[], &[], &[], 0, &[0]).is_err());
        assert!(SpliceMetrics::from_logits(&good, &good, &good, &good, 3, &labels).is_ok());
        // The free functions return NaN instead of panicking.
        assert!(cross_entropy(&short, 3, &labels).is_nan());
        assert!(accuracy(&good, 3, &[0, 7]).is_nan());
        assert!(mean_kl(&good, &short, 3).is_nan());
        assert!(mean_kl(&good, &good, 0).is_nan());
        assert!(mean_kl(&good, &good, 4).is_nan());
    }
}
