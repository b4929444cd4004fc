//! The sweep behind `sae-mnist sweep`: every method at a range of strengths, trained on one
//! shared stream of batches ([`fit_many_in`], checkpointed every epoch: `sweep --resume`
//! continues a killed sweep), scored on the test split, written as `frontier.csv`,
//! `frontier.png` and `frontier.md`.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use burn::module::Module;
use burn::prelude::*;
use burn::tensor::TensorData;
use serde::Serialize;
use sparse_autoencoders::data::Mnist;
use sparse_autoencoders::synthetic::{score, SyntheticData};
use sparse_autoencoders::{evaluate, fit_many_in, Sae, TrainConfig};

use crate::chart::{frontier_chart, Panel, Series};
use crate::error::{io, AppError};
use crate::model::sae_config;
use crate::run_dir::write_atomic;
use crate::settings::Settings;
use crate::sweep_dir::SweepDir;

/// What a method's strength sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Knob {
    /// `--k`.
    K,
    /// `--lambda`.
    Lambda,
}

/// One method of the sweep: an architecture (and penalty) and its strengths per benchmark.
#[derive(Debug, Clone, Copy)]
pub struct Method {
    /// The name on the command line and in the outputs.
    pub name: &'static str,
    /// The architecture (a registry name).
    pub arch: &'static str,
    /// The penalty (relu only; a `--penalty` name).
    pub penalty: &'static str,
    /// What the strengths set.
    pub knob: Knob,
    /// Refit the decoder after training (the model of the same method without fine-tune).
    pub finetune: bool,
    /// JumpReLU's initial threshold θ₀ (none: sae-mnist's 0.3).
    pub threshold_init: Option<f64>,
    /// `--resample-every`: dead latents resampled every this many steps (none: never).
    pub resample_every: Option<usize>,
    /// `--arch-config`: the architecture's own fields, as JSON (none: its defaults).
    pub arch_config: Option<&'static str>,
    /// `--penalty-config`: the penalty's own fields, as JSON (none: its defaults).
    pub penalty_config: Option<&'static str>,
    /// `--aux-k`: AuxK over this many dead latents (none: no AuxK).
    pub aux_k: Option<usize>,
    /// `--warmup-fraction`: λ warmed up over this fraction of the run (none: no warm-up).
    pub warmup_fraction: Option<f64>,
    /// Strengths on mnist-10k (256 latents).
    pub mnist: &'static [f64],
    /// Strengths on the synthetic benchmark (512 latents, 128 dimensions).
    pub synthetic: &'static [f64],
}

const fn m(
    name: &'static str,
    arch: &'static str,
    penalty: &'static str,
    knob: Knob,
    mnist: &'static [f64],
    synthetic: &'static [f64],
) -> Method {
    Method {
        name,
        arch,
        penalty,
        knob,
        finetune: false,
        threshold_init: None,
        resample_every: None,
        arch_config: None,
        penalty_config: None,
        aux_k: None,
        warmup_fraction: None,
        mnist,
        synthetic,
    }
}

/// The sweep's `--resample-every` for the `+resample` methods: 100 steps (every 3 epochs on
/// mnist-10k's 8,000 rows, every half epoch on the synthetic benchmark's 50,000, at batch
/// 256), during the first half of the run.
pub const RESAMPLE_EVERY: usize = 100;

/// `l1`: relu + L1·‖W_d‖ (also the base of its `+resample` method).
const L1: Method = m(
    "l1",
    "relu",
    "l1_dec",
    Knob::Lambda,
    &[0.2, 0.3, 0.5, 0.8, 1.5],
    &[0.2, 0.4, 0.8, 1.5],
);

/// `logsum`: relu + log-sum (also the base of its `+resample` method).
const LOGSUM: Method = m(
    "logsum",
    "relu",
    "log_sum",
    Knob::Lambda,
    &[0.05, 0.1, 0.15, 0.25],
    &[0.05, 0.1, 0.2, 0.4],
);

/// `lp`: relu + Lp (also the base of its `+resample` method).
const LP: Method = m(
    "lp",
    "relu",
    "lp",
    Knob::Lambda,
    &[0.12, 0.2, 0.3, 0.5, 0.6],
    &[0.1, 0.2, 0.4, 0.8],
);

/// `topk` (also the base of its `+auxk` method).
const TOPK: Method = m(
    "topk",
    "top_k",
    "none",
    Knob::K,
    &[8.0, 16.0, 32.0, 64.0],
    &[4.0, 8.0, 16.0, 32.0],
);

