//! The fused kernels (`sparse_losses::fused`) against the op chains: on Flex every penalty
//! takes its fused CPU kernel, on NdArray the op chain; both must give the same value and
//! gradient at sizes that exercise the kernels' parallel paths (more than one task), on inputs
//! with exact zeros, in several ranks and layouts. With the `wgpu` feature, the CubeCL kernels
//! (all of them) are checked the same way on wgpu, at sizes that span several cubes and
//! several partial sums, with rows longer than a cube and zero rows or groups; a missing
//! adapter skips those tests, unless `SPARSE_LOSSES_REQUIRE_WGPU=1`. The fixture runner checks
//! every path against the float64 references at small sizes.
#![allow(deprecated)]

mod common;

use burn::prelude::*;
use burn::tensor::TensorData;
use common::Lcg;
use serde_json::json;
use sparse_losses::fused::{fused_penalty, Elementwise, Kernel};
use sparse_losses::prelude::*;

/// A deterministic pseudo-random input in [-scale, scale] with about one exact zero in seven.
fn data(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut rng = Lcg::new(seed);
    (0..n)
        .map(|i| {
            let u = rng.unit();
            if i % 7 == 3 {
                0.0
            } else {
                scale * (2.0 * u - 1.0)
            }
        })
        .collect()
}

/// Value and gradient of `penalty` at `x` (shape `dims`) on `device` (an autodiff device),
/// through a strided view of `x` when `transposed`.
fn value_and_grad<const D: usize>(
    penalty: &AnyPenalty,
    x: &[f32],
    dims: [usize; D],
    device: &Device,
    transposed: bool,
) -> (f32, Vec<f32>) {
    // A strided view (the last two dims swapped twice): same values, non-contiguous layout.
    let view = |t: Tensor<D>| {
        if transposed && D >= 2 {
            t.swap_dims(D - 2, D - 1).swap_dims(D - 2, D - 1)
        } else {
            t
        }
    };
    let (value, grad) = common::value_tensor_and_grad(penalty, x, dims, device, view);
    (value.into_scalar(), grad)
}

fn check<const D: usize>(name: &str, config: serde_json::Value, dims: [usize; D], scale: f32) {
    let flex = Device::flex().autodiff();
    let ndarray = Device::ndarray().autodiff();
    compare(
        name,
        config,
        dims,
        scale,
        (&flex, "flex"),
        (&ndarray, "op chain"),
    );
}

/// The value and gradient of the penalty `name` on `fused` and on `reference` (two autodiff
/// devices) agree within SPEC rule 5's tolerances, on an input of shape `dims` and magnitude
/// `scale`, contiguous and strided.
fn compare<const D: usize>(
    name: &str,
    config: serde_json::Value,
    dims: [usize; D],
    scale: f32,
    (fused, fused_name): (&Device, &str),
    (reference, reference_name): (&Device, &str),
) {
    let penalty = PenaltyConfig::from_json(name, &config)
        .and_then(|c| c.init())
        .unwrap();
    let n: usize = dims.iter().product();
    let x = if name == "kl_sparsity" {
        data(n, 7, 1.0)
            .iter()
            .map(|v| 0.5 * (v + 1.0) * scale)
            .collect()
    } else {
        data(n, 7, scale)
    };
    for transposed in [false, true] {
        let (vf, gf) = value_and_grad(&penalty, &x, dims, fused, transposed);
        let (vn, gn) = value_and_grad(&penalty, &x, dims, reference, transposed);
        let rel = (vf - vn).abs() / vf.abs().max(vn.abs()).max(1e-30);
        assert!(
            rel <= 1e-4,
            "{name} {config} {dims:?} x{scale}: value {fused_name} {vf} vs {reference_name} {vn}"
        );
        let max = gn.iter().fold(0f32, |m, g| m.max(g.abs()));
        let tol = if max > 0.0 { 1e-3 * max } else { 1e-6 };
        for (i, (a, b)) in gf.iter().zip(&gn).enumerate() {
            assert!(
                (a - b).abs() <= tol,
                "{name} {config} {dims:?} x{scale}: grad[{i}] {fused_name} {a} vs \
                 {reference_name} {b} (max {max})"
            );
        }
    }
}

#[test]
fn elementwise_kernels_match_the_op_chains() {
    for (name, config) in [
        ("l1", json!({})),
        ("l1", json!({"reduction": "mean", "lambda": 0.3})),
        ("elastic_net", json!({"l1_ratio": 0.3, "lambda": 2.0})),
        ("tanh", json!({"scale": 3.0})),
        ("log_sum", json!({"eps": 0.05})),
        ("lp", json!({})),
        ("lp", json!({"p": 1.5, "eps": 0.1})),
        ("scad", json!({"lambda": 0.4})),
        ("mcp", json!({"lambda": 0.5, "gamma": 2.0})),
        ("spike_and_slab", json!({"sigma_spike": 0.05})),
    ] {
        check(name, config.clone(), [37, 1031], 1.5);
        check(name, config, [3, 5, 7], 1.5);
    }
}

