//! Group lasso finds the inputs that matter.
//!
//! A linear model `y = x A` has 32 inputs, of which only the first 4 influence the 8 outputs.
//! We fit a `burn::nn::Linear` with MSE plus a group lasso on its weight (one group per input
//! row of the `[d_input, d_output]` weight), then list the inputs whose weight row survived.
//!
//! ```sh
//! cargo run --release --example prune_inputs
//! ```

use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::Distribution;
use sparse_losses::prelude::*;

const INPUTS: usize = 32;
const OUTPUTS: usize = 8;
const RELEVANT: usize = 4;

fn main() -> Result<(), Error> {
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
        .with_lambda(0.02)
        .with_axis(0)
        .init()?;
    let penalty = ModulePenalty::new(group_lasso.clone()).include("weight");
    let mut optim = AdamConfig::new().init();

    for step in 0..=600 {
        let mse = (model.forward(x.clone()) - y.clone()).square().mean();
        let reg = penalty.forward(&model)?;
        if step % 150 == 0 {
            println!(
                "step {step:>3}: mse {:.4}  group lasso {:.4}",
                mse.clone().into_scalar::<f32>(),
                reg.clone().into_scalar::<f32>()
            );
        }
        let grads = GradientsParams::from_grads((mse + reg).backward(), &model);
        model = optim.step(5e-3, model, grads);
    }

    // The norm of each input's weight row.
    let norms: Vec<f32> = model
        .weight
        .val()
        .square()
        .sum_dim(1)
        .sqrt()
        .into_data()
        .try_into_vec()
        .expect("float32 weights");
    let kept: Vec<usize> = (0..INPUTS).filter(|&i| norms[i] > 0.05).collect();
    println!("input row norms: {norms:.3?}");
    println!("inputs kept (row norm > 0.05): {kept:?}; the true ones are 0..{RELEVANT}");
    Ok(())
}
