//! The names of the command line and of `settings.json`: the architectures and penalties of
//! the libraries' registries ([`Architecture::NAMES`], [`PenaltyConfig::NAMES`], with their
//! one-line summaries as `--help` text), the old spellings of earlier versions as aliases, and
//! this command line's two penalty recipes. What an architecture or a penalty accepts is read
//! from its default config, so a new registry entry needs no edit here.

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use serde::{Deserialize, Deserializer};
use sparse_autoencoders::Architecture;
use sparse_losses::PenaltyConfig;

/// The `--penalty` of no penalty.
pub const NO_PENALTY: &str = "none";

/// A recipe: a name of this command line for a library penalty used a particular way.
pub struct Recipe {
    /// The name (`--penalty NAME`).
    pub name: &'static str,
    /// The library penalty it uses.
    pub penalty: &'static str,
    /// One line for `--help`.
    pub summary: &'static str,
}

/// The recipes (their ways are applied in [`crate::model`]).
pub const RECIPES: [Recipe; 3] = [
    Recipe {
        name: "l1_dec",
        penalty: "l1",
        summary: "l1 on the decoder-weighted codes f_j ‖W_d[j,:]‖₂ (the reference recipe; \
                  the default of --arch relu)",
    },
    Recipe {
        name: "lp_anneal",
        penalty: "lp",
        summary: "lp with p annealed linearly from 1 to --p over the training steps \
                  (Karvonen et al.)",
    },
    Recipe {
        name: "log_sum_anneal",
        penalty: "log_sum",
        summary: "log_sum with ε annealed geometrically from 1 to --eps over the training \
                  steps (nearly L1 first)",
    },
];

/// The penalty names of earlier versions of this command line, as `(alias, name)`.
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

/// The registry name of architecture `name` (or of an old spelling).
pub fn canonical_arch(name: &str) -> Result<&'static str, String> {
    Architecture::canonical_name(name).map_err(|e| e.to_string())
}

/// Every `--penalty` name: none, the registry's, then the recipes'. Not total_variation: it
/// acts on images, here the atoms (`--tv`), not on the codes.
fn penalty_names() -> impl Iterator<Item = &'static str> {
    std::iter::once(NO_PENALTY)
        .chain(
            PenaltyConfig::NAMES
                .into_iter()
                .filter(|n| *n != "total_variation"),
        )
        .chain(RECIPES.iter().map(|r| r.name))
}

/// The name of penalty `name` (or of an old spelling): `none`, a registry name or a recipe.
pub fn canonical_penalty(name: &str) -> Result<&'static str, String> {
    let name = PENALTY_ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map_or(name, |(_, n)| n);
    penalty_names().find(|n| *n == name).ok_or_else(|| {
        format!(
            "unknown penalty `{name}`; expected one of {}",
            penalty_names().collect::<Vec<_>>().join(", ")
        )
    })
}

/// The library penalty behind `name`: a recipe's, or `name` itself.
pub fn penalty_base(name: &str) -> &str {
    RECIPES
        .iter()
        .find(|r| r.name == name)
        .map_or(name, |r| r.penalty)
}

/// `--arch`'s values: the registry's names with their summaries, the old spellings as aliases;
/// parsed to the registry name.
pub fn arch_parser() -> impl TypedValueParser<Value = String> {
    let values = Architecture::NAMES
        .iter()
        .zip(Architecture::SUMMARIES)
        .map(|(&name, summary)| {
            let aliases = Architecture::ALIASES
                .iter()
                .filter(|(_, n)| *n == name)
                .map(|(alias, _)| *alias);
            PossibleValue::new(name).help(summary).aliases(aliases)
        })
        .collect::<Vec<_>>();
    PossibleValuesParser::new(values).map(|s| canonical_arch(&s).expect("a listed name").into())
}

/// `--penalty`'s values: none, the registry's names with their summaries, the recipes, the old
/// spellings as aliases; parsed to the canonical name.
pub fn penalty_parser() -> impl TypedValueParser<Value = String> {
    let summary = |name: &str| {
        PenaltyConfig::summary(name)
            .or_else(|| RECIPES.iter().find(|r| r.name == name).map(|r| r.summary))
            .unwrap_or("no penalty")
    };
    let values = penalty_names()
        .map(|name| {
            let aliases = PENALTY_ALIASES
                .iter()
                .filter(|(_, n)| *n == name)
                .map(|(alias, _)| *alias);
            PossibleValue::new(name)
                .help(summary(name))
                .aliases(aliases)
        })
        .collect::<Vec<_>>();
    PossibleValuesParser::new(values).map(|s| canonical_penalty(&s).expect("a listed name").into())
}

/// A JSON object given on the command line (`--arch-config`, `--penalty-config`).
pub fn json_object(text: &str) -> Result<serde_json::Value, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if value.is_object() {
        Ok(value)
    } else {
        Err(format!("expected a JSON object {{...}}, got {value}"))
    }
}

/// Reads an architecture name of `settings.json` (old spellings too).
pub fn de_arch<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let name = String::deserialize(d)?;
    canonical_arch(&name)
        .map(String::from)
        .map_err(serde::de::Error::custom)
}

