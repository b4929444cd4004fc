//! `sae-bench sparse-linear`: the forward of a pruned `Linear` stored sparse (CSR,
//! `sparse_losses::prune::SparseLinear`) against Burn's dense product on flex, per sparsity and
//! batch, with the weights' bytes.

use std::time::Instant;

use burn::prelude::*;
use burn::tensor::TensorData;
use sparse_losses::prune::{magnitude, PrunePattern, SparseLinear};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The table for a `[out, in]` layer.
pub fn run(out: usize, inputs: usize, batches: &[usize], reps: usize) -> Result<String, String> {
    let threads = crate::threads();
    let mut s = 0x2545F4914F6CDD1Du64;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f32 / (1u64 << 53) as f32 * 2.0 - 1.0
    };
    let w: Vec<f32> = (0..out * inputs).map(|_| next()).collect();
    let device = Device::flex();
    let patterns = [
        ("50 %", PrunePattern::Unstructured { sparsity: 0.5 }),
        ("70 %", PrunePattern::Unstructured { sparsity: 0.7 }),
        ("90 %", PrunePattern::Unstructured { sparsity: 0.9 }),
        ("2:4", PrunePattern::NOfM { n: 2, m: 4 }),
    ];
    let mut table = format!(
        "sparse-linear: W [{out}, {inputs}], flex, {threads} threads, median of {reps}\n\n| sparsity | batch | dense (ms) | CSR (ms) | CSR / dense | weight MB dense / CSR |\n| --- | --- | --- | --- | --- | --- |\n"
    );
    for (label, pattern) in patterns {
        let pruned = magnitude(&w, [out, inputs], pattern).map_err(|e| e.to_string())?;
        let sparse = SparseLinear::from_rows(&pruned.weight, [out, inputs], None)
            .map_err(|e| e.to_string())?;
        // Burn's Linear: y = x W with W [in, out].
        let dense_w = Tensor::<2>::from_data(
            TensorData::new(pruned.weight.clone(), [out, inputs]),
            &device,
        )
        .transpose();
        let dense_w = Tensor::<2>::from_data(dense_w.into_data(), &device);
        for &batch in batches {
            let x: Vec<f32> = (0..batch * inputs).map(|_| next()).collect();
            let xt = Tensor::<2>::from_data(TensorData::new(x.clone(), [batch, inputs]), &device);
            let mut dense_times = Vec::new();
            let mut sparse_times = Vec::new();
            let mut check = (Vec::new(), Vec::new());
            for rep in 0..reps + 1 {
                let t0 = Instant::now();
                let y = xt
                    .clone()
                    .matmul(dense_w.clone())
                    .try_into_vec_as::<f32>()
                    .expect("f32");
                let dt = t0.elapsed().as_secs_f64();
                let t0 = Instant::now();
                let z = sparse.forward_rows(&x, batch, threads);
                let st = t0.elapsed().as_secs_f64();
                if rep > 0 {
                    dense_times.push(dt);
                    sparse_times.push(st);
                } else {
                    check = (y, z);
                }
            }
            let worst = check
                .0
                .iter()
                .zip(&check.1)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            if worst > 1e-2 {
                return Err(format!(
                    "CSR and dense differ by {worst} at {label}, batch {batch}"
                ));
            }
            let (d, c) = (median(dense_times) * 1e3, median(sparse_times) * 1e3);
            table.push_str(&format!(
                "| {label} | {batch} | {d:.2} | {c:.2} | {:.2} | {:.1} / {:.1} |\n",
                c / d,
                (out * inputs * 4) as f64 / 1e6,
                sparse.bytes() as f64 / 1e6
            ));
        }
    }
    Ok(table)
}
