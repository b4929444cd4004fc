//! `sae-mnist model`: the whole path from a Burn model to an SAE on its activations and what
//! it costs the model: a classifier trained in Burn on MNIST ([`classifier`]), its activations
//! at `h1` or `h2` harvested to activation stores, an SAE trained by streaming them from disk,
//! then the SAE's reconstruction spliced back into the classifier and its latents probed
//! ([`report`]). The metrics carry the key names of `torch_model_sae.py`.

pub mod classifier;
pub mod cli;
pub mod report;

pub use cli::main;
