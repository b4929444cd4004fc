//! [`Planted`]: the simplest planted dictionary, for quick tests: `x = Σ_j c_j d_j`, with `n`
//! unit-norm true directions `d_j` in `d_in` dimensions, each firing independently with
//! probability `p` and a magnitude uniform in [0.5, 1.5]. The benchmark with heavy-tailed
//! frequencies, correlation, hierarchy and scoring is [`SyntheticConfig`](super::SyntheticConfig).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::stats::normal_vec;

/// A planted dictionary and rows drawn from it.
#[derive(Debug, Clone)]
pub struct Planted {
    /// The true directions, row-major `[n_features, d_in]`, unit norm.
    pub directions: Vec<f32>,
    /// The rows, row-major `[rows, d_in]`.
    pub rows: Vec<f32>,
    /// Width.
    pub d_in: usize,
    /// Number of true features.
    pub n_features: usize,
}

impl Planted {
    /// `rows` rows over `n_features` random unit directions in `d_in` dimensions, each firing
    /// with probability `p`.
    pub fn new(d_in: usize, n_features: usize, rows: usize, p: f64, seed: u64) -> Self {
        let mut directions = normal_vec(d_in * n_features, 1.0, seed);
        for dir in directions.chunks_exact_mut(d_in) {
            let norm = dir.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
            dir.iter_mut().for_each(|v| *v /= norm);
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xDA7A);
        let mut data = vec![0.0f32; rows * d_in];
        for row in data.chunks_exact_mut(d_in) {
            for dir in directions.chunks_exact(d_in) {
                if rng.random::<f64>() < p {
                    let c = 0.5 + rng.random::<f32>();
                    row.iter_mut().zip(dir).for_each(|(r, v)| *r += c * v);
                }
            }
        }
        Self {
            directions,
            rows: data,
            d_in,
            n_features,
        }
    }

    /// For each true direction, the best |cosine| with any row of `decoder` (`[d_sae, d_in]`),
    /// averaged: 1 when every true feature has a latent pointing along it.
    pub fn mean_max_cosine(&self, decoder: &[f32]) -> f64 {
        let d = self.d_in;
        let atoms: Vec<(f32, &[f32])> = decoder
            .chunks_exact(d)
            .map(|a| (a.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12), a))
            .collect();
        let mut total = 0.0;
        for dir in self.directions.chunks_exact(d) {
            let best = atoms
                .iter()
                .map(|(n, a)| (a.iter().zip(dir).map(|(x, y)| x * y).sum::<f32>() / n).abs())
                .fold(0.0f32, f32::max);
            total += best as f64;
        }
        total / self.n_features as f64
    }
}
