//! Pruning beyond the fixtures (SPEC.md "Pruning (v3)"): the counts and patterns every method
//! promises on random weights, SparseGPT's compensation, and every error case.

mod common;

use common::Lcg;
use sparse_losses::prune::{
    magnitude, output_error, satisfies_n_of_m, sparsegpt, wanda, PrunePattern, SparseGptConfig,
};
use sparse_losses::Error;

fn random(n: usize, seed: u64) -> Vec<f32> {
    let mut g = Lcg::new(seed);
    (0..n).map(|_| 2.0 * g.unit() - 1.0).collect()
}

#[test]
fn every_method_prunes_the_promised_count_and_pattern() {
    let (out, cols, n) = (12, 32, 40);
    let w = random(out * cols, 1);
    let x = random(n * cols, 2);
    let unstructured = PrunePattern::Unstructured { sparsity: 0.7 };
    let two_four = PrunePattern::NOfM { n: 2, m: 4 };
    let gpt = SparseGptConfig::new().with_block_size(8);
    let results = [
        magnitude(&w, [out, cols], unstructured).unwrap(),
        wanda(&w, [out, cols], &x, unstructured).unwrap(),
        sparsegpt(&w, [out, cols], &x, unstructured, &gpt).unwrap(),
    ];
    for (i, p) in results.iter().enumerate() {
        let pruned = p.mask.iter().filter(|m| **m == 0.0).count();
        // ⌊0.7 · 384⌋ = 268 over the tensor; Wanda ⌊0.7 · 32⌋ = 22 per row; SparseGPT
        // ⌊0.7 · 12 · 8⌋ = 67 per block of 8 columns.
        let want = [268, 22 * out, 67 * 4][i];
        assert_eq!(pruned, want, "method {i}");
        for (m, v) in p.mask.iter().zip(&p.weight) {
            assert!(*m == 1.0 || *v == 0.0);
        }
    }
    for p in [
        magnitude(&w, [out, cols], two_four).unwrap(),
        wanda(&w, [out, cols], &x, two_four).unwrap(),
        sparsegpt(&w, [out, cols], &x, two_four, &gpt).unwrap(),
    ] {
        assert!(satisfies_n_of_m(&p.weight, [out, cols], 2, 4));
        assert!((p.sparsity() - 0.5).abs() < 1e-12);
    }
    let rows = magnitude(&w, [out, cols], PrunePattern::Rows { sparsity: 0.25 }).unwrap();
    let dead_rows = rows
        .weight
        .chunks(cols)
        .filter(|r| r.iter().all(|v| *v == 0.0))
        .count();
    assert_eq!(dead_rows, 3);
    assert!(!satisfies_n_of_m(&w, [out, cols], 2, 4));
}

#[test]
fn sparsegpt_compensates_and_leaves_an_unpruned_layer_alone() {
    let (out, cols, n) = (8, 32, 64);
    let w = random(out * cols, 3);
    let x = random(n * cols, 4);
    let gpt = SparseGptConfig::new().with_block_size(16);
    // Nothing pruned: nothing moves.
    let same = sparsegpt(
        &w,
        [out, cols],
        &x,
        PrunePattern::Unstructured { sparsity: 0.0 },
        &gpt,
    )
    .unwrap();
    for (a, b) in same.weight.iter().zip(&w) {
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    }
    // Its updates move the outputs less than magnitude and Wanda at the same sparsity.
    let s = PrunePattern::Unstructured { sparsity: 0.5 };
    let e = |p: &[f32]| output_error(&w, p, [out, cols], &x);
    let gpt_error = e(&sparsegpt(&w, [out, cols], &x, s, &gpt).unwrap().weight);
    let wanda_error = e(&wanda(&w, [out, cols], &x, s).unwrap().weight);
    let magnitude_error = e(&magnitude(&w, [out, cols], s).unwrap().weight);
    assert!(
        gpt_error < wanda_error && gpt_error < magnitude_error,
        "{gpt_error} {wanda_error} {magnitude_error}"
    );
}

