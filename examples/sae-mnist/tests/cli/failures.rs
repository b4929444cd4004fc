//! Runs that cannot go on: a diverging run, undefined metrics, an output that cannot be
//! written, a full or read-only disk, unreadable data, data of an unusable scale.

use super::*;

/// A diverging run stops with one line naming the epoch and step, and its folder says so:
/// `metrics.json` has `"status": "diverged"`, no pictures of a finished run.
#[test]
fn a_diverging_run_stops_and_says_where() {
    let root = scratch("diverged");
    let out = root.join("run");
    let err = fails(
        small(&mut bin())
            .args(["--lr", "1e30", "--epochs", "3", "--out"])
            .arg(&out),
    );
    assert!(err.contains("step") && err.contains("epoch 1"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let m = metrics(&out);
    assert_eq!(m["status"], "diverged");
    assert_eq!(m["epoch"], 1);
    assert!(!out.join("atoms.png").exists());
    let _ = std::fs::remove_dir_all(&root);
}

/// Undefined test metrics are not silent: a warning line each, and `warnings` in
/// `metrics.json`; a test split too small for them is refused.
#[test]
fn undefined_metrics_are_reported() {
    let root = scratch("undefined");
    let out = root.join("run");
    // A JumpReLU threshold above every pre-activation: no latent ever fires.
    let done = run(small(&mut bin())
        .args([
            "--arch",
            "jumprelu",
            "--threshold-init",
            "1000",
            "--epochs",
            "1",
            "--out",
        ])
        .arg(&out));
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert!(
        stderr.contains("warning: shrinkage γ is undefined"),
        "{stderr}"
    );
    let m = metrics(&out);
    assert!(m["test"]["gamma"].is_null());
    assert_eq!(m["warnings"].as_array().unwrap().len(), 1, "{m}");
    let err = fails(
        bin()
            .args(["--test-limit", "1", "--out"])
            .arg(root.join("one")),
    );
    assert!(err.contains("--test-limit"), "{err}");
    let _ = std::fs::remove_dir_all(&root);
}

/// Every `.tmp` file under `dir`.
fn tmp_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with(".tmp") {
                found.push(p);
            }
        }
    }
    found
}

/// An output that cannot be written (here `atoms.png` is a folder) fails in one line, leaves
/// no temporary file and no `metrics.json` (written last, so that it marks a finished run),
/// and `--resume` then writes the outputs from the last checkpoint.
#[test]
fn a_failed_output_leaves_no_finished_run() {
    let root = scratch("failed-output");
    let out = root.join("run");
    std::fs::create_dir_all(out.join("atoms.png")).unwrap();
    let err = fails(small(&mut bin()).args(["--epochs", "1", "--out"]).arg(&out));
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("atoms.png"), "{err}");
    assert!(!out.join("metrics.json").exists());
    assert!(tmp_files(&out).is_empty(), "{:?}", tmp_files(&out));
    std::fs::remove_dir_all(out.join("atoms.png")).unwrap();
    run(bin().arg("--resume").arg(&out));
    check_outputs_of(&out, 1, "flex", true);
    let _ = std::fs::remove_dir_all(&root);
}

/// A full or read-only file system under `--out` (a small tmpfs; skipped where this process
/// may not mount one): one line, exit 1, no panic, no temporary files.
#[test]
fn a_full_or_read_only_disk_fails_cleanly() {
    let root = scratch("tmpfs");
    for (options, expect) in [("size=48k", "No space left"), ("size=1m,ro", "Read-only")] {
        let mnt = root.join(options.replace([',', '='], "-"));
        std::fs::create_dir_all(&mnt).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(&mnt)
            .output()
            .is_ok_and(|o| o.status.success());
        if !mounted {
            eprintln!("skipped: cannot mount a tmpfs here");
            return;
        }
        let out = mnt.join("run");
        let result = small(&mut bin())
            .args(["--epochs", "1", "--out"])
            .arg(&out)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&result.stderr).into_owned();
        let leftovers = tmp_files(&mnt);
        let _ = Command::new("umount").arg(&mnt).status();
        assert_eq!(result.status.code(), Some(1), "{options}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{options}: {err}");
        assert!(err.contains(expect), "{options}: {err}");
        assert!(!err.contains("panicked"), "{options}: {err}");
        assert!(leftovers.is_empty(), "{options}: {leftovers:?}");
    }
    let _ = std::fs::remove_dir_all(&root);
}

