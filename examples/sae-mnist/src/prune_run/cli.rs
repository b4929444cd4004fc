//! The command line of `sae-mnist prune` and its run.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::tensor::TensorData;
use clap::Parser;
use sparse_autoencoders::data::{load_mnist_limited, read_npy};
use sparse_losses::prune::{PrunePattern, SparseGptConfig};

use super::setting::{evaluate_valid, run_setting, Data, MethodArg, Outcome, Recipe};
use crate::backend::device_for;
use crate::chart::{frontier_chart, Panel, Series};
use crate::error::{io, AppError};
use crate::model_run::classifier::{
    train_classifier, Classifier, ClassifierConfig, ClassifierTraining,
};
use crate::run_dir::write_atomic;
use crate::settings::BackendKind;

/// `sae-mnist prune`.
#[derive(Parser, Debug)]
#[command(
    name = "sae-mnist prune",
    about = "Prune the two hidden layers of the MNIST classifier (784-512-256-10) by magnitude, global magnitude, Wanda or SparseGPT, then recover one epoch with the masks frozen; with no --method, every setting of torch_prune_mlp.py"
)]
pub struct PruneCli {
    /// One method (default: every method of the reference at 50 %, 70 %, 90 % and 2:4).
    #[arg(long, value_enum)]
    pub method: Option<MethodArg>,
    /// The fraction of each layer pruned (unstructured) [default with --method: 0.5].
    #[arg(long, conflicts_with = "pattern")]
    pub sparsity: Option<f64>,
    /// An n:m pattern, e.g. 2:4.
    #[arg(long, value_name = "N:M")]
    pub pattern: Option<String>,
    /// The dense classifier from the .npy files `torch_prune_mlp.py --save-dense DIR` writes
    /// (l1.weight.npy [512, 784], l1.bias.npy, ..., PyTorch's [out, in]) instead of training one.
    #[arg(long, value_name = "DIR")]
    pub weights: Option<PathBuf>,
    /// Calibration images (the first train images).
    #[arg(long, default_value_t = 512)]
    pub calib: usize,
    /// Epochs of the recovery fine-tune (Adam 1e-4, batch 128, masks frozen).
    #[arg(long, default_value_t = 1)]
    pub ft_epochs: usize,
    /// Epochs of the classifier's training (Adam 1e-3, batch 128).
    #[arg(long, default_value_t = 5)]
    pub clf_epochs: usize,
    /// SparseGPT's block size.
    #[arg(long, default_value_t = 128)]
    pub block_size: usize,
    /// SparseGPT's damping.
    #[arg(long, default_value_t = 0.01)]
    pub damp: f64,
    /// Seed of the classifier.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// MNIST folder (IDX files) [default: the bundled mnist-10k].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Use only the first N training images.
    #[arg(long)]
    pub train_limit: Option<usize>,
    /// Use only the first N test images.
    #[arg(long)]
    pub test_limit: Option<usize>,
    /// Output folder for prune.jsonl and prune.png [default: runs/prune].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// The backend.
    #[arg(long, value_enum, default_value = "flex")]
    pub backend: BackendKind,
    /// No table on the terminal.
    #[arg(long)]
    pub quiet: bool,
}

/// `n:m` from text.
fn parse_pattern(text: &str) -> Result<PrunePattern, AppError> {
    let bad = || AppError::Setting(format!("--pattern {text}: expected N:M, e.g. 2:4"));
    let (n, m) = text.split_once(':').ok_or_else(bad)?;
    Ok(PrunePattern::NOfM {
        n: n.trim().parse().map_err(|_| bad())?,
        m: m.trim().parse().map_err(|_| bad())?,
    })
}

/// The reference's settings: every method at 50 %, 70 %, 90 %, and 2:4 for all but the
/// global magnitude.
fn reference_settings() -> Vec<(MethodArg, PrunePattern)> {
    let methods = [
        MethodArg::Magnitude,
        MethodArg::MagnitudeGlobal,
        MethodArg::Wanda,
        MethodArg::Sparsegpt,
    ];
    let mut out = Vec::new();
    for m in methods {
        for s in [0.5, 0.7, 0.9] {
            out.push((m, PrunePattern::Unstructured { sparsity: s }));
        }
    }
    for m in [MethodArg::Magnitude, MethodArg::Wanda, MethodArg::Sparsegpt] {
        out.push((m, PrunePattern::NOfM { n: 2, m: 4 }));
    }
    out
}

