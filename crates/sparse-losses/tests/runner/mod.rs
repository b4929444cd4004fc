//! The fixture runner's checks, shared by `crates/sparse-losses/tests/fixtures.rs` (the
//! runner) and `crates/sparse-losses/tests/runner_selftest.rs` (which makes sure the runner
//! catches wrong results).
#![allow(dead_code)]

mod activations;
mod l1_decoder_norm;
pub mod prox;
mod prune;

use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::tensor::TensorData;
use serde_json::Value;
use sparse_losses::prelude::*;

/// Value: relative error (SPEC rule 5).
pub const VALUE_RTOL: f64 = 1e-4;
/// Gradient: per element, relative to the largest |reference| entry.
pub const GRAD_RTOL: f64 = 1e-3;
/// Absolute tolerance where the reference is exactly zero.
pub const ZERO_ATOL: f64 = 1e-6;

/// One fixture file, parsed.
#[derive(Debug)]
pub struct FixtureFile {
    pub path: PathBuf,
    pub family: String,
    pub cases: Vec<Value>,
}

/// The fixture families that are not penalties.
pub const OTHER_FAMILIES: [&str; 4] = ["binary_mask", "omp", prox::FAMILY, prune::FAMILY];

/// Whether this crate implements the fixture family `family`.
pub fn implemented(family: &str) -> Result<(), String> {
    if PenaltyConfig::NAMES.contains(&family)
        || OTHER_FAMILIES.contains(&family)
        || activations::FAMILIES.contains(&family)
    {
        Ok(())
    } else {
        Err(format!(
            "penalty family `{family}` is not implemented by sparse-losses (it implements {}, {})",
            PenaltyConfig::NAMES.join(", "),
            OTHER_FAMILIES.join(", ")
        ))
    }
}

pub fn load_dir(dir: &Path) -> Result<Vec<FixtureFile>, String> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read fixture folder {}: {e}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|ext| ext == "json"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(format!("no *.json fixture in {}", dir.display()));
    }
    paths.into_iter().map(|p| load_file(&p)).collect()
}

pub fn load_file(path: &Path) -> Result<FixtureFile, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let json: Value = serde_json::from_str(&text)
        .map_err(|e| format!("{}: not valid JSON: {e}", path.display()))?;
    let family = json["penalty"]
        .as_str()
        .ok_or_else(|| format!("{}: no \"penalty\" field", path.display()))?
        .to_string();
    let cases = json["cases"]
        .as_array()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| format!("{}: no \"cases\" list, or an empty one", path.display()))?
        .clone();
    Ok(FixtureFile {
        path: path.to_path_buf(),
        family,
        cases,
    })
}

/// Checks one case; `Err` explains the first mismatch.
pub fn check_case(family: &str, case: &Value, device: &Device) -> Result<(), String> {
    implemented(family)?;
    if family == "binary_mask" {
        return check_mask_case(case, device);
    }
    if family == "omp" {
        return check_omp_case(case, device);
    }
    if activations::FAMILIES.contains(&family) {
        return activations::check_case(family, case, device);
    }
    if family == l1_decoder_norm::FAMILY {
        return l1_decoder_norm::check_case(case, device);
    }
    if family == prox::FAMILY {
        return prox::check_case(case, device);
    }
    if family == prune::FAMILY {
        return prune::check_case(case, device);
    }
    let config = PenaltyConfig::from_json(family, &case["config"]).map_err(|e| e.to_string())?;
    let penalty = config.init().map_err(|e| format!("init: {e}"))?;
    let (shape, data) = tensor_field(case, "input")?;
    let (grad_shape, grad_ref) = tensor_field(case, "grad")?;
    if grad_shape != shape {
        return Err(format!(
            "grad shape {grad_shape:?} != input shape {shape:?}"
        ));
    }
    let value_ref = case["value"].as_f64().ok_or("no numeric \"value\"")?;
    let (value, grad) = match shape.len() {
        1 => evaluate::<1>(&penalty, &shape, &data, device),
        2 => evaluate::<2>(&penalty, &shape, &data, device),
        3 => evaluate::<3>(&penalty, &shape, &data, device),
        4 => evaluate::<4>(&penalty, &shape, &data, device),
        5 => evaluate::<5>(&penalty, &shape, &data, device),
        6 => evaluate::<6>(&penalty, &shape, &data, device),
        r => Err(format!("rank {r} is not supported by the runner (1 to 6)")),
    }?;
    compare_value(value, value_ref)?;
    compare_grad(&grad, &grad_ref)
}

