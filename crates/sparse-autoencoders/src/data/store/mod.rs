//! Activations on disk: a store of shards written by a harvest, read a chunk at a time and
//! streamed through a shuffling buffer, so that training and evaluation hold a bounded number
//! of rows whatever the size of the data.
//!
//! - [`StoreWriter`] writes a store: `manifest.json` ([`StoreManifest`]) and shards
//!   `shard-NNNNN.safetensors` of [`StoreConfig::rows_per_shard`] rows each (one tensor,
//!   `activations`, in f32, f16 or bf16). Each shard is written under a temporary name and
//!   renamed, then the manifest is rewritten (also atomically): a killed harvest leaves the
//!   shards the manifest lists, and [`StoreWriter::open`] continues after them.
//! - [`RowStore`] reads rows a chunk at a time from a store, a folder of `.npy` /
//!   `.safetensors` files, or one `.npy` or `.safetensors` file (split into chunks of about
//!   [`CHUNK_BYTES`]), and views a range of its rows (a train / test split).
//! - [`ShuffledRows`] streams a view's rows for one epoch: chunks in an order drawn from
//!   `(seed, epoch)`, mixed in a buffer of a given number of rows on a background thread, cut
//!   into batches; the same seed and epoch give the same batches.

mod manifest;
mod rows;
mod stream;
mod writer;

pub use manifest::*;
pub use rows::*;
pub use stream::*;
pub use writer::*;
