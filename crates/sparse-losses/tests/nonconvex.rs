//! The non-convex penalties of SPEC.md "Beyond L1 (v2)" (Tanh, LogSum, Lp, Scad, Mcp) and
//! L1DecoderNorm: exact zeros, flat tails, breakpoints, limits, shape and config errors, on
//! the Flex backend.

mod common;

use burn::prelude::*;
use burn::tensor::TensorData;
use common::{close, device};
use sparse_losses::prelude::*;

fn t2(data: &[f32], rows: usize, cols: usize) -> Tensor<2> {
    Tensor::from_data(TensorData::new(data.to_vec(), [rows, cols]), &device())
}

fn vec_of<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_into_vec::<f32>().unwrap()
}

/// Value and gradient of `penalty` at `data` (rank 1, on [`device`]); the value has shape
/// `[1]`.
fn value_and_grad(penalty: &impl Penalty, data: &[f32]) -> (f32, Vec<f32>) {
    let (value, grad) =
        common::value_tensor_and_grad(penalty, data, [data.len()], &device(), |x| x);
    assert_eq!(value.dims(), [1]);
    (value.into_scalar(), grad)
}

/// The five elementwise non-convex penalties, at defaults and at other settings.
fn nonconvex() -> Vec<AnyPenalty> {
    let configs = [
        PenaltyConfig::Tanh(TanhConfig::new()),
        PenaltyConfig::Tanh(TanhConfig::new().with_lambda(0.3).with_scale(20.0)),
        PenaltyConfig::LogSum(LogSumConfig::new()),
        PenaltyConfig::LogSum(LogSumConfig::new().with_eps(1e-6)),
        PenaltyConfig::Lp(LpConfig::new()),
        PenaltyConfig::Lp(LpConfig::new().with_p(0.1).with_eps(1e-6)),
        PenaltyConfig::Lp(LpConfig::new().with_p(2.0)),
        PenaltyConfig::Scad(ScadConfig::new()),
        PenaltyConfig::Scad(ScadConfig::new().with_lambda(0.0)),
        PenaltyConfig::Mcp(McpConfig::new()),
        PenaltyConfig::Mcp(McpConfig::new().with_lambda(0.0)),
        PenaltyConfig::Mcp(McpConfig::new().with_lambda(0.1).with_gamma(1.01)),
    ];
    configs.iter().map(|c| c.init().unwrap()).collect()
}

#[test]
fn gradients_are_exactly_zero_at_zero_and_finite_elsewhere() {
    let data = [0.0, 1e-7, -3.0, 0.0, 0.25, -1e-30, 50.0, 0.0, 1e15];
    for penalty in nonconvex() {
        let (value, grad) = value_and_grad(&penalty, &data);
        assert!(value.is_finite(), "{}: value {value}", penalty.name());
        for (i, (&x, &g)) in data.iter().zip(&grad).enumerate() {
            assert!(g.is_finite(), "{} grad[{i}] = {g}", penalty.name());
            if x == 0.0 {
                assert_eq!(g, 0.0, "{} grad[{i}] at 0", penalty.name());
            }
        }
        // The penalties are even and increasing in |x|: the gradient has the sign of x.
        for (&x, &g) in data.iter().zip(&grad) {
            assert!(g * x >= 0.0, "{}: grad {g} at {x}", penalty.name());
        }
        // An all-zero input: value 0, gradient 0.
        let (value, grad) = value_and_grad(&penalty, &[0.0; 5]);
        assert_eq!((value, grad), (0.0, vec![0.0; 5]), "{}", penalty.name());
    }
}

#[test]
fn scad_is_flat_beyond_a_lambda() {
    for (lambda, a) in [(1.0f32, 3.7f32), (0.5, 2.5), (2.0, 10.0)] {
        let scad = ScadConfig::new()
            .with_lambda(lambda as f64)
            .with_gamma(a as f64)
            .init()
            .unwrap();
        let tail = [a * lambda * 1.001, -a * lambda * 1.5, 1e3, -1e6];
        let (value, grad) = value_and_grad(&scad, &tail);
        assert_eq!(grad, [0.0; 4], "λ = {lambda}, a = {a}");
        let each = lambda * lambda * (a + 1.0) / 2.0;
        assert!(close(value, 4.0 * each, 1e-6), "{value} vs {}", 4.0 * each);
    }
}

