//! Fault test: the training process is killed with SIGKILL at moments spread over a whole run
//! (so that some land while a checkpoint or an output is written), then finished with
//! `--resume` (or started again when it died before writing its settings). Every time, the
//! newest complete checkpoint loads and the run ends with the metrics and per-epoch losses of
//! an uninterrupted run.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::Value;

const ARGS: [&str; 12] = [
    "--train-limit",
    "1000",
    "--test-limit",
    "300",
    "--hidden",
    "64",
    "--batch-size",
    "128",
    "--epochs",
    "4",
    "--seed",
    "5",
];
const KILLS: usize = 24;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sae-mnist"));
    c.arg("--quiet")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

fn succeeds(cmd: &mut Command) -> bool {
    cmd.output().expect("the binary runs").status.success()
}

/// `(test metrics, per-epoch training losses)` of the finished run in `dir`.
fn results(dir: &Path) -> (Value, Vec<Value>) {
    let m: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("metrics.json")).unwrap()).unwrap();
    let losses = m["epochs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["train_loss"].clone())
        .collect();
    (m["test"].clone(), losses)
}

/// Finishes the run in `dir`: `--resume` when it wrote its settings, else a fresh start.
fn finish(dir: &Path) {
    if dir.join("metrics.json").is_file() {
        return; // It ended before the kill.
    }
    if dir.join("settings.json").is_file() {
        assert!(
            succeeds(bin().arg("--resume").arg(dir)),
            "--resume {} failed",
            dir.display()
        );
    } else {
        // Killed before its settings were written: nothing to resume, the folder is free.
        assert!(succeeds(bin().args(ARGS).arg("--out").arg(dir)));
    }
}

/// A fresh folder for a test's runs, the uninterrupted reference run in it, its results and
/// how long it took.
fn reference_run(tag: &str) -> (PathBuf, PathBuf, (Value, Vec<Value>), std::time::Duration) {
    let root = std::env::temp_dir().join(format!("sae-mnist-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let reference = root.join("reference");
    let started = Instant::now();
    assert!(succeeds(bin().args(ARGS).arg("--out").arg(&reference)));
    let whole = started.elapsed();
    let expected = results(&reference);
    (root, reference, expected, whole)
}

/// Starts the run of [`ARGS`] into `dir`.
fn start(dir: &Path) -> std::process::Child {
    bin()
        .args(ARGS)
        .arg("--out")
        .arg(dir)
        .spawn()
        .expect("the binary starts")
}

/// The files of a checkpoint, in the order burn-train writes them.
const CHECKPOINT_FILES: [&str; 3] = ["model", "optim", "scheduler"];

/// The sizes of the checkpoint files of `epoch` in the run `dir` (`None`: missing).
fn checkpoint_sizes(dir: &Path, epoch: usize) -> Vec<Option<u64>> {
    CHECKPOINT_FILES
        .iter()
        .map(|k| {
            let f = dir.join(format!("burn/checkpoint/{k}-{epoch}.bpk"));
            std::fs::metadata(f).ok().map(|m| m.len())
        })
        .collect()
}

/// The two tests run one after the other: each one's kill moments come from timing its own
/// uninterrupted run, which a second training process on these cores would skew.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn killed_runs_resume_to_the_metrics_of_an_uninterrupted_run() {
    let _serial = one_at_a_time();
    let (root, _, expected, mut whole) = reference_run("kill");
    let mut resumed = 0;
    // The kills are spread over 1.1 × an uninterrupted run's time. That time is re-measured
    // whenever a run ends before its kill (the first run, with cold caches, can take much longer
    // than the rest), and a further round of kills follows while fewer than half of them have
    // interrupted a run, up to three rounds in all.
    let mut attempts = 0;
    while attempts < KILLS || (resumed < KILLS / 2 && attempts < 3 * KILLS) {
        let i = attempts % KILLS;
        let dir = root.join(format!("kill-{attempts}"));
        let after = whole.mul_f64(1.1 * (i as f64 + 0.5) / KILLS as f64);
        let started = Instant::now();
        let mut child = start(&dir);
        let mut ended = None;
        while started.elapsed() < after {
            if child.try_wait().expect("the child can be polled").is_some() {
                ended = Some(started.elapsed());
                break;
            }
            std::thread::sleep(Duration::from_micros(500));
        }
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        if let Some(took) = ended {
            whole = took;
        }
        if !dir.join("metrics.json").is_file() && dir.join("settings.json").is_file() {
            resumed += 1;
        }
        finish(&dir);
        assert_eq!(results(&dir), expected, "kill {attempts} after {after:?}");
        let tmp = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .count();
        assert_eq!(
            tmp, 0,
            "kill {attempts}: temporary files left after the resume"
        );
        attempts += 1;
    }
    eprintln!("{resumed} of {attempts} kills interrupted a run (a run takes {whole:?})");
    // Most kills interrupted a run that then resumed (not all ended before or after).
    assert!(
        resumed >= KILLS / 2,
        "only {resumed} of {attempts} kills were resumed"
    );
    let _ = std::fs::remove_dir_all(&root);
}

/// Kills aimed at checkpoint writes: the process is killed the moment burn-train's model,
/// optimizer or scheduler file of epoch e appears (it writes them in that order, not
/// atomically), for every epoch and file; each run is finished with `--resume` to the
/// uninterrupted run's metrics. Many of these kills leave a checkpoint half written (a file cut
/// short, or a set without its later files), which `--resume` skips.
#[test]
fn kills_while_a_checkpoint_is_written_resume_to_the_same_metrics() {
    let _serial = one_at_a_time();
    let (root, reference, expected, _) = reference_run("kill-ckpt");
    // Every epoch's files have the sizes of the reference's last ones (burn-train keeps only
    // the last two epochs): a set with a file missing or short is half written.
    let full = checkpoint_sizes(&reference, 4);
    assert!(full.iter().all(Option::is_some), "{full:?}");
    let mut half_written = 0;
    let epochs = 1..=4;
    let kills = epochs.clone().count() * CHECKPOINT_FILES.len();
    for epoch in epochs {
        for kind in CHECKPOINT_FILES {
            let dir = root.join(format!("{kind}-{epoch}"));
            let mut child = start(&dir);
            let file = dir.join(format!("burn/checkpoint/{kind}-{epoch}.bpk"));
            let started = Instant::now();
            while !file.exists() && started.elapsed().as_secs() < 60 {
                if child.try_wait().expect("the child can be polled").is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_micros(100));
            }
            let _ = child.kill(); // SIGKILL
            let _ = child.wait();
            let sizes = checkpoint_sizes(&dir, epoch);
            if sizes.iter().any(Option::is_some) && sizes != full {
                half_written += 1;
            }
            finish(&dir);
            assert_eq!(
                results(&dir),
                expected,
                "killed when {kind}-{epoch}.bpk appeared"
            );
        }
    }
    eprintln!("{half_written} of {kills} kills left a checkpoint half written");
    // The point of aiming: some kills must land inside a write (8 to 11 of 12 did here).
    assert!(
        half_written >= 1,
        "no kill landed inside a checkpoint write"
    );
    let _ = std::fs::remove_dir_all(&root);
}
