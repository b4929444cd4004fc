//! The data layer: reading activations and images, and feeding them to Burn.
//!
//! - [`Activations`]: a row-major `f32` matrix loaded from `.npy` ([`read_npy`]) or
//!   `.safetensors` ([`read_safetensors`]) files, from memory or from a tensor;
//!   [`Activations::load`] picks the reader by the file extension.
//! - [`ActivationDataset`] and [`ActivationBatcher`]: a Burn `Dataset` of rows and a `Batcher`
//!   producing [`ActivationBatch`]es of `[batch, dim]` tensors, for `DataLoaderBuilder`.
//! - [`load_mnist`], [`read_idx`]: the MNIST / Fashion-MNIST IDX reader (gzipped or not).
//! - [`write_npy_f32`]: exports a matrix (activations, codes) for NumPy.
//! - [`StoreWriter`], [`RowStore`], [`ShuffledRows`]: activations on disk, written in shards
//!   and streamed back through a shuffling buffer (see the `store` module).
//!
//! Every failure is a [`DataError`] whose one-line message names the file and the problem. The
//! readers never panic on malformed input, and never allocate more than the input holds: sizes
//! announced by headers are checked against the file length before any allocation.

mod activations;
mod dataset;
mod error;
mod idx;
mod npy;
mod safetensors;
mod store;

pub use self::activations::*;
pub use self::dataset::*;
pub use self::error::*;
pub use self::idx::*;
pub use self::npy::*;
pub use self::safetensors::*;
pub use self::store::*;
