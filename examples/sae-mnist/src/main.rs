//! `sae-mnist`: train a sparse autoencoder on MNIST. Run `sae-mnist --help` for the flags.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use sae_mnist::settings::{Arch, BackendKind, PenaltyName, Settings};
use sae_mnist::train::{self, RunDir};
use sae_mnist::{default_data_dir, write_outputs, AppError, OUTPUTS};
use sparse_autoencoders::data::load_mnist_limited;

/// Train a sparse autoencoder on MNIST with the penalties of sparse-losses, on the CPU
/// (flex, ndarray) or the GPU (wgpu), and write metrics.json, pictures and per-epoch
/// checkpoints.
///
/// With no flags: a top-k SAE (256 latents, k = 32) for 20 epochs on the bundled mnist-10k,
/// on the flex CPU backend, into a new folder under runs/.
///
/// `sae-mnist sweep --help`: train many methods at many strengths and draw their frontier.
#[derive(Parser, Debug)]
#[command(name = "sae-mnist", version, allow_negative_numbers = true)]
struct Cli {
    /// Folder with the four standard IDX files (plain or .gz): the full MNIST, or
    /// Fashion-MNIST (/usr/share/datasets/fashion-mnist). [default: the bundled data/mnist-10k]
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Use only the first N training images.
    #[arg(long, value_name = "N")]
    train_limit: Option<usize>,
    /// Use only the first N test images.
    #[arg(long, value_name = "N")]
    test_limit: Option<usize>,
    /// Backend [default: flex]. wgpu needs `--features wgpu` at build time, cuda
    /// `--features cuda`.
    #[arg(long, value_enum)]
    backend: Option<BackendKind>,
    /// Architecture [default: topk].
    #[arg(long, value_enum)]
    arch: Option<Arch>,
    /// Number of latents [default: 256].
    #[arg(long, value_name = "H")]
    hidden: Option<usize>,
    /// Active latents per image for --arch topk and --arch omp [default: 32].
    #[arg(long)]
    k: Option<usize>,
    /// Sparsity penalty [default: l1-dec for relu, none for topk].
    #[arg(long, value_enum)]
    penalty: Option<PenaltyName>,
    /// Weight λ of the penalty, or of the sparsity term of --arch jumprelu, gated and l0
    /// [default: 0.8].
    #[arg(long)]
    lambda: Option<f64>,
    /// Target mean activation ρ of --penalty kl [default: 0.05].
    #[arg(long, value_name = "RHO")]
    kl_target: Option<f64>,
    /// Weight of an extra total-variation penalty on the decoder atoms seen as images
    /// [default: 0, off].
    #[arg(long, value_name = "LAMBDA")]
    tv: Option<f64>,
    /// Put a learnable binary mask (straight-through estimator) on the encoder that keeps
    /// this fraction of each latent's input weights, e.g. 0.25.
    #[arg(long, value_name = "FRACTION")]
    mask_density: Option<f64>,
    /// AuxK (Gao et al. 2024) for --arch topk, batchtopk and matryoshka: reconstruct the
    /// residual from this many dead latents.
    #[arg(long, value_name = "K")]
    aux_k: Option<usize>,
    /// Train on the rows of a .npy (f32/f16) or .safetensors file (its only tensor, or
    /// FILE.safetensors:NAME) instead of MNIST images: the last 10% of the rows are the test
    /// split. Uses the sparse-autoencoders library (burn-train).
    #[arg(long, value_name = "FILE", conflicts_with = "data_dir")]
    data: Option<PathBuf>,
    /// Train on this many devices of the backend (burn-train's multi-device strategy)
    /// [default: 1].
    #[arg(long, value_name = "N")]
    devices: Option<usize>,
    /// Distributed data parallel over --devices (burn-train's DDP; CUDA only).
    #[arg(long)]
    ddp: bool,
    /// The initial threshold θ₀ of --arch jumprelu [default: 0.3]: it sets the range of L0
    /// that --lambda can reach in a short training.
    #[arg(long, value_name = "THETA")]
    threshold_init: Option<f64>,
    /// c of --penalty tanh [default: 1].
    #[arg(long, value_name = "C")]
    scale: Option<f64>,
    /// ε of --penalty logsum [default: 0.1], lp and lp-anneal [default: 1e-3].
    #[arg(long)]
    eps: Option<f64>,
    /// p of --penalty lp, the final p of lp-anneal [default: 0.5].
    #[arg(long)]
    p: Option<f64>,
    /// Warm the sparsity coefficient up linearly over the first N optimizer steps
    /// [default: 0, none].
    #[arg(long, value_name = "N")]
    warmup_steps: Option<usize>,
    /// After training, refit the decoder for N epochs with the encoder frozen and no
    /// penalty (undoes the shrinkage of L1-like penalties) [default: 0, none].
    #[arg(long, value_name = "N")]
    finetune_epochs: Option<usize>,
    /// Also learn one scale per latent during the fine-tune.
    #[arg(long)]
    finetune_scale: bool,
    /// Training epochs [default: 20]. With --resume: the total to reach.
    #[arg(long)]
    epochs: Option<usize>,
    /// Minibatch size [default: 256].
    #[arg(long)]
    batch_size: Option<usize>,
    /// Adam's learning rate [default: 1e-3].
    #[arg(long)]
    lr: Option<f64>,
    /// Seed of the initialisation and the shuffles [default: 0].
    #[arg(long)]
    seed: Option<u64>,
    /// Output folder [default: a new runs/<arch>-... folder]. Must not hold a run already.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Continue the run in DIR from its last complete checkpoint, with its saved settings
    /// (only --epochs, --finetune-epochs, --finetune-scale, --backend, --devices, --ddp,
    /// --data-dir and --data may be given).
    #[arg(long, value_name = "DIR", conflicts_with = "out")]
    resume: Option<PathBuf>,
    /// With --resume: continue on data that differs from the run's (by default refused: the
    /// run records a fingerprint of its data).
    #[arg(long, requires = "resume")]
    new_data: bool,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

impl Cli {
    /// The settings of a fresh run.
    fn settings(&self) -> Settings {
        let mut s = Settings::new(absolute(
            self.data_dir.clone().unwrap_or_else(default_data_dir),
        ));
        if let Some(a) = self.arch {
            s.arch = a;
        }
        s.penalty = self.penalty.unwrap_or(match s.arch {
            Arch::Relu => PenaltyName::L1Dec,
            _ => PenaltyName::None,
        });
        macro_rules! take {
            ($($f:ident),*) => { $( if let Some(v) = self.$f { s.$f = v; } )* };
        }
        take!(backend, hidden, k, lambda, kl_target, tv, epochs, batch_size, lr, seed);
        s.mask_density = self.mask_density;
        s.aux_k = self.aux_k;
        s.scale = self.scale;
        s.threshold_init = self.threshold_init;
        s.eps = self.eps;
        s.p = self.p;
        s.warmup_steps = self.warmup_steps.unwrap_or(0);
        s.finetune_epochs = self.finetune_epochs.unwrap_or(0);
        s.finetune_scale = self.finetune_scale;
        s.ddp = self.ddp;
        if let Some(n) = self.devices {
            s.devices = n;
        }
        s.data_file = self.data.clone().map(absolute);
        s.train_limit = self.train_limit;
        s.test_limit = self.test_limit;
        s
    }

