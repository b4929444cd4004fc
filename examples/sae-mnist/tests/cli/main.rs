//! End-to-end tests of the `sae-mnist` binary: short trainings on the bundled data, every
//! output checked, resuming, and bad input. One test binary (`cli`): this file holds the
//! shared helpers, and each module one theme.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

mod bad_input;
mod failures;
mod model;
mod output_and_paths;
mod prune;
mod resume;
mod runs;
mod share;
mod sweep;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sae-mnist"));
    c.arg("--quiet");
    c
}

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sae-mnist-test-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("the binary runs");
    if !out.status.success() {
        panic!(
            "sae-mnist failed ({}):\nstdout:\n{}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

fn fails(cmd: &mut Command) -> String {
    let out = cmd.output().expect("the binary runs");
    assert!(!out.status.success(), "expected a failure, got success");
    assert_eq!(out.status.code(), Some(1), "{:?}", out);
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A small, fast configuration.
fn small(cmd: &mut Command) -> &mut Command {
    cmd.args([
        "--train-limit",
        "1000",
        "--test-limit",
        "300",
        "--hidden",
        "64",
        "--batch-size",
        "128",
    ])
}

fn metrics(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("metrics.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Checks the PNG signature and that the header's size is plausible.
fn check_png(path: &Path) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{}", path.display());
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let reader = decoder.read_info().expect("a readable PNG");
    let info = reader.info();
    assert!(info.width >= 28 && info.height >= 28, "{}", path.display());
}

fn check_outputs(dir: &Path, epochs: usize, backend: &str) -> Value {
    check_outputs_of(dir, epochs, backend, true)
}

/// Every output of a finished run; `images`: the data are 28×28 images (rows of a `.npy`
/// file make narrower pictures).
fn check_outputs_of(dir: &Path, epochs: usize, backend: &str, images: bool) -> Value {
    let m = metrics(dir);
    assert_eq!(m["settings"]["backend"], backend);
    assert_eq!(m["epochs"].as_array().unwrap().len(), epochs);
    for e in m["epochs"].as_array().unwrap() {
        assert!(e["train_loss"].as_f64().unwrap().is_finite());
        assert!(e["seconds"].as_f64().unwrap() > 0.0);
    }
    let t = &m["test"];
    for key in [
        "mse",
        "explained_variance",
        "l0",
        "dead_fraction",
        "gamma",
        "hoyer",
    ] {
        assert!(
            t[key].as_f64().is_some_and(f64::is_finite),
            "test.{key} = {}",
            t[key]
        );
    }
    let ev = t["explained_variance"].as_f64().unwrap();
    assert!(ev > 0.0 && ev < 1.0, "explained variance {ev}");
    let dead = t["dead_fraction"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&dead));
    for png in ["atoms.png", "reconstructions.png", "curve.png"] {
        if images {
            check_png(&dir.join(png));
        } else {
            let bytes = std::fs::read(dir.join(png)).unwrap();
            assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{png}");
        }
    }
    // burn-train's checkpoints of the last epoch (model, optimizer, scheduler), and the
    // settings that --resume reads.
    let ckpt = dir.join("burn").join("checkpoint");
    for f in ["model", "optim", "scheduler"] {
        let p = ckpt.join(format!("{f}-{epochs}.bpk"));
        assert!(p.is_file(), "{}", p.display());
    }
    assert!(dir.join("settings.json").is_file());
    m
}

fn test_metrics(dir: &Path) -> Value {
    metrics(dir)["test"].clone()
}

fn sae_mnist_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist-10k")
}

/// Writes a float32 `.npy` file as numpy's `np.save` does.
fn write_npy(path: &Path, rows: usize, dim: usize) {
    write_npy_scaled(path, rows, dim, 1.0);
}

/// A `[rows, dim]` float32 `.npy` file: a sparse pattern of values in [0, 1), times `scale`.
fn write_npy_scaled(path: &Path, rows: usize, dim: usize, scale: f32) {
    let mut header =
        format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {dim}), }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for i in 0..rows * dim {
        let v = if i % 5 == 0 {
            ((i as f32) * 0.37).sin().abs()
        } else {
            0.0
        };
        bytes.extend_from_slice(&(v * scale).to_le_bytes());
    }
    std::fs::write(path, bytes).unwrap();
}