/// Lp's value and gradient on Flex, element by element, against float64 at magnitudes from 0 to
/// 1e30: `p = 1/2` and `p = 1` take the square-root kernel (for ε in [1e-18, 1e18]), other p
/// and ε the logarithm + exponential one. (The op chain on NdArray does not pass this yet: its
/// gradient is NaN at ε = 1e-30, x = 1e-30.)
#[test]
fn lp_flex_against_float64_at_every_magnitude() {
    let device = &Device::flex().autodiff();
    let magnitudes = [
        0.0f32, 1e-30, 1e-20, 1e-10, 1e-4, 0.3, 1.0, 7.0, 1e5, 1e10, 9e17, 2e18, 1e30,
    ];
    for (p, eps) in [
        (0.5, 1e-3),
        (0.5, 1.0),
        (0.5, 1e-12),
        (0.5, 1e-30),
        (1.0, 1e-3),
        (1.0, 0.5),
        (1.0, 1e-25),
        (0.7, 1e-3),
        (2.0, 1e-3),
    ] {
        let penalty = PenaltyConfig::from_json("lp", &json!({"p": p, "eps": eps}))
            .and_then(|c| c.init())
            .unwrap();
        for x in magnitudes.iter().flat_map(|&m| [m, -m]) {
            let (v, g) = value_and_grad(&penalty, &[x], [1], device, false);
            let xf = f64::from(x);
            let base = xf * xf + eps * eps;
            // (x² + ε²)^{p/2} − ε^p without cancellation: ε^p expm1((p/2) ln(1 + x²/ε²)).
            let want_v = eps.powf(p) * ((p / 2.0) * (xf / eps).powi(2).ln_1p()).exp_m1();
            let want_g = p * xf * base.powf(p / 2.0 - 1.0);
            // Per element, ten times tighter than SPEC rule 5 (1e-4 on values).
            let tol = |w: f64| 1e-5 * w.abs() + 1e-38;
            // Beyond float32's range (x² at |x| = 1e30), +∞.
            let ok = if want_v > f64::from(f32::MAX) {
                v == f32::INFINITY
            } else {
                (f64::from(v) - want_v).abs() <= tol(want_v)
            };
            assert!(ok, "p {p}, eps {eps}, x {x}: value {v}, want {want_v}");
            assert!(
                (f64::from(g[0]) - want_g).abs() <= tol(want_g),
                "p {p}, eps {eps}, x {x}: grad {}, want {want_g}",
                g[0]
            );
        }
    }
}

#[test]
fn row_and_column_kernels_match_the_op_chains() {
    for (name, config) in [
        ("hoyer", json!({})),
        ("hoyer", json!({"squared": true})),
        ("hoyer", json!({"per_row": true})),
        (
            "hoyer",
            json!({"per_row": true, "squared": true, "lambda": 0.5}),
        ),
        ("entropy", json!({})),
        (
            "entropy",
            json!({"normalize": "softmax", "temperature": 0.5}),
        ),
        ("kl_sparsity", json!({"target": 0.1, "beta": 3.0})),
    ] {
        check(name, config.clone(), [129, 257], 1.0);
        check(name, config, [4, 3, 33], 1.0);
    }
    // Rows of zeros: Hoyer and entropy give 0 and gradient 0 there.
    let penalty = PenaltyConfig::from_json("entropy", &json!({}))
        .unwrap()
        .init()
        .unwrap();
    let mut x = data(4 * 16, 3, 1.0);
    x[16..32].fill(0.0);
    let (_, g) = value_and_grad(&penalty, &x, [4, 16], &Device::flex().autodiff(), false);
    assert!(g[16..32].iter().all(|&g| g == 0.0));
}

#[test]
fn group_and_image_kernels_match_the_op_chains() {
    let ids: Vec<usize> = (0..1030).map(|i| (i * 7) % 13).collect();
    check("group_lasso", json!({}), [300, 1030], 1.0);
    check(
        "group_lasso",
        json!({"axis": 1, "group_ids": ids}),
        [300, 1030],
        1.0,
    );
    check(
        "group_lasso",
        json!({"axis": -1, "l1_ratio": 0.4, "weight_by_size": false}),
        [6, 50, 70],
        1.0,
    );
    check(
        "group_lasso",
        json!({"axis": 1, "l1_ratio": 1.0}),
        [6, 50, 70],
        1.0,
    );
    for kind in ["anisotropic", "isotropic", "squared"] {
        for reduction in ["batch_mean", "sum"] {
            let config = json!({"kind": kind, "reduction": reduction, "lambda": 0.7});
            check("total_variation", config.clone(), [33, 2, 28, 29], 1.0);
            check("total_variation", config, [5, 2, 3], 1.0);
        }
    }
    check(
        "total_variation",
        json!({"kind": "one_d"}),
        [40, 3, 500],
        1.0,
    );
}

#[test]
fn flex_takes_the_fused_path_and_the_others_do_not() {
    let kernel = || Kernel::Elementwise {
        f: Elementwise::Abs,
        scale: 2.0,
    };
    let x = [[1.0, -2.0], [0.0, 3.0]];
    let on = |device: &Device| fused_penalty(&Tensor::<2>::from_floats(x, device), kernel());
    let value = on(&Device::flex()).expect("Flex has the fused kernels");
    assert_eq!(value.into_scalar::<f32>(), 12.0);
    assert!(on(&Device::flex().autodiff()).is_some());
    assert!(on(&Device::ndarray()).is_none());
    assert!(on(&Device::ndarray().autodiff()).is_none());
    // Not float32: the op chain.
    let x64 = Tensor::<2>::from_floats(x, &Device::flex()).cast(burn::tensor::DType::F64);
    assert!(fused_penalty(&x64, kernel()).is_none());
}

#[test]
fn nan_propagates_through_the_fused_kernels() {
    for name in PenaltyConfig::NAMES {
        if name == "omp" || name == "l1_decoder_norm" {
            continue;
        }
        let penalty = PenaltyConfig::default_for(name).unwrap().init().unwrap();
        let mut x = data(4 * 3 * 5 * 6, 1, 0.5);
        x[10] = f32::NAN;
        let t = Tensor::<4>::from_data(TensorData::new(x, [4, 3, 5, 6]), &Device::flex());
        let v: f32 = penalty.forward(t).unwrap().into_scalar();
        assert!(v.is_nan(), "{name}: {v}");
    }
}

