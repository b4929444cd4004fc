//! Harvesting: a Burn model's activations at one or several points, written to activation
//! stores on disk ([`StoreWriter`]) to train SAEs from ([`RowStore`], streamed by
//! [`fit`](crate::fit)).
//!
//! [`StoreWriter`]: crate::data::StoreWriter
//! [`RowStore`]: crate::data::RowStore
//!
//! Burn has no forward hooks, so the caller says how to reach the points: a closure from a
//! batch of inputs to the activations at each point ([`harvest`]), or the
//! [`ActivationPoints`] trait implemented by the model ([`harvest_model`]).
//!
//! ```
//! use burn::prelude::*;
//! use burn::tensor::TensorData;
//! use sparse_autoencoders::data::{RowStore, StoreSource};
//! use sparse_autoencoders::harvest::{harvest, HarvestConfig};
//!
//! // A "model": one linear map and a ReLU; the point `hidden` is after the ReLU.
//! let device = Device::flex();
//! let w = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, -1.0, 0.5, 2.0], [2, 2]), &device);
//! let hidden = |x: Tensor<2>| burn::tensor::activation::relu(x.matmul(w.clone()));
//! let batches = (0..5).map(|i| {
//!     Tensor::<2>::from_data(TensorData::new(vec![i as f32, 1.0, 1.0, i as f32], [2, 2]), &device)
//! });
//! let dir = std::env::temp_dir().join(format!("harvest-doc-{}", std::process::id()));
//! let config = HarvestConfig::new().with_rows_per_shard(4);
//! let source = StoreSource { model: "relu-2x2".into(), data: "doc".into() };
//! let report = harvest(batches, &["hidden"], |x| vec![hidden(x)], &dir, &config, source, |_| {})?;
//! assert_eq!(report.rows, 10);
//! let store = RowStore::open(dir.join("hidden"))?;
//! assert_eq!((store.len(), store.dim(), store.chunk_count()), (10, 2, 3));
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), sparse_autoencoders::Error>(())
//! ```

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::config::Config;
use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;

use crate::data::{StoreConfig, StoreDtype, StoreSource, StoreWriter};
use crate::{Error, Result};

/// A model that names points its activations can be taken at, and computes them: the trait
/// form of the closure [`harvest`] takes.
pub trait ActivationPoints<I> {
    /// The points' names, in the order [`activations`](Self::activations) returns them.
    fn point_names(&self) -> Vec<String>;
    /// The activations at every point for a batch of inputs, each `[batch, width]`.
    fn activations(&self, input: I) -> Vec<Tensor<2>>;
}

/// How a harvest writes its stores.
#[derive(Config, Debug)]
pub struct HarvestConfig {
    /// The shards' element type.
    #[config(default = "StoreDtype::F32")]
    pub dtype: StoreDtype,
    /// Rows a shard (the unit a killed harvest loses).
    #[config(default = 16384)]
    pub rows_per_shard: usize,
}

/// Where a harvest stands, after each batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HarvestProgress {
    /// Rows stored (at the first point), including those of an earlier session.
    pub rows: usize,
    /// Rows a second in this session.
    pub rows_per_second: f64,
}

/// What a harvest did.
#[derive(Debug, Clone, PartialEq)]
pub struct HarvestReport {
    /// Rows in each store.
    pub rows: usize,
    /// Rows an earlier (killed) session had stored.
    pub resumed_rows: usize,
    /// The stores, one folder per point (`dir/<name>`).
    pub stores: Vec<PathBuf>,
    /// Seconds of this session.
    pub seconds: f64,
}

