//! SAE activations (SPEC.md, "SAE activations"): properties of TopK, BatchTopK, JumpReLU and
//! the hard-concrete gates beyond the fixtures, every error case, and a check that the fixture
//! runner's activation evaluators catch a wrong field.

mod common;
mod runner;

use burn::module::Module;
use burn::optim::{GradientsParams, SgdConfig};
use burn::prelude::*;
use burn::tensor::{Distribution, TensorData};
use common::Lcg;
use sparse_losses::activation::{BatchTopKConfig, HardConcreteConfig, JumpReluConfig, TopKConfig};
use sparse_losses::ops::top_k::top_k_mask;
use sparse_losses::Error;

/// Every autodiff device compiled in (wgpu where an adapter exists).
fn devices() -> Vec<Device> {
    #[allow(deprecated)]
    #[cfg_attr(not(feature = "wgpu"), allow(unused_mut))]
    let mut devices = vec![Device::flex().autodiff(), Device::ndarray().autodiff()];
    // Without an adapter the wgpu checks are skipped (`wgpu_is_tested_when_required` fails
    // then with `SPARSE_LOSSES_REQUIRE_WGPU=1`).
    #[cfg(feature = "wgpu")]
    if let Ok(device) = common::wgpu_device() {
        devices.push(device.autodiff());
    }
    devices
}

fn vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_into_vec().unwrap()
}

fn tensor<const D: usize>(data: &[f32], shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(data.to_vec(), shape), device)
}

/// Host reference: the k largest of each row by a stable sort (ties: the lower index).
fn host_top_k(data: &[f32], len: usize, k: usize) -> Vec<f32> {
    let mut out = vec![0.0; data.len()];
    for (r, row) in data.chunks(len).enumerate() {
        let mut idx: Vec<usize> = (0..len).collect();
        // Stable: equal scores keep their index order.
        idx.sort_by(|&a, &b| row[b].partial_cmp(&row[a]).unwrap());
        for &i in idx.iter().take(k) {
            out[r * len + i] = 1.0;
        }
    }
    out
}

/// The gradient of a masked ReLU (TopK, BatchTopK): `got = G ⊙ m ⊙ 1[z > 0]`, exactly.
fn assert_masked_relu_gradient(got: &[f32], mask: &[f32], z: &[f32], g: &[f32]) {
    for i in 0..z.len() {
        let want = if mask[i] == 1.0 && z[i] > 0.0 {
            g[i]
        } else {
            0.0
        };
        assert_eq!(got[i], want, "entry {i}");
    }
}

/// Random values on a coarse grid (many exact ties), some negative.
fn tied_values(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = Lcg::new(seed);
    (0..n)
        .map(|_| ((rng.next_u64() >> 33) % 9) as f32 * 0.25 - 1.0)
        .collect()
}

// ---------------------------------------------------------------- the shared top-k ranking

#[test]
fn top_k_mask_matches_a_stable_sort_with_ties_on_every_backend() {
    for device in devices() {
        for (rows, len, k, seed) in [(7, 13, 4, 1), (3, 40, 17, 2), (1, 9, 8, 3), (5, 6, 1, 4)] {
            let data = tied_values(rows * len, seed);
            let got = vec(top_k_mask(tensor(&data, [rows, len], &device), k));
            assert_eq!(
                got,
                host_top_k(&data, len, k),
                "{rows}x{len} k={k} on {device:?}"
            );
        }
        // Rank 3: rows are the last dimension.
        let data = tied_values(2 * 3 * 8, 5);
        let got = vec(top_k_mask(tensor(&data, [2, 3, 8], &device), 3));
        assert_eq!(got, host_top_k(&data, 8, 3));
    }
}

#[test]
fn top_k_mask_edge_counts() {
    let device = Device::flex();
    let x = tensor(&[1.0, 2.0, 3.0], [1, 3], &device);
    assert_eq!(vec(top_k_mask(x.clone(), 0)), [0.0; 3]);
    assert_eq!(vec(top_k_mask(x.clone(), 3)), [1.0; 3]);
    assert_eq!(vec(top_k_mask(x, 5)), [1.0; 3]);
}

// ---------------------------------------------------------------- TopK