/// The CubeCL kernels on wgpu against the op chains on NdArray (and, at extreme magnitudes,
/// against the fused CPU kernels, which accumulate in `f64`).
#[cfg(feature = "wgpu")]
mod wgpu {
    use super::*;
    use crate::common::wgpu_or_skip;

    /// The elementwise penalties, with the hyper-parameters that reach every branch.
    fn elementwise() -> Vec<(&'static str, serde_json::Value)> {
        vec![
            ("l1", json!({})),
            ("l1", json!({"reduction": "mean", "lambda": 0.3})),
            ("elastic_net", json!({"l1_ratio": 0.3, "lambda": 2.0})),
            ("tanh", json!({"scale": 3.0})),
            ("tanh", json!({"scale": 0.2})),
            ("log_sum", json!({"eps": 0.05})),
            ("log_sum", json!({"eps": 2.0})),
            ("lp", json!({})),
            ("lp", json!({"p": 1.5, "eps": 0.1})),
            ("lp", json!({"p": 0.2, "eps": 3.0})),
            ("scad", json!({"lambda": 0.4})),
            ("mcp", json!({"lambda": 0.5, "gamma": 2.0})),
            ("spike_and_slab", json!({"sigma_spike": 0.05})),
            (
                "spike_and_slab",
                json!({"slab_prob": 0.1, "sigma_spike": 0.5, "sigma_slab": 2.0, "lambda": 0.5}),
            ),
        ]
    }

    fn hoyer() -> Vec<(&'static str, serde_json::Value)> {
        vec![
            ("hoyer", json!({})),
            ("hoyer", json!({"squared": true, "lambda": 0.5})),
            ("hoyer", json!({"per_row": true})),
            ("hoyer", json!({"per_row": true, "squared": true})),
        ]
    }

    fn total_variation() -> Vec<(&'static str, serde_json::Value)> {
        let mut list = vec![];
        for kind in ["anisotropic", "isotropic", "squared"] {
            for reduction in ["batch_mean", "sum"] {
                list.push((
                    "total_variation",
                    json!({"kind": kind, "reduction": reduction, "lambda": 0.7}),
                ));
            }
        }
        list
    }

    #[test]
    fn elementwise_kernels_match_the_op_chains() {
        let Some(wgpu) = wgpu_or_skip().map(Device::autodiff) else {
            return;
        };
        let ndarray = Device::ndarray().autodiff();
        for (name, config) in elementwise() {
            for scale in [1.5, 1e-3] {
                let devices = ((&wgpu, "wgpu"), (&ndarray, "op chain"));
                compare(
                    name,
                    config.clone(),
                    [37, 1031],
                    scale,
                    devices.0,
                    devices.1,
                );
                compare(name, config.clone(), [3, 5, 7], scale, devices.0, devices.1);
                compare(name, config.clone(), [1], scale, devices.0, devices.1);
            }
        }
    }

    #[test]
    fn elementwise_kernels_at_extreme_magnitudes() {
        let Some(wgpu) = wgpu_or_skip().map(Device::autodiff) else {
            return;
        };
        let flex = Device::flex().autodiff();
        for (name, config) in elementwise() {
            for scale in [1e-20, 1e-9, 1e12] {
                let devices = ((&wgpu, "wgpu"), (&flex, "flex"));
                compare(name, config.clone(), [41, 257], scale, devices.0, devices.1);
            }
        }
    }

    #[test]
    fn hoyer_matches_the_op_chain() {
        let Some(wgpu) = wgpu_or_skip().map(Device::autodiff) else {
            return;
        };
        let ndarray = Device::ndarray().autodiff();
        for (name, config) in hoyer() {
            let devices = ((&wgpu, "wgpu"), (&ndarray, "op chain"));
            compare(name, config.clone(), [129, 257], 1.0, devices.0, devices.1);
            compare(name, config.clone(), [4, 3, 33], 1.0, devices.0, devices.1);
            compare(name, config.clone(), [2, 1], 1.0, devices.0, devices.1);
            // Rows of several chunks, and one row of many.
            compare(name, config.clone(), [3, 9001], 1.0, devices.0, devices.1);
            compare(name, config.clone(), [37, 1031], 1.0, devices.0, devices.1);
            // Magnitudes whose squares leave float32's range (the op chain divides each row by
            // its largest magnitude first).
            for scale in [1e-30, 1e25] {
                compare(name, config.clone(), [17, 300], scale, devices.0, devices.1);
            }
        }
    }

    #[test]
    fn total_variation_matches_the_op_chain() {
        let Some(wgpu) = wgpu_or_skip().map(Device::autodiff) else {
            return;
        };
        let ndarray = Device::ndarray().autodiff();
        for (name, config) in total_variation() {
            let devices = ((&wgpu, "wgpu"), (&ndarray, "op chain"));
            compare(
                name,
                config.clone(),
                [33, 2, 28, 29],
                1.0,
                devices.0,
                devices.1,
            );
            compare(name, config.clone(), [5, 2, 3], 1.0, devices.0, devices.1);
            compare(name, config.clone(), [2, 2, 64], 1.0, devices.0, devices.1);
            compare(name, config.clone(), [3, 70, 2], 1.0, devices.0, devices.1);
        }
        let devices = ((&wgpu, "wgpu"), (&ndarray, "op chain"));
        let one_d = json!({"kind": "one_d"});
        compare(
            "total_variation",
            one_d.clone(),
            [40, 3, 500],
            1.0,
            devices.0,
            devices.1,
        );
        compare("total_variation", one_d, [7, 2], 1.0, devices.0, devices.1);
    }

