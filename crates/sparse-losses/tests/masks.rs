//! Binary masks: the custom straight-through backward, the rules' semantics, `MaskedLinear`
//! learning a sparse support, N:M validity during training, the cubic schedule, error cases.

mod common;

use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::{Distribution, TensorData};
use sparse_losses::prelude::*;

fn vec(t: Tensor<2>) -> Vec<f32> {
    t.into_data().try_into_vec().unwrap()
}

fn rules() -> Vec<(String, MaskRule)> {
    let mut out = Vec::new();
    for clipped in [false, true] {
        let base = BinaryMaskConfig::new().with_clipped(clipped);
        for (name, config) in [
            ("threshold", base.clone().with_threshold(0.1)),
            (
                "topk k=3",
                base.clone().with_kind(MaskKind::Topk).with_k(Some(3)),
            ),
            (
                "topk fraction=0.4",
                base.clone()
                    .with_kind(MaskKind::Topk)
                    .with_fraction(Some(0.4)),
            ),
            ("2:4", base.clone().with_kind(MaskKind::NOfM)),
            ("1:4", base.clone().with_kind(MaskKind::NOfM).with_n(1)),
        ] {
            out.push((format!("{name} clipped={clipped}"), config.init().unwrap()));
        }
    }
    out
}

/// The custom backward gives the gradients of the textbook detach formulation:
/// `m_ste = c⊙s + (m − c⊙s).detach()` with `c = 1` (or `1[|s| <= 1]` when clipped).
#[test]
fn custom_backward_matches_the_detach_formulation() {
    #[allow(deprecated)]
    #[cfg_attr(not(feature = "wgpu"), allow(unused_mut))]
    let mut devices = vec![Device::flex().autodiff(), Device::ndarray().autodiff()];
    // On wgpu too, where an adapter exists (lavapipe in CI).
    #[cfg(feature = "wgpu")]
    if let Ok(device) = common::wgpu_device() {
        devices.push(device.autodiff());
    }
    for device in devices {
        device.seed(3);
        for (name, rule) in rules() {
            for _ in 0..5 {
                let shape = [6, 16];
                let s = Tensor::<2>::random(shape, Distribution::Normal(0.0, 1.5), &device);
                let w = Tensor::<2>::random(shape, Distribution::Normal(0.0, 1.0), &device);
                let g = Tensor::<2>::random(shape, Distribution::Normal(0.0, 1.0), &device);

                let (s1, w1) = (s.clone().require_grad(), w.clone().require_grad());
                let custom = (rule.mask_weight(w1.clone(), s1.clone()).unwrap() * g.clone()).sum();
                let grads = custom.clone().backward();
                let (gs1, gw1) = (s1.grad(&grads).unwrap(), w1.grad(&grads).unwrap());

                let (s2, w2) = (s.clone().require_grad(), w.clone().require_grad());
                let hard = rule.mask(s2.clone()).unwrap();
                let window = if rule.clipped() {
                    s.clone().abs().lower_equal_elem(1.0).float()
                } else {
                    Tensor::ones(shape, &device)
                };
                let soft = s2.clone() * window;
                let ste = soft.clone() + (hard - soft).detach();
                let detach = (w2.clone() * ste * g.clone()).sum();
                let grads = detach.clone().backward();
                let (gs2, gw2) = (s2.grad(&grads).unwrap(), w2.grad(&grads).unwrap());

                // `s + (m − s)` is `m` only up to rounding in the detach formulation.
                let (v1, v2) = (custom.into_scalar::<f32>(), detach.into_scalar::<f32>());
                assert!(
                    (v1 - v2).abs() <= 1e-5 * v1.abs().max(1.0),
                    "{name}: {v1} vs {v2}"
                );
                let (gs1, gs2, gw1, gw2) = (vec(gs1), vec(gs2), vec(gw1), vec(gw2));
                for (a, b) in gs1.iter().zip(&gs2).chain(gw1.iter().zip(&gw2)) {
                    assert!(
                        (a - b).abs() <= 1e-6 * a.abs().max(1.0),
                        "{name}: {a} vs {b}"
                    );
                }
            }
        }
    }
}