#[test]
fn mcp_is_flat_beyond_gamma_lambda() {
    for (lambda, gamma) in [(1.0f32, 3.0f32), (0.5, 1.5), (2.0, 8.0)] {
        let mcp = McpConfig::new()
            .with_lambda(lambda as f64)
            .with_gamma(gamma as f64)
            .init()
            .unwrap();
        let tail = [gamma * lambda * 1.001, -gamma * lambda * 1.5, 1e3, -1e6];
        let (value, grad) = value_and_grad(&mcp, &tail);
        assert_eq!(grad, [0.0; 4], "λ = {lambda}, γ = {gamma}");
        let each = gamma * lambda * lambda / 2.0;
        assert!(close(value, 4.0 * each, 1e-6), "{value} vs {}", 4.0 * each);
    }
}

/// Value and gradient of a one-element input.
fn at(penalty: &impl Penalty, x: f32) -> (f32, f32) {
    let (v, g) = value_and_grad(penalty, &[x]);
    (v, g[0])
}

#[test]
fn scad_is_continuous_at_its_breakpoints() {
    // λ = 1, a = 3: breakpoints 1 and 3, exact in float32.
    let scad = ScadConfig::new().with_gamma(3.0).init().unwrap();
    let d = 1e-3f32;
    for sign in [1.0f32, -1.0] {
        // |x| = λ: value λ², gradient λ sign(x) on both sides.
        let (v, g) = at(&scad, sign);
        assert_eq!((v, g), (1.0, sign));
        for x in [1.0 - d, 1.0 + d] {
            let (vx, gx) = at(&scad, sign * x);
            assert!((vx - 1.0).abs() <= 1.01 * d, "value at {x}: {vx}");
            assert!((gx - sign).abs() <= 1.01 * d, "grad at {x}: {gx}");
        }
        // |x| = aλ: value λ²(a + 1)/2 = 2, gradient 0 on both sides.
        let (v, g) = at(&scad, 3.0 * sign);
        assert_eq!((v, g), (2.0, 0.0));
        let (v_in, g_in) = at(&scad, sign * (3.0 - d));
        assert!((v_in - 2.0).abs() <= d * d, "{v_in}");
        assert!((g_in - sign * d / 2.0).abs() <= 1e-6, "{g_in}");
        assert_eq!(at(&scad, sign * (3.0 + d)), (2.0, 0.0));
        // The middle piece: (aλ − |x|)/(a − 1) at |x| = 2 is 1/2; value (12 − 4 − 1)/4.
        assert_eq!(at(&scad, 2.0 * sign), (1.75, 0.5 * sign));
    }
}

#[test]
fn mcp_is_continuous_at_its_breakpoint() {
    // λ = 0.5, γ = 4: breakpoint γλ = 2, value there γλ²/2 = 0.5.
    let mcp = McpConfig::new()
        .with_lambda(0.5)
        .with_gamma(4.0)
        .init()
        .unwrap();
    let d = 1e-3f32;
    for sign in [1.0f32, -1.0] {
        assert_eq!(at(&mcp, 2.0 * sign), (0.5, 0.0));
        let (v_in, g_in) = at(&mcp, sign * (2.0 - d));
        // Below: 0.5 − d²/(2γ), gradient sign (λ − |x|/γ) = sign d/4.
        assert!((v_in - (0.5 - d * d / 8.0)).abs() <= 1e-6, "{v_in}");
        assert!((g_in - sign * d / 4.0).abs() <= 1e-6, "{g_in}");
        assert_eq!(at(&mcp, sign * (2.0 + d)), (0.5, 0.0));
        // Inside: |x| = 1 gives 0.5 − 1/8 and gradient 0.5 − 0.25.
        assert_eq!(at(&mcp, sign), (0.375, 0.25 * sign));
    }
}

