//! Every architecture: shapes, sparsity, gradients to every parameter, and a short training on
//! data with a planted dictionary.

mod common;

use std::sync::Arc;

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::prelude::*;
use burn::tensor::TensorData;
use sparse_autoencoders::prelude::*;
use sparse_autoencoders::AnyArchitecture;
use sparse_losses::{L1Config, PenaltyConfig};

const D: usize = 12;
const H: usize = 24;

/// Every architecture (but sigmoid), k = 3, in registry order.
fn all() -> Vec<Architecture> {
    common::architectures(3, &[4, 12])
}

fn config(arch: Architecture) -> SaeConfig {
    let mut c = SaeConfig::new(D, H)
        .with_architecture(arch.clone())
        .with_seed(3);
    if matches!(arch, Architecture::Relu(_)) {
        c = c.with_penalty(Some(PenaltyConfig::L1(L1Config::new().with_lambda(0.05))));
    }
    if matches!(arch, Architecture::Gated(_)) {
        c = c.with_unit_norm_decoder(true);
    }
    c
}

use common::device;

fn batch(data: &Planted, n: usize, device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(data.rows[..n * D].to_vec(), [n, D]), device)
}

fn host(t: Tensor<2>) -> Vec<f32> {
    t.try_into_vec_as::<f32>().unwrap()
}

#[test]
fn shapes_and_k_sparsity() {
    let device = device();
    let data = Planted::new(D, 16, 64, 0.2, 1);
    let x = batch(&data, 32, &device);
    for arch in all() {
        let sae = config(arch.clone())
            .init_with_data(&data.rows, &device)
            .unwrap();
        let f = sae.encode(x.clone());
        assert_eq!(f.dims(), [32, H], "{arch:?}");
        assert_eq!(sae.decode(f.clone()).dims(), [32, D], "{arch:?}");
        assert_eq!(sae.forward(x.clone()).dims(), [32, D], "{arch:?}");
        let codes = host(f);
        let per_row: Vec<usize> = codes
            .chunks(H)
            .map(|r| r.iter().filter(|v| **v != 0.0).count())
            .collect();
        match arch {
            Architecture::TopK(arch::TopKConfig { k }) => {
                assert!(per_row.iter().all(|&c| c <= k), "{per_row:?}")
            }
            Architecture::Omp(arch::OmpConfig { k }) => {
                assert!(per_row.iter().all(|&c| c <= k), "{per_row:?}")
            }
            _ => {}
        }
        let train = sae.forward_train(x.clone());
        let codes = host(train.codes);
        let total = codes.iter().filter(|v| **v != 0.0).count();
        match arch {
            Architecture::TopK(arch::TopKConfig { k }) => {
                // Exactly k per row where the k-th pre-activation is positive.
                assert!(total <= 32 * k);
            }
            Architecture::BatchTopK(arch::BatchTopKConfig { k })
            | Architecture::Matryoshka(arch::MatryoshkaConfig { k, .. }) => {
                // k·B kept over the batch: mean L0 is k where enough entries are positive.
                assert!(total <= 32 * k, "{total}");
                assert!(total >= 32 * k * 3 / 4, "{total}");
            }
            _ => {}
        }
        assert!(train.loss.into_scalar::<f32>().is_finite(), "{arch:?}");
    }
}

/// Collects the ids of parameters that require a gradient.
struct Trainable(Vec<(ParamId, String, usize)>, Vec<String>);

impl ModuleVisitor for Trainable {
    fn enter_module(&mut self, name: &str, _container: &str) {
        self.1.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container: &str) {
        self.1.pop();
    }
    fn visit_float<const N: usize>(&mut self, param: &Param<Tensor<N>>) {
        if param.val().is_require_grad() {
            self.0.push((param.id, self.1.join("."), N));
        }
    }
}

