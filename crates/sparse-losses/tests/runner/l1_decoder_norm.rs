//! Fixture checks of `l1_decoder_norm` (SPEC.md, "Fixture files of v2"): codes f `input`
//! `[B, h]` and decoder W `decoder` `[h, d]`; the value `λ Σ |f_bj| ‖W_j‖₂` within rule 5's
//! relative 1e-4, and both gradients, `grad` (∂/∂f) and `grad_decoder` (∂/∂W), within 1e-3 of
//! their largest entry (1e-6 absolute where the reference is all zeros).

use burn::prelude::*;
use serde_json::Value;
use sparse_losses::PenaltyConfig;

use super::{compare_grad, compare_value, tensor_field, to_f64, to_tensor};

/// The family this module checks.
pub const FAMILY: &str = "l1_decoder_norm";

/// Checks one `l1_decoder_norm` case.
pub fn check_case(case: &Value, device: &Device) -> Result<(), String> {
    // The config is read as the registry reads it (unknown fields are refused).
    let PenaltyConfig::L1DecoderNorm(config) =
        PenaltyConfig::from_json(FAMILY, &case["config"]).map_err(|e| e.to_string())?
    else {
        return Err(format!("`{FAMILY}` read as another penalty"));
    };
    let penalty = config.init().map_err(|e| format!("init: {e}"))?;
    let (f_shape, f_data) = tensor_field(case, "input")?;
    let (w_shape, w_data) = tensor_field(case, "decoder")?;
    let (g_shape, g_ref) = tensor_field(case, "grad")?;
    let (gw_shape, gw_ref) = tensor_field(case, "grad_decoder")?;
    if g_shape != f_shape {
        return Err(format!("grad shape {g_shape:?} != input shape {f_shape:?}"));
    }
    if gw_shape != w_shape {
        return Err(format!(
            "grad_decoder shape {gw_shape:?} != decoder shape {w_shape:?}"
        ));
    }
    let value_ref = case["value"].as_f64().ok_or("no numeric \"value\"")?;
    let f = to_tensor::<2>(&f_data, &f_shape, device)?.require_grad();
    let w = to_tensor::<2>(&w_data, &w_shape, device)?.require_grad();
    let out = penalty
        .forward_with_decoder(f.clone(), w.clone())
        .map_err(|e| e.to_string())?;
    if out.dims() != [1] {
        return Err(format!("result has shape {:?}, expected [1]", out.dims()));
    }
    let value: f32 = out.clone().into_scalar();
    compare_value(value as f64, value_ref)?;
    let grads = out.backward();
    let gf = f.grad(&grads).ok_or("no gradient reached the codes")?;
    let gw = w.grad(&grads).ok_or("no gradient reached the decoder")?;
    compare_grad(&to_f64(gf)?, &g_ref).map_err(|e| format!("codes: {e}"))?;
    compare_grad(&to_f64(gw)?, &gw_ref).map_err(|e| format!("decoder: {e}"))
}
