//! Proximal operators at work: a lasso solved by FISTA with the L1 prox must reproduce
//! scikit-learn's coefficients and support, and the group-lasso `ProxStep` of
//! `crates/sparse-losses/examples/prune_inputs.rs` must prune the irrelevant inputs to exact
//! zeros.

#[path = "../examples/prune_inputs.rs"]
mod prune_inputs;

use std::path::PathBuf;

use burn::prelude::*;
use burn::tensor::TensorData;
use serde_json::Value;
use sparse_losses::prelude::*;

/// A `{"shape", "data"}` tensor of the problem file.
fn tensor(json: &Value, key: &str) -> (Vec<usize>, Vec<f64>) {
    let t = &json[key];
    let shape = t["shape"].as_array().unwrap().iter();
    let shape = shape.map(|d| d.as_u64().unwrap() as usize).collect();
    let data = t["data"].as_array().unwrap().iter();
    (shape, data.map(|v| v.as_f64().unwrap()).collect())
}

fn to_f32(data: &[f64]) -> Vec<f32> {
    data.iter().map(|&v| v as f32).collect()
}

/// The largest eigenvalue of the symmetric `XᵀX / n`, by power iteration in float64.
fn lipschitz(x: &[f64], n: usize, p: usize) -> f64 {
    let gram = |j: usize, k: usize| (0..n).map(|i| x[i * p + j] * x[i * p + k]).sum::<f64>();
    let g: Vec<f64> = (0..p * p)
        .map(|jk| gram(jk / p, jk % p) / n as f64)
        .collect();
    let mut v = vec![1.0; p];
    let mut eig = 0.0;
    for _ in 0..500 {
        let w: Vec<f64> = (0..p)
            .map(|j| (0..p).map(|k| g[j * p + k] * v[k]).sum())
            .collect();
        eig = w.iter().map(|a| a * a).sum::<f64>().sqrt();
        v = w.iter().map(|a| a / eig).collect();
    }
    eig
}

/// FISTA (Beck & Teboulle 2009) on `(1/(2n))‖y − Xw‖² + α‖w‖₁`, scikit-learn's `Lasso`
/// objective, in float32 on Flex, with the L1 prox of this crate (λ = α) and step 1/L.
#[test]
fn fista_with_the_l1_prox_matches_scikit_learn_lasso() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/problems/lasso_problem.json");
    let problem: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let (x_shape, mut x_data) = tensor(&problem, "X");
    let (_, mut y_data) = tensor(&problem, "y");
    let (_, coef) = tensor(&problem, "coef");
    let alpha = problem["alpha"].as_f64().unwrap();
    let (n, p) = (x_shape[0], x_shape[1]);
    assert_eq!((y_data.len(), coef.len()), (n, p));
    // scikit-learn's fit_intercept centres X's columns and y and leaves the intercept out of
    // the penalty; this problem was fitted without one.
    let fit_intercept = problem["intercept"].as_bool().unwrap();
    if fit_intercept {
        for j in 0..p {
            let mean = (0..n).map(|i| x_data[i * p + j]).sum::<f64>() / n as f64;
            (0..n).for_each(|i| x_data[i * p + j] -= mean);
        }
        let mean = y_data.iter().sum::<f64>() / n as f64;
        y_data.iter_mut().for_each(|v| *v -= mean);
    }

    let device = Device::flex();
    let x = Tensor::<2>::from_data(TensorData::new(to_f32(&x_data), [n, p]), &device);
    let y = Tensor::<2>::from_data(TensorData::new(to_f32(&y_data), [n, 1]), &device);
    let xt = x.clone().transpose();
    let step = 1.0 / lipschitz(&x_data, n, p);
    let l1 = L1Config::new().with_lambda(alpha).init().unwrap();

    let values = |t: &Tensor<2>| -> Vec<f32> { t.clone().into_data().try_into_vec().unwrap() };
    let mut w = Tensor::<2>::zeros([p, 1], &device);
    let mut z = w.clone();
    let mut momentum = 1.0f64;
    let mut iterations = 0;
    let mut still = 0;
    while iterations < 5000 && still < 20 {
        iterations += 1;
        // ∇f(z) = Xᵀ(Xz − y) / n
        let grad = xt
            .clone()
            .matmul(x.clone().matmul(z.clone()) - y.clone())
            .div_scalar(n as f64);
        let w_next = l1.prox(z - grad.mul_scalar(step), step).unwrap();
        let next_momentum = (1.0 + (1.0 + 4.0 * momentum * momentum).sqrt()) / 2.0;
        let beta = (momentum - 1.0) / next_momentum;
        z = w_next.clone() + (w_next.clone() - w.clone()).mul_scalar(beta);
        let change = values(&w_next)
            .iter()
            .zip(values(&w))
            .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        // Converged once the iterates stop moving beyond float32 rounding for 20 iterations.
        still = if change <= 1e-6 { still + 1 } else { 0 };
        w = w_next;
        momentum = next_momentum;
    }

    let got = values(&w);
    let max_error = got
        .iter()
        .zip(&coef)
        .fold(0.0f64, |m, (&g, &c)| m.max((g as f64 - c).abs()));
    println!("FISTA: {iterations} iterations, max |w − sklearn| = {max_error:.2e}");
    println!("w = {got:?}");
    assert!(
        still >= 20,
        "FISTA did not settle in {iterations} iterations"
    );
    assert!(max_error < 1e-4, "max coefficient error {max_error:e}");
    for (j, (&g, &c)) in got.iter().zip(&coef).enumerate() {
        if c == 0.0 {
            assert!(
                g == 0.0 && g.is_sign_positive(),
                "w[{j}] = {g:e}, sklearn 0"
            );
        } else {
            assert!(g != 0.0, "w[{j}] = 0, sklearn {c}");
        }
    }
    // The support is sparse: 4 of the 12 coefficients.
    assert_eq!(coef.iter().filter(|&&c| c != 0.0).count(), 4);
}

