//! Every setting of a run, in one type: the command line's flags (clap) and `settings.json`
//! (serde), validated, and saved with the run's checkpoints and metrics.
//!
//! The architecture and penalty names are the libraries' registries' (see
//! [`crate::vocabulary`]); the old spellings of earlier versions are read as aliases, on the
//! command line and in saved settings.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::vocabulary;

/// Which Burn backend trains the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    /// Burn's pure-Rust CPU backend (SIMD, multi-threaded).
    Flex,
    /// burn-ndarray, the older CPU backend (deprecated in Burn 0.22, still supported).
    Ndarray,
    /// burn-wgpu: Vulkan, Metal or DX12 GPUs, or lavapipe's software Vulkan (cargo feature
    /// `wgpu`).
    Wgpu,
    /// burn-cuda: NVIDIA GPUs (cargo feature `cuda`).
    Cuda,
}

impl BackendKind {
    /// The name used on the command line and in `BURN_DEVICE`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Flex => "flex",
            Self::Ndarray => "ndarray",
            Self::Wgpu => "wgpu",
            Self::Cuda => "cuda",
        }
    }
}

/// Every setting of a run: each field is a flag (`--field-name`, see `sae-mnist --help`) and a
/// key of `settings.json`. The defaults are those of the flags (the quality table's `top_k`
/// run: 256 latents, k = 32, 20 epochs, batch 256, lr 1e-3, on the bundled mnist-10k).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Folder with the four standard IDX files (plain or .gz): the full MNIST, or
    /// Fashion-MNIST (/usr/share/datasets/fashion-mnist). [default: the bundled data/mnist-10k]
    #[arg(long, value_name = "DIR", default_value_os_t = crate::default_data_dir(), hide_default_value = true)]
    pub data_dir: PathBuf,
    /// Train on the rows of a .npy (f32/f16) or .safetensors file (its only tensor, or
    /// FILE.safetensors:NAME) instead of MNIST images: the last 10% of the rows are the test
    /// split.
    #[arg(long = "data", value_name = "FILE", conflicts_with = "data_dir")]
    #[serde(default)]
    pub data_file: Option<PathBuf>,
    /// Use only the first N training images.
    #[arg(long, value_name = "N")]
    pub train_limit: Option<usize>,
    /// Use only the first N test images.
    #[arg(long, value_name = "N")]
    pub test_limit: Option<usize>,
    /// The fingerprint of the data the run trains on ([`crate::data::fingerprint`]), recorded
    /// when it starts: `--resume` on other data is refused unless `--new-data`.
    #[arg(skip)]
    #[serde(default)]
    pub data_fingerprint: Option<String>,
    /// Backend. wgpu needs `--features wgpu` at build time, cuda `--features cuda`.
    #[arg(long, value_enum, default_value_t = BackendKind::Flex)]
    pub backend: BackendKind,
    /// Train on this many devices of the backend (burn-train's multi-device strategy).
    #[arg(long, value_name = "N", default_value_t = 1)]
    #[serde(default = "one")]
    pub devices: usize,
    /// Distributed data parallel over --devices (burn-train's DDP; CUDA only).
    #[arg(long)]
    #[serde(default)]
    pub ddp: bool,
    /// Architecture: a name of the library's registry (old spellings such as topk, batchtopk,
    /// jumprelu, l0 are aliases).
    #[arg(long, value_name = "NAME", default_value = "top_k", value_parser = vocabulary::arch_parser())]
    #[serde(deserialize_with = "vocabulary::de_arch")]
    pub arch: String,
    /// The architecture's fields as JSON, for what has no flag, e.g.
    /// '{"bandwidth": 0.1}' for jump_relu or '{"prefixes": [16, 64]}' for matryoshka.
    #[arg(long, value_name = "JSON", value_parser = vocabulary::json_object)]
    #[serde(default)]
    pub arch_config: Option<serde_json::Value>,
    /// Number of latents.
    #[arg(long, value_name = "H", default_value_t = 256)]
    pub hidden: usize,
    /// Active latents per row, for the architectures with a `k`.
    #[arg(long, default_value_t = 32)]
    pub k: usize,
    /// Sparsity penalty: none, a name of the library's registry, or a recipe of this command
    /// line [default: l1_dec for --arch relu or sigmoid, none otherwise].
    #[arg(long, value_name = "NAME", value_parser = vocabulary::penalty_parser())]
    #[serde(deserialize_with = "vocabulary::de_penalty")]
    pub penalty: Option<String>,
    /// The penalty's fields as JSON, for what has no flag, e.g.
    /// '{"penalty": "scad", "gamma": 3.0}' (the tag may be left out when --penalty names it).
    #[arg(long, value_name = "JSON", value_parser = vocabulary::json_object)]
    #[serde(default)]
    pub penalty_config: Option<serde_json::Value>,
    /// Weight λ of the penalty (KL's beta), or of the sparsity term of the architectures with
    /// a `lambda` (jump_relu, gated, hard_concrete).
    #[arg(long, default_value_t = 0.8)]
    pub lambda: f64,
    /// Target mean activation ρ of --penalty kl_sparsity.
    #[arg(long, value_name = "RHO", default_value_t = 0.05)]
    pub kl_target: f64,
    /// c of --penalty tanh [default: the penalty's, 1].
    #[arg(long, value_name = "C")]
    #[serde(default)]
    pub scale: Option<f64>,
    /// ε of --penalty log_sum [default: 0.1], the final ε of log_sum_anneal [default: 0.1], lp
    /// and lp_anneal [default: 1e-3].
    #[arg(long)]
    #[serde(default)]
    pub eps: Option<f64>,
    /// p of --penalty lp, the final p of lp_anneal [default: 0.5].
    #[arg(long)]
    #[serde(default)]
    pub p: Option<f64>,
    /// The initial threshold θ₀ of --arch jump_relu [default: 0.3]: it sets the range of L0
    /// that --lambda can reach in a short training.
    #[arg(long, value_name = "THETA")]
    #[serde(default)]
    pub threshold_init: Option<f64>,
    /// Weight of an extra total-variation penalty on the decoder atoms seen as images
    /// (0: off).
    #[arg(long, value_name = "LAMBDA", default_value_t = 0.0)]
    pub tv: f64,
    /// Put a learnable binary mask (straight-through estimator) on the encoder that keeps
    /// this fraction of each latent's input weights, e.g. 0.25.
    #[arg(long, value_name = "FRACTION")]
    pub mask_density: Option<f64>,
    /// AuxK (Gao et al. 2024) for the top-k architectures and jump_relu: reconstruct the
    /// residual from this many dead latents.
    #[arg(long, value_name = "K")]
    #[serde(default)]
    pub aux_k: Option<usize>,
    /// Neuron resampling (Bricken et al. 2023): every N optimizer steps, re-initialise the
    /// latents that have not fired for 10,000 training rows towards the batch's worst-reconstructed rows and
    /// reset their Adam state, during the first half of the run (any architecture but omp).
    #[arg(long, value_name = "N")]
    #[serde(default)]
    pub resample_every: Option<usize>,
    /// With --resample-every: the fraction of the run's optimizer steps during which dead
    /// latents are resampled [default: 0.5, Bricken et al.'s half].
    #[arg(long, value_name = "FRACTION")]
    #[serde(default)]
    pub resample_until: Option<f64>,
    /// Warm the sparsity coefficient up linearly over the first N optimizer steps (0: none).
    #[arg(long, value_name = "N", default_value_t = 0)]
    #[serde(default)]
    pub warmup_steps: usize,
    /// Warm the sparsity coefficient up over this fraction of the run's optimizer steps
    /// instead (e.g. 0.5: half the run; not with --warmup-steps).
    #[arg(long, value_name = "FRACTION")]
    #[serde(default)]
    pub warmup_fraction: Option<f64>,
    /// Training epochs. With --resume: the total to reach.
    #[arg(long, default_value_t = 20)]
    pub epochs: usize,
    /// Minibatch size.
    #[arg(long, default_value_t = 256)]
    pub batch_size: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// Seed of the initialisation and the shuffles.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// With --data: rows of the buffer the training rows stream through from disk (chunks
    /// are read into it and it is shuffled before half of it is used): memory holds about
    /// this many rows, whatever the size of the file.
    #[arg(long, value_name = "N", default_value_t = 65_536)]
    #[serde(default = "buffer_rows")]
    pub buffer_rows: usize,
    /// After training, refit the decoder for N epochs with the encoder frozen and no penalty
    /// (undoes the shrinkage of L1-like penalties) (0: none).
    #[arg(long, value_name = "N", default_value_t = 0)]
    #[serde(default)]
    pub finetune_epochs: usize,
    /// Also learn one scale per latent during the fine-tune.
    #[arg(long)]
    #[serde(default)]
    pub finetune_scale: bool,
}

