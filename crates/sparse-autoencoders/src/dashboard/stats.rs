//! One pass over the data for every latent at once: firing counts, sums and maxima, the top-k
//! activating rows, a histogram of the activations on fixed log-spaced bins, and a uniform
//! reservoir sample of the firing rows (for quantile samples). Memory is
//! `O(d_sae · (top_k + samples + bins))`, whatever the number of rows.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The histogram's bins: `log10(v)` from [`LOG_LO`] in steps of [`LOG_STEP`], [`BINS`] of
/// them (values below the first bin's edge count in the first, above the last in the last).
pub const LOG_LO: f32 = -4.0;
/// The width of a histogram bin in `log10` units.
pub const LOG_STEP: f32 = 0.125;
/// The number of histogram bins (`10⁻⁴` to `10⁴`).
pub const BINS: usize = 64;

/// An activating row: its index in the data and the latent's value there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Example {
    /// The row's index in the data.
    pub row: u32,
    /// The latent's activation on it.
    pub value: f32,
}

/// What the pass collected of every latent.
#[derive(Debug, Clone)]
pub struct LatentStats {
    /// Number of latents.
    pub d_sae: usize,
    /// Rows seen.
    pub rows: usize,
    /// Rows on which each latent fired (a nonzero code), `[d_sae]`.
    pub count: Vec<u64>,
    /// Sum of each latent's activations where it fired, `[d_sae]`.
    pub sum: Vec<f64>,
    /// Each latent's largest activation (0 for a dead latent), `[d_sae]`.
    pub max: Vec<f32>,
    /// Each latent's log-spaced histogram, `[d_sae · BINS]`.
    pub histogram: Vec<u32>,
    top_k: usize,
    samples: usize,
    /// Each latent's top-k slots (unsorted), `[d_sae · top_k]`.
    top: Vec<Example>,
    /// Each latent's reservoir slots, `[d_sae · samples]`.
    reservoir: Vec<Example>,
    rng: ChaCha8Rng,
}

/// The histogram bin of a positive activation.
pub fn bin_of(v: f32) -> usize {
    let b = ((v.abs().max(1e-30).log10() - LOG_LO) / LOG_STEP).floor();
    b.clamp(0.0, (BINS - 1) as f32) as usize
}

