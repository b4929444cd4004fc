//! Neuron resampling (Bricken et al. 2023, "Towards Monosemanticity"): every
//! [`every`](ResampleConfig::every) optimizer steps, each dead latent (one that has not fired for
//! [`dead_window`](crate::SaeConfig::dead_window) training rows) is re-initialised towards an
//! input the SAE reconstructs badly, and its optimizer state is reset:
//!
//! ```text
//! pick row i of the batch with probability ∝ (‖x_i − x̂_i‖²)²     (with replacement)
//! u = (x_i − b_dec) / ‖x_i − b_dec‖
//! W_dec[j, :] = u        W_enc[:, j] = s · mean_{live l} ‖W_enc[:, l]‖ · u        b_enc[j] = 0
//! ```
//!
//! with `s` = [`encoder_scale`](ResampleConfig::encoder_scale) (0.2). The magnitude path of the
//! gated architectures (`r_mag[j]`, `b_mag[j]`) is reset to 0, the latent's dead count to 0,
//! and Adam's moments of every one of these entries to 0. The candidate rows come from the
//! batch of the step that resamples (Bricken et al. score a larger sample of the data; a batch
//! of a few thousand rows plays that part here). The choice is seeded by the SAE's seed and the
//! step, so a resumed run resamples as the uninterrupted one did.
//!
//! `TrainStep::step` picks the rows (it has the batch), passes them to `optimize` through the
//! gradients under two ids that are not parameters ([`DEAD_LATENTS`], [`NEW_DIRECTIONS`]), and
//! `optimize` applies them after the optimizer step, as it does the running statistics.

use burn::config::Config;
use burn::module::{Param, ParamId};
use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use burn::tensor::TensorData;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::arch::SaeArchitecture;
use crate::error::invalid;
use crate::params::{B_MAG, R_MAG};
use crate::train::step::remap;
use crate::{Result, Sae};

/// The id under which `step` passes the resampled latents' indices (as floats) to `optimize`.
pub(crate) const DEAD_LATENTS: u64 = 14;
/// The id under which `step` passes their new (unit) directions `[n_dead, d_in]`.
pub(crate) const NEW_DIRECTIONS: u64 = 15;

/// When and how dead latents are resampled (Bricken et al. 2023): after every
/// [`every`](Self::every)-th optimizer step (up to [`until`](Self::until)), each latent that has
/// not fired for [`dead_window`](crate::SaeConfig::dead_window) training rows is re-initialised
/// towards a row of the step's batch that the SAE reconstructs badly, and its optimizer state is
/// reset:
///
/// ```text
/// pick row i of the batch with probability ∝ (‖x_i − x̂_i‖²)²     (with replacement)
/// u = (x_i − b_dec) / ‖x_i − b_dec‖
/// W_dec[j, :] = u        W_enc[:, j] = s · mean_{live l} ‖W_enc[:, l]‖ · u        b_enc[j] = 0
/// ```
///
/// with `s` = [`encoder_scale`](Self::encoder_scale); the gated architectures' magnitude path
/// (`r_mag[j]`, `b_mag[j]`) and the latent's dead count are reset to 0, and Adam's moments of
/// every one of these entries too. The draw is seeded by the SAE's seed and the step, so a
/// resumed run resamples as the uninterrupted one did.
#[derive(Config, Debug, PartialEq)]
pub struct ResampleConfig {
    /// Resample the dead latents after every this many optimizer steps (≥ 1).
    pub every: usize,
    /// No resampling after this many optimizer steps (`None`: until the end). Bricken et al.
    /// resample during the first half of training only, so that the last resampled latents
    /// have time to settle.
    #[config(default = "None")]
    pub until: Option<usize>,
    /// The norm of a resampled encoder column, as a fraction of the mean norm of the live
    /// latents' columns (Bricken et al.: 0.2).
    #[config(default = 0.2)]
    pub encoder_scale: f64,
}

