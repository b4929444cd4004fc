//! [`Sae`] as a burn-train model: [`TrainStep`] (with the unit-norm decoder and the running
//! statistics applied in `optimize`) and [`InferenceStep`].
//!
//! Running statistics (steps since each latent fired, BatchTopK's threshold) are not trained,
//! but they change every step. `step` (which only borrows the model) computes their next value
//! and passes it through the gradients under the parameter's own id; `optimize` takes it out
//! before the optimizer sees the gradients and installs it. That keeps them inside burn-train's
//! loop, checkpointed with the model.

use burn::module::Param;
use burn::optim::lr_scheduler::module_lr_scheduler::ModuleLearningRate;
use burn::optim::{GradientsParams, ModuleOptimizer, MultiGradientsParams};
use burn::prelude::*;
use burn::tensor::TensorData;
use burn::train::metric::{Adaptor, ItemLazy, LossInput};
use burn::train::{InferenceStep, TrainOutput, TrainStep};

use crate::arch::SaeArchitecture;
use crate::data::ActivationBatch;
use crate::params::unit_rows;
use crate::train::metrics::SaeMetricInput;
use crate::train::resample::Resample;
use crate::train::{dead_latents_id, new_directions_id, reset_rows};
use crate::Sae;

/// One step's output, read by the metrics.
#[derive(Debug, Clone)]
pub struct SaeOutput {
    /// The loss `[1]`.
    pub loss: Tensor<1>,
    /// The input rows `[B, d_in]`.
    pub x: Tensor<2>,
    /// The reconstruction `[B, d_in]`.
    pub x_hat: Tensor<2>,
    /// The codes `[B, d_sae]`.
    pub codes: Tensor<2>,
    /// The decoder bias `[d_in]` (the centre of the shrinkage metric).
    pub b_dec: Tensor<1>,
}

impl ItemLazy for SaeOutput {
    fn sync(self) -> Result<Self, burn::tensor::ExecutionError> {
        self.loss.device().flush()?;
        Ok(Self {
            loss: self.loss.without_autodiff(),
            x: self.x.without_autodiff(),
            x_hat: self.x_hat.without_autodiff(),
            codes: self.codes.without_autodiff(),
            b_dec: self.b_dec.without_autodiff(),
        })
    }
}

impl Adaptor<LossInput> for SaeOutput {
    fn adapt(&self) -> LossInput {
        LossInput::new(self.loss.clone())
    }
}

impl Adaptor<SaeMetricInput> for SaeOutput {
    fn adapt(&self) -> SaeMetricInput {
        SaeMetricInput {
            x: self.x.clone(),
            x_hat: self.x_hat.clone(),
            codes: self.codes.clone(),
            b_dec: self.b_dec.clone(),
        }
    }
}

impl TrainStep for Sae {
    type Input = ActivationBatch;
    type Output = SaeOutput;

    fn step(&self, batch: ActivationBatch) -> TrainOutput<SaeOutput> {
        let x = batch.x;
        let out = self.forward_train(x.clone());
        // The divergence guard reads the loss (on the CPU backends, where that costs no
        // synchronisation with a device); after a bad one `optimize` applies no update.
        if sparse_losses::fused::in_host_memory(&out.loss.device()) {
            let loss: f32 = out.loss.clone().into_scalar();
            self.divergence.observe(self.step, f64::from(loss));
        }
        let next_since = self.next_since_fired(&out.codes).without_autodiff();
        let next_threshold = out
            .batch_threshold
            .clone()
            .and_then(|t| self.next_threshold(t))
            .map(|t| t.without_autodiff());
        let resample = self.plan_resample(&x, &out.x_hat);
        let grads = out.loss.backward();
        let item = SaeOutput {
            loss: out.loss.detach(),
            x,
            x_hat: out.x_hat.detach(),
            codes: out.codes.detach(),
            b_dec: self.b_dec.val().detach(),
        };
        let mut output = TrainOutput::new(self, grads, item);
        output.grads.register(self.since_fired.id, next_since);
        if let (Some(p), Some(t)) = (self.arch.running_threshold(), next_threshold) {
            output.grads.register(p.id, t);
        }
        if let Some(r) = resample {
            let device = self.b_dec.val().device().without_autodiff();
            let n = r.dead.len();
            let dead: Vec<f32> = r.dead.iter().map(|&j| j as f32).collect();
            output.grads.register(
                dead_latents_id(),
                Tensor::<1>::from_data(TensorData::new(dead, [n]), &device),
            );
            output.grads.register(
                new_directions_id(),
                Tensor::<2>::from_data(
                    TensorData::new(r.directions, [n, self.config.d_in]),
                    &device,
                ),
            );
        }
        output
    }