    /// The settings of a resumed run: the saved ones, with the few flags that may change.
    fn resumed(&self, saved: Settings, done: usize) -> Result<Settings, AppError> {
        let mut s = saved;
        let conflict = |flag: &str| {
            Err(AppError::ResumeConflict(format!(
                "{flag} cannot change (leave it out)"
            )))
        };
        macro_rules! same {
            ($($f:ident => $flag:literal),*) => { $(
                if let Some(v) = self.$f { if v != s.$f { return conflict($flag); } }
            )* };
        }
        same!(arch => "--arch", hidden => "--hidden", k => "--k", penalty => "--penalty",
              lambda => "--lambda", kl_target => "--kl-target", tv => "--tv",
              batch_size => "--batch-size", lr => "--lr", seed => "--seed");
        if self.mask_density.is_some() && self.mask_density != s.mask_density {
            return conflict("--mask-density");
        }
        if self.aux_k.is_some() && self.aux_k != s.aux_k {
            return conflict("--aux-k");
        }
        if (self.scale.is_some() && self.scale != s.scale)
            || (self.eps.is_some() && self.eps != s.eps)
            || (self.p.is_some() && self.p != s.p)
            || self.warmup_steps.is_some_and(|w| w != s.warmup_steps)
            || (self.threshold_init.is_some() && self.threshold_init != s.threshold_init)
        {
            return conflict("--scale/--eps/--p/--warmup-steps/--threshold-init");
        }
        if let Some(n) = self.finetune_epochs {
            s.finetune_epochs = n;
        }
        if self.finetune_scale {
            s.finetune_scale = true;
        }
        if (self.train_limit.is_some() && self.train_limit != s.train_limit)
            || (self.test_limit.is_some() && self.test_limit != s.test_limit)
        {
            return conflict("--train-limit/--test-limit");
        }
        if let Some(e) = self.epochs {
            if e < done {
                return Err(AppError::ResumeConflict(format!(
                    "--epochs {e} is fewer than the {done} epochs already trained"
                )));
            }
            s.epochs = e;
        }
        if let Some(b) = self.backend {
            s.backend = b;
        }
        if let Some(d) = &self.data_dir {
            s.data_dir = absolute(d.clone());
        }
        if let Some(f) = &self.data {
            s.data_file = Some(absolute(f.clone()));
        }
        if let Some(n) = self.devices {
            s.devices = n;
        }
        s.ddp = self.ddp;
        Ok(s)
    }
}

/// `runs/<name>`, or `runs/<name>-2`, `-3`, … when taken.
/// `path` made absolute against the working directory (as it is when that fails): the settings
/// saved with a run name their data so that `--resume` works from any directory.
fn absolute(path: PathBuf) -> PathBuf {
    std::path::absolute(&path).unwrap_or(path)
}

fn fresh_out_dir(name: &str) -> PathBuf {
    let base = Path::new("runs");
    let first = base.join(name);
    if !(RunDir {
        root: first.clone(),
    })
    .in_use()
    {
        return first;
    }
    (2..)
        .map(|i| base.join(format!("{name}-{i}")))
        .find(|p| !RunDir { root: p.clone() }.in_use())
        .expect("some suffix is free")
}

fn main_inner(cli: Cli) -> Result<(), AppError> {
    // `done`: the epochs a resumed run has trained (0 for a fresh run).
    let (settings, dir, resume, done) = match &cli.resume {
        Some(root) => {
            let dir = RunDir { root: root.clone() };
            if !root.is_dir() {
                return Err(AppError::Setting(format!(
                    "--resume {}: no such folder (give the --out folder of a run)",
                    root.display()
                )));
            }
            let saved =
                train::saved_settings(root).ok_or_else(|| AppError::NoCheckpoint(root.clone()))?;
            let done = train::latest_epoch(root).unwrap_or(0);
            (cli.resumed(saved?, done)?, dir, true, done)
        }
        None => {
            let settings = cli.settings();
            if cli.lambda.is_some()
                && settings.penalty == PenaltyName::None
                && !settings.arch.has_lambda()
            {
                return Err(AppError::Setting(format!(
                    "--lambda weighs a penalty (--penalty) or the L0 term of --arch jumprelu, \
                     gated or l0; --arch {} without a penalty has none",
                    settings.arch.name()
                )));
            }
            let root = match &cli.out {
                Some(p) => {
                    if p.exists() && !p.is_dir() {
                        return Err(AppError::Setting(format!(
                            "--out {} is a file, not a folder",
                            p.display()
                        )));
                    }
                    let dir = RunDir { root: p.clone() };
                    if dir.in_use() {
                        return Err(AppError::OutInUse(p.clone()));
                    }
                    p.clone()
                }
                None => fresh_out_dir(&settings.run_name()),
            };
            (settings, RunDir { root }, false, 0)
        }
    };
    settings.validate()?;
    // A finished run is not resumed (unless for a decoder fine-tune): its results stay.
    let finished = done >= settings.epochs && dir.root.join("metrics.json").is_file();
    if resume && finished && cli.finetune_epochs.is_none_or(|n| n == 0) {
        return Err(AppError::Setting(format!(
            "{} is a finished run ({done} of {} epochs), and its results stay as they are: \
             give --epochs N with N > {done} to train further",
            dir.root.display(),
            settings.epochs
        )));
    }
    let mut settings = settings;
    let mut data = match &settings.data_file {
        Some(file) => train::load_rows(file)?,
        None => load_mnist_limited(
            &settings.data_dir,
            settings.train_limit,
            settings.test_limit,
        )?,
    };
    if let Some(n) = settings.train_limit {
        data.train.truncate(n);
    }
    if let Some(n) = settings.test_limit {
        data.test.truncate(n);
    }
    let fingerprint = train::fingerprint(&data);
    if let Some(saved) = &settings.data_fingerprint {
        if resume && *saved != fingerprint && !cli.new_data {
            return Err(AppError::Setting(format!(
                "the data differs from the run's in {} (fingerprint {fingerprint}, the run's \
                 {saved}): pass --new-data to continue on it",
                dir.root.display()
            )));
        }
    }
    settings.data_fingerprint = Some(fingerprint);
    // An invalid or too large model is refused before the output folder exists.
    train::preflight(&settings, &data)?;
    std::fs::create_dir_all(&dir.root).map_err(sae_mnist::error::io(&dir.root))?;
    let (source, items) = match &settings.data_file {
        Some(file) => (file.display(), format!("rows of {}", data.train.dim())),
        None => (
            settings.data_dir.display(),
            format!("images of {}×{}", data.train.rows, data.train.cols),
        ),
    };
    println!(
        "sae-mnist: {} on {source} ({} train / {} test {items}), backend {}, {} epochs → {}",
        settings.run_name(),
        data.train.n,
        data.test.n,
        settings.backend.name(),
        settings.epochs,
        dir.root.display()
    );
    // A resumed run starts after its newest checkpoint that reads back (a crash while
    // burn-train wrote the last one can leave a file cut short).
    let start = if resume {
        let (start, warnings) = train::resume_point(&dir.root);
        for w in warnings {
            eprintln!("warning: {w}");
        }
        start
    } else {
        0
    };
    let (model, report) = train::run(&settings, &data, &dir.root, resume, start, cli.quiet)?;
    write_outputs(&dir.root, &model, &data, &report)?;
    if let Some(b) = &report.before_finetune {
        println!(
            "before the decoder fine-tune: explained variance {:.4}  L0 {:.1}  gamma {:.3}",
            b.explained_variance, b.l0, b.gamma
        );
    }
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    let t = &report.test;
    let secs: f64 = report.epochs.iter().map(|e| e.seconds).sum();
    println!(
        "test: mse {:.5}  explained variance {:.4}  L0 {:.1}  dead {:.3}  gamma {:.3}  hoyer {:.3}",
        t.mse, t.explained_variance, t.l0, t.dead_fraction, t.gamma, t.hoyer
    );
    if let Some(m) = report.mask_sparsity {
        println!("encoder mask removes {:.1}% of the weights", 100.0 * m);
    }
    println!(
        "trained {} epochs in {:.1} s ({:.2} s/epoch)",
        report.epochs.len(),
        secs,
        secs / report.epochs.len().max(1) as f64
    );
    println!(
        "outputs in {}: {} and the checkpoint of epoch {}",
        dir.root.display(),
        OUTPUTS.join(", "),
        report.epochs.len()
    );
    Ok(())
}

fn main() -> ExitCode {
    // Burn's CPU backends allocate every tensor anew: keep freed memory in the process instead
    // of mapping and page-faulting it in again every step (see `reuse_freed_memory`).
    sparse_autoencoders::reuse_freed_memory();
    let mut args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("sweep") {
        // `sae-mnist sweep ...`: the sweep's own command line.
        args.remove(1);
        if let Some(program) = args.first_mut() {
            program.push_str(" sweep");
        }
        return match sae_mnist::sweep_cli::main(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => return sae_mnist::cli_error(e),
    };
    match main_inner(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
