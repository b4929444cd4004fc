//! The fixture runner must catch wrong results: a runner that cannot fail proves nothing.

mod common;
mod runner;

use common::device;
use serde_json::{json, Value};

/// L1 with λ = 2 on [1, −2, 0]: value 6, gradient [2, −2, 0].
fn good_case() -> Value {
    json!({
        "id": "selftest",
        "config": {"lambda": 2.0},
        "input": {"shape": [3], "data": [1.0, -2.0, 0.0]},
        "value": 6.0,
        "grad": {"shape": [3], "data": [2.0, -2.0, 0.0]}
    })
}

#[test]
fn a_correct_case_passes() {
    runner::check_case("l1", &good_case(), &device()).unwrap();
}

#[test]
fn a_wrong_value_fails() {
    let mut case = good_case();
    case["value"] = json!(6.0 * (1.0 + 2.0 * runner::VALUE_RTOL));
    let err = runner::check_case("l1", &case, &device()).unwrap_err();
    assert!(err.contains("value"), "{err}");
}

#[test]
fn a_wrong_gradient_fails() {
    let mut case = good_case();
    case["grad"]["data"] = json!([2.0, -2.0, 0.01]);
    let err = runner::check_case("l1", &case, &device()).unwrap_err();
    assert!(err.contains("grad[2]"), "{err}");
}

#[test]
fn a_nonzero_gradient_where_the_reference_is_all_zero_fails() {
    let mut case = good_case();
    case["config"] = json!({"lambda": 0.0});
    case["value"] = json!(0.0);
    case["grad"]["data"] = json!([0.0, 0.0, 0.0]);
    runner::check_case("l1", &case, &device()).unwrap();
    case["config"] = json!({"lambda": 1e-5});
    case["value"] = json!(3e-5);
    assert!(runner::check_case("l1", &case, &device()).is_err());
}

#[test]
fn an_unknown_family_or_field_fails() {
    let err = runner::check_case("sparse_pca", &good_case(), &device()).unwrap_err();
    assert!(err.contains("`sparse_pca` is not implemented"), "{err}");
    let mut case = good_case();
    case["config"] = json!({"lambda": 2.0, "lambda_typo": 1.0});
    let err = runner::check_case("l1", &case, &device()).unwrap_err();
    assert!(err.contains("lambda_typo"), "{err}");
}

#[test]
fn malformed_files_fail_to_load() {
    let dir = std::env::temp_dir().join(format!("sparse-losses-selftest-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("broken.json");
    std::fs::write(&file, "{\"penalty\": \"l1\", \"cases\": [").unwrap();
    assert!(runner::load_dir(&dir)
        .unwrap_err()
        .contains("not valid JSON"));
    std::fs::write(&file, "{\"penalty\": \"l1\", \"cases\": []}").unwrap();
    assert!(runner::load_dir(&dir).unwrap_err().contains("empty"));
    std::fs::remove_file(&file).unwrap();
    assert!(runner::load_dir(&dir).unwrap_err().contains("no *.json"));
    std::fs::remove_dir(&dir).unwrap();
    assert!(runner::load_dir(&dir).is_err());
}

/// L1 prox with λ = 1, t = 0.5 on [2, −0.25, −1]: [1.5, 0, −0.5].
fn prox_case() -> Value {
    json!({
        "id": "selftest_prox",
        "prox": "l1",
        "config": {"lambda": 1.0},
        "step": 0.5,
        "input": {"shape": [3], "data": [2.0, -0.25, -1.0]},
        "output": {"shape": [3], "data": [1.5, 0.0, -0.5]}
    })
}

#[test]
fn a_wrong_prox_output_or_zero_fails() {
    runner::check_case("prox", &prox_case(), &device()).unwrap();
    let mut case = prox_case();
    case["output"]["data"] = json!([1.5, 0.0, -0.5001]);
    let err = runner::check_case("prox", &case, &device()).unwrap_err();
    assert!(err.contains("output[2]"), "{err}");
    // A reference zero the prox does not reproduce exactly.
    case["output"]["data"] = json!([1.5, 0.0, 0.0]);
    let err = runner::check_case("prox", &case, &device()).unwrap_err();
    assert!(err.contains("exactly 0"), "{err}");
    // The comparison itself refuses −0.0 and tiny residues where the reference is 0.
    let compare = runner::prox::compare_prox;
    assert!(compare(&[1.0, 0.0], &[1.0, 0.0]).is_ok());
    assert!(compare(&[1.0, -0.0], &[1.0, 0.0]).is_err());
    assert!(compare(&[1.0, 1e-30], &[1.0, 0.0]).is_err());
    // A step outside the operator's domain fails the case.
    case["step"] = json!(0.0);
    let err = runner::check_case("prox", &case, &device()).unwrap_err();
    assert!(err.contains("step"), "{err}");
}
