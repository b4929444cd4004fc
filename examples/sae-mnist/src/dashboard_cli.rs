//! `sae-mnist dashboard RUN [--out DIR]`: the feature dashboard of a run (or of a SAELens or
//! sparsify directory with `--data`), a static site that opens from disk.

use std::path::PathBuf;
use std::sync::Arc;

use burn::module::Module;
use burn::prelude::*;
use burn::tensor::TensorData;
use clap::Parser;
use sparse_autoencoders::dashboard::{
    collect, write_site, DashboardConfig, Extras, LogitEffects, Pictures,
};
use sparse_autoencoders::data::{load_mnist_limited, RowStore, Split};
use sparse_autoencoders::{RowSource, Sae};

use crate::backend::device_for;
use crate::error::AppError;
use crate::model_run::classifier::{Classifier, ClassifierConfig, Layer};
use crate::model_run::cli::{ModelCli, CLASSIFIER, MODEL_SETTINGS};
use crate::model_run::report::column_mean;
use crate::saved::{load_sae, SavedKind};
use crate::settings::{BackendKind, Settings};

/// `sae-mnist dashboard`.
#[derive(Parser, Debug)]
#[command(
    name = "sae-mnist dashboard",
    about = "Write the feature dashboard of an SAE: an index of all latents and a page per latent, a static site that opens from disk"
)]
pub struct DashboardCli {
    /// A run folder (sae-mnist or sae-mnist model), or a SAELens or sparsify directory (then
    /// give --data).
    pub run: PathBuf,
    /// Where to write the site (default: RUN/dashboard).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// The rows to show (a .npy or .safetensors file, or an activation store); default: the
    /// run's test split.
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
    /// Top activating rows per latent.
    #[arg(long, default_value_t = 12)]
    pub top_k: usize,
    /// Rows encoded at once.
    #[arg(long, default_value_t = 1024)]
    pub batch_size: usize,
    /// Threads writing the pages (0: all cores).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// The backend that encodes the rows.
    #[arg(long, value_enum, default_value = "flex")]
    pub backend: BackendKind,
    /// No summary line.
    #[arg(long)]
    pub quiet: bool,
}

/// Each latent's effect on the classifier's logits: `logits(m + a_j·W_dec[j]) − logits(m)`,
/// with `m` the mean activation of the rows at the layer and `a_j` the latent's mean
/// activation (1 for a latent that never fired).
fn logit_effects(
    sae: &Sae,
    classifier: &Classifier,
    layer: Layer,
    rows: &RowStore,
    means: &[f64],
) -> Result<LogitEffects, AppError> {
    let (d, h) = (sae.d_in(), sae.d_sae());
    let device = sae.w_dec.val().device();
    let m = column_mean(rows)?;
    let base = Tensor::<2>::from_data(TensorData::new(m, [1, d]), &device);
    let scale: Vec<f32> = means
        .iter()
        .map(|&a| if a > 0.0 { a as f32 } else { 1.0 })
        .collect();
    let scale = Tensor::<1>::from_data(TensorData::new(scale, [h]), &device);
    let shifted = base.clone() + sae.w_dec.val() * scale.unsqueeze_dim::<2>(1);
    let effects = classifier.logits_from(layer, shifted) - classifier.logits_from(layer, base);
    let classes = effects.dims()[1];
    Ok(LogitEffects {
        classes: (0..classes).map(|c| format!("digit {c}")).collect(),
        effects: effects.try_into_vec_as::<f32>().expect("float logits"),
        description: format!(
            "Δ logit = logits(m + a·d) − logits(m) through the classifier's layers after {}: m the mean activation at {}, d the latent's decoder row, a its mean activation",
            layer.name(),
            layer.name()
        ),
    })
}

/// The MNIST test images a run of `settings` was evaluated on (at most `--test-limit`).
fn test_images(settings: &Settings) -> Result<Split, AppError> {
    let mut mnist = load_mnist_limited(&settings.data_dir, Some(1), settings.test_limit)?;
    if let Some(n) = settings.test_limit {
        mnist.test.truncate(n);
    }
    Ok(mnist.test)
}