#[test]
fn scad_and_mcp_start_as_l1() {
    // Below λ, Scad is λ|x|; near 0, Mcp's gradient is λ sign(x).
    let x = [0.1f32, -0.2, 0.05, 0.0];
    let l1 = L1Config::new().with_lambda(0.7).init().unwrap();
    let scad = ScadConfig::new().with_lambda(0.7).init().unwrap();
    let (v_l1, g_l1) = value_and_grad(&l1, &x);
    let (v_scad, g_scad) = value_and_grad(&scad, &x);
    assert!(close(v_scad, v_l1, 1e-6));
    assert_eq!(g_scad, g_l1);
    let mcp = McpConfig::new().with_lambda(0.7).init().unwrap();
    let (_, g_mcp) = value_and_grad(&mcp, &[1e-6, -1e-6, 0.0]);
    assert!(close(g_mcp[0], 0.7, 1e-5) && close(g_mcp[1], -0.7, 1e-5) && g_mcp[2] == 0.0);
}

#[test]
fn lp_with_p_one_is_l1_minus_eps_for_large_values() {
    // √(x² + ε²) − ε = |x| − ε + ε²/(2|x|) + O(ε⁴/|x|³).
    let eps = 1e-3f32;
    let x = [0.5f32, -2.0, 1.0, -0.75, 3.0, -1.5];
    let lp = LpConfig::new()
        .with_p(1.0)
        .with_eps(eps as f64)
        .init()
        .unwrap();
    let (value, grad) = value_and_grad(&lp, &x);
    let l1: f32 = x.iter().map(|v| v.abs()).sum();
    let correction: f32 = x.iter().map(|v| eps * eps / (2.0 * v.abs())).sum();
    let expected = l1 - x.len() as f32 * eps + correction;
    assert!(close(value, expected, 2e-6), "{value} vs {expected}");
    // ... and not L1 itself: the ε shift is visible.
    assert!((value - l1).abs() > 0.5 * x.len() as f32 * eps);
    // Gradient x/√(x² + ε²) = sign(x) (1 − ε²/(2x²) + ...).
    for (&xi, &g) in x.iter().zip(&grad) {
        let want = xi.signum() * (1.0 - eps * eps / (2.0 * xi * xi));
        assert!((g - want).abs() <= 1e-6, "grad {g} at {xi}, want {want}");
    }
}

#[test]
fn lp_with_p_two_is_the_squared_norm() {
    let lp = LpConfig::new()
        .with_p(2.0)
        .with_eps(0.5)
        .with_lambda(0.5)
        .init()
        .unwrap();
    let x = [1.0f32, -2.0, 0.0, 0.5];
    let (value, grad) = value_and_grad(&lp, &x);
    assert!(close(value, 0.5 * 5.25, 1e-6), "{value}");
    for (&xi, &g) in x.iter().zip(&grad) {
        assert!((g - xi).abs() <= 1e-6, "grad {g} at {xi}");
    }
}

#[test]
fn lp_approaches_abs_x_to_the_p() {
    // |x| ≫ ε: each term is close to |x|^p − ε^p (here ε^p = 1e-3), the gradient to
    // p sign(x) |x|^{p−1}.
    let lp = LpConfig::new().with_p(0.5).with_eps(1e-6).init().unwrap();
    let x = [4.0f32, -0.25, 9.0];
    let (value, grad) = value_and_grad(&lp, &x);
    assert!(close(value, 2.0 + 0.5 + 3.0 - 3e-3, 1e-6), "{value}");
    assert!(
        close(grad[0], 0.25, 1e-5) && close(grad[1], -1.0, 1e-5),
        "{grad:?}"
    );
    assert!(close(grad[2], 1.0 / 6.0, 1e-5), "{grad:?}");
}

#[test]
fn lp_does_not_overflow_on_huge_values() {
    // x²/ε² = 1e72 overflows float32, (x² + ε²)^{p/2} = 1e15 does not.
    let lp = LpConfig::new().with_p(0.5).with_eps(1e-6).init().unwrap();
    let (v, g) = value_and_grad(&lp, &[1e30, -1e30, 0.0]);
    assert!(close(v, 2e15, 1e-5), "{v}");
    assert!(
        close(g[0], 5e-16, 1e-4) && close(g[1], -5e-16, 1e-4) && g[2] == 0.0,
        "{g:?}"
    );
}

