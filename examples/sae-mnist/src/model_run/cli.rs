//! The command line of `sae-mnist model` and its run: classifier, harvest, SAE, report.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::prelude::*;
use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser};
use serde::{Deserialize, Serialize};
use sparse_autoencoders::data::{load_mnist_limited, Mnist, RowStore, StoreDtype, StoreSource};
use sparse_autoencoders::harvest::{harvest, module_fingerprint, HarvestConfig};
use sparse_autoencoders::{fit, FitOptions, TrainConfig};

use super::classifier::{train_classifier, ClassifierConfig, ClassifierTraining, Layer};
use super::report::{measure, table};
use crate::backend::device_for;
use crate::error::{io, AppError};
use crate::run_dir::{write_atomic, RunDir};
use crate::settings::Settings;

/// Train the classifier of `torch_model_sae.py` (784-512-256-10 MLP) in Burn on MNIST,
/// harvest its activations at `--layer` to activation stores, train an SAE on them streamed
/// from disk (the SAE flags are those of `sae-mnist`), then splice the SAE's reconstruction
/// back into the classifier and probe its latents: metrics.json and a table.
#[derive(Parser, Debug, Clone, Serialize, Deserialize)]
#[command(name = "sae-mnist model", allow_negative_numbers = true)]
#[serde(deny_unknown_fields)]
pub struct ModelCli {
    /// The layer whose activations the SAE reconstructs.
    #[arg(long, value_enum, default_value = "h1")]
    pub layer: Layer,
    /// Epochs of the classifier.
    #[arg(long, default_value_t = 5)]
    pub clf_epochs: usize,
    /// Images a step of the classifier.
    #[arg(long, default_value_t = 128)]
    pub clf_batch_size: usize,
    /// Adam's learning rate for the classifier.
    #[arg(long, default_value_t = 1e-3)]
    pub clf_lr: f64,
    /// Element type of the activation stores' shards.
    #[arg(long, value_enum, default_value = "f32")]
    pub store_dtype: StoreDtypeArg,
    /// Rows a shard of the activation stores.
    #[arg(long, default_value_t = 4096)]
    pub rows_per_shard: usize,
    /// Skip the sparse probes.
    #[arg(long)]
    pub no_probe: bool,
    /// The SAE and the data (see `sae-mnist --help`).
    #[command(flatten)]
    pub sae: Settings,
    /// Output folder [default: runs/model-LAYER-RUN].
    #[arg(long, value_name = "DIR")]
    #[serde(skip)]
    pub out: Option<PathBuf>,
    /// Continue the model run in DIR (its settings from DIR/model.json): the classifier, the
    /// stores and the SAE's checkpoints it has are kept. Takes no other flag but --quiet.
    #[arg(long, value_name = "DIR")]
    #[serde(skip)]
    pub resume: Option<PathBuf>,
    /// No progress lines.
    #[arg(long)]
    #[serde(skip)]
    pub quiet: bool,
}

/// The stores' element type on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum StoreDtypeArg {
    /// 4 bytes a value.
    F32,
    /// 2 bytes (IEEE half).
    F16,
    /// 2 bytes (bfloat16).
    Bf16,
}

impl From<StoreDtypeArg> for StoreDtype {
    fn from(a: StoreDtypeArg) -> Self {
        match a {
            StoreDtypeArg::F32 => StoreDtype::F32,
            StoreDtypeArg::F16 => StoreDtype::F16,
            StoreDtypeArg::Bf16 => StoreDtype::Bf16,
        }
    }
}

/// The settings file of a model run.
pub const MODEL_SETTINGS: &str = "model.json";
/// The trained classifier (burnpack).
pub const CLASSIFIER: &str = "classifier.bpk";

/// Runs `sae-mnist model ARGS` (`args` starts with the program name).
pub fn main(args: impl IntoIterator<Item = std::ffi::OsString>) -> Result<(), AppError> {
    let parsed = ModelCli::command()
        .try_get_matches_from(args)
        .and_then(|m| ModelCli::from_arg_matches(&m).map(|cli| (cli, m)));
    let (cli, matches) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => {
            return match crate::clap_line(&e) {
                None => {
                    let _ = e.print();
                    Ok(())
                }
                Some(line) => Err(AppError::Usage(line)),
            };
        }
    };
    let Some(dir) = cli.resume.clone() else {
        return run(cli, false);
    };
    let given = ModelCli::command()
        .get_arguments()
        .map(|a| a.get_id().as_str().to_string())
        .find(|id| {
            matches.value_source(id) == Some(ValueSource::CommandLine)
                && id != "resume"
                && id != "quiet"
        });
    if let Some(flag) = given {
        return Err(AppError::Setting(format!(
            "model --resume takes the settings of {}; --{} cannot be given with it",
            dir.join(MODEL_SETTINGS).display(),
            flag.replace('_', "-")
        )));
    }
    let path = dir.join(MODEL_SETTINGS);
    let bytes = std::fs::read(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => AppError::Setting(format!(
            "nothing to resume in {}: no {MODEL_SETTINGS} (give the --out folder of a model run)",
            dir.display()
        )),
        _ => AppError::Io {
            path: path.clone(),
            source: e,
        },
    })?;
    let saved: ModelCli =
        serde_json::from_slice(&bytes).map_err(|source| AppError::Json { path, source })?;
    run(
        ModelCli {
            out: Some(dir),
            quiet: cli.quiet,
            ..saved
        },
        true,
    )
}

