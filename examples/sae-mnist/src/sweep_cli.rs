//! `sae-mnist sweep`: the command line of the sweep ([`crate::sweep`]).

use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, ValueEnum};
use serde::{Deserialize, Serialize};
use sparse_autoencoders::data::{load_mnist_limited, Mnist, Split};
use sparse_autoencoders::synthetic::SyntheticConfig;

use crate::backend::device_for;
use crate::error::AppError;
use crate::run_dir::RunDir;
use crate::settings::{BackendKind, Settings};
use crate::sweep::{self, Method, SweepData, METHODS};
use crate::sweep_dir::{read_bounded, SweepDir, SWEEP_FILES, SWEEP_SETTINGS};

/// `--seeds`' default, for a sweep.json written before the flag.
fn one() -> usize {
    1
}

/// `--resample-until`'s default, for a sweep.json written before the flag.
fn half() -> f64 {
    0.5
}

/// `--tree-depth`'s default, for a sweep.json written before the flag.
fn two() -> usize {
    2
}

/// `--branching`'s default, for a sweep.json written before the flag.
fn four() -> usize {
    4
}

/// The data a sweep trains on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Benchmark {
    /// MNIST digits (the bundled mnist-10k, or --data-dir): test L0 against explained
    /// variance and γ.
    Mnist,
    /// Rows made of known features (the library's `SyntheticConfig`): L0 against MCC,
    /// detection F1, explained variance and γ.
    Synthetic,
}

