//! The generative model: [`SyntheticConfig`] → [`SyntheticModel`] → [`SyntheticData`].

use std::ops::Range;

use burn::config::Config;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::{Error, Result};

/// A synthetic dataset with known features (the "toy model" benchmark of SAE papers):
///
/// ```text
/// x_b = Σ_i c_bi d_i + ε_b        ε_b ~ N(0, noise_std² I)
/// ```
///
/// - **Directions** `d_i`: `n_features` independent uniformly random unit vectors in `d_in`
///   dimensions (normalised Gaussians), drawn once by [`init`](Self::init).
/// - **Firing probabilities** (Zipf): `p_i = min(1, s · (i + 1)^(−exponent))`, with `s` chosen so
///   that `Σ_i p_i = mean_active` exactly (features whose `s · (i + 1)^(−exponent)` exceeds 1
///   are clamped to 1 and `s` is re-solved over the rest). Feature 0 is the most frequent; the
///   ratio between the most and least frequent is `n_features^exponent` when nothing is
///   clamped. These are the **marginal** probabilities whatever `correlation` and `hierarchy`
///   say: both only change which features fire *together*.
/// - **Magnitudes**: `c_bi = magnitude_min + (magnitude_mean − magnitude_min) · E` with
///   `E ~ Exponential(1)` for a firing feature (so `c ≥ magnitude_min > 0`, mean
///   `magnitude_mean`, a long right tail), `0` otherwise.
/// - **Hierarchy**: the last `⌊hierarchy · n_features⌋` features (the rarest) are *children*;
///   every other feature is a *root*. Each child gets a parent drawn uniformly among the roots
///   and fires only on rows where its parent fires, then with probability `p_child / p_parent`
///   (≤ 1 since children are rarer), so its marginal stays `p_child`. A child never fires
///   without its parent.
/// - **Feature trees** (SynthSAEBench's hierarchy, Chanin et al. 2026; instead of
///   `hierarchy`): with `tree_roots = R > 0`, features `0..R` are the roots of `R` trees in which
///   every node above `tree_depth` has `branching` children, numbered breadth first (level 1
///   is `R..R + R·branching`, and so on), so parents are more frequent than their children;
///   the features after the trees are free. A child fires only on rows where its parent fires.
///   With `mutually_exclusive` siblings, at most one child of a firing parent fires: child `c`
///   with probability `p_c / p_parent`, scaled down with its siblings when those sum to more
///   than 1 (then the children's marginals, and the mean L0, fall below their Zipf values;
///   [`SyntheticData::mean_active`] tells the realised L0). Without it, each child fires on its
///   own with probability `min(1, p_c / p_parent)`.
/// - **Correlation**: the roots are cut into consecutive groups of `group_size` (the last may
///   be smaller; consecutive features have similar frequencies). On each row a group *event*
///   fires with probability `q_g = correlation · min_{i∈g} p_i` and turns on every member;
///   otherwise each member fires on its own with probability `(p_i − q_g) / (1 − q_g)`, so the
///   marginal stays `p_i` while `P(i and j) = q_g + (1 − q_g) p'_i p'_j ≥ p_i p_j`. With
///   `correlation = 1` the rarest member of a group only ever fires with all the others.
///
/// All randomness is ChaCha8 from `seed` (the model) and from `(seed, stream)` (each
/// [`SyntheticModel::sample`]): the same numbers on every platform.
///
/// The defaults (128 dimensions, 512 features, 8 active per row, exponent 0.5: probabilities
/// from 18% down to 0.8%) are a 4×-overcomplete dictionary in the regime where a TopK SAE with
/// `k ≈ 8` can recover most features from ~50k rows.
#[derive(Config, Debug)]
pub struct SyntheticConfig {
    /// Width of the rows and of the true directions.
    #[config(default = 128)]
    pub d_in: usize,
    /// Number of true features (directions).
    #[config(default = 512)]
    pub n_features: usize,
    /// The expected number of active features per row, `Σ_i p_i` (in `(0, n_features]`).
    #[config(default = 8.0)]
    pub mean_active: f64,
    /// The Zipf exponent α of `p_i ∝ (i + 1)^(−α)`: 0 gives every feature the same
    /// probability, larger values a heavier head and a rarer tail (≥ 0).
    #[config(default = 0.5)]
    pub exponent: f64,
    /// The smallest magnitude of a firing feature (> 0).
    #[config(default = 0.5)]
    pub magnitude_min: f64,
    /// The mean magnitude of a firing feature (≥ `magnitude_min`; equal gives constant
    /// magnitudes).
    #[config(default = 1.0)]
    pub magnitude_mean: f64,
    /// In [0, 1]: the fraction of each root group's rarest member's probability that comes
    /// from the group firing together (0 = independent features).
    #[config(default = 0.0)]
    pub correlation: f64,
    /// Size of the correlated groups (≥ 1; used when `correlation > 0`).
    #[config(default = 4)]
    pub group_size: usize,
    /// In [0, 1): the fraction of features (the rarest) that are children of a root feature
    /// and fire only with it (0 = no hierarchy).
    #[config(default = 0.0)]
    pub hierarchy: f64,
    /// The number of feature trees (see the type's docs; 0: none). Not with `hierarchy`.
    #[config(default = 0)]
    pub tree_roots: usize,
    /// The children of every tree node above the last level (≥ 1).
    #[config(default = 4)]
    pub branching: usize,
    /// The levels of children below each tree's root (≥ 1).
    #[config(default = 2)]
    pub tree_depth: usize,
    /// Whether at most one child of a firing tree node fires (SynthSAEBench's mutual
    /// exclusion among siblings).
    #[config(default = true)]
    pub mutually_exclusive: bool,
    /// Standard deviation of the isotropic Gaussian noise added to every coordinate (≥ 0).
    #[config(default = 0.0)]
    pub noise_std: f64,
    /// Seed of the directions and of the parent choice; samples also depend on their stream.
    #[config(default = 0)]
    pub seed: u64,
}