/// Reads PyTorch's dense classifier (`[out, in]` weights) into `clf`.
fn load_torch_weights(
    clf: Classifier,
    dir: &Path,
    device: &Device,
) -> Result<Classifier, AppError> {
    let read = |name: &str, shape: &[usize]| -> Result<Vec<f32>, AppError> {
        let path = dir.join(format!("{name}.npy"));
        let a = read_npy(&path).map_err(|e| AppError::Setting(e.to_string()))?;
        if a.shape != shape {
            return Err(AppError::Setting(format!(
                "{}: shape {:?}, expected {shape:?} (PyTorch's [out, in])",
                path.display(),
                a.shape
            )));
        }
        Ok(a.data)
    };
    let mut clf = clf;
    for (name, out, inp) in [("l1", 512, 784), ("l2", 256, 512), ("l3", 10, 256)] {
        let w = read(&format!("{name}.weight"), &[out, inp])?;
        let b = read(&format!("{name}.bias"), &[out])?;
        let w = Tensor::<2>::from_data(TensorData::new(w, [out, inp]), device).transpose();
        let b = Tensor::<1>::from_data(TensorData::new(b, [out]), device);
        let layer = match name {
            "l1" => &mut clf.l1,
            "l2" => &mut clf.l2,
            _ => &mut clf.l3,
        };
        layer.weight = layer.weight.clone().map(|_| w.clone().require_grad());
        layer.bias = layer
            .bias
            .clone()
            .map(|p| p.map(|_| b.clone().require_grad()));
    }
    Ok(clf)
}

fn pattern_label(p: &Option<PrunePattern>) -> String {
    match p {
        None => "dense".into(),
        Some(PrunePattern::Unstructured { sparsity }) => format!("{:.0} %", sparsity * 100.0),
        Some(PrunePattern::NOfM { n, m }) => format!("{n}:{m}"),
        Some(PrunePattern::Rows { sparsity }) => format!("rows {:.0} %", sparsity * 100.0),
    }
}

/// The terminal's table.
fn table(lines: &[Outcome]) -> String {
    let mut out = String::from("| method | pattern | sparsity | acc | ce | acc recovered | ce recovered | s |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n");
    let f = |v: Option<f64>| v.map_or("".into(), |v| format!("{v:.4}"));
    for l in lines {
        out.push_str(&format!(
            "| {} | {} | {} | {:.4} | {:.4} | {} | {} | {} |\n",
            l.method,
            pattern_label(&l.pattern),
            f(l.sparsity_l1_l2),
            l.acc,
            l.ce,
            f(l.acc_recovered),
            f(l.ce_recovered),
            l.prune_seconds.map_or("".into(), |s| format!("{s:.2}"))
        ));
    }
    out
}

