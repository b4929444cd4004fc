//! `sae-mnist sweep`: bad flags, the frontier it writes, and the synthetic benchmark.

use super::*;

fn sweep() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sae-mnist"));
    c.args(["sweep", "--quiet"]);
    c
}

/// Bad sweep flags: one line naming the flag (or the method), a non-zero exit, no output
/// folder, and no training first (`--test-limit 0` trained 20 epochs of 4 models before
/// failing; `--test-limit 1` wrote a frontier of NaN explained variances; `--lr -1` was
/// "unexpected argument"; `--methods l1 --hidden 8` failed on topk's k, which l1 has not).
#[test]
fn every_bad_sweep_flag_gives_one_line_and_no_output() {
    let root = scratch("sweep-flags");
    let out = root.join("frontier");
    let cases: [(&[&str], &str); 12] = [
        (&["--lr", "-1"], "--lr"),
        (&["--lr", "NaN"], "--lr"),
        (&["--test-limit", "1"], "--test-limit"),
        (&["--test-limit", "0"], "--test-limit"),
        (&["--train-limit", "0"], "--train-limit"),
        (&["--epochs", "0"], "--epochs"),
        (&["--methods", "topk", "--hidden", "8"], "method topk"),
        (&["--methods", "l1,bogus"], "bogus"),
        (&["--seeds", "0"], "--seeds"),
        (&["--resample-until", "0"], "--resample-until"),
        (
            &[
                "--benchmark",
                "synthetic",
                "--trees",
                "2",
                "--hierarchy",
                "0.2",
            ],
            "tree_roots",
        ),
        (
            &["--benchmark", "synthetic", "--test-rows", "1"],
            "--test-rows",
        ),
    ];
    for (args, names) in cases {
        let start = std::time::Instant::now();
        let result = sweep().args(args).arg("--out").arg(&out).output().unwrap();
        let err = String::from_utf8_lossy(&result.stderr).into_owned();
        assert_eq!(result.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(names), "{args:?}: {err}");
        assert!(!out.exists(), "{args:?} created {}", out.display());
        // Refused before any training (a sweep's model trains for seconds).
        assert!(
            start.elapsed().as_secs() < 5,
            "{args:?} took {:?}",
            start.elapsed()
        );
    }
    // l1 does not use k: a small --hidden is fine for it.
    run(sweep()
        .args([
            "--methods",
            "l1",
            "--quick",
            "--hidden",
            "8",
            "--epochs",
            "1",
        ])
        .args(["--train-limit", "200", "--test-limit", "50", "--out"])
        .arg(&out));
    assert!(out.join("frontier.csv").is_file());
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn sweep_writes_the_frontier_and_never_overwrites_it() {
    let dir = scratch("sweep");
    let out = dir.join("frontier");
    let args = [
        "--methods",
        "l1,topk,lp-anneal",
        "--quick",
        "--epochs",
        "1",
        "--train-limit",
        "600",
        "--test-limit",
        "200",
        "--hidden",
        "32",
        "--out",
    ];
    run(sweep().args(args).arg(&out));
    let csv = std::fs::read_to_string(out.join("frontier.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("benchmark,method,knob,strength"));
    assert_eq!(lines.len(), 1 + 3 * 2, "{csv}");
    for line in &lines[1..] {
        let cols: Vec<&str> = line.split(',').collect();
        assert_eq!(cols[0], "mnist");
        let ev: f64 = cols[5].parse().unwrap();
        assert!(ev.is_finite() && ev < 1.0, "{line}");
    }
    assert!(
        lines.iter().any(|l| l.starts_with("mnist,topk,k,16,")),
        "{csv}"
    );
    check_png(&out.join("frontier.png"));
    let md = std::fs::read_to_string(out.join("frontier.md")).unwrap();
    assert!(md.contains("| lp-anneal |"), "{md}");
    // The same folder again: refused, the results untouched.
    let err = fails(sweep().args(args).arg(&out));
    assert!(
        err.contains("frontier") || err.contains(out.to_str().unwrap()),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("frontier.csv")).unwrap(),
        csv
    );
    let err = fails(
        sweep()
            .args(["--methods", "l2", "--out"])
            .arg(dir.join("x")),
    );
    assert!(err.contains("unknown method `l2`"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn synthetic_sweep_scores_against_the_true_features() {
    let dir = scratch("sweep-synthetic");
    let out = dir.join("frontier");
    run(sweep()
        .args([
            "--benchmark",
            "synthetic",
            "--methods",
            "topk",
            "--quick",
            "--epochs",
            "2",
        ])
        .args(["--features", "48", "--dim", "24", "--mean-active", "3"])
        // Two trees of 3 children, and two seeds of every point.
        .args([
            "--trees",
            "2",
            "--branching",
            "3",
            "--tree-depth",
            "1",
            "--seeds",
            "2",
        ])
        .args(["--train-rows", "2000", "--test-rows", "500", "--out"])
        .arg(&out));
    let csv = std::fs::read_to_string(out.join("frontier.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    assert_eq!(
        header[13..],
        [
            "seed_mcc",
            "seed_shared",
            "matched_mcc",
            "latent_f1",
            "train_s"
        ]
    );
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 2, "{csv}");
    let value = |r: &[&str], k: usize| -> f64 { r[k].parse().unwrap() };
    for r in rows {
        assert_eq!(r[0], "synthetic");
        let (mcc, f1) = (value(&r, 10), value(&r, 11));
        assert!(mcc > 0.3 && mcc <= 1.0, "{csv}");
        assert!(f1 > 0.0 && f1 <= 1.0, "{csv}");
        // Two seeds agree on part of their dictionaries, not all of it.
        let (seed_mcc, shared) = (value(&r, 13), value(&r, 14));
        assert!(seed_mcc > 0.2 && seed_mcc < 1.0, "{csv}");
        assert!((0.0..=1.0).contains(&shared), "{csv}");
        // As many latents as features: SynthSAEBench's MCC is ours.
        assert!((value(&r, 15) - mcc).abs() < 2e-5, "{csv}");
        let latent_f1 = value(&r, 16);
        assert!(latent_f1 > 0.0 && latent_f1 <= 1.0, "{csv}");
    }
    let md = std::fs::read_to_string(out.join("frontier.md")).unwrap();
    assert!(md.contains("seed stability"), "{md}");
    check_png(&out.join("frontier.png"));
    std::fs::remove_dir_all(&dir).ok();
}

/// The rows of `dir/frontier.csv` without their last column (the training seconds, which no
/// two runs share).
fn rows_without_seconds(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("frontier.csv"))
        .unwrap()
        .lines()
        .map(|l| l.rsplit_once(',').unwrap().0.to_string())
        .collect()
}

/// Waits until `path` exists (or the child ends, or two minutes pass).
fn wait_for(child: &mut std::process::Child, path: &Path) {
    let start = std::time::Instant::now();
    while !path.exists() && start.elapsed().as_secs() < 120 {
        if child.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// A sweep killed by SIGTERM (while it trains) or SIGKILL (while it fine-tunes) saved nothing
/// and could not resume. Now it checkpoints every epoch and `sweep --resume DIR` writes the
/// frontier.csv of an uninterrupted sweep (every column but the seconds), with the
/// hard-concrete gates' noise too; a fresh sweep into the folder, a resume with other flags
/// and a resume of a finished sweep are refused in one line.
#[test]
fn a_killed_sweep_resumes_to_the_same_frontier() {
    let dir = scratch("sweep-resume");
    let args = [
        "--methods",
        "topk,l1+finetune,l0",
        "--quick",
        "--epochs",
        "4",
        "--finetune-epochs",
        "6",
        "--train-limit",
        "4000",
        "--test-limit",
        "300",
        "--hidden",
        "64",
        "--out",
    ];
    let whole = dir.join("whole");
    run(sweep().args(args).arg(&whole));
    let reference = rows_without_seconds(&whole);
    assert_eq!(reference.len(), 1 + 6, "{reference:?}");
    assert!(!whole.join("state").exists() && !whole.join("rows.csv").exists());
    for (signal, moment) in [
        ("TERM", "state/train/epoch-2"),
        ("KILL", "state/finetune/epoch-1"),
    ] {
        let out = dir.join(signal);
        let mut child = sweep().args(args).arg(&out).spawn().unwrap();
        wait_for(&mut child, &out.join(moment));
        if signal == "KILL" {
            child.kill().unwrap();
        } else {
            let pid = child.id().to_string();
            assert!(Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success());
        }
        let status = child.wait().unwrap();
        assert!(
            !status.success(),
            "{signal}: the sweep ended before the kill"
        );
        assert!(!out.join("frontier.csv").exists(), "{signal}");
        let err = fails(sweep().args(args).arg(&out));
        assert!(err.contains("--resume"), "{err}");
        let err = fails(sweep().arg("--resume").arg(&out).args(["--epochs", "5"]));
        assert!(err.contains("--epochs cannot be given"), "{err}");
        // Resumed from the checkpoint, not trained again (the progress lines say so).
        let resumed = run(Command::new(env!("CARGO_BIN_EXE_sae-mnist"))
            .args(["sweep", "--resume"])
            .arg(&out));
        let said = String::from_utf8_lossy(&resumed.stdout);
        let expected = match signal {
            "TERM" => "mnist: resumed after epoch",
            _ => "(resumed: 4 rows kept)",
        };
        assert!(said.contains(expected), "{signal}: {said}");
        assert_eq!(rows_without_seconds(&out), reference, "{signal}");
        assert!(!out.join("state").exists() && !out.join("rows.csv").exists());
        let err = fails(sweep().arg("--resume").arg(&out));
        assert!(err.contains("finished sweep"), "{err}");
    }
    let err = fails(sweep().arg("--resume").arg(dir.join("none")));
    assert!(err.contains("nothing to resume"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}
