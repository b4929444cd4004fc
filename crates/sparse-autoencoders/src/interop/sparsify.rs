//! EleutherAI sparsify directories (`cfg.json` + `sae.safetensors`, one per hook point), read
//! and written.
//!
//! sparsify's SAE: `f = topk(relu((x − b_dec) Eᵀ + e))`, `x̂ = f W_dec + b_dec`, with the
//! tensors `encoder.weight [d_sae, d_in]` (= our `W_encᵀ`), `encoder.bias [d_sae]`,
//! `W_dec [d_sae, d_in]`, `b_dec [d_in]`. The top-k of the ReLU'd pre-activations equals our
//! `top_k` (the top-k, then ReLU). Transcoders, skip connections and the `groupmax`
//! activation are refused.

use std::path::Path;

use burn::prelude::*;
use serde_json::{json, Value};

use super::files::{
    bad, bool_field, nothing_left, read_cfg, read_tensors, take, usize_field, write_atomic,
    write_tensors,
};
use super::{add_row_product, InferenceActivation, InferenceSae};
use crate::{Error, InputNormalization, Result, Sae};

/// The weights file of a sparsify directory.
pub const SPARSIFY_WEIGHTS: &str = "sae.safetensors";

fn transpose(v: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; v.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = v[r * cols + c];
        }
    }
    out
}

/// Saves a `top_k` `sae` as a sparsify directory `dir` (created if missing; files replaced
/// atomically).
///
/// # Errors
/// [`Error::NoExternalForm`] for any other architecture (sparsify's SAEs are top-k), and for
/// an SAE with an input normalisation; [`Error::ExternalSae`] when the directory cannot be
/// written.
pub fn save_sparsify(sae: &Sae, dir: &Path) -> Result<()> {
    write_sparsify(&InferenceSae::from_sae(sae)?, dir)
}

/// Writes a top-k inference form as a sparsify directory.
///
/// # Errors
/// As [`save_sparsify`]; [`Error::Shape`] for an inconsistent form.
pub fn write_sparsify(form: &InferenceSae, dir: &Path) -> Result<()> {
    form.validate()?;
    let refuse = |reason: String| Error::NoExternalForm {
        format: "sparsify",
        reason,
    };
    let InferenceActivation::TopK { k } = form.activation else {
        return Err(refuse(
            "sparsify's SAEs are top-k; this SAE's codes are not a per-row top-k (save it for SAELens instead)".into(),
        ));
    };
    if form.normalization != InputNormalization::None {
        return Err(refuse(format!(
            "sparsify has no input normalisation (this SAE uses {})",
            form.normalization.saelens_name()
        )));
    }
    let (d, h) = (form.d_in, form.d_sae);
    // sparsify always subtracts b_dec: fold its absence into the bias.
    let mut bias = form.b_enc.clone();
    if !form.apply_b_dec_to_input {
        add_row_product(&mut bias, &form.b_dec, &form.w_enc);
    }
    std::fs::create_dir_all(dir).map_err(|e| bad(dir, format!("cannot create: {e}")))?;
    let encoder = transpose(&form.w_enc, d, h);
    write_tensors(
        &dir.join(SPARSIFY_WEIGHTS),
        &[
            ("encoder.weight", vec![h, d], &encoder),
            ("encoder.bias", vec![h], &bias),
            ("W_dec", vec![h, d], &form.w_dec),
            ("b_dec", vec![d], &form.b_dec),
        ],
    )?;
    let cfg = json!({
        "activation": "topk",
        "expansion_factor": (h / d).max(1),
        "normalize_decoder": false,
        "num_latents": h,
        "k": k,
        "multi_topk": false,
        "skip_connection": false,
        "transcode": false,
        "d_in": d,
    });
    let text = serde_json::to_string_pretty(&cfg).expect("a JSON value serialises");
    write_atomic(&dir.join("cfg.json"), text.as_bytes())
}

/// Reads a sparsify directory as an inference form.
///
/// # Errors
/// [`Error::ExternalSae`] for a missing or invalid `cfg.json`, an option not supported
/// (`transcode`, `skip_connection`, an activation other than `topk`), a missing, misshapen or
/// unexpected tensor; [`Error::Data`] for a weights file that is not safetensors.
pub fn read_sparsify(dir: &Path) -> Result<InferenceSae> {
    let cfg = read_cfg(dir)?;
    let cfg_path = dir.join("cfg.json");
    let p = cfg_path.as_path();
    let d = usize_field(&cfg, p, "d_in")?;
    match cfg.get("activation").and_then(Value::as_str) {
        None | Some("topk") => {}
        Some(other) => {
            return Err(bad(
                p,
                format!("activation `{other}` is not supported (topk is)"),
            ))
        }
    }
    for option in ["transcode", "skip_connection"] {
        if bool_field(&cfg, p, option, false)? {
            return Err(bad(p, format!("`{option}` SAEs are not supported")));
        }
    }
    let k = usize_field(&cfg, p, "k")?;
    let h = match usize_field(&cfg, p, "num_latents").unwrap_or(0) {
        0 => d * usize_field(&cfg, p, "expansion_factor")?,
        n => n,
    };
    let weights = dir.join(SPARSIFY_WEIGHTS);
    let w = weights.as_path();
    let mut tensors = read_tensors(w)?;
    let encoder = take(&mut tensors, w, "encoder.weight", &[h, d])?;
    let b_enc = take(&mut tensors, w, "encoder.bias", &[h])?;
    let w_dec = take(&mut tensors, w, "W_dec", &[h, d])?;
    let b_dec = take(&mut tensors, w, "b_dec", &[d])?;
    nothing_left(&tensors, w)?;
    let form = InferenceSae {
        d_in: d,
        d_sae: h,
        w_enc: transpose(&encoder, h, d),
        b_enc,
        w_dec,
        b_dec,
        apply_b_dec_to_input: true,
        activation: InferenceActivation::TopK { k },
        normalization: InputNormalization::None,
    };
    form.validate().map_err(|e| bad(p, e))?;
    Ok(form)
}

/// Loads a sparsify directory as an [`Sae`] on `device` that encodes and reconstructs as
/// sparsify does.
///
/// # Errors
/// Those of [`read_sparsify`] and [`InferenceSae::to_sae`].
pub fn load_sparsify(dir: &Path, device: &Device) -> Result<Sae> {
    read_sparsify(dir)?.to_sae(device)
}
