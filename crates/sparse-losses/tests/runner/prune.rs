//! The `prune` family (`prune.json`, SPEC.md "Pruning (v3)"): magnitude (per tensor, `n:m`,
//! rows), global magnitude, Wanda and SparseGPT. Masks must match exactly; pruned weights within
//! `1e-4 · max|W|` (float32 against the float64 references); Wanda's and SparseGPT's output
//! error within 1e-3 relative. The single-tensor methods go through `prune_tensor` on the
//! backend under test.

use burn::prelude::*;
use burn::tensor::TensorData;
use serde_json::Value;
use sparse_losses::prune::{
    magnitude_global, output_error, prune_tensor, PruneMethod, PrunePattern, SparseGptConfig,
};

use super::tensor_field;

/// The family's name in `prune.json`.
pub const FAMILY: &str = "prune";

fn as_f32(v: &[f64]) -> Vec<f32> {
    v.iter().map(|x| *x as f32).collect()
}

/// Compares a mask exactly and a pruned weight within `1e-4 · max|W|`.
fn compare(
    what: &str,
    w: &[f64],
    mask: &[f32],
    pruned: &[f32],
    mask_ref: &[f64],
    pruned_ref: &[f64],
) -> Result<(), String> {
    if let Some(i) = mask.iter().zip(mask_ref).position(|(a, b)| *a as f64 != *b) {
        return Err(format!(
            "{what}: mask differs at flat index {i}: {} vs {}",
            mask[i], mask_ref[i]
        ));
    }
    let tol = 1e-4 * w.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for (i, (a, b)) in pruned.iter().zip(pruned_ref).enumerate() {
        if (*a as f64 - b).abs() > tol {
            return Err(format!(
                "{what}: pruned[{i}] = {a} vs {b} (tolerance {tol:e})"
            ));
        }
        if *b == 0.0 && *a != 0.0 {
            return Err(format!("{what}: pruned[{i}] = {a}, not exactly 0"));
        }
    }
    Ok(())
}

/// Checks one case of `prune.json` on `device`.
pub fn check_case(case: &Value, device: &Device) -> Result<(), String> {
    let pattern: PrunePattern =
        serde_json::from_value(case["pattern"].clone()).map_err(|e| format!("pattern: {e}"))?;
    let method = case["method"].as_str().ok_or("no method")?;
    if method == "magnitude_global" {
        let sparsity = match pattern {
            PrunePattern::Unstructured { sparsity } => sparsity,
            other => return Err(format!("magnitude_global with {other:?}")),
        };
        let weights = case["weights"].as_array().ok_or("no weights")?;
        let mut ws = Vec::new();
        for (i, _) in weights.iter().enumerate() {
            let mut one = Value::Null;
            one["w"] = weights[i].clone();
            ws.push(tensor_field(&one, "w")?.1);
        }
        let ws32: Vec<Vec<f32>> = ws.iter().map(|w| as_f32(w)).collect();
        let refs: Vec<&[f32]> = ws32.iter().map(|w| w.as_slice()).collect();
        let got = magnitude_global(&refs, sparsity).map_err(|e| e.to_string())?;
        for (i, p) in got.iter().enumerate() {
            let mut m = Value::Null;
            m["m"] = case["masks"][i].clone();
            m["p"] = case["pruned"][i].clone();
            compare(
                &format!("tensor {i}"),
                &ws[i],
                &p.mask,
                &p.weight,
                &tensor_field(&m, "m")?.1,
                &tensor_field(&m, "p")?.1,
            )?;
        }
        return Ok(());
    }
    let (shape, w) = tensor_field(case, "weight")?;
    let (_, mask_ref) = tensor_field(case, "mask")?;
    let (_, pruned_ref) = tensor_field(case, "pruned")?;
    let to_tensor = |shape: &[usize], v: &[f64]| {
        Tensor::<2>::from_data(TensorData::new(as_f32(v), [shape[0], shape[1]]), device)
    };
    let x = match case.get("calibration") {
        Some(_) => Some(tensor_field(case, "calibration")?),
        None => None,
    };
    let method = match method {
        "magnitude" => PruneMethod::Magnitude,
        "wanda" => PruneMethod::Wanda,
        "sparsegpt" => PruneMethod::SparseGpt(
            SparseGptConfig::new()
                .with_block_size(case["block_size"].as_u64().unwrap_or(128) as usize)
                .with_damp(case["damp"].as_f64().unwrap_or(0.01)),
        ),
        other => return Err(format!("unknown method `{other}`")),
    };
    let calibration = x.as_ref().map(|(s, v)| to_tensor(s, v));
    let (mask, pruned) = prune_tensor(to_tensor(&shape, &w), calibration, &method, pattern)
        .map_err(|e| e.to_string())?;
    let mask: Vec<f32> = mask
        .try_into_vec_as::<f32>()
        .map_err(|e| format!("{e:?}"))?;
    let pruned: Vec<f32> = pruned
        .try_into_vec_as::<f32>()
        .map_err(|e| format!("{e:?}"))?;
    compare(method.name(), &w, &mask, &pruned, &mask_ref, &pruned_ref)?;
    if let (Some(error_ref), Some((_, xv))) = (case["error"].as_f64(), &x) {
        let error = output_error(&as_f32(&w), &pruned, [shape[0], shape[1]], &as_f32(xv));
        if (error - error_ref).abs() > 1e-3 * error_ref.abs().max(1e-6) {
            return Err(format!("output error {error} vs {error_ref}"));
        }
    }
    Ok(())
}