/// [`Error::InvalidHyperParameter`] for a field of a [`SyntheticConfig`].
fn invalid(field: &'static str, value: impl ToString, expected: &'static str) -> Error {
    crate::error::invalid("synthetic", field, value, expected)
}

impl SyntheticConfig {
    /// Checks every field.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`] naming the first invalid field.
    pub fn validate(&self) -> Result<()> {
        if self.d_in == 0 {
            return Err(invalid("d_in", 0, "at least 1"));
        }
        if self.n_features == 0 {
            return Err(invalid("n_features", 0, "at least 1"));
        }
        if self
            .n_features
            .checked_mul(self.d_in)
            .is_none_or(|s| s > 1 << 34)
        {
            return Err(invalid(
                "n_features",
                self.n_features,
                "a size whose directions fit in memory (n_features · d_in ≤ 2^34)",
            ));
        }
        let m = self.mean_active;
        if !(m.is_finite() && m > 0.0 && m <= self.n_features as f64) {
            return Err(invalid("mean_active", m, "a number in (0, n_features]"));
        }
        if !(self.exponent.is_finite() && self.exponent >= 0.0) {
            return Err(invalid("exponent", self.exponent, "a finite number >= 0"));
        }
        if !(self.magnitude_min.is_finite() && self.magnitude_min > 0.0) {
            return Err(invalid(
                "magnitude_min",
                self.magnitude_min,
                "a finite number > 0",
            ));
        }
        if !(self.magnitude_mean.is_finite() && self.magnitude_mean >= self.magnitude_min) {
            return Err(invalid(
                "magnitude_mean",
                self.magnitude_mean,
                "a finite number >= magnitude_min",
            ));
        }
        if !(0.0..=1.0).contains(&self.correlation) {
            return Err(invalid(
                "correlation",
                self.correlation,
                "a number in [0, 1]",
            ));
        }
        if self.group_size == 0 {
            return Err(invalid("group_size", 0, "at least 1"));
        }
        if !(0.0..1.0).contains(&self.hierarchy) {
            return Err(invalid("hierarchy", self.hierarchy, "a fraction in [0, 1)"));
        }
        if !(self.noise_std.is_finite() && self.noise_std >= 0.0) {
            return Err(invalid("noise_std", self.noise_std, "a finite number >= 0"));
        }
        if self.tree_roots > 0 {
            if self.hierarchy > 0.0 {
                return Err(invalid(
                    "tree_roots",
                    self.tree_roots,
                    "0 when `hierarchy` > 0 (one kind of hierarchy at a time)",
                ));
            }
            if self.branching == 0 || self.tree_depth == 0 {
                return Err(invalid(
                    "branching",
                    format!("{} (tree_depth {})", self.branching, self.tree_depth),
                    "branching and tree_depth of at least 1",
                ));
            }
            if self.tree_size().is_none_or(|t| t > self.n_features) {
                return Err(invalid(
                    "tree_roots",
                    self.tree_roots,
                    "trees that fit in n_features (tree_roots · Σ_{l ≤ tree_depth} branching^l)",
                ));
            }
        }
        Ok(())
    }

