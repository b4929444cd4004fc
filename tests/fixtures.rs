//! Reference-fixture runner: checks every case of every `tests/fixtures/*.json` (and of every
//! `*.json` in `$SPARSE_LOSSES_EXTRA_FIXTURES`, when set) against this crate, value and
//! gradient, within SPEC rule 5's tolerances, on every backend compiled in:
//! Flex and NdArray always, wgpu with the `wgpu` feature.
//!
//! `harness = false`: it prints one line per penalty family and backend, then
//! `N passed, N failed`, and exits non-zero when anything failed. A missing wgpu adapter is a
//! skip, unless `SPARSE_LOSSES_REQUIRE_WGPU=1`, which makes it a failure.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use burn::prelude::*;
use burn::tensor::TensorData;
use serde_json::Value;
use sparse_losses::prelude::*;

/// Value: relative error (SPEC rule 5).
const VALUE_RTOL: f64 = 1e-4;
/// Gradient: per element, relative to the largest |reference| entry.
const GRAD_RTOL: f64 = 1e-3;
/// Absolute tolerance where the reference is exactly zero.
const ZERO_ATOL: f64 = 1e-6;

struct Backend {
    name: &'static str,
    device: Device,
}

/// One fixture file, parsed.
struct FixtureFile {
    path: PathBuf,
    family: String,
    cases: Vec<Value>,
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
    let require_wgpu = std::env::var("SPARSE_LOSSES_REQUIRE_WGPU").is_ok_and(|v| v == "1");
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

#[cfg(feature = "wgpu")]
fn wgpu_device() -> Result<Device, String> {
    // Adapter discovery can panic inside wgpu on some systems; treat that as "no adapter".
    let found = std::panic::catch_unwind(|| Device::wgpu_options().init());
    match found {
        Ok(Ok(device)) => {
            // A first tiny op proves the adapter really runs kernels.
            let probe = std::panic::catch_unwind(|| {
                Tensor::<1>::from_floats([1.0, 2.0], &device)
                    .sum()
                    .into_scalar::<f32>()
            });
            match probe {
                Ok(v) if v == 3.0 => Ok(device),
                Ok(v) => Err(format!("the adapter computed 1 + 2 = {v}")),
                Err(_) => Err("the adapter panicked on a first kernel".to_string()),
            }
        }
        Ok(Err(e)) => Err(format!("no wgpu adapter: {e}")),
        Err(_) => Err("no wgpu adapter (wgpu panicked while looking for one)".to_string()),
    }
}

#[cfg(not(feature = "wgpu"))]
fn wgpu_device() -> Result<Device, String> {
    Err("built without the `wgpu` feature (cargo test --features wgpu)".to_string())
}

fn load_dir(dir: &Path) -> Result<Vec<FixtureFile>, String> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read fixture folder {}: {e}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|ext| ext == "json"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(format!("no *.json fixture in {}", dir.display()));
    }
    paths.into_iter().map(|p| load_file(&p)).collect()
}

fn load_file(path: &Path) -> Result<FixtureFile, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let json: Value = serde_json::from_str(&text)
        .map_err(|e| format!("{}: not valid JSON: {e}", path.display()))?;
    let family = json["penalty"]
        .as_str()
        .ok_or_else(|| format!("{}: no \"penalty\" field", path.display()))?
        .to_string();
    let cases = json["cases"]
        .as_array()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| format!("{}: no \"cases\" list, or an empty one", path.display()))?
        .clone();
    Ok(FixtureFile {
        path: path.to_path_buf(),
        family,
        cases,
    })
}

