//! The fused CPU kernels (`sparse_losses::fused`) against the op chains: on Flex every penalty
//! takes its fused kernel, on NdArray the op chain; both must give the same value and gradient
//! at sizes that exercise the kernels' parallel paths (more than one task), on inputs with
//! exact zeros, in several ranks and layouts. The fixture runner checks both paths against
//! the float64 references at small sizes.
#![allow(deprecated)]

use burn::prelude::*;
use burn::tensor::TensorData;
use serde_json::json;
use sparse_losses::fused::{fused_penalty, Elementwise, Kernel};
use sparse_losses::prelude::*;

/// A deterministic pseudo-random input in [-scale, scale] with about one exact zero in seven.
fn data(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|i| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let u = (s >> 40) as f32 / (1u64 << 24) as f32;
            if i % 7 == 3 {
                0.0
            } else {
                scale * (2.0 * u - 1.0)
            }
        })
        .collect()
}

/// Value and gradient of `penalty` at `x` (shape `dims`) on `device` (an autodiff device).
fn value_and_grad<const D: usize>(
    penalty: &AnyPenalty,
    x: &[f32],
    dims: [usize; D],
    device: &Device,
    transposed: bool,
) -> (f32, Vec<f32>) {
    let t = Tensor::<D>::from_data(TensorData::new(x.to_vec(), dims), device).require_grad();
    // A strided view (the last two dims swapped twice): same values, non-contiguous layout.
    let input = if transposed && D >= 2 {
        t.clone().swap_dims(D - 2, D - 1).swap_dims(D - 2, D - 1)
    } else {
        t.clone()
    };
    let value = penalty.forward(input).unwrap();
    let v: f32 = value.clone().into_scalar();
    let grads = value.backward();
    let g = t.grad(&grads).unwrap().into_data().to_vec::<f32>().unwrap();
    (v, g)
}

fn check<const D: usize>(name: &str, config: serde_json::Value, dims: [usize; D], scale: f32) {
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
    let flex = Device::flex().autodiff();
    let ndarray = Device::ndarray().autodiff();
    for transposed in [false, true] {
        let (vf, gf) = value_and_grad(&penalty, &x, dims, &flex, transposed);
        let (vn, gn) = value_and_grad(&penalty, &x, dims, &ndarray, transposed);
        let rel = (vf - vn).abs() / vf.abs().max(vn.abs()).max(1e-12);
        assert!(
            rel <= 1e-4,
            "{name} {config} {dims:?}: value flex {vf} vs op chain {vn}"
        );
        let max = gn.iter().fold(0f32, |m, g| m.max(g.abs()));
        for (i, (a, b)) in gf.iter().zip(&gn).enumerate() {
            assert!(
                (a - b).abs() <= 1e-3 * max.max(1e-6),
                "{name} {config} {dims:?}: grad[{i}] flex {a} vs op chain {b} (max {max})"
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
