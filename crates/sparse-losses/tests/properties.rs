//! Properties and error cases of the penalties, on the Flex backend.

mod common;

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::{Distribution, TensorData};
use common::close_with_floor;
use proptest::prelude::*;
use sparse_losses::metrics;
use sparse_losses::prelude::*;

fn dev() -> Device {
    Device::flex()
}

fn t2(data: &[f32], rows: usize, cols: usize) -> Tensor<2> {
    Tensor::from_data(TensorData::new(data.to_vec(), [rows, cols]), &dev())
}

fn t3(data: &[f32], dims: [usize; 3]) -> Tensor<3> {
    Tensor::from_data(TensorData::new(data.to_vec(), dims), &dev())
}

fn scalar(t: Tensor<1>) -> f32 {
    t.into_scalar()
}

fn all_penalties() -> Vec<AnyPenalty> {
    PenaltyConfig::NAMES
        .iter()
        .map(|name| PenaltyConfig::default_for(name).unwrap().init().unwrap())
        .collect()
}

/// A [batch, h, w] tensor of values in [-3, 3], with some exact zeros.
fn images() -> impl Strategy<Value = (Vec<f32>, [usize; 3])> {
    (1usize..3, 2usize..5, 2usize..5).prop_flat_map(|(b, h, w)| {
        prop::collection::vec(prop_oneof![Just(0.0f32), -3.0f32..3.0], b * h * w)
            .prop_map(move |v| (v, [b, h, w]))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn penalties_are_non_negative((data, dims) in images()) {
        for penalty in all_penalties() {
            if penalty.name() == "spike_and_slab" {
                continue; // a negative log-density: may be negative near 0, by design
            }
            let v = scalar(penalty.forward(t3(&data, dims)).unwrap());
            prop_assert!(v >= -1e-6, "{} gave {v}", penalty.name());
        }
    }

    #[test]
    fn l1_scales_with_abs_c((data, dims) in images(), c in -10.0f32..10.0) {
        for reduction in [Reduction::Sum, Reduction::Mean] {
            let l1 = L1Config::new().with_lambda(0.7).with_reduction(reduction).init().unwrap();
            let base = scalar(l1.forward(t3(&data, dims)).unwrap());
            let scaled = scalar(l1.forward(t3(&data, dims).mul_scalar(c)).unwrap());
            prop_assert!(close_with_floor(scaled, c.abs() * base, 1e-5, 1e-6), "{scaled} vs {}", c.abs() * base);
        }
    }

    #[test]
    fn hoyer_is_scale_invariant((data, dims) in images(), c in prop_oneof![-1e3f32..-1e-3, 1e-3f32..1e3]) {
        for (squared, per_row) in [(false, false), (true, false), (false, true), (true, true)] {
            let hoyer = HoyerConfig::new().with_squared(squared).with_per_row(per_row).init().unwrap();
            let base = scalar(hoyer.forward(t3(&data, dims)).unwrap());
            let scaled = scalar(hoyer.forward(t3(&data, dims).mul_scalar(c)).unwrap());
            prop_assert!(close_with_floor(scaled, base, 1e-4, 1e-6), "squared={squared} per_row={per_row}: {scaled} vs {base}");
        }
    }

    #[test]
    fn total_variation_is_shift_invariant((data, dims) in images(), shift in -5.0f32..5.0) {
        for kind in [TvKind::Anisotropic, TvKind::Isotropic, TvKind::Squared, TvKind::OneD] {
            let tv = TotalVariationConfig::new().with_kind(kind).init().unwrap();
            let base = scalar(tv.forward(t3(&data, dims)).unwrap());
            let shifted = scalar(tv.forward(t3(&data, dims).add_scalar(shift)).unwrap());
            prop_assert!((shifted - base).abs() <= 1e-4 * base.abs().max(1.0), "{kind:?}: {shifted} vs {base}");
        }
    }

    #[test]
    fn abs_entropy_is_scale_invariant((data, dims) in images(), c in 1e-2f32..1e2) {
        let entropy = EntropyConfig::new().init().unwrap();
        let base = scalar(entropy.forward(t3(&data, dims)).unwrap());
        let scaled = scalar(entropy.forward(t3(&data, dims).mul_scalar(-c)).unwrap());
        prop_assert!((scaled - base).abs() <= 1e-5 * base.abs().max(1.0));
    }

    #[test]
    fn group_lasso_singletons_and_pure_l1_equal_l1((data, dims) in images()) {
        let x = || t3(&data, dims).reshape([-1]);
        let l1 = scalar(L1Config::new().init().unwrap().forward(x()).unwrap());
        // One element per group (rank 1, axis 0): √1 ‖x_i‖₂ = |x_i|.
        let singletons = scalar(GroupLassoConfig::new().init().unwrap().forward(x()).unwrap());
        let pure = scalar(GroupLassoConfig::new().with_l1_ratio(1.0).init().unwrap().forward(t3(&data, dims)).unwrap());
        let lasso = scalar(ElasticNetConfig::new().with_l1_ratio(1.0).init().unwrap().forward(x()).unwrap());
        prop_assert!(close_with_floor(singletons, l1, 1e-5, 1e-6) && close_with_floor(pure, l1, 1e-5, 1e-6) && close_with_floor(lasso, l1, 1e-5, 1e-6));
    }
}

#[test]
fn gradients_are_finite_at_zero_for_every_penalty() {
    let device = Device::flex().autodiff();
    for penalty in all_penalties() {
        let x = Tensor::<3>::zeros([2, 3, 4], &device).require_grad();
        let value = penalty.forward(x.clone()).unwrap();
        let grads = value.backward();
        let grad: Vec<f32> = x
            .grad(&grads)
            .unwrap()
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        assert!(
            grad.iter().all(|g| g.is_finite()),
            "{}: {grad:?}",
            penalty.name()
        );
    }
}

#[test]
fn nan_propagates() {
    let x = Tensor::<3>::from_floats([[[1.0, f32::NAN], [0.0, 2.0]]], &dev());
    for penalty in all_penalties() {
        let v = scalar(penalty.forward(x.clone()).unwrap());
        assert!(v.is_nan(), "{} gave {v}", penalty.name());
    }
}

#[test]
fn known_values() {
    // Group lasso with explicit groups: rows {0, 2} and {1}, each of 2 elements.
    let gl = GroupLassoConfig::new()
        .with_group_ids(Some(vec![7, 3, 7]))
        .init()
        .unwrap();
    let x = t2(&[3.0, 0.0, 1.0, 1.0, 0.0, 4.0], 3, 2);
    let expected = 4f32.sqrt() * 5.0 + 2f32.sqrt() * 2f32.sqrt();
    assert!(close_with_floor(
        scalar(gl.forward(x).unwrap()),
        expected,
        1e-6,
        1e-6
    ));

    // KL at ρ̂ = ρ is 0; at ρ̂ = 0.5 with ρ = 0.05 it is the closed form.
    let kl = KlSparsityConfig::new().init().unwrap();
    let h = t2(&[0.5, 0.5], 1, 2);
    let rho: f32 = 0.05;
    let one = rho * (rho / 0.5).ln() + (1.0 - rho) * ((1.0 - rho) / 0.5).ln();
    assert!(close_with_floor(
        scalar(kl.forward(h).unwrap()),
        2.0 * one,
        1e-5,
        1e-6
    ));

    // Isotropic TV of a 2×2 image: only the (0, 0) grid point, √(dh² + dw²) = √(9 + 16).
    let tv = TotalVariationConfig::new()
        .with_kind(TvKind::Isotropic)
        .init()
        .unwrap();
    let img = t3(&[0.0, 4.0, 3.0, 0.0], [1, 2, 2]);
    assert!(close_with_floor(
        scalar(tv.forward(img).unwrap()),
        5.0,
        1e-6,
        1e-6
    ));

    // TV on a single-row image: only horizontal differences.
    let aniso = TotalVariationConfig::new().init().unwrap();
    let row = t3(&[0.0, 1.0, 3.0, 0.0, 0.0, 0.0], [2, 1, 3]);
    assert!(close_with_floor(
        scalar(aniso.forward(row).unwrap()),
        1.5,
        1e-6,
        1e-6
    ));

    // Spike-and-slab at 0: −log(π/σ_slab + (1−π)/σ_spike) + ½ log 2π.
    let ss = SpikeAndSlabConfig::new().init().unwrap();
    let at_zero = scalar(ss.forward(Tensor::<1>::zeros([1], &dev())).unwrap());
    let expected = -((0.5f64 / 1.0 + 0.5 / 0.01).ln() - 0.5 * (2.0 * std::f64::consts::PI).ln());
    assert!(close_with_floor(at_zero, expected as f32, 1e-5, 1e-6));
}

#[test]
fn metrics_values() {
    let x = t2(
        &[0.0, 0.0, 2.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0],
        3,
        4,
    );
    assert_eq!(scalar(metrics::l0(x.clone()).unwrap()), 5.0 / 3.0);
    assert_eq!(
        scalar(metrics::zero_fraction(x.clone()).unwrap()),
        7.0 / 12.0
    );
    // Rows: one nonzero (1), all equal (0), all zero (1).
    assert!(close_with_floor(
        scalar(metrics::hoyer_sparsity(x).unwrap()),
        2.0 / 3.0,
        1e-6,
        1e-6
    ));
    // Tiny values do not underflow.
    let tiny = t2(&[1e-30, 0.0, 0.0, 0.0], 1, 4);
    assert!(close_with_floor(
        scalar(metrics::hoyer_sparsity(tiny).unwrap()),
        1.0,
        1e-6,
        1e-6
    ));
}

#[test]
fn hoyer_handles_tiny_and_huge_magnitudes() {
    let hoyer = HoyerConfig::new().init().unwrap();
    for scale in [1e-30f32, 1.0, 1e30] {
        let v = Tensor::<1>::from_floats([3.0, 4.0, 0.0], &dev()).mul_scalar(scale);
        let value = scalar(hoyer.forward(v).unwrap());
        assert!(
            close_with_floor(value, 7.0 / 5.0, 1e-5, 1e-6),
            "scale {scale}: {value}"
        );
    }
}

#[derive(Module, Debug)]
struct Net {
    encoder: Linear,
    layers: Vec<Linear>,
}

fn net(device: &Device) -> Net {
    Net {
        encoder: LinearConfig::new(4, 3).init(device),
        layers: vec![
            LinearConfig::new(3, 3).init(device),
            LinearConfig::new(3, 2).with_bias(false).init(device),
        ],
    }
}

#[test]
fn module_penalty_selects_by_path_and_sums() {
    let device = Device::flex().autodiff();
    let model = net(&device);
    let l1 = L1Config::new().with_lambda(0.5).init().unwrap();

    let all = ModulePenalty::new(l1.clone());
    assert_eq!(
        all.selected_paths(&model),
        [
            "encoder.weight",
            "encoder.bias",
            "layers.0.weight",
            "layers.0.bias",
            "layers.1.weight"
        ]
    );
    let weights = ModulePenalty::new(l1.clone())
        .include("weight")
        .exclude("encoder.*");
    assert_eq!(
        weights.selected_paths(&model),
        ["layers.0.weight", "layers.1.weight"]
    );

    let value = weights.forward(&model).unwrap();
    let manual = l1.forward(model.layers[0].weight.val()).unwrap()
        + l1.forward(model.layers[1].weight.val()).unwrap();
    assert!(close_with_floor(
        scalar(value.clone()),
        scalar(manual),
        1e-6,
        1e-6
    ));

    // Gradients reach the selected parameters, and only them.
    let grads = value.backward();
    let w0 = model.layers[0].weight.val();
    let g0: Vec<f32> = w0
        .grad(&grads)
        .unwrap()
        .into_data()
        .try_into_vec::<f32>()
        .unwrap();
    let w0: Vec<f32> = w0.into_data().try_into_vec::<f32>().unwrap();
    for (g, w) in g0.iter().zip(&w0) {
        assert_eq!(*g, 0.5 * w.signum());
    }
    assert!(model.encoder.weight.val().grad(&grads).is_none());
}

#[test]
fn module_penalty_errors() {
    let model = net(&dev());
    let tv = TotalVariationConfig::new().init().unwrap();
    let err = ModulePenalty::new(tv)
        .include("layers.0.weight")
        .forward(&model)
        .unwrap_err();
    assert!(
        matches!(&err, Error::Parameter { path, source } if path == "layers.0.weight"
            && matches!(**source, Error::RankTooLow { rank: 2, min: 3, .. })),
        "{err}"
    );
    let err = ModulePenalty::new(L1Config::new().init().unwrap())
        .include("nothing_like_this")
        .forward(&model)
        .unwrap_err();
    assert!(matches!(err, Error::NoParametersSelected { .. }));
}

#[test]
fn a_penalty_trains_inside_a_step() {
    // Strong L1 on the first layer drives weights towards zero.
    use burn::optim::{AdamConfig, GradientsParams};
    let device = Device::flex().autodiff();
    let mut model = net(&device);
    let penalty = ModulePenalty::new(L1Config::new().init().unwrap()).include("encoder.weight");
    let before = scalar(penalty.forward(&model).unwrap());
    let mut optim = AdamConfig::new().init();
    for _ in 0..20 {
        let loss = penalty.forward(&model).unwrap();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(1e-2, model, grads);
    }
    let after = scalar(penalty.forward(&model).unwrap());
    assert!(after < 0.8 * before, "{before} -> {after}");
}

#[test]
fn invalid_hyper_parameters_are_typed_errors() {
    let bad_lambda = [-1.0, f64::NAN, f64::INFINITY];
    for lambda in bad_lambda {
        let field_is = |e: Error, f: &str| matches!(e, Error::InvalidHyperParameter { field, .. } if field == f);
        assert!(field_is(
            L1Config::new().with_lambda(lambda).init().unwrap_err(),
            "lambda"
        ));
        assert!(field_is(
            ElasticNetConfig::new()
                .with_lambda(lambda)
                .init()
                .unwrap_err(),
            "lambda"
        ));
        assert!(field_is(
            GroupLassoConfig::new()
                .with_lambda(lambda)
                .init()
                .unwrap_err(),
            "lambda"
        ));
        assert!(field_is(
            KlSparsityConfig::new()
                .with_beta(lambda)
                .init()
                .unwrap_err(),
            "beta"
        ));
        assert!(field_is(
            HoyerConfig::new().with_lambda(lambda).init().unwrap_err(),
            "lambda"
        ));
        assert!(field_is(
            TotalVariationConfig::new()
                .with_lambda(lambda)
                .init()
                .unwrap_err(),
            "lambda"
        ));
        assert!(field_is(
            SpikeAndSlabConfig::new()
                .with_lambda(lambda)
                .init()
                .unwrap_err(),
            "lambda"
        ));
        assert!(field_is(
            EntropyConfig::new().with_lambda(lambda).init().unwrap_err(),
            "lambda"
        ));
    }
    let invalid = |r: Result<(), Error>, f: &str| {
        assert!(
            matches!(&r, Err(Error::InvalidHyperParameter { field, .. }) if *field == f),
            "{f}: {r:?}"
        );
    };
    for ratio in [-0.1, 1.1, f64::NAN] {
        invalid(
            ElasticNetConfig::new()
                .with_l1_ratio(ratio)
                .init()
                .map(drop),
            "l1_ratio",
        );
        invalid(
            GroupLassoConfig::new()
                .with_l1_ratio(ratio)
                .init()
                .map(drop),
            "l1_ratio",
        );
    }
    for target in [0.0, 1.0, -0.5, f64::NAN] {
        invalid(
            KlSparsityConfig::new().with_target(target).init().map(drop),
            "target",
        );
    }
    for eps in [0.0, 0.5, -1e-6, f64::NAN] {
        invalid(
            KlSparsityConfig::new().with_eps(eps).init().map(drop),
            "eps",
        );
    }
    for p in [0.0, 1.0, f64::NAN] {
        invalid(
            SpikeAndSlabConfig::new().with_slab_prob(p).init().map(drop),
            "slab_prob",
        );
    }
    invalid(
        SpikeAndSlabConfig::new()
            .with_sigma_spike(0.0)
            .init()
            .map(drop),
        "sigma_spike",
    );
    invalid(
        SpikeAndSlabConfig::new()
            .with_sigma_slab(f64::INFINITY)
            .init()
            .map(drop),
        "sigma_slab",
    );
    assert!(matches!(
        SpikeAndSlabConfig::new().with_sigma_spike(2.0).init(),
        Err(Error::SigmaOrder { .. })
    ));
    for t in [0.0, -1.0, f64::NAN] {
        invalid(
            EntropyConfig::new().with_temperature(t).init().map(drop),
            "temperature",
        );
    }
    assert!(matches!(
        GroupLassoConfig::new().with_group_ids(Some(vec![])).init(),
        Err(Error::EmptyGroupIds)
    ));
}

#[test]
fn shape_errors_are_typed() {
    let empty = Tensor::<2>::zeros([0, 3], &dev());
    for penalty in all_penalties() {
        assert!(
            matches!(
                penalty.forward(empty.clone()),
                Err(Error::EmptyInput { .. })
            ),
            "{}",
            penalty.name()
        );
    }
    assert!(matches!(
        metrics::l0(empty.clone()),
        Err(Error::EmptyInput { .. })
    ));
    assert!(matches!(
        metrics::zero_fraction(empty.clone()),
        Err(Error::EmptyInput { .. })
    ));
    assert!(matches!(
        metrics::hoyer_sparsity(empty),
        Err(Error::EmptyInput { .. })
    ));
    assert!(matches!(
        metrics::hoyer_sparsity(Tensor::<2>::ones([3, 1], &dev())),
        Err(Error::RowTooShort { len: 1, .. })
    ));

    let x = Tensor::<2>::ones([3, 4], &dev());
    let tv = TotalVariationConfig::new().init().unwrap();
    assert!(matches!(
        tv.forward(x.clone()),
        Err(Error::RankTooLow {
            rank: 2,
            min: 3,
            ..
        })
    ));
    let one_d = TotalVariationConfig::new()
        .with_kind(TvKind::OneD)
        .init()
        .unwrap();
    assert!(one_d.forward(x.clone()).is_ok());
    assert!(matches!(
        one_d.forward(Tensor::<1>::ones([4], &dev())),
        Err(Error::RankTooLow {
            rank: 1,
            min: 2,
            ..
        })
    ));

    for axis in [2, -3, 100] {
        let gl = GroupLassoConfig::new().with_axis(axis).init().unwrap();
        assert!(matches!(
            gl.forward(x.clone()),
            Err(Error::AxisOutOfRange { rank: 2, .. })
        ));
    }
    let gl = GroupLassoConfig::new()
        .with_axis(-1)
        .with_group_ids(Some(vec![0, 0, 1]))
        .init()
        .unwrap();
    assert!(matches!(
        gl.forward(x),
        Err(Error::GroupIdsLength {
            axis: 1,
            expected: 4,
            got: 3,
            ..
        })
    ));
}

#[test]
fn config_json_round_trip_and_errors() {
    let json = serde_json::json!({"lambda": 0.25, "reduction": "mean"});
    let config = PenaltyConfig::from_json("l1", &json).unwrap();
    let PenaltyConfig::L1(l1) = &config else {
        panic!("{config:?}")
    };
    assert_eq!((l1.lambda, l1.reduction), (0.25, Reduction::Mean));
    // The tagged form round-trips through serde.
    let text = serde_json::to_string(&config).unwrap();
    assert!(text.contains("\"penalty\":\"l1\""), "{text}");
    let back: PenaltyConfig = serde_json::from_str(&text).unwrap();
    assert_eq!(back.name(), "l1");

    assert!(matches!(
        PenaltyConfig::from_json("omp", &serde_json::json!({})),
        Err(Error::UnknownPenalty { name, .. }) if name == "omp"
    ));
    assert!(matches!(
        PenaltyConfig::from_json("hoyer", &serde_json::json!({"squard": true})),
        Err(Error::UnknownField { field, .. }) if field == "squard"
    ));
    assert!(matches!(
        PenaltyConfig::from_json("total_variation", &serde_json::json!({"reduction": "mean"})),
        Err(Error::InvalidConfig { .. })
    ));
    assert!(matches!(
        PenaltyConfig::from_json("l1", &serde_json::json!([1, 2])),
        Err(Error::InvalidConfig { .. })
    ));
    // Range checks happen in init.
    let negative = PenaltyConfig::from_json("l1", &serde_json::json!({"lambda": -1})).unwrap();
    assert!(matches!(
        negative.init(),
        Err(Error::InvalidHyperParameter { .. })
    ));
}

#[test]
fn random_inputs_have_finite_gradients() {
    let device = Device::flex().autodiff();
    for penalty in all_penalties() {
        device.seed(42);
        let x =
            Tensor::<3>::random([2, 5, 6], Distribution::Uniform(0.0, 1.0), &device).require_grad();
        let grads = penalty.forward(x.clone()).unwrap().backward();
        let grad: Vec<f32> = x
            .grad(&grads)
            .unwrap()
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        assert!(grad.iter().all(|g| g.is_finite()), "{}", penalty.name());
        assert!(
            grad.iter().any(|g| *g != 0.0),
            "{}: all-zero gradient",
            penalty.name()
        );
    }
}
