//! `sae-mnist prune`: the classifier's hidden layers pruned and recovered, with the reference's
//! keys; PyTorch's weights from `.npy` files; bad input in one line.

use super::*;

fn prune() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sae-mnist"));
    c.args(["prune", "--quiet"]);
    c
}

const SMALL: [&str; 6] = [
    "--train-limit",
    "2000",
    "--test-limit",
    "500",
    "--clf-epochs",
    "1",
];

fn lines(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("prune.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// One setting: the dense line, then SparseGPT 2:4 with every key of the reference, its
/// sparsity exactly 0.5, accuracies in range; the recovery does not lose what pruning kept.
#[test]
fn a_prune_run_writes_the_reference_keys() {
    let dir = scratch("prune");
    let out = dir.join("run");
    run(prune()
        .args(SMALL)
        .args(["--method", "sparsegpt", "--pattern", "2:4", "--out"])
        .arg(&out));
    let l = lines(&out);
    assert_eq!(l.len(), 2, "{l:?}");
    assert_eq!(l[0]["method"], "dense");
    assert!(l[0]["pattern"].is_null());
    let s = &l[1];
    assert_eq!(
        (s["method"].as_str(), s["pattern"]["kind"].as_str()),
        (Some("sparsegpt"), Some("n:m"))
    );
    for key in [
        "acc",
        "ce",
        "acc_recovered",
        "ce_recovered",
        "sparsity_l1_l2",
        "prune_seconds",
    ] {
        assert!(s[key].as_f64().is_some_and(f64::is_finite), "{key}: {s}");
    }
    assert_eq!(s["sparsity_l1_l2"], 0.5);
    let f = |v: &Value, k: &str| v[k].as_f64().unwrap();
    // One epoch on 2,000 images reaches about 0.77; 2:4 SparseGPT keeps most of it, and a
    // recovery epoch with frozen masks gains.
    assert!(
        f(&l[0], "acc") > 0.7 && f(s, "acc") > f(&l[0], "acc") - 0.05,
        "{l:?}"
    );
    assert!(f(s, "acc_recovered") > f(s, "acc"), "{l:?}");
    for file in ["prune.md", "prune.png"] {
        assert!(out.join(file).is_file(), "{file}");
    }
    // PyTorch's dense classifier from .npy files ([out, in]): a wrong shape is one line.
    let weights = dir.join("weights");
    std::fs::create_dir_all(&weights).unwrap();
    for (name, shape) in [
        ("l1.weight", vec![512, 784]),
        ("l1.bias", vec![512]),
        ("l2.weight", vec![256, 512]),
        ("l2.bias", vec![256]),
        ("l3.weight", vec![10, 256]),
        ("l3.bias", vec![10]),
    ] {
        let n: usize = shape.iter().product();
        let values: Vec<f32> = (0..n)
            .map(|i| ((i * 7919) % 1000) as f32 / 1e4 - 0.05)
            .collect();
        sparse_autoencoders::data::write_npy_f32(
            weights.join(format!("{name}.npy")),
            &shape,
            &values,
        )
        .unwrap();
    }
    let from_torch = dir.join("torch");
    run(prune()
        .args(SMALL)
        .args([
            "--method",
            "magnitude",
            "--sparsity",
            "0.7",
            "--ft-epochs",
            "0",
            "--weights",
        ])
        .arg(&weights)
        .arg("--out")
        .arg(&from_torch));
    let l = lines(&from_torch);
    assert!((f(&l[1], "sparsity_l1_l2") - 0.7).abs() < 1e-3, "{l:?}");
    assert!(
        l[1].get("acc_recovered").is_none(),
        "no recovery with --ft-epochs 0"
    );
    sparse_autoencoders::data::write_npy_f32(
        weights.join("l2.weight.npy"),
        &[256, 511],
        &vec![0.0; 256 * 511],
    )
    .unwrap();
    let err = fails(
        prune()
            .args(SMALL)
            .arg("--weights")
            .arg(&weights)
            .arg("--out")
            .arg(dir.join("x")),
    );
    assert!(
        err.contains("l2.weight.npy")
            && err.contains("[256, 512]")
            && err.trim().lines().count() == 1,
        "{err}"
    );
    for (args, expect) in [
        (vec!["--method", "wanda", "--pattern", "3:2"], "n"),
        (
            vec!["--method", "wanda", "--pattern", "2:5"],
            "multiple of m = 5",
        ),
        (vec!["--method", "wanda", "--sparsity", "1.5"], "sparsity"),
        (vec!["--sparsity", "0.5"], "need --method"),
        (
            vec!["--method", "magnitude_global", "--pattern", "2:4"],
            "magnitude_global",
        ),
    ] {
        let err = fails(
            prune()
                .args(SMALL)
                .args(&args)
                .arg("--out")
                .arg(dir.join("y")),
        );
        assert!(
            err.contains(expect) && err.trim().lines().count() == 1,
            "{args:?}: {err}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
