//! Batched OMP against scikit-learn's `orthogonal_mp`, on the same data, in one run.
//!
//! ```sh
//! cargo bench -p sparse-losses --bench omp --features wgpu
//! ```
//!
//! Writes two problems (unit-norm random dictionaries; signals that are sparse combinations
//! of atoms plus 1 % noise) into `target/omp-bench/`, runs `benches/python/omp_sklearn.py` (which
//! makes its own virtual environment with scikit-learn, `SKLEARN_VENV`, default
//! `/var/tmp/sparse-losses-sklearn`) to time scikit-learn on them, then times
//! `Omp::codes` on Flex and NdArray, checks that the supports agree with scikit-learn's, and
//! prints the table. Medians of 5 runs after a warm-up.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use burn::prelude::*;
use burn::tensor::TensorData;
use sparse_losses::OmpConfig;

struct Problem {
    name: &'static str,
    n_features: usize,
    n_atoms: usize,
    n_signals: usize,
    k: usize,
}

const PROBLEMS: [Problem; 2] = [
    Problem {
        name: "d64x256_k8_b4096",
        n_features: 64,
        n_atoms: 256,
        n_signals: 4096,
        k: 8,
    },
    Problem {
        name: "d784x1024_k32_b1024",
        n_features: 784,
        n_atoms: 1024,
        n_signals: 1024,
        k: 32,
    },
];

const REPEATS: usize = 5;

/// SplitMix64 with Box–Muller normals (a fixed stream, so every run benchmarks the same data).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u1, u2) = (1.0 - self.uniform(), self.uniform());
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// D `[f, n]` with unit-norm columns, X `[b, f]`: k random atoms with normal weights, plus noise.
fn problem(p: &Problem, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let mut rng = Rng(seed);
    let (f, n) = (p.n_features, p.n_atoms);
    let mut d: Vec<f64> = (0..f * n).map(|_| rng.normal()).collect();
    for j in 0..n {
        let norm = (0..f).map(|i| d[i * n + j].powi(2)).sum::<f64>().sqrt();
        for i in 0..f {
            d[i * n + j] /= norm;
        }
    }
    let mut x = vec![0f64; p.n_signals * f];
    for s in 0..p.n_signals {
        for _ in 0..p.k {
            let j = (rng.next() % n as u64) as usize;
            let w = rng.normal();
            for i in 0..f {
                x[s * f + i] += w * d[i * n + j];
            }
        }
        for i in 0..f {
            x[s * f + i] += 0.01 * rng.normal();
        }
    }
    (
        d.into_iter().map(|v| v as f32).collect(),
        x.into_iter().map(|v| v as f32).collect(),
    )
}

fn write_f32(path: &Path, v: &[f32]) {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(path, bytes).unwrap();
}

fn read_f32(path: &Path) -> Vec<f32> {
    std::fs::read(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Median seconds of `Omp::codes` (read back to the host) and the codes.
fn time_ours(device: &Device, p: &Problem, d: &[f32], x: &[f32]) -> (f64, Vec<f32>) {
    let omp = OmpConfig::new().with_n_nonzero(Some(p.k)).init().unwrap();
    let dt = Tensor::<2>::from_data(
        TensorData::new(d.to_vec(), [p.n_features, p.n_atoms]),
        device,
    );
    let xt = Tensor::<2>::from_data(
        TensorData::new(x.to_vec(), [p.n_signals, p.n_features]),
        device,
    );
    let run = || -> Vec<f32> {
        omp.codes(dt.clone(), xt.clone())
            .unwrap()
            .try_into_vec_as::<f32>()
            .unwrap()
    };
    let codes = run(); // warm-up
    let times = (0..REPEATS)
        .map(|_| {
            let t = Instant::now();
            let _ = run();
            t.elapsed().as_secs_f64()
        })
        .collect();
    (median(times), codes)
}

/// Fraction of signals whose support equals scikit-learn's.
fn support_agreement(ours: &[f32], theirs: &[f32], n_atoms: usize) -> f64 {
    let rows = ours.len() / n_atoms;
    let same = (0..rows)
        .filter(|r| {
            let s = r * n_atoms..(r + 1) * n_atoms;
            ours[s.clone()]
                .iter()
                .zip(&theirs[s])
                .all(|(a, b)| (*a != 0.0) == (*b != 0.0))
        })
        .count();
    same as f64 / rows as f64
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    // The workspace root (this crate lives in crates/sparse-losses).
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let work = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("omp-bench");
    std::fs::create_dir_all(&work).unwrap();
    let mut data = Vec::new();
    let mut spec = Vec::new();
    for (i, p) in PROBLEMS.iter().enumerate() {
        let (d, x) = problem(p, 42 + i as u64);
        write_f32(&work.join(format!("{}.D.f32", p.name)), &d);
        write_f32(&work.join(format!("{}.X.f32", p.name)), &x);
        spec.push(format!(
            r#"{{"name":"{}","n_features":{},"n_atoms":{},"n_signals":{},"k":{},"repeats":{REPEATS}}}"#,
            p.name, p.n_features, p.n_atoms, p.n_signals, p.k
        ));
        data.push((d, x));
    }
    std::fs::write(
        work.join("problems.json"),
        format!(r#"{{"problems":[{}]}}"#, spec.join(",")),
    )
    .unwrap();
    let venv =
        std::env::var("SKLEARN_VENV").unwrap_or_else(|_| "/var/tmp/sparse-losses-sklearn".into());
    let status = Command::new("python3")
        .arg(root.join("benches/python/omp_sklearn.py"))
        .args(["--venv", &venv, "--dir"])
        .arg(&work)
        .status()
        .expect("python3 runs");
    assert!(status.success(), "the scikit-learn side failed");
    let sk: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(work.join("sklearn.json")).unwrap()).unwrap();
    #[allow(deprecated)]
    let backends = [("flex", Device::flex()), ("ndarray", Device::ndarray())];
    println!(
        "OMP, median of {REPEATS} runs (s), scikit-learn {} (float64) vs sparse-losses (float32)\n",
        sk["sklearn"].as_str().unwrap_or("?")
    );
    println!("| problem | sklearn precompute=True | sklearn default | flex | ndarray | speed-up vs precompute (flex) | supports equal to sklearn |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (i, p) in PROBLEMS.iter().enumerate() {
        let row = &sk["problems"][i];
        let (pre, default) = (
            row["precompute"].as_f64().unwrap(),
            row["default"].as_f64().unwrap(),
        );
        let theirs = read_f32(&work.join(format!("{}.C.f32", p.name)));
        let (d, x) = &data[i];
        let mut cells = Vec::new();
        let mut agreement = 0.0;
        let mut flex_s = 0.0;
        for (name, device) in &backends {
            let (s, codes) = time_ours(device, p, d, x);
            if *name == "flex" {
                flex_s = s;
                agreement = support_agreement(&codes, &theirs, p.n_atoms);
            }
            cells.push(format!("{s:.4}"));
        }
        println!(
            "| D {}×{}, k = {}, {} signals | {pre:.4} | {default:.4} | {} | {} | {:.1}× | {:.1} % |",
            p.n_features,
            p.n_atoms,
            p.k,
            p.n_signals,
            cells[0],
            cells[1],
            pre / flex_s,
            100.0 * agreement
        );
    }
}
