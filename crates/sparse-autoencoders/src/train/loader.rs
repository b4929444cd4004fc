//! [`EpochLoader`]: a burn-train data loader whose shuffle depends only on (seed, epoch).
//!
//! Burn's `DataLoaderBuilder::shuffle(seed)` draws each epoch's order from one generator that
//! lives in the loader (and is forked when the trainer moves the loader to its device), so a
//! run resumed from a checkpoint sees different orders than the uninterrupted run. This loader
//! numbers its epochs instead: epoch `e`'s order is a Fisher–Yates shuffle from
//! `ChaCha8(seed, stream e)`, and [`EpochLoader::starting_at`] makes a resumed run continue
//! exactly where the checkpoint left off. It also builds each batch with one slice copy, not
//! one allocation per row.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use burn::data::dataloader::{DataLoader, DataLoaderIterator, Progress};
use burn::data::dataset::DatasetError;
use burn::prelude::*;
use burn::tensor::TensorData;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::data::ActivationBatch;

/// Rows in batches, reshuffled each epoch from `(seed, epoch)`.
#[derive(Clone)]
pub struct EpochLoader {
    rows: Arc<Vec<f32>>,
    dim: usize,
    batch_size: usize,
    shuffle: Option<u64>,
    device: Device,
    epoch: Arc<AtomicUsize>,
    range: (usize, usize),
}

impl EpochLoader {
    /// A loader over `rows` (row-major `[n, dim]`). `shuffle`: the seed, or `None` to keep the
    /// order.
    pub fn new(
        rows: Arc<Vec<f32>>,
        dim: usize,
        batch_size: usize,
        shuffle: Option<u64>,
        device: &Device,
    ) -> Self {
        let n = rows.len() / dim.max(1);
        Self {
            rows,
            dim,
            batch_size: batch_size.max(1),
            shuffle,
            device: device.clone(),
            epoch: Arc::new(AtomicUsize::new(0)),
            range: (0, n),
        }
    }

    /// The next `iter()` is epoch `epoch` (0-based): for a run resumed after `epoch` epochs.
    pub fn starting_at(self, epoch: usize) -> Self {
        self.epoch.store(epoch, Ordering::SeqCst);
        self
    }

    /// The row order of epoch `epoch`.
    pub fn order(&self, epoch: usize) -> Vec<usize> {
        let mut idx: Vec<usize> = (self.range.0..self.range.1).collect();
        if let Some(seed) = self.shuffle {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(epoch as u64);
            idx.shuffle(&mut rng);
        }
        idx
    }
}

struct EpochIter<'a> {
    loader: &'a EpochLoader,
    order: Vec<usize>,
    pos: usize,
}

impl Iterator for EpochIter<'_> {
    type Item = Result<ActivationBatch, DatasetError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.order.len() {
            return None;
        }
        let end = (self.pos + self.loader.batch_size).min(self.order.len());
        let d = self.loader.dim;
        let mut flat = Vec::with_capacity((end - self.pos) * d);
        for &i in &self.order[self.pos..end] {
            flat.extend_from_slice(&self.loader.rows[i * d..(i + 1) * d]);
        }
        let n = end - self.pos;
        self.pos = end;
        let x = Tensor::<2>::from_data(TensorData::new(flat, [n, d]), &self.loader.device);
        Some(Ok(ActivationBatch { x }))
    }
}

impl DataLoaderIterator<ActivationBatch> for EpochIter<'_> {
    fn progress(&self) -> Progress {
        Progress::new(self.pos, self.order.len(), Some("rows".to_string()))
    }
}

impl DataLoader<ActivationBatch> for EpochLoader {
    fn iter<'a>(&'a self) -> Box<dyn DataLoaderIterator<ActivationBatch> + 'a> {
        let epoch = self.epoch.fetch_add(1, Ordering::SeqCst);
        Box::new(EpochIter {
            loader: self,
            order: self.order(epoch),
            pos: 0,
        })
    }

    fn num_items(&self) -> usize {
        self.range.1 - self.range.0
    }

    fn to_device(&self, device: &Device) -> Arc<dyn DataLoader<ActivationBatch>> {
        let mut l = self.clone();
        l.device = device.clone();
        Arc::new(l)
    }

    fn slice(&self, start: usize, end: usize) -> Arc<dyn DataLoader<ActivationBatch>> {
        let mut l = self.clone();
        let s = (self.range.0 + start).min(self.range.1);
        let e = (self.range.0 + end).min(self.range.1).max(s);
        l.range = (s, e);
        Arc::new(l)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows_seen(loader: &EpochLoader) -> Vec<f32> {
        loader
            .iter()
            .flat_map(|b| b.unwrap().x.try_into_vec_as::<f32>().unwrap())
            .collect()
    }

    #[test]
    fn each_epoch_is_a_permutation_fixed_by_seed_and_epoch() {
        let dev = Device::flex();
        let rows: Vec<f32> = (0..10).map(|i| i as f32).collect();
        let loader = EpochLoader::new(Arc::new(rows), 1, 3, Some(7), &dev);
        let e0 = rows_seen(&loader);
        let e1 = rows_seen(&loader);
        assert_ne!(e0, e1, "a new order every epoch");
        let mut sorted = e1.clone();
        sorted.sort_by(f32::total_cmp);
        assert_eq!(sorted, (0..10).map(|i| i as f32).collect::<Vec<_>>());
        // A loader that starts at epoch 1 (a resumed run) sees epoch 1's order.
        let resumed = EpochLoader::new(loader.rows.clone(), 1, 3, Some(7), &dev).starting_at(1);
        assert_eq!(rows_seen(&resumed), e1);
        // No shuffle keeps the order; slices cover their range.
        let plain = EpochLoader::new(loader.rows.clone(), 1, 4, None, &dev);
        assert_eq!(
            rows_seen(&plain),
            (0..10).map(|i| i as f32).collect::<Vec<_>>()
        );
        let part = plain.slice(2, 5);
        assert_eq!(part.num_items(), 3);
        let got: Vec<f32> = part
            .iter()
            .flat_map(|b| b.unwrap().x.try_into_vec_as::<f32>().unwrap())
            .collect();
        assert_eq!(got, vec![2.0, 3.0, 4.0]);
    }
}
