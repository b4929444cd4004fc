//! The classifier of the worked example: the MLP of `torch_model_sae.py`,
//! `x ∈ [0,1]^784 → Linear(784, 512) → ReLU [= h1] → Linear(512, 256) → ReLU [= h2] →
//! Linear(256, 10)`, trained with Adam and cross-entropy.

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::activation::relu;
use burn::tensor::{Int, TensorData};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// A hidden layer of the classifier, where activations are taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Layer {
    /// After the first Linear and its ReLU (512 units).
    H1,
    /// After the second Linear and its ReLU (256 units).
    H2,
}

impl Layer {
    /// `h1` or `h2`.
    pub fn name(self) -> &'static str {
        match self {
            Layer::H1 => "h1",
            Layer::H2 => "h2",
        }
    }
}

/// The sizes of the classifier.
#[derive(Config, Debug)]
pub struct ClassifierConfig {
    /// Inputs (pixels).
    #[config(default = 784)]
    pub d_in: usize,
    /// Units of `h1`.
    #[config(default = 512)]
    pub h1: usize,
    /// Units of `h2`.
    #[config(default = 256)]
    pub h2: usize,
    /// Classes.
    #[config(default = 10)]
    pub classes: usize,
}

impl ClassifierConfig {
    /// The classifier with Burn's default initialisation (uniform in ±1/√fan_in, as
    /// PyTorch's `Linear`), drawn from the device's generator.
    ///
    /// # Errors
    /// [`AppError::Setting`] for a size of 0.
    pub fn init(&self, device: &Device) -> Result<Classifier, AppError> {
        if [self.d_in, self.h1, self.h2, self.classes].contains(&0) {
            return Err(AppError::Setting(format!(
                "the classifier's sizes must be at least 1: {self:?}"
            )));
        }
        Ok(Classifier {
            l1: LinearConfig::new(self.d_in, self.h1).init(device),
            l2: LinearConfig::new(self.h1, self.h2).init(device),
            l3: LinearConfig::new(self.h2, self.classes).init(device),
        })
    }
}

/// The MLP classifier (Burn's `Linear` stores `[in, out]`: y = x W + b).
#[derive(Module, Debug)]
pub struct Classifier {
    /// 784 → 512.
    pub l1: Linear,
    /// 512 → 256.
    pub l2: Linear,
    /// 256 → 10.
    pub l3: Linear,
}

impl Classifier {
    /// `h1 = relu(x W1 + b1)`.
    pub fn h1(&self, x: Tensor<2>) -> Tensor<2> {
        relu(self.l1.forward(x))
    }

    /// `h2 = relu(h1 W2 + b2)`.
    pub fn h2(&self, h1: Tensor<2>) -> Tensor<2> {
        relu(self.l2.forward(h1))
    }

    /// The activations at `layer` for images `x`.
    pub fn point(&self, layer: Layer, x: Tensor<2>) -> Tensor<2> {
        let h1 = self.h1(x);
        match layer {
            Layer::H1 => h1,
            Layer::H2 => self.h2(h1),
        }
    }

    /// The logits from the activations `act` at `layer` (the rest of the model).
    pub fn logits_from(&self, layer: Layer, act: Tensor<2>) -> Tensor<2> {
        let h2 = match layer {
            Layer::H1 => self.h2(act),
            Layer::H2 => act,
        };
        self.l3.forward(h2)
    }

    /// The logits of images `x`.
    pub fn logits(&self, x: Tensor<2>) -> Tensor<2> {
        self.logits_from(Layer::H1, self.h1(x))
    }
}

/// How the classifier is trained (the reference's recipe).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClassifierTraining {
    /// Passes over the training images.
    pub epochs: usize,
    /// Images a step.
    pub batch_size: usize,
    /// Adam's learning rate.
    pub lr: f64,
    /// Seed of the initialisation and of each epoch's order.
    pub seed: u64,
}

/// Trains `model` (on an autodiff device) on `images` (`[n, d_in]`, in [0, 1]) and their
/// `labels` with Adam and cross-entropy, a new order of the images each epoch (from `seed`
/// and the epoch); `after_epoch(epoch, mean loss)`.
pub fn train_classifier(
    model: Classifier,
    images: &[f32],
    labels: &[u8],
    recipe: &ClassifierTraining,
    device: &Device,
    after_epoch: impl FnMut(usize, f64),
) -> Classifier {
    train_classifier_with(model, images, labels, recipe, device, after_epoch, |m| m)
}

/// [`train_classifier`] with `after_step` applied to the model after every optimizer step
/// (e.g. [`PruneMasks::apply`](sparse_losses::prune::PruneMasks::apply): a fine-tune with
/// frozen masks).
pub fn train_classifier_with(
    mut model: Classifier,
    images: &[f32],
    labels: &[u8],
    recipe: &ClassifierTraining,
    device: &Device,
    mut after_epoch: impl FnMut(usize, f64),
    mut after_step: impl FnMut(Classifier) -> Classifier,
) -> Classifier {
    let d = images.len() / labels.len().max(1);
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let mut optim = AdamConfig::new().init();
    let n = labels.len();
    for epoch in 0..recipe.epochs {
        let mut order: Vec<usize> = (0..n).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(recipe.seed);
        rng.set_stream(epoch as u64);
        order.shuffle(&mut rng);
        let (mut sum, mut steps) = (0.0, 0usize);
        for idx in order.chunks(recipe.batch_size.max(1)) {
            let mut x = Vec::with_capacity(idx.len() * d);
            let mut y = Vec::with_capacity(idx.len());
            for &i in idx {
                x.extend_from_slice(&images[i * d..(i + 1) * d]);
                y.push(i64::from(labels[i]));
            }
            let x = Tensor::<2>::from_data(TensorData::new(x, [idx.len(), d]), device);
            let y = Tensor::<1, Int>::from_data(TensorData::new(y, [idx.len()]), device);
            let loss = loss_fn.forward(model.logits(x), y);
            sum += f64::from(loss.clone().into_scalar::<f32>());
            steps += 1;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = after_step(optim.step(recipe.lr, model, grads));
        }
        after_epoch(epoch + 1, sum / steps.max(1) as f64);
    }
    model
}