    fn entropy() -> Vec<(&'static str, serde_json::Value)> {
        vec![
            ("entropy", json!({})),
            ("entropy", json!({"lambda": 0.3})),
            (
                "entropy",
                json!({"normalize": "softmax", "temperature": 0.5}),
            ),
            ("entropy", json!({"normalize": "softmax"})),
        ]
    }

    /// Value and gradient on wgpu and on the op chain (NdArray) at `x`, compared as in
    /// [`compare`].
    fn compare_at<const D: usize>(
        name: &str,
        config: &serde_json::Value,
        x: &[f32],
        dims: [usize; D],
    ) {
        let wgpu = wgpu_or_skip().unwrap().autodiff();
        let ndarray = Device::ndarray().autodiff();
        let penalty = PenaltyConfig::from_json(name, config)
            .and_then(|c| c.init())
            .unwrap();
        let (vf, gf) = value_and_grad(&penalty, x, dims, &wgpu, false);
        let (vn, gn) = value_and_grad(&penalty, x, dims, &ndarray, false);
        let rel = (vf - vn).abs() / vf.abs().max(vn.abs()).max(1e-30);
        assert!(
            rel <= 1e-4,
            "{name} {config} {dims:?}: value wgpu {vf} vs op chain {vn}"
        );
        let max = gn.iter().fold(0f32, |m, g| m.max(g.abs()));
        let tol = if max > 0.0 { 1e-3 * max } else { 1e-6 };
        for (i, (a, b)) in gf.iter().zip(&gn).enumerate() {
            assert!(
                (a - b).abs() <= tol,
                "{name} {config} {dims:?}: grad[{i}] wgpu {a} vs op chain {b} (max {max})"
            );
        }
    }

    #[test]
    fn entropy_matches_the_op_chain() {
        let Some(wgpu) = wgpu_or_skip().map(Device::autodiff) else {
            return;
        };
        let ndarray = Device::ndarray().autodiff();
        for (name, config) in entropy() {
            let devices = ((&wgpu, "wgpu"), (&ndarray, "op chain"));
            compare(name, config.clone(), [129, 257], 1.0, devices.0, devices.1);
            compare(name, config.clone(), [4, 3, 33], 1.0, devices.0, devices.1);
            compare(name, config.clone(), [5], 1.0, devices.0, devices.1);
            // Rows of one element: entropy 0, gradient 0 (the op chain's is rounding noise).
            let penalty = PenaltyConfig::from_json(name, &config)
                .and_then(|c| c.init())
                .unwrap();
            let (v, g) = value_and_grad(&penalty, &[0.7, -3.0], [2, 1], &wgpu, false);
            assert!(
                v.abs() < 1e-6 && g.iter().all(|g| g.abs() < 1e-6),
                "{config}: {v} {g:?}"
            );
            // Rows longer than one cube's units (several elements a unit), and long ones.
            compare(name, config.clone(), [3, 9001], 1.0, devices.0, devices.1);
            compare(name, config.clone(), [2, 24576], 1.0, devices.0, devices.1);
            compare(name, config.clone(), [37, 1031], 1.0, devices.0, devices.1);
            // Extreme magnitudes, against the fused CPU kernels (the op chain loses the
            // gradient's digits at 1e20).
            let flex = Device::flex().autodiff();
            for scale in [1e-20, 1e20] {
                compare(
                    name,
                    config.clone(),
                    [17, 300],
                    scale,
                    devices.0,
                    (&flex, "flex"),
                );
            }
            // Rows of zeros, and a one-hot row.
            for (rows, row) in [(4, 16), (3, 1500)] {
                let mut x = data(rows * row, 3, 1.0);
                x[row..2 * row].fill(0.0);
                x[2 * row..3 * row].fill(0.0);
                x[2 * row + 5] = -2.0;
                compare_at(name, &config, &x, [rows, row]);
                let (_, g) = value_and_grad(
                    &PenaltyConfig::from_json(name, &config)
                        .and_then(|c| c.init())
                        .unwrap(),
                    &x,
                    [rows, row],
                    &wgpu,
                    false,
                );
                if config.get("normalize").is_none() {
                    assert!(g[row..3 * row].iter().all(|&g| g == 0.0), "{config}");
                }
            }
        }
    }

    #[test]
    fn kl_matches_the_op_chain() {
        let Some(wgpu) = wgpu_or_skip().map(Device::autodiff) else {
            return;
        };
        let ndarray = Device::ndarray().autodiff();
        for config in [
            json!({"target": 0.1, "beta": 3.0}),
            json!({}),
            json!({"target": 0.3, "eps": 0.05}),
        ] {
            let devices = ((&wgpu, "wgpu"), (&ndarray, "op chain"));
            for scale in [1.0, 0.3, 1e-3] {
                compare(
                    "kl_sparsity",
                    config.clone(),
                    [129, 257],
                    scale,
                    devices.0,
                    devices.1,
                );
            }
            compare(
                "kl_sparsity",
                config.clone(),
                [4, 3, 33],
                1.0,
                devices.0,
                devices.1,
            );
            compare(
                "kl_sparsity",
                config.clone(),
                [5],
                1.0,
                devices.0,
                devices.1,
            );
            compare(
                "kl_sparsity",
                config.clone(),
                [1, 7],
                1.0,
                devices.0,
                devices.1,
            );
            // Many rows (several partials a column), one column, long rows.
            compare(
                "kl_sparsity",
                config.clone(),
                [3001, 40],
                1.0,
                devices.0,
                devices.1,
            );
            compare(
                "kl_sparsity",
                config.clone(),
                [5000, 1],
                1.0,
                devices.0,
                devices.1,
            );
            compare(
                "kl_sparsity",
                config.clone(),
                [3, 9001],
                1.0,
                devices.0,
                devices.1,
            );
            // Columns clamped at both ends.
            let mut x = data(64 * 8, 5, 1.0)
                .iter()
                .map(|v| 0.5 * (v + 1.0))
                .collect::<Vec<_>>();
            for r in 0..64 {
                x[r * 8] = 0.0;
                x[r * 8 + 1] = 1.0;
            }
            compare_at("kl_sparsity", &config, &x, [64, 8]);
        }
    }