/// Train every chosen method at a range of strengths on one shared stream of batches and
/// write frontier.csv, frontier.png (test L0 against explained variance and γ; on the
/// synthetic benchmark also MCC and detection F1) and frontier.md (the tables). A killed
/// sweep continues with `sae-mnist sweep --resume DIR`.
///
/// Its settings are saved in `DIR/sweep.json` (every field but `--resume`, `--quiet` and
/// `--plot-only`).
#[derive(Parser, Debug, Clone, Serialize, Deserialize)]
#[command(name = "sae-mnist sweep", allow_negative_numbers = true)]
#[serde(deny_unknown_fields)]
pub struct SweepCli {
    /// The benchmark.
    #[arg(long, value_enum, default_value = "mnist")]
    benchmark: Benchmark,
    /// Comma-separated methods [default: all]: l1 (relu + L1·‖W_d‖), l1+finetune,
    /// l1+resample, tanh, logsum, logsum+resample, logsum-anneal (ε from 1 to 0.1),
    /// logsum-eps1 (ε = 1), lp, lp+resample, lp-anneal, lp-0.9 (p = 0.9), scad, mcp, topk,
    /// batchtopk, matryoshka, jumprelu (θ₀ = 0.3), jumprelu-0.5 (θ₀ = 0.5), gated, l0,
    /// l0+resample, omp, topk+auxk, jumprelu+auxk, lp-anneal-0.9 (p from 1 to 0.9) (+resample:
    /// --resample-every 100 in the first half; +auxk: --aux-k 32).
    #[arg(long, value_delimiter = ',')]
    methods: Option<Vec<String>>,
    /// Two strengths per method (the second and the second-to-last; of three, the first and
    /// the last) instead of all.
    #[arg(long)]
    quick: bool,
    /// Training epochs of every model.
    #[arg(long, default_value_t = 20)]
    epochs: usize,
    /// Epochs of the decoder fine-tune of l1+finetune.
    #[arg(long, default_value_t = 5)]
    finetune_epochs: usize,
    /// Latents [default: 256 on mnist, the number of true features on synthetic].
    #[arg(long)]
    hidden: Option<usize>,
    /// MNIST: folder with the four IDX files [default: the bundled mnist-10k].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// MNIST: use only the first N training images.
    #[arg(long, value_name = "N")]
    train_limit: Option<usize>,
    /// MNIST: use only the first N test images.
    #[arg(long, value_name = "N")]
    test_limit: Option<usize>,
    /// Synthetic: number of true features.
    #[arg(long, default_value_t = 512)]
    features: usize,
    /// Synthetic: dimension of the rows.
    #[arg(long, default_value_t = 128)]
    dim: usize,
    /// Synthetic: expected active features per row.
    #[arg(long, default_value_t = 8.0)]
    mean_active: f64,
    /// Synthetic: correlation of feature groups (0 = independent).
    #[arg(long, default_value_t = 0.0)]
    correlation: f64,
    /// Synthetic: fraction of features that are children of another (0 = none).
    #[arg(long, default_value_t = 0.0)]
    hierarchy: f64,
    /// Synthetic: feature trees (SynthSAEBench's hierarchy: each node above --tree-depth has
    /// --branching children, siblings mutually exclusive; 0 = none; not with --hierarchy).
    #[arg(long, default_value_t = 0)]
    #[serde(default)]
    trees: usize,
    /// Synthetic: children of each tree node.
    #[arg(long, default_value_t = 4)]
    #[serde(default = "four")]
    branching: usize,
    /// Synthetic: levels of children below each tree's root.
    #[arg(long, default_value_t = 2)]
    #[serde(default = "two")]
    tree_depth: usize,
    /// Synthetic: the library's small SynthSAEBench preset (4,096 features in 256 dimensions,
    /// 25 active per row, 64 trees of 4 children over 2 levels with mutually exclusive
    /// siblings, correlation 0.5 in groups of 4; 1,024 latents unless --hidden): replaces
    /// --features, --dim, --mean-active, --correlation, --hierarchy, --trees, --branching and
    /// --tree-depth.
    #[arg(long)]
    #[serde(default)]
    synth_sae_bench: bool,
    /// Synthetic: training rows.
    #[arg(long, default_value_t = 20_000)]
    train_rows: usize,
    /// Synthetic: test rows.
    #[arg(long, default_value_t = 5_000)]
    test_rows: usize,
    /// Backend.
    #[arg(long, value_enum, default_value = "flex")]
    backend: BackendKind,
    /// Minibatch size.
    #[arg(long, default_value_t = 256)]
    batch_size: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Seed of the initialisations, shuffles and synthetic data.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The fraction of the run during which the +resample methods resample (0.5: the
    /// first half, Bricken et al.'s).
    #[arg(long, value_name = "FRACTION", default_value_t = 0.5)]
    #[serde(default = "half")]
    resample_until: f64,
    /// Train every point with S seeds (--seed, --seed + 1, …; one pass over the data for
    /// all) and report their stability: the pairwise matched MCC between the seeds' decoders
    /// (seed_mcc, seed_shared). The other columns stay seed 0's. 1: no stability columns.
    #[arg(long, value_name = "S", default_value_t = 1)]
    #[serde(default = "one")]
    seeds: usize,
    /// Output folder [default: frontier/BENCHMARK]; must not hold a frontier.csv already.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// No progress lines.
    #[arg(long)]
    #[serde(skip)]
    quiet: bool,
    /// Train nothing: redraw frontier.png and frontier.md from this frontier.csv (into --out,
    /// or beside it).
    #[arg(long, value_name = "CSV")]
    #[serde(skip)]
    plot_only: Option<PathBuf>,
    /// Continue the unfinished sweep in DIR (killed, or stopped by an error) with the
    /// settings of its sweep.json: the models it finished keep their rows, the others
    /// continue from their last epoch. Takes no other flag but --quiet.
    #[arg(long, value_name = "DIR")]
    #[serde(skip)]
    resume: Option<PathBuf>,
}

impl SweepCli {
    /// The methods and strengths to train.
    fn plan(&self) -> Result<Vec<(Method, f64)>, AppError> {
        let methods: Vec<Method> = match &self.methods {
            None => METHODS.to_vec(),
            Some(names) => names
                .iter()
                .map(|n| sweep::method(n.trim()))
                .collect::<Result<_, _>>()?,
        };
        let mut plan = Vec::new();
        for m in methods {
            let all = match self.benchmark {
                Benchmark::Mnist => m.mnist,
                Benchmark::Synthetic => m.synthetic,
            };
            let chosen: Vec<f64> = if self.quick && all.len() > 3 {
                vec![all[1], all[all.len() - 2]]
            } else if self.quick && all.len() > 2 {
                vec![all[0], all[all.len() - 1]]
            } else {
                all.to_vec()
            };
            plan.extend(chosen.into_iter().map(|s| (m, s)));
        }
        Ok(plan)
    }

