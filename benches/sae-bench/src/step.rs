//! `sae-bench step`: one SAE training step (forward, loss, backward, Adam update), exactly as
//! the library's training runs it per batch.
//!
//! The model is the sparse-autoencoders crate's [`Sae`](sparse_autoencoders::Sae), built from an [`SaeConfig`]; a step
//! is what burn-train's learner does with it (and so what [`sparse_autoencoders::fit`] does):
//! [`TrainStep::step`] (forward, loss, backward, the running statistics), then
//! [`TrainStep::optimize`] (Adam, with [`TrainConfig`]'s learning rate and ε, the same Adam
//! `fit` builds). The batch (uniform(0, 1)) is created once, on the autodiff device, as the
//! training loader would hand it over.

use std::fmt;
use std::str::FromStr;

use burn::optim::lr_scheduler::module_lr_scheduler::ModuleLearningRate;
use burn::optim::AdamConfig;
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::train::TrainStep;
use sparse_autoencoders::data::ActivationBatch;
use sparse_autoencoders::{arch, Architecture, PenaltyTarget, SaeConfig, TrainConfig};
use sparse_losses::{L1Config, PenaltyConfig};

use crate::backends::Backend;
use crate::report::Record;
use crate::timing::{first_element, measure, Timing};

/// Seed of the device's generator before the batch is drawn.
const SEED: u64 = 42;

/// An SAE architecture as benchmarked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Arch {
    /// ReLU codes with L1 on the decoder-weighted codes `f_j ‖W_d[j]‖`, λ = 0.8 (as
    /// `sae-mnist --arch relu --penalty l1-dec --lambda 0.8`).
    #[value(name = "relu-l1dec")]
    ReluL1Dec,
    /// TopK, k = 32.
    #[value(name = "topk")]
    TopK,
    /// BatchTopK, k = 32.
    #[value(name = "batchtopk")]
    BatchTopK,
}

impl Arch {
    /// The label in the tables and the JSON records.
    pub fn label(self) -> &'static str {
        match self {
            Self::ReluL1Dec => "relu-l1dec",
            Self::TopK => "topk",
            Self::BatchTopK => "batchtopk",
        }
    }

    /// The library's definition of this SAE with `d_in` inputs and `d_sae` latents (every
    /// other field at its default, as `sae-mnist` leaves it).
    pub fn config(self, d_in: usize, d_sae: usize) -> SaeConfig {
        let k = 32;
        let config = SaeConfig::new(d_in, d_sae);
        match self {
            Self::ReluL1Dec => config
                .with_architecture(Architecture::Relu(arch::ReluConfig {}))
                .with_penalty(Some(PenaltyConfig::L1(L1Config::new().with_lambda(0.8))))
                .with_penalty_target(PenaltyTarget::DecoderWeightedCodes),
            Self::TopK => config.with_architecture(Architecture::TopK(arch::TopKConfig { k })),
            Self::BatchTopK => {
                config.with_architecture(Architecture::BatchTopK(arch::BatchTopKConfig { k }))
            }
        }
    }
}

/// A step's size: `batch x input x hidden`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Rows per batch.
    pub batch: usize,
    /// Width of the input activations (`d_in`).
    pub input: usize,
    /// Number of latents (`d_sae`).
    pub hidden: usize,
}

impl Shape {
    /// `[batch, input, hidden]`, as in the JSON records.
    pub fn dims(self) -> Vec<usize> {
        vec![self.batch, self.input, self.hidden]
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}x{}", self.batch, self.input, self.hidden)
    }
}

impl FromStr for Shape {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let dims: Vec<usize> = s
            .trim()
            .split('x')
            .map(|d| d.parse::<usize>().ok().filter(|&n| n > 0))
            .collect::<Option<_>>()
            .ok_or_else(|| format!("`{s}` is not BATCHxINPUTxHIDDEN (positive integers)"))?;
        match dims[..] {
            [batch, input, hidden] => Ok(Self {
                batch,
                input,
                hidden,
            }),
            _ => Err(format!("`{s}` is not BATCHxINPUTxHIDDEN")),
        }
    }
}

/// Times every architecture × shape on `backend`'s (non-autodiff) `device`.
///
/// # Errors
/// When a shape is too small for an architecture (k = 32 needs at least 32 latents).
pub fn run(
    backend: Backend,
    device: &Device,
    archs: &[Arch],
    shapes: &[Shape],
    timing: Timing,
) -> Result<Vec<Record>, String> {
    let autodiff = device.clone().autodiff();
    let mut records = Vec::new();
    for &arch in archs {
        for &shape in shapes {
            let ms = time_step(arch, shape, &autodiff, backend.is_gpu(), timing)?;
            eprintln!("{backend}: step {} {shape}: {ms:.3} ms", arch.label());
            records.push(Record::Step {
                backend: backend.name().into(),
                arch: arch.label().into(),
                shape: shape.dims(),
                ms,
            });
        }
    }
    Ok(records)
}

/// Milliseconds per training step of `arch` at `shape` on the autodiff `device`.
pub fn time_step(
    arch: Arch,
    shape: Shape,
    device: &Device,
    gpu: bool,
    timing: Timing,
) -> Result<f64, String> {
    let sae = arch
        .config(shape.input, shape.hidden)
        .init(device)
        .map_err(|e| format!("{} at {shape}: {e}", arch.label()))?;
    let train = TrainConfig::new();
    // The Adam of `TrainConfig::optimizer` (crate-private), which `fit` hands to burn-train.
    let mut optim = AdamConfig::new().with_epsilon(train.epsilon).init();
    let lr = ModuleLearningRate::from(train.learning_rate);
    device.seed(SEED);
    let x = Tensor::<2>::random(
        [shape.batch, shape.input],
        Distribution::Uniform(0.0, 1.0),
        device,
    );
    let mut model = Some(sae);
    Ok(measure(
        device,
        gpu,
        timing,
        || {
            let sae = model.take().expect("the model is put back after each step");
            let output = TrainStep::step(&sae, ActivationBatch { x: x.clone() });
            model = Some(sae.optimize(&mut optim, lr.clone(), output.grads));
            output.item.loss
        },
        first_element::<1>,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_parse() {
        let s: Shape = "256x784x1024".parse().unwrap();
        assert_eq!(s.dims(), vec![256, 784, 1024]);
        assert_eq!(s.to_string(), "256x784x1024");
        assert!("256x784".parse::<Shape>().is_err());
        assert!("0x1x1".parse::<Shape>().is_err());
    }

    #[test]
    fn configs_are_valid() {
        for arch in [Arch::ReluL1Dec, Arch::TopK, Arch::BatchTopK] {
            arch.config(784, 1024).validate().unwrap();
        }
    }
}