#[test]
fn top_k_keeps_exactly_k_per_row_and_l0_is_k_on_positive_inputs() {
    for device in devices() {
        device.seed(11);
        for k in [1, 3, 8] {
            let top_k = TopKConfig::new(k).init().unwrap();
            // Positive pre-activations: every kept entry survives the ReLU.
            let z = Tensor::<2>::random([6, 8], Distribution::Uniform(0.1, 2.0), &device);
            let y = vec(top_k.forward(z.clone()).unwrap());
            let m = vec(top_k.mask(z).unwrap());
            for row in 0..6 {
                let nnz = y[row * 8..(row + 1) * 8]
                    .iter()
                    .filter(|&&v| v != 0.0)
                    .count();
                let ones: f32 = m[row * 8..(row + 1) * 8].iter().sum();
                assert_eq!(nnz, k);
                assert_eq!(ones, k as f32);
            }
            // Mixed signs: the mask still has k ones per row, the output at most k nonzeros.
            let z = Tensor::<2>::random([6, 8], Distribution::Normal(0.0, 1.0), &device);
            let y = vec(top_k.forward(z.clone()).unwrap());
            let m = vec(top_k.mask(z).unwrap());
            for row in 0..6 {
                let nnz = y[row * 8..(row + 1) * 8]
                    .iter()
                    .filter(|&&v| v != 0.0)
                    .count();
                assert!(nnz <= k);
                assert_eq!(m[row * 8..(row + 1) * 8].iter().sum::<f32>(), k as f32);
            }
        }
    }
}

#[test]
fn top_k_ties_go_to_the_lower_index() {
    for device in devices() {
        let top_k = TopKConfig::new(2).init().unwrap();
        let z = tensor(&[1.0, 2.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5], [2, 4], &device);
        assert_eq!(
            vec(top_k.mask(z.clone()).unwrap()),
            [1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0]
        );
        assert_eq!(
            vec(top_k.forward(z).unwrap()),
            [1.0, 2.0, 0.0, 0.0, 0.5, 0.5, 0.0, 0.0]
        );
        // A rank-1 tensor is one row.
        let z = tensor(&[3.0, 3.0, 3.0], [3], &device);
        assert_eq!(vec(top_k.forward(z).unwrap()), [3.0, 3.0, 0.0]);
    }
}

#[test]
fn top_k_gradient_is_mask_times_relu_derivative() {
    for device in devices() {
        device.seed(5);
        let top_k = TopKConfig::new(3).init().unwrap();
        let z = Tensor::<2>::random([4, 7], Distribution::Normal(0.0, 1.0), &device).require_grad();
        let g = Tensor::<2>::random([4, 7], Distribution::Normal(0.0, 1.0), &device);
        let y = top_k.forward(z.clone()).unwrap();
        let grads = (y * g.clone()).sum().backward();
        let got = vec(z.grad(&grads).unwrap());
        let m = vec(top_k.mask(z.clone()).unwrap());
        assert_masked_relu_gradient(&got, &m, &vec(z), &vec(g));
    }
}

// ---------------------------------------------------------------- BatchTopK

#[test]
fn batch_top_k_keeps_exactly_k_times_b_and_its_gradient() {
    for device in devices() {
        device.seed(21);
        for (batch, h, k) in [(8, 16, 3), (5, 9, 1), (4, 6, 6), (1, 10, 4)] {
            let act = BatchTopKConfig::new(k).init().unwrap();
            let z = Tensor::<2>::random([batch, h], Distribution::Normal(0.5, 1.0), &device)
                .require_grad();
            let g = Tensor::<2>::random([batch, h], Distribution::Normal(0.0, 1.0), &device);
            let out = act.forward(z.clone()).unwrap();
            let m = vec(out.mask.clone());
            assert_eq!(m.iter().sum::<f32>(), (k * batch) as f32);
            let (zv, y) = (vec(z.clone()), vec(out.output.clone()));
            // The mask keeps the k·B largest of relu(z) (ties: lower row-major index).
            let relu: Vec<f32> = zv.iter().map(|v| v.max(0.0)).collect();
            assert_eq!(m, host_top_k(&relu, batch * h, k * batch));
            for i in 0..zv.len() {
                assert_eq!(y[i], if m[i] == 1.0 { relu[i] } else { 0.0 });
            }
            // The threshold is the smallest positive kept entry.
            let want = (0..zv.len())
                .filter(|&i| m[i] == 1.0 && relu[i] > 0.0)
                .map(|i| relu[i])
                .fold(f32::INFINITY, f32::min);
            let want = if want.is_finite() { want } else { 0.0 };
            assert_eq!(out.threshold.clone().into_scalar::<f32>(), want);
            // Gradient G ⊙ m ⊙ 1[z > 0].
            let grads = (out.output * g.clone()).sum().backward();
            let got = vec(z.grad(&grads).unwrap());
            assert_masked_relu_gradient(&got, &m, &zv, &vec(g));
        }
    }
}

