//! Numerical guards: every penalty's value and gradient are finite in float32 for inputs with
//! |x| in {0, 1e-30, 1e-10, 1, 1e10, 1e30} (both signs), on Flex, NdArray (the op chains) and
//! wgpu, up to the magnitude its documentation states (where the exact result leaves float32,
//! or where the docs say the gradient is undefined).
#![allow(deprecated)]

mod common;

use burn::prelude::*;
use common::{value_and_grad, Lcg};
use serde_json::json;
use sparse_losses::prelude::*;

const MAGNITUDES: [f32; 6] = [0.0, 1e-30, 1e-10, 1.0, 1e10, 1e30];

/// `(penalty, config, largest |x| for a finite value, largest |x| for a finite gradient)`, the
/// limits as the penalty's docs state them (each "Range in float32" paragraph), on every
/// backend.
fn cases() -> Vec<(&'static str, serde_json::Value, f32, f32)> {
    let all = f32::MAX;
    vec![
        ("l1", json!({}), all, all),
        // ½ λ (1 − ρ) x² leaves float32 above ~1e19: the value is +∞, the gradient finite.
        ("elastic_net", json!({}), 1e10, all),
        ("group_lasso", json!({}), 1e10, all),
        ("kl_sparsity", json!({}), all, all),
        ("hoyer", json!({}), all, all),
        ("hoyer", json!({"per_row": true}), all, all),
        ("total_variation", json!({}), all, all),
        ("total_variation", json!({"kind": "isotropic"}), 1e10, all),
        ("spike_and_slab", json!({}), 1e10, all),
        ("entropy", json!({}), all, all),
        ("entropy", json!({"normalize": "softmax"}), all, all),
        ("tanh", json!({}), all, all),
        ("log_sum", json!({}), all, all),
        ("lp", json!({}), all, all),
        ("lp", json!({"p": 1.0}), all, all),
        ("lp", json!({"p": 1.5}), 1e10, all),
        ("scad", json!({}), all, all),
        ("mcp", json!({}), all, all),
    ]
}

fn check(device: &Device, backend: &str) {
    for (name, config, value_up_to, grad_up_to) in cases() {
        let penalty = PenaltyConfig::from_json(name, &config)
            .and_then(|c| c.init())
            .unwrap();
        for &m in &MAGNITUDES {
            // A tensor of this magnitude and smaller ones (KL reads probabilities in [0, 1]).
            let mut x: Vec<f32> = MAGNITUDES
                .iter()
                .filter(|&&v| v <= m)
                .flat_map(|&v| [v, -v])
                .collect();
            x.resize(12, 0.0);
            if name == "kl_sparsity" {
                x.iter_mut().for_each(|v| *v = v.abs().min(1.0));
            }
            let (value, grad) = if name == "total_variation" {
                value_and_grad(&penalty, &x, [1, 1, 3, 4], device)
            } else {
                value_and_grad(&penalty, &x, [3, 4], device)
            };
            if m <= value_up_to {
                assert!(
                    value.is_finite(),
                    "{backend} {name} {config} |x| <= {m}: value {value}"
                );
            }
            if m <= grad_up_to {
                assert!(
                    grad.iter().all(|g| g.is_finite()),
                    "{backend} {name} {config} |x| <= {m}: gradient {grad:?}"
                );
            }
        }
    }
}

/// The positively homogeneous penalties, `f(c x) = c^degree f(x)`, keep that law at every
/// scale c in 1e-30 … 1e30 (so `∇f(c x) = c^(degree − 1) ∇f(x)`): a norm whose squares
/// overflow or underflow breaks it (a gradient of 0 instead of a unit vector, which
/// "finite" alone does not catch). `(penalty, config, degree, scales on wgpu)`.
fn check_homogeneous(device: &Device, backend: &str) {
    let mut rng = Lcg::from_state(7);
    let x: Vec<f32> = (0..40).map(|_| rng.unit() * 2.0 - 1.0).collect();
    let wide = [1e-30f32, 1e-10, 1e10, 1e30];
    // wgpu's group-lasso kernel sums the squares as they are (its docs state the range).
    let narrow = [1e-10f32, 1e10];
    let cases: Vec<(&str, serde_json::Value, i32, &[f32])> = vec![
        ("l1", json!({}), 1, &wide),
        ("group_lasso", json!({}), 1, &narrow),
        (
            "group_lasso",
            json!({"axis": -1, "group_ids": [0, 1, 0, 1, 2]}),
            1,
            &narrow,
        ),
        ("total_variation", json!({}), 1, &wide),
        ("total_variation", json!({"kind": "isotropic"}), 1, &wide),
        ("total_variation", json!({"kind": "one_d"}), 1, &wide),
        ("hoyer", json!({}), 0, &wide),
        ("entropy", json!({}), 0, &wide),
    ];
    for (name, config, degree, gpu_scales) in cases {
        let penalty = PenaltyConfig::from_json(name, &config)
            .and_then(|c| c.init())
            .unwrap();
        // In float64, of the float32 results at x and at c x (shape [2, 1, 4, 5]).
        let at = |x: &[f32]| {
            let (v, g) = value_and_grad(&penalty, x, [2, 1, 4, 5], device);
            (
                f64::from(v),
                g.into_iter().map(f64::from).collect::<Vec<_>>(),
            )
        };
        let (v1, g1) = at(&x);
        let g_max = g1.iter().fold(0f64, |m, g| m.max(g.abs()));
        let scales: &[f32] = if backend == "wgpu" { gpu_scales } else { &wide };
        for &c in scales {
            let xc: Vec<f32> = x.iter().map(|v| v * c).collect();
            let (vc, gc) = at(&xc);
            let c = f64::from(c);
            let v_back = vc / c.powi(degree);
            assert!(
                (v_back - v1).abs() <= 1e-4 * v1.abs() + 1e-6,
                "{backend} {name} {config} c = {c:e}: f(cx)/c^{degree} = {v_back}, f(x) = {v1}"
            );
            for (i, (a, b)) in gc.iter().zip(&g1).enumerate() {
                let a_back = a * c.powi(1 - degree);
                assert!(
                    (a_back - b).abs() <= 1e-4 * g_max,
                    "{backend} {name} {config} c = {c:e}: gradient {i}: {a_back} vs {b}"
                );
            }
        }
    }
}

#[test]
fn homogeneous_penalties_keep_their_scaling_law_on_flex_and_ndarray() {
    check_homogeneous(&Device::flex().autodiff(), "flex");
    check_homogeneous(&Device::ndarray().autodiff(), "ndarray");
}

#[test]
fn every_penalty_is_finite_where_its_docs_say_on_flex() {
    check(&Device::flex().autodiff(), "flex");
}

/// The op chains (NdArray has no fused kernels).
#[test]
fn every_penalty_is_finite_where_its_docs_say_on_ndarray() {
    check(&Device::ndarray().autodiff(), "ndarray");
}

#[cfg(feature = "wgpu")]
#[test]
fn every_penalty_is_finite_where_its_docs_say_on_wgpu() {
    let Some(device) = common::wgpu_or_skip() else {
        return;
    };
    let device = device.autodiff();
    check(&device, "wgpu");
    check_homogeneous(&device, "wgpu");
}