impl ResampleConfig {
    /// Checks the fields.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`](crate::Error::InvalidHyperParameter) naming the first
    /// invalid field.
    pub fn validate(&self) -> Result<()> {
        if self.every == 0 {
            return Err(invalid("resample", "every", 0, "at least 1 step"));
        }
        if !(self.encoder_scale.is_finite() && self.encoder_scale > 0.0) {
            return Err(invalid(
                "resample",
                "encoder_scale",
                self.encoder_scale,
                "a finite number > 0",
            ));
        }
        Ok(())
    }

    /// Whether the optimizer step that follows `steps_taken` earlier ones resamples.
    pub fn due(&self, steps_taken: usize) -> bool {
        (steps_taken + 1).is_multiple_of(self.every) && self.until.is_none_or(|u| steps_taken < u)
    }
}

/// One resample: the dead latents and, for each, its new unit direction (`[n_dead, d_in]`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Resample {
    pub dead: Vec<usize>,
    pub directions: Vec<f32>,
}

impl Sae {
    /// The resample that the step after `self.step` earlier ones makes on the batch `x` with
    /// reconstruction `x_hat`, or `None` (not due, no dead latent, or every row reconstructed
    /// exactly and equal to `b_dec`).
    pub(crate) fn plan_resample(&self, x: &Tensor<2>, x_hat: &Tensor<2>) -> Option<Resample> {
        let config = self.config.resample.as_ref()?;
        if self.finetuning || !config.due(self.step) {
            return None;
        }
        let since: Vec<f32> = self
            .since_fired
            .val()
            .into_data()
            .try_to_vec::<f32>()
            .ok()?;
        let window = self.config.dead_window as f32;
        let dead: Vec<usize> = (0..since.len()).filter(|&j| since[j] >= window).collect();
        if dead.is_empty() {
            return None;
        }
        let x = x.clone().detach().without_autodiff();
        let x_hat = x_hat.clone().detach().without_autodiff();
        let err: Vec<f32> = (x_hat - x.clone())
            .square()
            .sum_dim(1)
            .into_data()
            .try_to_vec::<f32>()
            .ok()?;
        let centred: Vec<f32> = (x - self.b_dec.val().detach().without_autodiff().unsqueeze())
            .into_data()
            .try_to_vec::<f32>()
            .ok()?;
        let d = self.config.d_in;
        // Rows that can give a direction, weighted by their squared loss.
        let norms: Vec<f64> = centred
            .chunks(d)
            .map(|r| r.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>().sqrt())
            .collect();
        let weights: Vec<f64> = err
            .iter()
            .zip(&norms)
            .map(|(&e, &n)| if n > 0.0 { f64::from(e).powi(2) } else { 0.0 })
            .collect();
        let usable: Vec<f64> = norms.iter().map(|&n| f64::from(n > 0.0)).collect();
        let weights = if weights.iter().sum::<f64>() > 0.0 {
            weights
        } else if usable.iter().sum::<f64>() > 0.0 {
            usable
        } else {
            return None;
        };
        let seed = self.config.seed ^ (self.step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let picks = sample_weighted(&weights, dead.len(), seed);
        let mut directions = Vec::with_capacity(dead.len() * d);
        for i in picks {
            let inv = 1.0 / norms[i];
            directions.extend(
                centred[i * d..(i + 1) * d]
                    .iter()
                    .map(|&v| (f64::from(v) * inv) as f32),
            );
        }
        Some(Resample { dead, directions })
    }

    /// The SAE with `r` applied (see the [module docs](self)); the optimizer's state of the
    /// resampled entries is reset by [`reset_rows`].
    pub(crate) fn apply_resample(mut self, r: &Resample) -> Self {
        let Some(config) = self.config.resample.clone() else {
            return self;
        };
        let (d, h) = (self.config.d_in, self.config.d_sae);
        let is_dead = {
            let mut v = vec![false; h];
            r.dead.iter().for_each(|&j| v[j] = true);
            v
        };
        let mut w_enc = host(self.w_enc.val());
        let live_norms: Vec<f64> = (0..h)
            .filter(|&j| !is_dead[j])
            .map(|j| {
                (0..d)
                    .map(|i| f64::from(w_enc[i * h + j]).powi(2))
                    .sum::<f64>()
                    .sqrt()
            })
            .collect();
        let mean_live = if live_norms.is_empty() {
            1.0
        } else {
            live_norms.iter().sum::<f64>() / live_norms.len() as f64
        };
        let scale = (config.encoder_scale * mean_live) as f32;
        let mut w_dec = host(self.w_dec.val());
        let mut b_enc = host(self.b_enc.val());
        let mut since = host(self.since_fired.val());
        for (n, &j) in r.dead.iter().enumerate() {
            let u = &r.directions[n * d..(n + 1) * d];
            w_dec[j * d..(j + 1) * d].copy_from_slice(u);
            for (i, &v) in u.iter().enumerate() {
                w_enc[i * h + j] = scale * v;
            }
            b_enc[j] = 0.0;
            since[j] = 0.0;
        }
        self.w_enc = set(self.w_enc, w_enc, [d, h]);
        self.w_dec = set(self.w_dec, w_dec, [h, d]);
        self.b_enc = set(self.b_enc, b_enc, [h]);
        let device = self.since_fired.val().device().without_autodiff();
        let since = Tensor::<1>::from_data(TensorData::new(since, [h]), &device);
        // A statistic, not trained: the step's own `replace`, which keeps it without gradient.
        self.since_fired = crate::train::step::replace(self.since_fired, since);
        self.arch = self.arch.map_magnitude(|mut path| {
            let mut r_mag = host(path.r_mag.val());
            let mut b_mag = host(path.b_mag.val());
            for &j in &r.dead {
                r_mag[j] = 0.0;
                b_mag[j] = 0.0;
            }
            path.r_mag = set(path.r_mag, r_mag, [h]);
            path.b_mag = set(path.b_mag, b_mag, [h]);
            path
        });
        self
    }
}

/// `n` indices drawn with replacement, index `i` with probability `weights[i] / Σ weights`
/// (the weights are non-negative with a positive sum).
fn sample_weighted(weights: &[f64], n: usize, seed: u64) -> Vec<usize> {
    let mut cumulative = Vec::with_capacity(weights.len());
    let mut total = 0.0;
    for &w in weights {
        total += w;
        cumulative.push(total);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let t = rng.random::<f64>() * total;
            cumulative
                .partition_point(|&c| c <= t)
                .min(weights.len() - 1)
        })
        .map(|mut i| {
            // A zero-weight index can only be hit at a boundary: step to the next positive one.
            while weights[i] == 0.0 {
                i = (i + 1) % weights.len();
            }
            i
        })
        .collect()
}