    /// The synthetic benchmark's generator.
    fn synthetic_config(&self) -> SyntheticConfig {
        let config = if self.synth_sae_bench {
            SyntheticConfig::synth_sae_bench_small()
        } else {
            SyntheticConfig::new()
                .with_d_in(self.dim)
                .with_n_features(self.features)
                .with_mean_active(self.mean_active)
                .with_correlation(self.correlation)
                .with_hierarchy(self.hierarchy)
                .with_tree_roots(self.trees)
                .with_branching(self.branching)
                .with_tree_depth(self.tree_depth)
        };
        config.with_seed(self.seed)
    }

    /// The data and its name.
    fn data(&self) -> Result<SweepData, AppError> {
        match self.benchmark {
            Benchmark::Mnist => {
                let dir = self
                    .data_dir
                    .clone()
                    .unwrap_or_else(crate::default_data_dir);
                // Only the images asked for are decoded (the whole file was read before).
                let mut data = load_mnist_limited(&dir, self.train_limit, self.test_limit)?;
                if let Some(n) = self.train_limit {
                    data.train.truncate(n);
                }
                if let Some(n) = self.test_limit {
                    data.test.truncate(n);
                }
                Ok(SweepData {
                    benchmark: "mnist",
                    data,
                    truth: None,
                })
            }
            Benchmark::Synthetic => {
                let model = self
                    .synthetic_config()
                    .init()
                    .map_err(|e| AppError::Setting(e.to_string()))?;
                if self.train_rows == 0 || self.test_rows < 2 {
                    return Err(AppError::Setting(
                        "--train-rows must be at least 1 and --test-rows at least 2 \
                         (explained variance needs two rows)"
                            .into(),
                    ));
                }
                // The rows are drawn on the host: refused before allocating when they cannot
                // fit (10¹⁰ rows aborted the process).
                let dim = model.config().d_in;
                let bytes =
                    (self.train_rows as u128 + self.test_rows as u128) * dim as u128 * 4 * 2;
                sparse_autoencoders::memory::check("the synthetic data", bytes)
                    .map_err(crate::error::library)?;
                let train = model.sample(self.train_rows, 1);
                let test = model.sample(self.test_rows, 2);
                Ok(SweepData {
                    benchmark: "synthetic",
                    data: Mnist {
                        train: Split::of_rows(&train.rows, dim),
                        test: Split::of_rows(&test.rows, dim),
                    },
                    truth: Some(test),
                })
            }
        }
    }
}

/// Runs `sae-mnist sweep ARGS` (`args` starts with the program name).
pub fn main(args: impl IntoIterator<Item = std::ffi::OsString>) -> Result<(), AppError> {
    let parsed = SweepCli::command()
        .try_get_matches_from(args)
        .and_then(|m| SweepCli::from_arg_matches(&m).map(|cli| (cli, m)));
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
    if let Some(path) = &cli.plot_only {
        return replot(path, cli.out.as_deref());
    }
    match cli.resume.clone() {
        Some(dir) => {
            let given: Vec<String> = SweepCli::command()
                .get_arguments()
                .map(|arg| arg.get_id().as_str().to_string())
                .filter(|id| {
                    matches.value_source(id) == Some(ValueSource::CommandLine)
                        && id != "resume"
                        && id != "quiet"
                })
                .collect();
            if let Some(flag) = given.first() {
                return Err(AppError::Setting(format!(
                    "sweep --resume takes the settings of {}; --{} cannot be given with it",
                    dir.join(SWEEP_SETTINGS).display(),
                    flag.replace('_', "-")
                )));
            }
            let saved = saved_sweep(&dir)?;
            sweep_in(
                SweepCli {
                    out: Some(dir),
                    quiet: cli.quiet,
                    ..saved
                },
                true,
            )
        }
        None => sweep_in(cli, false),
    }
}

/// The settings of the sweep in `dir`, as its `sweep.json` holds them.
fn saved_sweep(dir: &std::path::Path) -> Result<SweepCli, AppError> {
    if dir.join("frontier.csv").exists() {
        return Err(AppError::Setting(format!(
            "{} is a finished sweep (it holds frontier.csv): nothing to resume",
            dir.display()
        )));
    }
    let path = dir.join(SWEEP_SETTINGS);
    if !path.exists() {
        return Err(AppError::Setting(format!(
            "nothing to resume in {}: no {SWEEP_SETTINGS} (give the --out folder of a sweep)",
            dir.display()
        )));
    }
    let text = read_bounded(&path, 1 << 20)?;
    serde_json::from_str(&text).map_err(|source| AppError::Json { path, source })
}

/// Runs the sweep of `cli` in its folder, from the start or (`resume`) where it stopped.
fn sweep_in(cli: SweepCli, resume: bool) -> Result<(), AppError> {
    let benchmark = match cli.benchmark {
        Benchmark::Mnist => "mnist",
        Benchmark::Synthetic => "synthetic",
    };
    let out = cli
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("frontier").join(benchmark));
    if out.exists() && !out.is_dir() {
        return Err(AppError::Setting(format!(
            "--out {} is a file, not a folder",
            out.display()
        )));
    }
    if out.join("frontier.csv").exists() {
        return Err(AppError::SweepExists(out));
    }
    if !resume && out.join(SWEEP_SETTINGS).exists() {
        return Err(AppError::Setting(format!(
            "{} holds an unfinished sweep ({SWEEP_SETTINGS}); continue it with `sae-mnist \
             sweep --resume {}`, or choose another --out",
            out.display(),
            out.display()
        )));
    }
    let plan = cli.plan()?;
    let mut base = Settings::new(PathBuf::new());
    base.hidden = cli.hidden.unwrap_or(match cli.benchmark {
        Benchmark::Mnist => 256,
        Benchmark::Synthetic if cli.synth_sae_bench => 1024,
        Benchmark::Synthetic => cli.features,
    });
    base.epochs = cli.epochs;
    base.batch_size = cli.batch_size;
    base.lr = cli.lr;
    base.seed = cli.seed;
    base.backend = cli.backend;
    if cli.benchmark == Benchmark::Mnist {
        base.train_limit = cli.train_limit;
        base.test_limit = cli.test_limit;
    }
    // The base's own k is not used (the top-k methods set theirs): keep it valid.
    base.k = base.k.min(base.hidden);
    base.validate()?;
    if !crate::settings::is_fraction(cli.resample_until) {
        return Err(AppError::Setting(format!(
            "--resample-until must be a fraction in (0, 1], got {}",
            cli.resample_until
        )));
    }
    // Only the +resample methods keep it (point_settings).
    base.resample_until = Some(cli.resample_until);
    if cli.seeds == 0 {
        return Err(AppError::Setting("--seeds must be at least 1".into()));
    }
    // Every model's settings before any data is read or any model trained.
    for (method, strength) in &plan {
        sweep::check_point(
            &sweep::point_settings(&base, method, *strength),
            method,
            *strength,
        )?;
    }
    let data = cli.data()?;
    let device = device_for(cli.backend)?.autodiff();
    // One sweep per folder at a time; its settings first, so that a kill can be resumed.
    let run_dir = RunDir { root: out.clone() };
    let created = run_dir.create()?;
    let _lock = run_dir.lock()?;
    let dir = SweepDir { root: out.clone() };
    let outcome = (|| {
        if !resume {
            let json = serde_json::to_vec_pretty(&cli).expect("the settings serialise");
            crate::run_dir::write_atomic(&out.join(SWEEP_SETTINGS), &json)?;
        }
        run_and_write(&cli, &base, &plan, &data, &device, &dir, resume)
    })();
    // A fresh sweep that failed before its first checkpoint leaves no folder behind.
    if outcome.is_err() && !resume && !dir.has_progress() {
        created.discard(&SWEEP_FILES);
    }
    outcome
}