#[test]
fn small_values_keep_their_precision() {
    // Where |x| ≪ ε the plain float32 formulas return 0 (1 + 1e-10 == 1); the penalties use
    // accurate log1p / expm1 / tanh and keep the leading terms.
    let x = [1e-5f32, -2e-5, 0.0];
    let sq: f32 = x.iter().map(|v| v * v).sum();
    let abs: f32 = x.iter().map(|v| v.abs()).sum();

    // Lp: (x² + ε²)^{p/2} − ε^p ≈ (p/2) ε^{p−2} x².
    let lp = LpConfig::new().with_p(0.5).with_eps(1.0).init().unwrap();
    let (v, g) = value_and_grad(&lp, &x);
    assert!(close(v, 0.25 * sq, 1e-5), "lp {v} vs {}", 0.25 * sq);
    assert!(close(g[0], 0.5 * 1e-5, 1e-5) && close(g[1], -0.5 * 2e-5, 1e-5));

    // LogSum: log(1 + |x|/ε) ≈ |x|/ε.
    let log_sum = LogSumConfig::new().with_eps(10.0).init().unwrap();
    let (v, g) = value_and_grad(&log_sum, &x);
    assert!(close(v, abs / 10.0, 1e-5), "log_sum {v}");
    assert!(close(g[0], 0.1, 1e-5) && close(g[1], -0.1, 1e-5) && g[2] == 0.0);

    // Tanh: tanh(c|x|) ≈ c|x|.
    let tanh = TanhConfig::new().with_scale(0.01).init().unwrap();
    let (v, g) = value_and_grad(&tanh, &x);
    assert!(close(v, 0.01 * abs, 1e-6), "tanh {v}");
    assert!(close(g[0], 0.01, 1e-6) && close(g[1], -0.01, 1e-6) && g[2] == 0.0);
}

#[test]
fn known_values() {
    let x = [2.0f32, -0.5, 0.0];
    // Tanh, λ = 1.5, c = 0.5: 1.5 (tanh 1 + tanh 0.25).
    let tanh = TanhConfig::new()
        .with_lambda(1.5)
        .with_scale(0.5)
        .init()
        .unwrap();
    let (v, g) = value_and_grad(&tanh, &x);
    assert!(close(v, 1.5 * (1f32.tanh() + 0.25f32.tanh()), 1e-6));
    let sech2 = |y: f32| 1.0 - y.tanh() * y.tanh();
    assert!(close(g[0], 0.75 * sech2(1.0), 1e-5) && close(g[1], -0.75 * sech2(0.25), 1e-5));

    // LogSum, ε = 0.5: ln 5 + ln 2, gradient sign/(ε + |x|).
    let log_sum = LogSumConfig::new().with_eps(0.5).init().unwrap();
    let (v, g) = value_and_grad(&log_sum, &x);
    assert!(close(v, 10f32.ln(), 1e-6));
    assert!(close(g[0], 0.4, 1e-6) && close(g[1], -1.0, 1e-6));

    // Lp, p = 0.5, ε = 1.5: (4 + 2.25)^{1/4} + (0.25 + 2.25)^{1/4} − 2 · 1.5^{1/2}.
    let lp = LpConfig::new().with_eps(1.5).init().unwrap();
    let (v, g) = value_and_grad(&lp, &x);
    let want = 6.25f32.powf(0.25) + 2.5f32.powf(0.25) - 2.0 * 1.5f32.sqrt();
    assert!(close(v, want, 1e-5), "{v} vs {want}");
    let grad = |xi: f32| 0.5 * xi * (xi * xi + 2.25).powf(-0.75);
    assert!(close(g[0], grad(2.0), 1e-5) && close(g[1], grad(-0.5), 1e-5));
}

