//! Numerical guards: every penalty's value and gradient are finite in float32 for inputs with
//! |x| in {0, 1e-30, 1e-10, 1, 1e10, 1e30} (both signs), on Flex, NdArray (the op chains) and
//! wgpu, up to the magnitude its documentation states (where the exact result leaves float32,
//! or where the docs say the gradient is undefined).
#![allow(deprecated)]

use burn::prelude::*;
use burn::tensor::TensorData;
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
                let t = Tensor::<4>::from_data(TensorData::new(x.clone(), [1, 1, 3, 4]), device)
                    .require_grad();
                let v = penalty.forward(t.clone()).unwrap();
                let g = v.backward();
                let grad = t.grad(&g).unwrap().into_data().to_vec::<f32>().unwrap();
                (v.into_scalar::<f32>(), grad)
            } else {
                let t = Tensor::<2>::from_data(TensorData::new(x.clone(), [3, 4]), device)
                    .require_grad();
                let v = penalty.forward(t.clone()).unwrap();
                let g = v.backward();
                let grad = t.grad(&g).unwrap().into_data().to_vec::<f32>().unwrap();
                (v.into_scalar::<f32>(), grad)
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
    let found = std::panic::catch_unwind(|| Device::wgpu_options().init());
    let device = match found {
        Ok(Ok(device)) => device,
        _ if std::env::var("SPARSE_LOSSES_REQUIRE_WGPU").is_ok_and(|v| v == "1") => {
            panic!("no wgpu adapter (SPARSE_LOSSES_REQUIRE_WGPU=1 makes this a failure)")
        }
        _ => {
            eprintln!("wgpu: skipped: no adapter");
            return;
        }
    };
    check(&device.autodiff(), "wgpu");
}