/// `jumprelu`, θ₀ = 0.3 (also the base of its `+auxk` method).
const JUMPRELU: Method = m(
    "jumprelu",
    "jump_relu",
    "none",
    Knob::Lambda,
    &[0.01, 0.1, 1.0],
    &[0.03, 0.1, 0.3, 1.0],
);

/// `l0`: hard-concrete L0 gates at their best on mnist-10k (the book's "No latent left dead"):
/// β 0.3, λ warmed up over half the run, the penalty floored; also the base of its
/// `+resample` method.
const L0: Method = Method {
    arch_config: Some(r#"{"beta": 0.3, "floor": true}"#),
    warmup_fraction: Some(0.5),
    ..m(
        "l0",
        "hard_concrete",
        "none",
        Knob::Lambda,
        &[0.05, 0.1, 0.2, 0.4],
        &[0.2, 0.4, 0.8, 1.6],
    )
};

/// The sweep's `--aux-k` for the `+auxk` methods: AuxK over the 32 largest dead latents
/// (with Gao et al.'s weight 1/32).
pub const AUX_K: usize = 32;

/// The method `base` with `--aux-k` [`AUX_K`], under `name` (same strengths).
const fn with_aux_k(name: &'static str, base: Method) -> Method {
    Method {
        name,
        aux_k: Some(AUX_K),
        ..base
    }
}

/// The method `base` with `--resample-every` [`RESAMPLE_EVERY`], under `name` (same strengths).
const fn resampled(name: &'static str, base: Method) -> Method {
    Method {
        name,
        resample_every: Some(RESAMPLE_EVERY),
        ..base
    }
}

/// Every method, with the strengths of the PyTorch reference's frontier on mnist-10k.
pub const METHODS: [Method; 26] = {
    use Knob::*;
    [
        L1,
        Method {
            name: "l1+finetune",
            finetune: true,
            ..L1
        },
        m(
            "tanh",
            "relu",
            "tanh",
            Lambda,
            &[0.2, 0.4, 0.8, 1.5],
            &[0.2, 0.4, 0.8, 1.5],
        ),
        LOGSUM,
        LP,
        m(
            "lp-anneal",
            "relu",
            "lp_anneal",
            Lambda,
            &[0.15, 0.3, 0.5, 0.8],
            &[0.1, 0.15, 0.2, 0.4, 0.8],
        ),
        m(
            "logsum-anneal",
            "relu",
            "log_sum_anneal",
            Lambda,
            &[0.05, 0.1, 0.15, 0.25, 0.4],
            &[0.05, 0.1, 0.2, 0.4],
        ),
        Method {
            penalty_config: Some(r#"{"eps": 1.0}"#),
            ..m(
                "logsum-eps1",
                "relu",
                "log_sum",
                Lambda,
                &[0.2, 0.4, 0.8, 1.5, 3.0],
                &[0.3, 0.4, 0.8, 1.5],
            )
        },
        Method {
            penalty_config: Some(r#"{"p": 0.9}"#),
            ..m(
                "lp-0.9",
                "relu",
                "lp",
                Lambda,
                &[0.2, 0.3, 0.5, 0.8, 1.5],
                &[0.2, 0.3, 0.5, 0.9],
            )
        },
        m(
            "scad",
            "relu",
            "scad",
            Lambda,
            &[0.2, 0.4, 0.8, 1.5],
            &[0.2, 0.4, 0.8, 1.5],
        ),
        m(
            "mcp",
            "relu",
            "mcp",
            Lambda,
            &[0.3, 0.5, 0.8, 1.5],
            &[0.2, 0.4, 0.8, 1.5],
        ),
        TOPK,
        m(
            "batchtopk",
            "batch_top_k",
            "none",
            K,
            &[8.0, 16.0, 32.0, 64.0],
            &[4.0, 8.0, 16.0, 32.0],
        ),
        m(
            "matryoshka",
            "matryoshka",
            "none",
            K,
            &[8.0, 16.0, 32.0, 64.0],
            &[4.0, 8.0, 16.0, 32.0],
        ),
        JUMPRELU,
        Method {
            threshold_init: Some(0.5),
            ..m(
                "jumprelu-0.5",
                "jump_relu",
                "none",
                Lambda,
                &[0.03, 0.3, 3.0],
                &[0.03, 0.1, 0.3],
            )
        },
        m(
            "gated",
            "gated",
            "none",
            Lambda,
            &[0.4, 0.8, 1.5, 3.0],
            &[0.4, 0.8, 1.5, 3.0],
        ),
        L0,
        resampled("l1+resample", L1),
        resampled("logsum+resample", LOGSUM),
        resampled("lp+resample", LP),
        resampled("l0+resample", L0),
        m(
            "omp",
            "omp",
            "none",
            K,
            &[8.0, 16.0, 32.0, 64.0],
            &[4.0, 8.0, 16.0, 32.0],
        ),
        with_aux_k("topk+auxk", TOPK),
        with_aux_k("jumprelu+auxk", JUMPRELU),
        Method {
            penalty_config: Some(r#"{"p": 0.9}"#),
            ..m(
                "lp-anneal-0.9",
                "relu",
                "lp_anneal",
                Lambda,
                &[0.2, 0.3, 0.5, 0.8, 1.5],
                &[0.2, 0.3, 0.4, 0.5, 0.9],
            )
        },
    ]
};

impl Method {
    /// What its first phase trains: methods equal in this share their models (the fine-tune
    /// comes after).
    fn training_key(&self) -> impl PartialEq {
        (
            (self.arch, self.penalty, self.knob),
            self.threshold_init.map(f64::to_bits),
            self.resample_every,
            self.arch_config,
            self.penalty_config,
            self.aux_k,
            self.warmup_fraction.map(f64::to_bits),
        )
    }
}

/// The L0s at which `frontier.md` compares the methods: 16, 32, 64 on mnist; half, once and
/// twice the true mean L0 on the synthetic benchmark.
pub fn table_l0s(benchmark: &str, mean_active: f64) -> Vec<f64> {
    if benchmark == "synthetic" {
        vec![mean_active / 2.0, mean_active, 2.0 * mean_active]
    } else {
        vec![16.0, 32.0, 64.0]
    }
}

/// The method called `name`.
pub fn method(name: &str) -> Result<Method, AppError> {
    METHODS
        .iter()
        .copied()
        .find(|m| m.name == name)
        .ok_or_else(|| {
            AppError::Setting(format!(
                "unknown method `{name}`; the methods are {}",
                METHODS.map(|m| m.name).join(", ")
            ))
        })
}

/// One trained model's scores: a row of `frontier.csv`.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    /// The benchmark (`mnist` or `synthetic`).
    pub benchmark: String,
    /// The method's name.
    pub method: String,
    /// `k` or `lambda`.
    pub knob: String,
    /// Its value.
    pub strength: f64,
    /// Training epochs.
    pub epochs: usize,
    /// Test explained variance.
    pub ev: f64,
    /// Mean active latents per test row.
    pub l0: f64,
    /// Latents never active on (up to 10,000) training rows.
    pub dead: f64,
    /// Shrinkage γ on the test split (1: none).
    pub gamma: f64,
    /// Test MSE per element.
    pub mse: f64,
    /// Synthetic only: mean |cos| of the matched true features and latents.
    pub mcc: Option<f64>,
    /// Synthetic only: mean per-feature detection F1.
    pub f1: Option<f64>,
    /// Synthetic only: feature-level magnitude ratio (1: no shrinkage).
    pub magnitude_ratio: Option<f64>,
    /// Synthetic only: SynthSAEBench's MCC (mean |cos| over the matched pairs).
    pub matched_mcc: Option<f64>,
    /// Synthetic only: SynthSAEBench's F1 (each latent against its nearest feature, mean over
    /// all latents).
    pub latent_f1: Option<f64>,
    /// Seconds of training per model (the shared run's time divided by its models).
    pub train_s: f64,
    /// With `--seeds S ≥ 2`: the mean over pairs of seeds of the matched mean |cos| between
    /// their decoders (`sparse_autoencoders::stability`); the other columns are seed 0's.
    pub seed_mcc: Option<f64>,
    /// With `--seeds S ≥ 2`: the mean fraction of latents matched at |cos| ≥ 0.7 between seeds.
    pub seed_shared: Option<f64>,
}

/// A sweep's data: the train and test rows, and the synthetic truth when there is one.
pub struct SweepData {
    /// `mnist` or `synthetic`.
    pub benchmark: &'static str,
    /// Train and test rows (and the image shape).
    pub data: Mnist,
    /// The synthetic test set with its true features.
    pub truth: Option<SyntheticData>,
}

/// The settings of one point.
pub(crate) fn point_settings(base: &Settings, method: &Method, strength: f64) -> Settings {
    let mut s = base.clone();
    s.arch = method.arch.to_string();
    s.penalty = Some(method.penalty.to_string());
    match method.knob {
        Knob::K => s.k = strength.round() as usize,
        Knob::Lambda => s.lambda = strength,
    }
    s.threshold_init = method.threshold_init;
    s.resample_every = method.resample_every;
    s.aux_k = method.aux_k;
    if let Some(json) = method.arch_config {
        s.arch_config = Some(serde_json::from_str(json).expect("the methods' JSON is valid"));
    }
    if let Some(json) = method.penalty_config {
        s.penalty_config = Some(serde_json::from_str(json).expect("the methods' JSON is valid"));
    }
    if method.warmup_fraction.is_some() {
        s.warmup_steps = 0;
        s.warmup_fraction = method.warmup_fraction;
    }
    if method.resample_every.is_none() {
        s.resample_until = None;
    }
    s
}

/// Validates the settings `s` of `method` at `strength`; the error names the method.
pub(crate) fn check_point(s: &Settings, method: &Method, strength: f64) -> Result<(), AppError> {
    s.validate().map_err(|e| match e {
        AppError::Setting(m) => AppError::Setting(format!(
            "method {} at strength {strength}: {m}",
            method.name
        )),
        e => e,
    })
}

/// Trains every `(method, strength)` of `plan` on `data` with one shared batch stream, then
/// fine-tunes the decoders of the `finetune` methods, and scores every model, checkpointing
/// in `dir` after every epoch and recording the rows as they are scored: `kept` holds the rows
/// of an earlier session (`sweep --resume`), which are not trained again. The points come in
/// the same order, with the same values, whether the sweep was interrupted or not (`train_s`
/// counts the training seconds of every session).
#[allow(clippy::too_many_arguments)]
pub fn run_sweep(
    base: &Settings,
    plan: &[(Method, f64)],
    finetune_epochs: usize,
    seeds: usize,
    data: &SweepData,
    device: &Device,
    dir: &SweepDir,
    kept: Vec<Point>,
    mut progress: impl FnMut(&str),
) -> Result<Vec<Point>, AppError> {
    let d = data.data.train.dim();
    let image = [data.data.train.rows, data.data.train.cols];
    let train = Arc::new(data.data.train.images.clone());
    let is_kept = |m: &Method, s: f64| kept.iter().any(|p| p.method == m.name && p.strength == s);
    let tuned_plan: Vec<(Method, f64)> = if finetune_epochs > 0 {
        plan.iter().copied().filter(|(m, _)| m.finetune).collect()
    } else {
        Vec::new()
    };
    let missing = plan
        .iter()
        .filter(|(m, _)| !m.finetune || finetune_epochs > 0)
        .any(|&(m, s)| !is_kept(&m, s));
    let mut points = kept.clone();
    if missing {
        // Methods that differ only by the fine-tune share their first phase.
        let mut trained_plan: Vec<(Method, f64)> = Vec::new();
        for &(method, strength) in plan {
            let base_method = Method {
                finetune: false,
                ..method
            };
            if !trained_plan
                .iter()
                .any(|(m, s)| m.training_key() == base_method.training_key() && *s == strength)
            {
                trained_plan.push((base_method, strength));
            }
        }
        // Each point's seeds are consecutive: model `i · seeds + s` is seed `base.seed + s` of
        // point `i`.
        let seeds = seeds.max(1);
        let mut configs = Vec::new();
        for (method, strength) in &trained_plan {
            let s = point_settings(base, method, *strength);
            check_point(&s, method, *strength)?;
            let config = sae_config(&s, d, image, data.data.train.n)?;
            configs.extend(sparse_autoencoders::stability::seeded(&config, seeds));
        }
        // Every model trains at once: refused before any is allocated when together they
        // cannot fit (the sweep had no memory check).
        let batch = base.batch_size.min(data.data.train.n.max(1));
        let needed: u128 = configs
            .iter()
            .map(|c| sparse_autoencoders::memory::training_bytes(c, batch))
            .sum();
        sparse_autoencoders::memory::check("the sweep's models", needed)
            .map_err(crate::error::library)?;
        let mut saes = Vec::new();
        for config in &configs {
            let sae = config
                .init_with_data(&train, device)
                .map_err(|e| AppError::Setting(e.to_string()))?;
            saes.push(sae);
        }
        let config = TrainConfig::new()
            .with_epochs(base.epochs)
            .with_batch_size(base.batch_size)
            .with_learning_rate(base.lr)
            .with_seed(base.seed);
        let n_models = saes.len();
        let started = Instant::now();
        let trained = fit_many_in(
            saes,
            train.clone(),
            &config,
            &dir.state("train"),
            |epoch, _| {
                progress(&format!(
                    "{}: epoch {epoch}/{} of {n_models} models ({:.0} s)",
                    data.benchmark,
                    base.epochs,
                    started.elapsed().as_secs_f64()
                ))
            },
        )
        .map_err(|e| AppError::Backend(e.to_string()))?;
        if trained.resumed_from > 0 {
            progress(&format!(
                "{}: resumed after epoch {} of {}",
                data.benchmark, trained.resumed_from, base.epochs
            ));
        }
        let train_s = trained.seconds / n_models.max(1) as f64;
        let models_of = |method: &Method, strength: f64| {
            let idx = trained_plan
                .iter()
                .position(|(m, s)| m.training_key() == method.training_key() && *s == strength)
                .expect("every point was trained");
            trained.models[idx * seeds..(idx + 1) * seeds].to_vec()
        };
        let plain: Vec<_> = plan
            .iter()
            .filter(|(m, s)| !m.finetune && !is_kept(m, *s))
            .map(|&(m, s)| (m, s, models_of(&m, s), train_s))
            .collect();
        if !plain.is_empty() {
            points.extend(score_all(plain, base, data, device)?);
            dir.save_rows(&points)?;
        }
        if tuned_plan.iter().any(|&(m, s)| !is_kept(&m, s)) {
            let saes = tuned_plan
                .iter()
                .flat_map(|(m, s)| models_of(m, *s))
                .map(|model| model.into_decoder_finetune(false))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| AppError::Setting(e.to_string()))?;
            let n = saes.len();
            let config = config.clone().with_epochs(finetune_epochs);
            let tuned = fit_many_in(
                saes,
                train.clone(),
                &config,
                &dir.state("finetune"),
                |epoch, _| {
                    progress(&format!(
                        "{}: fine-tune epoch {epoch}/{finetune_epochs} of {n} models",
                        data.benchmark
                    ))
                },
            )
            .map_err(|e| AppError::Backend(e.to_string()))?;
            let tune_s = tuned.seconds / n as f64;
            let finished: Vec<Sae> = tuned
                .models
                .into_iter()
                .map(Sae::finish_decoder_finetune)
                .collect();
            let models = tuned_plan
                .iter()
                .zip(finished.chunks(seeds))
                .map(|(&(m, s), models)| (m, s, models.to_vec(), train_s + tune_s))
                .collect();
            points.extend(score_all(models, base, data, device)?);
            dir.save_rows(&points)?;
        }
    }
    // The order of an uninterrupted sweep: the plain methods, then the fine-tuned ones, each
    // in the plan's order.
    let order = plan
        .iter()
        .filter(|(m, _)| !m.finetune)
        .chain(tuned_plan.iter());
    Ok(order
        .filter_map(|(m, s)| {
            points
                .iter()
                .find(|p| p.method == m.name && p.strength == *s)
                .cloned()
        })
        .collect())
}

/// The rows of trained `models` (method, strength, its seeds' models, training seconds): seed
/// 0's test metrics, dead latents on (up to 10,000) training rows and synthetic scores, and
/// the seeds' stability when there are several.
fn score_all(
    models: Vec<(Method, f64, Vec<Sae>, f64)>,
    base: &Settings,
    data: &SweepData,
    device: &Device,
) -> Result<Vec<Point>, AppError> {
    let d = data.data.train.dim();
    let eval_device = device.clone().without_autodiff();
    let n_dead_rows = data.data.train.n.min(10_000);
    let dead_rows = &data.data.train.images[..n_dead_rows * d];
    let mut points = Vec::new();
    for (method, strength, seeds, secs) in models {
        let stability = if seeds.len() >= 2 {
            let s = sparse_autoencoders::stability::seed_stability(
                &sparse_autoencoders::stability::decoders(&seeds),
                d,
            )
            .map_err(|e| AppError::Setting(e.to_string()))?;
            Some(s)
        } else {
            None
        };
        let model = seeds
            .into_iter()
            .next()
            .expect("every point has a seed")
            .valid();
        let test = evaluate(&model, &data.data.test.images, 1000, &eval_device)
            .map_err(|e| AppError::Setting(e.to_string()))?;
        let on_train = evaluate(&model, dead_rows, 1000, &eval_device)
            .map_err(|e| AppError::Setting(e.to_string()))?;
        let (mut mcc, mut f1, mut ratio, mut matched_mcc, mut latent_f1) =
            (None, None, None, None, None);
        if let Some(truth) = &data.truth {
            let s = score_synthetic(&model, truth, &eval_device)?;
            mcc = Some(s.mcc);
            f1 = Some(s.detection_f1);
            ratio = Some(s.magnitude_ratio);
            matched_mcc = Some(s.matched_mcc);
            latent_f1 = Some(s.latent_f1);
        }
        points.push(Point {
            benchmark: data.benchmark.to_string(),
            method: method.name.to_string(),
            knob: match method.knob {
                Knob::K => "k",
                Knob::Lambda => "lambda",
            }
            .to_string(),
            strength,
            epochs: base.epochs,
            ev: test.explained_variance,
            l0: test.l0,
            dead: on_train.dead_fraction,
            gamma: test.gamma,
            mse: test.mse,
            mcc,
            f1,
            magnitude_ratio: ratio,
            matched_mcc,
            latent_f1,
            train_s: secs,
            seed_mcc: stability.as_ref().map(|s| s.mcc),
            seed_shared: stability.as_ref().map(|s| s.shared),
        });
    }
    Ok(points)
}

/// The synthetic benchmark's scores of `model`: its decoder rows against the true directions,
/// its test codes against the true codes.
fn score_synthetic(
    model: &Sae,
    truth: &SyntheticData,
    device: &Device,
) -> Result<sparse_autoencoders::synthetic::SyntheticScore, AppError> {
    let d = truth.d_in;
    let n = truth.n_rows();
    let mut codes = Vec::with_capacity(n * model.d_sae());
    for start in (0..n).step_by(1000) {
        let end = (start + 1000).min(n);
        let x = Tensor::<2>::from_data(
            TensorData::new(truth.rows[start * d..end * d].to_vec(), [end - start, d]),
            device,
        );
        let c = model
            .encode(x)
            .try_into_vec_as::<f32>()
            .map_err(|e| AppError::Backend(format!("{e:?}")))?;
        codes.extend(c);
    }
    let decoder = model
        .w_dec
        .val()
        .try_into_vec_as::<f32>()
        .map_err(|e| AppError::Backend(format!("{e:?}")))?;
    score(truth, &decoder, &codes).map_err(|e| AppError::Setting(e.to_string()))
}

/// `frontier.csv`: one line per point.
pub fn csv(points: &[Point]) -> String {
    let mut out = String::from(
        "benchmark,method,knob,strength,epochs,ev,l0,dead,gamma,mse,mcc,f1,magnitude_ratio,seed_mcc,seed_shared,matched_mcc,latent_f1,train_s\n",
    );
    let opt = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.5}"));
    for p in points {
        out.push_str(&format!(
            "{},{},{},{},{},{:.5},{:.3},{:.4},{:.4},{:.6},{},{},{},{},{},{},{},{:.2}\n",
            p.benchmark,
            p.method,
            p.knob,
            p.strength,
            p.epochs,
            p.ev,
            p.l0,
            p.dead,
            p.gamma,
            p.mse,
            opt(p.mcc),
            opt(p.f1),
            opt(p.magnitude_ratio),
            opt(p.seed_mcc),
            opt(p.seed_shared),
            opt(p.matched_mcc),
            opt(p.latent_f1),
            p.train_s
        ));
    }
    out
}

/// Reads the points of a `frontier.csv` written by [`csv`].
///
/// # Errors
/// A line with the wrong number of fields or a field that is not a number.
pub fn read_csv(text: &str) -> Result<Vec<Point>, String> {
    let mut points = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        // 14 fields before the seed-stability and SynthSAEBench columns were added (the
        // training seconds stay last).
        if f.len() != 14 && f.len() != 18 {
            return Err(format!("line {}: {} fields, expected 18", i + 1, f.len()));
        }
        let new = f.len() == 18;
        let num = |k: usize| -> Result<f64, String> {
            f[k].parse::<f64>().map_err(|_| {
                format!(
                    "line {}: field {} is not a number: {:?}",
                    i + 1,
                    k + 1,
                    f[k]
                )
            })
        };
        let opt = |k: usize| -> Result<Option<f64>, String> {
            if f[k].is_empty() {
                Ok(None)
            } else {
                num(k).map(Some)
            }
        };
        points.push(Point {
            benchmark: f[0].to_string(),
            method: f[1].to_string(),
            knob: f[2].to_string(),
            strength: num(3)?,
            epochs: num(4)? as usize,
            ev: num(5)?,
            l0: num(6)?,
            dead: num(7)?,
            gamma: num(8)?,
            mse: num(9)?,
            mcc: opt(10)?,
            f1: opt(11)?,
            magnitude_ratio: opt(12)?,
            train_s: num(f.len() - 1)?,
            seed_mcc: if new { opt(13)? } else { None },
            seed_shared: if new { opt(14)? } else { None },
            matched_mcc: if new { opt(15)? } else { None },
            latent_f1: if new { opt(16)? } else { None },
        });
    }
    Ok(points)
}

