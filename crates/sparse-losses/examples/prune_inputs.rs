//! Group lasso finds the inputs that matter, with exact zeros.
//!
//! A linear model `y = x A` has 32 inputs, of which only the first 4 influence the 8 outputs.
//! We fit a `burn::nn::Linear` to the MSE by proximal gradient descent: a plain SGD step on the
//! MSE alone, then [`ProxStep`] with the group lasso on the weight (one group per input row of
//! the `[d_input, d_output]` weight, `w_g = √8`), with the step `t` = the learning rate. Rows
//! whose norm falls below `tλ√8` are set to exactly `0.0`; the example lists the inputs whose
//! row survived.
//!
//! Why plain SGD: SGD followed by the prox is ISTA, whose fixed points are exactly the
//! minimisers of MSE + group lasso, so an irrelevant row reaches 0.0 and stays there once its
//! gradient is below the threshold (the example prints both). Adam rescales each coordinate's
//! step, so the prox's threshold `ηλ` no longer matches the step it follows and whether a
//! row stays at 0 depends on Adam's normalised gradient noise. The learning rate 2 is below
//! `1/L` (L ≈ 0.4, the largest curvature of this MSE), as ISTA requires.
//!
//! ```sh
//! cargo run --release -p sparse-losses --example prune_inputs
//! ```
//!
//! `crates/sparse-losses/tests/prox.rs` runs [`fit`] and checks that the 28 irrelevant rows
//! are exactly 0.0.

use burn::nn::{Linear, LinearConfig};
use burn::optim::{GradientsParams, SgdConfig};
use burn::prelude::*;
use burn::tensor::Distribution;
use sparse_losses::prelude::*;

/// Inputs of the model.
pub const INPUTS: usize = 32;
/// Outputs of the model.
pub const OUTPUTS: usize = 8;
/// The first `RELEVANT` inputs are the ones that matter.
pub const RELEVANT: usize = 4;

/// Training steps (each an SGD step followed by the prox).
const STEPS: usize = 200;
/// The steps at which the progress is printed.
const REPORT_AT: [usize; 6] = [0, 10, 20, 50, 100, 200];
/// SGD's learning rate, also the prox's step.
const LEARNING_RATE: f64 = 2.0;
/// The group lasso's λ.
const LAMBDA: f64 = 0.02;

/// What [`fit`] found.
pub struct Fit {
    /// The fitted weight `[INPUTS, OUTPUTS]`, row-major.
    pub weight: Vec<f32>,
    /// The Euclidean norm of each input's weight row.
    pub row_norms: Vec<f32>,
    /// The inputs whose weight row is not exactly zero.
    pub kept: Vec<usize>,
    /// The final MSE.
    pub mse: f32,
    /// The largest norm of the MSE's gradient on a pruned row, at the end. The zeros are
    /// optimal (a fixed point of the prox step) when it is at most the threshold
    /// [`threshold`]`() = λ √OUTPUTS`.
    pub pruned_gradient: f32,
}

/// `λ w_g = λ √OUTPUTS`: a row is pruned for good when the MSE's gradient on it is smaller.
pub fn threshold() -> f32 {
    (LAMBDA * (OUTPUTS as f64).sqrt()) as f32
}