fn one() -> usize {
    1
}

fn buffer_rows() -> usize {
    65_536
}

/// The settings alone as a command line: what [`Settings::new`] parses.
#[derive(clap::Parser)]
#[command(no_binary_name = true)]
struct DefaultsOnly {
    #[command(flatten)]
    settings: Settings,
}

impl Settings {
    /// The settings that change on a `--resume` (every other flag must agree with the run's).
    pub const RESUMABLE: [&'static str; 8] = [
        "epochs",
        "finetune_epochs",
        "finetune_scale",
        "backend",
        "devices",
        "ddp",
        "data_dir",
        "data_file",
    ];

    /// The defaults (those of the flags, so that the two cannot differ), on `data_dir`.
    pub fn new(data_dir: PathBuf) -> Self {
        use clap::Parser;
        let mut s = DefaultsOnly::parse_from(std::iter::empty::<String>()).settings;
        s.data_dir = data_dir;
        s.fill_defaults();
        s
    }

    /// Fills what defaults to another setting: the penalty (the one `--penalty-config` names,
    /// else l1_dec for an architecture that needs one, none otherwise).
    pub fn fill_defaults(&mut self) {
        if self.penalty.is_none() {
            // A penalty named by --penalty-config's tag.
            let tagged = self
                .penalty_config
                .as_ref()
                .and_then(|c| c.get("penalty"))
                .and_then(|t| t.as_str())
                .and_then(|t| vocabulary::canonical_penalty(t).ok());
            let name = if let Some(name) = tagged {
                name
            } else if vocabulary::arch_needs_penalty(&self.arch) {
                "l1_dec"
            } else {
                vocabulary::NO_PENALTY
            };
            self.penalty = Some(name.to_string());
        }
    }