/// `crates/sparse-losses/examples/prune_inputs.rs`: SGD + the group-lasso prox prunes exactly
/// the 28 irrelevant input rows of the Linear weight.
#[test]
fn the_prune_inputs_example_zeroes_exactly_the_irrelevant_rows() {
    use prune_inputs::{INPUTS, OUTPUTS, RELEVANT};

    let fit = prune_inputs::fit(false).unwrap();
    assert_eq!(fit.kept, (0..RELEVANT).collect::<Vec<_>>());
    assert_eq!(fit.weight.len(), INPUTS * OUTPUTS);
    for (row, weights) in fit.weight.chunks(OUTPUTS).enumerate() {
        if row < RELEVANT {
            // The true rows have norm √8 ≈ 2.8 on average; the group lasso shrinks them a little.
            assert!(fit.row_norms[row] > 0.5, "row {row}: {weights:?}");
        } else {
            assert!(
                weights.iter().all(|&w| w == 0.0 && w.is_sign_positive()),
                "row {row} is not exactly +0.0: {weights:?}"
            );
        }
    }
    // The relevant inputs are fitted: the MSE starts near 3.7; what remains is the noise
    // (0.05² = 0.0025) and the bias of the group lasso's shrinkage of the kept rows.
    assert!(fit.mse < 0.05, "mse {}", fit.mse);
    // The zeros are optimal, with a margin: the MSE's gradient on each pruned row is well
    // inside the group lasso's threshold λ√8.
    assert!(
        fit.pruned_gradient < 0.5 * prune_inputs::threshold(),
        "gradient {} vs threshold {}",
        fit.pruned_gradient,
        prune_inputs::threshold()
    );
}

/// The reference prox of one element.
type Reference = Box<dyn Fn(f64) -> f64>;