    /// The number of features in the trees, `R · Σ_{l=0..=depth} b^l` (`None` on overflow).
    fn tree_size(&self) -> Option<usize> {
        let mut level = self.tree_roots;
        let mut total = level;
        for _ in 0..self.tree_depth {
            level = level.checked_mul(self.branching)?;
            total = total.checked_add(level)?;
        }
        Some(total)
    }

    /// A small SynthSAEBench (Chanin et al. 2026, SAELens' `synthetic` package): 4,096
    /// features in 256 dimensions, 64 trees of 4 children over 2 levels (1,344 features) with
    /// mutually exclusive siblings, the other 2,752 free; Zipf frequencies (exponent 0.5) summing
    /// to 25 active features per row, correlated firing among groups of 4 free or root features
    /// (`correlation` 0.5), exponential magnitudes from 0.5 with mean 1. SynthSAEBench-16k has
    /// 16,384 features in 768 dimensions, 128 trees of 4 over 3 levels, a rank-25 Gaussian-copula
    /// correlation and normal magnitudes near 4-5; this is a quarter of its width that trains on
    /// two cores.
    pub fn synth_sae_bench_small() -> Self {
        Self::new()
            .with_d_in(256)
            .with_n_features(4096)
            .with_mean_active(25.0)
            .with_exponent(0.5)
            .with_tree_roots(64)
            .with_branching(4)
            .with_tree_depth(2)
            .with_mutually_exclusive(true)
            .with_correlation(0.5)
            .with_group_size(4)
    }

