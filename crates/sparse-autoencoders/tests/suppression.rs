//! Against feature suppression and beyond L1: the decoder fine-tune (frozen encoder, exact
//! folding of the scale and bias), the penalty schedules (warm-up, p-annealing) on the SAE's
//! step clock, and `fit_many` (several SAEs on one batch stream) against `fit`.

mod common;

use std::sync::Arc;

use burn::prelude::*;
use burn::tensor::TensorData;
use sparse_autoencoders::prelude::*;
use sparse_losses::{
    EpsAnnealConfig, L1Config, LogSumConfig, LpConfig, PAnnealConfig, PenaltyConfig, ScadConfig,
};

const D: usize = 12;
const H: usize = 24;

use common::device;

fn planted() -> Planted {
    Planted::new(D, 16, 512, 0.15, 7)
}

fn rows(p: &Planted) -> Arc<Vec<f32>> {
    Arc::new(p.rows.clone())
}

fn host<const N: usize>(t: Tensor<N>) -> Vec<f32> {
    t.try_into_vec_as::<f32>().unwrap()
}

fn l1_config(lambda: f64) -> SaeConfig {
    SaeConfig::new(D, H)
        .with_penalty(Some(PenaltyConfig::L1(L1Config::new().with_lambda(lambda))))
        .with_seed(1)
}

fn scratch(tag: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("sae-suppression-{tag}-{}", std::process::id()))
}