#[test]
fn batch_top_k_rows_may_keep_more_or_fewer_than_k() {
    let device = Device::flex().autodiff();
    let act = BatchTopKConfig::new(2).init().unwrap();
    let z = tensor(&[5.0, 4.0, 3.0, 2.0, 0.1, 0.2, 0.3, 0.0], [2, 4], &device);
    let out = act.forward(z).unwrap();
    assert_eq!(vec(out.mask), [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0]);
    assert_eq!(out.threshold.into_scalar::<f32>(), 2.0);
}

#[test]
fn batch_top_k_with_too_few_positives_keeps_zeros_lowest_index_first() {
    let device = Device::flex().autodiff();
    let act = BatchTopKConfig::new(2).init().unwrap();
    let z = tensor(&[-1.0, 0.5, -2.0, 0.0, -3.0, -1.0], [2, 3], &device);
    let out = act.forward(z).unwrap();
    // One positive entry (0.5); three more ones go to the first zeros of relu(z).
    assert_eq!(vec(out.mask), [1.0, 1.0, 1.0, 1.0, 0.0, 0.0]);
    assert_eq!(vec(out.output), [0.0, 0.5, 0.0, 0.0, 0.0, 0.0]);
    assert_eq!(out.threshold.into_scalar::<f32>(), 0.5);
    // Nothing positive: threshold 0.
    let z = tensor(&[-1.0, -0.5, -2.0, -3.0], [2, 2], &device);
    let out = act.forward(z).unwrap();
    assert_eq!(vec(out.mask), [1.0; 4]);
    assert_eq!(vec(out.output), [0.0; 4]);
    assert_eq!(out.threshold.into_scalar::<f32>(), 0.0);
}

#[test]
fn batch_top_k_inference_is_strict_and_has_a_gradient() {
    for device in devices() {
        let act = BatchTopKConfig::new(1).init().unwrap();
        let theta = tensor(&[0.5], [1], &device);
        let z = tensor(&[0.5, 0.6, -1.0, 2.0, 0.4, 0.5001], [3, 2], &device).require_grad();
        let y = act.infer(z.clone(), theta).unwrap();
        assert_eq!(vec(y.clone()), [0.0, 0.6, 0.0, 2.0, 0.0, 0.5001]);
        let grads = y.sum().backward();
        assert_eq!(vec(z.grad(&grads).unwrap()), [0.0, 1.0, 0.0, 1.0, 0.0, 1.0]);
    }
}

// ---------------------------------------------------------------- JumpReLU

#[test]
fn jump_relu_forward_and_pseudo_derivatives() {
    for device in devices() {
        let eps = 0.1;
        let jump = JumpReluConfig::new(2)
            .with_bandwidth(eps)
            .with_threshold_init(1.0)
            .init(&device)
            .unwrap();
        // θ = 1 for both latents; window |z − 1| < 0.05.
        let z = tensor(&[0.97, 1.2, 1.02, 0.5, 2.0, 1.04], [3, 2], &device).require_grad();
        let y = jump.forward(z.clone()).unwrap();
        assert_eq!(vec(y.clone()), [0.0, 1.2, 1.02, 0.0, 2.0, 1.04]);
        let grads = y.sum().backward();
        assert_eq!(vec(z.grad(&grads).unwrap()), [0.0, 1.0, 1.0, 0.0, 1.0, 1.0]);
        // ∂/∂log θ_j = Σ_b −(θ/ε) K · θ: latent 0 has 0.97 and 1.02 in the window,
        // latent 1 has 1.04.
        let g = vec(jump.log_threshold.val().grad(&grads).unwrap());
        assert!(
            (g[0] + 20.0).abs() < 1e-3 && (g[1] + 10.0).abs() < 1e-3,
            "{g:?}"
        );
    }
}

