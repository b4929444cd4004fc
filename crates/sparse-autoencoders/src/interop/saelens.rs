//! SAELens directories (`cfg.json` + `sae_weights.safetensors`, SAELens 6.x), read and
//! written.
//!
//! | SAELens `architecture` | tensors | ours |
//! | --- | --- | --- |
//! | `standard` | `W_enc [d_in, d_sae]`, `b_enc`, `W_dec [d_sae, d_in]`, `b_dec` | `relu` (any penalty) |
//! | `topk` (`k`, `rescale_acts_by_decoder_norm`) | as `standard` | `top_k` (a rescaling SAE is read with its decoder norms folded in) |
//! | `jumprelu` | `standard` + `threshold [d_sae]` | `jump_relu`; `batch_top_k` and `matryoshka` are written as this, with their decoder norms folded in and the learned threshold on every latent |
//! | `gated` | `W_enc`, `b_gate`, `r_mag`, `b_mag`, `W_dec`, `b_dec` | `gated` |
//!
//! `normalize_activations` `none`, `constant_norm_rescale` and `layer_norm` are applied as
//! SAELens does ([`InputNormalization`]); `expected_average_only_in` and
//! `covariance_whitening` do nothing at inference in SAELens either (their factors are folded
//! into the weights), so they read as `none`.

use std::path::Path;

use burn::prelude::*;
use serde_json::{json, Value};

use super::files::{
    bad, bool_field, nothing_left, read_cfg, read_tensors, take, usize_field, write_atomic,
    write_tensors,
};
use super::{InferenceActivation, InferenceSae};
use crate::arch::AnyArchitecture;
use crate::{InputNormalization, Result, Sae};

/// The weights file of a SAELens directory.
pub const SAELENS_WEIGHTS: &str = "sae_weights.safetensors";

/// The SAELens version written in `metadata.sae_lens_version` (the format of SAELens 6.x, as
/// read from sae-lens 6.54.12's sources and checked with its `SAE.load_from_disk`).
pub const SAELENS_FORMAT_VERSION: &str = "6.54.12";

/// Saves `sae` as a SAELens directory `dir` (created if missing; `cfg.json` and
/// `sae_weights.safetensors` replaced atomically): its [`InferenceSae::from_sae`] form, with
/// BatchTopK's and Matryoshka's decoder norms folded in as SAELens' own BatchTopK export does
/// (their codes are then in unit-decoder units; the reconstructions are unchanged).
///
/// # Errors
/// [`Error::NoExternalForm`](crate::Error::NoExternalForm) for an architecture with no exact
/// SAELens form (see [`InferenceSae::from_sae`]); [`Error::ExternalSae`](crate::Error::ExternalSae)
/// when the directory cannot be written.
pub fn save_saelens(sae: &Sae, dir: &Path) -> Result<()> {
    let mut form = InferenceSae::from_sae(sae)?;
    if matches!(
        sae.arch,
        AnyArchitecture::BatchTopK(_) | AnyArchitecture::Matryoshka(_)
    ) {
        form.fold_decoder_norms();
    }
    let training = sae.config.architecture.name();
    write_saelens(&form, dir, json!({ "training_architecture": training }))
}

