//! Scoring a dictionary and its codes against the known features of a [`SyntheticData`].

use serde::{Deserialize, Serialize};

use super::hungarian::assign_min_cost;
use super::SyntheticData;
use crate::{Error, Result};

/// One pair of the matching: true feature `feature` ↔ latent `latent`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FeatureMatch {
    /// The true feature `i`.
    pub feature: usize,
    /// The latent `j` (row `j` of the decoder, column `j` of the codes).
    pub latent: usize,
    /// The signed cosine `cos_ij = ⟨d_i, W_j⟩ / (‖d_i‖ ‖W_j‖)` (0 for a zero row).
    pub cosine: f64,
}

/// How well a dictionary and its codes recover the true features of a [`SyntheticData`]
/// (see [`score`]). With `d_i` the true unit directions, `c_bi` the true coefficients of test
/// row `b`, `W_j` the decoder rows and `f_bj` the SAE's codes on the same rows, and the
/// matching `M` (pairs `(i, j)`, [`match_directions`]):
///
/// - `mcc = (1/n_features) Σ_{(i,j)∈M} |cos_ij|`: the mean over **true features** of the
///   |cosine| with their matched latent, 0 for a feature left unmatched (when
///   `d_sae < n_features`). Extra latents (`d_sae > n_features`) are not penalised.
/// - `detection_f1`: for a true feature `i` matched to latent `j`, with "predicted active" =
///   `f_bj ≠ 0` and "truly active" = `c_bi ≠ 0` over the test rows:
///   `F1_i = 2 TP / (2 TP + FP + FN)`. An unmatched feature has `F1_i = 0`. Averaged over the
///   features that fire at least once in the test rows (`TP + FN > 0`); NaN if none does.
/// - `magnitude_ratio = Σ f_bj ‖W_j‖ cos_ij / Σ c_bi`, both sums over the matched pairs
///   `(i, j)` and the rows where both are active: the latent's contribution `f_bj W_j`
///   projected on `d_i`, relative to the truth. 1 = no shrinkage, < 1 = shrinkage (as with an
///   L1 penalty), > 1 = overshoot. NaN when no matched pair is ever active together.
/// - `matched_mcc`: the mean |cos| over the matched **pairs** (SynthSAEBench's MCC, Chanin et
///   al. 2026): equal to `mcc` when `d_sae ≥ n_features`, larger when the SAE is narrower than
///   the truth (its latents are not charged for the features it has no room for).
/// - `latent_f1` (SynthSAEBench's F1): each latent `j` is paired with its nearest true feature
///   `g(j) = argmax_i |cos_ij|` (several latents may share one), `F1_j = 2 TP / (2 TP + FP + FN)`
///   of "latent active" against "feature `g(j)` active" over the test rows (0 when never
///   active on either side), averaged over **all latents**, dead ones included.
/// - `dead_fraction`: the fraction of latents with `f_bj = 0` on every test row.
/// - `l0 = (1/n) Σ_b #{j : f_bj ≠ 0}`, and `true_l0` the same for `c`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyntheticScore {
    /// Mean over true features of the matched |cosine| (unmatched = 0); 1 = every feature
    /// found.
    pub mcc: f64,
    /// Mean per-feature F1 of "matched latent active" against "feature active".
    pub detection_f1: f64,
    /// Mean |cos| over the matched pairs (SynthSAEBench's MCC).
    pub matched_mcc: f64,
    /// Mean over all latents of the F1 against their nearest feature (SynthSAEBench's F1).
    pub latent_f1: f64,
    /// Feature-level shrinkage of the matched latents' magnitudes (1 = none).
    pub magnitude_ratio: f64,
    /// Fraction of latents never active on the test rows.
    pub dead_fraction: f64,
    /// Mean number of active latents per test row.
    pub l0: f64,
    /// Mean number of active true features per test row.
    pub true_l0: f64,
    /// The matching, one entry per matched true feature, sorted by feature.
    pub matching: Vec<FeatureMatch>,
}