    #[test]
    fn group_lasso_matches_the_op_chain() {
        let Some(wgpu) = wgpu_or_skip().map(Device::autodiff) else {
            return;
        };
        let ndarray = Device::ndarray().autodiff();
        let devices = ((&wgpu, "wgpu"), (&ndarray, "op chain"));
        let ids: Vec<usize> = (0..1030).map(|i| (i * 7) % 13).collect();
        let configs = [
            json!({}),
            json!({"lambda": 0.3, "l1_ratio": 0.25}),
            json!({"axis": 1, "group_ids": ids}),
            json!({"axis": -1, "l1_ratio": 0.4, "weight_by_size": false}),
            json!({"axis": 1, "l1_ratio": 1.0}),
            json!({"axis": 1}),
        ];
        for config in &configs {
            let group = |dims: &[usize]| {
                // The group ids of the axis-1 configuration fit only 1030 columns.
                config.get("group_ids").is_none() || dims.get(1) == Some(&1030)
            };
            for dims in [[300, 1030], [3, 9001], [2053, 7], [1, 5]] {
                if group(&dims) {
                    compare(
                        "group_lasso",
                        config.clone(),
                        dims,
                        1.0,
                        devices.0,
                        devices.1,
                    );
                }
            }
            if group(&[6, 50, 70]) {
                compare(
                    "group_lasso",
                    config.clone(),
                    [6, 50, 70],
                    1.0,
                    devices.0,
                    devices.1,
                );
                compare(
                    "group_lasso",
                    config.clone(),
                    [2, 700, 3, 4],
                    1.0,
                    devices.0,
                    devices.1,
                );
            }
        }
        compare("group_lasso", json!({}), [5], 1.0, devices.0, devices.1);
        compare(
            "group_lasso",
            json!({"axis": 0}),
            [4, 3, 33],
            1e-3,
            devices.0,
            devices.1,
        );
        // Zero groups: their norm term and its gradient are 0.
        for config in [json!({}), json!({"axis": 1}), json!({"l1_ratio": 0.5})] {
            let mut x = data(40 * 30, 9, 1.0);
            for r in 0..40 {
                x[r * 30 + 4] = 0.0;
            }
            x[3 * 30..4 * 30].fill(0.0);
            compare_at("group_lasso", &config, &x, [40, 30]);
        }
    }

    #[test]
    fn large_inputs_use_many_partials() {
        // More than 4096 · 1024 elements: more than one partial sum per cube of the last pass.
        let Some(wgpu) = wgpu_or_skip().map(Device::autodiff) else {
            return;
        };
        let ndarray = Device::ndarray().autodiff();
        let devices = ((&wgpu, "wgpu"), (&ndarray, "op chain"));
        compare("l1", json!({}), [2053, 2100], 1.0, devices.0, devices.1);
        compare("hoyer", json!({}), [2053, 2100], 1.0, devices.0, devices.1);
        compare(
            "entropy",
            json!({}),
            [2053, 2100],
            1.0,
            devices.0,
            devices.1,
        );
        compare(
            "kl_sparsity",
            json!({}),
            [2053, 2100],
            1.0,
            devices.0,
            devices.1,
        );
    }

    #[test]
    fn lp_where_its_factors_leave_float32() {
        // (x² + ε²)^{p/2} − ε^p and p x (x² + ε²)^{p/2 − 1}, where ε^p, x²/ε² or the power
        // leave float32's range (|x| = 1e30; ε = 1e-30) but the results do not; at x = 0 the
        // gradient is 0.
        let Some(wgpu) = wgpu_or_skip().map(Device::autodiff) else {
            return;
        };
        for (p, eps, x) in [
            (0.5, 1e-6, [1e30f32, -1e30, 0.0, 3.0]),
            (0.5, 1e-30, [0.0, 1e-30, -2e-25, 1.0]),
            (2.0, 1e-30, [1.0, -3.0, 0.0, 1e-31]),
        ] {
            let penalty = PenaltyConfig::from_json("lp", &json!({"p": p, "eps": eps}))
                .and_then(|c| c.init())
                .unwrap();
            let (v, g) = value_and_grad(&penalty, &x, [4], &wgpu, false);
            let x = x.map(f64::from);
            let want: f64 = x
                .iter()
                .map(|x| (x * x + eps * eps).powf(p / 2.0) - eps.powf(p))
                .sum();
            let err = (f64::from(v) - want).abs();
            assert!(
                err <= 1e-4 * want,
                "p {p}, eps {eps}: value {v}, want {want}"
            );
            for (&xi, &gi) in x.iter().zip(&g) {
                let want = p * xi * (xi * xi + eps * eps).powf(p / 2.0 - 1.0);
                let err = (f64::from(gi) - want).abs();
                assert!(
                    err <= 1e-4 * want.abs(),
                    "p {p}, eps {eps}, x {xi}: grad {gi}, want {want}"
                );
            }
        }
    }