/// The values of a tensor, on the host.
fn host<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.detach()
        .without_autodiff()
        .into_data()
        .try_to_vec::<f32>()
        .expect("SAE parameters are f32")
}

/// A trainable parameter with new values (same id, device and autodiff association).
fn set<const D: usize>(
    p: Param<Tensor<D>>,
    values: Vec<f32>,
    shape: [usize; D],
) -> Param<Tensor<D>> {
    remap(p, |old| {
        Tensor::<D>::from_data(TensorData::new(values, shape), &old.device())
    })
}

/// Resets to 0 the optimizer's state (Adam's moments) of the `dead` latents' entries:
/// `W_enc`'s columns, `b_enc`'s and the magnitude path's entries, `W_dec`'s rows. The state goes
/// through its burnpack record, the one public way into it; an entry with no state yet (a
/// parameter not stepped) is left as it is.
///
/// # Errors
/// [`Error::Training`](crate::Error::Training) when the record cannot be written or read back
/// (a bug, not an input error).
pub(crate) fn reset_rows(
    optim: &mut ModuleOptimizer,
    dead: &[usize],
    d_in: usize,
    d_sae: usize,
) -> Result<()> {
    let fail = |e: String| crate::Error::Training(format!("resetting the optimizer state: {e}"));
    let bytes = optim.into_bytes().map_err(|e| fail(e.to_string()))?;
    let reader = burn_pack::Reader::from_bytes(bytes).map_err(|e| fail(e.to_string()))?;
    let scalars = reader.scalars().clone();
    let metadata = reader.metadata().clone();
    let mut tensors = Vec::new();
    for t in reader.into_tensors().map_err(|e| fail(e.to_string()))? {
        let (name, dtype, shape, param_id, bytes) =
            t.into_parts().map_err(|e| fail(e.to_string()))?;
        let dims = shape.as_slice().to_vec();
        let entries: Option<Vec<usize>> = match (param_id, dims.as_slice()) {
            (Some(1), &[r, c]) if r == d_in && c == d_sae => Some(
                dead.iter()
                    .flat_map(|&j| (0..d_in).map(move |i| i * d_sae + j))
                    .collect(),
            ),
            (Some(3), &[r, c]) if r == d_sae && c == d_in => Some(
                dead.iter()
                    .flat_map(|&j| (j * d_in)..((j + 1) * d_in))
                    .collect(),
            ),
            (Some(id), &[n]) if n == d_sae && [2, R_MAG, B_MAG].contains(&id) => {
                Some(dead.to_vec())
            }
            _ => None,
        };
        let bytes = match entries {
            Some(entries) if dtype == burn_pack::DType::F32 => {
                let mut raw = bytes.to_vec();
                for e in entries {
                    raw[4 * e..4 * e + 4].copy_from_slice(&0f32.to_le_bytes());
                }
                burn_pack::Bytes::from_bytes_vec(raw)
            }
            _ => bytes,
        };
        tensors.push(burn_pack::Tensor::new(name, dtype, shape, param_id, bytes));
    }
    let mut writer = burn_pack::Writer::new(tensors);
    for (k, v) in &scalars {
        writer = writer.with_scalar(k, *v);
    }
    for (k, v) in &metadata {
        writer = writer.with_metadata(k, v);
    }
    let bytes = writer.into_bytes().map_err(|e| fail(e.to_string()))?;
    *optim = optim
        .clone()
        .from_bytes(bytes)
        .map_err(|e| fail(e.to_string()))?;
    Ok(())
}

