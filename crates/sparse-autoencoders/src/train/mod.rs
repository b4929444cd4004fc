//! Training on burn-train: the [`TrainStep`](burn::train::TrainStep) and
//! [`InferenceStep`](burn::train::InferenceStep) of [`Sae`](crate::Sae), the SAE metrics as
//! burn-train [`Metric`](burn::train::metric::Metric)s, and [`fit`], which wires them into a
//! [`SupervisedTraining`](burn::train::SupervisedTraining) run.

mod allocator;
mod checkpoint;
mod divergence;
mod finetune;
mod fit;
mod loader;
mod many;
mod many_checkpoint;
mod metric_log;
mod metrics;
mod online;
mod resample;
mod rows;
mod step;
mod store_loader;
mod upgrade;

pub use allocator::*;
pub use checkpoint::*;
pub use divergence::*;
pub use finetune::*;
pub use fit::*;
pub use loader::*;
pub use many::*;
pub use metric_log::*;
pub use metrics::*;
pub use online::*;
pub use resample::ResampleConfig;
pub(crate) use resample::{dead_latents_id, new_directions_id, reset_rows};
pub use rows::*;
pub use step::*;
pub use store_loader::*;
pub use upgrade::*;