#[test]
fn bad_settings_are_typed_errors() {
    let w = random(4 * 6, 5);
    let x = random(3 * 6, 6);
    let u = |sparsity| PrunePattern::Unstructured { sparsity };
    for s in [-0.1, 1.0, f64::NAN] {
        assert!(matches!(
            magnitude(&w, [4, 6], u(s)),
            Err(Error::InvalidHyperParameter {
                field: "sparsity",
                ..
            })
        ));
    }
    assert!(matches!(
        magnitude(&w, [4, 6], PrunePattern::NOfM { n: 2, m: 4 }),
        Err(Error::RowNotMultipleOfM { len: 6, m: 4 })
    ));
    assert!(matches!(
        magnitude(&w, [4, 6], PrunePattern::NOfM { n: 3, m: 2 }),
        Err(Error::InvalidHyperParameter { field: "n", .. })
    ));
    assert!(matches!(
        wanda(&w, [4, 6], &x, PrunePattern::Rows { sparsity: 0.5 }),
        Err(Error::UnsupportedPattern {
            item: "wanda",
            pattern: "rows"
        })
    ));
    assert!(matches!(
        wanda(&w, [4, 6], &x[..5], u(0.5)),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        magnitude(&w, [5, 6], u(0.5)),
        Err(Error::ShapeMismatch { .. })
    ));
    let gpt = SparseGptConfig::new().with_block_size(6);
    assert!(matches!(
        sparsegpt(
            &random(4 * 8, 7),
            [4, 8],
            &random(3 * 8, 8),
            PrunePattern::NOfM { n: 2, m: 4 },
            &gpt
        ),
        Err(Error::InvalidHyperParameter {
            field: "block_size",
            ..
        })
    ));
    let bad_damp = SparseGptConfig::new().with_damp(-1.0);
    assert!(matches!(
        sparsegpt(&w, [4, 6], &x, u(0.5), &bad_damp),
        Err(Error::InvalidHyperParameter { field: "damp", .. })
    ));
    let message = wanda(&w, [4, 6], &x, PrunePattern::Rows { sparsity: 0.5 })
        .unwrap_err()
        .to_string();
    assert_eq!(
        message,
        "wanda: the `rows` pattern is not supported by this method"
    );
}

/// The tensor path of SparseGPT (f32, blocked factorisations as matrix products) agrees with
/// the f64 host path on a layer wider than its 128-column panels, on every backend.
#[test]
fn sparsegpt_on_tensors_matches_the_f64_path() {
    use burn::prelude::*;
    use burn::tensor::TensorData;
    use sparse_losses::prune::{prune_tensor, PruneMethod};
    let (out, cols, n) = (24, 300, 400);
    let w = random(out * cols, 11);
    // Correlated inputs (a shared component), as activations are.
    let base = random(n, 12);
    let x: Vec<f32> = random(n * cols, 13)
        .iter()
        .enumerate()
        .map(|(i, v)| v + 0.5 * base[i / cols])
        .collect();
    let config = SparseGptConfig::new().with_block_size(64);
    #[allow(deprecated)]
    let mut devices = vec![Device::flex(), Device::ndarray()];
    if let Some(d) = common::wgpu_or_skip() {
        devices.push(d);
    }
    for pattern in [
        PrunePattern::Unstructured { sparsity: 0.6 },
        PrunePattern::NOfM { n: 2, m: 4 },
    ] {
        let reference = sparsegpt(&w, [out, cols], &x, pattern, &config).unwrap();
        for device in &devices {
            let t = |v: &[f32], shape: [usize; 2]| {
                Tensor::<2>::from_data(TensorData::new(v.to_vec(), shape), device)
            };
            let (mask, pruned) = prune_tensor(
                t(&w, [out, cols]),
                Some(t(&x, [n, cols])),
                &PruneMethod::SparseGpt(config.clone()),
                pattern,
            )
            .unwrap();
            let mask: Vec<f32> = mask.try_into_vec_as::<f32>().unwrap();
            let pruned: Vec<f32> = pruned.try_into_vec_as::<f32>().unwrap();
            let same = mask
                .iter()
                .zip(&reference.mask)
                .filter(|(a, b)| a == b)
                .count();
            assert!(
                same as f64 >= 0.995 * mask.len() as f64,
                "{pattern:?}: {same} of {}",
                mask.len()
            );
            let scale = w.iter().fold(0f32, |m, v| m.max(v.abs()));
            let close = pruned
                .iter()
                .zip(&reference.weight)
                .filter(|(a, b)| (*a - *b).abs() <= 1e-3 * scale)
                .count();
            assert!(
                close as f64 >= 0.99 * pruned.len() as f64,
                "{pattern:?}: {close} of {}",
                pruned.len()
            );
            let e_tensor = output_error(&w, &pruned, [out, cols], &x);
            let e_ref = output_error(&w, &reference.weight, [out, cols], &x);
            assert!(
                (e_tensor - e_ref).abs() <= 1e-3 * e_ref,
                "{e_tensor} vs {e_ref}"
            );
        }
    }
}

