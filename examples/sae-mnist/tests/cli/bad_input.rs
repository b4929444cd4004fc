//! Bad flags and settings: one line, a non-zero exit, no output folder.

use super::*;

#[test]
fn bad_input_fails_cleanly_and_keeps_results() {
    let dir = scratch("bad");
    // Invalid hyper-parameters.
    let msg = fails(bin().args(["--k", "0", "--epochs", "1"]));
    assert!(msg.contains("--k must be in 1..=256"), "{msg}");
    let msg = fails(bin().args(["--arch", "relu", "--lambda=-1"]));
    assert!(msg.contains("--lambda must be ≥ 0"), "{msg}");
    let msg = fails(bin().args(["--mask-density", "1.5"]));
    assert!(msg.contains("--mask-density"), "{msg}");
    // An unreadable data folder, and a corrupt file in one.
    let msg = fails(bin().arg("--data-dir").arg(dir.join("missing")));
    assert!(msg.contains("missing"), "{msg}");
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let bundled = sae_mnist_data();
    for f in [
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ] {
        std::fs::copy(bundled.join(f), data.join(f)).unwrap();
    }
    std::fs::write(data.join("train-images-idx3-ubyte"), [0u8, 0, 8, 3, 0, 0]).unwrap();
    let msg = fails(bin().arg("--data-dir").arg(&data));
    assert!(msg.contains("IDX header"), "{msg}");
    // A finished run is never overwritten.
    let out = dir.join("run");
    run(small(&mut bin()).args(["--epochs", "1", "--out"]).arg(&out));
    let before = std::fs::read(out.join("metrics.json")).unwrap();
    let msg = fails(small(&mut bin()).args(["--epochs", "1", "--out"]).arg(&out));
    assert!(msg.contains("already holds a run"), "{msg}");
    assert_eq!(std::fs::read(out.join("metrics.json")).unwrap(), before);
    // Resuming with a conflicting setting, or from a folder without checkpoints.
    let msg = fails(bin().args(["--hidden", "32", "--resume"]).arg(&out));
    assert!(msg.contains("--hidden cannot change"), "{msg}");
    let msg = fails(bin().arg("--resume").arg(dir.join("data")));
    assert!(msg.contains("nothing to resume"), "{msg}");
    assert_eq!(std::fs::read(out.join("metrics.json")).unwrap(), before);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A model too large for the memory (or for the config's 1 TiB limit) is refused in one line
/// before anything is written: no output folder, no panic.
#[test]
fn too_large_a_model_is_refused_before_any_output() {
    let root = scratch("too-large");
    for hidden in ["100000000", "1000000000"] {
        let out = root.join(format!("run-{hidden}"));
        let err = fails(
            bin()
                .args(["--hidden", hidden, "--k", "8", "--epochs", "1", "--out"])
                .arg(&out),
        );
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(err.contains("memory"), "{err}");
        assert!(
            !err.contains("panicked") && !err.contains("backtrace"),
            "{err}"
        );
        assert!(!out.exists(), "{} was created", out.display());
    }
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn lambda_without_a_penalty_is_refused() {
    let root = scratch("lambda");
    let out = root.join("run");
    let err = fails(
        bin()
            .args(["--arch", "topk", "--lambda", "0.5", "--out"])
            .arg(&out),
    );
    // The message names the architecture by its registry name (`topk` is an old spelling).
    assert!(err.contains("--lambda") && err.contains("top_k"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(!out.exists());
    let _ = std::fs::remove_dir_all(&root);
}

/// `--backend wgpu` where wgpu finds no adapter (the Vulkan and EGL drivers hidden): one line
/// that says so and how to get one, exit 1, and no output folder (the check comes before it).
#[cfg(feature = "wgpu")]
#[test]
fn wgpu_without_an_adapter_fails_before_any_output() {
    let root = scratch("no-adapter");
    let out = root.join("run");
    let result = small(&mut bin())
        .env("VK_ICD_FILENAMES", "/nonexistent/icd.json")
        .env("__EGL_VENDOR_LIBRARY_FILENAMES", "/nonexistent/egl.json")
        .args(["--backend", "wgpu", "--epochs", "1", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&result.stderr).into_owned();
    if result.status.success() {
        eprintln!("skipped: wgpu still found an adapter with the drivers hidden");
        return;
    }
    assert_eq!(result.status.code(), Some(1), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("no wgpu adapter"), "{err}");
    assert!(err.contains("lavapipe"), "{err}");
    assert!(!out.exists(), "{err}");
    let _ = std::fs::remove_dir_all(&root);
}

/// Every bad flag of the issue's list, through the built binary: a non-zero exit, one line
/// on stderr naming the flag or the path, no panic, and no output folder.
#[test]
fn every_bad_flag_gives_one_line_and_no_output() {
    let root = scratch("flags");
    let out = root.join("run");
    let not_a_dir = root.join("file");
    std::fs::write(&not_a_dir, b"x").unwrap();
    let empty = root.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["--hidden".into(), "0".into()], "--hidden"),
        (vec!["--k".into(), "0".into()], "--k"),
        (vec!["--k".into(), "999".into()], "--k"),
        (
            vec![
                "--arch".into(),
                "relu".into(),
                "--lambda".into(),
                "-1".into(),
            ],
            "--lambda",
        ),
        (
            vec![
                "--arch".into(),
                "relu".into(),
                "--lambda".into(),
                "NaN".into(),
            ],
            "--lambda",
        ),
        (vec!["--lr".into(), "-1".into()], "--lr"),
        (vec!["--lr".into(), "NaN".into()], "--lr"),
        (vec!["--batch-size".into(), "0".into()], "--batch-size"),
        (vec!["--backend".into(), "tpu".into()], "--backend"),
        (vec!["--penalty".into(), "l7".into()], "--penalty"),
        (vec!["--arch".into(), "cnn".into()], "--arch"),
        (vec!["--hidden".into(), "many".into()], "--hidden"),
        (vec!["--bogus".into()], "--bogus"),
        (
            vec!["--resample-every".into(), "0".into()],
            "--resample-every",
        ),
        (
            vec![
                "--arch".into(),
                "omp".into(),
                "--resample-every".into(),
                "10".into(),
            ],
            "--resample-every",
        ),
        (
            vec!["--resample-until".into(), "0.5".into()],
            "--resample-until",
        ),
        (
            vec![
                "--resample-every".into(),
                "10".into(),
                "--resample-until".into(),
                "1.5".into(),
            ],
            "--resample-until",
        ),
        (
            vec![
                "--arch".into(),
                "gated".into(),
                "--warmup-fraction".into(),
                "1.5".into(),
            ],
            "--warmup-fraction must be a fraction",
        ),
        (
            vec![
                "--arch".into(),
                "gated".into(),
                "--warmup-steps".into(),
                "10".into(),
                "--warmup-fraction".into(),
                "0.5".into(),
            ],
            "replaces --warmup-steps",
        ),
        (
            vec![
                "--data-dir".into(),
                root.join("missing").display().to_string(),
            ],
            "missing",
        ),
        (
            vec!["--data-dir".into(), not_a_dir.display().to_string()],
            "not a directory",
        ),
        (
            vec!["--data-dir".into(), empty.display().to_string()],
            "empty",
        ),
        (
            vec!["--data".into(), root.join("none.npy").display().to_string()],
            "none.npy",
        ),
        // A JSON config: not an object, a field the config lacks, a value out of range, a tag
        // that names another penalty.
        (vec!["--penalty-config".into(), "[1]".into()], "JSON object"),
        (
            vec![
                "--arch".into(),
                "relu".into(),
                "--penalty".into(),
                "scad".into(),
            ]
            .into_iter()
            .chain(["--penalty-config".into(), r#"{"a": 3.7}"#.into()])
            .collect(),
            "unknown field `a`",
        ),
        (
            vec!["--arch-config".into(), r#"{"kk": 1}"#.into()],
            "unknown field `kk`; expected one of k",
        ),
        (
            vec!["--arch".into(), "relu".into(), "--penalty-config".into()]
                .into_iter()
                .chain([r#"{"penalty": "scad", "gamma": 1.0}"#.into()])
                .collect(),
            "gamma",
        ),
        (
            vec![
                "--arch".into(),
                "relu".into(),
                "--penalty".into(),
                "log_sum".into(),
            ]
            .into_iter()
            .chain(["--penalty-config".into(), r#"{"penalty": "scad"}"#.into()])
            .collect(),
            "--penalty-config names the penalty \"scad\"",
        ),
        (
            vec![
                "--arch".into(),
                "relu".into(),
                "--penalty".into(),
                "total_variation".into(),
            ],
            "--penalty",
        ),
    ];
    for (args, names) in cases {
        let result = bin().args(&args).arg("--out").arg(&out).output().unwrap();
        let err = String::from_utf8_lossy(&result.stderr).into_owned();
        assert!(!result.status.success(), "{args:?} succeeded");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("error: "), "{args:?}: {err}");
        assert!(err.contains(names), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(!out.exists(), "{args:?} created {}", out.display());
    }
    // An --out that is a file, and a --resume folder that does not exist.
    let missing_run = root.join("missing-run");
    for (args, names) in [
        (
            ["--out", &*not_a_dir.to_string_lossy()],
            "is a file, not a folder",
        ),
        (
            ["--resume", &*missing_run.to_string_lossy()],
            "no such folder",
        ),
    ] {
        let result = bin().args(args).output().unwrap();
        let err = String::from_utf8_lossy(&result.stderr).into_owned();
        assert_eq!(result.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(names), "{args:?}: {err}");
    }
    assert_eq!(std::fs::read(&not_a_dir).unwrap(), b"x");
    assert!(!missing_run.exists());
    let _ = std::fs::remove_dir_all(&root);
}

/// A broken activation store as `--data` (a corrupt manifest, a shard cut short, a manifest
/// that lists more rows than its shard holds, a missing shard, an empty folder): one line
/// naming the file, no output folder.
#[test]
fn a_broken_store_is_one_line() {
    use sparse_autoencoders::data::{StoreConfig, StoreSource, StoreWriter};
    let root = scratch("broken-store");
    let good = root.join("good");
    let config = StoreConfig::new("x".into(), 4).with_rows_per_shard(50);
    let mut w = StoreWriter::open(&good, &config, StoreSource::default()).unwrap();
    let rows: Vec<f32> = (0..400)
        .map(|i| ((i * 13 % 17) as f32 * 0.2).sin())
        .collect();
    w.push(&rows).unwrap();
    w.finish().unwrap();
    let copy = |name: &str| {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for e in std::fs::read_dir(&good).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), dir.join(e.file_name())).unwrap();
        }
        dir
    };
    let corrupt = copy("corrupt");
    std::fs::write(corrupt.join("manifest.json"), "{not json").unwrap();
    let short = copy("short");
    let shard = short.join("shard-00000.safetensors");
    let len = std::fs::metadata(&shard).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&shard)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let lies = copy("lies");
    let text = std::fs::read_to_string(lies.join("manifest.json")).unwrap();
    std::fs::write(
        lies.join("manifest.json"),
        text.replace("\"total_rows\": 100", "\"total_rows\": 105")
            .replacen("\"rows\": 50", "\"rows\": 55", 1),
    )
    .unwrap();
    let missing = copy("missing");
    std::fs::remove_file(missing.join("shard-00001.safetensors")).unwrap();
    let empty = root.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    // The good one trains.
    run(bin()
        .arg("--data")
        .arg(&good)
        .args(["--epochs", "1", "--hidden", "8", "--k", "2", "--out"])
        .arg(root.join("out-good")));
    for (dir, expect) in [
        (&corrupt, "not a store manifest"),
        (&short, "shard-00000.safetensors"),
        (&lies, "lists 55 rows"),
        (&missing, "shard-00001.safetensors: no such file"),
        (&empty, "no manifest.json and no .npy or .safetensors files"),
    ] {
        let out = root.join("out");
        let err = fails(
            bin()
                .arg("--data")
                .arg(dir)
                .args(["--epochs", "1", "--out"])
                .arg(&out),
        );
        assert!(
            err.contains(expect) && err.trim().lines().count() == 1,
            "{err}"
        );
        assert!(!out.exists(), "{err}");
    }
    let _ = std::fs::remove_dir_all(&root);
}