/// Trains (or resumes) the sweep, writes its frontier and removes its checkpoints.
fn run_and_write(
    cli: &SweepCli,
    base: &Settings,
    plan: &[(Method, f64)],
    data: &SweepData,
    device: &burn::prelude::Device,
    dir: &SweepDir,
    resume: bool,
) -> Result<(), AppError> {
    let benchmark = data.benchmark;
    let kept = dir.rows()?;
    crate::say!(
        "sae-mnist sweep: {} models on {benchmark} ({} train / {} test rows of {}), {} latents, \
         {} epochs, backend {} → {}{}",
        plan.len() * cli.seeds,
        data.data.train.n,
        data.data.test.n,
        data.data.train.dim(),
        base.hidden,
        base.epochs,
        cli.backend.name(),
        dir.root.display(),
        if resume {
            format!(" (resumed: {} rows kept)", kept.len())
        } else {
            String::new()
        }
    );
    let quiet = cli.quiet;
    let points = sweep::run_sweep(
        base,
        plan,
        cli.finetune_epochs,
        cli.seeds,
        data,
        device,
        dir,
        kept,
        |line| {
            if !quiet {
                crate::say!("  {line}");
            }
        },
    )?;
    let l0s = sweep::table_l0s(benchmark, cli.synthetic_config().mean_active);
    let title = format!(
        "sae-mnist sweep on {benchmark}: {} latents, {} epochs, {} rows",
        base.hidden, base.epochs, data.data.train.n
    );
    sweep::write(&dir.root, &points, &title, &l0s)?;
    dir.finish();
    crate::say!("{}", sweep::tables(&points, &l0s).trim_end());
    crate::say!(
        "wrote {}/frontier.csv, frontier.png and frontier.md",
        dir.root.display()
    );
    Ok(())
}

