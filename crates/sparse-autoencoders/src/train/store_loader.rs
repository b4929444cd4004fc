//! [`StoreLoader`]: a burn-train data loader over rows on disk ([`RowStore`]), streamed
//! through the mixing buffer of [`ShuffledRows`], whose order depends only on (seed, epoch)
//! like [`EpochLoader`](super::EpochLoader)'s.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use burn::data::dataloader::{DataLoader, DataLoaderIterator, Progress};
use burn::data::dataset::DatasetError;
use burn::prelude::*;
use burn::tensor::TensorData;

use crate::data::{ActivationBatch, RowStore, ShuffledRows, StreamOrder};

/// Batches of a [`RowStore`] view, one epoch per `iter()`.
#[derive(Clone)]
pub struct StoreLoader {
    store: RowStore,
    order: StreamOrder,
    device: Device,
    epoch: Arc<AtomicUsize>,
}

impl StoreLoader {
    /// A loader over `store` in `order` (a seed shuffles through the mixing buffer; none
    /// keeps the order).
    pub fn new(store: RowStore, order: StreamOrder, device: &Device) -> Self {
        Self {
            store,
            order,
            device: device.clone(),
            epoch: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The next `iter()` is epoch `epoch` (0-based): for a run resumed after `epoch` epochs.
    pub fn starting_at(self, epoch: usize) -> Self {
        self.epoch.store(epoch, Ordering::SeqCst);
        self
    }
}

struct StoreIter {
    rows: ShuffledRows,
    dim: usize,
    device: Device,
    seen: usize,
    total: usize,
}

impl Iterator for StoreIter {
    type Item = Result<ActivationBatch, DatasetError>;

    fn next(&mut self) -> Option<Self::Item> {
        let batch = match self.rows.next()? {
            Ok(batch) => batch,
            Err(e) => return Some(Err(DatasetError::new(e))),
        };
        let n = batch.len() / self.dim;
        self.seen += n;
        let x = Tensor::<2>::from_data(TensorData::new(batch, [n, self.dim]), &self.device);
        Some(Ok(ActivationBatch { x }))
    }
}

impl DataLoaderIterator<ActivationBatch> for StoreIter {
    fn progress(&self) -> Progress {
        Progress::new(self.seen, self.total, Some("rows".to_string()))
    }
}

impl DataLoader<ActivationBatch> for StoreLoader {
    fn iter<'a>(&'a self) -> Box<dyn DataLoaderIterator<ActivationBatch> + 'a> {
        let epoch = self.epoch.fetch_add(1, Ordering::SeqCst);
        Box::new(StoreIter {
            rows: ShuffledRows::start(&self.store, self.order, epoch),
            dim: self.store.dim(),
            device: self.device.clone(),
            seen: 0,
            total: self.store.len(),
        })
    }

    fn num_items(&self) -> usize {
        self.store.len()
    }

    fn to_device(&self, device: &Device) -> Arc<dyn DataLoader<ActivationBatch>> {
        let mut l = self.clone();
        l.device = device.clone();
        Arc::new(l)
    }

    fn slice(&self, start: usize, end: usize) -> Arc<dyn DataLoader<ActivationBatch>> {
        let mut l = self.clone();
        l.store = self.store.view(start, end);
        Arc::new(l)
    }
}