/// The CSR forward equals the dense product for every batch size (whole and partial tiles),
/// with 16- and 32-bit column indices, and stores only the kept weights.
#[test]
fn a_sparse_linear_computes_the_dense_product() {
    use sparse_losses::prune::SparseLinear;
    for (out, cols) in [(40, 96), (3, 70_000)] {
        let w = random(out * cols, 21);
        let pruned = magnitude(
            &w,
            [out, cols],
            PrunePattern::Unstructured { sparsity: 0.8 },
        )
        .unwrap();
        let bias: Vec<f32> = random(out, 22);
        let sparse =
            SparseLinear::from_rows(&pruned.weight, [out, cols], Some(bias.clone())).unwrap();
        assert_eq!(
            sparse.nnz(),
            out * cols - (0.8 * (out * cols) as f64).floor() as usize
        );
        for batch in [1, 5, 32, 45] {
            let x = random(batch * cols, 23 + batch as u64);
            for threads in [1, 3] {
                let y = sparse.forward_rows(&x, batch, threads);
                for b in 0..batch {
                    for o in 0..out {
                        let want: f64 = (0..cols)
                            .map(|i| x[b * cols + i] as f64 * pruned.weight[o * cols + i] as f64)
                            .sum::<f64>()
                            + bias[o] as f64;
                        let got = y[b * out + o] as f64;
                        assert!(
                            (got - want).abs() < 1e-3 * (1.0 + want.abs()),
                            "{out}x{cols} b{batch}: {got} vs {want}"
                        );
                    }
                }
            }
        }
        let index_bytes = if cols <= 1 << 16 { 2 } else { 4 };
        assert_eq!(
            sparse.bytes(),
            sparse.nnz() * (4 + index_bytes) + 4 * (out + 1)
        );
    }
    assert!(matches!(
        SparseLinear::from_rows(&[1.0; 6], [2, 4], None),
        Err(Error::ShapeMismatch { .. })
    ));
}

mod module {
    use burn::module::Module;
    use burn::nn::{Linear, LinearConfig};
    use burn::optim::{AdamConfig, GradientsParams};
    use burn::prelude::*;
    use burn::tensor::Distribution;
    use sparse_losses::prune::{
        prune_tensor, ModulePruner, PruneMethod, PrunePattern, SparseGptConfig,
    };
    use sparse_losses::Error;

    #[derive(Module, Debug)]
    struct Mlp {
        a: Linear,
        b: Linear,
    }

    impl Mlp {
        fn new(device: &Device) -> Self {
            device.seed(7);
            Self {
                a: LinearConfig::new(16, 32).init(device),
                b: LinearConfig::new(32, 8).init(device),
            }
        }

        fn forward(&self, x: Tensor<2>) -> Tensor<2> {
            self.b
                .forward(burn::tensor::activation::relu(self.a.forward(x)))
        }
    }

    fn host(t: Tensor<2>) -> Vec<f32> {
        t.try_into_vec_as::<f32>().unwrap()
    }

    /// Each method prunes both layers in order, in Burn's `[in, out]` layout, each with the
    /// inputs the already pruned layers before it produce; the report says so.
    #[test]
    fn a_module_is_pruned_layer_after_layer() {
        let device = Device::flex();
        let x = Tensor::<2>::random([64, 16], Distribution::Normal(0.0, 1.0), &device);
        for method in [
            PruneMethod::Magnitude,
            PruneMethod::Wanda,
            PruneMethod::SparseGpt(SparseGptConfig::new().with_block_size(8)),
        ] {
            let mlp = Mlp::new(&device);
            let dense_a = mlp.a.weight.val();
            let pattern = PrunePattern::Unstructured { sparsity: 0.6 };
            let mut calls = Vec::new();
            let out = ModulePruner::new(method.clone(), pattern)
                .prune(mlp, |m: &Mlp, path| {
                    // When b's inputs are asked for, a is already pruned.
                    let a_zeros = host(m.a.weight.val()).iter().filter(|v| **v == 0.0).count();
                    calls.push((path.to_string(), a_zeros));
                    match path {
                        "a.weight" => x.clone(),
                        _ => burn::tensor::activation::relu(m.a.forward(x.clone())),
                    }
                })
                .unwrap();
            let paths: Vec<&str> = out.report.layers.iter().map(|l| l.path.as_str()).collect();
            assert_eq!(paths, ["a.weight", "b.weight"]);
            if !matches!(method, PruneMethod::Magnitude) {
                assert_eq!(calls[0], ("a.weight".to_string(), 0));
                assert_eq!(calls[1].0, "b.weight");
                // ⌊0.6·16⌋ per row (Wanda), ⌊0.6·32·8⌋ per block (SparseGPT): at least 288 of 512.
                assert!(
                    calls[1].1 >= 288,
                    "a was pruned before b's inputs: {calls:?}"
                );
            } else {
                assert!(calls.is_empty());
            }
            // Layer a as prune_tensor prunes W [out, in] = weightᵀ.
            let (_, want) = prune_tensor(
                dense_a.clone().transpose(),
                Some(x.clone()),
                &method,
                pattern,
            )
            .unwrap();
            let got = out.model.a.weight.val().transpose();
            let diff = (got - want).abs().max().into_scalar::<f32>();
            assert!(diff < 1e-6, "{}: {diff}", method.name());
            for l in &out.report.layers {
                assert!((l.sparsity - 0.6).abs() < 0.05, "{l:?}");
            }
            assert!(out.report.table().contains("| all |"));
            let json = serde_json::to_value(&out.report).unwrap();
            assert_eq!(json["layers"][1]["path"], "b.weight");
            assert_eq!(json["pattern"]["kind"], "unstructured");
        }
    }