/// The one-to-one matching between the rows of `truth` (`[n_true, d_in]`) and the rows of
/// `decoder` (`[d_sae, d_in]`) that maximises `Σ |cos_ij|` (the Hungarian algorithm on
/// `−|cos|`). It has
/// `min(n_true, d_sae)` pairs, sorted by true row.
///
/// # Errors
/// [`Error::Shape`] when `d_in` is 0 or either slice is not a positive multiple of it.
pub fn match_directions(truth: &[f32], decoder: &[f32], d_in: usize) -> Result<Vec<FeatureMatch>> {
    for (what, m) in [("matrix of true directions", truth), ("decoder", decoder)] {
        crate::error::check_rows(what, m, d_in)?;
    }
    let unit = |m: &[f32]| -> Vec<f32> {
        let mut m = m.to_vec();
        for r in m.chunks_exact_mut(d_in) {
            let n = r.iter().map(|&v| v as f64 * v as f64).sum::<f64>().sqrt();
            let inv = if n > 0.0 { (1.0 / n) as f32 } else { 0.0 };
            r.iter_mut().for_each(|v| *v *= inv);
        }
        m
    };
    let (t, w) = (unit(truth), unit(decoder));
    let (nt, nw) = (t.len() / d_in, w.len() / d_in);
    let mut cos = vec![0.0f64; nt * nw];
    for (i, a) in t.chunks_exact(d_in).enumerate() {
        for (j, b) in w.chunks_exact(d_in).enumerate() {
            cos[i * nw + j] = a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>() as f64;
        }
    }
    // The Hungarian algorithm assigns every row to a distinct column: rows are the smaller
    // side.
    let pairs: Vec<(usize, usize)> = if nt <= nw {
        let cost: Vec<f64> = cos.iter().map(|c| -c.abs()).collect();
        assign_min_cost(&cost, nt, nw)
            .into_iter()
            .enumerate()
            .collect()
    } else {
        let cost: Vec<f64> = (0..nw * nt)
            .map(|k| -cos[(k % nt) * nw + k / nt].abs())
            .collect();
        let mut p: Vec<(usize, usize)> = assign_min_cost(&cost, nw, nt)
            .into_iter()
            .enumerate()
            .map(|(j, i)| (i, j))
            .collect();
        p.sort_unstable();
        p
    };
    Ok(pairs
        .into_iter()
        .map(|(i, j)| FeatureMatch {
            feature: i,
            latent: j,
            cosine: cos[i * nw + j],
        })
        .collect())
}