/// Runs `points` on every batch of `batches` and writes the activations at each point into
/// the store `dir/<name>` ([`StoreWriter`]), with `source` recorded in the manifests. A store
/// left unfinished by a killed harvest is continued: its stored rows are skipped (the batches
/// must come in the same order; their activations are computed again and dropped), and a
/// store of other rows or another source is refused. `progress` is called after each batch.
///
/// # Errors
/// [`Error::Shape`] when `points` returns another number of tensors than `names`, or
/// tensors of different row counts or of another width than before; the stores' errors
/// (non-finite activations, I/O).
pub fn harvest<I>(
    batches: impl IntoIterator<Item = I>,
    names: &[&str],
    mut points: impl FnMut(I) -> Vec<Tensor<2>>,
    dir: &Path,
    config: &HarvestConfig,
    source: StoreSource,
    mut progress: impl FnMut(HarvestProgress),
) -> Result<HarvestReport> {
    if names.is_empty() {
        return Err(Error::Shape("a harvest needs at least one point".into()));
    }
    let started = Instant::now();
    let stores: Vec<PathBuf> = names.iter().map(|n| dir.join(n)).collect();
    let mut writers: Vec<Option<StoreWriter>> = names.iter().map(|_| None).collect();
    let mut seen = 0usize;
    let mut resumed = None;
    for batch in batches {
        let acts = points(batch);
        if acts.len() != names.len() {
            return Err(Error::Shape(format!(
                "the harvest closure returned {} tensors for the {} points {names:?}",
                acts.len(),
                names.len()
            )));
        }
        let rows = acts[0].dims()[0];
        for (i, t) in acts.into_iter().enumerate() {
            let [n, width] = t.dims();
            if n != rows {
                return Err(Error::Shape(format!(
                    "point {:?} gave {n} rows for a batch where {:?} gave {rows}",
                    names[i], names[0]
                )));
            }
            if writers[i].is_none() {
                let store = StoreConfig::new(names[i].to_string(), width)
                    .with_dtype(config.dtype)
                    .with_rows_per_shard(config.rows_per_shard);
                writers[i] = Some(StoreWriter::open(&stores[i], &store, source.clone())?);
            }
            let writer = writers[i].as_mut().expect("opened above");
            if width != writer.manifest().dim {
                return Err(Error::Shape(format!(
                    "point {:?} gave rows of {width}, before of {}",
                    names[i],
                    writer.manifest().dim
                )));
            }
            resumed.get_or_insert(writer.rows_done());
            // Rows an earlier session stored are dropped.
            let skip = writer.rows_done().saturating_sub(seen).min(n);
            if skip < n && !writer.is_complete() {
                let values = t
                    .slice([skip..n, 0..width])
                    .try_into_vec_as::<f32>()
                    .map_err(|e| Error::Training(format!("{e:?}")))?;
                writer.push(&values)?;
            }
        }
        seen += rows;
        let stored = writers[0].as_ref().map_or(0, |w| w.rows_done());
        let secs = started.elapsed().as_secs_f64().max(1e-9);
        progress(HarvestProgress {
            rows: stored.max(seen),
            rows_per_second: seen.saturating_sub(resumed.unwrap_or(0)) as f64 / secs,
        });
    }
    let mut total = 0;
    for w in writers.into_iter().flatten() {
        let m = if w.is_complete() {
            w.manifest().clone()
        } else {
            w.finish()?
        };
        total = m.total_rows;
    }
    Ok(HarvestReport {
        rows: total,
        resumed_rows: resumed.unwrap_or(0),
        stores,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// [`harvest`] with the points of a model that implements [`ActivationPoints`].
///
/// ```
/// use burn::prelude::*;
/// use burn::tensor::activation::relu;
/// use burn::tensor::TensorData;
/// use sparse_autoencoders::data::{RowStore, StoreSource};
/// use sparse_autoencoders::harvest::{harvest_model, ActivationPoints, HarvestConfig};
///
/// /// A model with two points: before and after its ReLU.
/// struct Layer {
///     w: Tensor<2>,
/// }
///
/// impl ActivationPoints<Tensor<2>> for Layer {
///     fn point_names(&self) -> Vec<String> {
///         vec!["pre".into(), "post".into()]
///     }
///     fn activations(&self, x: Tensor<2>) -> Vec<Tensor<2>> {
///         let pre = x.matmul(self.w.clone());
///         vec![pre.clone(), relu(pre)]
///     }
/// }
///
/// let device = Device::flex();
/// let w = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, -2.0, 0.5, 1.0], [2, 2]), &device);
/// let model = Layer { w };
/// let batches = (0..3).map(|i| {
///     Tensor::<2>::from_data(TensorData::new(vec![i as f32, 1.0], [1, 2]), &device)
/// });
/// let dir = std::env::temp_dir().join(format!("harvest-model-doc-{}", std::process::id()));
/// let source = StoreSource { model: "layer".into(), data: "three rows".into() };
/// harvest_model(&model, batches, &dir, &HarvestConfig::new(), source, |_| {})?;
/// let post = RowStore::open(dir.join("post"))?.read_all()?;
/// assert_eq!(post, vec![0.5, 1.0, 1.5, 0.0, 2.5, 0.0]);
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), sparse_autoencoders::Error>(())
/// ```
///
/// # Errors
/// As [`harvest`].
pub fn harvest_model<I, M: ActivationPoints<I>>(
    model: &M,
    batches: impl IntoIterator<Item = I>,
    dir: &Path,
    config: &HarvestConfig,
    source: StoreSource,
    progress: impl FnMut(HarvestProgress),
) -> Result<HarvestReport> {
    let names = model.point_names();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    harvest(
        batches,
        &names,
        |b| model.activations(b),
        dir,
        config,
        source,
        progress,
    )
}

/// A fingerprint of a module's parameters (FNV-1a over their shapes and values, in visit
/// order), to record which model a store came from: the same parameters give the same text.
pub fn module_fingerprint<M: Module>(module: &M) -> String {
    struct Fnv(u64);
    impl Fnv {
        fn bytes(&mut self, b: &[u8]) {
            for x in b {
                self.0 ^= u64::from(*x);
                self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
            }
        }
    }
    impl ModuleVisitor for Fnv {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let t = param.val();
            for d in t.dims() {
                self.bytes(&(d as u64).to_le_bytes());
            }
            if let Ok(values) = t.try_into_vec_as::<f32>() {
                for v in values {
                    self.bytes(&v.to_le_bytes());
                }
            }
        }
    }
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    module.visit(&mut h);
    format!("{:016x}", h.0)
}