/// The methods of `points`, in order of first appearance.
fn method_names(points: &[Point]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for p in points {
        if !names.contains(&p.method) {
            names.push(p.method.clone());
        }
    }
    names
}

/// `(L0, value)` of one method's points, sorted by L0.
fn curve(points: &[Point], method: &str, value: impl Fn(&Point) -> Option<f64>) -> Vec<(f64, f64)> {
    let mut c: Vec<(f64, f64)> = points
        .iter()
        .filter(|p| p.method == method)
        .filter_map(|p| value(p).map(|v| (p.l0, v)))
        .filter(|(x, y)| x.is_finite() && *x > 0.0 && y.is_finite())
        .collect();
    c.sort_by(|a, b| a.0.total_cmp(&b.0));
    c
}

/// The value of a curve at `l0`, interpolated linearly in log L0 between its two neighbouring
/// points; `None` where the curve does not bracket `l0`.
pub fn at_l0(curve: &[(f64, f64)], l0: f64) -> Option<f64> {
    curve.windows(2).find_map(|w| {
        let ((a, ya), (b, yb)) = (w[0], w[1]);
        (a <= l0 && l0 <= b).then(|| {
            if b - a < 1e-12 {
                ya
            } else {
                ya + (l0.ln() - a.ln()) / (b.ln() - a.ln()) * (yb - ya)
            }
        })
    })
}