/// `sae-mnist ARGS` as a user without the right to read every file: as root (the tests run
/// as root in CI), without the capabilities that override file permissions (`setpriv`). None
/// when that is impossible here (no `setpriv`, or the dropped capabilities still read a file
/// of mode 000).
fn as_a_user(probe: &Path) -> Option<impl Fn() -> Command> {
    let root = std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        == "0";
    let wrap = move |program: &Path| {
        if root {
            let mut c = Command::new("setpriv");
            c.args([
                "--inh-caps=-all",
                "--bounding-set=-dac_override,-dac_read_search",
            ])
            .arg(program);
            c
        } else {
            Command::new(program)
        }
    };
    let denied = wrap(Path::new("/bin/cat"))
        .arg(probe)
        .output()
        .is_ok_and(|o| {
            !o.status.success() && String::from_utf8_lossy(&o.stderr).contains("ermission")
        });
    denied.then_some(move || {
        let mut c = wrap(Path::new(env!("CARGO_BIN_EXE_sae-mnist")));
        c.arg("--quiet");
        c
    })
}

/// A data file or folder the user may not read: one line naming it and "permission denied",
/// exit 1, no output folder (it was reported as a folder without the MNIST files).
#[test]
fn unreadable_data_is_named() {
    use std::os::unix::fs::PermissionsExt;
    let root = scratch("denied");
    let data = root.join("mnist");
    std::fs::create_dir_all(&data).unwrap();
    for entry in std::fs::read_dir(sae_mnist_data()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, data.join(path.file_name().unwrap())).unwrap();
    }
    let images = data.join("train-images-idx3-ubyte.gz");
    let npy = root.join("rows.npy");
    write_npy(&npy, 8, 4);
    let mode = |p: &Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m));
    mode(&npy, 0o000).unwrap();
    let Some(user) = as_a_user(&npy) else {
        eprintln!("skipped: cannot run the binary without the right to read every file here");
        return;
    };
    let out = root.join("run");
    let expect = |args: &[&std::ffi::OsStr], named: &Path| {
        let mut cmd = user();
        let result = cmd
            .args(args)
            .args(["--epochs", "1"])
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&result.stderr).into_owned();
        assert_eq!(result.status.code(), Some(1), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(
            err.contains(&format!("{}: permission denied", named.display())),
            "{err}"
        );
        assert!(!out.exists(), "{err}");
    };
    mode(&images, 0o000).unwrap();
    expect(&["--data-dir".as_ref(), data.as_os_str()], &images);
    mode(&images, 0o644).unwrap();
    // A folder that may not be searched: its files cannot even be looked up.
    mode(&data, 0o600).unwrap();
    expect(&["--data-dir".as_ref(), data.as_os_str()], &data);
    mode(&data, 0o755).unwrap();
    expect(&["--data".as_ref(), npy.as_os_str()], &npy);
    let _ = std::fs::remove_dir_all(&root);
}

/// Data whose scale float32 training cannot use (largest |x| 1e30, 1e-30, or all zeros) is
/// refused in one line before the output folder exists (1e30 diverged at step 1 with "try a
/// smaller --lr"; 1e-30 trained to a NaN explained variance).
#[test]
fn data_of_an_unusable_scale_is_refused() {
    let dir = scratch("scale");
    let out = dir.join("run");
    for (scale, expect) in [
        (1e30f32, "largest |value| is"),
        (1e-30, "largest |value| is"),
        (0.0, "every value of the training data is 0"),
    ] {
        let file = dir.join(format!("rows-{scale:e}.npy"));
        write_npy_scaled(&file, 200, 16, scale);
        let err = fails(
            bin()
                .arg("--data")
                .arg(&file)
                .args(["--hidden", "16", "--k", "4"])
                .arg("--out")
                .arg(&out),
        );
        assert_eq!(err.trim().lines().count(), 1, "{scale:e}: {err}");
        assert!(
            err.contains(expect) && err.contains(&*file.to_string_lossy()),
            "{scale:e}: {err}"
        );
        assert!(!out.exists(), "{scale:e}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
