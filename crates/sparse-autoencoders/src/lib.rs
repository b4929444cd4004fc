//! # sparse-autoencoders
//!
//! Sparse autoencoders (SAEs) for the [Burn](https://burn.dev) deep-learning framework, trained
//! with Burn's own training engine (`burn::train`), on any backend: the Rust counterpart of
//! SAELens, dictionary_learning and sparsify.
//!
//! ```text
//! z = (x − b_dec) W_enc + b_enc      f = architecture(z)      x̂ = f W_dec + b_dec
//! ```
//!
//! | architecture | codes | sparsity from |
//! | --- | --- | --- |
//! | [`relu`](arch::relu) | `relu(z)` | any sparse-losses penalty on the codes, the decoder-weighted codes or the weights |
//! | [`sigmoid`](arch::sigmoid) | `σ(z)` | a penalty on mean activations (KL sparsity) |
//! | [`top_k`](arch::top_k) | k largest per row | the selection (+ optional AuxK) |
//! | [`batch_top_k`](arch::batch_top_k) | k·B largest per batch; threshold at inference | the selection (+ AuxK) |
//! | [`matryoshka`](arch::matryoshka) | BatchTopK, loss summed over nested prefixes | the selection (+ AuxK) |
//! | [`jump_relu`](arch::jump_relu) | `z · 1[z > θ]`, learned θ | `λ · L0` with pseudo-derivatives |
//! | [`gated`](arch::gated) | gate ⊙ magnitude | L1 on the gate path |
//! | [`hard_concrete`](arch::hard_concrete) | stochastic gate ⊙ magnitude | `λ · E[L0]` |
//! | [`omp`](arch::omp) | orthogonal matching pursuit over the decoder | `k` |
//!
//! ## Training an SAE on your own activations
//!
//! ```
//! use std::sync::Arc;
//! use burn::prelude::*;
//! use sparse_autoencoders::prelude::*;
//!
//! // 512 rows of 16-dimensional activations (here: a planted dictionary of 24 features).
//! let data = Planted::new(16, 24, 512, 0.1, 0);
//! let rows = Arc::new(data.rows.clone());
//!
//! let device = Device::flex().autodiff();
//! let sae = SaeConfig::new(16, 32)
//!     .with_architecture(Architecture::TopK(arch::TopKConfig { k: 4 }))
//!     .init_with_data(&rows, &device)?;
//! let before = evaluate(&sae, &rows, 256, &device)?;
//!
//! let dir = std::env::temp_dir().join(format!("sae-doc-{}", std::process::id()));
//! let config = TrainConfig::new().with_epochs(3).with_batch_size(64).with_checkpoints(false);
//! let trained = fit(sae, rows.clone(), rows.clone(), &config, &dir, FitOptions::default())?;
//! let after = evaluate(&trained.model, &rows, 256, &device)?;
//!
//! assert_eq!(after.l0, 4.0);
//! assert!(after.explained_variance > before.explained_variance);
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), sparse_autoencoders::Error>(())
//! ```
//!
//! [`fit`] wires the model into burn-train's `SupervisedTraining` (Adam, the SAE metrics as
//! burn-train [`Metric`](burn::train::metric::Metric)s, checkpoints, resume, multi-device
//! strategies); [`Sae`] implements `TrainStep` and `InferenceStep`, so it can also be given to
//! a `SupervisedTraining` the caller builds. [`data`] reads activations from `.npy`,
//! `.safetensors` and MNIST IDX files. [`synthetic`] is a seeded benchmark with known features
//! (Zipf-distributed frequencies, correlated groups, parent/child hierarchy) and a scorer that
//! matches latents to the true features (Hungarian on |cosine|: MCC, detection F1, shrinkage).
//!
//! Against feature suppression: [`finetune_decoder`] refits the decoder of a trained SAE with
//! its encoder frozen and no penalty (Wright & Sharkey 2024), which removes the shrinkage of
//! L1-like penalties without changing the codes; [`SaeConfig::penalty_warmup_steps`] and
//! [`SaeConfig::p_anneal`] schedule the penalty over the steps. [`fit_many`] trains several
//! SAEs on one stream of batches (a sweep over methods and strengths).
#![warn(missing_docs)]

pub mod arch;
mod checked;
mod config;
pub mod dashboard;
pub mod data;
mod error;
pub mod harvest;
mod input_norm;
pub mod interop;
mod loss;
pub mod memory;
mod params;
pub mod probe;
mod sae;
pub mod splice;
pub mod stability;
pub mod stats;
pub mod synthetic;
pub mod train;

pub use arch::{AnyArchitecture, Architecture};
pub use config::*;
pub use error::*;
pub use input_norm::{InputNormalization, RowStatistics};
pub use loss::recon_loss;
pub use sae::*;
pub use synthetic::Planted;
pub use train::*;

/// `use sparse_autoencoders::prelude::*;`
pub mod prelude {
    pub use crate::arch;
    pub use crate::data::*;
    pub use crate::synthetic::Planted;
    pub use crate::train::*;
    pub use crate::{Architecture, DecoderBiasInit, Error, PenaltyTarget, Result, Sae, SaeConfig};
}

/// The Rust snippets of the README and of the book (`docs/src/`), compiled and run as doc tests
/// of this crate (which can use both sparse-losses and sparse-autoencoders), so that the pages
/// stay true.
#[cfg(doctest)]
mod pages {
    #[doc = include_str!("../../../README.md")]
    struct Readme;
    #[doc = include_str!("../../../docs/src/introduction.md")]
    struct Introduction;
    #[doc = include_str!("../../../docs/src/masks-and-prox.md")]
    struct MasksAndProx;
    #[doc = include_str!("../../../docs/src/omp.md")]
    struct Omp;
    #[doc = include_str!("../../../docs/src/sae-library.md")]
    struct SaeLibrary;
    #[doc = include_str!("../../../docs/src/model-activations.md")]
    struct ModelActivations;
    #[doc = include_str!("../../../docs/src/sharing.md")]
    struct Sharing;
    #[doc = include_str!("../../../docs/src/pruning.md")]
    struct Pruning;
}
