//! Forward + backward time of every penalty at training-sized shapes, per backend, as a table.
//!
//! ```sh
//! cargo bench --bench penalties                    # Flex and NdArray
//! cargo bench --bench penalties --features wgpu    # and wgpu, when an adapter exists
//! ```
//!
//! Each cell is the median of `REPS` timed runs (after warm-up) of: build the penalty's value
//! on an autodiff tensor, run `backward`, and read one element of the gradient back (so that
//! asynchronous backends finish their work). The last column is NdArray's time over Flex's,
//! measured in the same run.

use std::time::Instant;

use burn::prelude::*;
use burn::tensor::Distribution;
use sparse_losses::prelude::*;

const WARMUP: usize = 5;
const REPS: usize = 41;

struct Case {
    label: &'static str,
    shape: Vec<usize>,
    penalty: AnyPenalty,
}

fn cases() -> Vec<Case> {
    let cfg = |name: &str, json: serde_json::Value| {
        PenaltyConfig::from_json(name, &json)
            .and_then(|c| c.init())
            .expect("valid bench config")
    };
    let codes = vec![256, 1024]; // a batch of SAE latents
    let weight = vec![784, 1024]; // an SAE encoder weight
    let images = vec![64, 1, 28, 28];
    vec![
        Case {
            label: "l1",
            shape: codes.clone(),
            penalty: cfg("l1", serde_json::json!({})),
        },
        Case {
            label: "elastic_net",
            shape: codes.clone(),
            penalty: cfg("elastic_net", serde_json::json!({})),
        },
        Case {
            label: "group_lasso axis 0",
            shape: weight.clone(),
            penalty: cfg("group_lasso", serde_json::json!({})),
        },
        Case {
            label: "group_lasso 16 groups",
            shape: weight,
            penalty: cfg(
                "group_lasso",
                serde_json::json!({"axis": 1, "group_ids": (0..1024).map(|i| i / 64).collect::<Vec<_>>()}),
            ),
        },
        Case {
            label: "kl_sparsity",
            shape: codes.clone(),
            penalty: cfg("kl_sparsity", serde_json::json!({})),
        },
        Case {
            label: "hoyer per_row",
            shape: codes.clone(),
            penalty: cfg("hoyer", serde_json::json!({"per_row": true})),
        },
        Case {
            label: "total_variation iso",
            shape: images.clone(),
            penalty: cfg("total_variation", serde_json::json!({"kind": "isotropic"})),
        },
        Case {
            label: "total_variation aniso",
            shape: images,
            penalty: cfg("total_variation", serde_json::json!({})),
        },
        Case {
            label: "spike_and_slab",
            shape: codes.clone(),
            penalty: cfg("spike_and_slab", serde_json::json!({})),
        },
        Case {
            label: "entropy abs",
            shape: codes.clone(),
            penalty: cfg("entropy", serde_json::json!({})),
        },
        Case {
            label: "entropy softmax",
            shape: codes,
            penalty: cfg("entropy", serde_json::json!({"normalize": "softmax"})),
        },
    ]
}

fn time_case(case: &Case, device: &Device) -> f64 {
    let run = || -> f64 {
        let start = Instant::now();
        let probe = match case.shape.len() {
            2 => step::<2>(case, device),
            4 => step::<4>(case, device),
            r => unreachable!("rank {r}"),
        };
        assert!(probe.is_finite());
        start.elapsed().as_secs_f64()
    };
    for _ in 0..WARMUP {
        run();
    }
    let mut times: Vec<f64> = (0..REPS).map(|_| run()).collect();
    times.sort_by(f64::total_cmp);
    times[REPS / 2]
}

fn step<const D: usize>(case: &Case, device: &Device) -> f32 {
    let dims: [usize; D] = case.shape.clone().try_into().expect("rank");
    let x = Tensor::<D>::random(dims, Distribution::Uniform(-1.0, 1.0), device).require_grad();
    let loss = case
        .penalty
        .forward(x.clone())
        .expect("bench shapes are valid");
    let grads = loss.backward();
    let grad = x.grad(&grads).expect("gradient");
    let n: usize = case.shape.iter().product();
    grad.reshape([n]).slice(0..1).into_scalar::<f32>()
}

fn main() {
    #[allow(deprecated)]
    let ndarray = Device::ndarray();
    #[cfg_attr(not(feature = "wgpu"), allow(unused_mut))]
    let mut backends = vec![
        ("flex", Device::flex().autodiff()),
        ("ndarray", ndarray.autodiff()),
    ];
    #[cfg(feature = "wgpu")]
    match Device::wgpu_options().init() {
        Ok(device) => backends.push(("wgpu", device.autodiff())),
        Err(e) => eprintln!("wgpu: no adapter ({e}); skipped"),
    }

    print!("| penalty | shape |");
    for (name, _) in &backends {
        print!(" {name} (ms) |");
    }
    println!(" ndarray / flex |");
    print!("| --- | --- |");
    for _ in &backends {
        print!(" ---: |");
    }
    println!(" ---: |");
    for case in cases() {
        let times: Vec<f64> = backends.iter().map(|(_, d)| time_case(&case, d)).collect();
        print!("| {} | {:?} |", case.label, case.shape);
        for t in &times {
            print!(" {:.3} |", t * 1e3);
        }
        println!(" {:.2} |", times[1] / times[0]);
    }
}
