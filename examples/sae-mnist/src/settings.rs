//! Every setting of a run, validated, and saved with its checkpoints and metrics.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::AppError;

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

/// The latent activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Arch {
    /// ReLU latents with a penalty (default l1-dec).
    Relu,
    /// The k largest pre-activations of each image, then ReLU.
    Topk,
    /// Orthogonal matching pursuit with k nonzeros over the decoder atoms.
    Omp,
    /// BatchTopK: k·B largest of the batch in training, a learned threshold at inference.
    Batchtopk,
    /// Matryoshka BatchTopK: loss summed over the prefixes h/8, h/4, h/2, h.
    Matryoshka,
    /// JumpReLU with λ·L0 (θ₀ = `--threshold-init`, default 0.3, bandwidth 0.05, as the
    /// PyTorch reference).
    Jumprelu,
    /// Gated SAE with λ on the gate path's L1 (unit-norm decoder).
    Gated,
    /// Hard-concrete L0 gates with the expected L0 times λ.
    L0,
}

impl Arch {
    /// Whether `--k` applies.
    pub fn has_k(self) -> bool {
        matches!(
            self,
            Self::Topk | Self::Omp | Self::Batchtopk | Self::Matryoshka
        )
    }

    /// Whether `--lambda` applies without a penalty.
    pub fn has_lambda(self) -> bool {
        matches!(self, Self::Jumprelu | Self::Gated | Self::L0)
    }

    /// The flag's spelling.
    pub fn name(self) -> &'static str {
        match self {
            Self::Relu => "relu",
            Self::Topk => "topk",
            Self::Omp => "omp",
            Self::Batchtopk => "batchtopk",
            Self::Matryoshka => "matryoshka",
            Self::Jumprelu => "jumprelu",
            Self::Gated => "gated",
            Self::L0 => "l0",
        }
    }
}

/// The sparsity penalty of a `relu` model (any of them also works on top of `topk`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum PenaltyName {
    /// No penalty.
    None,
    /// `λ Σ_j |f_j|` per image.
    L1,
    /// `λ Σ_j f_j ‖W_d[j,:]‖₂` per image: L1 weighted by the atoms' norms, so that shrinking
    /// the codes cannot be undone by growing the decoder (the reference recipe).
    L1Dec,
    /// Elastic net `λ (½ Σ|f| + ¼ Σ f²)` per image (`l1_ratio` 0.5).
    ElasticNet,
    /// Hoyer `λ ‖f‖₁/‖f‖₂`, averaged over the images of a batch.
    Hoyer,
    /// KL sparsity `λ Σ_j KL(ρ ‖ ρ̂_j)` on the batch's mean activations; switches the
    /// latents to sigmoid activations (ρ = `--kl-target`).
    Kl,
    /// `λ` × the entropy of `|f| / ‖f‖₁`, averaged over the images of a batch.
    Entropy,
    /// Spike-and-slab prior `−λ Σ log p(w)` on the encoder and decoder weights.
    SpikeAndSlab,
    /// Group lasso `λ Σ_j √d ‖W_e[:, j]‖₂` on the encoder columns: prunes whole latents.
    GroupLasso,
    /// `λ Σ_j tanh(c·u_j)` on the decoder-weighted codes `u_j = f_j ‖W_d[j,:]‖` (c = `--scale`).
    Tanh,
    /// `λ Σ_j log(1 + u_j/ε)` (ε = `--eps`, default 0.1) on the decoder-weighted codes.
    Logsum,
    /// `λ Σ_j [(u_j² + ε²)^{p/2} − ε^p]` (p = `--p`, default 0.5; ε = `--eps`, default 1e-3).
    Lp,
    /// Lp with p annealed linearly from 1 to `--p` over the training steps (Karvonen et al.).
    LpAnneal,
    /// SCAD (Fan & Li, a = 3.7): λ is the threshold and the scale; flat for u > aλ.
    Scad,
    /// MCP (Zhang, γ = 3): λ is the threshold and the scale; flat for u > γλ.
    Mcp,
}

impl PenaltyName {
    /// The command-line spelling.
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::L1 => "l1",
            Self::L1Dec => "l1-dec",
            Self::ElasticNet => "elastic-net",
            Self::Hoyer => "hoyer",
            Self::Kl => "kl",
            Self::Entropy => "entropy",
            Self::SpikeAndSlab => "spike-and-slab",
            Self::GroupLasso => "group-lasso",
            Self::Tanh => "tanh",
            Self::Logsum => "logsum",
            Self::Lp => "lp",
            Self::LpAnneal => "lp-anneal",
            Self::Scad => "scad",
            Self::Mcp => "mcp",
        }
    }
}

