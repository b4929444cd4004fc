//! `sae-bench penalties`: forward + backward of every penalty, and the read + write time of each
//! input shape (what the penalty would cost if it were limited by memory bandwidth alone).
//!
//! Each rep takes the input (created once, outside the timed region, on the autodiff device),
//! makes it a fresh leaf (`detach().require_grad()`), evaluates the penalty, runs `backward`
//! and takes the input's gradient; see [`crate::timing`] for how reps are timed.

use burn::prelude::*;
use burn::tensor::Distribution;
use serde_json::json;
use sparse_losses::prelude::*;

use crate::backends::Backend;
use crate::report::Record;
use crate::timing::{first_element, measure, Timing};
use crate::Size;

/// Seed of the devices' generators before each input is drawn.
const SEED: u64 = 42;

/// One benchmark case: a penalty config applied to an input of one shape.
pub struct Case {
    /// The label in the tables and the JSON records.
    pub label: &'static str,
    /// The input shape (rank 2 or 4).
    pub shape: Vec<usize>,
    /// The penalty.
    pub penalty: AnyPenalty,
    /// Inputs drawn from uniform(0, 1) instead of uniform(-1, 1) (KL sparsity reads them as
    /// activation probabilities).
    pub nonnegative: bool,
}

/// The cases at `size`, in table order.
///
/// # Panics
/// If one of the built-in configs is rejected by sparse-losses (a bug here).
pub fn cases(size: Size) -> Vec<Case> {
    let (rows, cols, weight_rows) = match size {
        Size::Cpu => (256, 1024, 784),
        Size::Gpu => (4096, 4096, 4096),
    };
    let images = match size {
        Size::Cpu => vec![64, 1, 28, 28],
        Size::Gpu => vec![16, 1, 1024, 1024],
    };
    let codes = vec![rows, cols];
    let weight = vec![weight_rows, cols];
    let group_ids: Vec<usize> = (0..cols).map(|i| i / (cols / 16)).collect();
    let list: Vec<(&str, Vec<usize>, &str, serde_json::Value)> = vec![
        ("l1", codes.clone(), "l1", json!({})),
        ("elastic_net", codes.clone(), "elastic_net", json!({})),
        (
            "group_lasso axis 0",
            weight.clone(),
            "group_lasso",
            json!({}),
        ),
        (
            "group_lasso 16 groups",
            weight,
            "group_lasso",
            json!({"axis": 1, "group_ids": group_ids}),
        ),
        ("kl_sparsity", codes.clone(), "kl_sparsity", json!({})),
        ("hoyer", codes.clone(), "hoyer", json!({})),
        (
            "hoyer per_row",
            codes.clone(),
            "hoyer",
            json!({"per_row": true}),
        ),
        (
            "total_variation iso",
            images.clone(),
            "total_variation",
            json!({"kind": "isotropic"}),
        ),
        (
            "total_variation aniso",
            images,
            "total_variation",
            json!({}),
        ),
        ("spike_and_slab", codes.clone(), "spike_and_slab", json!({})),
        ("entropy abs", codes.clone(), "entropy", json!({})),
        (
            "entropy softmax",
            codes.clone(),
            "entropy",
            json!({"normalize": "softmax"}),
        ),
        ("tanh", codes.clone(), "tanh", json!({})),
        ("log_sum", codes.clone(), "log_sum", json!({})),
        ("lp", codes.clone(), "lp", json!({})),
        ("scad", codes.clone(), "scad", json!({})),
        ("mcp", codes, "mcp", json!({})),
    ];
    list.into_iter()
        .map(|(label, shape, name, fields)| Case {
            label,
            shape,
            penalty: PenaltyConfig::from_json(name, &fields)
                .and_then(|c| c.init())
                .unwrap_or_else(|e| panic!("bench config `{label}`: {e}")),
            nonnegative: name == "kl_sparsity",
        })
        .collect()
}

/// Runs every case on `backend`'s `device` (not autodiff; this adds it), then the read + write
/// of every distinct shape, and returns the records.
pub fn run(backend: Backend, device: &Device, cases: &[Case], timing: Timing) -> Vec<Record> {
    let gpu = backend.is_gpu();
    let autodiff = device.clone().autodiff();
    let mut records = Vec::new();
    for case in cases {
        let ms = match case.shape.len() {
            2 => time_case::<2>(case, &autodiff, gpu, timing),
            4 => time_case::<4>(case, &autodiff, gpu, timing),
            r => unreachable!("cases have rank 2 or 4, not {r}"),
        };
        eprintln!("{backend}: {} {:?}: {ms:.3} ms", case.label, case.shape);
        records.push(Record::Penalty {
            backend: backend.name().into(),
            case: case.label.into(),
            shape: case.shape.clone(),
            ms,
        });
    }
    let mut shapes: Vec<&Vec<usize>> = Vec::new();
    for case in cases {
        if !shapes.contains(&&case.shape) {
            shapes.push(&case.shape);
        }
    }
    for shape in shapes {
        let ms = match shape.len() {
            2 => time_copy::<2>(shape, device, gpu, timing),
            4 => time_copy::<4>(shape, device, gpu, timing),
            r => unreachable!("cases have rank 2 or 4, not {r}"),
        };
        eprintln!("{backend}: read+write {shape:?}: {ms:.3} ms");
        records.push(Record::Copy {
            backend: backend.name().into(),
            shape: shape.clone(),
            ms,
        });
    }
    records
}

/// The input of `shape`, drawn once from the seeded generator of `device`.
fn input<const D: usize>(shape: &[usize], nonnegative: bool, device: &Device) -> Tensor<D> {
    let dims: [usize; D] = shape.try_into().expect("shape of the case's rank");
    let low = if nonnegative { 0.0 } else { -1.0 };
    device.seed(SEED);
    Tensor::<D>::random(dims, Distribution::Uniform(low, 1.0), device)
}

/// Milliseconds per forward + backward of `case` on the autodiff `device`.
fn time_case<const D: usize>(case: &Case, device: &Device, gpu: bool, timing: Timing) -> f64 {
    let x = input::<D>(&case.shape, case.nonnegative, device);
    measure(
        device,
        gpu,
        timing,
        || {
            let leaf = x.clone().detach().require_grad();
            let loss = case
                .penalty
                .forward(leaf.clone())
                .expect("bench shapes are valid");
            let grads = loss.backward();
            leaf.grad(&grads).expect("the gradient reaches the input")
        },
        first_element::<D>,
    )
}

/// Milliseconds per read + write of a tensor of `shape` on the (non-autodiff) `device`: one
/// element-wise op that reads every element once and writes a new tensor.
fn time_copy<const D: usize>(shape: &[usize], device: &Device, gpu: bool, timing: Timing) -> f64 {
    let x = input::<D>(shape, false, device);
    // `x` stays alive, so the op cannot work in place: it allocates and writes a new tensor.
    measure(
        device,
        gpu,
        timing,
        || x.clone().mul_scalar(1.0),
        first_element::<D>,
    )
}