    fn optimize(
        self,
        optim: &mut ModuleOptimizer,
        lr: ModuleLearningRate,
        mut grads: GradientsParams,
    ) -> Self {
        if self.divergence.get().is_some() {
            // Diverged: keep the last good parameters (and statistics).
            return self;
        }
        let model = self.take_statistics(|id| grads.remove::<1>(id));
        let resample = take_resample(
            grads.remove::<1>(dead_latents_id()),
            grads.remove::<2>(new_directions_id()),
        );
        let unit = model.config.unit_norm_decoder && !model.finetuning;
        if unit {
            if let Some(g) = grads.remove::<2>(model.w_dec.id) {
                grads.register(model.w_dec.id, project_out_rows(g, model.w_dec.val()));
            }
        }
        let mut model = optim.step(lr, model, grads);
        model.step += 1;
        if let Some(r) = resample {
            model = model.apply_resample(&r);
            reset_rows(optim, &r.dead, model.config.d_in, model.config.d_sae)
                .expect("the optimizer's own record reads back");
        }
        if model.keeps_unit_rows() {
            model.renormalize()
        } else {
            model
        }
    }

    fn optimize_multi(
        self,
        optim: &mut ModuleOptimizer,
        lr: ModuleLearningRate,
        mut grads: MultiGradientsParams,
    ) -> Self {
        if self.divergence.get().is_some() {
            return self;
        }
        // With several devices each one sends the next statistics; the master's copy is kept.
        let model = self.take_statistics(|id| grads.remove::<1>(id).map(|(t, _)| t));
        let resample = take_resample(
            grads.remove::<1>(dead_latents_id()).map(|(t, _)| t),
            grads.remove::<2>(new_directions_id()).map(|(t, _)| t),
        );
        let mut model = optim.step_multi(lr, model, grads);
        model.step += 1;
        if let Some(r) = resample {
            model = model.apply_resample(&r);
            reset_rows(optim, &r.dead, model.config.d_in, model.config.d_sae)
                .expect("the optimizer's own record reads back");
        }
        if model.keeps_unit_rows() {
            model.renormalize()
        } else {
            model
        }
    }
}

impl Sae {
    /// Installs the running statistics that `step` passed through the gradients.
    fn take_statistics(
        mut self,
        mut take: impl FnMut(burn::module::ParamId) -> Option<Tensor<1>>,
    ) -> Self {
        if let Some(next) = take(self.since_fired.id) {
            self.since_fired = replace(self.since_fired, next);
        }
        self.arch = self.arch.map_running_threshold(|p| match take(p.id) {
            Some(next) => replace(p, next),
            None => p,
        });
        self
    }

    /// Whether decoder rows are renormalised after every step: with `unit_norm_decoder`, and
    /// for OMP, which assumes unit-norm atoms.
    fn keeps_unit_rows(&self) -> bool {
        !self.finetuning
            && (self.config.unit_norm_decoder || self.config.architecture.unit_norm_decoder())
    }

    /// Scales the decoder rows back to unit norm (after an optimizer step).
    pub fn renormalize(mut self) -> Self {
        self.w_dec = remap(self.w_dec, unit_rows);
        self
    }
}

/// The resample `step` passed through the gradients, back on the host.
fn take_resample(dead: Option<Tensor<1>>, directions: Option<Tensor<2>>) -> Option<Resample> {
    let (dead, directions) = (dead?, directions?);
    let dead: Vec<f32> = dead.into_data().try_to_vec::<f32>().ok()?;
    Some(Resample {
        dead: dead.into_iter().map(|j| j as usize).collect(),
        directions: directions.into_data().try_to_vec::<f32>().ok()?,
    })
}

/// A trainable parameter with a new value computed off the graph from its old one (same id and
/// device; back on autodiff, with `require_grad`, when it was on autodiff).
pub(crate) fn remap<const D: usize>(
    p: Param<Tensor<D>>,
    f: impl FnOnce(Tensor<D>) -> Tensor<D>,
) -> Param<Tensor<D>> {
    p.map(|old| {
        let autodiff = old.is_autodiff();
        let new = f(old.without_autodiff());
        if autodiff {
            new.autodiff().require_grad()
        } else {
            new
        }
    })
}

/// A non-trainable parameter with a new value (same id, same autodiff association).
pub(crate) fn replace(p: Param<Tensor<1>>, next: Tensor<1>) -> Param<Tensor<1>> {
    p.map(|old| {
        if old.is_autodiff() {
            next.autodiff()
        } else {
            next
        }
    })
}

/// Removes from each row of the gradient its component along the (unit-norm) decoder row:
/// `g_j ← g_j − ⟨g_j, w_j⟩ w_j / ‖w_j‖²`, so the step moves along the sphere.
fn project_out_rows(g: Tensor<2>, w: Tensor<2>) -> Tensor<2> {
    let w = w.without_autodiff();
    let dot = (g.clone() * w.clone()).sum_dim(1);
    let sq = w.clone().square().sum_dim(1).clamp_min(1e-12);
    g - w * (dot / sq)
}

impl InferenceStep for Sae {
    type Input = ActivationBatch;
    type Output = SaeOutput;

    fn step(&self, batch: ActivationBatch) -> SaeOutput {
        let x = batch.x;
        let (codes, x_hat) = self.encode_and_reconstruct(x.clone());
        let loss = crate::recon_loss(&x_hat, &x);
        SaeOutput {
            loss,
            x,
            x_hat,
            codes,
            b_dec: self.b_dec.val(),
        }
    }
}
