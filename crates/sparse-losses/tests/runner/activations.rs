//! Fixture checks of the SAE activations (SPEC.md, "SAE activations"): `jumprelu`,
//! `batch_topk`, `hard_concrete`. Every field of a case is checked: forward tensors (same exact
//! zeros, the rest within 1e-4 of the largest entry), masks exactly, values and scalars within
//! rule 5's relative 1e-4, gradients within 1e-3 of the largest entry (1e-6 absolute where the
//! reference is all zeros).

use burn::prelude::*;
use serde_json::Value;
use sparse_losses::activation::{BatchTopKConfig, HardConcreteConfig, JumpReluConfig};

use super::{compare_grad, compare_value, tensor_field, to_f64, to_tensor};

/// The activation fixture families.
pub const FAMILIES: [&str; 3] = ["jumprelu", "batch_topk", "hard_concrete"];

/// Forward tensors: relative to the largest |reference| entry.
pub const FORWARD_RTOL: f64 = 1e-4;

/// Checks one case of an activation family.
pub fn check_case(family: &str, case: &Value, device: &Device) -> Result<(), String> {
    match family {
        "jumprelu" => check_jumprelu(case, device),
        "batch_topk" => check_batch_topk(case, device),
        "hard_concrete" => check_hard_concrete(case, device),
        other => Err(format!("`{other}` is not an activation family")),
    }
}

/// The config object's numeric fields, refusing any field not in `allowed`.
fn config_fields<'a>(
    case: &'a Value,
    allowed: &[&str],
) -> Result<&'a serde_json::Map<String, Value>, String> {
    let config = case["config"]
        .as_object()
        .ok_or("the case has no `config` object")?;
    if let Some(key) = config.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(format!("unknown config field `{key}` (known: {allowed:?})"));
    }
    Ok(config)
}

/// An optional float config field.
fn config_f64(config: &serde_json::Map<String, Value>, key: &str) -> Result<Option<f64>, String> {
    config
        .get(key)
        .map(|v| v.as_f64().ok_or(format!("config `{key}` is not a number")))
        .transpose()
}

/// A scalar field of the case.
fn number(case: &Value, key: &str) -> Result<f64, String> {
    case[key]
        .as_f64()
        .ok_or_else(|| format!("no numeric `{key}`"))
}

/// A tensor field whose shape must be `shape`.
fn tensor_of_shape(case: &Value, key: &str, shape: &[usize]) -> Result<Vec<f64>, String> {
    let (s, data) = tensor_field(case, key)?;
    if s != shape {
        return Err(format!("`{key}` has shape {s:?}, expected {shape:?}"));
    }
    Ok(data)
}

/// A forward tensor (activation output, gate): the reference's exact zeros must be exact
/// zeros, every other entry nonzero and within `FORWARD_RTOL` of the largest |reference|.
pub fn compare_forward(what: &str, got: &[f64], want: &[f64]) -> Result<(), String> {
    if got.len() != want.len() {
        return Err(format!(
            "{what}: {} entries, reference {}",
            got.len(),
            want.len()
        ));
    }
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let tol = FORWARD_RTOL * scale;
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let ok = if *w == 0.0 {
            *g == 0.0
        } else {
            *g != 0.0 && (g - w).abs() <= tol
        };
        if !ok {
            return Err(format!(
                "{what}[{i}] = {g:e} != reference {w:e} (exact zeros; else tolerance {tol:.1e})"
            ));
        }
    }
    Ok(())
}