/// Every setting of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Folder with the four IDX files.
    pub data_dir: PathBuf,
    /// The fingerprint of the data the run trains on ([`crate::train::fingerprint`]),
    /// recorded when it starts: `--resume` on other data is refused unless `--new-data`.
    #[serde(default)]
    pub data_fingerprint: Option<String>,
    /// Keep only the first N training images.
    pub train_limit: Option<usize>,
    /// Keep only the first N test images.
    pub test_limit: Option<usize>,
    /// The backend.
    pub backend: BackendKind,
    /// The architecture.
    pub arch: Arch,
    /// Latents.
    pub hidden: usize,
    /// Active latents per image for `topk`.
    pub k: usize,
    /// The sparsity penalty.
    pub penalty: PenaltyName,
    /// Its weight λ.
    pub lambda: f64,
    /// ρ of the KL penalty.
    pub kl_target: f64,
    /// Weight of the total variation of the atoms seen as images (0 = off).
    pub tv: f64,
    /// Fraction of each latent's encoder weights kept by a learnable STE mask (none = no mask).
    pub mask_density: Option<f64>,
    /// Training epochs.
    pub epochs: usize,
    /// AuxK: revive dead latents with this many of them (topk, batchtopk, matryoshka).
    #[serde(default)]
    pub aux_k: Option<usize>,
    /// Train on the rows of a `.npy` or `.safetensors` file instead of images.
    #[serde(default)]
    pub data_file: Option<PathBuf>,
    /// Devices of the backend to train on (indices 0..devices).
    #[serde(default = "one")]
    pub devices: usize,
    /// Distributed data parallel over the devices (burn-train's DDP; CUDA only in Burn 0.22)
    /// instead of the multi-device strategy.
    #[serde(default)]
    pub ddp: bool,
    /// Minibatch size.
    pub batch_size: usize,
    /// Adam's learning rate.
    pub lr: f64,
    /// Seed of the initialisation and of the shuffles.
    pub seed: u64,
    /// `c` of `--penalty tanh` (none: the penalty's default, 1).
    #[serde(default)]
    pub scale: Option<f64>,
    /// ε of `--penalty logsum`, `lp` and `lp-anneal` (none: the penalty's default).
    #[serde(default)]
    pub eps: Option<f64>,
    /// The (target) p of `--penalty lp` and `lp-anneal` (none: 0.5).
    #[serde(default)]
    pub p: Option<f64>,
    /// Linear warm-up of the sparsity coefficient over this many steps (0: none).
    #[serde(default)]
    pub warmup_steps: usize,
    /// Epochs of decoder fine-tuning after training (frozen encoder, no penalty; 0: none).
    #[serde(default)]
    pub finetune_epochs: usize,
    /// Also learn one scale per latent in the fine-tune.
    #[serde(default)]
    pub finetune_scale: bool,
    /// The initial threshold θ₀ of `--arch jumprelu` (none: 0.3).
    #[serde(default)]
    pub threshold_init: Option<f64>,
}

fn one() -> usize {
    1
}

impl Settings {
    /// The defaults: the quality table's `topk` run (256 latents, k = 32, 20 epochs, batch
    /// 256, lr 1e-3) on the bundled mnist-10k.
    pub fn new(data_dir: PathBuf) -> Self {
        Self {
            data_dir,
            data_fingerprint: None,
            train_limit: None,
            test_limit: None,
            backend: BackendKind::Flex,
            arch: Arch::Topk,
            hidden: 256,
            k: 32,
            penalty: PenaltyName::None,
            lambda: 0.8,
            kl_target: 0.05,
            tv: 0.0,
            mask_density: None,
            epochs: 20,
            aux_k: None,
            devices: 1,
            ddp: false,
            data_file: None,
            batch_size: 256,
            lr: 1e-3,
            seed: 0,
            scale: None,
            eps: None,
            p: None,
            warmup_steps: 0,
            finetune_epochs: 0,
            finetune_scale: false,
            threshold_init: None,
        }
    }

    /// Checks every setting; the message says which one is wrong and what it accepts.
    pub fn validate(&self) -> Result<(), AppError> {
        let bad = |msg: String| Err(AppError::Setting(msg));
        if self.hidden == 0 {
            return bad("--hidden must be at least 1".into());
        }
        if self.arch.has_k() && (self.k == 0 || self.k > self.hidden) {
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
        if self.penalty == PenaltyName::Kl && self.arch != Arch::Relu {
            return bad("--penalty kl uses sigmoid latents: use it with --arch relu".into());
        }
        if let Some(f) = self.mask_density {
            if !(f > 0.0 && f <= 1.0) {
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
            let fits = matches!(self.arch, Arch::Topk | Arch::Batchtopk | Arch::Matryoshka);
            if !fits || a == 0 || a > self.hidden {
                return bad(format!(
                    "--aux-k must be in 1..={} and needs --arch topk, batchtopk or matryoshka",
                    self.hidden
                ));
            }
        }
        if self.finetune_epochs > 0 && self.arch == Arch::Omp {
            return bad("--finetune-epochs needs an encoder to freeze: not --arch omp".into());
        }
        if let Some(t) = self.threshold_init {
            if self.arch != Arch::Jumprelu {
                return bad("--threshold-init applies to --arch jumprelu only".into());
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
        for (flag, value, fits) in [
            ("--scale", self.scale, self.penalty == PenaltyName::Tanh),
            (
                "--eps",
                self.eps,
                matches!(
                    self.penalty,
                    PenaltyName::Logsum | PenaltyName::Lp | PenaltyName::LpAnneal
                ),
            ),
            (
                "--p",
                self.p,
                matches!(self.penalty, PenaltyName::Lp | PenaltyName::LpAnneal),
            ),
        ] {
            if value.is_some() && !fits {
                return bad(format!(
                    "{flag} does not apply to --penalty {}",
                    self.penalty.name()
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

    /// A short name for the run, used for the default output folder.
    pub fn run_name(&self) -> String {
        match self.arch {
            Arch::Topk => format!("topk-k{}-h{}", self.k, self.hidden),
            Arch::Omp => format!("omp-k{}-h{}", self.k, self.hidden),
            Arch::Relu => format!("relu-{}-h{}", self.penalty.name(), self.hidden),
            Arch::Batchtopk | Arch::Matryoshka => {
                format!("{}-k{}-h{}", self.arch.name(), self.k, self.hidden)
            }
            Arch::Jumprelu | Arch::Gated | Arch::L0 => {
                format!("{}-l{}-h{}", self.arch.name(), self.lambda, self.hidden)
            }
        }
    }
}
