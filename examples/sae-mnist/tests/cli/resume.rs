//! `--resume`: the metrics of an uninterrupted run, corrupt or foreign checkpoints, a
//! relative data folder, finished runs and their data.

use super::*;

#[test]
fn resume_ends_with_the_metrics_of_an_uninterrupted_run() {
    let dir = scratch("resume");
    let (whole, split) = (dir.join("whole"), dir.join("split"));
    let common = [
        "--arch",
        "relu",
        "--penalty",
        "l1-dec",
        "--mask-density",
        "0.5",
    ];
    let seven = ["--seed", "7"];
    run(small(&mut bin())
        .args(common)
        .args(seven)
        .args(["--epochs", "3", "--out"])
        .arg(&whole));
    // Stopped after epoch 2 (what a crash after the second checkpoint leaves) ...
    run(small(&mut bin())
        .args(common)
        .args(seven)
        .args(["--epochs", "2", "--out"])
        .arg(&split));
    run(bin().args(["--epochs", "3", "--resume"]).arg(&split));
    let (a, b) = (metrics(&whole), metrics(&split));
    assert_eq!(b["resumed_from"], 2);
    assert_eq!(a["test"], b["test"], "resumed run differs");
    let losses = |m: &Value| -> Vec<Value> {
        m["epochs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["train_loss"].clone())
            .collect()
    };
    assert_eq!(losses(&a), losses(&b));
    // A different seed really gives different numbers (so the equality above means something).
    let other = dir.join("other");
    run(small(&mut bin())
        .args(common)
        .args(["--seed", "8", "--epochs", "3", "--out"])
        .arg(&other));
    assert_ne!(test_metrics(&other), test_metrics(&whole));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--resume` after a crash that left the newest checkpoint cut short or corrupt (burn-train
/// panicked on it with a backtrace, exit 101): the run resumes from the checkpoint before it,
/// with one warning line naming the file; a finished run's results stay as they are.
#[test]
fn a_corrupt_checkpoint_is_skipped_with_a_warning() {
    let dir = scratch("corrupt-checkpoint");
    for (file, damage) in [("model-2.bpk", "cut"), ("optim-2.bpk", "scrambled")] {
        // A finished 2-epoch run for each damage.
        let out = dir.join(damage);
        run(small(&mut bin())
            .args(["--epochs", "2", "--k", "8", "--out"])
            .arg(&out));
        let metrics_before = std::fs::read(out.join("metrics.json")).unwrap();
        let path = out.join("burn").join("checkpoint").join(file);
        let good = std::fs::read(&path).unwrap();
        let bad: Vec<u8> = if damage == "cut" {
            good[..good.len() / 2].to_vec()
        } else {
            let mut b = good.clone();
            b.iter_mut().skip(20).step_by(7).for_each(|v| *v ^= 0x5a);
            b
        };
        std::fs::write(&path, &bad).unwrap();
        // The run is finished (2 of 2 epochs): refused, nothing touched.
        let err = fails(bin().arg("--resume").arg(&out));
        assert!(err.contains("finished run"), "{damage}: {err}");
        assert!(
            std::fs::read(&path).unwrap() == bad,
            "{damage}: the file was changed"
        );
        assert!(
            std::fs::read(out.join("metrics.json")).unwrap() == metrics_before,
            "{damage}: metrics.json was changed"
        );
        // Training further resumes from epoch 1 and trains epoch 2 again.
        let resumed = run(bin().arg("--resume").arg(&out).args(["--epochs", "3"]));
        let stderr = String::from_utf8_lossy(&resumed.stderr);
        let warnings: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("warning:"))
            .collect();
        assert_eq!(warnings.len(), 1, "{damage}: {stderr}");
        assert!(
            warnings[0].contains(&format!("{}", path.display()))
                && warnings[0].contains("epoch 2 cannot be read")
                && warnings[0].ends_with("resuming from epoch 1"),
            "{damage}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{damage}: {stderr}");
        let m = metrics(&out);
        assert_eq!(m["epochs"].as_array().unwrap().len(), 3, "{damage}");
        assert!(
            m["test"]["mse"].as_f64().is_some_and(f64::is_finite),
            "{damage}"
        );
        // Epoch 2 was written again (readable), and the run can go on from epoch 3.
        assert!(
            std::fs::read(&path).unwrap() != bad,
            "{damage}: not written again"
        );
        run(bin().arg("--resume").arg(&out).args(["--epochs", "4"]));
        assert_eq!(
            metrics(&out)["epochs"].as_array().unwrap().len(),
            4,
            "{damage}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--resume` of a run whose settings.json was edited to another model: one line saying the
/// checkpoint does not fit (burn-train panicked: "Failed to load record"), nothing changed.
#[test]
fn a_checkpoint_of_another_model_is_refused() {
    let dir = scratch("other-model");
    let out = dir.join("run");
    run(small(&mut bin())
        .args(["--epochs", "1", "--k", "8", "--out"])
        .arg(&out));
    let settings = out.join("settings.json");
    let mut edited: Value = serde_json::from_slice(&std::fs::read(&settings).unwrap()).unwrap();
    edited["hidden"] = 32.into();
    std::fs::write(&settings, serde_json::to_vec(&edited).unwrap()).unwrap();
    let metrics_before = std::fs::read(out.join("metrics.json")).unwrap();
    let err = fails(bin().arg("--resume").arg(&out).args(["--epochs", "2"]));
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("does not fit the model") && err.contains("model-1.bpk"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(std::fs::read(out.join("metrics.json")).unwrap() == metrics_before);
    assert!(!out
        .join("burn")
        .join("checkpoint")
        .join("model-2.bpk")
        .exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A run started with a relative `--data-dir` resumes from another working directory: the
/// saved settings name the data by an absolute path.
#[test]
fn a_relative_data_dir_resumes_from_elsewhere() {
    let root = scratch("relative");
    let data = root.join("data");
    std::fs::create_dir_all(&data).unwrap();
    for f in std::fs::read_dir(sae_mnist_data()).unwrap() {
        let f = f.unwrap().path();
        if f.extension().is_some_and(|e| e == "gz") {
            std::fs::copy(&f, data.join(f.file_name().unwrap())).unwrap();
        }
    }
    let out = root.join("run");
    run(small(bin().current_dir(&root))
        .args(["--data-dir", "data", "--epochs", "1", "--out"])
        .arg(&out));
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("settings.json")).unwrap()).unwrap();
    let saved_dir = PathBuf::from(saved["data_dir"].as_str().unwrap());
    assert!(saved_dir.is_absolute(), "{saved_dir:?}");
    run(bin()
        .current_dir(std::env::temp_dir())
        .args(["--epochs", "2", "--resume"])
        .arg(&out));
    assert_eq!(metrics(&out)["epochs"].as_array().unwrap().len(), 2);
    let _ = std::fs::remove_dir_all(&root);
}

/// A finished run's results are never replaced by `--resume`, and a resume on other data is
/// refused unless `--new-data`: the run records a fingerprint of its data.
#[test]
fn resume_keeps_finished_results_and_checks_the_data() {
    let root = scratch("resume-guard");
    let out = root.join("run");
    run(small(&mut bin()).args(["--epochs", "1", "--out"]).arg(&out));
    let before = std::fs::read(out.join("metrics.json")).unwrap();
    let err = fails(bin().arg("--resume").arg(&out));
    assert!(err.contains("finished run"), "{err}");
    // Other data: the bundled images with their pixels inverted.
    let other = root.join("inverted");
    std::fs::create_dir_all(&other).unwrap();
    for name in [
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ] {
        let idx = sparse_autoencoders::data::read_idx(sae_mnist_data().join(format!("{name}.gz")))
            .unwrap();
        let mut bytes = vec![0, 0, 8, idx.dims.len() as u8];
        for &d in &idx.dims {
            bytes.extend((d as u32).to_be_bytes());
        }
        let inverted = name.contains("images");
        bytes.extend(idx.data.iter().map(|&b| if inverted { 255 - b } else { b }));
        std::fs::write(other.join(name), bytes).unwrap();
    }
    let err = fails(
        bin()
            .args(["--epochs", "2", "--data-dir"])
            .arg(&other)
            .arg("--resume")
            .arg(&out),
    );
    assert!(err.contains("--new-data"), "{err}");
    assert_eq!(std::fs::read(out.join("metrics.json")).unwrap(), before);
    run(bin()
        .args(["--epochs", "2", "--new-data", "--data-dir"])
        .arg(&other)
        .arg("--resume")
        .arg(&out));
    assert_eq!(metrics(&out)["epochs"].as_array().unwrap().len(), 2);
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn library_runs_resume_exactly() {
    let dir = scratch("library-resume");
    let args = ["--arch", "batchtopk", "--k", "8", "--aux-k", "16"];
    let whole = dir.join("whole");
    run(small(&mut bin())
        .args(args)
        .args(["--epochs", "3", "--out"])
        .arg(&whole));
    let parts = dir.join("parts");
    run(small(&mut bin())
        .args(args)
        .args(["--epochs", "1", "--out"])
        .arg(&parts));
    run(bin().arg("--resume").arg(&parts).args(["--epochs", "3"]));
    let (a, b) = (metrics(&whole), metrics(&parts));
    assert_eq!(a["test"], b["test"]);
    let losses = |m: &Value| -> Vec<f64> {
        m["epochs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["train_loss"].as_f64().unwrap())
            .collect()
    };
    assert_eq!(losses(&a), losses(&b));
    assert_eq!(losses(&a).len(), 3);
}