/// The id of the gradients entry that carries the resampled latents.
pub(crate) fn dead_latents_id() -> ParamId {
    ParamId::from(DEAD_LATENTS)
}

/// The id of the gradients entry that carries their new directions.
pub(crate) fn new_directions_id() -> ParamId {
    ParamId::from(NEW_DIRECTIONS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::ActivationBatch;
    use crate::train::TrainConfig;
    use crate::SaeConfig;
    use burn::train::TrainStep;
    use sparse_losses::{L1Config, PenaltyConfig};

    /// The values of parameter `id`'s optimizer state tensors of `shape`.
    fn adam_state(optim: &ModuleOptimizer, id: u64, shape: &[usize]) -> Vec<Vec<f32>> {
        let reader = burn_pack::Reader::from_bytes(optim.into_bytes().unwrap()).unwrap();
        reader
            .into_tensors()
            .unwrap()
            .into_iter()
            .filter(|t| t.param_id == Some(id) && t.shape.as_slice() == shape)
            .map(|t| {
                let b = t.into_bytes().unwrap();
                b.chunks(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn dead_latents_point_at_inputs_and_lose_their_adam_state() {
        let (d, h) = (4, 6);
        let device = Device::flex().autodiff();
        let mut sae = SaeConfig::new(d, h)
            .with_penalty(Some(PenaltyConfig::L1(L1Config::new().with_lambda(0.01))))
            .with_resample(Some(ResampleConfig::new(2)))
            .with_dead_window(8)
            .init(&device)
            .unwrap();
        let optim = &mut TrainConfig::new().optimizer();
        let rows: Vec<f32> = (0..8 * d)
            .map(|i| ((i * 7 % 11) as f32 - 5.0) / 3.0)
            .collect();
        let batch = || ActivationBatch {
            x: Tensor::<2>::from_data(TensorData::new(rows.clone(), [8, d]), &device),
        };
        // Step 0: not due; Adam's state is filled in.
        let out = TrainStep::step(&sae, batch());
        sae = TrainStep::optimize(sae, optim, 1e-3.into(), out.grads);
        let before_dec = host(sae.w_dec.val());
        // Latents 1 and 4 dead; step 1 resamples them.
        sae.since_fired = set(sae.since_fired, vec![0.0, 9.0, 0.0, 0.0, 9.0, 0.0], [h]);
        let b_dec = host(sae.b_dec.val());
        let out = TrainStep::step(&sae, batch());
        sae = TrainStep::optimize(sae, optim, 1e-3.into(), out.grads);
        let (w_dec, w_enc, b_enc) = (
            host(sae.w_dec.val()),
            host(sae.w_enc.val()),
            host(sae.b_enc.val()),
        );
        let centred: Vec<Vec<f64>> = rows
            .chunks(d)
            .map(|r| {
                r.iter()
                    .zip(&b_dec)
                    .map(|(&a, &b)| f64::from(a - b))
                    .collect()
            })
            .collect();
        let live_norm = [0, 2, 3, 5]
            .iter()
            .map(|&j| {
                (0..d)
                    .map(|i| f64::from(w_enc[i * h + j]).powi(2))
                    .sum::<f64>()
                    .sqrt()
            })
            .sum::<f64>()
            / 4.0;
        for j in [1, 4] {
            let row: Vec<f64> = w_dec[j * d..(j + 1) * d]
                .iter()
                .map(|&v| f64::from(v))
                .collect();
            // A unit row along one of the batch's centred rows.
            let along = centred.iter().any(|c| {
                let n = c.iter().map(|v| v * v).sum::<f64>().sqrt();
                c.iter().zip(&row).all(|(a, b)| (a / n - b).abs() < 1e-5)
            });
            assert!(along, "latent {j}: {row:?}");
            let col: Vec<f64> = (0..d).map(|i| f64::from(w_enc[i * h + j])).collect();
            let norm = col.iter().map(|v| v * v).sum::<f64>().sqrt();
            assert!(
                (norm - 0.2 * live_norm).abs() < 1e-5 * live_norm,
                "{norm} {live_norm}"
            );
            assert!(col
                .iter()
                .zip(&row)
                .all(|(c, r)| (c / norm - r).abs() < 1e-5));
            assert_eq!(b_enc[j], 0.0);
        }
        // The live latents' rows took an ordinary step.
        for j in [0, 2, 3, 5] {
            assert_ne!(w_dec[j * d..(j + 1) * d], before_dec[j * d..(j + 1) * d]);
        }
        let since = host(sae.since_fired.val());
        assert_eq!((since[1], since[4]), (0.0, 0.0));
        // Adam's moments: zero on the resampled rows and columns, not on the others.
        let dec_state = adam_state(optim, 3, &[h, d]);
        let enc_state = adam_state(optim, 1, &[d, h]);
        assert_eq!(dec_state.len(), 2, "moment 1 and moment 2");
        for m in &dec_state {
            for j in 0..h {
                let zero = m[j * d..(j + 1) * d].iter().all(|&v| v == 0.0);
                assert_eq!(zero, j == 1 || j == 4, "w_dec row {j}");
            }
        }
        for m in &enc_state {
            for j in 0..h {
                let zero = (0..d).all(|i| m[i * h + j] == 0.0);
                assert_eq!(zero, j == 1 || j == 4, "w_enc column {j}");
            }
        }
        // Step 2 is not due: nothing more is resampled.
        let out = TrainStep::step(&sae, batch());
        assert!(sae.plan_resample(&batch().x, &out.item.x_hat).is_none());
    }

    #[test]
    fn due_every_n_steps_until_the_limit() {
        let c = ResampleConfig::new(3).with_until(Some(7));
        let due: Vec<usize> = (0..12).filter(|&s| c.due(s)).collect();
        assert_eq!(due, [2, 5]);
        assert!(ResampleConfig::new(0).validate().is_err());
        assert!(ResampleConfig::new(1)
            .with_encoder_scale(0.0)
            .validate()
            .is_err());
        assert!(ResampleConfig::new(1).validate().is_ok());
    }

    #[test]
    fn weighted_draws_follow_the_weights_and_skip_zeros() {
        let w = [0.0, 1.0, 0.0, 3.0];
        let picks = sample_weighted(&w, 4000, 7);
        assert!(picks.iter().all(|&i| i == 1 || i == 3));
        let threes = picks.iter().filter(|&&i| i == 3).count() as f64 / 4000.0;
        assert!((threes - 0.75).abs() < 0.03, "{threes}");
        assert_eq!(picks, sample_weighted(&w, 4000, 7));
    }
}
