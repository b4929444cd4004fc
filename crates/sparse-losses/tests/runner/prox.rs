//! Fixture checks of the proximal operators (SPEC.md, "Proximal operators" and "Fixture files
//! of v2"): each case names the penalty (`prox`), its `config` and the `step`; the prox of
//! `input` must have exactly `+0.0` where the reference `output` is 0 (a `−0.0` fails too), and
//! be within 1e-5 of the reference elsewhere, relative to the case's largest |output|.

use burn::prelude::*;
use serde_json::Value;
use sparse_losses::prelude::*;

use super::{tensor_field, to_f64, to_tensor};

/// The family this module checks.
pub const FAMILY: &str = "prox";

/// Prox outputs: relative to the case's largest |reference| entry.
pub const PROX_RTOL: f64 = 1e-5;

/// Checks one `prox` case.
pub fn check_case(case: &Value, device: &Device) -> Result<(), String> {
    let name = case["prox"]
        .as_str()
        .ok_or("the case has no `prox` penalty name")?;
    let penalty = PenaltyConfig::from_json(name, &case["config"])
        .and_then(|config| config.init())
        .map_err(|e| e.to_string())?;
    let step = case["step"].as_f64().ok_or("no numeric `step`")?;
    let (shape, input) = tensor_field(case, "input")?;
    let (out_shape, want) = tensor_field(case, "output")?;
    if out_shape != shape {
        return Err(format!(
            "output shape {out_shape:?} != input shape {shape:?}"
        ));
    }
    let got = match shape.len() {
        1 => prox::<1>(&penalty, &shape, &input, step, device),
        2 => prox::<2>(&penalty, &shape, &input, step, device),
        3 => prox::<3>(&penalty, &shape, &input, step, device),
        4 => prox::<4>(&penalty, &shape, &input, step, device),
        r => Err(format!("rank {r} is not supported by the runner (1 to 4)")),
    }?;
    compare_prox(&got, &want)
}

fn prox<const D: usize>(
    penalty: &AnyPenalty,
    shape: &[usize],
    input: &[f64],
    step: f64,
    device: &Device,
) -> Result<Vec<f64>, String> {
    let x = to_tensor::<D>(input, shape, device)?;
    let z = penalty.prox(x, step).map_err(|e| e.to_string())?;
    if z.dims().as_slice() != shape {
        return Err(format!(
            "prox has shape {:?}, the input {shape:?}",
            z.dims()
        ));
    }
    to_f64(z)
}

/// Exact `+0.0` where the reference is 0; elsewhere within [`PROX_RTOL`] of max |reference|.
pub fn compare_prox(got: &[f64], want: &[f64]) -> Result<(), String> {
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let tol = PROX_RTOL * scale;
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        if w == 0.0 {
            if g != 0.0 || g.is_sign_negative() {
                return Err(format!(
                    "output[{i}] = {g:e} where the reference is exactly 0 (+0.0 required)"
                ));
            }
        } else if g.is_nan() || (g - w).abs() > tol {
            return Err(format!(
                "output[{i}] = {g:e} != reference {w:e} (tolerance {tol:.1e})"
            ));
        }
    }
    Ok(())
}