#[test]
fn lp_with_p_checks_and_keeps_the_rest() {
    let lp = LpConfig::new()
        .with_lambda(0.25)
        .with_eps(0.5)
        .init()
        .unwrap();
    assert_eq!((lp.lambda(), lp.p(), lp.eps()), (0.25, 0.5, 0.5));
    let one = lp.with_p(1.0).unwrap();
    assert_eq!((one.lambda(), one.p(), one.eps()), (0.25, 1.0, 0.5));
    // p = 1, ε = 0.5 at x = 1.2: 0.25 (√(1.44 + 0.25) − 0.5) = 0.25 · 0.8.
    let (v, _) = value_and_grad(&one, &[1.2]);
    assert!(close(v, 0.2, 1e-6), "{v}");
    for p in [0.0, -0.5, 2.5, f64::NAN, f64::INFINITY] {
        assert!(
            matches!(
                lp.with_p(p),
                Err(Error::InvalidHyperParameter {
                    item: "lp",
                    field: "p",
                    ..
                })
            ),
            "p = {p}"
        );
    }
}

#[test]
fn p_anneal_drives_lp() {
    let lp = LpConfig::new().with_eps(0.5).init().unwrap();
    let anneal = PAnnealConfig::new(2).with_p_start(2.0).init().unwrap();
    // p = 2 at step 0: Σ x²; p = 0.5 from step 2 on.
    let (v0, _) = value_and_grad(&anneal.apply(&lp, 0).unwrap(), &[1.2]);
    assert!(close(v0, 1.44, 1e-6), "{v0}");
    let late = anneal.apply(&lp, 7).unwrap();
    assert_eq!(late.p(), 0.5);
    let warmup = LinearWarmupConfig::new(4).init().unwrap();
    assert_eq!(
        [0, 1, 3, 4].map(|s| warmup.factor(s)),
        [0.25, 0.5, 1.0, 1.0]
    );
}

fn decoder_norm(lambda: f64) -> L1DecoderNorm {
    L1DecoderNormConfig::new()
        .with_lambda(lambda)
        .init()
        .unwrap()
}

#[test]
fn l1_decoder_norm_is_l1_on_norm_weighted_codes() {
    let codes = [0.5f32, -1.0, 0.0, 2.0, 0.0, 3.0, -0.25, 0.0];
    // Atom norms: 5, 0 (a dead atom), 1, 13.
    let decoder = [
        3.0f32, 4.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 5.0, 0.0, 12.0,
    ];
    let norms = [5.0f32, 0.0, 1.0, 13.0];
    let lambda = 0.3;
    let f = t2(&codes, 2, 4).require_grad();
    let w = t2(&decoder, 4, 3).require_grad();
    let value = decoder_norm(lambda)
        .forward_with_decoder(f.clone(), w.clone())
        .unwrap();
    let v: f32 = value.clone().into_scalar();
    let grads = value.backward();
    let g_f = vec_of(f.grad(&grads).unwrap());
    let g_w = vec_of(w.grad(&grads).unwrap());

    // The same through L1 on f_bj ‖W_j‖₂.
    let weighted: Vec<f32> = codes
        .iter()
        .enumerate()
        .map(|(i, c)| c * norms[i % 4])
        .collect();
    let l1 = L1Config::new().with_lambda(lambda).init().unwrap();
    let (v_l1, g_l1) = value_and_grad(&l1, &weighted);
    assert!(close(v, v_l1, 1e-6), "{v} vs {v_l1}");
    // 0.3 (0.5·5 + 1·0 + 0 + 2·13 + 0 + 3·0 + 0.25·1 + 0) = 0.3 · 28.75
    assert!(close(v, 0.3 * 28.75, 1e-6), "{v}");
    // ∂/∂f = λ sign(f) ‖W_j‖ = ∂L1/∂(f‖W‖) · ‖W‖.
    let chain: Vec<f32> = g_l1
        .iter()
        .enumerate()
        .map(|(i, g)| g * norms[i % 4])
        .collect();
    for (a, b) in g_f.iter().zip(&chain) {
        assert!((a - b).abs() <= 1e-6, "{g_f:?} vs {chain:?}");
    }
    // ∂/∂W_j = λ (Σ_b |f_bj|) W_j / ‖W_j‖, and 0 for the zero row.
    let col_abs = [0.5f32, 4.0, 0.25, 2.0];
    for j in 0..4 {
        for k in 0..3 {
            let want = if norms[j] == 0.0 {
                0.0
            } else {
                0.3 * col_abs[j] * decoder[j * 3 + k] / norms[j]
            };
            let got = g_w[j * 3 + k];
            assert!((got - want).abs() <= 1e-6, "W[{j}][{k}]: {got} vs {want}");
        }
    }
    assert_eq!(&g_w[3..6], [0.0; 3], "the zero row gets gradient 0");
}

