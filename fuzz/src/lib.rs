//! The file readers of `sparse-autoencoders` (`src/data/{error,idx,npy,safetensors}.rs`) and
//! sae-mnist's run settings (`examples/sae-mnist/src/settings.rs`), compiled from their own
//! source files without Burn, for the fuzz targets. The Burn-side items they name
//! (`Activations`, sae-mnist's `AppError`, its `vocabulary` of registry names, the bundled
//! data folder) are stand-ins here.
#![allow(dead_code, unused_imports)]

pub mod data;

/// Stand-in for sae-mnist's error type: the one variant its settings use.
pub mod error {
    /// A setting that is out of its domain.
    #[derive(Debug)]
    pub enum AppError {
        /// The message.
        Setting(String),
    }
}

/// sae-mnist's run settings (`settings.json`, read by `--resume`).
#[path = "../../examples/sae-mnist/src/settings.rs"]
pub mod settings;

/// Stand-in for the bundled data folder.
pub fn default_data_dir() -> std::path::PathBuf {
    std::path::PathBuf::from("data/mnist-10k")
}

/// Stand-in for sae-mnist's `vocabulary` (see the file).
pub mod vocabulary;
