//! Seed stability: how much of one SAE's dictionary an SAE trained with another seed learns
//! again (Paulo & Belrose 2025 found about 30 % of latents shared between seeds at 131k
//! latents on Llama-3-8B). Two decoders are matched one-to-one by the Hungarian algorithm on
//! `|cos|`, as the synthetic scorer matches latents to true features
//! ([`match_directions`]):
//!
//! ```text
//! mcc(A, B)    = (1 / d_sae) Σ_{(i,j)∈M} |cos(A_i, B_j)|       (the matching M maximises the sum)
//! shared(A, B) = (1 / d_sae) #{(i,j) ∈ M : |cos(A_i, B_j)| ≥ 0.7}
//! ```
//!
//! and [`seed_stability`] averages both over every pair of seeds. Both are symmetric for
//! dictionaries of one size (the matching of `B` to `A` is the transpose of that of `A` to `B`).
//! Dead latents count: their directions are whatever their initialisation left.

use serde::{Deserialize, Serialize};

use crate::synthetic::match_directions;
use crate::{Error, Result, Sae, SaeConfig, TrainConfig};

/// The |cosine| from which a matched pair of latents counts as shared (Paulo & Belrose's 0.7).
pub const SHARED_COSINE: f64 = 0.7;

/// How alike the dictionaries of several seeds are (see the [module docs](self)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedStability {
    /// The mean over pairs of seeds of the matched mean |cos|.
    pub mcc: f64,
    /// The lowest pair's matched mean |cos|.
    pub min_mcc: f64,
    /// The mean over pairs of the fraction of latents matched at |cos| ≥ [`SHARED_COSINE`].
    pub shared: f64,
    /// The number of pairs, `S (S − 1) / 2`.
    pub pairs: usize,
}

/// `(mcc, shared)` of two decoders `[d_sae, d_in]` (row-major, the same `d_sae`).
///
/// # Errors
/// [`Error::Shape`] when either is not a positive multiple of `d_in` or they differ in size.
pub fn decoder_agreement(a: &[f32], b: &[f32], d_in: usize) -> Result<(f64, f64)> {
    if a.len() != b.len() {
        return Err(Error::Shape(format!(
            "decoders of {} and {} values cannot be compared latent for latent",
            a.len(),
            b.len()
        )));
    }
    let pairs = match_directions(a, b, d_in)?;
    let n = (a.len() / d_in) as f64;
    let mcc = pairs.iter().map(|p| p.cosine.abs()).sum::<f64>() / n;
    let shared = pairs
        .iter()
        .filter(|p| p.cosine.abs() >= SHARED_COSINE)
        .count() as f64
        / n;
    Ok((mcc, shared))
}

/// The [`SeedStability`] of `decoders` (each `[d_sae, d_in]` row-major, one per seed).
///
/// ```
/// use sparse_autoencoders::stability::seed_stability;
///
/// // Two seeds that found the same two directions, in another order and sign.
/// let a = [1.0, 0.0, 0.0, 1.0];
/// let b = [0.0, -2.0, 3.0, 0.0];
/// let s = seed_stability(&[a.to_vec(), b.to_vec()], 2)?;
/// assert_eq!((s.mcc, s.shared, s.pairs), (1.0, 1.0, 1));
/// # Ok::<(), sparse_autoencoders::Error>(())
/// ```
///
/// # Errors
/// [`Error::Shape`] with fewer than two decoders, or decoders of other sizes.
pub fn seed_stability(decoders: &[Vec<f32>], d_in: usize) -> Result<SeedStability> {
    if decoders.len() < 2 {
        return Err(Error::Shape(format!(
            "seed stability needs at least two seeds' decoders, got {}",
            decoders.len()
        )));
    }
    let (mut sum, mut min, mut shared, mut pairs) = (0.0, f64::INFINITY, 0.0, 0);
    for (i, a) in decoders.iter().enumerate() {
        for b in &decoders[i + 1..] {
            let (m, s) = decoder_agreement(a, b, d_in)?;
            sum += m;
            min = min.min(m);
            shared += s;
            pairs += 1;
        }
    }
    Ok(SeedStability {
        mcc: sum / pairs as f64,
        min_mcc: min,
        shared: shared / pairs as f64,
        pairs,
    })
}