/// Writes an inference form as a SAELens directory; `metadata` (an object) is merged into
/// `cfg.json`'s `metadata` beside `sae_lens_version`.
///
/// # Errors
/// [`Error::Shape`](crate::Error::Shape) for an inconsistent form,
/// [`Error::ExternalSae`](crate::Error::ExternalSae) when the directory cannot be written.
pub fn write_saelens(form: &InferenceSae, dir: &Path, metadata: Value) -> Result<()> {
    form.validate()?;
    std::fs::create_dir_all(dir).map_err(|e| bad(dir, format!("cannot create: {e}")))?;
    let (d, h) = (form.d_in, form.d_sae);
    let mut meta = json!({
        "sae_lens_version": SAELENS_FORMAT_VERSION,
        "sae_lens_training_version": SAELENS_FORMAT_VERSION,
        "written_by": format!("sparse-autoencoders {}", env!("CARGO_PKG_VERSION")),
    });
    if let (Some(m), Value::Object(extra)) = (meta.as_object_mut(), metadata) {
        m.extend(extra);
    }
    let mut cfg = json!({
        "d_in": d,
        "d_sae": h,
        "dtype": "float32",
        "device": "cpu",
        "apply_b_dec_to_input": form.apply_b_dec_to_input,
        "normalize_activations": form.normalization.saelens_name(),
        "reshape_activations": "none",
        "metadata": meta,
    });
    let mut tensors: Vec<(&str, Vec<usize>, &[f32])> = vec![("W_enc", vec![d, h], &form.w_enc)];
    let architecture = match &form.activation {
        InferenceActivation::Relu => "standard",
        InferenceActivation::TopK { k } => {
            cfg["k"] = json!(k);
            cfg["rescale_acts_by_decoder_norm"] = json!(false);
            "topk"
        }
        InferenceActivation::JumpRelu { threshold } => {
            tensors.push(("threshold", vec![h], threshold));
            "jumprelu"
        }
        InferenceActivation::Gated { r_mag, b_mag } => {
            tensors.push(("b_gate", vec![h], &form.b_enc));
            tensors.push(("r_mag", vec![h], r_mag));
            tensors.push(("b_mag", vec![h], b_mag));
            "gated"
        }
    };
    if !matches!(form.activation, InferenceActivation::Gated { .. }) {
        tensors.push(("b_enc", vec![h], &form.b_enc));
    }
    tensors.push(("W_dec", vec![h, d], &form.w_dec));
    tensors.push(("b_dec", vec![d], &form.b_dec));
    cfg["architecture"] = json!(architecture);
    write_tensors(&dir.join(SAELENS_WEIGHTS), &tensors)?;
    let text = serde_json::to_string_pretty(&cfg).expect("a JSON value serialises");
    write_atomic(&dir.join("cfg.json"), text.as_bytes())
}

/// Whether a SAELens config is of the pre-6.0 format (no `sae_lens_version`, or one below 6),
/// which SAELens reads with other defaults.
fn legacy(cfg: &serde_json::Map<String, Value>) -> bool {
    let version = cfg
        .get("metadata")
        .and_then(|m| m.get("sae_lens_version"))
        .or_else(|| cfg.get("sae_lens_version"))
        .and_then(Value::as_str);
    match version {
        None => true,
        Some(v) => v
            .split('.')
            .next()
            .and_then(|major| major.parse::<u32>().ok())
            .is_none_or(|major| major < 6),
    }
}