#[test]
fn jump_relu_thresholds_move_under_an_optimizer_step() {
    for device in devices() {
        let mut jump = JumpReluConfig::new(3)
            .with_bandwidth(0.05)
            .with_threshold_init(0.5)
            .init(&device)
            .unwrap();
        let mut optim = SgdConfig::new().init();
        let before = vec(jump.log_threshold.val());
        // Toy loss: the L0 term alone pushes every threshold with entries in its window up.
        let z = tensor(&[0.49, 0.51, 3.0, 0.52, 0.48, -1.0], [2, 3], &device);
        let loss = jump.l0(z.clone()).unwrap();
        let grads = GradientsParams::from_grads(loss.backward(), &jump);
        jump = optim.step(0.001, jump, grads);
        let after = vec(jump.log_threshold.val());
        assert!(
            after[0] > before[0] && after[1] > before[1],
            "{before:?} -> {after:?}"
        );
        assert_eq!(after[2], before[2], "no entry in latent 2's window");

        // A reconstruction-style loss that wants the entries kept pulls the threshold down.
        let loss = (jump.forward(z.clone()).unwrap() - z.clone())
            .powi_scalar(2)
            .sum();
        let grads = GradientsParams::from_grads(loss.backward(), &jump);
        let moved = vec(jump.log_threshold.val());
        jump = optim.step(0.001, jump, grads);
        let after = vec(jump.log_threshold.val());
        assert!(after[0] < moved[0], "{moved:?} -> {after:?}");
        assert_eq!(jump.num_params(), 3);
    }
}

#[test]
fn jump_relu_l0_counts_active_latents_per_row() {
    let device = Device::flex().autodiff();
    let jump = JumpReluConfig::new(4)
        .with_threshold_init(0.25)
        .init(&device)
        .unwrap();
    let z = tensor(
        &[1.0, 0.3, 0.2, -1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0],
        [3, 4],
        &device,
    );
    assert_eq!(jump.l0(z).unwrap().into_scalar::<f32>(), 2.0);
    // Rank 3: all leading dimensions are rows.
    let z = tensor(&[1.0; 8], [2, 1, 4], &device);
    assert_eq!(jump.l0(z).unwrap().into_scalar::<f32>(), 4.0);
}

#[test]
fn activations_run_without_autodiff() {
    #[allow(deprecated)]
    for device in [Device::flex(), Device::ndarray()] {
        let jump = JumpReluConfig::new(2)
            .with_threshold_init(1.0)
            .init(&device)
            .unwrap();
        let z = tensor(&[0.5, 2.0], [1, 2], &device);
        assert_eq!(vec(jump.forward(z.clone()).unwrap()), [0.0, 2.0]);
        assert_eq!(jump.l0(z.clone()).unwrap().into_scalar::<f32>(), 1.0);
        let y = TopKConfig::new(1)
            .init()
            .unwrap()
            .forward(z.clone())
            .unwrap();
        assert_eq!(vec(y), [0.0, 2.0]);
        let out = BatchTopKConfig::new(1).init().unwrap().forward(z).unwrap();
        assert_eq!(vec(out.output), [0.0, 2.0]);
        let gates = HardConcreteConfig::new(2).init(&device).unwrap();
        assert_eq!(gates.sample_gate([3, 2]).unwrap().dims(), [3, 2]);
    }
}

// ---------------------------------------------------------------- hard-concrete gates

#[test]
fn hard_concrete_gates_lie_in_the_unit_interval() {
    for device in devices() {
        device.seed(9);
        let n = 64;
        let la: Vec<f32> = (0..n).map(|i| (i as f32 - 32.0) / 4.0).collect();
        let gates = HardConcreteConfig::new(n)
            .init_with(tensor(&la, [n], &device))
            .unwrap();
        let g = vec(gates.sample_gate([16, n]).unwrap());
        assert!(
            g.iter().all(|&v| (0.0..=1.0).contains(&v)),
            "a gate outside [0, 1]"
        );
        // Exact zeros and ones occur (the stretch makes the ends reachable).
        assert!(g.contains(&0.0) && g.contains(&1.0));
        let t = vec(gates.test_gate());
        assert!(t.iter().all(|&v| (0.0..=1.0).contains(&v)));
        // Extreme noise still gives finite gates.
        let u = tensor(&[1e-7, 0.5, 1.0 - 1e-7, 0.0, 1.0], [5], &device);
        let gates = HardConcreteConfig::new(5).init(&device).unwrap();
        let g = vec(gates.gate(u).unwrap());
        assert!(g.iter().all(|&v| (0.0..=1.0).contains(&v)), "{g:?}");
    }
}