    /// Draws the true directions and the hierarchy, and solves the firing probabilities.
    ///
    /// # Errors
    /// See [`validate`](Self::validate).
    pub fn init(&self) -> Result<SyntheticModel> {
        self.validate()?;
        let (n, d) = (self.n_features, self.d_in);
        let mut rng = chacha(self.seed, MODEL_STREAM_TAG, 0);
        let mut normals = Normals::default();
        let mut directions = vec![0.0f32; n * d];
        for dir in directions.chunks_exact_mut(d) {
            loop {
                let mut norm = 0.0f64;
                for v in dir.iter_mut() {
                    let g = normals.next(&mut rng);
                    norm += g * g;
                    *v = g as f32;
                }
                let norm = norm.sqrt();
                if norm > 1e-6 {
                    dir.iter_mut().for_each(|v| *v = (*v as f64 / norm) as f32);
                    break;
                }
            }
        }
        let p = zipf_probabilities(n, self.exponent, self.mean_active);
        // The features that fire on their own (possibly in groups), and the parents.
        let (n_roots, independent, parents, tree_children) = if self.tree_roots > 0 {
            let (r, b) = (self.tree_roots, self.branching);
            let tree_end = self.tree_size().expect("validated");
            let mut parents = vec![None; n];
            let mut tree_children = Vec::new();
            let (mut level_start, mut level_len) = (0, r);
            for _ in 0..self.tree_depth {
                let next = level_start + level_len;
                for k in 0..level_len {
                    let kids = next + k * b..next + (k + 1) * b;
                    kids.clone()
                        .for_each(|c| parents[c] = Some(level_start + k));
                    tree_children.push((level_start + k, kids));
                }
                (level_start, level_len) = (next, level_len * b);
            }
            (n, vec![0..r, tree_end..n], parents, tree_children)
        } else {
            let n_roots = n - (self.hierarchy * n as f64).floor() as usize;
            let parents: Vec<Option<usize>> = (0..n)
                .map(|i| (i >= n_roots).then(|| rng.random_range(0..n_roots as u64) as usize))
                .collect();
            let roots: Range<usize> = 0..n_roots;
            (n_roots, vec![roots], parents, Vec::new())
        };
        let groups: Vec<Range<usize>> = independent
            .iter()
            .flat_map(|range| {
                range
                    .clone()
                    .step_by(self.group_size)
                    .map(move |s| s..(s + self.group_size).min(range.end))
            })
            .collect();
        let mut group_probability = Vec::with_capacity(groups.len());
        let mut own = vec![0.0f64; n];
        for g in &groups {
            // Probabilities decrease with the index: the group's rarest member is its last.
            let q = self.correlation * p[g.end - 1];
            group_probability.push(q);
            for i in g.clone() {
                own[i] = if q >= 1.0 {
                    1.0
                } else {
                    (p[i] - q) / (1.0 - q)
                };
            }
        }
        for i in n_roots..n {
            let parent = parents[i].expect("children have parents");
            own[i] = (p[i] / p[parent]).min(1.0);
        }
        for (parent, kids) in &tree_children {
            let ratio = |c: usize| p[c] / p[*parent];
            let scale = if self.mutually_exclusive {
                1.0 / kids.clone().map(ratio).sum::<f64>().max(1.0)
            } else {
                1.0
            };
            for c in kids.clone() {
                own[c] = (ratio(c) * scale).min(1.0);
            }
        }
        Ok(SyntheticModel {
            config: self.clone(),
            directions,
            firing_probabilities: p,
            parents,
            groups,
            group_probability,
            own,
            n_roots,
            tree_children,
        })
    }
}

/// `p_i = min(1, s (i+1)^(−α))` with `Σ p_i = mean_active`: the smallest number `k` of leading
/// features clamped to 1 such that `s = (m − k) / Σ_{i≥k} w_i` keeps `s w_k ≤ 1`.
fn zipf_probabilities(n: usize, exponent: f64, mean_active: f64) -> Vec<f64> {
    let w: Vec<f64> = (0..n).map(|i| ((i + 1) as f64).powf(-exponent)).collect();
    let mut tail = vec![0.0f64; n + 1];
    for i in (0..n).rev() {
        tail[i] = tail[i + 1] + w[i];
    }
    for k in 0..n {
        let s = (mean_active - k as f64) / tail[k];
        if s * w[k] <= 1.0 {
            return (0..n)
                .map(|i| if i < k { 1.0 } else { (s * w[i]).min(1.0) })
                .collect();
        }
    }
    vec![1.0; n]
}

/// Distinguishes the model's random stream from the samples' (the second word of the key).
const MODEL_STREAM_TAG: u64 = 0x6d6f_6465_6c00_0000;
const SAMPLE_STREAM_TAG: u64 = 0x7361_6d70_6c65_0000;

/// A ChaCha8 generator keyed by `(seed, tag)`, on stream `stream`.
fn chacha(seed: u64, tag: u64, stream: u64) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&tag.to_le_bytes());
    let mut rng = ChaCha8Rng::from_seed(key);
    rng.set_stream(stream);
    rng
}

/// Standard normals by Box–Muller, using both halves of each pair.
#[derive(Default)]
struct Normals(Option<f64>);

impl Normals {
    fn next(&mut self, rng: &mut ChaCha8Rng) -> f64 {
        if let Some(v) = self.0.take() {
            return v;
        }
        let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
        let u2: f64 = rng.random::<f64>();
        let r = (-2.0 * u1.ln()).sqrt();
        let t = std::f64::consts::TAU * u2;
        self.0 = Some(r * t.sin());
        r * t.cos()
    }
}

