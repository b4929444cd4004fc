//! Training on burn-train: the [`TrainStep`](burn::train::TrainStep) and
//! [`InferenceStep`](burn::train::InferenceStep) of [`Sae`](crate::Sae), the SAE metrics as
//! burn-train [`Metric`](burn::train::metric::Metric)s, and [`fit`], which wires them into a
//! [`SupervisedTraining`](burn::train::SupervisedTraining) run.

mod fit;
mod loader;
mod metrics;
mod step;

pub use fit::*;
pub use loader::*;
pub use metrics::*;
pub use step::*;