#[test]
fn gradients_reach_every_trainable_parameter() {
    let device = device();
    let data = Planted::new(D, 16, 64, 0.3, 2);
    let x = batch(&data, 64, &device);
    for arch in all() {
        let sae = config(arch.clone())
            .init_with_data(&data.rows, &device)
            .unwrap();
        let mut v = Trainable(Vec::new(), Vec::new());
        sae.visit(&mut v);
        let out = sae.forward_train(x.clone());
        let grads = out.loss.backward();
        let gp = burn::optim::GradientsParams::from_grads(grads, &sae);
        for (id, path, rank) in &v.0 {
            let omp = matches!(arch, Architecture::Omp(_));
            // OMP has no encoder: only the decoder learns.
            if omp && (path.contains("w_enc") || path.contains("b_enc")) {
                continue;
            }
            let has = match rank {
                1 => gp.get::<1>(*id).is_some(),
                _ => gp.get::<2>(*id).is_some(),
            };
            assert!(has, "{arch:?}: no gradient for {path}");
        }
    }
}

fn train(arch: Architecture, epochs: usize) -> (Sae, Planted, SaeMetrics, SaeMetrics) {
    let device = device();
    let data = Planted::new(D, 16, 1024, 0.15, 4);
    let rows = Arc::new(data.rows.clone());
    let sae = config(arch.clone()).init_with_data(&rows, &device).unwrap();
    let before = evaluate(&sae, &rows, 256, &device).unwrap();
    let dir = std::env::temp_dir().join(format!("sae-arch-{}-{}", arch.name(), std::process::id()));
    let cfg = TrainConfig::new()
        .with_epochs(epochs)
        .with_batch_size(64)
        .with_learning_rate(3e-3)
        .with_checkpoints(false);
    let out = fit(
        sae,
        rows.clone(),
        rows.clone(),
        &cfg,
        &dir,
        FitOptions::default(),
    )
    .unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(out.epochs.len(), epochs);
    let after = evaluate(&out.model, &rows, 256, &device).unwrap();
    (out.model, data, before, after)
}

#[test]
fn every_architecture_learns_the_planted_dictionary() {
    for arch in all() {
        let (model, data, before, after) = train(arch.clone(), 6);
        let dec = model.w_dec.val().try_into_vec_as::<f32>().unwrap();
        let cos = data.mean_max_cosine(&dec);
        println!(
            "{arch:?}: EV {:.3} -> {:.3}, L0 {:.2}, cos {cos:.3}",
            before.explained_variance, after.explained_variance, after.l0
        );
        assert!(
            after.explained_variance > 0.5,
            "{arch:?}: EV {}",
            after.explained_variance
        );
        assert!(
            after.explained_variance > before.explained_variance,
            "{arch:?}"
        );
        assert!(after.l0 < H as f64 * 0.75, "{arch:?}: L0 {}", after.l0);
        assert!(cos > 0.6, "{arch:?}: mean max cosine {cos}");
        if let Architecture::TopK(arch::TopKConfig { k }) = arch {
            assert!(after.l0 <= k as f64);
        }
    }
}

#[test]
fn batch_top_k_learns_a_threshold_and_mean_l0_near_k() {
    let (model, _, _, after) = train(Architecture::BatchTopK(arch::BatchTopKConfig { k: 3 }), 6);
    let AnyArchitecture::BatchTopK(state) = &model.arch else {
        panic!("a batch_top_k model");
    };
    let theta = state.threshold.val().into_scalar::<f32>();
    assert!(theta > 0.0, "threshold {theta}");
    assert!((after.l0 - 3.0).abs() < 1.5, "inference L0 {}", after.l0);
}

/// A JumpReLU model's log-thresholds.
fn thresholds(sae: &Sae) -> TensorData {
    let AnyArchitecture::JumpRelu(state) = &sae.arch else {
        panic!("a jump_relu model");
    };
    state.thresholds.log_threshold.val().into_data()
}

#[test]
fn jump_relu_thresholds_move() {
    let device = device();
    let arch = Architecture::JumpRelu(arch::JumpReluConfig {
        lambda: 0.5,
        threshold_init: 0.05,
        bandwidth: 0.05,
    });
    let data = Planted::new(D, 16, 1024, 0.15, 4);
    let sae = config(arch.clone())
        .init_with_data(&data.rows, &device)
        .unwrap();
    let before = thresholds(&sae);
    let (model, _, _, _) = train(arch, 3);
    let after = thresholds(&model);
    assert_ne!(before, after);
}