/// The model of a [`SyntheticConfig`]: the true directions, the firing probabilities and the
/// hierarchy, fixed by the seed. [`sample`](Self::sample) draws rows from it.
#[derive(Debug, Clone)]
pub struct SyntheticModel {
    config: SyntheticConfig,
    directions: Vec<f32>,
    firing_probabilities: Vec<f64>,
    parents: Vec<Option<usize>>,
    groups: Vec<Range<usize>>,
    /// `q_g` of each group.
    group_probability: Vec<f64>,
    /// A root's probability of firing outside its group's event; a child's given its parent.
    own: Vec<f64>,
    /// The one-level hierarchy's children are `n_roots..n` (none with trees).
    n_roots: usize,
    /// Every tree node with children, and its children, in breadth-first order.
    tree_children: Vec<(usize, Range<usize>)>,
}

impl SyntheticModel {
    /// The configuration it was built from.
    pub fn config(&self) -> &SyntheticConfig {
        &self.config
    }

    /// The true directions, row-major `[n_features, d_in]`, unit norm.
    pub fn directions(&self) -> &[f32] {
        &self.directions
    }

    /// Each feature's marginal firing probability `p_i` (non-increasing in `i`, sum
    /// `mean_active`).
    pub fn firing_probabilities(&self) -> &[f64] {
        &self.firing_probabilities
    }

    /// Each feature's parent: `None` for a root or free feature, `Some(parent)` for a child.
    pub fn parents(&self) -> &[Option<usize>] {
        &self.parents
    }

    /// The correlated groups of the features that fire on their own (consecutive index ranges
    /// covering the roots and, with trees, the free features).
    pub fn groups(&self) -> &[Range<usize>] {
        &self.groups
    }

    /// Draws `rows` rows from stream `stream`: the same `(seed, stream)` gives the same rows,
    /// different streams are independent draws from the same model (e.g. stream 0 for
    /// training, 1 for testing).
    pub fn sample(&self, rows: usize, stream: u64) -> SyntheticData {
        let c = &self.config;
        let (n, d) = (c.n_features, c.d_in);
        let mut rng = chacha(c.seed, SAMPLE_STREAM_TAG, stream);
        let mut normals = Normals::default();
        let scale = c.magnitude_mean - c.magnitude_min;
        let mut active = vec![false; n];
        let expected = (c.mean_active * rows as f64 * 1.1) as usize + 16;
        let mut codes = SparseCodes {
            n_features: n,
            offsets: Vec::with_capacity(rows + 1),
            features: Vec::with_capacity(expected),
            values: Vec::with_capacity(expected),
        };
        codes.offsets.push(0);
        let mut data = vec![0.0f32; rows * d];
        for row in data.chunks_exact_mut(d) {
            for (g, &q) in self.groups.iter().zip(&self.group_probability) {
                let event = q > 0.0 && rng.random::<f64>() < q;
                for i in g.clone() {
                    active[i] = event || rng.random::<f64>() < self.own[i];
                }
            }
            for i in self.n_roots..n {
                let parent = self.parents[i].expect("children have parents");
                active[i] = active[parent] && rng.random::<f64>() < self.own[i];
            }
            // Parents come before their children (breadth first).
            for (parent, kids) in &self.tree_children {
                kids.clone().for_each(|c| active[c] = false);
                if !active[*parent] {
                    continue;
                }
                if c.mutually_exclusive {
                    let mut u = rng.random::<f64>();
                    for k in kids.clone() {
                        if u < self.own[k] {
                            active[k] = true;
                            break;
                        }
                        u -= self.own[k];
                    }
                } else {
                    for k in kids.clone() {
                        active[k] = rng.random::<f64>() < self.own[k];
                    }
                }
            }
            for (i, dir) in self.directions.chunks_exact(d).enumerate() {
                if active[i] {
                    let e = -(1.0 - rng.random::<f64>()).ln();
                    let m = (c.magnitude_min + scale * e) as f32;
                    codes.features.push(i);
                    codes.values.push(m);
                    row.iter_mut().zip(dir).for_each(|(r, v)| *r += m * v);
                }
            }
            if c.noise_std > 0.0 {
                for r in row.iter_mut() {
                    *r += (c.noise_std * normals.next(&mut rng)) as f32;
                }
            }
            codes.offsets.push(codes.features.len());
        }
        SyntheticData {
            d_in: d,
            n_features: n,
            directions: self.directions.clone(),
            rows: data,
            codes,
            firing_probabilities: self.firing_probabilities.clone(),
        }
    }
}