    #[test]
    fn wgpu_takes_the_fused_path() {
        let Some(wgpu) = wgpu_or_skip() else { return };
        let x = Tensor::<2>::from_data(TensorData::new(data(6 * 7, 3, 1.0), [6, 7]), &wgpu);
        let kernels = [
            Elementwise::Abs,
            Elementwise::ElasticNet { l1_ratio: 0.5 },
            Elementwise::Tanh { scale: 1.0 },
            Elementwise::LogSum { eps: 0.1 },
            Elementwise::Lp { p: 0.5, eps: 1e-3 },
            Elementwise::Scad {
                lambda: 1.0,
                a: 3.7,
            },
            Elementwise::Mcp {
                lambda: 1.0,
                gamma: 3.0,
            },
            Elementwise::SpikeAndSlab {
                slab_prob: 0.5,
                sigma_spike: 0.01,
                sigma_slab: 1.0,
            },
        ]
        .map(|f| Kernel::Elementwise { f, scale: 2.0 })
        .into_iter()
        .chain([
            Kernel::Hoyer {
                lambda: 1.0,
                squared: false,
                row: 7,
            },
            Kernel::Hoyer {
                lambda: 1.0,
                squared: true,
                row: 42,
            },
            Kernel::TotalVariation {
                kind: TvKind::Isotropic,
                scale: 1.0,
            },
            Kernel::TotalVariation {
                kind: TvKind::OneD,
                scale: 1.0,
            },
            Kernel::Entropy {
                lambda: 1.0,
                softmax: None,
            },
            Kernel::Entropy {
                lambda: 1.0,
                softmax: Some(0.5),
            },
            Kernel::Kl {
                target: 0.1,
                beta: 1.0,
                eps: 1e-6,
            },
            Kernel::GroupLasso {
                lambda: 1.0,
                l1_ratio: 0.3,
                axis: 1,
                group_of: vec![0, 1, 0, 2, 2, 1, 0].into(),
                weights: vec![1.0, 2.0, 0.5].into(),
            },
            Kernel::GroupLasso {
                lambda: 1.0,
                l1_ratio: 0.0,
                axis: 0,
                group_of: (0..6).collect::<Vec<_>>().into(),
                weights: vec![1.0; 6].into(),
            },
        ]);
        for kernel in kernels {
            let plain = fused_penalty(&x, kernel.clone());
            assert!(plain.is_some(), "{kernel:?}: no fused kernel on wgpu");
            let tracked = fused_penalty(&x.clone().autodiff().require_grad(), kernel.clone());
            assert!(
                tracked.is_some(),
                "{kernel:?}: no fused kernel on wgpu (autodiff)"
            );
        }
        // `|x|` times 2 exactly.
        let x = Tensor::<2>::from_floats([[1.0, -2.0], [0.0, 3.0]], &wgpu);
        let abs = Kernel::Elementwise {
            f: Elementwise::Abs,
            scale: 2.0,
        };
        let value = fused_penalty(&x, abs).unwrap();
        assert_eq!(value.dims(), [1]);
        assert_eq!(value.into_scalar::<f32>(), 12.0);
        // An inconsistent group description keeps the op chain.
        let group_lasso = Kernel::GroupLasso {
            lambda: 1.0,
            l1_ratio: 0.0,
            axis: 0,
            group_of: vec![0, 1].into(),
            weights: vec![1.0].into(),
        };
        assert!(fused_penalty(&x, group_lasso).is_none());
    }

    #[test]
    fn nan_propagates_through_the_cubecl_kernels() {
        let Some(wgpu) = wgpu_or_skip() else { return };
        let mut names: Vec<_> = elementwise().into_iter().chain(hoyer()).collect();
        names.extend(entropy());
        names.push(("kl_sparsity", json!({})));
        names.push(("group_lasso", json!({})));
        names.push(("group_lasso", json!({"axis": -1, "l1_ratio": 0.5})));
        names.extend(total_variation());
        names.push(("total_variation", json!({"kind": "one_d"})));
        for (name, config) in names {
            let penalty = PenaltyConfig::from_json(name, &config)
                .and_then(|c| c.init())
                .unwrap();
            let mut x = data(4 * 3 * 5 * 6, 1, 0.5);
            x[10] = f32::NAN;
            let t = Tensor::<4>::from_data(TensorData::new(x, [4, 3, 5, 6]), &wgpu);
            let v: f32 = penalty.forward(t).unwrap().into_scalar();
            assert!(v.is_nan(), "{name} {config}: {v}");
        }
    }

    /// The wgpu top-k mask of `x` (rows of `len`) against the Flex kernel's: the same mask,
    /// bit for bit.
    fn top_k_matches_flex(wgpu: &Device, x: &[f32], len: usize, k: usize, what: &str) {
        use sparse_losses::fused::fused_top_k_mask;
        let dims = [x.len() / len, len];
        let on = |device: &Device| -> Vec<f32> {
            let t = Tensor::<2>::from_data(TensorData::new(x.to_vec(), dims), device);
            fused_top_k_mask(&t, k)
                .unwrap_or_else(|| panic!("{what} {dims:?} k = {k}: no fused mask on {device:?}"))
                .into_data()
                .to_vec()
                .unwrap()
        };
        let (gpu, cpu) = (on(wgpu), on(&Device::flex()));
        assert_eq!(cpu.len(), gpu.len());
        for r in 0..dims[0] {
            let row = r * len..(r + 1) * len;
            let kept = cpu[row.clone()].iter().filter(|&&v| v == 1.0).count();
            assert_eq!(kept, k, "{what}: flex row {r}");
            if let Some(i) = row.clone().find(|&i| gpu[i] != cpu[i]) {
                panic!(
                    "{what} {dims:?} k = {k}: index {i} (row {r}): wgpu {} vs flex {} (x = {})",
                    gpu[i], cpu[i], x[i]
                );
            }
        }
    }