fn run(cli: ModelCli, resume: bool) -> Result<(), AppError> {
    let mut sae = cli.sae.clone();
    sae.fill_defaults();
    sae.validate()?;
    if sae.data_file.is_some() {
        return Err(AppError::Setting(
            "--data does not apply to `model` (it reads MNIST images and labels: --data-dir)"
                .into(),
        ));
    }
    if cli.clf_epochs == 0
        || cli.clf_batch_size == 0
        || !(cli.clf_lr > 0.0 && cli.clf_lr.is_finite())
    {
        return Err(AppError::Setting(
            "--clf-epochs and --clf-batch-size must be at least 1 and --clf-lr a finite number > 0"
                .into(),
        ));
    }
    if cli.rows_per_shard == 0 {
        return Err(AppError::Setting(
            "--rows-per-shard must be at least 1".into(),
        ));
    }
    let out = cli.out.clone().unwrap_or_else(|| {
        PathBuf::from("runs").join(format!("model-{}-{}", cli.layer.name(), sae.run_name()))
    });
    if !resume && out.join(MODEL_SETTINGS).exists() {
        return Err(AppError::Setting(format!(
            "{} holds a model run; continue it with `sae-mnist model --resume {}`, or choose \
             another --out",
            out.display(),
            out.display()
        )));
    }
    if resume && out.join("metrics.json").exists() {
        return Err(AppError::Setting(format!(
            "{} is a finished model run (it holds metrics.json): nothing to resume",
            out.display()
        )));
    }
    std::env::set_var("BURN_DEVICE", sae.backend.name());
    let mut data = load_mnist_limited(&sae.data_dir, sae.train_limit, sae.test_limit)?;
    if let Some(n) = sae.train_limit {
        data.train.truncate(n);
    }
    if let Some(n) = sae.test_limit {
        data.test.truncate(n);
    }
    if data.test.n < crate::data::MIN_TEST_ROWS {
        return Err(AppError::Setting(format!(
            "the test split has {} image(s); at least {} are needed",
            data.test.n,
            crate::data::MIN_TEST_ROWS
        )));
    }
    let device = device_for(sae.backend)?;
    let dir = RunDir { root: out.clone() };
    let created = dir.create()?;
    let _lock = dir.lock()?;
    let outcome = (|| {
        if !resume {
            let json = serde_json::to_vec_pretty(&cli).expect("settings serialise");
            write_atomic(&out.join(MODEL_SETTINGS), &json)?;
        }
        pipeline(&cli, &sae, &data, &out, &device)
    })();
    if outcome.is_err() && !resume && !out.join(CLASSIFIER).exists() {
        created.discard(&[MODEL_SETTINGS, crate::run_dir::LOCK, "activations"]);
    }
    outcome
}