/// `--plot-only`: frontier.png and frontier.md from a frontier.csv.
/// The largest `frontier.csv` `--plot-only` reads (a sweep of hundreds of models is a few KiB).
const MAX_CSV_BYTES: u64 = 16 << 20;

fn replot(path: &std::path::Path, out: Option<&std::path::Path>) -> Result<(), AppError> {
    let text = read_bounded(path, MAX_CSV_BYTES)?;
    let points = sweep::read_csv(&text)
        .map_err(|e| AppError::Setting(format!("{}: {e}", path.display())))?;
    let Some(first) = points.first() else {
        return Err(AppError::Setting(format!("{}: no runs", path.display())));
    };
    let dir = out
        .map(|p| p.to_path_buf())
        .or_else(|| path.parent().map(|p| p.to_path_buf()))
        .unwrap_or_default();
    // The synthetic benchmark's mean L0 is not in the CSV: that of the sweep's own sweep.json
    // when it is beside it, else the default's.
    let beside = path.with_file_name(SWEEP_SETTINGS);
    let mean_active = read_bounded(&beside, 1 << 20)
        .ok()
        .and_then(|text| serde_json::from_str::<SweepCli>(&text).ok())
        .map_or(SyntheticConfig::new().mean_active, |cli| {
            cli.synthetic_config().mean_active
        });
    let l0s = sweep::table_l0s(&first.benchmark, mean_active);
    // The title of the sweep's own frontier.md when it is there.
    let beside = path.with_file_name("frontier.md");
    let title = std::fs::read_to_string(&beside)
        .ok()
        .and_then(|md| md.lines().next()?.strip_prefix("# ").map(str::to_string))
        .unwrap_or_else(|| {
            format!(
                "sae-mnist sweep on {}: {} epochs",
                first.benchmark, first.epochs
            )
        });
    std::fs::create_dir_all(&dir).map_err(crate::error::io(&dir))?;
    sweep::picture(&points, &title).save(&dir.join("frontier.png"))?;
    crate::run_dir::write_atomic(
        &dir.join("frontier.md"),
        format!("# {title}\n{}", sweep::tables(&points, &l0s)).as_bytes(),
    )?;
    crate::say!("wrote {}/frontier.png and frontier.md", dir.display());
    Ok(())
}