fn tensor_field(case: &Value, key: &str) -> Result<(Vec<usize>, Vec<f64>), String> {
    let t = &case[key];
    let shape: Vec<usize> = t["shape"]
        .as_array()
        .ok_or_else(|| format!("`{key}` has no shape"))?
        .iter()
        .map(|d| d.as_u64().map(|d| d as usize))
        .collect::<Option<_>>()
        .ok_or_else(|| format!("`{key}` has a bad shape"))?;
    let data: Vec<f64> = t["data"]
        .as_array()
        .ok_or_else(|| format!("`{key}` has no data"))?
        .iter()
        .map(Value::as_f64)
        .collect::<Option<_>>()
        .ok_or_else(|| format!("`{key}` has non-numeric data"))?;
    if shape.iter().product::<usize>() != data.len() {
        return Err(format!(
            "`{key}`: shape {shape:?} does not hold {} numbers",
            data.len()
        ));
    }
    Ok((shape, data))
}

/// Value and gradient of the penalty at `data` (as float32), on `device`.
fn evaluate<const D: usize>(
    penalty: &AnyPenalty,
    shape: &[usize],
    data: &[f64],
    device: &Device,
) -> Result<(f64, Vec<f64>), String> {
    let x = to_tensor::<D>(data, shape, device)?.require_grad();
    let out = penalty.forward(x.clone()).map_err(|e| e.to_string())?;
    if out.dims() != [1] {
        return Err(format!("result has shape {:?}, expected [1]", out.dims()));
    }
    let value: f32 = out.clone().into_scalar();
    let grads = out.backward();
    let grad = x.grad(&grads).ok_or("no gradient reached the input")?;
    Ok((value as f64, to_f64(grad)?))
}

/// A float32 tensor of `shape` holding `data`, on `device`.
fn to_tensor<const D: usize>(
    data: &[f64],
    shape: &[usize],
    device: &Device,
) -> Result<Tensor<D>, String> {
    let dims: [usize; D] = shape.try_into().map_err(|_| "rank mismatch".to_string())?;
    let values: Vec<f32> = data.iter().map(|&v| v as f32).collect();
    Ok(Tensor::from_data(TensorData::new(values, dims), device))
}

/// Reads a float32 tensor back as float64 numbers.
fn to_f64<const D: usize>(t: Tensor<D>) -> Result<Vec<f64>, String> {
    let v: Vec<f32> = t
        .into_data()
        .try_into_vec()
        .map_err(|e| format!("reading back: {e:?}"))?;
    Ok(v.into_iter().map(f64::from).collect())
}

pub fn compare_value(got: f64, want: f64) -> Result<(), String> {
    let tol = if want == 0.0 {
        ZERO_ATOL
    } else {
        VALUE_RTOL * want.abs()
    };
    if (got - want).abs() <= tol {
        Ok(())
    } else {
        Err(format!(
            "value {got:e} != reference {want:e} (error {:.2e}, tolerance {tol:.1e})",
            (got - want).abs()
        ))
    }
}

pub fn compare_grad(got: &[f64], want: &[f64]) -> Result<(), String> {
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let tol = if scale == 0.0 {
        ZERO_ATOL
    } else {
        GRAD_RTOL * scale
    };
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        if g.is_nan() || (g - w).abs() > tol {
            return Err(format!(
                "grad[{i}] = {g:e} != reference {w:e} (tolerance {tol:.1e})"
            ));
        }
    }
    Ok(())
}

/// A `binary_mask` case: the mask exactly, `value = Σ G·(w ⊙ m)`, and the gradients of the
/// value with respect to the scores and the weight.
fn check_mask_case(case: &Value, device: &Device) -> Result<(), String> {
    let rule = BinaryMaskConfig::from_json(&case["config"])
        .and_then(|c| c.init())
        .map_err(|e| e.to_string())?;
    let (shape, scores) = tensor_field(case, "scores")?;
    let mut fields = Vec::new();
    for key in ["weight", "upstream", "mask", "grad_scores", "grad_weight"] {
        let (s, data) = tensor_field(case, key)?;
        if s != shape {
            return Err(format!("`{key}` has shape {s:?}, the scores {shape:?}"));
        }
        fields.push(data);
    }
    let value_ref = case["value"].as_f64().ok_or("no numeric \"value\"")?;
    let inputs = [&scores, &fields[0], &fields[1]];
    let got = match shape.len() {
        1 => evaluate_mask::<1>(&rule, &shape, inputs, device),
        2 => evaluate_mask::<2>(&rule, &shape, inputs, device),
        3 => evaluate_mask::<3>(&rule, &shape, inputs, device),
        4 => evaluate_mask::<4>(&rule, &shape, inputs, device),
        r => Err(format!("rank {r} is not supported by the runner (1 to 4)")),
    }?;
    if got.mask != fields[2] {
        return Err(format!("mask {:?} != reference {:?}", got.mask, fields[2]));
    }
    compare_value(got.value, value_ref)?;
    compare_grad(&got.grad_scores, &fields[3]).map_err(|e| format!("scores: {e}"))?;
    compare_grad(&got.grad_weight, &fields[4]).map_err(|e| format!("weight: {e}"))
}