/// Classifier, harvest, SAE, report, in `out`.
fn pipeline(
    cli: &ModelCli,
    sae_settings: &Settings,
    data: &Mnist,
    out: &Path,
    device: &Device,
) -> Result<(), AppError> {
    let say = |line: String| {
        if !cli.quiet {
            crate::say!("{line}");
        }
    };
    let lib = |e: sparse_autoencoders::Error| AppError::Setting(e.to_string());
    // 1. The classifier: trained once, then kept.
    let path = out.join(CLASSIFIER);
    let config = ClassifierConfig::new().with_d_in(data.train.dim());
    let classifier = if path.exists() {
        config
            .init(device)?
            .try_load_file(&path)
            .map_err(|e| AppError::Record {
                path: path.clone(),
                message: format!("{e:?}"),
            })?
    } else {
        let ad = device.clone().autodiff();
        ad.seed(sae_settings.seed);
        let recipe = ClassifierTraining {
            epochs: cli.clf_epochs,
            batch_size: cli.clf_batch_size,
            lr: cli.clf_lr,
            seed: sae_settings.seed,
        };
        let model = train_classifier(
            config.init(&ad)?,
            &data.train.images,
            &data.train.labels,
            &recipe,
            &ad,
            |epoch, loss| {
                say(format!(
                    "classifier epoch {epoch}/{}: loss {loss:.4}",
                    recipe.epochs
                ))
            },
        );
        let tmp = out.join("classifier.tmp.bpk");
        model
            .clone()
            .save_file(&tmp)
            .map_err(|e| AppError::Record {
                path: tmp.clone(),
                message: format!("{e:?}"),
            })?;
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        model.valid()
    };
    let classifier = classifier.to_device(device);
    // 2. The activations at the layer, train and test, to stores.
    let layer = cli.layer;
    let source = StoreSource {
        model: module_fingerprint(&classifier),
        data: crate::data::fingerprint_mnist(data),
    };
    let harvest_config = HarvestConfig::new()
        .with_dtype(cli.store_dtype.into())
        .with_rows_per_shard(cli.rows_per_shard);
    let mut stores = Vec::new();
    for (split_name, split) in [("train", &data.train), ("test", &data.test)] {
        let d = split.dim();
        let batches = split.images.chunks(1000 * d).map(|chunk| {
            Tensor::<2>::from_data(
                burn::tensor::TensorData::new(chunk.to_vec(), [chunk.len() / d, d]),
                device,
            )
        });
        let dir = out.join("activations").join(split_name);
        // A progress bar with rows/s (on stderr, hidden with --quiet).
        let bar = if cli.quiet {
            indicatif::ProgressBar::hidden()
        } else {
            indicatif::ProgressBar::new(split.n as u64)
        };
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "harvest {msg} [{bar:30}] {pos}/{len} rows, {per_sec}",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
        bar.set_message(format!("{split_name} {}", layer.name()));
        let report = harvest(
            batches,
            &[layer.name()],
            |x| vec![classifier.point(layer, x)],
            &dir,
            &harvest_config,
            source.clone(),
            |p| bar.set_position(p.rows as u64),
        )
        .map_err(lib)?;
        bar.finish_and_clear();
        say(format!(
            "harvested {} {split_name} rows of {} ({:.0} rows/s{})",
            report.rows,
            layer.name(),
            (report.rows - report.resumed_rows) as f64 / report.seconds.max(1e-9),
            if report.resumed_rows > 0 {
                format!(", {} kept from before", report.resumed_rows)
            } else {
                String::new()
            }
        ));
        stores.push(RowStore::open(dir.join(layer.name()))?);
    }
    let (train, test) = (stores[0].clone(), stores[1].clone());
    // 3. The SAE, streamed from the stores.
    let d = train.dim();
    let config = crate::model::sae_config(sae_settings, d, [1, d], train.len())?;
    let sample = train
        .view(0, crate::train::INIT_ROWS.min(sae_settings.buffer_rows))
        .read_all()?;
    let ad = device.clone().autodiff();
    let sae = config.init_with_data(&sample, &ad).map_err(lib)?;
    drop(sample);
    let burn_dir = out.join("burn");
    let (done, warnings) = crate::run_dir::resume_point(out);
    for w in warnings {
        crate::say_err!("warning: {w}");
    }
    let train_config = TrainConfig::new()
        .with_epochs(sae_settings.epochs)
        .with_batch_size(sae_settings.batch_size)
        .with_learning_rate(sae_settings.lr)
        .with_seed(sae_settings.seed)
        .with_buffer_rows(sae_settings.buffer_rows);
    let options = FitOptions {
        resume_from: (done > 0).then_some(done),
        renderer: Some(Box::new(crate::burn_progress::BurnProgress::new(cli.quiet))),
        strategy: None,
    };
    let fitted = if done >= sae_settings.epochs {
        // Trained already: the last checkpoint's model.
        let record = burn::store::ModuleRecord::load(
            burn_dir
                .join("checkpoint")
                .join(format!("model-{done}.bpk")),
        )
        .map_err(|e| AppError::Checkpoint(format!("{e:?}")))?;
        sae.load_record(record)
    } else {
        fit(
            sae,
            train.clone(),
            test.clone(),
            &train_config,
            &burn_dir,
            options,
        )
        .map_err(|e| AppError::Backend(e.to_string()))?
        .model
    };
    // 4. Splice and probe.
    let model = fitted.valid().to_device(device);
    let metrics = measure(
        &classifier,
        &model,
        layer,
        &train,
        &test,
        &data.train.labels,
        &data.test.labels,
        !cli.no_probe,
        device,
    )?;
    let json = serde_json::json!({
        "settings": cli,
        "metrics": metrics,
    });
    let mut flat = serde_json::to_value(&metrics).expect("metrics serialise");
    if let (Some(obj), Some(all)) = (flat.as_object_mut(), json.as_object()) {
        obj.insert("settings".into(), all["settings"].clone());
    }
    write_atomic(
        &out.join("metrics.json"),
        &serde_json::to_vec_pretty(&flat).expect("metrics serialise"),
    )?;
    crate::say!("{}", table(&metrics));
    crate::say!(
        "outputs in {}: metrics.json, classifier.bpk, activations/, burn/",
        out.display()
    );
    Ok(())
}