/// Reads a penalty name of `settings.json` (old spellings too).
pub fn de_penalty<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(name) => canonical_penalty(&name)
            .map(|n| Some(n.to_string()))
            .map_err(serde::de::Error::custom),
    }
}

/// The default config of architecture `arch` (a registry name), as JSON.
fn arch_defaults(arch: &str) -> Option<Architecture> {
    Architecture::default_for(arch).ok()
}

/// Whether architecture `arch`'s config has `field`.
pub fn arch_has(arch: &str, field: &str) -> bool {
    arch_defaults(arch)
        .and_then(|a| serde_json::to_value(a).ok())
        .is_some_and(|v| v.get(field).is_some())
}

/// The architectures whose config has `field`.
pub fn archs_with(field: &str) -> Vec<&'static str> {
    Architecture::NAMES
        .into_iter()
        .filter(|name| arch_has(name, field))
        .collect()
}

/// Whether `arch`'s codes need a penalty to be sparse (relu, sigmoid).
pub fn arch_needs_penalty(arch: &str) -> bool {
    arch_defaults(arch).is_some_and(|a| a.needs_penalty())
}

/// Whether `arch` takes AuxK.
pub fn arch_supports_aux_k(arch: &str) -> bool {
    arch_defaults(arch).is_some_and(|a| a.supports_aux_k())
}

/// The architectures that take AuxK.
pub fn aux_k_archs() -> Vec<&'static str> {
    Architecture::all()
        .into_iter()
        .filter(Architecture::supports_aux_k)
        .map(|a| a.name())
        .collect()
}

/// Whether `arch` has an encoder (all but omp).
pub fn arch_has_encoder(arch: &str) -> bool {
    arch_defaults(arch).is_some_and(|a| a.has_encoder())
}

/// Whether penalty `name` (a registry name or a recipe) has `field`.
pub fn penalty_has(name: &str, field: &str) -> bool {
    PenaltyConfig::default_for(penalty_base(name))
        .ok()
        .and_then(|c| serde_json::to_value(c).ok())
        .is_some_and(|v| v.get(field).is_some())
}

/// The stand-in the fuzz target compiles instead of this file (it cannot build Burn), here to
/// be checked against the registries.
#[cfg(test)]
#[path = "../../../fuzz/src/vocabulary.rs"]
mod fuzz_stand_in;

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(value: serde_json::Value, tag: &str) -> Vec<String> {
        let mut keys: Vec<String> = value
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| *k != tag)
            .cloned()
            .collect();
        keys.sort();
        keys
    }

    fn sorted(names: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        v.sort();
        v
    }

    /// The fuzz target's stand-in lists exactly the registries' architectures and penalties,
    /// their fields, properties and old spellings.
    #[test]
    fn fuzz_stand_in_agrees() {
        use super::fuzz_stand_in as s;
        assert_eq!(s::ARCHS.map(|a| a.0), Architecture::NAMES);
        for (name, own, needs_penalty, aux_k, encoder) in s::ARCHS {
            let arch = Architecture::default_for(name).unwrap();
            let json = serde_json::to_value(&arch).unwrap();
            assert_eq!(sorted(own), fields(json, "architecture"), "{name}");
            assert_eq!(needs_penalty, arch.needs_penalty(), "{name}");
            assert_eq!(aux_k, arch.supports_aux_k(), "{name}");
            assert_eq!(encoder, arch.has_encoder(), "{name}");
        }
        let aliases: Vec<(&str, &str)> = Architecture::ALIASES.to_vec();
        assert_eq!(s::ARCH_ALIASES.to_vec(), aliases);
        let names: Vec<&str> = penalty_names().collect();
        assert_eq!(s::PENALTIES.map(|p| p.0).to_vec(), names);
        for (name, own) in s::PENALTIES {
            let expected = match PenaltyConfig::default_for(penalty_base(name)) {
                Ok(config) => fields(serde_json::to_value(config).unwrap(), "penalty"),
                Err(_) => Vec::new(),
            };
            assert_eq!(sorted(own), expected, "{name}");
            assert_eq!(s::penalty_base(name), penalty_base(name), "{name}");
        }
        assert_eq!(s::PENALTY_ALIASES, PENALTY_ALIASES);
    }

    /// Every name and old spelling reads back as its registry name; unknown names are refused
    /// with the list.
    #[test]
    fn names_and_aliases() {
        for (alias, name) in PENALTY_ALIASES {
            assert_eq!(canonical_penalty(alias).unwrap(), name);
        }
        assert_eq!(canonical_arch("l0").unwrap(), "hard_concrete");
        assert!(canonical_penalty("l7").unwrap_err().contains("l1_dec"));
        assert!(canonical_penalty("total_variation").is_err());
        assert_eq!(
            archs_with("lambda"),
            ["jump_relu", "gated", "hard_concrete"]
        );
        assert_eq!(
            aux_k_archs(),
            ["top_k", "batch_top_k", "matryoshka", "jump_relu"]
        );
        assert!(penalty_has("lp_anneal", "p") && !penalty_has("l1_dec", "p"));
    }
}