/// Reads a SAELens directory as an inference form (see the module's table).
///
/// # Errors
/// [`Error::ExternalSae`](crate::Error::ExternalSae) for a missing or invalid `cfg.json`, an
/// architecture or option not supported (`abstopk`, transcoders, the training-only `batchtopk`
/// checkpoint, `reshape_activations` other than `none`), a missing, misshapen or unexpected
/// tensor; [`Error::Data`](crate::Error::Data) for a weights file that is not safetensors.
pub fn read_saelens(dir: &Path) -> Result<InferenceSae> {
    let cfg = read_cfg(dir)?;
    let cfg_path = dir.join("cfg.json");
    let p = cfg_path.as_path();
    let old = legacy(&cfg);
    let d = usize_field(&cfg, p, "d_in")?;
    let h = usize_field(&cfg, p, "d_sae")?;
    let mut architecture = match cfg.get("architecture").and_then(Value::as_str) {
        Some(a) => a.to_string(),
        None if old => "standard".to_string(),
        None => return Err(bad(p, "has no `architecture`")),
    };
    let mut k_key = cfg.get("k").cloned();
    if old && cfg.get("activation_fn").and_then(Value::as_str) == Some("topk") {
        architecture = "topk".into();
        k_key = cfg
            .get("activation_fn_kwargs")
            .and_then(|a| a.get("k"))
            .cloned();
    }
    let normalization = match cfg.get("normalize_activations") {
        None | Some(Value::Null) | Some(Value::Bool(_)) => InputNormalization::None,
        Some(Value::String(s)) => match s.as_str() {
            "none" | "expected_average_only_in" | "covariance_whitening" => {
                InputNormalization::None
            }
            "constant_norm_rescale" => InputNormalization::ConstantNormRescale,
            "layer_norm" => InputNormalization::LayerNorm,
            other => return Err(bad(p, format!("unknown normalize_activations `{other}`"))),
        },
        Some(v) => return Err(bad(p, format!("normalize_activations = {v} is not a name"))),
    };
    match cfg.get("reshape_activations").and_then(Value::as_str) {
        None | Some("none") => {}
        Some(other) => {
            return Err(bad(
                p,
                format!("reshape_activations `{other}` is not supported (only none)"),
            ))
        }
    }
    let apply_b_dec_to_input = bool_field(&cfg, p, "apply_b_dec_to_input", true)?;
    let weights = dir.join(SAELENS_WEIGHTS);
    let w = weights.as_path();
    let mut tensors = read_tensors(w)?;
    if let Some((_, v)) = tensors.get("scaling_factor") {
        if v.iter().any(|s| *s != 1.0) {
            return Err(bad(w, "a `scaling_factor` other than 1 is not supported"));
        }
        tensors.remove("scaling_factor");
    }
    let w_enc = take(&mut tensors, w, "W_enc", &[d, h])?;
    let w_dec = take(&mut tensors, w, "W_dec", &[h, d])?;
    let b_dec = take(&mut tensors, w, "b_dec", &[d])?;
    let (b_enc, activation, rescale) = match architecture.as_str() {
        "standard" => (
            take(&mut tensors, w, "b_enc", &[h])?,
            InferenceActivation::Relu,
            false,
        ),
        "topk" => {
            let k = match k_key {
                None => 100,
                Some(v) => v
                    .as_u64()
                    .map(|k| k as usize)
                    .ok_or_else(|| bad(p, format!("`k` = {v} is not a positive integer")))?,
            };
            let rescale = bool_field(&cfg, p, "rescale_acts_by_decoder_norm", false)?;
            (
                take(&mut tensors, w, "b_enc", &[h])?,
                InferenceActivation::TopK { k },
                rescale,
            )
        }
        "jumprelu" => {
            let b_enc = take(&mut tensors, w, "b_enc", &[h])?;
            let threshold = take(&mut tensors, w, "threshold", &[h])?;
            (b_enc, InferenceActivation::JumpRelu { threshold }, false)
        }
        "gated" => {
            let b_gate = take(&mut tensors, w, "b_gate", &[h])?;
            let r_mag = take(&mut tensors, w, "r_mag", &[h])?;
            let b_mag = take(&mut tensors, w, "b_mag", &[h])?;
            (b_gate, InferenceActivation::Gated { r_mag, b_mag }, false)
        }
        other => {
            return Err(bad(
                p,
                format!(
                    "architecture `{other}` is not supported (standard, topk, jumprelu, gated are)"
                ),
            ))
        }
    };
    nothing_left(&tensors, w)?;
    let mut form = InferenceSae {
        d_in: d,
        d_sae: h,
        w_enc,
        b_enc,
        w_dec,
        b_dec,
        apply_b_dec_to_input,
        activation,
        normalization,
    };
    form.validate().map_err(|e| bad(p, e))?;
    if rescale {
        form.fold_decoder_norms();
    }
    Ok(form)
}

/// Loads a SAELens directory as an [`Sae`] on `device` that encodes and reconstructs as
/// SAELens does ([`read_saelens`], then [`InferenceSae::to_sae`]).
///
/// # Errors
/// Those of [`read_saelens`] and [`InferenceSae::to_sae`].
pub fn load_saelens(dir: &Path, device: &Device) -> Result<Sae> {
    read_saelens(dir)?.to_sae(device)
}
