//! Run folders saved by the previous release (before the architectures' registry and the
//! command line's library names: `tests/fixtures/old-runs/`, one epoch each, made by the binary
//! of commit a1f8ff9 with `--hidden 8 --train-limit 300 --test-limit 100 --batch-size 100`)
//! resume with today's binary, under their old spellings (`batchtopk`, `l0`, `l1-dec`,
//! `lp-anneal`, `kl`) and their old parameter paths, to the metrics that
//! binary reached resuming them to two epochs (`expected.json`).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/old-runs")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// `a` and `b` agree to float32 rounding (today's passes may order the sums differently).
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-5 * a.abs().max(b.abs()) + 1e-7
}

#[test]
fn runs_saved_by_the_previous_release_resume_to_its_metrics() {
    let expected: Value =
        serde_json::from_slice(&std::fs::read(fixtures().join("expected.json")).unwrap()).unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist-10k");
    let scratch = std::env::temp_dir().join(format!("sae-mnist-old-runs-{}", std::process::id()));
    let runs = expected.as_object().unwrap();
    assert_eq!(runs.len(), 8);
    for (name, want) in runs {
        let dir = scratch.join(name);
        copy_dir(&fixtures().join(name), &dir);
        let out = Command::new(env!("CARGO_BIN_EXE_sae-mnist"))
            .arg("--resume")
            .arg(&dir)
            .args(["--epochs", "2", "--quiet", "--data-dir"])
            .arg(&data)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got: Value =
            serde_json::from_slice(&std::fs::read(dir.join("metrics.json")).unwrap()).unwrap();
        for (key, value) in want["test"].as_object().unwrap() {
            let (a, b) = (got["test"][key].as_f64().unwrap(), value.as_f64().unwrap());
            assert!(
                close(a, b),
                "{name}: test {key} {a} (the previous release: {b})"
            );
        }
        let losses: Vec<f64> = got["epochs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["train_loss"].as_f64().unwrap())
            .collect();
        let want_losses: Vec<f64> = want["train_loss"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(losses.len(), 2, "{name}");
        for (a, b) in losses.iter().zip(&want_losses) {
            assert!(
                close(*a, *b),
                "{name}: train loss {a} (the previous release: {b})"
            );
        }
        // The settings are saved again under the registries' names.
        let settings: Value =
            serde_json::from_slice(&std::fs::read(dir.join("settings.json")).unwrap()).unwrap();
        let arch = settings["arch"].as_str().unwrap();
        assert!(
            sparse_autoencoders::Architecture::NAMES.contains(&arch),
            "{name}: {arch}"
        );
        assert_eq!(settings["epochs"], 2, "{name}");
    }
    let _ = std::fs::remove_dir_all(&scratch);
}