/// Checks one case; `Err` explains the first mismatch.
fn check_case(family: &str, case: &Value, device: &Device) -> Result<(), String> {
    if !PenaltyConfig::NAMES.contains(&family) {
        return Err(format!(
            "penalty family `{family}` is not implemented by sparse-losses (it implements {})",
            PenaltyConfig::NAMES.join(", ")
        ));
    }
    let config = PenaltyConfig::from_json(family, &case["config"]).map_err(|e| e.to_string())?;
    let penalty = config.init().map_err(|e| format!("init: {e}"))?;
    let (shape, data) = tensor_field(case, "input")?;
    let (grad_shape, grad_ref) = tensor_field(case, "grad")?;
    if grad_shape != shape {
        return Err(format!(
            "grad shape {grad_shape:?} != input shape {shape:?}"
        ));
    }
    let value_ref = case["value"].as_f64().ok_or("no numeric \"value\"")?;
    let (value, grad) = match shape.len() {
        1 => evaluate::<1>(&penalty, &shape, &data, device),
        2 => evaluate::<2>(&penalty, &shape, &data, device),
        3 => evaluate::<3>(&penalty, &shape, &data, device),
        4 => evaluate::<4>(&penalty, &shape, &data, device),
        5 => evaluate::<5>(&penalty, &shape, &data, device),
        6 => evaluate::<6>(&penalty, &shape, &data, device),
        r => Err(format!("rank {r} is not supported by the runner (1 to 6)")),
    }?;
    compare_value(value, value_ref)?;
    compare_grad(&grad, &grad_ref)
}

fn tensor_field(case: &Value, key: &str) -> Result<(Vec<usize>, Vec<f64>), String> {
    let t = &case[key];
    let shape: Vec<usize> = t["shape"]
        .as_array()
        .ok_or_else(|| format!("`{key}` has no shape"))?
        .iter()
        .map(|d| d.as_u64().map(|d| d as usize))
        .collect::<Option<_>>()
        .ok_or_else(|| format!("`{key}` has a bad shape"))?;
    let data: Vec<f64> = t["data"]
        .as_array()
        .ok_or_else(|| format!("`{key}` has no data"))?
        .iter()
        .map(Value::as_f64)
        .collect::<Option<_>>()
        .ok_or_else(|| format!("`{key}` has non-numeric data"))?;
    if shape.iter().product::<usize>() != data.len() {
        return Err(format!(
            "`{key}`: shape {shape:?} does not hold {} numbers",
            data.len()
        ));
    }
    Ok((shape, data))
}

/// Value and gradient of the penalty at `data` (as float32), on `device`.
fn evaluate<const D: usize>(
    penalty: &AnyPenalty,
    shape: &[usize],
    data: &[f64],
    device: &Device,
) -> Result<(f64, Vec<f64>), String> {
    let dims: [usize; D] = shape.try_into().map_err(|_| "rank mismatch".to_string())?;
    let values: Vec<f32> = data.iter().map(|&v| v as f32).collect();
    let x = Tensor::<D>::from_data(TensorData::new(values, dims), device).require_grad();
    let out = penalty.forward(x.clone()).map_err(|e| e.to_string())?;
    if out.dims() != [1] {
        return Err(format!("result has shape {:?}, expected [1]", out.dims()));
    }
    let value: f32 = out.clone().into_scalar();
    let grads = out.backward();
    let grad = x.grad(&grads).ok_or("no gradient reached the input")?;
    let grad: Vec<f32> = grad
        .into_data()
        .try_into_vec::<f32>()
        .map_err(|e| format!("reading the gradient: {e:?}"))?;
    Ok((value as f64, grad.into_iter().map(f64::from).collect()))
}

fn compare_value(got: f64, want: f64) -> Result<(), String> {
    let tol = if want == 0.0 {
        ZERO_ATOL
    } else {
        VALUE_RTOL * want.abs()
    };
    if (got - want).abs() <= tol {
        Ok(())
    } else {
        Err(format!(
            "value {got:e} != reference {want:e} (error {:.2e}, tolerance {tol:.1e})",
            (got - want).abs()
        ))
    }
}

fn compare_grad(got: &[f64], want: &[f64]) -> Result<(), String> {
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let tol = if scale == 0.0 {
        ZERO_ATOL
    } else {
        GRAD_RTOL * scale
    };
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        if g.is_nan() || (g - w).abs() > tol {
            return Err(format!(
                "grad[{i}] = {g:e} != reference {w:e} (tolerance {tol:.1e})"
            ));
        }
    }
    Ok(())
}