impl LatentStats {
    /// Empty statistics for `d_sae` latents, keeping `top_k` examples and a reservoir of
    /// `samples` firing rows per latent (seeded by `seed`).
    pub fn new(d_sae: usize, top_k: usize, samples: usize, seed: u64) -> Self {
        let empty = Example {
            row: 0,
            value: f32::NEG_INFINITY,
        };
        Self {
            d_sae,
            rows: 0,
            count: vec![0; d_sae],
            sum: vec![0.0; d_sae],
            max: vec![0.0; d_sae],
            histogram: vec![0; d_sae * BINS],
            top_k,
            samples,
            top: vec![empty; d_sae * top_k],
            reservoir: vec![empty; d_sae * samples],
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// Adds a batch of codes (`[n, d_sae]` row-major) whose first row is row `first` of the
    /// data.
    pub fn push(&mut self, codes: &[f32], first: usize) {
        let h = self.d_sae;
        for (r, row) in codes.chunks_exact(h).enumerate() {
            let index = (first + r) as u32;
            for (j, &v) in row.iter().enumerate() {
                if v != 0.0 && v.is_finite() {
                    self.fire(j, index, v);
                }
            }
        }
        self.rows += codes.len() / h.max(1);
    }

    fn fire(&mut self, j: usize, row: u32, value: f32) {
        self.count[j] += 1;
        self.sum[j] += value as f64;
        if value > self.max[j] || self.count[j] == 1 {
            self.max[j] = value;
        }
        self.histogram[j * BINS + bin_of(value)] += 1;
        let e = Example { row, value };
        if self.top_k > 0 {
            let slots = &mut self.top[j * self.top_k..(j + 1) * self.top_k];
            let (mut low, mut at) = (f32::INFINITY, 0);
            for (i, s) in slots.iter().enumerate() {
                if s.value < low {
                    (low, at) = (s.value, i);
                }
            }
            if value > low {
                slots[at] = e;
            }
        }
        if self.samples > 0 {
            let c = self.count[j];
            let slot = if c as usize <= self.samples {
                Some(c as usize - 1)
            } else {
                let i = self.rng.random_range(0..c);
                (i < self.samples as u64).then_some(i as usize)
            };
            if let Some(s) = slot {
                self.reservoir[j * self.samples + s] = e;
            }
        }
    }

    /// Latent `j`'s firing frequency (fraction of rows).
    pub fn frequency(&self, j: usize) -> f64 {
        self.count[j] as f64 / self.rows.max(1) as f64
    }

    /// Latent `j`'s mean activation where it fires (0 for a dead latent).
    pub fn mean(&self, j: usize) -> f64 {
        if self.count[j] == 0 {
            0.0
        } else {
            self.sum[j] / self.count[j] as f64
        }
    }

    /// Latent `j`'s top activating rows, largest first.
    pub fn top(&self, j: usize) -> Vec<Example> {
        let mut v: Vec<Example> = self.top[j * self.top_k..(j + 1) * self.top_k]
            .iter()
            .copied()
            .filter(|e| e.value.is_finite())
            .collect();
        v.sort_by(|a, b| b.value.total_cmp(&a.value).then(a.row.cmp(&b.row)));
        v
    }

    /// A uniform sample of latent `j`'s firing rows, largest first.
    pub fn sample(&self, j: usize) -> Vec<Example> {
        let mut v: Vec<Example> = self.reservoir[j * self.samples..(j + 1) * self.samples]
            .iter()
            .copied()
            .filter(|e| e.value.is_finite())
            .collect();
        v.sort_by(|a, b| b.value.total_cmp(&a.value).then(a.row.cmp(&b.row)));
        v
    }

    /// Latent `j`'s histogram, [`BINS`] counts.
    pub fn histogram_of(&self, j: usize) -> &[u32] {
        &self.histogram[j * BINS..(j + 1) * BINS]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_pass_matches_the_definitions() {
        // 3 latents over 6 rows; latent 2 never fires.
        let codes = [
            1.0, 0.0, 0.0, //
            0.5, 2.0, 0.0, //
            0.0, 3.0, 0.0, //
            4.0, 0.0, 0.0, //
            0.25, 0.0, 0.0, //
            0.0, 1.0, 0.0,
        ];
        let mut s = LatentStats::new(3, 2, 8, 0);
        s.push(&codes[..9], 0);
        s.push(&codes[9..], 3);
        assert_eq!(s.rows, 6);
        assert_eq!(s.count, [4, 3, 0]);
        assert!((s.frequency(0) - 4.0 / 6.0).abs() < 1e-12);
        assert!((s.mean(0) - 5.75 / 4.0).abs() < 1e-12);
        assert_eq!(s.max, [4.0, 3.0, 0.0]);
        let top: Vec<(u32, f32)> = s.top(0).iter().map(|e| (e.row, e.value)).collect();
        assert_eq!(top, [(3, 4.0), (0, 1.0)]);
        // Fewer firings than reservoir slots: the sample is every firing row.
        let all: Vec<u32> = s.sample(1).iter().map(|e| e.row).collect();
        assert_eq!(all, [2, 1, 5]);
        assert!(s.top(2).is_empty() && s.sample(2).is_empty());
        // 1.0 → log10 = 0 → bin 32; 0.25 → -0.602 → bin 27.
        assert_eq!(bin_of(1.0), 32);
        assert_eq!(bin_of(0.25), 27);
        assert_eq!(s.histogram_of(0).iter().sum::<u32>(), 4);
        assert_eq!(s.histogram_of(0)[27], 1);
    }

    #[test]
    fn the_reservoir_is_uniform() {
        // One latent firing on 1,000 rows with value = row: a sample of 100 has mean ≈ 500.
        let mut means = Vec::new();
        for seed in 0..20 {
            let mut s = LatentStats::new(1, 1, 100, seed);
            let codes: Vec<f32> = (1..=1000).map(|v| v as f32).collect();
            s.push(&codes, 0);
            let sample = s.sample(0);
            assert_eq!(sample.len(), 100);
            means.push(sample.iter().map(|e| e.value as f64).sum::<f64>() / 100.0);
        }
        let mean = means.iter().sum::<f64>() / means.len() as f64;
        assert!((mean - 500.5).abs() < 20.0, "{mean}");
    }
}