/// Fits the model by SGD + group-lasso prox, printing the progress when `verbose`.
///
/// # Errors
/// From the group lasso's config or the prox step (none with these settings).
pub fn fit(verbose: bool) -> Result<Fit, Error> {
    let device = Device::flex().autodiff();
    device.seed(7);

    // The true map: only the first RELEVANT rows of A are nonzero.
    let a = Tensor::<2>::random([INPUTS, OUTPUTS], Distribution::Normal(0.0, 1.0), &device);
    let keep = Tensor::<1, Int>::arange(0..INPUTS as i64, &device)
        .lower_elem(RELEVANT as i64)
        .float()
        .reshape([INPUTS, 1]);
    let a = a * keep;
    let x = Tensor::<2>::random([512, INPUTS], Distribution::Normal(0.0, 1.0), &device);
    let noise = Tensor::<2>::random([512, OUTPUTS], Distribution::Normal(0.0, 0.05), &device);
    let y = x.clone().matmul(a) + noise;

    let mut model: Linear = LinearConfig::new(INPUTS, OUTPUTS).init(&device);
    let group_lasso = GroupLassoConfig::new()
        .with_lambda(LAMBDA)
        .with_axis(0)
        .init()?;
    let prox = ProxStep::new(group_lasso).include("weight");
    let mut optim = SgdConfig::new().init();

    let mut mse_value = f32::NAN;
    let mut pruned_gradient = f32::NAN;
    for step in 0..=STEPS {
        let mse = (model.forward(x.clone()) - y.clone()).square().mean();
        mse_value = mse.clone().into_scalar::<f32>();
        if verbose && REPORT_AT.contains(&step) {
            let zero_rows = INPUTS - kept_rows(&weights(&model)).len();
            println!("step {step:>3}: mse {mse_value:.4}  zero input rows {zero_rows:>2}/{INPUTS}");
        }
        let grads = mse.backward();
        if step == STEPS {
            // Optimality of a zero row g: ‖∇_g MSE‖ ≤ λ √OUTPUTS.
            let gradient = model
                .weight
                .val()
                .grad(&grads)
                .expect("the weight's gradient");
            let gradient: Vec<f32> = gradient.into_data().try_into_vec().expect("float32");
            let kept = kept_rows(&weights(&model));
            pruned_gradient = row_norms(&gradient)
                .into_iter()
                .enumerate()
                .filter(|(i, _)| !kept.contains(i))
                .fold(0.0, |m, (_, n)| m.max(n));
            break;
        }
        // The gradient step on the MSE alone, then the prox of the group lasso.
        let grads = GradientsParams::from_grads(grads, &model);
        model = optim.step(LEARNING_RATE, model, grads);
        model = prox.apply(model, LEARNING_RATE)?;
    }

    let weight = weights(&model);
    Ok(Fit {
        row_norms: row_norms(&weight),
        kept: kept_rows(&weight),
        weight,
        mse: mse_value,
        pruned_gradient,
    })
}

/// The weight `[INPUTS, OUTPUTS]`, row-major.
fn weights(model: &Linear) -> Vec<f32> {
    let weight = model.weight.val().into_data();
    weight.try_into_vec().expect("float32 weights")
}

/// The inputs whose weight row has an element that is not exactly 0.0.
fn kept_rows(weight: &[f32]) -> Vec<usize> {
    let rows = weight.chunks(OUTPUTS).enumerate();
    rows.filter(|(_, row)| row.iter().any(|&w| w != 0.0))
        .map(|(i, _)| i)
        .collect()
}

/// The Euclidean norm of each row of a `[INPUTS, OUTPUTS]` matrix.
fn row_norms(matrix: &[f32]) -> Vec<f32> {
    let rows = matrix.chunks(OUTPUTS);
    rows.map(|row| row.iter().map(|v| v * v).sum::<f32>().sqrt())
        .collect()
}

#[allow(dead_code)] // `crates/sparse-losses/tests/prox.rs` includes this file for `fit`.
fn main() -> Result<(), Error> {
    let fit = fit(true)?;
    println!("input row norms: {:.3?}", fit.row_norms);
    let zero_weights = fit.weight.iter().filter(|&&w| w == 0.0).count();
    println!(
        "inputs kept (weight row not exactly 0.0): {:?}; the true ones are 0..{RELEVANT}",
        fit.kept
    );
    println!(
        "{zero_weights} of {} weights are exactly 0.0",
        fit.weight.len()
    );
    println!(
        "final mse {:.4}; largest MSE gradient norm on a pruned row {:.4} <= λ√8 = {:.4}",
        fit.mse,
        fit.pruned_gradient,
        threshold()
    );
    Ok(())
}