/// A `jumprelu` case: `output`, `value = Σ G·y` with its gradients to z and `log_threshold`,
/// `l0` with its gradient to `log_threshold` (and none to z).
fn check_jumprelu(case: &Value, device: &Device) -> Result<(), String> {
    let config = config_fields(case, &["bandwidth"])?;
    let (shape, z_data) = tensor_field(case, "input")?;
    if shape.len() != 2 {
        return Err(format!(
            "jumprelu input has shape {shape:?}, expected [B, h]"
        ));
    }
    let h = shape[1];
    let log_threshold = tensor_of_shape(case, "log_threshold", &[h])?;
    let upstream = tensor_of_shape(case, "upstream", &shape)?;
    let output_ref = tensor_of_shape(case, "output", &shape)?;
    let grad_ref = tensor_of_shape(case, "grad", &shape)?;
    let grad_lt_ref = tensor_of_shape(case, "grad_log_threshold", &[h])?;
    let grad_l0_ref = tensor_of_shape(case, "grad_l0_log_threshold", &[h])?;
    let value_ref = number(case, "value")?;
    let l0_ref = number(case, "l0")?;

    let mut cfg = JumpReluConfig::new(h);
    if let Some(bandwidth) = config_f64(config, "bandwidth")? {
        cfg = cfg.with_bandwidth(bandwidth);
    }
    let lt = to_tensor::<1>(&log_threshold, &[h], device)?.require_grad();
    let jump = cfg.init_with(lt).map_err(|e| format!("init: {e}"))?;

    // Σ G·y and its gradients.
    let z = to_tensor::<2>(&z_data, &shape, device)?.require_grad();
    let g = to_tensor::<2>(&upstream, &shape, device)?;
    let y = jump.forward(z.clone()).map_err(|e| e.to_string())?;
    compare_forward("output", &to_f64(y.clone())?, &output_ref)?;
    let value = (y * g).sum();
    compare_value(value.clone().into_scalar::<f32>() as f64, value_ref)?;
    let grads = value.backward();
    let gz = z.grad(&grads).ok_or("no gradient reached z")?;
    compare_grad(&to_f64(gz)?, &grad_ref).map_err(|e| format!("z: {e}"))?;
    let glt = jump
        .log_threshold
        .val()
        .grad(&grads)
        .ok_or("no gradient reached log_threshold")?;
    compare_grad(&to_f64(glt)?, &grad_lt_ref).map_err(|e| format!("log_threshold: {e}"))?;

    // The L0 term: no gradient to z, the kernel's to log_threshold.
    let z = to_tensor::<2>(&z_data, &shape, device)?.require_grad();
    let l0 = jump.l0(z.clone()).map_err(|e| e.to_string())?;
    if l0.dims() != [1] {
        return Err(format!("l0 has shape {:?}, expected [1]", l0.dims()));
    }
    compare_value(l0.clone().into_scalar::<f32>() as f64, l0_ref)
        .map_err(|e| format!("l0: {e}"))?;
    let grads = l0.backward();
    if let Some(gz) = z.grad(&grads) {
        compare_grad(&to_f64(gz)?, &vec![0.0; z_data.len()]).map_err(|e| format!("l0, z: {e}"))?;
    }
    let glt = jump
        .log_threshold
        .val()
        .grad(&grads)
        .ok_or("no gradient of l0 reached log_threshold")?;
    compare_grad(&to_f64(glt)?, &grad_l0_ref).map_err(|e| format!("l0, log_threshold: {e}"))
}

/// A `batch_topk` case: `output`, `mask` exactly, `threshold`, `value = Σ G·y` and its
/// gradient to z.
fn check_batch_topk(case: &Value, device: &Device) -> Result<(), String> {
    let config = config_fields(case, &["k"])?;
    let k = config
        .get("k")
        .and_then(Value::as_u64)
        .ok_or("config `k` is missing or not an unsigned integer")? as usize;
    let (shape, z_data) = tensor_field(case, "input")?;
    if shape.len() != 2 {
        return Err(format!(
            "batch_topk input has shape {shape:?}, expected [B, h]"
        ));
    }
    let upstream = tensor_of_shape(case, "upstream", &shape)?;
    let output_ref = tensor_of_shape(case, "output", &shape)?;
    let mask_ref = tensor_of_shape(case, "mask", &shape)?;
    let grad_ref = tensor_of_shape(case, "grad", &shape)?;
    let threshold_ref = number(case, "threshold")?;
    let value_ref = number(case, "value")?;

    let batch_top_k = BatchTopKConfig::new(k)
        .init()
        .map_err(|e| format!("init: {e}"))?;
    let z = to_tensor::<2>(&z_data, &shape, device)?.require_grad();
    let g = to_tensor::<2>(&upstream, &shape, device)?;
    let out = batch_top_k.forward(z.clone()).map_err(|e| e.to_string())?;
    let mask = to_f64(out.mask)?;
    if mask != mask_ref {
        return Err(format!("mask {mask:?} != reference {mask_ref:?}"));
    }
    compare_forward("output", &to_f64(out.output.clone())?, &output_ref)?;
    if out.threshold.dims() != [1] {
        return Err(format!(
            "threshold has shape {:?}, expected [1]",
            out.threshold.dims()
        ));
    }
    compare_value(out.threshold.into_scalar::<f32>() as f64, threshold_ref)
        .map_err(|e| format!("threshold: {e}"))?;
    let value = (out.output * g).sum();
    compare_value(value.clone().into_scalar::<f32>() as f64, value_ref)?;
    let grads = value.backward();
    let gz = z.grad(&grads).ok_or("no gradient reached z")?;
    compare_grad(&to_f64(gz)?, &grad_ref).map_err(|e| format!("z: {e}"))
}

