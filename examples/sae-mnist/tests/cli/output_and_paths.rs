//! Issue 20's defects in the command line: a CPU run resumed without a GPU, a closed or full
//! stdout, paths that are not UTF-8
//! or too long, `FILE.safetensors:NAME` against a file that exists, test splits of one row,
//! a batch larger than the data, flags that apply to nothing, a finished run without its
//! checkpoints, an unknown field in `settings.json`. Each test failed before its fix.

use std::os::unix::ffi::OsStringExt;
use std::process::Stdio;

use super::*;

fn tiny(cmd: &mut Command) -> &mut Command {
    cmd.args([
        "--epochs",
        "1",
        "--train-limit",
        "300",
        "--test-limit",
        "100",
        "--hidden",
        "16",
        "--k",
        "4",
        "--batch-size",
        "100",
    ])
}

/// `sae-mnist … | head -1` panicked (exit 101) at the first line after the pipe closed, and
/// `> /dev/full` left a folder without results: output is a convenience, the run goes on.
#[test]
fn a_closed_or_full_stdout_does_not_stop_the_run() {
    let dir = scratch("stdout");
    let out = dir.join("closed");
    // Not --quiet: the run prints a line per epoch and a summary.
    let mut child = tiny(&mut Command::new(env!("CARGO_BIN_EXE_sae-mnist")))
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    check_outputs(&out, 1, "flex");
    if Path::new("/dev/full").exists() {
        let out = dir.join("full");
        let status = tiny(&mut Command::new(env!("CARGO_BIN_EXE_sae-mnist")))
            .arg("--out")
            .arg(&out)
            .stdout(std::fs::File::create("/dev/full").unwrap())
            .status()
            .unwrap();
        assert!(status.success(), "{status}");
        check_outputs(&out, 1, "flex");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A non-UTF-8 argument panicked in `std::env::args` (exit 101): an `--out` that is not UTF-8
/// is a folder like any other; a `--data-dir` that is not UTF-8 cannot be recorded in
/// `settings.json` and is refused in one line.
#[test]
fn paths_that_are_not_utf8() {
    let dir = scratch("utf8");
    let odd = |name: &[u8]| {
        let mut bytes = dir.as_os_str().to_owned().into_vec();
        bytes.push(b'/');
        bytes.extend_from_slice(name);
        PathBuf::from(std::ffi::OsString::from_vec(bytes))
    };
    let out = odd(b"out\xfe");
    run(tiny(&mut bin()).arg("--out").arg(&out));
    check_outputs(&out, 1, "flex");
    let data = odd(b"data\xfe");
    std::fs::create_dir_all(&data).unwrap();
    let err = fails(
        tiny(&mut bin())
            .arg("--data-dir")
            .arg(&data)
            .arg("--out")
            .arg(dir.join("x")),
    );
    assert!(
        err.contains("not UTF-8") && err.trim().lines().count() == 1,
        "{err}"
    );
    assert!(!dir.join("x").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A 300-byte folder name made burn-train's logger panic ("File name too long"); so did a
/// 4,070-byte path.
#[test]
fn an_out_path_too_long_is_refused_up_front() {
    let dir = scratch("long");
    let name = "x".repeat(300);
    let err = fails(tiny(&mut bin()).arg("--out").arg(dir.join(&name)));
    assert!(
        err.contains("300 bytes long; a file system allows 255"),
        "{err}"
    );
    let deep: PathBuf = (0..20).map(|_| "y".repeat(200)).collect();
    let err = fails(tiny(&mut bin()).arg("--out").arg(dir.join(deep)));
    assert!(
        err.contains("--out: the path is") && err.trim().lines().count() == 1,
        "{err}"
    );
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--data weird/a.safetensors:b/ok.npy` was read as the tensor `b/ok.npy` of
/// `weird/a.safetensors`; a file that exists wins. A file of 10 rows had a test split of one
/// row and printed an explained variance of −58 million: the split has at least 2 rows, and
/// a file of 2 rows is refused.
#[test]
fn data_file_paths_and_test_splits() {
    let dir = scratch("data-split");
    let file = dir.join("weird/a.safetensors:b/ok.npy");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    write_npy(&file, 10, 8);
    let out = dir.join("ten");
    run(bin()
        .arg("--data")
        .arg(&file)
        .args([
            "--hidden",
            "8",
            "--k",
            "2",
            "--batch-size",
            "4",
            "--epochs",
            "1",
            "--out",
        ])
        .arg(&out));
    let m = metrics(&out);
    assert_eq!(m["test"]["rows"], 2);
    let ev = m["test"]["explained_variance"].as_f64().unwrap();
    assert!(ev.is_finite() && ev > -100.0, "{ev}");
    let two = dir.join("two.npy");
    write_npy(&two, 2, 8);
    let err = fails(
        bin()
            .arg("--data")
            .arg(&two)
            .args(["--hidden", "8", "--k", "2", "--out"])
            .arg(dir.join("x")),
    );
    assert!(err.contains("2 row(s); at least 3 are needed"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Accepted silently before: `--k` for an architecture without one, `--kl-target` without the
/// KL penalty, `--warmup-steps` (or `--warmup-fraction`) with nothing to warm up.
#[test]
fn flags_that_apply_to_nothing_are_refused() {
    let dir = scratch("apply");
    let out = dir.join("run");
    for (args, says) in [
        (
            &["--arch", "relu", "--k", "4"][..],
            "--k does not apply to --arch relu",
        ),
        (&["--kl-target", "0.1"][..], "--kl-target does not apply"),
        (&["--warmup-steps", "10"][..], "--warmup-steps warms up"),
        (
            &["--warmup-fraction", "0.5"][..],
            "--warmup-fraction warms up",
        ),
    ] {
        let err = fails(bin().args(args).arg("--out").arg(&out));
        assert!(
            err.contains(says) && err.trim().lines().count() == 1,
            "{args:?}: {err}"
        );
        assert!(!out.exists(), "{args:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A finished run whose `burn/checkpoint` was deleted was retrained from scratch by `--resume`
/// and its results overwritten; it is recognised by its results now. An unknown field in
/// `settings.json` (an edit, a typo) was ignored; it is refused, naming the field.
#[test]
fn finished_runs_and_edited_settings() {
    let dir = scratch("finished");
    let out = dir.join("run");
    run(tiny(&mut bin()).arg("--out").arg(&out));
    let results = std::fs::read(out.join("metrics.json")).unwrap();
    std::fs::remove_dir_all(out.join("burn/checkpoint")).unwrap();
    let err = fails(bin().arg("--resume").arg(&out).args(["--epochs", "2"]));
    assert!(err.contains("holds the results of 1 epochs"), "{err}");
    assert_eq!(std::fs::read(out.join("metrics.json")).unwrap(), results);
    let other = dir.join("other");
    run(tiny(&mut bin()).arg("--out").arg(&other));
    let path = other.join("settings.json");
    let mut settings: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    settings["hiden"] = 32.into();
    std::fs::write(&path, serde_json::to_vec(&settings).unwrap()).unwrap();
    let err = fails(bin().arg("--resume").arg(&other).args(["--epochs", "2"]));
    assert!(err.contains("unknown field `hiden`"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--resume` of a CPU run set up wgpu while it read the optimizer's checkpoint (burn-optim
/// puts it on Burn's default device, wgpu in a build with the `wgpu` feature): with no adapter
/// it panicked (exit 101) where a fresh run worked, and with one it printed `XDG_RUNTIME_DIR`
/// errors and took 3-4× the memory.
#[test]
fn a_cpu_run_resumes_without_a_gpu() {
    let dir = scratch("no-gpu");
    let out = dir.join("run");
    run(tiny(&mut bin()).arg("--out").arg(&out));
    let result = bin()
        .arg("--resume")
        .arg(&out)
        .args(["--epochs", "2"])
        .env("VK_ICD_FILENAMES", "/nonexistent")
        .env("__EGL_VENDOR_LIBRARY_FILENAMES", "/nonexistent")
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("BURN_DEVICE")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&result.stderr);
    assert!(result.status.success(), "{err}");
    assert!(
        !err.contains("XDG_RUNTIME_DIR") && !err.contains("panicked"),
        "{err}"
    );
    check_outputs(&out, 2, "flex");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A refused `--resume D --data other.npy --new-data` (rows of another width) had already
/// rewritten `D/settings.json`, after which `--resume D` failed with any data: everything is
/// checked before anything is written.
#[test]
fn a_refused_resume_writes_nothing() {
    let dir = scratch("refused-resume");
    let (narrow, wide) = (dir.join("narrow.npy"), dir.join("wide.npy"));
    write_npy(&narrow, 100, 8);
    write_npy(&wide, 100, 16);
    let out = dir.join("run");
    let flags = [
        "--hidden",
        "8",
        "--k",
        "2",
        "--batch-size",
        "10",
        "--epochs",
        "1",
    ];
    run(bin()
        .arg("--data")
        .arg(&narrow)
        .args(flags)
        .arg("--out")
        .arg(&out));
    let settings = std::fs::read(out.join("settings.json")).unwrap();
    let err = fails(
        bin()
            .arg("--resume")
            .arg(&out)
            .arg("--data")
            .arg(&wide)
            .args(["--new-data", "--epochs", "2"]),
    );
    assert!(err.trim().lines().count() == 1, "{err}");
    assert_eq!(std::fs::read(out.join("settings.json")).unwrap(), settings);
    run(bin().arg("--resume").arg(&out).args(["--epochs", "2"]));
    assert_eq!(metrics(&out)["epochs"].as_array().unwrap().len(), 2);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Misleading messages: an unreadable `settings.json` was "no settings.json and no
/// checkpoint" though checkpoints existed; a FIFO given as `--data` was "0 bytes"; a sweep
/// `--out` that is a regular file was reported only after every model had trained.
#[test]
fn messages_name_the_real_problem() {
    let dir = scratch("messages");
    let out = dir.join("run");
    run(tiny(&mut bin()).arg("--out").arg(&out));
    std::fs::remove_file(out.join("settings.json")).unwrap();
    std::fs::create_dir(out.join("settings.json")).unwrap();
    let err = fails(bin().arg("--resume").arg(&out).args(["--epochs", "2"]));
    assert!(
        err.contains("settings.json") && !err.contains("no settings.json"),
        "{err}"
    );
    let fifo = dir.join("rows.npy");
    let made = Command::new("mkfifo").arg(&fifo).status();
    if made.is_ok_and(|s| s.success()) {
        let err = fails(
            bin()
                .arg("--data")
                .arg(&fifo)
                .arg("--out")
                .arg(dir.join("x")),
        );
        assert!(err.contains("not a regular file"), "{err}");
    }
    let file = dir.join("file");
    std::fs::write(&file, b"x").unwrap();
    let started = std::time::Instant::now();
    let err = fails(
        Command::new(env!("CARGO_BIN_EXE_sae-mnist"))
            .args([
                "sweep",
                "--quiet",
                "--methods",
                "l1",
                "--epochs",
                "1",
                "--out",
            ])
            .arg(&file),
    );
    assert!(err.contains("is a file, not a folder"), "{err}");
    assert!(started.elapsed().as_secs() < 20, "{:?}", started.elapsed());
    assert_eq!(std::fs::read(&file).unwrap(), b"x");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Two runs on one `--out` both exited 0 and left the settings of one, the checkpoints of the
/// other and an interleaved `epochs.jsonl`. A run holds an advisory lock on its folder; a
/// second writer (a fresh run or a resume) is refused in one line and writes nothing; the OS
/// releases the lock when the holder ends, however it ends.
#[test]
fn one_writer_per_run_folder() {
    let dir = scratch("lock");
    let out = dir.join("run");
    run(tiny(&mut bin()).arg("--out").arg(&out));
    let before: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    let held = std::fs::File::open(out.join(".lock")).unwrap();
    held.lock().unwrap();
    let err = fails(bin().arg("--resume").arg(&out).args(["--epochs", "2"]));
    assert!(err.contains("is in use by another sae-mnist run"), "{err}");
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let other = std::fs::File::create(empty.join(".lock")).unwrap();
    other.lock().unwrap();
    let err = fails(tiny(&mut bin()).arg("--out").arg(&empty));
    assert!(err.contains("is in use by another sae-mnist run"), "{err}");
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 1);
    let after: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(before, after);
    drop(held);
    run(bin().arg("--resume").arg(&out).args(["--epochs", "2"]));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A `--batch-size` above the training rows was refused as needing 1,895 GiB: it is capped at
/// the rows, with a note, and saved so.
#[test]
fn a_batch_larger_than_the_data_is_capped() {
    let dir = scratch("batch");
    let out = dir.join("run");
    let result = run(bin()
        .args([
            "--train-limit",
            "50",
            "--test-limit",
            "20",
            "--batch-size",
            "100000",
        ])
        .args(["--hidden", "16", "--k", "4", "--epochs", "1", "--out"])
        .arg(&out));
    let err = String::from_utf8_lossy(&result.stderr);
    assert!(
        err.contains("--batch-size 100000 is larger than the 50 training rows; using 50"),
        "{err}"
    );
    assert_eq!(metrics(&out)["settings"]["batch_size"], 50);
    let _ = std::fs::remove_dir_all(&dir);
}

/// With line 2 of `burn/epochs.jsonl` corrupt and the last checkpoint lost (a kill), the
/// resumed history was `[1, 3, 3]`: it is joined by epoch number now (the missing epoch from
/// `history.json`), and the skipped line is named.
#[test]
fn the_epoch_history_is_joined_by_epoch() {
    let dir = scratch("history");
    let out = dir.join("run");
    run(bin()
        .args([
            "--train-limit",
            "300",
            "--test-limit",
            "100",
            "--hidden",
            "16",
            "--k",
            "4",
        ])
        .args(["--batch-size", "100", "--epochs", "3", "--out"])
        .arg(&out));
    std::fs::remove_file(out.join("metrics.json")).unwrap();
    for kind in ["model", "optim", "scheduler"] {
        std::fs::remove_file(out.join(format!("burn/checkpoint/{kind}-3.bpk"))).unwrap();
    }
    let path = out.join("burn/epochs.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines[1] = "{\"epoch\": 2, \"lo".into();
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let result = run(bin().arg("--resume").arg(&out).args(["--epochs", "3"]));
    let err = String::from_utf8_lossy(&result.stderr);
    assert!(
        err.contains("line 2 of") && err.contains("epochs.jsonl"),
        "{err}"
    );
    let epochs: Vec<u64> = metrics(&out)["epochs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["epoch"].as_u64().unwrap())
        .collect();
    assert_eq!(epochs, [1, 2, 3]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A kill while burn-train wrote a checkpoint left `model-N.bpk.PID-K.tmp`, which `--resume`
/// never removed: the resumed run removes them.
#[test]
fn a_resume_removes_the_temporaries_of_a_kill() {
    let dir = scratch("tmp-files");
    let out = dir.join("run");
    run(tiny(&mut bin()).arg("--out").arg(&out));
    let stale = out.join("burn/checkpoint/model-2.bpk.4242-1.tmp");
    std::fs::write(&stale, b"half a record").unwrap();
    run(bin().arg("--resume").arg(&out).args(["--epochs", "2"]));
    assert!(!stale.exists());
    check_outputs(&out, 2, "flex");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `sweep --plot-only` looped forever on a CSV with an L0 of 1e-320 (the axis tick underflowed
/// to 0) and read `/dev/zero` until memory ran out: the axis code is total and the reader
/// bounded.
#[test]
fn plot_only_ends_on_any_csv() {
    let dir = scratch("plot-only");
    let csv = dir.join("frontier.csv");
    std::fs::write(
        &csv,
        "benchmark,method,knob,strength,epochs,ev,l0,dead,gamma,mse,mcc,f1,magnitude_ratio,train_s\n\
         mnist,topk,k,8,1,0.5,1e-320,0,1,0.1,,,,1.0\n\
         mnist,topk,k,16,1,0.6,16,0,1,0.1,,,,1.0\n",
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sae-mnist"))
        .args(["sweep", "--quiet", "--plot-only"])
        .arg(&csv)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed().as_secs() > 60 {
            let _ = child.kill();
            panic!("--plot-only did not end in 60 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(child.wait().unwrap().success());
    check_png(&dir.join("frontier.png"));
    if Path::new("/dev/zero").exists() {
        let err = fails(
            Command::new(env!("CARGO_BIN_EXE_sae-mnist"))
                .args(["sweep", "--quiet", "--plot-only", "/dev/zero", "--out"])
                .arg(dir.join("z")),
        );
        assert!(err.contains("more than 16 MiB"), "{err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The memory check read only `MemAvailable`: under `prlimit --as=3000000000` a model of
/// 300,000 latents aborted (exit 134) and left `settings.json` and `burn/`, after which the
/// folder was refused as holding a run. The address-space limit (and a cgroup's) counts now:
/// refused before any output.
#[test]
fn the_memory_check_counts_the_process_limits() {
    if Command::new("prlimit").arg("--version").output().is_err() {
        return; // util-linux's prlimit is not installed: nothing to limit with.
    }
    let dir = scratch("rlimit");
    let out = dir.join("run");
    let result = Command::new("prlimit")
        .arg("--as=3000000000")
        .arg(env!("CARGO_BIN_EXE_sae-mnist"))
        .args([
            "--quiet",
            "--hidden",
            "300000",
            "--batch-size",
            "64",
            "--epochs",
            "1",
        ])
        .args(["--train-limit", "500", "--test-limit", "100", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(1), "{err}");
    assert!(
        err.contains("would need about") && err.trim().lines().count() == 1,
        "{err}"
    );
    assert!(!out.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The sweep had no memory check: `--train-rows 10000000000` aborted the process ("memory
/// allocation of 80000000008 bytes failed", exit 134), and so did models that together do not
/// fit. Both are refused in one line before anything is allocated.
#[test]
fn the_sweep_checks_memory() {
    let dir = scratch("sweep-memory");
    let err = fails(
        Command::new(env!("CARGO_BIN_EXE_sae-mnist"))
            .args([
                "sweep",
                "--quiet",
                "--benchmark",
                "synthetic",
                "--methods",
                "topk",
            ])
            .args(["--train-rows", "10000000000", "--out"])
            .arg(dir.join("rows")),
    );
    assert!(err.contains("the synthetic data would need about"), "{err}");
    let err = fails(
        Command::new(env!("CARGO_BIN_EXE_sae-mnist"))
            .args([
                "sweep",
                "--quiet",
                "--methods",
                "topk",
                "--hidden",
                "20000000",
            ])
            .args(["--train-limit", "300", "--test-limit", "100", "--out"])
            .arg(dir.join("models")),
    );
    assert!(
        err.contains("would need about") && err.trim().lines().count() == 1,
        "{err}"
    );
    assert!(!dir.join("rows").exists() && !dir.join("models").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The names of the files under `dir`, recursively, relative to it.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap();
                out.push(rel.to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

/// Checkpoint housekeeping: burn-train's default kept the checkpoint of the best validation
/// loss besides the last two (a stale `model-1090.bpk` after 1,500 epochs), and its metric
/// logger wrote about 11 files an epoch. Now a run keeps the last two checkpoints (an older
/// one left in the folder goes at the end of the run) and one metric log.
#[test]
fn a_run_keeps_two_checkpoints_and_one_metric_log() {
    let dir = scratch("housekeeping");
    let out = dir.join("run");
    let mut three = bin();
    three.args([
        "--train-limit",
        "300",
        "--test-limit",
        "100",
        "--hidden",
        "16",
    ]);
    three.args(["--k", "4", "--batch-size", "100", "--epochs", "3", "--out"]);
    run(three.arg(&out));
    let burn = out.join("burn");
    let files = files_under(&burn);
    let expected: Vec<String> = [
        "checkpoint/model-2.bpk",
        "checkpoint/model-3.bpk",
        "checkpoint/optim-2.bpk",
        "checkpoint/optim-3.bpk",
        "checkpoint/scheduler-2.bpk",
        "checkpoint/scheduler-3.bpk",
        "epochs.jsonl",
        "metrics.jsonl",
    ]
    .map(String::from)
    .to_vec();
    assert_eq!(files, expected);
    let log = std::fs::read_to_string(burn.join("metrics.jsonl")).unwrap();
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 6, "{log}");
    let last = &lines[5];
    assert_eq!(
        (last["epoch"].as_u64(), last["split"].as_str()),
        (Some(3), Some("valid"))
    );
    let ev = last["metrics"]["Explained variance"].as_f64().unwrap();
    let m = metrics(&out);
    assert!(ev > 0.0 && ev <= 1.0, "{last}; {m}");
    // A checkpoint an earlier version kept (its best epoch) goes when the run ends.
    for kind in ["model", "optim", "scheduler"] {
        let ck = burn.join("checkpoint");
        std::fs::copy(
            ck.join(format!("{kind}-3.bpk")),
            ck.join(format!("{kind}-1.bpk")),
        )
        .unwrap();
    }
    run(bin().arg("--resume").arg(&out).args(["--epochs", "5"]));
    let left: Vec<String> = files_under(&burn.join("checkpoint"));
    assert_eq!(
        left,
        [
            "model-4.bpk",
            "model-5.bpk",
            "optim-4.bpk",
            "optim-5.bpk",
            "scheduler-4.bpk",
            "scheduler-5.bpk"
        ]
    );
    assert_eq!(
        std::fs::read_to_string(burn.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .count(),
        10
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A fresh run that failed after making its folder left it behind (with `settings.json` or
/// `.lock`), and the next run there was refused as "already holds a run". Now a run that fails
/// before its first checkpoint removes what it made; what was in the folder before stays.
#[test]
fn a_failed_start_leaves_nothing_behind() {
    let dir = scratch("failed-start");
    let out = dir.join("run");
    std::fs::create_dir_all(out.join("settings.json.tmp")).unwrap();
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    let err = fails(tiny(&mut bin()).arg("--out").arg(&out));
    assert!(err.contains("settings.json.tmp"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert_eq!(files_under(&out), ["notes.txt"]);
    assert!(out.join("settings.json.tmp").is_dir());
    std::fs::remove_dir(out.join("settings.json.tmp")).unwrap();
    run(tiny(&mut bin()).arg("--out").arg(&out));
    check_outputs(&out, 1, "flex");
    let _ = std::fs::remove_dir_all(&dir);
}
