//! `sae-mnist model`: a classifier trained in Burn, its activations harvested to stores, an
//! SAE streamed from them, spliced back and probed; resumed after a kill to the same metrics.

use super::*;

fn model() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sae-mnist"));
    c.args(["model", "--quiet"]);
    c
}

const SMALL: [&str; 12] = [
    "--train-limit",
    "2000",
    "--test-limit",
    "500",
    "--clf-epochs",
    "2",
    "--epochs",
    "3",
    "--hidden",
    "128",
    "--rows-per-shard",
    "512",
];

/// The metrics of a model run, without the settings.
fn model_metrics(dir: &Path) -> Value {
    let mut m = metrics(dir);
    m.as_object_mut().unwrap().remove("settings");
    m
}

/// A short run writes the reference's keys with values in range: a trained classifier (well
/// above chance), an SAE that reconstructs the layer, the spliced classifier close to the
/// clean one, probes above chance; the stores hold the layer's rows.
#[test]
fn a_model_run_reports_the_reference_metrics() {
    let dir = scratch("model-run");
    let out = dir.join("run");
    run(model()
        .args(SMALL)
        .args(["--layer", "h2", "--k", "16", "--out"])
        .arg(&out));
    let m = model_metrics(&out);
    for key in [
        "acc_clean",
        "acc_spliced",
        "ce_clean",
        "ce_spliced",
        "ce_zero",
        "ce_mean",
        "kl_spliced",
        "loss_recovered_zero",
        "loss_recovered_mean",
        "explained_variance",
        "l0",
        "dead_fraction",
        "sae_probe_k1",
        "sae_probe_k5",
        "neuron_probe_k1",
        "neuron_probe_k5",
    ] {
        assert!(m[key].as_f64().is_some_and(f64::is_finite), "{key}: {m}");
    }
    let f = |k: &str| m[k].as_f64().unwrap();
    assert!(f("acc_clean") > 0.8, "{m}");
    assert!(f("explained_variance") > 0.7, "{m}");
    assert_eq!(f("l0"), 16.0);
    assert!(
        f("ce_zero") > f("ce_spliced") && f("kl_spliced") >= 0.0,
        "{m}"
    );
    assert!(f("loss_recovered_zero") > 0.8, "{m}");
    assert!(f("sae_probe_k5") > 0.6 && f("neuron_probe_k5") > 0.6, "{m}");
    assert_eq!(
        (m["layer"].as_str(), m["d_in"].as_u64()),
        (Some("h2"), Some(256))
    );
    for split in ["train", "test"] {
        let manifest: Value = serde_json::from_str(
            &std::fs::read_to_string(out.join("activations").join(split).join("h2/manifest.json"))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(manifest["complete"], true);
        assert_eq!(manifest["dim"], 256);
        let rows = if split == "train" { 2000 } else { 500 };
        assert_eq!(manifest["total_rows"], rows);
    }
    // A harvested store is `--data` for a plain run (streamed; its last 10% is the test split).
    let plain = dir.join("from-store");
    run(bin()
        .arg("--data")
        .arg(out.join("activations/train/h2"))
        .args(["--epochs", "1", "--hidden", "64", "--k", "8", "--out"])
        .arg(&plain));
    let p = metrics(&plain);
    assert_eq!(p["test"]["rows"], 200, "{p}");
    assert_eq!(p["test"]["l0"], 8.0, "{p}");
    // A finished run is not resumed; a fresh run into it is refused; a bad flag is one line.
    let err = fails(model().arg("--resume").arg(&out));
    assert!(err.contains("finished model run"), "{err}");
    let err = fails(model().args(SMALL).arg("--out").arg(&out));
    assert!(err.contains("--resume"), "{err}");
    let err = fails(
        model()
            .args(["--clf-epochs", "0", "--out"])
            .arg(dir.join("x")),
    );
    assert!(
        err.contains("--clf-epochs") && err.trim().lines().count() == 1,
        "{err}"
    );
    assert!(!dir.join("x").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A model run killed while its SAE trains (SIGKILL) resumes with `model --resume` to the
/// metrics of an uninterrupted run: the classifier and the stores are kept, the SAE continues
/// from its checkpoint, and the stream's order is a function of (seed, epoch).
#[test]
fn a_killed_model_run_resumes_to_the_same_metrics() {
    let dir = scratch("model-kill");
    let whole = dir.join("whole");
    run(model().args(SMALL).arg("--out").arg(&whole));
    let reference = model_metrics(&whole);
    let out = dir.join("killed");
    let mut child = model().args(SMALL).arg("--out").arg(&out).spawn().unwrap();
    let ck = out.join("burn/checkpoint/scheduler-1.bpk");
    let start = std::time::Instant::now();
    while !ck.exists() && start.elapsed().as_secs() < 120 && child.try_wait().unwrap().is_none() {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "the run ended before the kill");
    assert!(!out.join("metrics.json").exists());
    run(model().arg("--resume").arg(&out));
    assert_eq!(model_metrics(&out), reference);
    let _ = std::fs::remove_dir_all(&dir);
}