/// Runs `sae-mnist prune`.
pub fn main(args: Vec<std::ffi::OsString>) -> Result<(), AppError> {
    let Some(cli) = crate::parse_subcommand::<PruneCli>(args)? else {
        return Ok(());
    };
    let settings: Vec<(MethodArg, PrunePattern)> = match cli.method {
        None if cli.sparsity.is_some() || cli.pattern.is_some() => {
            return Err(AppError::Setting(
                "--sparsity and --pattern need --method (without one, every setting of the reference runs)".into(),
            ))
        }
        None => reference_settings(),
        Some(m) => {
            let pattern = match &cli.pattern {
                Some(p) => parse_pattern(p)?,
                None => PrunePattern::Unstructured {
                    sparsity: cli.sparsity.unwrap_or(0.5),
                },
            };
            vec![(m, pattern)]
        }
    };
    for (m, p) in &settings {
        if *m == MethodArg::MagnitudeGlobal && !matches!(p, PrunePattern::Unstructured { .. }) {
            return Err(AppError::Setting(
                "magnitude_global prunes unstructured: give --sparsity, not --pattern".into(),
            ));
        }
        // Both layers have 784 and 512 inputs: check the pattern once, before any work.
        p.validate("prune", 784)
            .and_then(|_| p.validate("prune", 512))
            .map_err(|e| AppError::Setting(e.to_string()))?;
    }
    let sparsegpt = SparseGptConfig::new()
        .with_block_size(cli.block_size)
        .with_damp(cli.damp);
    if let Some((_, p)) = settings.first() {
        sparsegpt
            .validate(*p)
            .map_err(|e| AppError::Setting(e.to_string()))?;
    }
    if cli.calib == 0 || cli.clf_epochs == 0 {
        return Err(AppError::Setting(
            "--calib and --clf-epochs must be at least 1".into(),
        ));
    }
    let data_dir = cli.data_dir.clone().unwrap_or_else(crate::default_data_dir);
    let mnist = load_mnist_limited(&data_dir, cli.train_limit, cli.test_limit)?;
    let (train, test) = (&mnist.train, &mnist.test);
    let out = cli
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs/prune"));
    std::env::set_var("BURN_DEVICE", cli.backend.name());
    let device = device_for(cli.backend)?.autodiff();
    device.seed(cli.seed);
    let clf = ClassifierConfig::new()
        .with_d_in(train.dim())
        .init(&device)?;
    let dense = match &cli.weights {
        Some(dir) => load_torch_weights(clf, dir, &device)?,
        None => train_classifier(
            clf,
            &train.images,
            &train.labels,
            &ClassifierTraining {
                epochs: cli.clf_epochs,
                batch_size: 128,
                lr: 1e-3,
                seed: cli.seed,
            },
            &device,
            |_, _| {},
        ),
    };
    let calib = cli.calib.min(train.n);
    let data = Data {
        train: (&train.images, &train.labels),
        test: (&test.images, &test.labels),
        calibration: Tensor::<2>::from_data(
            TensorData::new(
                train.images[..calib * train.dim()].to_vec(),
                [calib, train.dim()],
            ),
            &device,
        ),
    };
    std::fs::create_dir_all(&out).map_err(io(&out))?;
    let (acc, ce) = evaluate_valid(&dense, &data);
    let mut lines = vec![Outcome {
        method: "dense",
        pattern: None,
        acc,
        ce,
        acc_recovered: None,
        ce_recovered: None,
        sparsity_l1_l2: None,
        prune_seconds: None,
    }];
    let jsonl = out.join("prune.jsonl");
    let tmp = out.join("prune.jsonl.tmp");
    let mut file = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    let push = |line: &Outcome, file: &mut std::fs::File| -> Result<(), AppError> {
        let text = serde_json::to_string(line).expect("an outcome serialises");
        writeln!(file, "{text}").map_err(io(&tmp))
    };
    push(&lines[0], &mut file)?;
    for (method, pattern) in settings {
        let recipe = Recipe {
            method,
            pattern,
            sparsegpt: sparsegpt.clone(),
            recovery: ClassifierTraining {
                epochs: cli.ft_epochs,
                batch_size: 128,
                lr: 1e-4,
                seed: 1,
            },
        };
        let outcome = match run_setting(&dense, &data, &recipe, &device) {
            Ok(o) => o,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
        };
        if !cli.quiet {
            crate::say!(
                "{} {}: acc {:.4} → {} after recovery",
                outcome.method,
                pattern_label(&outcome.pattern),
                outcome.acc,
                outcome
                    .acc_recovered
                    .map_or("-".into(), |a| format!("{a:.4}"))
            );
        }
        push(&outcome, &mut file)?;
        lines.push(outcome);
    }
    drop(file);
    std::fs::rename(&tmp, &jsonl).map_err(io(&jsonl))?;
    // Accuracy against sparsity, one line per method (2:4 as its own point).
    let series = |recovered: bool| -> Vec<Series> {
        let mut names: Vec<String> = Vec::new();
        for l in &lines[1..] {
            let name = match l.pattern {
                Some(PrunePattern::NOfM { n, m }) => format!("{} {n}:{m}", l.method),
                _ => l.method.to_string(),
            };
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
            .into_iter()
            .map(|name| Series {
                points: lines[1..]
                    .iter()
                    .filter(|l| {
                        let n = match l.pattern {
                            Some(PrunePattern::NOfM { n, m }) => format!("{} {n}:{m}", l.method),
                            _ => l.method.to_string(),
                        };
                        n == name
                    })
                    .filter_map(|l| {
                        let y = if recovered { l.acc_recovered? } else { l.acc };
                        Some((l.sparsity_l1_l2?, y))
                    })
                    .collect(),
                name,
            })
            .collect()
    };
    let panels = [
        Panel {
            y_label: "test accuracy, pruned".into(),
            series: series(false),
        },
        Panel {
            y_label: "test accuracy, after recovery".into(),
            series: series(true),
        },
    ];
    let title = format!("sae-mnist prune (dense accuracy {:.3})", lines[0].acc);
    frontier_chart(&title, "sparsity of l1 and l2", &panels).save(&out.join("prune.png"))?;
    let md = table(&lines);
    write_atomic(&out.join("prune.md"), md.as_bytes())?;
    if !cli.quiet {
        crate::say!("{md}");
        crate::say!(
            "wrote {}, prune.md and prune.png in {}",
            jsonl.display(),
            out.display()
        );
    }
    Ok(())
}
