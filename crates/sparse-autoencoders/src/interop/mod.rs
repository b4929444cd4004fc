//! Files other tools read and write: SAELens directories ([`saelens`]) and EleutherAI
//! sparsify directories ([`sparsify`]), through one inference form ([`InferenceSae`]).
//!
//! ```
//! use burn::prelude::*;
//! use sparse_autoencoders::interop::{load, save, ExternalFormat};
//! use sparse_autoencoders::{arch, SaeConfig};
//!
//! let device = Device::flex();
//! let sae = SaeConfig::new(8, 16)
//!     .with_architecture(arch::TopKConfig { k: 3 }.into())
//!     .init(&device)?;
//! let dir = std::env::temp_dir().join(format!("sae-interop-doc-{}", std::process::id()));
//! save(&sae, &dir, ExternalFormat::SaeLens)?;
//! let back = load(&dir, &device)?; // SAELens or sparsify, told apart by the weights file
//! let x = Tensor::<2>::random([4, 8], burn::tensor::Distribution::Default, &device);
//! let (a, b) = (sae.encode(x.clone()), back.encode(x));
//! assert!((a - b).abs().max().into_scalar::<f32>() < 1e-6);
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), sparse_autoencoders::Error>(())
//! ```

mod files;
mod inference;
pub mod saelens;
pub mod sparsify;

use std::path::Path;

use burn::prelude::*;

use inference::add_row_product;
pub use inference::{InferenceActivation, InferenceSae};
pub use saelens::{load_saelens, read_saelens, save_saelens, write_saelens};
pub use sparsify::{load_sparsify, read_sparsify, save_sparsify, write_sparsify};

use crate::{Error, Result, Sae};

/// A directory format of another tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExternalFormat {
    /// SAELens 6.x: `cfg.json` + `sae_weights.safetensors`.
    SaeLens,
    /// EleutherAI sparsify: `cfg.json` + `sae.safetensors`.
    Sparsify,
}

impl ExternalFormat {
    /// The names accepted by [`from_name`](Self::from_name).
    pub const NAMES: [&'static str; 2] = ["saelens", "sparsify"];

    /// The format called `name` (`saelens` or `sparsify`).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "saelens" => Some(Self::SaeLens),
            "sparsify" => Some(Self::Sparsify),
            _ => None,
        }
    }

    /// The format of the SAE directory `dir`, told by its weights file; `None` when it has
    /// neither.
    pub fn detect(dir: &Path) -> Option<Self> {
        if dir.join(saelens::SAELENS_WEIGHTS).is_file() {
            Some(Self::SaeLens)
        } else if dir.join(sparsify::SPARSIFY_WEIGHTS).is_file() {
            Some(Self::Sparsify)
        } else {
            None
        }
    }
}

/// Saves `sae` in `format` to `dir` ([`save_saelens`] or [`save_sparsify`]).
///
/// # Errors
/// Those of the format's writer.
pub fn save(sae: &Sae, dir: &Path, format: ExternalFormat) -> Result<()> {
    match format {
        ExternalFormat::SaeLens => save_saelens(sae, dir),
        ExternalFormat::Sparsify => save_sparsify(sae, dir),
    }
}

/// Loads the SAELens or sparsify directory `dir` ([`ExternalFormat::detect`]) as an [`Sae`] on
/// `device`.
///
/// # Errors
/// [`Error::ExternalSae`] for a directory that is neither; those of the format's reader.
pub fn load(dir: &Path, device: &Device) -> Result<Sae> {
    match ExternalFormat::detect(dir) {
        Some(ExternalFormat::SaeLens) => load_saelens(dir, device),
        Some(ExternalFormat::Sparsify) => load_sparsify(dir, device),
        None => Err(Error::ExternalSae {
            path: dir.to_path_buf(),
            message: format!(
                "is not an SAE directory: no {} (SAELens) or {} (sparsify)",
                saelens::SAELENS_WEIGHTS,
                sparsify::SPARSIFY_WEIGHTS
            ),
        }),
    }
}
