//! The SAE a run's settings define: its architecture and penalty built from the registries'
//! default configs, the flags that set their fields, then `--arch-config` / `--penalty-config`;
//! and the checks made before any output is written.

use serde_json::{json, Map, Value};
use sparse_autoencoders::train::ResampleConfig;
use sparse_autoencoders::{Architecture, PenaltyTarget, SaeConfig};
use sparse_losses::{EpsAnnealConfig, PAnnealConfig, PenaltyConfig, TotalVariationConfig};

use crate::backend::device_at;
use crate::error::AppError;
use crate::settings::{BackendKind, Settings};
use crate::vocabulary::{self, NO_PENALTY};

/// What each penalty acts on in this command line's SAE (the codes, unless listed).
const TARGETS: [(&str, PenaltyTarget); 10] = [
    ("l1_dec", PenaltyTarget::DecoderWeightedCodes),
    ("tanh", PenaltyTarget::DecoderWeightedCodes),
    ("log_sum", PenaltyTarget::DecoderWeightedCodes),
    ("log_sum_anneal", PenaltyTarget::DecoderWeightedCodes),
    ("lp", PenaltyTarget::DecoderWeightedCodes),
    ("lp_anneal", PenaltyTarget::DecoderWeightedCodes),
    ("scad", PenaltyTarget::DecoderWeightedCodes),
    ("mcp", PenaltyTarget::DecoderWeightedCodes),
    ("spike_and_slab", PenaltyTarget::Weights),
    ("group_lasso", PenaltyTarget::EncoderWeights),
];

/// The architectures this command line trains with unit-norm decoder rows, as their papers do
/// (besides those whose library config insists on it).
const UNIT_NORM_DECODER: [&str; 1] = ["gated"];