    #[test]
    fn top_k_mask_matches_flex() {
        let Some(wgpu) = wgpu_or_skip() else { return };
        // Random rows of several lengths (one row, or several), k at both ends.
        for (rows, len, ks) in [
            (3, 2, vec![1]),
            (5, 1000, vec![1, 37, 999]),
            (4, 24576, vec![1, 32, 24575]),
            (1, 300_000, vec![8192]),
            (2, 4097, vec![1, 2048, 4096]),
        ] {
            let x = data(rows * len, len as u64, 3.0);
            for k in ks {
                top_k_matches_flex(&wgpu, &x, len, k, "random");
            }
        }
        // Many ties: values from a few integers (with −0.0 and +0.0 among them).
        for (rows, len, ks) in [(6, 1000, vec![1, 10, 500, 999]), (2, 24576, vec![32, 3000])] {
            let x: Vec<f32> = data(rows * len, 7, 1.0)
                .iter()
                .enumerate()
                .map(|(i, &u)| match ((u + 1.0) * 3.0) as i32 {
                    0 => -1.0,
                    1 if i % 2 == 0 => -0.0,
                    1 => 0.0,
                    2 => 2.0,
                    _ => 5.0,
                })
                .collect();
            for k in ks {
                top_k_matches_flex(&wgpu, &x, len, k, "ties");
            }
        }
        let x: Vec<f32> = (0..300_000)
            .map(|i| ((i * 7919) % 5) as f32 - 2.0)
            .collect();
        top_k_matches_flex(&wgpu, &x, 300_000, 8192, "long row of ties");
        // Zeros of both signs only, and around negative values.
        let zeros: Vec<f32> = (0..2000)
            .map(|i| if i % 3 == 0 { -0.0 } else { 0.0 })
            .collect();
        for k in [1, 2, 700, 999] {
            top_k_matches_flex(&wgpu, &zeros, 1000, k, "zeros");
        }
        let mixed = [-1.0, -0.0, 0.0, -2.0, 0.0, -0.0, 1.0, -0.0];
        for k in 1..8 {
            top_k_matches_flex(&wgpu, &mixed, 8, k, "signed zeros");
        }
        // NaN ranks above every number.
        let nan = [
            1.0,
            f32::NAN,
            2.0,
            f32::NAN,
            f32::INFINITY,
            -0.0,
            f32::NEG_INFINITY,
        ];
        for k in 1..7 {
            top_k_matches_flex(&wgpu, &nan, 7, k, "NaN");
        }
        // A single row of one entry has no k with 1 <= k < 1; rows of 1 through the public
        // op (all true).
        let one = Tensor::<2>::from_data(TensorData::new(vec![0.5f32, -1.0], [2, 1]), &wgpu);
        let m: Vec<f32> = sparse_losses::ops::top_k::top_k_mask(one, 1)
            .into_data()
            .to_vec()
            .unwrap();
        assert_eq!(m, [1.0, 1.0]);
    }

    #[test]
    fn wgpu_takes_the_fused_top_k_path() {
        let Some(wgpu) = wgpu_or_skip() else { return };
        let x = Tensor::<2>::from_data(TensorData::new(data(6 * 7, 3, 1.0), [6, 7]), &wgpu);
        assert!(sparse_losses::fused::fused_top_k_mask(&x, 3).is_some());
        let autodiff = Tensor::<2>::from_data(
            TensorData::new(data(6 * 7, 3, 1.0), [6, 7]),
            &wgpu.clone().autodiff(),
        );
        assert!(sparse_losses::fused::fused_top_k_mask(&autodiff, 3).is_some());
    }
}

/// Codes `[b, h]` from the seeded generator with one entry in `keep_every` kept (the rest 0).
fn sparse_codes(b: usize, h: usize, seed: u64, keep_every: usize) -> Vec<f32> {
    data(b * h, seed, 1.0)
        .into_iter()
        .enumerate()
        .map(|(i, v)| if i % keep_every == 0 { v } else { 0.0 })
        .collect()
}

/// `product(codes, weight)` on `device` under a loss that weights every output differently
/// (probe from `probe_seed`): the value and the gradients of the codes and of the weight.
fn decoder_product(
    codes: &[f32],
    weight: &[f32],
    [b, h, d]: [usize; 3],
    probe_seed: u64,
    device: &Device,
    product: impl Fn(Tensor<2>, Tensor<2>) -> Tensor<2>,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let c = Tensor::<2>::from_data(TensorData::new(codes.to_vec(), [b, h]), device).require_grad();
    let w = Tensor::<2>::from_data(TensorData::new(weight.to_vec(), [h, d]), device).require_grad();
    let y = product(c.clone(), w.clone());
    let probe = Tensor::<2>::from_data(
        TensorData::new(data(b * d, probe_seed, 1.0), [b, d]),
        device,
    );
    let grads = (y.clone() * probe).sum().backward();
    let v = |t: Tensor<2>| t.into_data().to_vec::<f32>().unwrap();
    (v(y), v(c.grad(&grads).unwrap()), v(w.grad(&grads).unwrap()))
}