    /// SparseGPT on a model that trains (autodiff, parameters requiring gradients), with
    /// calibration inputs from its own forward pass: the pruned weights are leaves again and
    /// the model trains on.
    #[test]
    fn sparsegpt_prunes_a_model_that_trains() {
        let device = Device::flex().autodiff();
        let x = Tensor::<2>::random([64, 16], Distribution::Normal(0.0, 1.0), &device);
        let out = ModulePruner::new(
            PruneMethod::SparseGpt(SparseGptConfig::new().with_block_size(8)),
            PrunePattern::NOfM { n: 2, m: 4 },
        )
        .prune(Mlp::new(&device), |m: &Mlp, path| match path {
            "a.weight" => x.clone(),
            _ => burn::tensor::activation::relu(m.a.forward(x.clone())),
        })
        .unwrap();
        let mut model = out.model;
        let loss = model.forward(x.clone()).square().mean();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = AdamConfig::new().init().step(1e-2, model, grads);
        let model = out.masks.apply(model).unwrap();
        let zeros = host(model.a.weight.val().inner())
            .iter()
            .filter(|v| **v == 0.0)
            .count();
        assert_eq!(zeros, 256);
    }

    /// After Adam steps the masks put the pruned weights back to exactly 0; the rest trained.
    #[test]
    fn masks_keep_pruned_weights_at_zero_while_training() {
        let device = Device::flex().autodiff();
        let x = Tensor::<2>::random([32, 16], Distribution::Normal(0.0, 1.0), &device);
        let pruned = ModulePruner::new(PruneMethod::Magnitude, PrunePattern::NOfM { n: 2, m: 4 })
            .prune(Mlp::new(&device), |_, _| {
                unreachable!("magnitude needs no inputs")
            })
            .unwrap();
        let (mut model, masks) = (pruned.model, pruned.masks);
        let before = model.a.weight.val().inner();
        let mut optim = AdamConfig::new().init();
        for _ in 0..3 {
            let loss = model.forward(x.clone()).square().mean();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(1e-2, model, grads);
            model = masks.apply(model).unwrap();
        }
        let after = model.a.weight.val().inner();
        let (b, a) = (host(before), host(after));
        let mut moved = 0;
        for (w0, w1) in b.iter().zip(&a) {
            if *w0 == 0.0 {
                assert_eq!(*w1, 0.0);
            } else if w0 != w1 {
                moved += 1;
            }
        }
        assert!(moved > 100, "{moved}");
        assert!((masks.sparsity() - 0.5).abs() < 1e-12);
        // Nothing selected is a typed error.
        let err = ModulePruner::new(PruneMethod::Magnitude, PrunePattern::NOfM { n: 2, m: 4 })
            .include("nothing.here")
            .prune(Mlp::new(&Device::flex()), |_, _| unreachable!())
            .unwrap_err();
        assert!(matches!(err, Error::NoParametersSelected { .. }), "{err}");
    }

