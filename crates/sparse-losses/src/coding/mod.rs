//! Sparse coding: batched orthogonal matching pursuit ([`Omp`]) and dictionary learning
//! around it ([`dictionary_step`], [`normalize_atoms`], [`reconstruction_loss`]).

mod dictionary;
mod omp;
#[cfg(feature = "flex")]
mod omp_cpu;
mod reconstruction;
mod thresholds;

pub use dictionary::*;
pub use omp::*;
pub use reconstruction::*;