#[test]
fn l1_decoder_norm_single_input_is_l1() {
    let penalty = decoder_norm(0.5);
    let x = [1.0f32, -2.0, 0.0, 4.0];
    let (v, g) = value_and_grad(&penalty, &x);
    assert_eq!(v, 3.5);
    assert_eq!(g, [0.5, -0.5, 0.0, 0.5]);
    // With a unit-norm decoder the two forms agree.
    let decoder = t2(&[0.6, 0.8, 1.0, 0.0], 2, 2);
    let two = penalty
        .forward_with_decoder(t2(&x, 2, 2), decoder)
        .unwrap()
        .into_scalar::<f32>();
    assert!(close(two, 3.5, 1e-6), "{two}");
}

#[test]
fn l1_decoder_norm_shape_errors_are_typed() {
    let penalty = decoder_norm(1.0);
    let codes = t2(&[1.0; 6], 2, 3);
    // h = 3 codes per row but 4 decoder rows.
    let err = penalty
        .forward_with_decoder(codes.clone(), Tensor::ones([4, 5], &device()))
        .unwrap_err();
    assert_eq!(
        err,
        Error::ShapeMismatch {
            what: "l1_decoder_norm: codes [batch, h] and decoder [h, d]",
            left: vec![2, 3],
            right: vec![4, 5],
        }
    );
    // The transposed decoder ([d, h]) is refused too.
    assert!(matches!(
        penalty.forward_with_decoder(codes.clone(), Tensor::ones([5, 3], &device())),
        Err(Error::ShapeMismatch { .. })
    ));
    for (codes, decoder) in [
        (
            Tensor::<2>::zeros([0, 3], &device()),
            Tensor::ones([3, 5], &device()),
        ),
        (codes.clone(), Tensor::<2>::zeros([3, 0], &device())),
        (
            Tensor::<2>::zeros([2, 0], &device()),
            Tensor::zeros([0, 5], &device()),
        ),
    ] {
        let shapes = (codes.dims(), decoder.dims());
        assert!(
            matches!(
                penalty.forward_with_decoder(codes, decoder),
                Err(Error::EmptyInput {
                    item: "l1_decoder_norm",
                    ..
                })
            ),
            "{shapes:?}"
        );
    }
    assert!(matches!(
        penalty.forward(Tensor::<2>::zeros([0, 3], &device())),
        Err(Error::EmptyInput { .. })
    ));
}

/// `init`'s error as (item, field), or `None` when it succeeded.
fn refused(config: PenaltyConfig) -> Option<(&'static str, &'static str)> {
    match config.init() {
        Ok(_) => None,
        Err(Error::InvalidHyperParameter { item, field, .. }) => Some((item, field)),
        Err(other) => panic!("unexpected error {other:?}"),
    }
}

