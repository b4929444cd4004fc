//! Run folders saved before the architecture registry (sparse-autoencoders 0.1 as of issue 12:
//! the architecture's parameters were fields of `Sae`, the `--arch` spellings `jumprelu`,
//! `batchtopk`, `l0`) still resume. `tests/fixtures/runs-before-registry/<arch>` holds one
//! epoch of each architecture with parameters of its own, trained by that version
//! (`--hidden 16 --train-limit 300 --test-limit 100 --batch-size 100 --epochs 1`, pictures
//! removed). Resumed to two epochs by this version, each must end with exactly the metrics of
//! an uninterrupted two-epoch run of this version: the checkpoint's tensors are mapped onto
//! the new layout (by their fixed ids), and the training is unchanged.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const ARCHS: [&str; 5] = ["jumprelu", "gated", "batchtopk", "matryoshka", "l0"];

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sae-mnist"));
    c.arg("--quiet");
    c
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("the binary runs");
    assert!(
        out.status.success(),
        "sae-mnist failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn metrics(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("metrics.json")).unwrap()).unwrap()
}

#[test]
fn runs_saved_before_the_registry_resume_exactly() {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let fixtures = manifest.join("tests/fixtures/runs-before-registry");
    let data = manifest.join("../../data/mnist-10k");
    let scratch = std::env::temp_dir().join(format!("sae-mnist-old-runs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    for arch in ARCHS {
        let old = scratch.join(format!("{arch}-old"));
        copy_dir(&fixtures.join(arch), &old);
        let saved: Value =
            serde_json::from_str(&std::fs::read_to_string(old.join("settings.json")).unwrap())
                .unwrap();
        assert_eq!(saved["arch"], arch, "the fixture keeps the old spelling");
        run(bin()
            .args(["--epochs", "2", "--data-dir"])
            .arg(&data)
            .arg("--resume")
            .arg(&old));
        let fresh = scratch.join(format!("{arch}-new"));
        run(bin()
            .args(["--arch", arch, "--hidden", "16", "--train-limit", "300"])
            .args(["--test-limit", "100", "--batch-size", "100", "--epochs", "2"])
            .arg("--data-dir")
            .arg(&data)
            .arg("--out")
            .arg(&fresh));
        let (a, b) = (metrics(&old), metrics(&fresh));
        assert_eq!(a["resumed_from"], 1, "{arch}");
        assert_eq!(a["test"], b["test"], "{arch}: the resumed old run differs");
        let losses = |m: &Value| -> Vec<Value> {
            let epochs = m["epochs"].as_array().unwrap();
            epochs.iter().map(|e| e["train_loss"].clone()).collect()
        };
        assert_eq!(losses(&a), losses(&b), "{arch}: the resumed old run differs");
    }
    std::fs::remove_dir_all(&scratch).unwrap();
}
