//! Gradual magnitude pruning during training (Zhu & Gupta 2017): the sparsity follows the cubic
//! schedule from `initial_sparsity` to `final_sparsity` over `ramp_steps` from `start_step`, the
//! masks recomputed by magnitude every `every` steps and applied after every optimizer step.

use burn::config::Config;
use burn::module::Module;

use super::{ModulePruner, PruneMasks, PruneMethod, PrunePattern};
use crate::{CubicSchedule, CubicScheduleConfig, Error, Result};

const NAME: &str = "gradual_pruning";

/// The settings of [`GradualPruning`].
#[derive(Config, Debug, PartialEq)]
pub struct GradualPruningConfig {
    /// The sparsity reached at the end of the ramp and kept afterwards, in `[0, 1)`.
    pub final_sparsity: f64,
    /// The optimizer steps of the ramp (`n · Δt` in the paper), at least 1.
    pub ramp_steps: usize,
    /// The sparsity at `start_step`, in `[0, final_sparsity]`.
    #[config(default = 0.0)]
    pub initial_sparsity: f64,
    /// The step at which pruning starts (`t₀`).
    #[config(default = 0)]
    pub start_step: usize,
    /// The masks are recomputed every `every` steps (`Δt`), at least 1.
    #[config(default = 100)]
    pub every: usize,
}

/// Gradual magnitude pruning of a module's layers (those [`ModulePruner`] selects: every
/// `Linear` and convolution weight by default). Call [`step`](Self::step) after every
/// optimizer step:
///
/// ```text
/// s(t) = s_f + (s_i − s_f) (1 − (t − t₀) / (n·Δt))³   for t₀ ≤ t ≤ t₀ + n·Δt, s_f after
/// ```
///
/// evaluated at the last multiple of `Δt` (from `t₀`); between updates the masks of the last one
/// keep the pruned weights at exactly 0.
///
/// ```
/// use sparse_losses::prune::GradualPruningConfig;
///
/// let g = GradualPruningConfig::new(0.8, 1000).with_every(100).init()?;
/// assert_eq!(g.sparsity_at(0), 0.0);
/// assert!((g.sparsity_at(550) - 0.8 * (1.0 - 0.5f64.powi(3))).abs() < 1e-12); // updated at 500
/// assert_eq!(g.sparsity_at(5000), 0.8);
/// # Ok::<(), sparse_losses::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct GradualPruning {
    config: GradualPruningConfig,
    schedule: CubicSchedule,
    pruner_include: Vec<String>,
    pruner_exclude: Vec<String>,
}

impl GradualPruningConfig {
    /// Validates the config.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`] naming the first invalid field.
    pub fn init(&self) -> Result<GradualPruning> {
        let bad = |field, value: f64, expected| Error::InvalidHyperParameter {
            item: NAME,
            field,
            value,
            expected,
        };
        if !(0.0..1.0).contains(&self.final_sparsity) {
            return Err(bad(
                "final_sparsity",
                self.final_sparsity,
                "a number in [0, 1)",
            ));
        }
        if !(0.0..=self.final_sparsity).contains(&self.initial_sparsity) {
            return Err(bad(
                "initial_sparsity",
                self.initial_sparsity,
                "a number in [0, final_sparsity]",
            ));
        }
        if self.ramp_steps == 0 {
            return Err(bad("ramp_steps", 0.0, "at least 1"));
        }
        if self.every == 0 {
            return Err(bad("every", 0.0, "at least 1"));
        }
        let schedule = CubicScheduleConfig::new(
            self.initial_sparsity,
            self.final_sparsity,
            self.start_step + self.ramp_steps + 1,
        )
        .with_warmup_steps(self.start_step)
        .with_cooldown_steps(1)
        .init()?;
        Ok(GradualPruning {
            config: self.clone(),
            schedule,
            pruner_include: Vec::new(),
            pruner_exclude: Vec::new(),
        })
    }
}

impl GradualPruning {
    /// Prunes only the parameters matching `pattern` (see [`ModulePruner::include`]).
    pub fn include(mut self, pattern: impl Into<String>) -> Self {
        self.pruner_include.push(pattern.into());
        self
    }

    /// Leaves out the parameters matching `pattern`.
    pub fn exclude(mut self, pattern: impl Into<String>) -> Self {
        self.pruner_exclude.push(pattern.into());
        self
    }

    /// The sparsity in force after optimizer step `step`: the schedule at the last update step.
    pub fn sparsity_at(&self, step: usize) -> f64 {
        let c = &self.config;
        if step < c.start_step {
            return 0.0;
        }
        let updated = c.start_step + (step - c.start_step) / c.every * c.every;
        self.schedule
            .value(updated.min(c.start_step + c.ramp_steps))
    }

    /// Whether the masks are recomputed after step `step`.
    pub fn updates_at(&self, step: usize) -> bool {
        let c = &self.config;
        step >= c.start_step
            && step <= c.start_step + c.ramp_steps
            && (step - c.start_step).is_multiple_of(c.every)
    }

    /// After optimizer step `step`: recomputes `masks` by magnitude at the scheduled sparsity
    /// when it is an update step, then applies them (the pruned weights are exactly 0).
    ///
    /// # Errors
    /// Those of [`ModulePruner::prune`] and [`PruneMasks::apply`].
    pub fn step<M: Module>(&self, module: M, step: usize, masks: &mut PruneMasks) -> Result<M> {
        if !self.updates_at(step) {
            return masks.apply(module);
        }
        let sparsity = self.sparsity_at(step);
        let mut pruner = ModulePruner::new(
            PruneMethod::Magnitude,
            PrunePattern::Unstructured { sparsity },
        );
        for p in &self.pruner_include {
            pruner = pruner.include(p.clone());
        }
        for p in &self.pruner_exclude {
            pruner = pruner.exclude(p.clone());
        }
        let out = pruner.prune(module, |_, _| unreachable!("magnitude needs no inputs"))?;
        *masks = out.masks;
        Ok(out.model)
    }
}