#[test]
fn matryoshka_prefixes_reconstruct_on_their_own() {
    let arch = Architecture::Matryoshka(arch::MatryoshkaConfig {
        k: 3,
        prefixes: vec![8],
    });
    let (model, data, _, _) = train(arch, 6);
    let device = device();
    let x = batch(&data, 256, &device);
    let f = model.encode(x.clone());
    let prefix = f.clone().narrow(1, 0, 8);
    let x_hat =
        prefix.matmul(model.w_dec.val().narrow(0, 0, 8)) + model.b_dec.val().unsqueeze::<2>();
    let centred = x.clone() - x.clone().mean_dim(0);
    let ev = 1.0
        - (x - x_hat).square().sum().into_scalar::<f32>()
            / centred.square().sum().into_scalar::<f32>();
    assert!(ev > 0.3, "the first 8 latents alone explain {ev}");
}

#[test]
fn unit_norm_decoder_stays_unit_norm() {
    let (model, _, _, _) = train(Architecture::Gated(arch::GatedConfig { lambda: 0.1 }), 2);
    let norms = model.decoder_norms().try_into_vec_as::<f32>().unwrap();
    assert!(norms.iter().all(|n| (n - 1.0).abs() < 1e-4), "{norms:?}");
}

#[test]
fn aux_k_revives_dead_latents() {
    let device = device();
    let data = Planted::new(D, 16, 64, 0.3, 2);
    let rows = Arc::new(data.rows.clone());
    let mut cfg = config(Architecture::TopK(arch::TopKConfig { k: 2 }))
        .with_aux_k(Some(4))
        .with_dead_window(1);
    cfg.aux_k_coefficient = 1.0;
    let sae = cfg.init_with_data(&rows, &device).unwrap();
    // Every latent counts as dead: AuxK adds a loss with gradient to the encoder.
    let x = batch(&data, 64, &device);
    let mut s = sae;
    s.since_fired = s.since_fired.map(|t| t + 10.0);
    let with_aux = s.forward_train(x.clone()).loss.into_scalar::<f32>();
    let plain = config(Architecture::TopK(arch::TopKConfig { k: 2 }))
        .init_with_data(&rows, &device)
        .unwrap();
    let without = plain.forward_train(x).loss.into_scalar::<f32>();
    assert!(with_aux > without, "{with_aux} vs {without}");
}

/// AuxK reaches JumpReLU's dead latents: with every threshold far above the pre-activations
/// (θ₀ = 10), no code fires and neither the reconstruction nor the L0 term (its rectangle
/// kernel is 0 away from θ) gives the encoder a gradient; AuxK's ReLU'd top-k of the positive
/// pre-activations does.
#[test]
fn aux_k_reaches_dead_jump_relu_latents() {
    let device = device();
    let data = Planted::new(D, 16, 64, 0.3, 2);
    let x = batch(&data, 64, &device);
    let encoder_grad = |aux_k: Option<usize>| {
        let jump = Architecture::JumpRelu(arch::JumpReluConfig {
            lambda: 0.1,
            threshold_init: 10.0,
            bandwidth: 0.05,
        });
        let mut cfg = config(jump).with_aux_k(aux_k).with_dead_window(1);
        cfg.aux_k_coefficient = 1.0;
        let mut sae = cfg.init_with_data(&data.rows, &device).unwrap();
        sae.since_fired = sae.since_fired.map(|t| t + 10.0);
        let out = sae.forward_train(x.clone());
        let codes = sae.encode(x.clone()).try_into_vec_as::<f32>().unwrap();
        assert!(codes.iter().all(|&c| c == 0.0), "every latent is dead");
        let grads = out.loss.backward();
        let g = sae.w_enc.grad(&grads);
        g.map_or(0.0, |g| g.abs().max().into_scalar::<f64>())
    };
    assert_eq!(encoder_grad(None), 0.0);
    assert!(encoder_grad(Some(4)) > 1e-6);
}

