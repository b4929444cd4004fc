//! Reference-fixture runner: checks every case of every
//! `crates/sparse-losses/tests/fixtures/*.json` (and of every `*.json` in
//! `$SPARSE_LOSSES_EXTRA_FIXTURES`, when set) against this crate, value and gradient, within
//! SPEC rule 5's tolerances, on every backend compiled in: Flex and NdArray always, wgpu with
//! the `wgpu` feature.
//!
//! `harness = false`: it prints one line per penalty family and backend, then
//! `N passed, N failed`, and exits non-zero when anything failed. A missing wgpu adapter is a
//! skip, unless `SPARSE_LOSSES_REQUIRE_WGPU=1`, which makes it a failure.

mod common;
mod runner;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use burn::prelude::*;
use runner::{check_case, implemented, load_dir};

struct Backend {
    name: &'static str,
    device: Device,
}

#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
    failures: Vec<String>,
}

fn main() -> ExitCode {
    let mut tally = Tally::default();
    let backends = backends(&mut tally);

    let mut dirs = vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")];
    if let Some(extra) = std::env::var_os("SPARSE_LOSSES_EXTRA_FIXTURES") {
        dirs.push(PathBuf::from(extra));
    }
    let mut files = Vec::new();
    for dir in &dirs {
        match load_dir(dir) {
            Ok(mut found) => {
                println!("fixtures: {} file(s) in {}", found.len(), dir.display());
                files.append(&mut found);
            }
            Err(message) => {
                tally.failed += 1;
                tally.failures.push(message);
            }
        }
    }

    // (family, backend) -> (cases, failed)
    let mut lines: BTreeMap<(String, &'static str), (usize, usize)> = BTreeMap::new();
    for file in &files {
        for backend in &backends {
            let line = lines
                .entry((file.family.clone(), backend.name))
                .or_default();
            if let Err(message) = implemented(&file.family) {
                // Every case of the file fails, with one message.
                line.0 += file.cases.len();
                line.1 += file.cases.len();
                tally.failed += file.cases.len();
                tally.failures.push(format!(
                    "{} [{}] all {} cases: {message}",
                    file.path.display(),
                    backend.name,
                    file.cases.len()
                ));
                continue;
            }
            for (index, case) in file.cases.iter().enumerate() {
                let id = case["id"]
                    .as_str()
                    .map_or_else(|| format!("#{index}"), str::to_string);
                line.0 += 1;
                match check_case(&file.family, case, &backend.device) {
                    Ok(()) => tally.passed += 1,
                    Err(message) => {
                        line.1 += 1;
                        tally.failed += 1;
                        tally.failures.push(format!(
                            "{} [{}] {}: {message}",
                            file.path.display(),
                            backend.name,
                            id
                        ));
                    }
                }
            }
        }
    }

    for ((family, backend), (cases, failed)) in &lines {
        let status = if *failed == 0 {
            "ok".to_string()
        } else {
            format!("{failed} FAILED")
        };
        println!("{family:<16} {backend:<8} {cases:>3} cases  {status}");
    }
    for failure in &tally.failures {
        println!("FAIL {failure}");
    }
    println!("{} passed, {} failed", tally.passed, tally.failed);
    if tally.failed == 0 && tally.passed > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The autodiff devices to test on.
fn backends(tally: &mut Tally) -> Vec<Backend> {
    #[allow(deprecated)]
    let ndarray = Device::ndarray();
    let mut list = vec![
        Backend {
            name: "flex",
            device: Device::flex().autodiff(),
        },
        Backend {
            name: "ndarray",
            device: ndarray.autodiff(),
        },
    ];
    let require_wgpu = common::wgpu_required();
    match wgpu_device() {
        Ok(device) => list.push(Backend {
            name: "wgpu",
            device: device.autodiff(),
        }),
        Err(why) if require_wgpu => {
            tally.failed += 1;
            tally.failures.push(format!(
                "wgpu: {why} (SPARSE_LOSSES_REQUIRE_WGPU=1 makes this a failure)"
            ));
        }
        Err(why) => println!("wgpu: skipped: {why}"),
    }
    list
}

/// [`common::wgpu_device`], once a first tiny op proves the adapter really runs kernels.
fn wgpu_device() -> Result<Device, String> {
    let device = common::wgpu_device()?;
    let probe = std::panic::catch_unwind(|| {
        Tensor::<1>::from_floats([1.0, 2.0], &device)
            .sum()
            .into_scalar::<f32>()
    });
    match probe {
        Ok(3.0) => Ok(device),
        Ok(v) => Err(format!("the adapter computed 1 + 2 = {v}")),
        Err(_) => Err("the adapter panicked on a first kernel".to_string()),
    }
}