#[test]
fn hard_concrete_clamp_has_zero_gradient_outside_the_open_interval() {
    let device = Device::flex().autodiff();
    let la = tensor(&[-10.0, 0.0, 10.0], [3], &device).require_grad();
    let gates = HardConcreteConfig::new(3).init_with(la).unwrap();
    let g = gates.gate(tensor(&[0.5, 0.5, 0.5], [3], &device)).unwrap();
    assert_eq!(vec(g.clone()), [0.0, 0.5, 1.0]);
    let grads = g.sum().backward();
    let d = vec(gates.log_alpha.val().grad(&grads).unwrap());
    // dg/dlog α = (ζ − γ) s (1 − s) / β at s = ½: 1.2 · 0.25 · 1.5 = 0.45.
    assert_eq!(d[0], 0.0);
    assert!((d[1] - 0.45).abs() < 1e-6, "{d:?}");
    assert_eq!(d[2], 0.0);
}

#[test]
fn hard_concrete_expected_l0_decreases_as_log_alpha_decreases() {
    for device in devices() {
        let mut last = f32::INFINITY;
        for la in [4.0, 2.0, 0.0, -2.0, -4.0, -8.0] {
            let gates = HardConcreteConfig::new(5)
                .with_log_alpha_init(la)
                .init(&device)
                .unwrap();
            let l0 = gates.expected_l0();
            let v = l0.clone().into_scalar::<f32>();
            assert!(v < last && v > 0.0 && v < 5.0, "{la}: {v}");
            last = v;
            let d = vec(gates.log_alpha.val().grad(&l0.backward()).unwrap());
            assert!(d.iter().all(|&d| d > 0.0));
        }
        // Gradient descent on the expected L0 closes the gates.
        let mut gates = HardConcreteConfig::new(4).init(&device).unwrap();
        let mut optim = SgdConfig::new().init();
        let before = gates.expected_l0().into_scalar::<f32>();
        for _ in 0..5 {
            let grads = GradientsParams::from_grads(gates.expected_l0().backward(), &gates);
            gates = optim.step(1.0, gates, grads);
        }
        assert!(gates.expected_l0().into_scalar::<f32>() < before);
    }
}

#[test]
fn hard_concrete_gates_broadcast_over_leading_dimensions() {
    let device = Device::flex().autodiff();
    let la = tensor(&[0.0, 1.0, -1.0], [3], &device).require_grad();
    let gates = HardConcreteConfig::new(3).init_with(la).unwrap();
    let u = tensor(&[0.3, 0.6, 0.9, 0.3, 0.6, 0.9], [2, 3], &device);
    let g = vec(gates.gate(u).unwrap());
    assert_eq!(g[..3], g[3..]);
}

// ---------------------------------------------------------------- configs