fn quiet_fit(sae: Sae, data: &Arc<Vec<f32>>, epochs: usize, tag: &str) -> Sae {
    let config = TrainConfig::new()
        .with_epochs(epochs)
        .with_batch_size(64)
        .with_checkpoints(false);
    let dir = scratch(tag);
    let out = fit(
        sae,
        data.clone(),
        data.clone(),
        &config,
        &dir,
        FitOptions::default(),
    )
    .unwrap();
    std::fs::remove_dir_all(&dir).ok();
    out.model
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// The fine-tune keeps the codes (same L0, same dead latents), removes the shrinkage of L1 and
/// improves the reconstruction.
#[test]
fn decoder_finetune_undoes_l1_shrinkage() {
    let data = planted();
    let x = rows(&data);
    let dev = device();
    // L1 on the codes of a unit-norm decoder: the classic shrinkage.
    let sae = l1_config(0.2)
        .with_unit_norm_decoder(true)
        .with_penalty_target(PenaltyTarget::Codes)
        .init_with_data(&x, &dev)
        .unwrap();
    let trained = quiet_fit(sae, &x, 30, "ft-train");
    let before = evaluate(&trained, &x, 256, &dev).unwrap();
    assert!(before.gamma < 0.95, "L1 shrinks: γ = {}", before.gamma);
    let codes_before = host(trained.encode(Tensor::from_data(
        TensorData::new(x[..64 * D].to_vec(), [64, D]),
        &trained.b_dec.val().device(),
    )));

    let dir = scratch("ft");
    let tune = FinetuneConfig::new()
        .with_epochs(10)
        .with_batch_size(64)
        .with_learning_rate(5e-3);
    let tuned = finetune_decoder(
        trained,
        x.clone(),
        x.clone(),
        &tune,
        &dev,
        &dir,
        FitOptions::default(),
    )
    .unwrap()
    .model;
    std::fs::remove_dir_all(&dir).ok();
    assert!(!tuned.finetuning && tuned.b_dec_encoder.is_none() && tuned.latent_scale.is_none());
    let after = evaluate(&tuned, &x, 256, &dev).unwrap();
    assert_eq!(after.l0, before.l0);
    assert_eq!(after.dead_fraction, before.dead_fraction);
    assert!(
        (after.gamma - 1.0).abs() < (before.gamma - 1.0).abs() / 2.0,
        "γ {} → {}",
        before.gamma,
        after.gamma
    );
    assert!(after.explained_variance > before.explained_variance + 0.01);
    // The folded encoder biases give the same codes' support as the frozen encoder did.
    let codes_after = host(tuned.encode(Tensor::from_data(
        TensorData::new(x[..64 * D].to_vec(), [64, D]),
        &tuned.b_dec.val().device(),
    )));
    let support = |c: &[f32]| c.iter().map(|v| *v != 0.0).collect::<Vec<_>>();
    assert_eq!(support(&codes_before), support(&codes_after));
    assert!(max_abs_diff(&codes_before, &codes_after) < 1e-4);
}

/// Folding the latent scale into `W_dec` and the `b_dec` change into `b_enc` (and `b_mag`)
/// keeps the function: the fine-tuning model and the folded one reconstruct alike.
#[test]
fn finishing_a_finetune_folds_scale_and_bias_exactly() {
    let data = planted();
    let x = rows(&data);
    let dev = device();
    let archs = [
        Architecture::Relu(arch::ReluConfig {}),
        Architecture::Gated(arch::GatedConfig { lambda: 0.1 }),
        Architecture::JumpRelu(arch::JumpReluConfig {
            lambda: 0.1,
            threshold_init: 0.05,
            bandwidth: 0.05,
        }),
        Architecture::TopK(arch::TopKConfig { k: 3 }),
    ];
    for arch in archs {
        let sae = l1_config(0.1)
            .with_architecture(arch.clone())
            .init_with_data(&x, &dev)
            .unwrap();
        let mut ft = sae.into_decoder_finetune(true).unwrap();
        // Move b_dec and the scale away from their starting values, as a fine-tune would.
        let shift = Tensor::<1>::from_data(
            TensorData::new((0..D).map(|i| 0.05 * i as f32 - 0.2).collect(), [D]),
            &dev,
        );
        ft.b_dec = ft.b_dec.map(|b| (b + shift).detach().require_grad());
        let s = Tensor::<1>::from_data(
            TensorData::new((0..H).map(|j| 0.5 + 0.05 * j as f32).collect(), [H]),
            &dev,
        );
        ft.latent_scale = ft.latent_scale.map(|p| p.map(|_| s.require_grad()));
        let probe = Tensor::<2>::from_data(TensorData::new(x[..32 * D].to_vec(), [32, D]), &dev);
        let during = host(ft.forward(probe.clone()));
        let folded = ft.finish_decoder_finetune();
        assert!(!folded.finetuning);
        let after = host(folded.forward(probe));
        let err = max_abs_diff(&during, &after);
        assert!(err < 1e-4, "{}: folded model differs by {err}", arch.name());
    }
}

/// The fine-tune trains only the decoder: the encoder's weights do not move.
#[test]
fn finetune_freezes_the_encoder_and_refuses_omp() {
    let data = planted();
    let x = rows(&data);
    let dev = device();
    let sae = l1_config(0.1).init_with_data(&x, &dev).unwrap();
    let w_enc = host(sae.w_enc.val());
    let w_dec = host(sae.w_dec.val());
    let ft = sae.into_decoder_finetune(false).unwrap();
    assert!(ft.clone().into_decoder_finetune(false).is_err());
    let tuned = quiet_fit(ft, &x, 2, "ft-frozen");
    assert_eq!(host(tuned.w_enc.val()), w_enc);
    assert!(max_abs_diff(&host(tuned.w_dec.val()), &w_dec) > 1e-3);

    let omp = SaeConfig::new(D, H)
        .with_architecture(Architecture::Omp(arch::OmpConfig { k: 2 }))
        .init(&dev)
        .unwrap();
    let err = omp.into_decoder_finetune(false).unwrap_err();
    assert!(err.to_string().contains("omp"), "{err}");
}

/// The warm-up multiplies the penalty by `min(1, (step + 1) / W)`.
#[test]
fn penalty_warmup_scales_the_penalty_on_the_step_clock() {
    let data = planted();
    let x = rows(&data);
    let dev = device();
    let mut sae = l1_config(0.5)
        .with_penalty_warmup_steps(4)
        .init_with_data(&x, &dev)
        .unwrap();
    let plain = l1_config(0.5).init_with_data(&x, &dev).unwrap();
    let batch = Tensor::<2>::from_data(TensorData::new(x[..64 * D].to_vec(), [64, D]), &dev);
    let penalty = penalty_value(&plain, &batch);
    assert!(penalty > 0.1);
    for (step, factor) in [(0, 0.25), (1, 0.5), (3, 1.0), (10, 1.0)] {
        sae.step = step;
        assert_eq!(sae.penalty_factor(), factor);
        let got = penalty_value(&sae, &batch);
        assert!(
            (got - factor * penalty).abs() < 1e-4 * penalty.max(1.0),
            "step {step}: {got} vs {}",
            factor * penalty
        );
    }
    // fit counts the steps: 512 rows in batches of 64 for 2 epochs.
    let trained = quiet_fit(sae, &x, 2, "warmup");
    assert_eq!(trained.step, 16);
}

/// The penalty part of `sae`'s training loss on `batch`.
fn penalty_value(sae: &Sae, batch: &Tensor<2>) -> f64 {
    let out = sae.forward_train(batch.clone());
    out.loss.into_scalar::<f32>() as f64 - out.reconstruction.into_scalar::<f32>() as f64
}

/// At each `(step, value)` of `schedule`, the annealed SAE's penalty equals that of a fixed
/// SAE built with the schedule's value (`fixed(value)`), on the first 64 rows of `x`.
fn assert_anneal_matches(
    annealed: &mut Sae,
    fixed: impl Fn(f64) -> SaeConfig,
    schedule: &[(usize, f64)],
    x: &Arc<Vec<f32>>,
) {
    let dev = device();
    let batch = Tensor::<2>::from_data(TensorData::new(x[..64 * D].to_vec(), [64, D]), &dev);
    for &(step, v) in schedule {
        annealed.step = step;
        let fixed = fixed(v).init_with_data(x, &dev).unwrap();
        let (a, b) = (
            penalty_value(annealed, &batch),
            penalty_value(&fixed, &batch),
        );
        assert!(
            (a - b).abs() < 1e-5 * b.abs().max(1.0),
            "step {step} (value {v}): {a} vs {b}"
        );
    }
}

/// p-annealing changes the Lp penalty's p with the step; it needs an `lp` penalty.
#[test]
fn p_annealing_follows_the_step_clock() {
    let data = planted();
    let x = rows(&data);
    let dev = device();
    let lp = |p: f64| {
        SaeConfig::new(D, H)
            .with_penalty(Some(PenaltyConfig::Lp(
                LpConfig::new().with_lambda(0.2).with_p(p),
            )))
            .with_seed(1)
    };
    let mut annealed = lp(0.5)
        .with_p_anneal(Some(
            PAnnealConfig::new(10).with_p_start(1.0).with_p_end(0.5),
        ))
        .init_with_data(&x, &dev)
        .unwrap();
    assert_anneal_matches(
        &mut annealed,
        lp,
        &[(0, 1.0), (5, 0.75), (10, 0.5), (20, 0.5)],
        &x,
    );
    let err = SaeConfig::new(D, H)
        .with_penalty(Some(PenaltyConfig::Scad(ScadConfig::new())))
        .with_p_anneal(Some(PAnnealConfig::new(10)))
        .validate()
        .unwrap_err();
    assert!(err.to_string().contains("p_anneal"), "{err}");
}

/// ε-annealing changes the LogSum penalty's ε with the step; it needs a `log_sum` penalty.
#[test]
fn eps_annealing_follows_the_step_clock() {
    let data = planted();
    let x = rows(&data);
    let dev = device();
    let log_sum = |eps: f64| {
        SaeConfig::new(D, H)
            .with_penalty(Some(PenaltyConfig::LogSum(
                LogSumConfig::new().with_lambda(0.2).with_eps(eps),
            )))
            .with_seed(1)
    };
    let mut annealed = log_sum(0.01)
        .with_eps_anneal(Some(
            EpsAnnealConfig::new(10)
                .with_eps_start(1.0)
                .with_eps_end(0.01),
        ))
        .init_with_data(&x, &dev)
        .unwrap();
    assert_anneal_matches(
        &mut annealed,
        log_sum,
        &[(0, 1.0), (5, 0.1), (10, 0.01), (20, 0.01)],
        &x,
    );
    // A smaller ε charges the same codes more.
    let batch = Tensor::<2>::from_data(TensorData::new(x[..64 * D].to_vec(), [64, D]), &dev);
    annealed.step = 0;
    let early = penalty_value(&annealed, &batch);
    annealed.step = 10;
    assert!(penalty_value(&annealed, &batch) > 2.0 * early);
    let err = SaeConfig::new(D, H)
        .with_penalty(Some(PenaltyConfig::Lp(LpConfig::new())))
        .with_eps_anneal(Some(EpsAnnealConfig::new(10)))
        .validate()
        .unwrap_err();
    assert!(err.to_string().contains("eps_anneal"), "{err}");
}

/// `fit_many` on one model takes the same steps as `fit` (same batches, same Adam).
#[test]
fn fit_many_matches_fit() {
    let data = planted();
    let x = rows(&data);
    let dev = device();
    let config = || {
        SaeConfig::new(D, H)
            .with_architecture(Architecture::TopK(arch::TopKConfig { k: 3 }))
            .with_seed(5)
    };
    let a = quiet_fit(config().init_with_data(&x, &dev).unwrap(), &x, 2, "many");
    let train = TrainConfig::new().with_epochs(2).with_batch_size(64);
    let mut epochs_seen = Vec::new();
    let many = fit_many(
        vec![
            config().init_with_data(&x, &dev).unwrap(),
            config().with_seed(6).init_with_data(&x, &dev).unwrap(),
        ],
        x.clone(),
        &train,
        |epoch, models| epochs_seen.push((epoch, models.len())),
    )
    .unwrap();
    assert_eq!(epochs_seen, [(1, 2), (2, 2)]);
    let err = max_abs_diff(&host(a.w_dec.val()), &host(many[0].w_dec.val()));
    assert!(err < 1e-5, "fit and fit_many differ by {err}");
    assert!(max_abs_diff(&host(many[0].w_dec.val()), &host(many[1].w_dec.val())) > 1e-3);
    assert!(fit_many(Vec::new(), x.clone(), &train, |_, _| {}).is_err());
}