/// Scores a dictionary and its codes against the truth of `data` (see [`SyntheticScore`] for
/// every definition). `decoder` is `[d_sae, d_in]` row-major (row `j` = latent `j`'s direction,
/// e.g. an [`Sae`](crate::Sae)'s `w_dec`), `codes` the model's codes on `data.rows`,
/// `[n, d_sae]` row-major. Any model works: only these slices are read. 512 features × 512
/// latents × 10k rows take a fraction of a second (the Hungarian matching dominates).
///
/// # Errors
/// [`Error::Shape`] when `data` has no rows, `decoder` is not a positive multiple of `d_in`
/// or `codes` is not `n · d_sae` values.
pub fn score(data: &SyntheticData, decoder: &[f32], codes: &[f32]) -> Result<SyntheticScore> {
    let (d, nf, n) = (data.d_in, data.n_features, data.n_rows());
    if n == 0 {
        return Err(Error::Shape("the test data has no rows".into()));
    }
    let matching = match_directions(&data.directions, decoder, d)?;
    let d_sae = decoder.len() / d;
    if codes.len() != n * d_sae {
        return Err(Error::Shape(format!(
            "the codes have {} values, expected rows · d_sae = {n} · {d_sae}",
            codes.len()
        )));
    }
    let norms: Vec<f64> = decoder
        .chunks_exact(d)
        .map(|r| r.iter().map(|&v| v as f64 * v as f64).sum::<f64>().sqrt())
        .collect();
    let nearest = nearest_features(&data.directions, decoder, d);
    let mut latent_of = vec![None; nf];
    let mut feature_of = vec![None; d_sae];
    for m in &matching {
        latent_of[m.feature] = Some((m.latent, norms[m.latent] * m.cosine));
        feature_of[m.latent] = Some(m.feature);
    }
    let (mut tp, mut truth, mut predicted) = (vec![0u64; nf], vec![0u64; nf], vec![0u64; nf]);
    let mut alive = vec![false; d_sae];
    let mut active_latents = 0u64;
    let (mut num, mut den) = (0.0f64, 0.0f64);
    let (mut latent_tp, mut latent_active) = (vec![0u64; d_sae], vec![0u64; d_sae]);
    let mut row_active = vec![false; nf];
    for (b, f) in codes.chunks_exact(d_sae).enumerate() {
        let (features, _) = data.codes.row(b);
        features.iter().for_each(|&i| row_active[i] = true);
        for (j, &v) in f.iter().enumerate() {
            if v != 0.0 {
                latent_active[j] += 1;
                if row_active[nearest[j]] {
                    latent_tp[j] += 1;
                }
            }
        }
        features.iter().for_each(|&i| row_active[i] = false);
        for (j, &v) in f.iter().enumerate() {
            if v != 0.0 {
                active_latents += 1;
                alive[j] = true;
                if let Some(i) = feature_of[j] {
                    predicted[i] += 1;
                }
            }
        }
        let (features, values) = data.codes.row(b);
        for (&i, &c) in features.iter().zip(values) {
            truth[i] += 1;
            if let Some((j, along)) = latent_of[i] {
                if f[j] != 0.0 {
                    tp[i] += 1;
                    num += f[j] as f64 * along;
                    den += c as f64;
                }
            }
        }
    }
    let (mut f1_sum, mut firing) = (0.0f64, 0usize);
    for i in 0..nf {
        if truth[i] > 0 {
            firing += 1;
            // 2TP / (2TP + FP + FN) with FP = predicted − TP and FN = truth − TP.
            f1_sum += 2.0 * tp[i] as f64 / (predicted[i] + truth[i]) as f64;
        }
    }
    let latent_f1 = (0..d_sae)
        .map(|j| {
            let both = latent_active[j] + truth[nearest[j]];
            if both == 0 {
                0.0
            } else {
                2.0 * latent_tp[j] as f64 / both as f64
            }
        })
        .sum::<f64>()
        / d_sae as f64;
    let mut matching = matching;
    matching.sort_by_key(|m| m.feature);
    let matched_mcc = if matching.is_empty() {
        0.0
    } else {
        matching.iter().map(|m| m.cosine.abs()).sum::<f64>() / matching.len() as f64
    };
    Ok(SyntheticScore {
        mcc: matching.iter().map(|m| m.cosine.abs()).sum::<f64>() / nf as f64,
        detection_f1: if firing > 0 {
            f1_sum / firing as f64
        } else {
            f64::NAN
        },
        matched_mcc,
        latent_f1,
        magnitude_ratio: if den > 0.0 { num / den } else { f64::NAN },
        dead_fraction: alive.iter().filter(|a| !**a).count() as f64 / d_sae as f64,
        l0: active_latents as f64 / n as f64,
        true_l0: data.mean_active(),
        matching,
    })
}

/// For each row of `decoder` (`[d_sae, d_in]`), the row of `truth` with the largest |cos|
/// (the first on ties; feature 0 for a zero row).
fn nearest_features(truth: &[f32], decoder: &[f32], d: usize) -> Vec<usize> {
    decoder
        .chunks_exact(d)
        .map(|w| {
            let mut best = (0, f64::NEG_INFINITY);
            for (i, t) in truth.chunks_exact(d).enumerate() {
                let (mut dot, mut nt) = (0.0f64, 0.0f64);
                for (&a, &b) in w.iter().zip(t) {
                    dot += f64::from(a) * f64::from(b);
                    nt += f64::from(b) * f64::from(b);
                }
                let c = dot.abs() / nt.sqrt().max(1e-30);
                if c > best.1 {
                    best = (i, c);
                }
            }
            best.0
        })
        .collect()
}