/// A `hard_concrete` case (gates of any shape, flattened to one `log_alpha` per gate): `gate`,
/// `value = Σ G·g` and its gradient to `log_alpha`, `expected_l0` and its gradient,
/// `test_gate`.
fn check_hard_concrete(case: &Value, device: &Device) -> Result<(), String> {
    let config = config_fields(case, &["beta", "gamma", "zeta"])?;
    let (shape, log_alpha) = tensor_field(case, "log_alpha")?;
    let n = log_alpha.len();
    let noise = tensor_of_shape(case, "noise", &shape)?;
    let upstream = tensor_of_shape(case, "upstream", &shape)?;
    let gate_ref = tensor_of_shape(case, "gate", &shape)?;
    let grad_ref = tensor_of_shape(case, "grad", &shape)?;
    let grad_l0_ref = tensor_of_shape(case, "grad_expected_l0", &shape)?;
    let test_gate_ref = tensor_of_shape(case, "test_gate", &shape)?;
    let value_ref = number(case, "value")?;
    let l0_ref = number(case, "expected_l0")?;

    let mut cfg = HardConcreteConfig::new(n);
    if let Some(beta) = config_f64(config, "beta")? {
        cfg = cfg.with_beta(beta);
    }
    if let Some(gamma) = config_f64(config, "gamma")? {
        cfg = cfg.with_gamma(gamma);
    }
    if let Some(zeta) = config_f64(config, "zeta")? {
        cfg = cfg.with_zeta(zeta);
    }
    let la = to_tensor::<1>(&log_alpha, &[n], device)?.require_grad();
    let gates = cfg.init_with(la).map_err(|e| format!("init: {e}"))?;

    let u = to_tensor::<1>(&noise, &[n], device)?;
    let g = to_tensor::<1>(&upstream, &[n], device)?;
    let gate = gates.gate(u).map_err(|e| e.to_string())?;
    compare_forward("gate", &to_f64(gate.clone())?, &gate_ref)?;
    let value = (gate * g).sum();
    compare_value(value.clone().into_scalar::<f32>() as f64, value_ref)?;
    let grads = value.backward();
    let gla = gates
        .log_alpha
        .val()
        .grad(&grads)
        .ok_or("no gradient reached log_alpha")?;
    compare_grad(&to_f64(gla)?, &grad_ref).map_err(|e| format!("log_alpha: {e}"))?;

    let l0 = gates.expected_l0();
    if l0.dims() != [1] {
        return Err(format!(
            "expected_l0 has shape {:?}, expected [1]",
            l0.dims()
        ));
    }
    compare_value(l0.clone().into_scalar::<f32>() as f64, l0_ref)
        .map_err(|e| format!("expected_l0: {e}"))?;
    let grads = l0.backward();
    let gla = gates
        .log_alpha
        .val()
        .grad(&grads)
        .ok_or("no gradient of expected_l0 reached log_alpha")?;
    compare_grad(&to_f64(gla)?, &grad_l0_ref).map_err(|e| format!("expected_l0: {e}"))?;

    compare_forward("test_gate", &to_f64(gates.test_gate())?, &test_gate_ref)
}