/// The hard-concrete penalty's floor: with every gate shut (log α far below the closing point
/// `−ln 11`), the floored expected L0 is the constant `λ · h · σ(−ln 11 + β ln 11)` and gives
/// the encoder bias no gradient, while SPEC.md's plain expected L0 keeps pushing it down.
#[test]
fn hard_concrete_floor_stops_pushing_shut_gates() {
    let device = device();
    let data = Planted::new(D, 16, 64, 0.3, 2);
    let x = batch(&data, 64, &device);
    let (lambda, beta) = (0.05, 2.0 / 3.0);
    let run = |floor: bool| {
        let mut sae = config(Architecture::HardConcrete(arch::HardConcreteConfig {
            lambda,
            beta,
            floor,
        }))
        .init_with_data(&data.rows, &device)
        .unwrap();
        sae.b_enc = sae
            .b_enc
            .map(|b| b.zeros_like().sub_scalar(40.0).require_grad());
        let out = sae.forward_train(x.clone());
        let loss = out.loss.clone().into_scalar::<f64>();
        let recon = out.reconstruction.clone().into_scalar::<f64>();
        let grads = out.loss.backward();
        let g = sae.b_enc.grad(&grads).unwrap();
        (loss - recon, g.try_into_vec_as::<f32>().unwrap())
    };
    let (floored, g) = run(true);
    let closing = -(11f64.ln());
    let expected = lambda * H as f64 / (1.0 + (-(closing + beta * 11f64.ln())).exp());
    assert!((floored - expected).abs() < 1e-5, "{floored} vs {expected}");
    assert!(g.iter().all(|&v| v == 0.0), "{g:?}");
    let (plain, g) = run(false);
    assert!(plain < 1e-9, "{plain}");
    assert!(g.iter().all(|&v| v > 0.0), "{g:?}");
}

#[test]
fn invalid_configs_are_typed_errors() {
    let device = device();
    let bad = [
        SaeConfig::new(0, 4),
        SaeConfig::new(4, 0),
        SaeConfig::new(4, 8).with_architecture(Architecture::TopK(arch::TopKConfig { k: 0 })),
        SaeConfig::new(4, 8).with_architecture(Architecture::TopK(arch::TopKConfig { k: 9 })),
        SaeConfig::new(4, 8).with_architecture(Architecture::Relu(arch::ReluConfig {})),
        SaeConfig::new(4, 8)
            .with_architecture(Architecture::TopK(arch::TopKConfig { k: 2 }))
            .with_aux_k(Some(0)),
        SaeConfig::new(4, 8)
            .with_architecture(Architecture::Gated(arch::GatedConfig { lambda: 1.0 }))
            .with_aux_k(Some(2)),
        SaeConfig::new(4, 8).with_architecture(Architecture::JumpRelu(arch::JumpReluConfig {
            lambda: 1.0,
            threshold_init: 0.0,
            bandwidth: 0.1,
        })),
        SaeConfig::new(4, 8).with_architecture(Architecture::Matryoshka(arch::MatryoshkaConfig {
            k: 2,
            prefixes: vec![4, 3],
        })),
        SaeConfig::new(4, 8)
            .with_architecture(Architecture::Gated(arch::GatedConfig { lambda: f64::NAN })),
        SaeConfig::new(1_000_000, 1_000_000_000)
            .with_architecture(Architecture::TopK(arch::TopKConfig { k: 2 })),
    ];
    for c in bad {
        let e = c
            .init(&device)
            .err()
            .unwrap_or_else(|| panic!("{c:?} was accepted"));
        assert!(!e.to_string().contains('\n'));
    }
    // The item names the config: the SAE's own fields, or the architecture's.
    let e = SaeConfig::new(4, 8)
        .with_architecture(Architecture::TopK(arch::TopKConfig { k: 9 }))
        .validate()
        .unwrap_err();
    assert!(
        matches!(&e, Error::InvalidHyperParameter { item: "top_k", field: "k", value, .. } if value == "9"),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        "top_k: `k` = 9 is invalid; expected between 1 and d_sae"
    );
    let e = SaeConfig::new(0, 8).validate().unwrap_err();
    assert!(
        matches!(
            e,
            Error::InvalidHyperParameter {
                item: "sae",
                field: "d_in",
                ..
            }
        ),
        "{e:?}"
    );
    let e = TrainConfig::new()
        .with_batch_size(0)
        .validate()
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::InvalidHyperParameter {
                item: "train",
                field: "batch_size",
                ..
            }
        ),
        "{e:?}"
    );
    let c = SaeConfig::new(4, 8).with_architecture(Architecture::TopK(arch::TopKConfig { k: 2 }));
    assert!(matches!(
        c.init_with_data(&[1.0, 2.0, 3.0], &device),
        Err(Error::Shape(_))
    ));
    assert!(TrainConfig::new().with_batch_size(0).validate().is_err());
    assert!(TrainConfig::new()
        .with_learning_rate(-1.0)
        .validate()
        .is_err());
}