/// The true codes of a sample, one sparse row per data row (CSR): row `b`'s active features
/// are `features[offsets[b]..offsets[b + 1]]` (increasing) with coefficients `values[..]`
/// (all > 0).
#[derive(Debug, Clone, PartialEq)]
pub struct SparseCodes {
    /// Number of features (the dense width).
    pub n_features: usize,
    /// Row starts, `rows + 1` entries from 0 to `features.len()`.
    pub offsets: Vec<usize>,
    /// The active features of each row, increasing within a row.
    pub features: Vec<usize>,
    /// Their coefficients.
    pub values: Vec<f32>,
}

impl SparseCodes {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Row `b`: its active features and their coefficients.
    pub fn row(&self, b: usize) -> (&[usize], &[f32]) {
        let r = self.offsets[b]..self.offsets[b + 1];
        (&self.features[r.clone()], &self.values[r])
    }

    /// Number of nonzero coefficients.
    pub fn nnz(&self) -> usize {
        self.features.len()
    }

    /// Row-major dense `[rows, n_features]` coefficients.
    pub fn to_dense(&self) -> Vec<f32> {
        let mut out = vec![0.0f32; self.rows() * self.n_features];
        for b in 0..self.rows() {
            let (f, v) = self.row(b);
            let dense = &mut out[b * self.n_features..(b + 1) * self.n_features];
            for (&i, &c) in f.iter().zip(v) {
                dense[i] = c;
            }
        }
        out
    }
}

/// Rows drawn by [`SyntheticModel::sample`], with the truth they were made from.
#[derive(Debug, Clone)]
pub struct SyntheticData {
    /// Width.
    pub d_in: usize,
    /// Number of true features.
    pub n_features: usize,
    /// The true directions, row-major `[n_features, d_in]`, unit norm.
    pub directions: Vec<f32>,
    /// The rows, row-major `[n, d_in]`: `x_b = Σ_i c_bi d_i (+ noise)`.
    pub rows: Vec<f32>,
    /// The true coefficients `c_bi` (sparse; [`SparseCodes::to_dense`] for `[n, n_features]`).
    pub codes: SparseCodes,
    /// Each feature's marginal firing probability under the model.
    pub firing_probabilities: Vec<f64>,
}