impl SyntheticData {
    /// [`score`] on these rows.
    ///
    /// # Errors
    /// See [`score`].
    pub fn score(&self, decoder: &[f32], codes: &[f32]) -> Result<SyntheticScore> {
        score(self, decoder, codes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_is_optimal_not_greedy() {
        // |cos| = [[0.6, 0.5], [0.5, 0.1]]: greedy takes 0–0 (0.6) then 1–1 (0.1), total 0.7;
        // the optimum is 0–1 and 1–0, total 1.0.
        let truth = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0];
        let dec = [0.6, 0.5, 0.39f32.sqrt(), 0.5, -0.1, 0.74f32.sqrt()];
        let m = match_directions(&truth, &dec, 3).unwrap();
        let pairs: Vec<(usize, usize)> = m.iter().map(|p| (p.feature, p.latent)).collect();
        assert_eq!(pairs, vec![(0, 1), (1, 0)]);
        assert!((m[0].cosine - 0.5).abs() < 1e-6 && (m[1].cosine - 0.5).abs() < 1e-6);
    }

    #[test]
    fn fewer_latents_than_features_leaves_features_unmatched() {
        let truth = [1.0, 0.0, 0.0, 1.0, 0.6, 0.8];
        let dec = [0.0, -2.0];
        let m = match_directions(&truth, &dec, 2).unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!((m[0].feature, m[0].latent), (1, 0));
        assert!((m[0].cosine + 1.0).abs() < 1e-6);
    }

    #[test]
    fn synthsaebench_metrics_pair_latents_with_their_nearest_feature() {
        use crate::synthetic::{SparseCodes, SyntheticData};
        // Two true features on axes; three latents: one on each axis, one dead at 45°.
        let h = std::f32::consts::FRAC_1_SQRT_2;
        let data = SyntheticData {
            d_in: 2,
            n_features: 2,
            directions: vec![1.0, 0.0, 0.0, 1.0],
            rows: vec![0.0; 8],
            // Rows: {0}, {1}, {0, 1}, {}.
            codes: SparseCodes {
                n_features: 2,
                offsets: vec![0, 1, 2, 4, 4],
                features: vec![0, 1, 0, 1],
                values: vec![1.0; 4],
            },
            firing_probabilities: vec![0.5, 0.5],
        };
        let decoder = [1.0, 0.0, 0.0, 2.0, h, h];
        // Latent 0 fires on rows 0 and 3 (TP 1, FP 1, FN 1); latent 1 on rows 1, 2 (exact).
        let codes = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0];
        let s = score(&data, &decoder, &codes).unwrap();
        assert!(
            (s.latent_f1 - (0.5 + 1.0 + 0.0) / 3.0).abs() < 1e-12,
            "{}",
            s.latent_f1
        );
        assert!((s.matched_mcc - 1.0).abs() < 1e-6);
        assert!((s.mcc - 1.0).abs() < 1e-6);
        // A narrower SAE (latent 1 alone): MCC over the truth halves, over the pairs it is 1.
        let s = score(&data, &decoder[2..4], &[0.0, 1.0, 1.0, 0.0]).unwrap();
        assert!((s.mcc - 0.5).abs() < 1e-6 && (s.matched_mcc - 1.0).abs() < 1e-6);
        assert!((s.latent_f1 - 1.0).abs() < 1e-12);
    }

    #[test]
    fn shapes_are_checked() {
        assert!(matches!(
            match_directions(&[1.0, 0.0], &[1.0], 2),
            Err(Error::Shape(_))
        ));
        assert!(matches!(
            match_directions(&[], &[1.0, 0.0], 2),
            Err(Error::Shape(_))
        ));
    }
}