/// The decoders of `saes`, for [`seed_stability`].
pub fn decoders(saes: &[Sae]) -> Vec<Vec<f32>> {
    saes.iter()
        .map(|s| {
            s.w_dec
                .val()
                .into_data()
                .try_to_vec::<f32>()
                .expect("decoders are f32")
        })
        .collect()
}

/// `seeds` copies of `config` with the seeds `config.seed`, `config.seed + 1`, … (their
/// initialisations differ; [`fit_many`](crate::fit_many) then trains them on one pass over the
/// data, every model on the same batches, so the seed is the only difference).
pub fn seeded(config: &SaeConfig, seeds: usize) -> Vec<SaeConfig> {
    (0..seeds as u64)
        .map(|s| config.clone().with_seed(config.seed.wrapping_add(s)))
        .collect()
}

/// Trains `seeds` seeds of `config` on `rows` with [`fit_many`](crate::fit_many) (one pass
/// over the data for all of them) and returns the models with their [`SeedStability`].
///
/// ```
/// use std::sync::Arc;
/// use burn::prelude::*;
/// use sparse_autoencoders::prelude::*;
/// use sparse_autoencoders::stability::fit_seeds;
///
/// let data = Planted::new(16, 24, 512, 0.1, 0);
/// let rows = Arc::new(data.rows.clone());
/// let config = SaeConfig::new(16, 24).with_architecture(Architecture::TopK(arch::TopKConfig { k: 3 }));
/// let train = TrainConfig::new().with_epochs(3).with_batch_size(64);
/// let (models, stability) = fit_seeds(&config, 3, rows, &train, &Device::flex().autodiff())?;
/// assert_eq!((models.len(), stability.pairs), (3, 3));
/// assert!(stability.mcc > 0.0 && stability.mcc <= 1.0);
/// # Ok::<(), sparse_autoencoders::Error>(())
/// ```
///
/// # Errors
/// Those of [`SaeConfig::init_with_data`] and [`fit_many`](crate::fit_many); [`Error::Shape`]
/// with fewer than two seeds.
pub fn fit_seeds(
    config: &SaeConfig,
    seeds: usize,
    rows: std::sync::Arc<Vec<f32>>,
    train: &TrainConfig,
    device: &burn::prelude::Device,
) -> Result<(Vec<Sae>, SeedStability)> {
    if seeds < 2 {
        return Err(Error::Shape(format!(
            "seed stability needs at least two seeds, got {seeds}"
        )));
    }
    let saes = seeded(config, seeds)
        .iter()
        .map(|c| c.init_with_data(&rows, device))
        .collect::<Result<Vec<_>>>()?;
    let models = crate::fit_many(saes, rows, train, |_, _| {})?;
    let stability = seed_stability(&decoders(&models), config.d_in)?;
    Ok((models, stability))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agreement_is_symmetric_and_counts_unmatched_directions() {
        // b has a's first direction (flipped), and a second one at 45° to a's second.
        let a = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0];
        let h = std::f32::consts::FRAC_1_SQRT_2;
        let b = [-1.0, 0.0, 0.0, 0.0, h, h];
        let (m, s) = decoder_agreement(&a, &b, 3).unwrap();
        let (m2, s2) = decoder_agreement(&b, &a, 3).unwrap();
        assert!((m - (1.0 + f64::from(h)) / 2.0).abs() < 1e-6, "{m}");
        assert_eq!(s, 1.0); // 0.707 ≥ 0.7
        assert!((m - m2).abs() < 1e-9 && s == s2);
        assert!(decoder_agreement(&a, &b[..3], 3).is_err());
        assert!(seed_stability(&[a.to_vec()], 3).is_err());
    }

    #[test]
    fn stability_averages_every_pair() {
        let a = vec![1.0, 0.0, 0.0, 1.0];
        let b = vec![0.0, 1.0, 1.0, 0.0];
        let c = vec![1.0, 1.0, 1.0, -1.0]; // 45° from both
        let s = seed_stability(&[a, b, c], 2).unwrap();
        let h = std::f64::consts::FRAC_1_SQRT_2;
        assert_eq!(s.pairs, 3);
        assert!((s.mcc - (1.0 + 2.0 * h) / 3.0).abs() < 1e-6, "{}", s.mcc);
        assert!((s.min_mcc - h).abs() < 1e-6);
        assert!((s.shared - 1.0).abs() < 1e-12);
    }
}