impl SyntheticData {
    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.codes.rows()
    }

    /// Each feature's observed firing frequency in these rows.
    pub fn firing_frequencies(&self) -> Vec<f64> {
        let mut count = vec![0u64; self.n_features];
        self.codes.features.iter().for_each(|&i| count[i] += 1);
        let n = self.n_rows().max(1) as f64;
        count.into_iter().map(|c| c as f64 / n).collect()
    }

    /// The mean number of active features per row.
    pub fn mean_active(&self) -> f64 {
        self.codes.nnz() as f64 / self.n_rows().max(1) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zipf_probabilities_sum_to_mean_active_and_clamp() {
        for (n, a, m) in [
            (512, 0.5, 8.0),
            (512, 1.0, 8.0),
            (10, 2.0, 3.0),
            (4, 0.0, 4.0),
        ] {
            let p = zipf_probabilities(n, a, m);
            let sum: f64 = p.iter().sum();
            assert!((sum - m).abs() < 1e-9, "{n} {a} {m}: {sum}");
            assert!(p.iter().all(|&v| v > 0.0 && v <= 1.0));
            assert!(p.windows(2).all(|w| w[0] >= w[1]));
        }
        // Exponent 1 with 8 of 512 active: feature 0 would exceed 1 and is clamped.
        let p = zipf_probabilities(512, 1.0, 8.0);
        assert_eq!(p[0], 1.0);
        assert!(p[1] < 1.0);
        // Exponent 0: uniform.
        let p = zipf_probabilities(8, 0.0, 2.0);
        assert!(p.iter().all(|&v| (v - 0.25).abs() < 1e-12));
    }

    #[test]
    fn children_are_the_rarest_and_have_root_parents() {
        let m = SyntheticConfig::new()
            .with_n_features(40)
            .with_d_in(8)
            .with_hierarchy(0.25)
            .init()
            .unwrap();
        let kids: Vec<usize> = (0..40).filter(|&i| m.parents()[i].is_some()).collect();
        assert_eq!(kids, (30..40).collect::<Vec<_>>());
        assert!(m.parents()[30..].iter().all(|p| p.unwrap() < 30));
        assert_eq!(m.groups().first(), Some(&(0..4)));
        assert_eq!(m.groups().last(), Some(&(28..30)));
    }

    #[test]
    fn trees_are_breadth_first_with_exclusive_siblings_and_zipf_marginals() {
        let config = SyntheticConfig::new()
            .with_n_features(60)
            .with_d_in(16)
            .with_mean_active(6.0)
            .with_tree_roots(2)
            .with_branching(3)
            .with_tree_depth(2);
        let m = config.init().unwrap();
        // Roots 0, 1; level 1: 2..8; level 2: 8..26; free: 26..60.
        assert_eq!(m.parents()[2..5], [Some(0); 3]);
        assert_eq!(m.parents()[5..8], [Some(1); 3]);
        assert_eq!(m.parents()[8..11], [Some(2); 3]);
        assert_eq!(m.parents()[23..26], [Some(7); 3]);
        assert!(m.parents()[26..].iter().all(Option::is_none));
        assert!(m.parents()[..2].iter().all(Option::is_none));
        assert_eq!(m.groups().first(), Some(&(0..2)));
        assert_eq!(m.groups()[1], 26..30);
        let data = m.sample(40_000, 3);
        let freq = data.firing_frequencies();
        for b in 0..data.n_rows() {
            let (f, _) = data.codes.row(b);
            for &i in f {
                if let Some(parent) = m.parents()[i] {
                    assert!(
                        f.contains(&parent),
                        "row {b}: {i} without its parent {parent}"
                    );
                }
            }
            // At most one child of each parent.
            for parent in 0..8 {
                let kids = f
                    .iter()
                    .filter(|&&i| m.parents()[i] == Some(parent))
                    .count();
                assert!(kids <= 1, "row {b}: {kids} children of {parent}");
            }
        }
        // Where the siblings' ratios sum to at most 1, every marginal is its Zipf value.
        let p = m.firing_probabilities();
        let fits = |parent: usize| {
            m.parents()
                .iter()
                .enumerate()
                .filter(|(_, q)| **q == Some(parent))
                .map(|(c, _)| p[c] / p[parent])
                .sum::<f64>()
                <= 1.0
        };
        for i in 0..60 {
            let exact = m.parents()[i].is_none_or(|q| fits(q) && m.parents()[q].is_none_or(fits));
            if exact {
                let sd = (p[i] * (1.0 - p[i]) / 40_000.0).sqrt();
                assert!(
                    (freq[i] - p[i]).abs() < 5.0 * sd + 1e-3,
                    "{i}: {} vs {}",
                    freq[i],
                    p[i]
                );
            }
        }
        let bad = config
            .clone()
            .with_hierarchy(0.2)
            .init()
            .unwrap_err()
            .to_string();
        assert!(bad.contains("tree_roots"), "{bad}");
        assert!(
            config.clone().with_tree_roots(7).init().is_err(),
            "7 trees of 13 > 60"
        );
        assert!(config.with_branching(0).init().is_err());
    }

    #[test]
    fn directions_are_unit() {
        let m = SyntheticConfig::new().init().unwrap();
        for dir in m.directions().chunks_exact(128) {
            let n: f32 = dir.iter().map(|v| v * v).sum();
            assert!((n - 1.0).abs() < 1e-5);
        }
    }
}
