//! Sparse coding: batched orthogonal matching pursuit ([`Omp`]) and dictionary learning
//! around it ([`dictionary_step`], [`normalize_atoms`], [`reconstruction_loss`]).

mod dictionary;
mod omp;
#[cfg(feature = "flex")]
mod omp_cpu;

pub use dictionary::*;
pub use omp::*;