#[test]
fn configs_round_trip_through_serde_with_documented_defaults() {
    let jump = JumpReluConfig::new(8);
    assert_eq!((jump.bandwidth, jump.threshold_init), (1e-3, 1e-3));
    let text = serde_json::to_string(&jump).unwrap();
    let back: JumpReluConfig = serde_json::from_str(&text).unwrap();
    assert_eq!(back.d_latent, 8);
    let hc = HardConcreteConfig::new(3);
    assert_eq!((hc.beta, hc.gamma, hc.zeta), (2.0 / 3.0, -0.1, 1.1));
    let back: HardConcreteConfig =
        serde_json::from_str(&serde_json::to_string(&hc).unwrap()).unwrap();
    assert_eq!(back.beta, 2.0 / 3.0);
    let back: BatchTopKConfig = serde_json::from_str(r#"{"k": 4}"#).unwrap();
    assert_eq!(back.k, 4);
    let back: TopKConfig = serde_json::from_str(r#"{"k": 2}"#).unwrap();
    assert_eq!(back.init().unwrap().k(), 2);
}

// ---------------------------------------------------------------- errors

fn invalid(e: Error, item: &str, field: &str) {
    match e {
        Error::InvalidHyperParameter {
            item: i, field: f, ..
        } => {
            assert_eq!((i, f), (item, field));
        }
        other => panic!("expected InvalidHyperParameter {item}.{field}, got {other:?}"),
    }
}

#[test]
fn every_error_case() {
    let device = Device::flex().autodiff();

    // TopK.
    invalid(TopKConfig::new(0).init().unwrap_err(), "top_k", "k");
    let top_k = TopKConfig::new(5).init().unwrap();
    let z = Tensor::<2>::zeros([2, 4], &device);
    assert_eq!(
        top_k.forward(z.clone()).unwrap_err(),
        Error::TopkTooLarge {
            item: "top_k",
            k: 5,
            len: 4
        }
    );
    assert!(matches!(
        top_k.mask(z).unwrap_err(),
        Error::TopkTooLarge { .. }
    ));
    let empty = Tensor::<2>::zeros([0, 4], &device);
    assert!(matches!(
        top_k.forward(empty.clone()).unwrap_err(),
        Error::EmptyInput { item: "top_k", .. }
    ));

    // BatchTopK.
    invalid(
        BatchTopKConfig::new(0).init().unwrap_err(),
        "batch_top_k",
        "k",
    );
    let act = BatchTopKConfig::new(5).init().unwrap();
    assert_eq!(
        act.forward(Tensor::<2>::zeros([3, 4], &device))
            .unwrap_err(),
        Error::TopkTooLarge {
            item: "batch_top_k",
            k: 5,
            len: 4
        }
    );
    assert!(matches!(
        act.forward(empty.clone()).unwrap_err(),
        Error::EmptyInput {
            item: "batch_top_k",
            ..
        }
    ));
    let z = Tensor::<2>::zeros([3, 4], &device);
    assert!(matches!(
        act.infer(z.clone(), Tensor::<1>::zeros([2], &device))
            .unwrap_err(),
        Error::ShapeMismatch { .. }
    ));
    assert!(matches!(
        act.infer(empty.clone(), Tensor::<1>::zeros([1], &device))
            .unwrap_err(),
        Error::EmptyInput { .. }
    ));

    // JumpReLU.
    invalid(
        JumpReluConfig::new(0).init(&device).unwrap_err(),
        "jumprelu",
        "d_latent",
    );
    for eps in [0.0, -1e-3, f64::NAN, f64::INFINITY] {
        let e = JumpReluConfig::new(3)
            .with_bandwidth(eps)
            .init(&device)
            .unwrap_err();
        invalid(e, "jumprelu", "bandwidth");
    }
    for t in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let e = JumpReluConfig::new(3)
            .with_threshold_init(t)
            .init(&device)
            .unwrap_err();
        invalid(e, "jumprelu", "threshold_init");
    }
    let e = JumpReluConfig::new(3)
        .init_with(Tensor::<1>::zeros([4], &device))
        .unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { .. }), "{e:?}");
    let e = JumpReluConfig::new(3)
        .with_bandwidth(-1.0)
        .init_with(Tensor::<1>::zeros([3], &device))
        .unwrap_err();
    invalid(e, "jumprelu", "bandwidth");
    let jump = JumpReluConfig::new(3).init(&device).unwrap();
    for result in [
        jump.forward(Tensor::<2>::zeros([2, 4], &device))
            .map(|_| ()),
        jump.l0(Tensor::<2>::zeros([2, 4], &device)).map(|_| ()),
    ] {
        assert!(matches!(result.unwrap_err(), Error::ShapeMismatch { .. }));
    }
    assert!(matches!(
        jump.forward(Tensor::<2>::zeros([0, 3], &device))
            .unwrap_err(),
        Error::EmptyInput {
            item: "jumprelu",
            ..
        }
    ));
    assert!(matches!(
        jump.l0(Tensor::<2>::zeros([0, 3], &device)).unwrap_err(),
        Error::EmptyInput { .. }
    ));

    // Hard concrete.
    let hc = || HardConcreteConfig::new(3);
    invalid(
        HardConcreteConfig::new(0).init(&device).unwrap_err(),
        "hard_concrete",
        "d_gates",
    );
    for beta in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        invalid(
            hc().with_beta(beta).init(&device).unwrap_err(),
            "hard_concrete",
            "beta",
        );
    }
    for gamma in [0.0, 0.1, f64::NAN, f64::NEG_INFINITY] {
        invalid(
            hc().with_gamma(gamma).init(&device).unwrap_err(),
            "hard_concrete",
            "gamma",
        );
    }
    for zeta in [1.0, 0.5, f64::NAN, f64::INFINITY] {
        invalid(
            hc().with_zeta(zeta).init(&device).unwrap_err(),
            "hard_concrete",
            "zeta",
        );
    }
    for la in [f64::NAN, f64::INFINITY] {
        let e = hc().with_log_alpha_init(la).init(&device).unwrap_err();
        invalid(e, "hard_concrete", "log_alpha_init");
    }
    for eps in [0.0, 0.5, -1.0, f64::NAN] {
        invalid(
            hc().with_eps(eps).init(&device).unwrap_err(),
            "hard_concrete",
            "eps",
        );
    }
    let e = hc()
        .init_with(Tensor::<1>::zeros([2], &device))
        .unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { .. }), "{e:?}");
    let gates = hc().init(&device).unwrap();
    assert!(matches!(
        gates.gate(Tensor::<2>::zeros([2, 4], &device)).unwrap_err(),
        Error::ShapeMismatch { .. }
    ));
    assert!(matches!(
        gates.sample_gate([5, 2]).unwrap_err(),
        Error::ShapeMismatch { .. }
    ));
    assert!(matches!(
        gates.gate(Tensor::<2>::zeros([0, 3], &device)).unwrap_err(),
        Error::EmptyInput {
            item: "hard_concrete",
            ..
        }
    ));
}

