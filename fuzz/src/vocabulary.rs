//! Stand-in for sae-mnist's `vocabulary` (`examples/sae-mnist/src/vocabulary.rs`, which reads
//! the libraries' registries and so needs Burn): the same functions over fixed tables of the
//! registries' names and fields. sae-mnist's unit test `fuzz_stand_in_agrees` compiles this
//! file too and checks every table against the registries, so the two cannot drift apart.
#![allow(dead_code)]

use clap::builder::{PossibleValuesParser, TypedValueParser};
use serde::{Deserialize, Deserializer};

pub const NO_PENALTY: &str = "none";
/// (name, fields, needs a penalty, takes AuxK, has an encoder).
pub const ARCHS: [(&str, &[&str], bool, bool, bool); 9] = [
    ("relu", &[], true, false, true),
    ("sigmoid", &[], true, false, true),
    ("top_k", &["k"], false, true, true),
    ("batch_top_k", &["k"], false, true, true),
    ("matryoshka", &["k", "prefixes"], false, true, true),
    (
        "jump_relu",
        &["lambda", "threshold_init", "bandwidth"],
        false,
        true,
        true,
    ),
    ("gated", &["lambda"], false, false, true),
    (
        "hard_concrete",
        &["lambda", "beta", "floor"],
        false,
        false,
        true,
    ),
    ("omp", &["k"], false, false, false),
];
pub const ARCH_ALIASES: [(&str, &str); 5] = [
    ("topk", "top_k"),
    ("batchtopk", "batch_top_k"),
    ("batch_topk", "batch_top_k"),
    ("jumprelu", "jump_relu"),
    ("l0", "hard_concrete"),
];
/// (name, fields); the recipes l1_dec, lp_anneal and log_sum_anneal are l1's, lp's and
/// log_sum's.
pub const PENALTIES: [(&str, &[&str]); 17] = [
    ("none", &[]),
    ("l1", &["lambda", "reduction"]),
    ("elastic_net", &["lambda", "l1_ratio"]),
    (
        "group_lasso",
        &["lambda", "axis", "group_ids", "l1_ratio", "weight_by_size"],
    ),
    ("kl_sparsity", &["target", "beta", "eps"]),
    ("hoyer", &["lambda", "squared", "per_row"]),
    (
        "spike_and_slab",
        &["lambda", "slab_prob", "sigma_spike", "sigma_slab"],
    ),
    ("entropy", &["lambda", "normalize", "temperature"]),
    ("tanh", &["lambda", "scale"]),
    ("log_sum", &["lambda", "eps"]),
    ("lp", &["lambda", "p", "eps"]),
    ("scad", &["lambda", "gamma"]),
    ("mcp", &["lambda", "gamma"]),
    ("l1_decoder_norm", &["lambda"]),
    ("l1_dec", &["lambda", "reduction"]),
    ("lp_anneal", &["lambda", "p", "eps"]),
    ("log_sum_anneal", &["lambda", "eps"]),
];
pub const PENALTY_ALIASES: [(&str, &str); 8] = [
    ("l1-dec", "l1_dec"),
    ("elastic-net", "elastic_net"),
    ("kl", "kl_sparsity"),
    ("spike-and-slab", "spike_and_slab"),
    ("group-lasso", "group_lasso"),
    ("logsum", "log_sum"),
    ("lp-anneal", "lp_anneal"),
    ("logsum-anneal", "log_sum_anneal"),
];

fn arch(name: &str) -> Option<(&'static str, &'static [&'static str], bool, bool, bool)> {
    ARCHS.iter().copied().find(|a| a.0 == name)
}
pub fn canonical_arch(name: &str) -> Result<&'static str, String> {
    let name = ARCH_ALIASES
        .iter()
        .find(|a| a.0 == name)
        .map_or(name, |a| a.1);
    arch(name)
        .map(|a| a.0)
        .ok_or_else(|| format!("unknown architecture `{name}`"))
}
pub fn canonical_penalty(name: &str) -> Result<&'static str, String> {
    let name = PENALTY_ALIASES
        .iter()
        .find(|a| a.0 == name)
        .map_or(name, |a| a.1);
    PENALTIES
        .iter()
        .find(|p| p.0 == name)
        .map(|p| p.0)
        .ok_or_else(|| format!("unknown penalty `{name}`"))
}
pub fn penalty_base(name: &str) -> &str {
    match name {
        "l1_dec" => "l1",
        "lp_anneal" => "lp",
        "log_sum_anneal" => "log_sum",
        n => n,
    }
}
pub fn arch_parser() -> impl TypedValueParser<Value = String> {
    PossibleValuesParser::new(ARCHS.map(|a| a.0)).map(|s| s)
}
pub fn penalty_parser() -> impl TypedValueParser<Value = String> {
    PossibleValuesParser::new(PENALTIES.map(|p| p.0)).map(|s| s)
}
pub fn json_object(text: &str) -> Result<serde_json::Value, String> {
    serde_json::from_str(text).map_err(|e| e.to_string())
}
pub fn de_arch<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let name = String::deserialize(d)?;
    canonical_arch(&name)
        .map(String::from)
        .map_err(serde::de::Error::custom)
}
pub fn de_penalty<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(n) => canonical_penalty(&n)
            .map(|n| Some(n.into()))
            .map_err(serde::de::Error::custom),
    }
}
pub fn arch_has(name: &str, field: &str) -> bool {
    arch(name).is_some_and(|a| a.1.contains(&field))
}
pub fn archs_with(field: &str) -> Vec<&'static str> {
    ARCHS
        .iter()
        .filter(|a| a.1.contains(&field))
        .map(|a| a.0)
        .collect()
}
pub fn arch_needs_penalty(name: &str) -> bool {
    arch(name).is_some_and(|a| a.2)
}
pub fn arch_supports_aux_k(name: &str) -> bool {
    arch(name).is_some_and(|a| a.3)
}
pub fn aux_k_archs() -> Vec<&'static str> {
    ARCHS.iter().filter(|a| a.3).map(|a| a.0).collect()
}
pub fn arch_has_encoder(name: &str) -> bool {
    arch(name).is_some_and(|a| a.4)
}
pub fn penalty_has(name: &str, field: &str) -> bool {
    PENALTIES
        .iter()
        .any(|p| p.0 == name && p.1.contains(&field))
}
