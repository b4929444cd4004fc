//! Burn's data pipeline over [`Activations`]: a [`Dataset`] of rows and a [`Batcher`] that
//! stacks rows into one `[batch, dim]` tensor.
//!
//! ```
//! use burn::data::dataloader::DataLoaderBuilder;
//! use burn::prelude::*;
//! use sparse_autoencoders::data::{ActivationDataset, Activations};
//!
//! // Or `Activations::load("acts.npy", None)?`.
//! let rows = Activations::from_vec((0..40).map(|i| i as f32).collect(), 4)?;
//! let data = ActivationDataset::new(rows);
//! let loader = DataLoaderBuilder::new(data.batcher())
//!     .batch_size(4)
//!     .shuffle(7)
//!     .set_device(Device::flex())
//!     .build(data);
//! let batches: Vec<_> = loader.iter().map(|b| b.unwrap().x.dims()).collect();
//! assert_eq!(batches, [[4, 4], [4, 4], [2, 4]]);
//! # Ok::<(), sparse_autoencoders::data::DataError>(())
//! ```

use std::sync::Arc;

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::{Dataset, DatasetError};
use burn::tensor::{Device, Tensor, TensorData};

use super::activations::Activations;

/// One row of activations.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivationItem {
    /// The row's `dim` values.
    pub values: Vec<f32>,
}

/// The rows of an [`Activations`] matrix as a Burn [`Dataset`]. Cloning is cheap: the matrix
/// is shared behind an [`Arc`].
#[derive(Debug, Clone)]
pub struct ActivationDataset {
    data: Arc<Activations>,
}

impl ActivationDataset {
    /// A dataset over the rows of `data` (an [`Activations`] or an `Arc` of one).
    pub fn new(data: impl Into<Arc<Activations>>) -> Self {
        Self { data: data.into() }
    }

    /// The shared matrix.
    pub fn activations(&self) -> &Arc<Activations> {
        &self.data
    }

    /// Values per row.
    pub fn dim(&self) -> usize {
        self.data.dim
    }

    /// A batcher for this dataset's rows.
    pub fn batcher(&self) -> ActivationBatcher {
        ActivationBatcher::new(self.data.dim)
    }
}

impl Dataset<ActivationItem> for ActivationDataset {
    /// Row `index`, copied.
    ///
    /// # Panics
    ///
    /// If `index >= len()`, as the [`Dataset`] contract specifies.
    fn get(&self, index: usize) -> Result<ActivationItem, DatasetError> {
        Ok(ActivationItem {
            values: self.data.row(index).to_vec(),
        })
    }

    fn len(&self) -> usize {
        self.data.rows
    }
}

/// A batch of rows: `x` is `[batch, dim]`.
#[derive(Debug, Clone)]
pub struct ActivationBatch {
    /// The rows, one per batch item.
    pub x: Tensor<2>,
}

/// Concatenates rows into one `[n, dim]` tensor with a single host-to-device copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActivationBatcher {
    dim: usize,
}

impl ActivationBatcher {
    /// A batcher for rows of `dim` values.
    pub fn new(dim: usize) -> Self {
        Self { dim }
    }

    /// Values per row.
    pub fn dim(&self) -> usize {
        self.dim
    }
}

impl Batcher<ActivationItem, ActivationBatch> for ActivationBatcher {
    /// # Panics
    ///
    /// If an item does not have `dim` values (items from an [`ActivationDataset`] of the same
    /// `dim` always do).
    fn batch(&self, items: Vec<ActivationItem>, device: &Device) -> ActivationBatch {
        let n = items.len();
        let mut flat = Vec::with_capacity(n * self.dim);
        for item in &items {
            assert_eq!(
                item.values.len(),
                self.dim,
                "ActivationBatcher for rows of {} values got a row of {}",
                self.dim,
                item.values.len()
            );
            flat.extend_from_slice(&item.values);
        }
        ActivationBatch {
            x: Tensor::from_data(TensorData::new(flat, [n, self.dim]), device),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::data::dataloader::DataLoaderBuilder;

    fn data() -> Activations {
        Activations::from_vec((0..20).map(|i| i as f32).collect(), 4).unwrap()
    }

    #[test]
    fn dataset_yields_rows() {
        let ds = ActivationDataset::new(data());
        assert_eq!((ds.len(), ds.dim()), (5, 4));
        assert_eq!(ds.get(1).unwrap().values, vec![4.0, 5.0, 6.0, 7.0]);
        let clone = ds.clone();
        assert!(Arc::ptr_eq(clone.activations(), ds.activations()));
        assert_eq!(ds.iter().count(), 5);
    }

    #[test]
    #[should_panic(expected = "out of range")]
    fn dataset_panics_past_the_end_as_the_trait_specifies() {
        let _ = ActivationDataset::new(data()).get(5);
    }

    #[test]
    fn batcher_builds_one_tensor() {
        let ds = ActivationDataset::new(data());
        let device = Device::default();
        let items = vec![ds.get(3).unwrap(), ds.get(0).unwrap()];
        let b = ds.batcher().batch(items, &device);
        assert_eq!(b.x.dims(), [2, 4]);
        assert_eq!(
            b.x.try_into_vec_as::<f32>().unwrap(),
            vec![12.0, 13.0, 14.0, 15.0, 0.0, 1.0, 2.0, 3.0]
        );
        let empty = ds.batcher().batch(Vec::new(), &device);
        assert_eq!(empty.x.dims(), [0, 4]);
    }

    #[test]
    #[should_panic(expected = "got a row of 3")]
    fn batcher_rejects_rows_of_another_width() {
        let items = vec![ActivationItem {
            values: vec![1.0; 3],
        }];
        let _ = ActivationBatcher::new(4).batch(items, &Device::default());
    }

    #[test]
    fn works_with_burns_data_loader() {
        let ds = ActivationDataset::new(data());
        let loader = DataLoaderBuilder::new(ds.batcher())
            .batch_size(2)
            .shuffle(7)
            .set_device(Device::default())
            .build(ds);
        let mut seen = Vec::new();
        let mut sizes = Vec::new();
        for batch in loader.iter() {
            let x = batch.unwrap().x;
            sizes.push(x.dims()[0]);
            seen.extend(x.try_into_vec_as::<f32>().unwrap());
        }
        assert_eq!(sizes.iter().sum::<usize>(), 5);
        seen.sort_by(f32::total_cmp);
        assert_eq!(seen, (0..20).map(|i| i as f32).collect::<Vec<_>>());
    }
}
