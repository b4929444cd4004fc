//! One pruning setting on the classifier: prune its two hidden layers, evaluate, recover with
//! frozen masks, evaluate again (the definitions of `torch_prune_mlp.py`).

use std::time::Instant;

use burn::module::Module;
use burn::prelude::*;
use burn::tensor::activation::relu;
use burn::tensor::TensorData;
use serde::Serialize;
use sparse_losses::prune::{
    magnitude_global, ModulePruner, PruneMasks, PruneMethod, PrunePattern, SparseGptConfig,
};

use crate::error::AppError;
use crate::model_run::classifier::{train_classifier_with, Classifier, ClassifierTraining};
use crate::model_run::report::batched;
use sparse_autoencoders::splice::{accuracy, cross_entropy};

/// A method of `--method` (the reference's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum MethodArg {
    /// `|W|` per layer.
    Magnitude,
    /// `|W|` over both layers at once.
    MagnitudeGlobal,
    /// `|W|·‖X_col‖₂` per output row.
    Wanda,
    /// Hessian-based, with weight updates.
    Sparsegpt,
}

impl MethodArg {
    /// The reference's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Magnitude => "magnitude",
            Self::MagnitudeGlobal => "magnitude_global",
            Self::Wanda => "wanda",
            Self::Sparsegpt => "sparsegpt",
        }
    }
}

/// One line of `prune.jsonl` (the reference's keys).
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The method.
    pub method: &'static str,
    /// The pattern (`null` for the dense line).
    pub pattern: Option<PrunePattern>,
    /// Test accuracy after pruning.
    pub acc: f64,
    /// Test cross-entropy after pruning.
    pub ce: f64,
    /// Test accuracy after the recovery fine-tune.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acc_recovered: Option<f64>,
    /// Test cross-entropy after the recovery fine-tune.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ce_recovered: Option<f64>,
    /// The fraction of l1's and l2's weights pruned together.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sparsity_l1_l2: Option<f64>,
    /// Seconds pruning both layers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prune_seconds: Option<f64>,
}

/// Test accuracy and mean cross-entropy of `clf` on `images` (`[n, 784]`) and `labels`
/// (the definitions of the splice metrics: `sparse_autoencoders::splice`).
pub fn evaluate(clf: &Classifier, images: &[f32], labels: &[u8], device: &Device) -> (f64, f64) {
    let d = images.len() / labels.len().max(1);
    let logits = batched(images, d, device, |x| clf.logits(x)).expect("float logits");
    let labels: Vec<usize> = labels.iter().map(|&l| usize::from(l)).collect();
    let classes = logits.len() / labels.len().max(1);
    (
        accuracy(&logits, classes, &labels),
        cross_entropy(&logits, classes, &labels),
    )
}

/// [`evaluate`] of an autodiff model's inner (inference) module on the test split.
pub fn evaluate_valid(clf: &Classifier, data: &Data<'_>) -> (f64, f64) {
    let valid = clf.valid();
    let device = valid.l1.weight.val().device();
    evaluate(&valid, data.test.0, data.test.1, &device)
}

/// The data a setting uses.
pub struct Data<'a> {
    /// Train images `[n, 784]` and labels.
    pub train: (&'a [f32], &'a [u8]),
    /// Test images and labels.
    pub test: (&'a [f32], &'a [u8]),
    /// The calibration inputs `[calib, 784]` (the first train images).
    pub calibration: Tensor<2>,
}

/// How a setting prunes and recovers.
pub struct Recipe {
    /// The method.
    pub method: MethodArg,
    /// The pattern.
    pub pattern: PrunePattern,
    /// SparseGPT's settings.
    pub sparsegpt: SparseGptConfig,
    /// The recovery fine-tune (epochs 0: none).
    pub recovery: ClassifierTraining,
}

/// `W [out, in]` of a Burn `Linear` weight (`[in, out]`) on the host.
fn host_matrix(w: Tensor<2>) -> (Vec<f32>, [usize; 2]) {
    let t = w.transpose();
    let dims = t.dims();
    (t.try_into_vec_as::<f32>().expect("float weight"), dims)
}

/// Prunes `dense` (on an autodiff device) with `recipe`, evaluates it, recovers, evaluates.
///
/// # Errors
/// The pruning's errors (a pattern that does not fit the layers).
pub fn run_setting(
    dense: &Classifier,
    data: &Data<'_>,
    recipe: &Recipe,
    device: &Device,
) -> Result<Outcome, AppError> {
    let lib = |e: sparse_losses::Error| AppError::Setting(e.to_string());
    let started = Instant::now();
    let (pruned, masks) = match recipe.method {
        MethodArg::MagnitudeGlobal => {
            let PrunePattern::Unstructured { sparsity } = recipe.pattern else {
                return Err(AppError::Setting(
                    "magnitude_global prunes unstructured: give --sparsity, not --pattern".into(),
                ));
            };
            let (w1, s1) = host_matrix(dense.l1.weight.val().inner());
            let (w2, s2) = host_matrix(dense.l2.weight.val().inner());
            let parts = magnitude_global(&[&w1, &w2], sparsity).map_err(lib)?;
            let mut clf = dense.clone();
            let mut masks = PruneMasks::default();
            for ((part, shape), name) in parts.iter().zip([s1, s2]).zip(["l1.weight", "l2.weight"])
            {
                // Back to Burn's [in, out].
                let to_param = |v: &[f32]| {
                    Tensor::<2>::from_data(TensorData::new(v.to_vec(), shape), &device.clone())
                        .transpose()
                };
                let weight = to_param(&part.weight);
                masks
                    .masks
                    .push((name.to_string(), to_param(&part.mask).into_data()));
                let param = if name == "l1.weight" {
                    &mut clf.l1.weight
                } else {
                    &mut clf.l2.weight
                };
                *param = param.clone().map(|_| weight.clone().require_grad());
            }
            (clf, masks)
        }
        method => {
            let method = match method {
                MethodArg::Magnitude => PruneMethod::Magnitude,
                MethodArg::Wanda => PruneMethod::Wanda,
                _ => PruneMethod::SparseGpt(recipe.sparsegpt.clone()),
            };
            let x = data.calibration.clone();
            let out = ModulePruner::new(method, recipe.pattern)
                .include("l1.weight")
                .include("l2.weight")
                .prune(dense.clone(), |m: &Classifier, path| match path {
                    "l1.weight" => x.clone(),
                    _ => relu(m.l1.forward(x.clone())),
                })
                .map_err(lib)?;
            (out.model, out.masks)
        }
    };
    let prune_seconds = started.elapsed().as_secs_f64();
    let (acc, ce) = evaluate_valid(&pruned, data);
    let sparsity = masks.sparsity();
    let (acc_recovered, ce_recovered) = if recipe.recovery.epochs > 0 {
        let recovered = train_classifier_with(
            pruned,
            data.train.0,
            data.train.1,
            &recipe.recovery,
            device,
            |_, _| {},
            |m| masks.apply(m).expect("the masks were made from this model"),
        );
        let (a, c) = evaluate_valid(&recovered, data);
        (Some(a), Some(c))
    } else {
        (None, None)
    };
    Ok(Outcome {
        method: recipe.method.name(),
        pattern: Some(recipe.pattern),
        acc,
        ce,
        acc_recovered,
        ce_recovered,
        sparsity_l1_l2: Some((sparsity * 1e4).round() / 1e4),
        prune_seconds: Some((prune_seconds * 100.0).round() / 100.0),
    })
}