/// The prox of every penalty that has one, read from its config at run time, on an autodiff
/// device: the operator of SPEC.md, exact zeros included.
#[test]
fn any_penalty_prox_follows_the_spec_formulas() {
    let device = Device::flex().autodiff();
    let x = Tensor::<1>::from_floats([-4.0, -1.5, -0.25, 0.0, 0.75, 2.0, 6.0], &device);
    let t = 0.5;
    let prox = |name: &str, config: Value| -> Vec<f32> {
        let penalty = PenaltyConfig::from_json(name, &config)
            .unwrap()
            .init()
            .unwrap();
        let z = penalty.prox(x.clone(), t).unwrap();
        z.into_data().try_into_vec().unwrap()
    };
    let soft = |v: f64, tau: f64| v.signum() * (v.abs() - tau).max(0.0);
    let xs = [-4.0, -1.5, -0.25, 0.0, 0.75, 2.0, 6.0];
    let cases: [(&str, Value, Reference); 5] = [
        (
            "l1",
            serde_json::json!({"lambda": 2.0}),
            Box::new(move |v| soft(v, 1.0)),
        ),
        (
            "elastic_net",
            serde_json::json!({"lambda": 2.0, "l1_ratio": 0.25}),
            Box::new(move |v| soft(v, 0.25) / 1.75),
        ),
        (
            // Every element its own group of one (w_g = 1): soft-thresholding at tλ.
            "group_lasso",
            serde_json::json!({"lambda": 2.0, "axis": 0}),
            Box::new(move |v| soft(v, 1.0)),
        ),
        (
            "mcp",
            serde_json::json!({"lambda": 1.0, "gamma": 3.0}),
            Box::new(move |v: f64| {
                if v.abs() <= 0.5 {
                    0.0
                } else if v.abs() <= 3.0 {
                    v.signum() * (v.abs() - 0.5) / (1.0 - 0.5 / 3.0)
                } else {
                    v
                }
            }),
        ),
        (
            "scad",
            serde_json::json!({"lambda": 1.0, "gamma": 3.7}),
            Box::new(move |v: f64| {
                if v.abs() <= 1.5 {
                    soft(v, 0.5)
                } else if v.abs() <= 3.7 {
                    (2.7 * v - v.signum() * 0.5 * 3.7) / (2.7 - 0.5)
                } else {
                    v
                }
            }),
        ),
    ];
    for (name, config, reference) in cases {
        let got = prox(name, config);
        for (&g, &v) in got.iter().zip(&xs) {
            let want = reference(v);
            if want == 0.0 {
                assert!(
                    g == 0.0 && g.is_sign_positive(),
                    "{name}({v}) = {g:e}, want +0"
                );
            } else {
                assert!(
                    (g as f64 - want).abs() < 1e-5,
                    "{name}({v}) = {g}, want {want}"
                );
            }
        }
    }
}

/// Steps outside an operator's domain are typed errors, read through the registry.
#[test]
fn steps_outside_the_domain_are_errors() {
    let device = Device::flex();
    let x = Tensor::<1>::from_floats([1.0, -2.0], &device);
    let penalty = |name: &str, config: Value| {
        PenaltyConfig::from_json(name, &config)
            .unwrap()
            .init()
            .unwrap()
    };
    let invalid = |p: &AnyPenalty, step: f64| matches!(p.prox(x.clone(), step), Err(Error::InvalidStep { step: s, .. }) if s.to_bits() == step.to_bits());
    let mcp = penalty("mcp", serde_json::json!({"gamma": 2.5}));
    assert!(invalid(&mcp, 2.5) && invalid(&mcp, 3.0));
    assert!(mcp.prox(x.clone(), 2.4).is_ok());
    let scad = penalty("scad", serde_json::json!({"gamma": 5.0}));
    assert!(invalid(&scad, 4.0) && invalid(&scad, 4.5));
    assert!(scad.prox(x.clone(), 3.9).is_ok());
    let l1 = penalty("l1", serde_json::json!({}));
    for step in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(invalid(&l1, step) && invalid(&mcp, step) && invalid(&scad, step));
    }
    let entropy = penalty("entropy", serde_json::json!({}));
    assert_eq!(
        entropy.prox(x, 1.0).unwrap_err(),
        Error::NoProximalOperator { item: "entropy" }
    );
}