/// The largest difference between `a` and `e`, relative to `max |e|` (or absolute below 1).
fn assert_close(name: &str, a: &[f32], e: &[f32]) {
    assert_eq!(a.len(), e.len(), "{name}: lengths");
    let max = e.iter().fold(0f32, |m, x| m.max(x.abs()));
    for (i, (x, y)) in a.iter().zip(e).enumerate() {
        assert!(
            (x - y).abs() <= 1e-5 * max.max(1.0),
            "{name}[{i}]: {x} vs {y}"
        );
    }
}

/// `sparse_matmul` (the SAE decoder's product) against `matmul`: value and both gradients, for
/// sparse codes (the Flex kernel) and dense ones (the fallback), on Flex and NdArray.
#[test]
fn sparse_matmul_matches_matmul() {
    use sparse_losses::ops::sparse_matmul::sparse_matmul;
    let dims @ [b, h, d] = [37, 300, 53];
    let weight = data(h * d, 5, 1.0);
    // Sparse (1 in 13 nonzero) and dense (every other one) codes.
    for keep_every in [13usize, 2] {
        let codes = sparse_codes(b, h, 9, keep_every);
        for device in [Device::flex().autodiff(), Device::ndarray().autodiff()] {
            let run = |f: fn(Tensor<2>, Tensor<2>) -> Tensor<2>| {
                decoder_product(&codes, &weight, dims, 3, &device, f)
            };
            let (ys, gcs, gws) = run(sparse_matmul);
            let (yd, gcd, gwd) = run(|c, w| c.matmul(w));
            assert_close("value", &ys, &yd);
            assert_close("codes grad", &gcs, &gcd);
            assert_close("weight grad", &gws, &gwd);
        }
    }
}

/// `sparse_matmul_on_support` against `matmul` with the codes' gradient masked to the codes'
/// support: the same value and weight gradient, and `(G · Wᵀ) ⊙ 1[codes ≠ 0]` for the codes,
/// for sparse codes (the Flex kernel) and dense ones (the fallbacks), on Flex and NdArray.
#[test]
fn sparse_matmul_on_support_masks_the_codes_gradient() {
    use sparse_losses::ops::sparse_matmul::sparse_matmul_on_support;
    let dims @ [b, h, d] = [29, 257, 41];
    let weight = data(h * d, 6, 1.0);
    for keep_every in [11usize, 2] {
        let codes = sparse_codes(b, h, 8, keep_every);
        for device in [Device::flex().autodiff(), Device::ndarray().autodiff()] {
            let run = |f: fn(Tensor<2>, Tensor<2>) -> Tensor<2>| {
                decoder_product(&codes, &weight, dims, 4, &device, f)
            };
            let (y, gc, gw) = run(sparse_matmul_on_support);
            let (y_dense, gc_dense, gw_dense) = run(|c, w| c.matmul(w));
            let masked: Vec<f32> = gc_dense
                .iter()
                .zip(&codes)
                .map(|(&g, &c)| if c != 0.0 { g } else { 0.0 })
                .collect();
            assert!(masked.iter().any(|&g| g != 0.0));
            assert_close("value", &y, &y_dense);
            assert_close("codes grad", &gc, &masked);
            assert_close("weight grad", &gw, &gw_dense);
        }
    }
}

/// `centred_matmul` against `(x − c).matmul(w)`: value and the gradients of `x`, the centre
/// and the weight, behind a ReLU (a sparse incoming gradient: the Flex sparse products) and
/// without one (dense: the GEMMs), on Flex and NdArray.
#[test]
fn centred_matmul_matches_the_plain_product() {
    use burn::tensor::activation::relu;
    use sparse_losses::ops::sparse_matmul::centred_matmul;
    let (b, d, h) = (33, 47, 301);
    for sparse in [true, false] {
        for device in [Device::flex().autodiff(), Device::ndarray().autodiff()] {
            let run = |fused: bool| {
                let x =
                    Tensor::<2>::from_data(TensorData::new(data(b * d, 1, 1.0), [b, d]), &device)
                        .require_grad();
                let c = Tensor::<1>::from_data(TensorData::new(data(d, 2, 0.5), [d]), &device)
                    .require_grad();
                let w =
                    Tensor::<2>::from_data(TensorData::new(data(d * h, 3, 0.3), [d, h]), &device)
                        .require_grad();
                let y = if fused {
                    centred_matmul(x.clone(), c.clone(), w.clone())
                } else {
                    (x.clone() - c.clone().unsqueeze::<2>()).matmul(w.clone())
                };
                // Behind a shifted ReLU about one output in eight passes a gradient.
                let y = if sparse { relu(y - 0.6) } else { y };
                let probe =
                    Tensor::<2>::from_data(TensorData::new(data(b * h, 7, 1.0), [b, h]), &device);
                let grads = (y.clone() * probe).sum().backward();
                let v2 = |t: Tensor<2>| t.into_data().to_vec::<f32>().unwrap();
                let v1 = |t: Tensor<1>| t.into_data().to_vec::<f32>().unwrap();
                (
                    v2(y),
                    v2(x.grad(&grads).unwrap()),
                    v1(c.grad(&grads).unwrap()),
                    v2(w.grad(&grads).unwrap()),
                )
            };
            let (y, gx, gc, gw) = run(true);
            let (y_plain, gx_plain, gc_plain, gw_plain) = run(false);
            if sparse {
                let active = y.iter().filter(|&&v| v > 0.0).count();
                assert!(
                    active > 0 && active * 4 < y.len(),
                    "{active} of {}",
                    y.len()
                );
            }
            assert_close("value", &y, &y_plain);
            assert_close("x grad", &gx, &gx_plain);
            assert_close("centre grad", &gc, &gc_plain);
            assert_close("weight grad", &gw, &gw_plain);
        }
    }
}