    /// The penalty's name (`none` for none).
    pub fn penalty_name(&self) -> &str {
        self.penalty.as_deref().unwrap_or(vocabulary::NO_PENALTY)
    }

    /// Checks every setting; the message says which one is wrong and what it accepts. (The
    /// libraries check the architecture's and the penalty's own fields again when the model is
    /// built, see [`crate::model::sae_config`].)
    pub fn validate(&self) -> Result<(), AppError> {
        let bad = |msg: String| Err(AppError::Setting(msg));
        let arch = self.arch.as_str();
        let penalty = self.penalty_name();
        if self.hidden == 0 {
            return bad("--hidden must be at least 1".into());
        }
        if vocabulary::arch_has(arch, "k") && (self.k == 0 || self.k > self.hidden) {
            return bad(format!(
                "--k must be in 1..={} (--hidden), got {}",
                self.hidden, self.k
            ));
        }
        if self.epochs == 0 {
            return bad("--epochs must be at least 1".into());
        }
        if self.batch_size == 0 {
            return bad("--batch-size must be at least 1".into());
        }
        if self.buffer_rows == 0 {
            return bad("--buffer-rows must be at least 1".into());
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad(format!("--lr must be a positive number, got {}", self.lr));
        }
        if !(self.lambda.is_finite() && self.lambda >= 0.0) {
            return bad(format!("--lambda must be ≥ 0, got {}", self.lambda));
        }
        if !(self.tv.is_finite() && self.tv >= 0.0) {
            return bad(format!("--tv must be ≥ 0, got {}", self.tv));
        }
        if !(self.kl_target > 0.0 && self.kl_target < 1.0) {
            return bad(format!(
                "--kl-target must be in (0, 1), got {}",
                self.kl_target
            ));
        }
        if vocabulary::penalty_base(penalty) == "kl_sparsity"
            && !vocabulary::arch_needs_penalty(arch)
        {
            return bad(format!(
                "--penalty {penalty} acts on sigmoid codes: use it with --arch relu or sigmoid"
            ));
        }
        if let Some(f) = self.mask_density {
            if !is_fraction(f) {
                return bad(format!("--mask-density must be in (0, 1], got {f}"));
            }
        }
        if self.devices == 0 {
            return bad("--devices must be at least 1".into());
        }
        if self.ddp && self.backend != BackendKind::Cuda {
            return bad(
                "--ddp needs --backend cuda (Burn 0.22's all-reduce is CUDA/NCCL only)".into(),
            );
        }
        if let Some(a) = self.aux_k {
            if !vocabulary::arch_supports_aux_k(arch) || a == 0 || a > self.hidden {
                return bad(format!(
                    "--aux-k must be in 1..={} and needs an architecture with AuxK ({})",
                    self.hidden,
                    vocabulary::aux_k_archs().join(", ")
                ));
            }
        }
        if let Some(f) = self.resample_until {
            if self.resample_every.is_none() || !is_fraction(f) {
                return bad(format!(
                    "--resample-until must be a fraction in (0, 1] and needs --resample-every, got {f}"
                ));
            }
        }
        if let Some(f) = self.warmup_fraction {
            if self.warmup_steps > 0 || !is_fraction(f) {
                return bad(format!(
                    "--warmup-fraction must be a fraction in (0, 1] and replaces --warmup-steps, got {f}"
                ));
            }
        }
        if let Some(n) = self.resample_every {
            if n == 0 || !vocabulary::arch_has_encoder(arch) {
                return bad(format!(
                    "--resample-every must be at least 1 step and needs an encoder (not --arch {arch})"
                ));
            }
        }
        if self.finetune_epochs > 0 && !vocabulary::arch_has_encoder(arch) {
            return bad(format!(
                "--finetune-epochs needs an encoder to freeze: not --arch {arch}"
            ));
        }
        if let Some(t) = self.threshold_init {
            if !vocabulary::arch_has(arch, "threshold_init") {
                return bad(format!(
                    "--threshold-init applies to --arch {} only, not {arch}",
                    vocabulary::archs_with("threshold_init").join(", ")
                ));
            }
            if !(t.is_finite() && t > 0.0) {
                return bad(format!(
                    "--threshold-init must be a positive number, got {t}"
                ));
            }
        }
        if self.finetune_scale && self.finetune_epochs == 0 {
            return bad("--finetune-scale needs --finetune-epochs".into());
        }
        for (flag, field, value) in [
            ("--scale", "scale", self.scale),
            ("--eps", "eps", self.eps),
            ("--p", "p", self.p),
        ] {
            if value.is_some() && !vocabulary::penalty_has(penalty, field) {
                return bad(format!("{flag} does not apply to --penalty {penalty}"));
            }
        }
        if self.penalty_config.is_some() && penalty == vocabulary::NO_PENALTY {
            return bad("--penalty-config needs a penalty: name it in the JSON's \"penalty\" or with --penalty".into());
        }
        for (flag, path) in [
            ("--data-dir", Some(&self.data_dir)),
            ("--data", self.data_file.as_ref()),
        ] {
            if let Some(p) = path.filter(|p| p.to_str().is_none()) {
                return bad(format!(
                    "{flag} {}: the path is not UTF-8, and settings.json must record it (rename \
                     the folder or the file)",
                    p.display()
                ));
            }
        }
        if self.train_limit == Some(0) {
            return bad("--train-limit must be at least 1".into());
        }
        if self.test_limit.is_some_and(|n| n < 2) {
            return bad(
                "--test-limit must be at least 2 (explained variance needs two rows)".into(),
            );
        }
        Ok(())
    }

    /// A short name for the run, used for the default output folder: the architecture, its
    /// strength (`k`, or λ) or its penalty, and the latents.
    pub fn run_name(&self) -> String {
        let arch = self.arch.as_str();
        if vocabulary::arch_has(arch, "k") {
            format!("{arch}-k{}-h{}", self.k, self.hidden)
        } else if vocabulary::arch_has(arch, "lambda") {
            format!("{arch}-l{}-h{}", self.lambda, self.hidden)
        } else {
            format!("{arch}-{}-h{}", self.penalty_name(), self.hidden)
        }
    }
}

/// Whether `f` is in (0, 1]: a share of something that must not be empty (`--mask-density`,
/// `--resample-until`, `--warmup-fraction`).
pub(crate) fn is_fraction(f: f64) -> bool {
    f > 0.0 && f <= 1.0
}