/// Fields this command line sets where the penalty's own default is for another use (laid
/// under the flags and `--penalty-config`): Hoyer per row (per image), group lasso over the
/// encoder's columns (one group per latent).
const PENALTY_DEFAULTS: [(&str, &str); 2] = [
    ("hoyer", r#"{"per_row": true}"#),
    ("group_lasso", r#"{"axis": 1}"#),
];

/// `fields` (an object) with `given` (`--arch-config` / `--penalty-config`) laid over it; a
/// key the config does not have is refused, naming `flag`.
fn overlay(
    fields: &mut Map<String, Value>,
    given: Option<&Value>,
    flag: &str,
) -> Result<(), AppError> {
    let Some(given) = given.and_then(Value::as_object) else {
        return Ok(());
    };
    for (key, value) in given {
        if !fields.contains_key(key) {
            let known: Vec<&str> = fields.keys().map(String::as_str).collect();
            return Err(AppError::Setting(format!(
                "{flag}: unknown field `{key}`; expected one of {}",
                known.join(", ")
            )));
        }
        fields.insert(key.clone(), value.clone());
    }
    Ok(())
}

/// Sets each field of `fields` that `values` gives a value (the flags' values, where the
/// config has a field of that name).
fn set_present<'a>(
    fields: &mut Map<String, Value>,
    values: impl IntoIterator<Item = (&'a str, Option<Value>)>,
) {
    for (field, value) in values {
        if let (Some(slot), Some(v)) = (fields.get_mut(field), value) {
            *slot = v;
        }
    }
}

/// `given` (`--arch-config` / `--penalty-config`) without its tag `key`, which may be left out
/// but otherwise must name `name` (read through `canonical`, so old spellings agree).
fn untagged(
    given: Option<&Value>,
    key: &str,
    name: &str,
    canonical: fn(&str) -> Result<&'static str, String>,
) -> Result<Option<Value>, AppError> {
    let mut own = given.cloned();
    let tag = own
        .as_mut()
        .and_then(Value::as_object_mut)
        .and_then(|o| o.remove(key));
    if let Some(tag) = tag {
        if tag.as_str().and_then(|t| canonical(t).ok()) != Some(name) {
            let flag = if key == "penalty" {
                "--penalty"
            } else {
                "--arch"
            };
            return Err(AppError::Setting(format!(
                "{flag}-config names the {key} {tag}, but {flag} is {name}"
            )));
        }
    }
    Ok(own)
}

/// The architecture of `settings` for `hidden` latents: the registry's default config of
/// `--arch`, with `--k`, `--lambda`, `--threshold-init` and matryoshka's prefixes (`h/8`,
/// `h/4`, `h/2`) set where it has those fields, then `--arch-config`. A `relu` SAE with the
/// KL penalty has sigmoid codes.
pub fn architecture(settings: &Settings) -> Result<Architecture, AppError> {
    let h = settings.hidden;
    let name = match settings.arch.as_str() {
        "relu" if vocabulary::penalty_base(settings.penalty_name()) == "kl_sparsity" => "sigmoid",
        name => name,
    };
    let defaults = Architecture::default_for(name).map_err(|e| AppError::Setting(e.to_string()))?;
    let mut value = serde_json::to_value(defaults).expect("a config serialises");
    let fields = value.as_object_mut().expect("an architecture is an object");
    let tag = fields.remove("architecture").expect("the registry's tag");
    let ladder: Vec<usize> = [h / 8, h / 4, h / 2]
        .into_iter()
        .filter(|&p| p > 0 && p < h)
        .fold(Vec::new(), |mut v, p| {
            if v.last().is_none_or(|&l| p > l) {
                v.push(p);
            }
            v
        });
    set_present(
        fields,
        [
            ("k", Some(json!(settings.k))),
            ("lambda", Some(json!(settings.lambda))),
            ("threshold_init", settings.threshold_init.map(|t| json!(t))),
            ("prefixes", Some(json!(ladder))),
        ],
    );
    let own = untagged(
        settings.arch_config.as_ref(),
        "architecture",
        &settings.arch,
        vocabulary::canonical_arch,
    )?;
    overlay(fields, own.as_ref(), "--arch-config")?;
    fields.insert("architecture".into(), tag);
    serde_json::from_value(value).map_err(|e| AppError::Setting(format!("--arch-config: {e}")))
}

/// The optimizer steps of a run of `settings` on `n_train` rows (the length of the anneals;
/// what `--resample-until` and `--warmup-fraction` are fractions of).
fn run_steps(settings: &Settings, n_train: usize) -> usize {
    settings.epochs * n_train.div_ceil(settings.batch_size.max(1))
}

/// The schedule of a recipe's penalty shape over the run: lp_anneal's p, log_sum_anneal's ε.
#[derive(Debug, Clone)]
pub enum Anneal {
    /// p from 1 to `--p` (lp_anneal).
    P(PAnnealConfig),
    /// ε from 1 to `--eps` (log_sum_anneal).
    Eps(EpsAnnealConfig),
}

/// The penalty of `settings`, what it acts on, and its recipe's anneal over `n_train` rows;
/// `None` for no penalty. Built from the registry's default config of the penalty (a recipe's
/// library penalty), with `--lambda` (KL's `beta`), `--kl-target`, `--scale`, `--eps`, `--p`
/// set where it has those fields, then `--penalty-config`.
pub fn penalty(
    settings: &Settings,
    n_train: usize,
) -> Result<Option<(PenaltyConfig, PenaltyTarget, Option<Anneal>)>, AppError> {
    let name = settings.penalty_name();
    if name == NO_PENALTY {
        return Ok(None);
    }
    let base = vocabulary::penalty_base(name);
    let defaults = PenaltyConfig::default_for(base).map_err(AppError::Penalty)?;
    let mut value = serde_json::to_value(defaults).expect("a config serialises");
    let fields = value.as_object_mut().expect("a penalty is an object");
    fields.remove("penalty");
    let weight = if fields.contains_key("lambda") {
        "lambda"
    } else {
        "beta"
    };
    set_present(
        fields,
        [
            (weight, Some(json!(settings.lambda))),
            ("target", Some(json!(settings.kl_target))),
            ("scale", settings.scale.map(|v| json!(v))),
            ("eps", settings.eps.map(|v| json!(v))),
            ("p", settings.p.map(|v| json!(v))),
        ],
    );
    for (penalty, ours) in PENALTY_DEFAULTS {
        if penalty == base {
            let ours: Value = serde_json::from_str(ours).expect("valid JSON");
            overlay(fields, Some(&ours), "the command line's defaults")?;
        }
    }
    let own = untagged(
        settings.penalty_config.as_ref(),
        "penalty",
        name,
        vocabulary::canonical_penalty,
    )?;
    overlay(fields, own.as_ref(), "--penalty-config")?;
    let config = PenaltyConfig::from_json(base, &value)
        .and_then(|c| c.init().map(|_| c))
        .map_err(|e| AppError::Setting(format!("--penalty {name}: {e}")))?;
    let target = TARGETS
        .iter()
        .find(|(p, _)| *p == name)
        .map_or(PenaltyTarget::Codes, |(_, t)| *t);
    let steps = run_steps(settings, n_train);
    let anneal = match (&config, name) {
        (PenaltyConfig::Lp(lp), "lp_anneal") => Some(Anneal::P(
            PAnnealConfig::new(steps).with_p_start(1.0).with_p_end(lp.p),
        )),
        (PenaltyConfig::LogSum(log_sum), "log_sum_anneal") => Some(Anneal::Eps(
            EpsAnnealConfig::new(steps)
                .with_eps_start(1.0)
                .with_eps_end(log_sum.eps),
        )),
        _ => None,
    };
    Ok(Some((config, target, anneal)))
}

/// The library's SAE definition for `settings`; `image` is the `[rows, cols]` of the data
/// (`rows = 1` for activations from a file); `n_train` training rows (the length of
/// lp_anneal's and log_sum_anneal's schedules).
pub fn sae_config(
    settings: &Settings,
    d: usize,
    image: [usize; 2],
    n_train: usize,
) -> Result<SaeConfig, AppError> {
    let architecture = architecture(settings)?;
    let (penalty, target, anneal) = match penalty(settings, n_train)? {
        Some((config, target, anneal)) => (Some(config), target, anneal),
        None => (None, PenaltyTarget::Codes, None),
    };
    let (p_anneal, eps_anneal) = match anneal {
        Some(Anneal::P(p)) => (Some(p), None),
        Some(Anneal::Eps(eps)) => (None, Some(eps)),
        None => (None, None),
    };
    let atom_penalty = (settings.tv > 0.0).then(|| {
        PenaltyConfig::TotalVariation(TotalVariationConfig::new().with_lambda(settings.tv))
    });
    if atom_penalty.is_some() && image[0] < 2 {
        return Err(AppError::Setting(
            "--tv needs image data (atoms of at least 2 × 2 pixels), not --data rows".into(),
        ));
    }
    let unit_norm =
        architecture.unit_norm_decoder() || UNIT_NORM_DECODER.contains(&architecture.name());
    // A fraction of the run's optimizer steps, in steps (--resample-until, --warmup-fraction).
    let steps = run_steps(settings, n_train);
    let of_run = |fraction: f64| (steps as f64 * fraction) as usize;
    let config = SaeConfig::new(d, settings.hidden)
        .with_architecture(architecture)
        .with_penalty(penalty)
        .with_penalty_target(target)
        .with_atom_penalty(atom_penalty)
        .with_atom_shape(if settings.tv > 0.0 {
            image.to_vec()
        } else {
            Vec::new()
        })
        .with_encoder_mask_density(settings.mask_density)
        .with_unit_norm_decoder(unit_norm)
        .with_aux_k(settings.aux_k)
        .with_resample(settings.resample_every.map(|every| {
            // During the first half (--resample-until) of the run's optimizer steps.
            let fraction = settings.resample_until.unwrap_or(0.5);
            ResampleConfig::new(every).with_until(Some(of_run(fraction)))
        }))
        .with_penalty_warmup_steps(
            settings
                .warmup_fraction
                .map_or(settings.warmup_steps, of_run),
        )
        .with_p_anneal(p_anneal)
        .with_eps_anneal(eps_anneal)
        .with_seed(settings.seed);
    config.validate().map_err(crate::error::library)?;
    Ok(config)
}

/// Refuses, before any output is written, a model of `settings` on `data` that is invalid or
/// would not fit in memory: the SAE's weights (always drawn on the host), and a whole training
/// run on the CPU backends (the library checks both again; here nothing has been created yet);
/// and a backend with no device.
pub fn preflight(settings: &Settings, data: &crate::data::RunData) -> Result<(), AppError> {
    use sparse_autoencoders::memory;
    if data.n_test < crate::data::MIN_TEST_ROWS {
        return Err(AppError::Setting(format!(
            "the test split has {} row(s); explained variance needs at least {}",
            data.n_test,
            crate::data::MIN_TEST_ROWS
        )));
    }
    let config = sae_config(settings, data.dim, data.image, data.n_train)?;
    memory::check("the SAE's weights", 2 * memory::parameter_bytes(&config))
        .map_err(crate::error::library)?;
    // Values the training cannot use (a scale far from 1): refused before the folder exists
    // (rows on disk are read once, a chunk at a time).
    let source = settings.data_file.as_ref().unwrap_or(&settings.data_dir);
    for (what, rows) in [("training data", &data.train), ("test data", &data.test)] {
        rows.check(what, data.dim)
            .map_err(|e| AppError::Setting(format!("{}: {e}", source.display())))?;
    }
    // A missing GPU (no wgpu adapter, no CUDA device) is found before the folder exists too.
    for index in 0..settings.devices.max(1) {
        device_at(settings.backend, index)?;
    }
    if matches!(settings.backend, BackendKind::Flex | BackendKind::Ndarray) {
        let needed = memory::training_bytes(&config, settings.batch_size);
        memory::check("training", needed).map_err(crate::error::library)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The settings of `--arch relu --penalty PENALTY` for 2 epochs of batches of 256.
    fn relu_with(penalty: &str) -> Settings {
        let mut s = Settings::new("unused".into());
        s.arch = "relu".into();
        s.penalty = Some(penalty.into());
        s.epochs = 2;
        s.batch_size = 256;
        s
    }

    #[test]
    fn the_anneal_recipes_schedule_their_penalty_over_the_run() {
        // 1,000 rows in batches of 256 for 2 epochs: 8 steps.
        let mut s = relu_with("log_sum_anneal");
        s.eps = Some(0.05);
        let c = sae_config(&s, 4, [1, 4], 1000).unwrap();
        let eps = c.eps_anneal.expect("log_sum_anneal anneals ε");
        assert_eq!((eps.eps_start, eps.eps_end, eps.steps), (1.0, 0.05, 8));
        assert!(c.p_anneal.is_none());
        assert!(matches!(c.penalty, Some(PenaltyConfig::LogSum(ref l)) if l.eps == 0.05));
        assert_eq!(c.penalty_target, PenaltyTarget::DecoderWeightedCodes);

        let c = sae_config(&relu_with("lp_anneal"), 4, [1, 4], 1000).unwrap();
        let p = c.p_anneal.expect("lp_anneal anneals p");
        assert_eq!((p.p_start, p.p_end, p.steps), (1.0, 0.5, 8));
        assert!(c.eps_anneal.is_none());

        let c = sae_config(&relu_with("log_sum"), 4, [1, 4], 1000).unwrap();
        assert!(c.p_anneal.is_none() && c.eps_anneal.is_none());
    }
}
