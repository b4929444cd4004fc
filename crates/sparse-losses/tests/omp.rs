//! OMP beyond the fixtures: error cases, sparsity, exact recovery, dictionary learning.

use burn::prelude::*;
use burn::tensor::{Distribution, TensorData};
use sparse_losses::{dictionary_step, normalize_atoms, Error, OmpConfig};

fn dev() -> Device {
    Device::flex()
}

fn vec2(t: Tensor<2>) -> Vec<f32> {
    t.try_into_vec_as::<f32>().unwrap()
}

fn random_dictionary(f: usize, n: usize) -> Tensor<2> {
    dev().seed(11);
    normalize_atoms(Tensor::random(
        [f, n],
        Distribution::Normal(0.0, 1.0),
        &dev(),
    ))
}

#[test]
fn config_and_shape_errors() {
    assert!(matches!(
        OmpConfig::new().with_n_nonzero(Some(0)).init(),
        Err(Error::InvalidHyperParameter {
            field: "n_nonzero",
            ..
        })
    ));
    assert!(matches!(
        OmpConfig::new().with_tol(Some(-1.0)).init(),
        Err(Error::InvalidHyperParameter { field: "tol", .. })
    ));
    assert!(matches!(
        OmpConfig::new().with_tol(Some(f64::NAN)).init(),
        Err(Error::InvalidHyperParameter { field: "tol", .. })
    ));
    let d = random_dictionary(8, 12);
    let x = Tensor::<2>::ones([3, 8], &dev());
    let too_many = OmpConfig::new().with_n_nonzero(Some(13)).init().unwrap();
    assert!(matches!(
        too_many.codes(d.clone(), x.clone()),
        Err(Error::TooManyNonzeros { k: 13, n_atoms: 12 })
    ));
    let omp = OmpConfig::new().init().unwrap();
    assert!(matches!(
        omp.codes(d.clone(), Tensor::ones([3, 7], &dev())),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        omp.codes(d, Tensor::<2>::ones([0, 8], &dev())),
        Err(Error::EmptyInput { .. })
    ));
    // Unknown config fields are an error, not silently ignored.
    assert!(OmpConfig::from_json(&serde_json::json!({"n_nonzeros": 3})).is_err());
}

#[test]
fn default_k_and_at_most_k_nonzeros() {
    let d = random_dictionary(16, 40);
    dev().seed(5);
    let x = Tensor::<2>::random([20, 16], Distribution::Normal(0.0, 1.0), &dev());
    let omp = OmpConfig::new().init().unwrap();
    assert_eq!(omp.k_for(40), 4);
    assert_eq!(omp.k_for(5), 1);
    let codes = vec2(omp.codes(d.clone(), x.clone()).unwrap());
    for row in codes.chunks(40) {
        assert_eq!(row.iter().filter(|&&c| c != 0.0).count(), 4);
    }
    // More atoms never fit worse.
    let mut last = f32::INFINITY;
    for k in [1, 2, 4, 8] {
        let omp = OmpConfig::new().with_n_nonzero(Some(k)).init().unwrap();
        let loss: f32 = omp.loss(d.clone(), x.clone()).unwrap().into_scalar();
        assert!(loss <= last + 1e-5, "k = {k}: {loss} > {last}");
        last = loss;
    }
}

#[test]
fn recovers_planted_sparse_codes_exactly() {
    // 64-dimensional signals made of 3 atoms of a random 64 × 128 dictionary: OMP finds the
    // planted support and weights.
    let (f, n, k, b) = (64, 128, 3, 32);
    let d = random_dictionary(f, n);
    let mut truth = vec![0f32; b * n];
    for r in 0..b {
        for (t, j) in [(r * 7) % n, (r * 13 + 5) % n, (r * 29 + 11) % n]
            .into_iter()
            .enumerate()
        {
            truth[r * n + j] = [1.5, -1.0, 0.8][t];
        }
    }
    let c = Tensor::<2>::from_data(TensorData::new(truth.clone(), [b, n]), &dev());
    let x = c.matmul(d.clone().transpose());
    let omp = OmpConfig::new().with_n_nonzero(Some(k)).init().unwrap();
    let codes = vec2(omp.codes(d.clone(), x.clone()).unwrap());
    for (got, want) in codes.iter().zip(&truth) {
        assert!((got - want).abs() < 1e-4, "{got} vs {want}");
    }
    // With a tolerance instead of k, OMP stops as soon as the fit is exact (here after the
    // third atom), even though the cap is n_atoms.
    let by_tol = OmpConfig::new().with_tol(Some(1e-6)).init().unwrap();
    let codes = vec2(by_tol.codes(d, x).unwrap());
    for row in codes.chunks(n) {
        assert_eq!(row.iter().filter(|&&c| c != 0.0).count(), 3);
    }
}

#[test]
fn dictionary_learning_lowers_the_loss_and_keeps_unit_atoms() {
    let (f, n, b) = (16, 32, 256);
    let truth = random_dictionary(f, n);
    dev().seed(3);
    let codes = Tensor::<2>::random([b, n], Distribution::Normal(0.0, 1.0), &dev())
        * Tensor::<2>::random([b, n], Distribution::Bernoulli(0.08), &dev());
    let x = codes.matmul(truth.transpose());
    let omp = OmpConfig::new().with_n_nonzero(Some(3)).init().unwrap();
    dev().seed(4);
    let mut d = normalize_atoms(Tensor::random(
        [f, n],
        Distribution::Normal(0.0, 1.0),
        &dev(),
    ));
    let (_, first) = dictionary_step(&omp, d.clone(), x.clone(), 0.1).unwrap();
    for _ in 0..100 {
        d = dictionary_step(&omp, d, x.clone(), 0.1).unwrap().0;
    }
    let (_, last) = dictionary_step(&omp, d.clone(), x, 0.1).unwrap();
    let (first, last): (f32, f32) = (first.into_scalar(), last.into_scalar());
    assert!(last < 0.5 * first, "loss {first} -> {last}");
    let norms = vec2(d.square().sum_dim(0));
    assert!(norms.iter().all(|v| (v - 1.0).abs() < 1e-4), "{norms:?}");
    assert!(dictionary_step(
        &omp,
        random_dictionary(f, n),
        Tensor::ones([2, f], &dev()),
        -1.0
    )
    .is_err());
}