#[test]
fn without_autodiff_the_same_call_returns_the_mask() {
    let device = Device::flex();
    let s = Tensor::<2>::from_floats([[0.3, -1.0, 2.0, 0.0]], &device);
    for (name, rule) in rules()
        .into_iter()
        .filter(|(n, _)| !n.starts_with("topk k=3"))
    {
        let applied = vec(rule.apply(s.clone()).unwrap());
        let mask = vec(rule.mask(s.clone()).unwrap());
        assert_eq!(applied, mask, "{name}");
    }
    let rule = BinaryMaskConfig::new().init().unwrap();
    assert_eq!(vec(rule.apply(s).unwrap()), [1.0, 0.0, 1.0, 0.0]);
}

#[test]
fn rules_follow_the_spec() {
    let device = Device::flex();
    let s = Tensor::<2>::from_floats(
        [[0.5, 0.9, 0.5, 0.9, 0.1], [0.3, 0.3, 0.3, -1.0, 0.3]],
        &device,
    );
    let topk = |k| {
        BinaryMaskConfig::new()
            .with_kind(MaskKind::Topk)
            .with_k(Some(k))
            .init()
            .unwrap()
    };
    // Ties: the lower index wins.
    assert_eq!(
        vec(topk(3).mask(s.clone()).unwrap()),
        [1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0]
    );
    assert_eq!(vec(topk(5).mask(s.clone()).unwrap()), [1.0; 10]);
    // fraction 0.5 of 5 = 2.5 rounds to 2 (half to even).
    let half = BinaryMaskConfig::new()
        .with_kind(MaskKind::Topk)
        .with_fraction(Some(0.5))
        .init()
        .unwrap();
    assert_eq!(half.k_for(5), Some(2));
    assert_eq!(half.k_for(7), Some(4));
    // Ranking is by the signed score: negated, -1.0 becomes the largest of its row.
    let one = topk(1);
    assert_eq!(
        vec(one.mask(s.clone().neg()).unwrap()),
        [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    );
    // Threshold is strict: s > τ.
    let thr = BinaryMaskConfig::new().with_threshold(0.5).init().unwrap();
    assert_eq!(
        vec(thr.mask(s).unwrap()),
        [0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    );
}

#[test]
fn mask_errors_are_typed() {
    let invalid = |c: BinaryMaskConfig, field: &str| {
        let err = c.init().unwrap_err();
        assert!(
            matches!(&err, Error::InvalidHyperParameter { field: f, .. } if *f == field),
            "{field}: {err}"
        );
    };
    let topk = BinaryMaskConfig::new().with_kind(MaskKind::Topk);
    assert!(matches!(
        topk.clone().init(),
        Err(Error::MissingHyperParameter { field: "k", .. })
    ));
    invalid(topk.clone().with_k(Some(0)), "k");
    invalid(
        topk.clone().with_k(Some(2)).with_fraction(Some(0.5)),
        "fraction",
    );
    for f in [0.0, 1.5, f64::NAN] {
        invalid(topk.clone().with_fraction(Some(f)), "fraction");
    }
    let nm = BinaryMaskConfig::new().with_kind(MaskKind::NOfM);
    invalid(nm.clone().with_n(0), "n");
    invalid(nm.clone().with_n(5), "n");
    invalid(nm.clone().with_m(0), "m");
    invalid(
        BinaryMaskConfig::new().with_threshold(f64::NAN),
        "threshold",
    );

    let device = Device::flex();
    let s = Tensor::<2>::zeros([2, 6], &device);
    let k7 = topk.with_k(Some(7)).init().unwrap();
    assert!(matches!(
        k7.mask(s.clone()),
        Err(Error::TopkTooLarge { k: 7, len: 6, .. })
    ));
    assert!(matches!(
        nm.init().unwrap().mask(s.clone()),
        Err(Error::RowNotMultipleOfM { len: 6, m: 4 })
    ));
    let rule = BinaryMaskConfig::new().init().unwrap();
    assert!(matches!(
        rule.mask_weight(Tensor::<2>::zeros([6, 2], &device), s),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        MaskedLinearConfig::new(6, 2)
            .with_mask(BinaryMaskConfig::new().with_kind(MaskKind::NOfM))
            .init(&device),
        Err(Error::RowNotMultipleOfM { len: 6, m: 4 })
    ));
    let layer = MaskedLinearConfig::new(8, 2).init(&device).unwrap();
    assert!(matches!(
        layer.try_forward(Tensor::<2>::zeros([3, 7], &device)),
        Err(Error::ShapeMismatch { .. })
    ));
    assert_eq!(
        layer
            .try_forward(Tensor::<3>::zeros([2, 3, 8], &device))
            .unwrap()
            .dims(),
        [2, 3, 2]
    );
    assert!(matches!(
        MaskedLinearConfig::new(0, 2).init(&device),
        Err(Error::InvalidHyperParameter {
            field: "d_input",
            ..
        })
    ));
    assert!(CubicScheduleConfig::new(1.0, 0.1, 10)
        .with_warmup_steps(5)
        .with_cooldown_steps(5)
        .init()
        .is_err());
}

#[test]
fn cubic_schedule_values() {
    let s = CubicScheduleConfig::new(1.0, 0.2, 110)
        .with_warmup_steps(10)
        .init()
        .unwrap();
    assert_eq!(s.value(0), 1.0);
    assert_eq!(s.value(10), 1.0);
    assert!((s.value(60) - (0.2 + 0.8 * 0.125)).abs() < 1e-12);
    assert_eq!(s.value(110), 0.2);
    assert_eq!(s.value(500), 0.2);
    // Monotone between the ends.
    assert!((10..110).all(|t| s.value(t + 1) <= s.value(t)));
}

#[test]
fn masked_linear_exports_and_reports() {
    let device = Device::flex().autodiff();
    let layer = MaskedLinearConfig::new(8, 2)
        .with_mask(
            BinaryMaskConfig::new()
                .with_kind(MaskKind::Topk)
                .with_k(Some(3)),
        )
        .init(&device)
        .unwrap();
    // Scores start at |w|: each output neuron keeps its 3 largest-magnitude inputs.
    let w = vec(layer.weight.val());
    let pruned = vec(layer.pruned_weight());
    for out in 0..2 {
        let mut col: Vec<(f32, usize)> = (0..8).map(|i| (w[i * 2 + out].abs(), i)).collect();
        col.sort_by(|a, b| b.0.total_cmp(&a.0));
        for (rank, (_, i)) in col.iter().enumerate() {
            let kept = pruned[i * 2 + out] != 0.0;
            assert_eq!(kept, rank < 3, "output {out}, input {i}");
        }
    }
    assert!((layer.sparsity() - 5.0 / 8.0).abs() < 1e-9);
    // The forward pass uses exactly the pruned weight.
    let x = Tensor::<2>::random([4, 8], Distribution::Default, &device);
    let bias = layer.bias.as_ref().unwrap().val().unsqueeze_dim::<2>(0);
    let expected = x.clone().matmul(layer.pruned_weight()) + bias;
    let got = layer.forward(x.clone());
    let plain = layer.to_linear().forward(x);
    for ((a, b), c) in vec(got)
        .iter()
        .zip(vec(expected).iter())
        .zip(vec(plain).iter())
    {
        assert!((a - b).abs() < 1e-5 && (a - c).abs() < 1e-5);
    }
}

#[test]
fn masked_linear_col_layout_saves_transposed() {
    use burn::module::Module;
    use burn::nn::LinearLayout;
    let device = Device::flex();
    let layer = MaskedLinearConfig::new(6, 2)
        .with_layout(LinearLayout::Col)
        .with_mask(
            BinaryMaskConfig::new()
                .with_kind(MaskKind::Topk)
                .with_k(Some(2)),
        )
        .init(&device)
        .unwrap();
    // In memory the weight is [d_input, d_output], whatever the layout.
    assert_eq!(layer.weight.val().dims(), [6, 2]);
    assert_eq!(
        layer.forward(Tensor::<2>::ones([3, 6], &device)).dims(),
        [3, 2]
    );
    assert!((layer.sparsity() - 4.0 / 6.0).abs() < 1e-6);
    // Saved like Burn's Col-layout Linear. Burn 0.22.1 checks a record against a weight that
    // is already initialised before the load mapper transposes it (its own Linear fails the
    // same way), so reload into a layer whose weight is still lazy: constant scores.
    let dir = std::env::temp_dir().join(format!("sparse-losses-col-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("masked");
    let w = vec(layer.weight.val());
    let mask = vec(layer.mask());
    layer.save_file(&path).unwrap();
    let reloaded = MaskedLinearConfig::new(6, 2)
        .with_layout(LinearLayout::Col)
        .with_score_init(ScoreInit::Constant(0.0))
        .with_mask(
            BinaryMaskConfig::new()
                .with_kind(MaskKind::Topk)
                .with_k(Some(2)),
        )
        .init(&device)
        .unwrap()
        .load_file(&path);
    assert_eq!(vec(reloaded.weight.val()), w);
    assert_eq!(vec(reloaded.mask()), mask);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// y depends on inputs 3, 8, 17 and 30 of 32 only.
const RELEVANT: [usize; 4] = [3, 8, 17, 30];

fn regression(device: &Device, n: usize) -> (Tensor<2>, Tensor<2>) {
    let x = Tensor::<2>::random([n, 32], Distribution::Normal(0.0, 1.0), device);
    let mut coef = vec![0f32; 32];
    for (j, &i) in RELEVANT.iter().enumerate() {
        coef[i] = [1.5, -2.0, 1.0, -1.2][j];
    }
    let coef = Tensor::<2>::from_data(TensorData::new(coef, [32, 1]), device);
    let noise = Tensor::<2>::random([n, 1], Distribution::Normal(0.0, 0.05), device);
    let y = x.clone().matmul(coef) + noise;
    (x, y)
}

/// Movement pruning on a synthetic regression: with the kept fraction annealed from 1 to 4/32
/// by the cubic schedule, the learned top-k mask keeps exactly the 4 inputs that matter.
#[test]
fn masked_linear_learns_the_true_support() {
    let mut exact = 0;
    for seed in 0..10u64 {
        let device = Device::flex().autodiff();
        device.seed(seed);
        let (x, y) = regression(&device, 256);
        let config = MaskedLinearConfig::new(32, 1).with_mask(
            BinaryMaskConfig::new()
                .with_kind(MaskKind::Topk)
                .with_fraction(Some(1.0)),
        );
        let mut layer = config.init(&device).unwrap();
        let steps = 300;
        let keep = CubicScheduleConfig::new(1.0, 4.0 / 32.0, steps)
            .with_warmup_steps(20)
            .with_cooldown_steps(60)
            .init()
            .unwrap();
        let mut optim = AdamConfig::new().init();
        for step in 0..steps {
            let rule = layer.mask.rule.with_fraction(keep.value(step)).unwrap();
            layer.set_rule(rule).unwrap();
            let loss = (layer.forward(x.clone()) - y.clone()).square().mean();
            let grads = GradientsParams::from_grads(loss.backward(), &layer);
            layer = optim.step(2e-2, layer, grads);
        }
        assert_eq!(layer.mask.rule.k_for(32), Some(4));
        let mask = vec(layer.mask());
        let kept: Vec<usize> = (0..32).filter(|&i| mask[i] == 1.0).collect();
        if kept == RELEVANT {
            exact += 1;
        } else {
            println!("seed {seed}: kept {kept:?}");
        }
    }
    assert!(
        exact >= 9,
        "the true support was found in {exact} of 10 seeds"
    );
}

/// Training with a 2:4 mask keeps a valid 2:4 pattern along the inputs after every step.
#[test]
fn two_of_four_stays_valid_during_training() {
    let device = Device::flex().autodiff();
    device.seed(11);
    let (x, y) = regression(&device, 128);
    let y = y.repeat_dim(1, 3);
    let mut layer = MaskedLinearConfig::new(32, 3)
        .with_mask(BinaryMaskConfig::new().with_kind(MaskKind::NOfM))
        .init(&device)
        .unwrap();
    let mut optim = AdamConfig::new().init();
    let mut changed = false;
    let mut previous = vec(layer.mask());
    for _ in 0..40 {
        let loss = (layer.forward(x.clone()) - y.clone()).square().mean();
        let grads = GradientsParams::from_grads(loss.backward(), &layer);
        layer = optim.step(5e-2, layer, grads);
        // mask is [d_input, d_output]: along the inputs, every group of 4 keeps exactly 2.
        let mask = vec(layer.mask());
        for out in 0..3 {
            for group in 0..8 {
                let kept: f32 = (0..4).map(|j| mask[(group * 4 + j) * 3 + out]).sum();
                assert_eq!(kept, 2.0, "output {out}, group {group}");
            }
        }
        assert!((layer.sparsity() - 0.5).abs() < 1e-9);
        changed |= mask != previous;
        previous = mask;
    }
    assert!(changed, "the mask never moved: the scores are not learning");
}