    /// Gradual magnitude pruning follows the cubic schedule (masks recomputed every Δt,
    /// kept between), the masks survive a save and load (a resume), and the pruned module is a
    /// plain Burn module whose zeros a recorder keeps.
    #[test]
    fn gradual_pruning_masks_resume_and_a_recorder_keeps_the_zeros() {
        use sparse_losses::prune::{GradualPruningConfig, PruneMasks};
        let device = Device::flex().autodiff();
        let x = Tensor::<2>::random([32, 16], Distribution::Normal(0.0, 1.0), &device);
        let gradual = GradualPruningConfig::new(0.75, 8)
            .with_every(2)
            .init()
            .unwrap()
            .include("a.weight");
        let mut model = Mlp::new(&device);
        let mut masks = PruneMasks::default();
        let mut optim = AdamConfig::new().init();
        let mut seen = Vec::new();
        for step in 1..=12 {
            let loss = model.forward(x.clone()).square().mean();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(1e-2, model, grads);
            model = gradual.step(model, step, &mut masks).unwrap();
            let zeros = host(model.a.weight.val().inner())
                .iter()
                .filter(|v| **v == 0.0)
                .count();
            seen.push(zeros);
            // Exactly the scheduled count on layer a (512 weights), none on b.
            let want = (gradual.sparsity_at(step) * 512.0).floor() as usize;
            assert_eq!(zeros, want, "step {step}: {seen:?}");
            assert!(host(model.b.weight.val().inner()).iter().all(|v| *v != 0.0));
        }
        assert!(
            seen.windows(2).all(|w| w[0] <= w[1]) && *seen.last().unwrap() == 384,
            "{seen:?}"
        );
        // A resume: the masks from disk put the zeros back after the next step.
        let dir = std::env::temp_dir().join(format!("prune-masks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("masks.bin");
        masks.save(&file).unwrap();
        let restored = PruneMasks::load(&file).unwrap();
        assert_eq!(restored.masks.len(), 1);
        assert_eq!(restored.masks[0].0, "a.weight");
        assert_eq!(restored.sparsity(), masks.sparsity());
        let loss = model.forward(x.clone()).square().mean();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = restored.apply(optim.step(1e-2, model, grads)).unwrap();
        let zeros = host(model.a.weight.val().inner())
            .iter()
            .filter(|v| **v == 0.0)
            .count();
        assert_eq!(zeros, 384);
        // A truncated or foreign file is one line.
        let bytes = std::fs::read(&file).unwrap();
        std::fs::write(&file, &bytes[..bytes.len() - 3]).unwrap();
        let err = PruneMasks::load(&file).unwrap_err().to_string();
        assert!(err.contains("bytes") && !err.contains('\n'), "{err}");
        std::fs::write(&file, b"hello").unwrap();
        assert!(PruneMasks::load(&file)
            .unwrap_err()
            .to_string()
            .contains("not a masks file"));
        // Squashed (exact zeros, plain modules), Burn's recorder keeps the zeros.
        let path = dir.join("model");
        let plain = masks.squash(model).unwrap().valid();
        plain.clone().save_file(&path).unwrap();
        let back = Mlp::new(&Device::flex()).try_load_file(&path).unwrap();
        assert_eq!(host(back.a.weight.val()), host(plain.a.weight.val()));
        let _ = std::fs::remove_dir_all(&dir);
        // Bad settings are typed errors.
        for (config, field) in [
            (GradualPruningConfig::new(1.0, 8), "final_sparsity"),
            (GradualPruningConfig::new(0.5, 0), "ramp_steps"),
            (
                GradualPruningConfig::new(0.5, 8).with_initial_sparsity(0.6),
                "initial_sparsity",
            ),
            (GradualPruningConfig::new(0.5, 8).with_every(0), "every"),
        ] {
            assert!(matches!(
                config.init(),
                Err(Error::InvalidHyperParameter { field: f, .. }) if f == field
            ));
        }
    }

    /// A convolution's `[out, in, kh, kw]` weight is pruned as `[out, in·kh·kw]`: 2:4 along
    /// each output channel's flattened inputs.
    #[test]
    fn a_convolution_is_pruned_along_its_flattened_inputs() {
        use burn::nn::conv::{Conv2d, Conv2dConfig};
        use sparse_losses::prune::satisfies_n_of_m;

        #[derive(Module, Debug)]
        struct Net {
            conv: Conv2d,
        }
        let device = Device::flex();
        let net = Net {
            conv: Conv2dConfig::new([4, 8], [2, 2]).init(&device),
        };
        let out = ModulePruner::new(PruneMethod::Magnitude, PrunePattern::NOfM { n: 2, m: 4 })
            .prune(net, |_, _| unreachable!())
            .unwrap();
        let w = out.model.conv.weight.val();
        assert_eq!(w.dims(), [8, 4, 2, 2]);
        assert!(satisfies_n_of_m(
            &w.try_into_vec_as::<f32>().unwrap(),
            [8, 16],
            2,
            4
        ));
        assert_eq!(out.report.layers[0].path, "conv.weight");
        assert_eq!(out.report.layers[0].sparsity, 0.5);
    }
}