// ---------------------------------------------------------------- the runner can fail

/// The first case of `crates/sparse-losses/tests/fixtures/<family>.json`.
fn first_case(family: &str) -> serde_json::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("{family}.json"));
    runner::load_file(&path).unwrap().cases[0].clone()
}

/// Every field the activation evaluators check: a changed entry must make the case fail.
#[test]
fn the_runner_catches_a_wrong_field_of_every_activation_family() {
    let device = Device::flex().autodiff();
    let families: [(&str, &[&str]); 3] = [
        (
            "jumprelu",
            &[
                "output",
                "value",
                "grad",
                "grad_log_threshold",
                "l0",
                "grad_l0_log_threshold",
            ],
        ),
        (
            "batch_topk",
            &["output", "mask", "threshold", "value", "grad"],
        ),
        (
            "hard_concrete",
            &[
                "gate",
                "value",
                "grad",
                "expected_l0",
                "grad_expected_l0",
                "test_gate",
            ],
        ),
    ];
    for (family, fields) in families {
        let case = first_case(family);
        runner::check_case(family, &case, &device).unwrap();
        for field in fields {
            let mut wrong = case.clone();
            match &mut wrong[*field] {
                serde_json::Value::Number(n) => {
                    let v = n.as_f64().unwrap();
                    wrong[*field] = serde_json::json!(v * 1.01 + 0.01);
                }
                tensor => {
                    // Flip the largest entry (a 0/1 mask entry flips between 0 and 1).
                    let data = tensor["data"].as_array_mut().unwrap();
                    let i = (0..data.len())
                        .max_by(|&a, &b| {
                            let (a, b) = (data[a].as_f64().unwrap(), data[b].as_f64().unwrap());
                            a.abs().partial_cmp(&b.abs()).unwrap()
                        })
                        .unwrap();
                    let v = data[i].as_f64().unwrap();
                    data[i] = serde_json::json!(if *field == "mask" {
                        1.0 - v
                    } else {
                        v * 1.01 + 0.01
                    });
                }
            }
            let err = runner::check_case(family, &wrong, &device).unwrap_err();
            assert!(!err.is_empty(), "{family}.{field}");
        }
        // An unknown config field is refused, not ignored.
        let mut wrong = case.clone();
        wrong["config"]["lambda"] = serde_json::json!(1.0);
        assert!(runner::check_case(family, &wrong, &device).is_err());
    }
}

/// With `SPARSE_LOSSES_REQUIRE_WGPU=1` the wgpu device must exist (as in the fixture runner).
#[test]
fn wgpu_is_tested_when_required() {
    if common::wgpu_required() {
        assert_eq!(
            devices().len(),
            3,
            "no wgpu device: the wgpu checks would be skipped"
        );
    }
}