/// Runs `sae-mnist dashboard`.
pub fn main(args: Vec<std::ffi::OsString>) -> Result<(), AppError> {
    let Some(cli) = crate::parse_subcommand::<DashboardCli>(args)? else {
        return Ok(());
    };
    if cli.top_k == 0 || cli.batch_size == 0 {
        return Err(AppError::Setting(
            "--top-k and --batch-size must be at least 1".into(),
        ));
    }
    let device = device_for(cli.backend)?;
    let saved = load_sae(&cli.run, &device)?;
    let sae = saved.sae;
    let out = cli.out.clone().unwrap_or_else(|| cli.run.join("dashboard"));
    let mut config = DashboardConfig::new()
        .with_top_k(cli.top_k)
        .with_batch_size(cli.batch_size)
        .with_threads(cli.threads)
        .with_title(format!(
            "{} · {}",
            cli.run
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| cli.run.display().to_string()),
            sae.config.architecture.name()
        ));
    let mut pictures = None;
    let mut model = None;
    let rows: RowSource = match (&cli.data, &saved.kind) {
        (Some(file), _) => {
            config.source = file.display().to_string();
            RowSource::Disk(RowStore::open(file).map_err(|e| AppError::Setting(e.to_string()))?)
        }
        (None, SavedKind::External(_)) => {
            return Err(AppError::Setting(format!(
                "{} is not a run of ours: give --data FILE with the rows to show",
                cli.run.display()
            )))
        }
        (None, SavedKind::Images(shape)) => {
            let s = saved.settings.as_ref().expect("runs of ours have settings");
            config.image_shape = shape.to_vec();
            config.source = format!("the test images of {}", s.data_dir.display());
            RowSource::Memory(Arc::new(test_images(s)?.images))
        }
        (None, SavedKind::Rows(file)) => {
            let data = crate::data::load_rows(file)?;
            config.source = format!("the test rows of {}", file.display());
            data.test
        }
        (None, SavedKind::Model(layer)) => {
            let text = std::fs::read_to_string(cli.run.join(MODEL_SETTINGS))
                .map_err(crate::error::io(cli.run.join(MODEL_SETTINGS)))?;
            let model_cli: ModelCli = serde_json::from_str(&text)
                .map_err(|e| AppError::Setting(format!("{MODEL_SETTINGS}: {e}")))?;
            let store = RowStore::open(cli.run.join("activations/test").join(layer))?;
            let test = test_images(&model_cli.sae)?;
            if test.n == store.len() {
                pictures = Some(Pictures {
                    rows: RowSource::Memory(Arc::new(test.images)),
                    shape: [28, 28],
                });
            }
            let path = cli.run.join(CLASSIFIER);
            let classifier = ClassifierConfig::new()
                .init(&device)?
                .try_load_file(&path)
                .map_err(|e| AppError::Record {
                    path: path.clone(),
                    message: format!("{e:?}"),
                })?;
            model = Some((classifier, model_cli.layer, store.clone()));
            config.source = format!("the {layer} activations of the test images");
            RowSource::Disk(store)
        }
    };
    let started = std::time::Instant::now();
    let stats = collect(&sae, &rows, &config).map_err(|e| AppError::Setting(e.to_string()))?;
    let pass = started.elapsed().as_secs_f64();
    let effects = match &model {
        Some((classifier, layer, store)) => {
            let means: Vec<f64> = (0..sae.d_sae()).map(|j| stats.mean(j)).collect();
            Some(logit_effects(&sae, classifier, *layer, store, &means)?)
        }
        None => None,
    };
    let started = std::time::Instant::now();
    let extras = Extras {
        effects: effects.as_ref(),
        pictures: pictures.as_ref(),
    };
    write_site(&sae, &rows, &stats, &config, &extras, &out)
        .map_err(|e| AppError::Setting(e.to_string()))?;
    if !cli.quiet {
        crate::say!(
            "dashboard of {} latents on {} rows in {} (pass {:.2} s, pages {:.2} s): open {}",
            sae.d_sae(),
            stats.rows,
            out.display(),
            pass,
            started.elapsed().as_secs_f64(),
            out.join("index.html").display()
        );
    }
    Ok(())
}
