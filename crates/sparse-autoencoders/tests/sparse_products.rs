//! The SAE's sparse products (`sparse_losses::ops::sparse_matmul`: the encoder's backward that
//! skips the zeros of the pre-activations' gradient, the decoder's codes gradient on their
//! support) change no parameter's gradient: one training step's loss and gradients with them
//! equal those of the plain dense products (`sparse_losses::fused::set_enabled(false)`), for
//! every architecture, at a size where the sparse paths are taken.
//!
//! One test in its own binary: `set_enabled` is process-wide.

mod common;

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;
use burn::tensor::Gradients;
use burn::tensor::TensorData;
use sparse_autoencoders::prelude::*;
use sparse_losses::{L1Config, PenaltyConfig};

const D: usize = 48;
const H: usize = 160;
const B: usize = 64;

/// Every float parameter's gradient, flattened, by parameter path.
struct Grads<'a>(&'a Gradients, Vec<(String, Vec<f32>)>, Vec<String>);

impl ModuleVisitor for Grads<'_> {
    fn enter_module(&mut self, name: &str, _container: &str) {
        self.2.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container: &str) {
        self.2.pop();
    }
    fn visit_float<const N: usize>(&mut self, param: &Param<Tensor<N>>) {
        if let Some(g) = param.val().grad(self.0) {
            let values = g.into_data().try_to_vec::<f32>().unwrap();
            self.1.push((self.2.join("."), values));
        }
    }
}

fn input(device: &Device) -> Tensor<2> {
    let mut s = 7u64;
    let values: Vec<f32> = (0..B * D)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect();
    Tensor::from_data(TensorData::new(values, [B, D]), device)
}

/// Loss and gradients of one training step of a fresh SAE (the same seed each time).
fn step(arch: &Architecture, device: &Device) -> (f32, Vec<(String, Vec<f32>)>, f32) {
    let mut config = SaeConfig::new(D, H)
        .with_architecture(arch.clone())
        .with_seed(5);
    if matches!(*arch, Architecture::Relu(_)) {
        config = config.with_penalty(Some(PenaltyConfig::L1(L1Config::new().with_lambda(0.1))));
    }
    let mut sae = config.init(device).unwrap();
    if matches!(*arch, Architecture::Relu(_)) {
        // A negative encoder bias, so that few codes fire (the sparse paths need at most a
        // quarter of them nonzero).
        sae.b_enc = Param::from_tensor(Tensor::full([H], -0.6, device));
    }
    let out = sae.forward_train(input(device));
    let density = {
        let codes = out.codes.clone().into_data().try_to_vec::<f32>().unwrap();
        codes.iter().filter(|&&c| c != 0.0).count() as f32 / codes.len() as f32
    };
    let loss: f32 = out.loss.clone().into_scalar();
    let grads = out.loss.backward();
    let mut visitor = Grads(&grads, Vec::new(), Vec::new());
    sae.visit(&mut visitor);
    (loss, visitor.1, density)
}

#[test]
fn sparse_products_leave_every_gradient_unchanged() {
    let device = Device::flex().autodiff();
    // Not HardConcrete (fresh gate noise at each step: two steps differ anyway) nor OMP (no
    // encoder product).
    for arch in common::architectures(8, &[20, 80])
        .into_iter()
        .filter(|a| !matches!(a, Architecture::HardConcrete(_) | Architecture::Omp(_)))
    {
        sparse_losses::fused::set_enabled(true);
        let (loss, grads, density) = step(&arch, &device);
        sparse_losses::fused::set_enabled(false);
        let (loss_plain, grads_plain, _) = step(&arch, &device);
        sparse_losses::fused::set_enabled(true);
        if !matches!(arch, Architecture::JumpRelu(_) | Architecture::Gated(_)) {
            assert!(
                density > 0.0 && density <= 0.25,
                "{arch:?}: codes density {density} (the sparse paths need <= 0.25)"
            );
        }
        assert!(
            (loss - loss_plain).abs() <= 1e-5 * loss_plain.abs().max(1.0),
            "{arch:?}: loss {loss} vs {loss_plain}"
        );
        assert_eq!(
            grads.iter().map(|g| &g.0).collect::<Vec<_>>(),
            grads_plain.iter().map(|g| &g.0).collect::<Vec<_>>(),
            "{arch:?}: the same parameters get gradients"
        );
        assert!(grads.len() >= 4, "{arch:?}: {} gradients", grads.len());
        for ((name, g), (_, e)) in grads.iter().zip(&grads_plain) {
            let max = e.iter().fold(0f32, |m, x| m.max(x.abs()));
            assert!(max > 0.0, "{arch:?} {name}: an all-zero gradient");
            for (i, (a, b)) in g.iter().zip(e).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-4 * max,
                    "{arch:?} {name}[{i}]: {a} vs {b} (max {max})"
                );
            }
        }
    }
}