#[test]
fn invalid_configs_are_refused() {
    use PenaltyConfig as P;
    let bad_lambdas = [-1.0, -1e-12, f64::NAN, f64::INFINITY];
    for lambda in bad_lambdas {
        let configs = [
            P::Tanh(TanhConfig::new().with_lambda(lambda)),
            P::LogSum(LogSumConfig::new().with_lambda(lambda)),
            P::Lp(LpConfig::new().with_lambda(lambda)),
            P::Scad(ScadConfig::new().with_lambda(lambda)),
            P::Mcp(McpConfig::new().with_lambda(lambda)),
            P::L1DecoderNorm(L1DecoderNormConfig::new().with_lambda(lambda)),
        ];
        for config in configs {
            let name = config.name();
            assert_eq!(refused(config), Some((name, "lambda")), "λ = {lambda}");
        }
    }
    for gamma in [2.0, 1.5, -3.0, f64::NAN, f64::INFINITY] {
        let scad = P::Scad(ScadConfig::new().with_gamma(gamma));
        assert_eq!(refused(scad), Some(("scad", "gamma")), "a = {gamma}");
    }
    for gamma in [1.0, 0.5, 0.0, f64::NAN, f64::INFINITY] {
        let mcp = P::Mcp(McpConfig::new().with_gamma(gamma));
        assert_eq!(refused(mcp), Some(("mcp", "gamma")), "γ = {gamma}");
    }
    for p in [0.0, -0.1, 2.5, 2.0000001, f64::NAN] {
        assert_eq!(
            refused(P::Lp(LpConfig::new().with_p(p))),
            Some(("lp", "p")),
            "p = {p}"
        );
    }
    for eps in [0.0, -1e-3, f64::NAN, f64::INFINITY] {
        assert_eq!(
            refused(P::Lp(LpConfig::new().with_eps(eps))),
            Some(("lp", "eps"))
        );
        let log_sum = P::LogSum(LogSumConfig::new().with_eps(eps));
        assert_eq!(refused(log_sum), Some(("log_sum", "eps")));
    }
    for scale in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let tanh = P::Tanh(TanhConfig::new().with_scale(scale));
        assert_eq!(refused(tanh), Some(("tanh", "scale")));
    }
    // The edges of the domains are accepted.
    for config in [
        P::Scad(ScadConfig::new().with_gamma(2.0000001).with_lambda(0.0)),
        P::Mcp(McpConfig::new().with_gamma(1.0000001)),
        P::Lp(LpConfig::new().with_p(2.0)),
        P::Lp(LpConfig::new().with_p(1e-9)),
        P::L1DecoderNorm(L1DecoderNormConfig::new().with_lambda(0.0)),
    ] {
        assert_eq!(refused(config), None);
    }
}

#[test]
fn the_registry_has_the_new_penalties() {
    let defaults = [
        ("tanh", vec![("lambda", 1.0), ("scale", 1.0)]),
        ("log_sum", vec![("lambda", 1.0), ("eps", 0.1)]),
        ("lp", vec![("lambda", 1.0), ("p", 0.5), ("eps", 1e-3)]),
        ("scad", vec![("lambda", 1.0), ("gamma", 3.7)]),
        ("mcp", vec![("lambda", 1.0), ("gamma", 3.0)]),
        ("l1_decoder_norm", vec![("lambda", 1.0)]),
    ];
    for (name, fields) in defaults {
        assert!(PenaltyConfig::NAMES.contains(&name), "{name}");
        let config = PenaltyConfig::default_for(name).unwrap();
        assert_eq!(config.name(), name);
        // The serde form: the tag and exactly the SPEC's fields, with their defaults.
        let json = serde_json::to_value(&config).unwrap();
        let object = json.as_object().unwrap();
        assert_eq!(object["penalty"], name);
        assert_eq!(object.len(), fields.len() + 1, "{name}: {json}");
        for (field, value) in fields {
            assert_eq!(object[field].as_f64(), Some(value), "{name}.{field}");
        }
        let penalty = config.init().unwrap();
        assert_eq!(penalty.name(), name);
        assert_eq!(penalty.reduction(), Reduction::Sum);
    }
    // from_json reads the fixtures' form and refuses misspelt fields.
    let config = PenaltyConfig::from_json("scad", &serde_json::json!({"gamma": 2.5})).unwrap();
    let PenaltyConfig::Scad(scad) = &config else {
        panic!("{config:?}")
    };
    assert_eq!((scad.lambda, scad.gamma), (1.0, 2.5));
    assert!(matches!(
        PenaltyConfig::from_json("mcp", &serde_json::json!({"gama": 2.5})),
        Err(Error::UnknownField { .. })
    ));
}
