//! [`RowSource`]: the rows [`fit`](super::fit) trains and validates on, in memory or on disk.

use std::sync::Arc;

use burn::data::dataloader::DataLoader;
use burn::prelude::*;

use super::{EpochLoader, StoreLoader};
use crate::data::{ActivationBatch, RowStore, StreamOrder};
use crate::error::{check_rows, Error, Result, DATA_SCALE};

/// Rows to train or validate on: a row-major `[n, d_in]` vector in memory, or a [`RowStore`]
/// on disk, streamed a chunk at a time through a mixing buffer (memory bounded by the buffer,
/// not by the data).
#[derive(Debug, Clone)]
pub enum RowSource {
    /// Rows in memory.
    Memory(Arc<Vec<f32>>),
    /// Rows on disk.
    Disk(RowStore),
}

impl From<Arc<Vec<f32>>> for RowSource {
    fn from(rows: Arc<Vec<f32>>) -> Self {
        RowSource::Memory(rows)
    }
}

impl From<Vec<f32>> for RowSource {
    fn from(rows: Vec<f32>) -> Self {
        RowSource::Memory(Arc::new(rows))
    }
}

impl From<RowStore> for RowSource {
    fn from(rows: RowStore) -> Self {
        RowSource::Disk(rows)
    }
}

impl RowSource {
    /// Rows of width `d`.
    pub fn rows(&self, d: usize) -> usize {
        match self {
            RowSource::Memory(v) => v.len() / d.max(1),
            RowSource::Disk(s) => s.len(),
        }
    }

    /// [`check_training_rows`](crate::check_training_rows) on these rows; on disk in one
    /// pass holding one chunk.
    ///
    /// # Errors
    /// As `check_training_rows`; a read error.
    pub fn check(&self, what: &'static str, d: usize) -> Result<()> {
        match self {
            RowSource::Memory(v) => crate::check_training_rows(what, v, d),
            RowSource::Disk(store) => check_stored_rows(what, store, d),
        }
    }

    /// A burn-train loader of batches of `batch_size` rows: shuffled from `(seed, epoch)` when
    /// a seed is given (on disk through a mixing buffer of `buffer_rows` rows), in order
    /// otherwise; starting at epoch `start`.
    pub fn loader(
        &self,
        d: usize,
        batch_size: usize,
        seed: Option<u64>,
        buffer_rows: usize,
        start: usize,
        device: &Device,
    ) -> Arc<dyn DataLoader<ActivationBatch>> {
        match self {
            RowSource::Memory(v) => Arc::new(
                EpochLoader::new(v.clone(), d, batch_size, seed, device).starting_at(start),
            ),
            RowSource::Disk(store) => {
                let order = StreamOrder {
                    batch_size,
                    buffer_rows,
                    seed,
                };
                Arc::new(StoreLoader::new(store.clone(), order, device).starting_at(start))
            }
        }
    }
}

/// [`check_training_rows`](crate::check_training_rows) over a store, one chunk at a time.
fn check_stored_rows(what: &'static str, store: &RowStore, d: usize) -> Result<()> {
    if store.dim() != d || store.is_empty() {
        return Err(Error::Shape(format!(
            "the {what} ({}) has {} rows of {} values, expected rows of d_in = {d}",
            store.path().display(),
            store.len(),
            store.dim()
        )));
    }
    let mut row = 0;
    let mut max_abs = 0f32;
    store.for_each_chunk::<Error>(|rows| {
        check_rows(what, rows, d)?;
        if let Some(i) = rows.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite {
                what,
                row: row + i / d,
                col: i % d,
                value: rows[i],
            });
        }
        max_abs = rows.iter().fold(max_abs, |m, v| m.max(v.abs()));
        row += rows.len() / d;
        Ok(())
    })?;
    if !(DATA_SCALE.0..=DATA_SCALE.1).contains(&max_abs) {
        return Err(Error::DataScale { what, max_abs });
    }
    Ok(())
}