/// The quantities a benchmark's figure and tables show: (label, getter).
type Quantity = (&'static str, fn(&Point) -> Option<f64>);

/// The quantities of `points`: those of their benchmark, and the seeds' stability when the
/// sweep trained several seeds.
fn quantities_of(points: &[Point]) -> Vec<Quantity> {
    let benchmark = points.first().map_or("mnist", |p| p.benchmark.as_str());
    let mut q = quantities(benchmark);
    // A frontier.csv from before a column was added has no values for it.
    q.retain(|(_, get)| points.iter().any(|p| get(p).is_some()));
    if points.iter().any(|p| p.seed_mcc.is_some()) {
        q.push((
            "seed stability (pairwise MCC between seeds' decoders)",
            |p| p.seed_mcc,
        ));
    }
    q
}

fn quantities(benchmark: &str) -> Vec<Quantity> {
    if benchmark == "synthetic" {
        vec![
            ("MCC (mean |cos| of matched features)", |p| p.mcc),
            ("detection F1", |p| p.f1),
            ("SynthSAEBench MCC (mean |cos| over matched pairs)", |p| {
                p.matched_mcc
            }),
            (
                "SynthSAEBench F1 (each latent against its nearest feature)",
                |p| p.latent_f1,
            ),
            ("test explained variance", |p| Some(p.ev)),
            ("shrinkage γ", |p| Some(p.gamma)),
        ]
    } else {
        vec![
            ("test explained variance", |p| Some(p.ev)),
            ("shrinkage γ", |p| Some(p.gamma)),
        ]
    }
}

/// `frontier.png`: L0 against each quantity, one line per method.
pub fn picture(points: &[Point], title: &str) -> crate::pictures::Canvas {
    let names = method_names(points);
    let panels: Vec<Panel> = quantities_of(points)
        .into_iter()
        .map(|(label, get)| Panel {
            y_label: label.to_string(),
            series: names
                .iter()
                .map(|n| Series {
                    name: n.clone(),
                    points: curve(points, n, get),
                })
                .collect(),
        })
        .collect();
    frontier_chart(title, "test L0", &panels)
}

/// `frontier.md`: each quantity at a few L0s per method, with the difference to `l1`.
pub fn tables(points: &[Point], l0s: &[f64]) -> String {
    let benchmark = points.first().map_or("mnist", |p| p.benchmark.as_str());
    let names = method_names(points);
    let mut out = String::new();
    for (label, get) in quantities_of(points) {
        out.push_str(&format!(
            "\n{label} at equal L0 (interpolated in log L0; in brackets the difference to l1; \
             — where a method's runs do not bracket that L0):\n\n| method |"
        ));
        for l0 in l0s {
            out.push_str(&format!(" L0 {l0} |"));
        }
        out.push_str("\n| --- |");
        out.push_str(&" --- |".repeat(l0s.len()));
        out.push('\n');
        let base = curve(points, "l1", get);
        for n in &names {
            let c = curve(points, n, get);
            out.push_str(&format!("| {n} |"));
            for &l0 in l0s {
                match (at_l0(&c, l0), at_l0(&base, l0)) {
                    (Some(v), Some(b)) if n != "l1" => {
                        out.push_str(&format!(" {v:.3} ({:+.3}) |", v - b))
                    }
                    (Some(v), _) => out.push_str(&format!(" {v:.3} |")),
                    (None, _) => out.push_str(" — |"),
                }
            }
            out.push('\n');
        }
    }
    out.push_str("\nEvery run:\n\n| method | strength | test EV | L0 | dead | γ |");
    let synthetic = benchmark == "synthetic";
    let seeded = points.iter().any(|p| p.seed_mcc.is_some());
    if synthetic {
        out.push_str(" MCC | F1 | magnitude ratio |");
    }
    if seeded {
        out.push_str(" seed MCC | shared |");
    }
    out.push_str(" train s |\n| --- | --- | --- | --- | --- | --- |");
    if synthetic {
        out.push_str(" --- | --- | --- |");
    }
    if seeded {
        out.push_str(" --- | --- |");
    }
    out.push_str(" --- |\n");
    let num = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{v:.3}"));
    for p in points {
        out.push_str(&format!(
            "| {} | {} = {} | {:.3} | {:.1} | {:.3} | {:.3} |",
            p.method, p.knob, p.strength, p.ev, p.l0, p.dead, p.gamma
        ));
        if synthetic {
            out.push_str(&format!(
                " {} | {} | {} |",
                num(p.mcc),
                num(p.f1),
                num(p.magnitude_ratio)
            ));
        }
        if seeded {
            out.push_str(&format!(" {} | {} |", num(p.seed_mcc), num(p.seed_shared)));
        }
        out.push_str(&format!(" {:.1} |\n", p.train_s));
    }
    out
}

/// Writes `frontier.csv`, `frontier.png` and `frontier.md` into `dir` (each atomically).
pub fn write(dir: &Path, points: &[Point], title: &str, l0s: &[f64]) -> Result<(), AppError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    write_atomic(&dir.join("frontier.csv"), csv(points).as_bytes())?;
    picture(points, title).save(&dir.join("frontier.png"))?;
    let md = format!("# {title}\n{}", tables(points, l0s));
    write_atomic(&dir.join("frontier.md"), md.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolates_in_log_l0() {
        let c = [(8.0, 0.5), (32.0, 0.7)];
        assert!((at_l0(&c, 16.0).unwrap() - 0.6).abs() < 1e-12);
        assert_eq!(at_l0(&c, 8.0), Some(0.5));
        assert_eq!(at_l0(&c, 64.0), None);
        assert_eq!(at_l0(&c, 4.0), None);
    }

    #[test]
    fn csv_round_trips() {
        let p = Point {
            benchmark: "synthetic".into(),
            method: "topk".into(),
            knob: "k".into(),
            strength: 8.0,
            epochs: 3,
            ev: 0.5,
            l0: 8.0,
            dead: 0.25,
            gamma: 1.0,
            mse: 0.01,
            mcc: Some(0.75),
            f1: None,
            magnitude_ratio: Some(0.5),
            matched_mcc: Some(0.8),
            latent_f1: None,
            train_s: 1.5,
            seed_mcc: Some(0.625),
            seed_shared: None,
        };
        let back = read_csv(&csv(&[p.clone(), p])).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(
            (back[0].mcc, back[0].f1, back[0].l0),
            (Some(0.75), None, 8.0)
        );
        assert_eq!((back[1].seed_mcc, back[1].seed_shared), (Some(0.625), None));
        // A frontier.csv from before the seed columns still reads.
        let old = "header\nmnist,l1,lambda,0.2,20,0.87,89.5,0.0,0.94,0.01,,,,10.3\n";
        let back = read_csv(old).unwrap();
        assert_eq!((back[0].ev, back[0].seed_mcc), (0.87, None));
        assert!(read_csv("header\n1,2").unwrap_err().contains("line 2"));
    }

    #[test]
    fn every_method_is_found_and_valid() {
        for m in METHODS {
            assert_eq!(method(m.name).unwrap().name, m.name);
            for &s in m.mnist.iter().chain(m.synthetic) {
                let mut base = Settings::new("unused".into());
                base.hidden = 512;
                point_settings(&base, &m, s).validate().unwrap();
            }
        }
        assert!(method("l2").unwrap_err().to_string().contains("topk"));
    }
}
