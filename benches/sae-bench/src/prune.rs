//! `sae-bench prune`: pruning one large layer (`W [out, in]`, `X [rows, in]`) by magnitude,
//! Wanda and SparseGPT (unstructured 50 % and 2:4) on flex, timed; the same weights and inputs
//! can be written as `.npy` files (`--save DIR`) or read from them (`--load DIR`), so that
//! `benches/python/prune_vs_torch.py` times PyTorch on exactly the same layer in the same run.

use std::path::Path;
use std::time::Instant;

use burn::prelude::*;
use burn::tensor::TensorData;
use sparse_autoencoders::data::{read_npy, write_npy_f32};
use sparse_losses::prune::{prune_tensor, PruneMethod, PrunePattern, SparseGptConfig};

/// A deterministic layer: weights uniform in ±1/√in, inputs with a shared component per row
/// (correlated, as activations are).
fn synthetic(out: usize, cols: usize, rows: usize) -> (Vec<f32>, Vec<f32>) {
    let mut s = 0x9E3779B97F4A7C15u64;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f32 / (1u64 << 53) as f32 * 2.0 - 1.0
    };
    let scale = 1.0 / (cols as f32).sqrt();
    let w: Vec<f32> = (0..out * cols).map(|_| next() * scale).collect();
    let mut x = Vec::with_capacity(rows * cols);
    for _ in 0..rows {
        let shared = next();
        for _ in 0..cols {
            x.push(next() + 0.5 * shared);
        }
    }
    (w, x)
}

/// Times each method on the layer; returns the Markdown table and JSON records.
pub fn run(
    out: usize,
    cols: usize,
    rows: usize,
    save: Option<&Path>,
    load: Option<&Path>,
) -> Result<(String, serde_json::Value), String> {
    let (w, x, out, cols, rows) = match load {
        Some(dir) => {
            let w = read_npy(dir.join("w.npy")).map_err(|e| e.to_string())?;
            let x = read_npy(dir.join("x.npy")).map_err(|e| e.to_string())?;
            let (o, c, r) = (w.shape[0], w.shape[1], x.shape[0]);
            (w.data, x.data, o, c, r)
        }
        None => {
            let (w, x) = synthetic(out, cols, rows);
            (w, x, out, cols, rows)
        }
    };
    if let Some(dir) = save {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        write_npy_f32(dir.join("w.npy"), &[out, cols], &w).map_err(|e| e.to_string())?;
        write_npy_f32(dir.join("x.npy"), &[rows, cols], &x).map_err(|e| e.to_string())?;
    }
    let device = Device::flex();
    let wt = Tensor::<2>::from_data(TensorData::new(w, [out, cols]), &device);
    let xt = Tensor::<2>::from_data(TensorData::new(x, [rows, cols]), &device);
    let cases = [
        (
            "magnitude",
            PruneMethod::Magnitude,
            PrunePattern::Unstructured { sparsity: 0.5 },
        ),
        (
            "wanda",
            PruneMethod::Wanda,
            PrunePattern::Unstructured { sparsity: 0.5 },
        ),
        (
            "sparsegpt",
            PruneMethod::SparseGpt(SparseGptConfig::new()),
            PrunePattern::Unstructured { sparsity: 0.5 },
        ),
        (
            "sparsegpt",
            PruneMethod::SparseGpt(SparseGptConfig::new()),
            PrunePattern::NOfM { n: 2, m: 4 },
        ),
    ];
    let mut table = format!(
        "prune: W [{out}, {cols}], X [{rows}, {cols}], flex, {} threads\n\n| method | pattern | seconds | sparsity |\n| --- | --- | --- | --- |\n",
        crate::threads()
    );
    let mut records = Vec::new();
    for (name, method, pattern) in cases {
        let x = (!matches!(method, PruneMethod::Magnitude)).then(|| xt.clone());
        let started = Instant::now();
        let (mask, _pruned) =
            prune_tensor(wt.clone(), x, &method, pattern).map_err(|e| e.to_string())?;
        let zeros = mask.equal_elem(0.0).int().sum().into_scalar::<i64>();
        let seconds = started.elapsed().as_secs_f64();
        let label = match pattern {
            PrunePattern::NOfM { n, m } => format!("{n}:{m}"),
            PrunePattern::Unstructured { sparsity } => format!("{:.0} %", sparsity * 100.0),
            PrunePattern::Rows { sparsity } => format!("rows {:.0} %", sparsity * 100.0),
        };
        let sparsity = zeros as f64 / (out * cols) as f64;
        table.push_str(&format!(
            "| {name} | {label} | {seconds:.2} | {sparsity:.3} |\n"
        ));
        records.push(serde_json::json!({"method": name, "pattern": label, "seconds": seconds, "sparsity": sparsity}));
    }
    Ok((
        table,
        serde_json::json!({"out": out, "in": cols, "rows": rows, "threads": crate::threads(), "records": records}),
    ))
}