struct MaskResult {
    mask: Vec<f64>,
    value: f64,
    grad_scores: Vec<f64>,
    grad_weight: Vec<f64>,
}

fn evaluate_mask<const D: usize>(
    rule: &MaskRule,
    shape: &[usize],
    [scores, weight, upstream]: [&Vec<f64>; 3],
    device: &Device,
) -> Result<MaskResult, String> {
    let s = to_tensor::<D>(scores, shape, device)?.require_grad();
    let w = to_tensor::<D>(weight, shape, device)?.require_grad();
    let g = to_tensor::<D>(upstream, shape, device)?;
    let mask = to_f64(rule.mask(s.clone()).map_err(|e| e.to_string())?)?;
    let out = (rule
        .mask_weight(w.clone(), s.clone())
        .map_err(|e| e.to_string())?
        * g)
        .sum();
    let value: f32 = out.clone().into_scalar();
    let grads = out.backward();
    let grad_scores = s.grad(&grads).ok_or("no gradient reached the scores")?;
    let grad_weight = w.grad(&grads).ok_or("no gradient reached the weight")?;
    Ok(MaskResult {
        mask,
        value: value as f64,
        grad_scores: to_f64(grad_scores)?,
        grad_weight: to_f64(grad_weight)?,
    })
}

/// An `omp` case: the codes (supports exactly, values within rule 5), the OMP loss and its
/// gradients with respect to the dictionary and the signals (codes held constant).
fn check_omp_case(case: &Value, device: &Device) -> Result<(), String> {
    let omp = OmpConfig::from_json(&case["config"])
        .and_then(|c| c.init())
        .map_err(|e| e.to_string())?;
    let (d_shape, d_data) = tensor_field(case, "dictionary")?;
    let (x_shape, x_data) = tensor_field(case, "input")?;
    let (c_shape, c_ref) = tensor_field(case, "codes")?;
    let (_, gd_ref) = tensor_field(case, "grad_dictionary")?;
    let (_, gx_ref) = tensor_field(case, "grad")?;
    let value_ref = case["value"].as_f64().ok_or("no numeric \"value\"")?;
    let d = to_tensor::<2>(&d_data, &d_shape, device)?.require_grad();
    let x = to_tensor::<2>(&x_data, &x_shape, device)?.require_grad();
    let codes = omp.codes(d.clone(), x.clone()).map_err(|e| e.to_string())?;
    if codes.dims().to_vec() != c_shape {
        return Err(format!("codes shape {:?} != {c_shape:?}", codes.dims()));
    }
    let got = to_f64(codes.clone())?;
    let support = |v: &[f64]| v.iter().map(|&c| c != 0.0).collect::<Vec<_>>();
    if support(&got) != support(&c_ref) {
        let show = |v: &[f64]| {
            v.iter()
                .enumerate()
                .filter(|(_, &c)| c != 0.0)
                .map(|(i, _)| (i / c_shape[1], i % c_shape[1]))
                .collect::<Vec<_>>()
        };
        return Err(format!(
            "supports differ: got (row, atom) {:?}, reference {:?}",
            show(&got),
            show(&c_ref)
        ));
    }
    compare_grad(&got, &c_ref).map_err(|e| format!("codes: {e}"))?;
    let loss = sparse_losses::reconstruction_loss(d.clone(), x.clone(), codes);
    let value: f32 = loss.clone().into_scalar();
    compare_value(value as f64, value_ref)?;
    let grads = loss.backward();
    let gd = d.grad(&grads).ok_or("no gradient reached the dictionary")?;
    let gx = x.grad(&grads).ok_or("no gradient reached the signals")?;
    compare_grad(&to_f64(gd)?, &gd_ref).map_err(|e| format!("dictionary: {e}"))?;
    compare_grad(&to_f64(gx)?, &gx_ref).map_err(|e| format!("signals: {e}"))
}
