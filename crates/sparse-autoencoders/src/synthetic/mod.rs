//! Synthetic data with known features: a benchmark that says how well an SAE recovers the
//! true dictionary, not only how well it reconstructs.
//!
//! ```text
//! x_b = Σ_i c_bi d_i (+ noise)      d_i: random unit directions in d_in dimensions
//!                                   c_bi ≥ magnitude_min > 0 when feature i fires on row b, else 0
//! ```
//!
//! - [`SyntheticConfig`] describes the generative model (heavy-tailed firing probabilities,
//!   positive magnitudes, optional correlated groups and parent/child hierarchy, seed);
//!   [`SyntheticConfig::init`] draws the true directions into a [`SyntheticModel`].
//! - [`SyntheticModel::sample`] draws rows from an independent, seeded stream (ChaCha8), so a
//!   training and a test set come from the same model: `sample(50_000, 0)`, `sample(10_000, 1)`.
//! - [`score`] compares an SAE (any model: its decoder rows and its codes on the test rows, as
//!   plain slices) with the truth: Hungarian matching of latents to features on |cosine|, then
//!   [`SyntheticScore`] (`mcc`, `detection_f1`, `magnitude_ratio`, `dead_fraction`, `l0`).
//!
//! ```
//! use sparse_autoencoders::synthetic::{score, SyntheticConfig};
//!
//! let model = SyntheticConfig::new().with_d_in(16).with_n_features(32).with_mean_active(3.0)
//!     .init()?;
//! let test = model.sample(1000, 1);
//! // A "perfect SAE": the true directions as decoder rows and the true codes.
//! let s = score(&test, &test.directions, &test.codes.to_dense())?;
//! assert!((s.mcc - 1.0).abs() < 1e-6 && (s.detection_f1 - 1.0).abs() < 1e-12);
//! # Ok::<(), sparse_autoencoders::Error>(())
//! ```
//!
//! [`Planted`] is the older, simpler generator (uniform probability, magnitudes in
//! [0.5, 1.5]) that the architecture tests use.

mod generate;
mod hungarian;
mod planted;
mod score;

pub use generate::*;
pub use planted::Planted;
pub use score::*;
