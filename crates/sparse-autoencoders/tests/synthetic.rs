//! The synthetic benchmark: the generator is seeded and follows its configuration, the scorer
//! gives perfect marks to the truth and low ones to noise, and a small TopK SAE trained with
//! `fit` recovers the features.

use std::sync::Arc;
use std::time::Instant;

use burn::prelude::*;
use burn::tensor::TensorData;
use sparse_autoencoders::prelude::*;
use sparse_autoencoders::stats::normal_vec;
use sparse_autoencoders::synthetic::{score, SyntheticConfig, SyntheticData};

fn small() -> SyntheticConfig {
    SyntheticConfig::new()
        .with_d_in(32)
        .with_n_features(96)
        .with_mean_active(4.0)
        .with_seed(5)
}

#[test]
fn same_seed_same_data_other_stream_other_rows() {
    let cfg = small()
        .with_correlation(0.5)
        .with_hierarchy(0.2)
        .with_noise_std(0.01);
    let a = cfg.init().unwrap().sample(500, 0);
    let b = cfg.init().unwrap().sample(500, 0);
    assert_eq!(a.rows, b.rows);
    assert_eq!(a.codes, b.codes);
    assert_eq!(a.directions, b.directions);

    let c = cfg.init().unwrap().sample(500, 1);
    assert_eq!(
        a.directions, c.directions,
        "the model does not depend on the stream"
    );
    assert_ne!(a.rows, c.rows);
    assert_ne!(a.codes, c.codes);

    let d = cfg.clone().with_seed(6).init().unwrap().sample(500, 0);
    assert_ne!(a.directions, d.directions);
    assert_ne!(a.rows, d.rows);

    // A prefix of a longer sample is the shorter sample.
    let long = cfg.init().unwrap().sample(700, 0);
    assert_eq!(long.rows[..a.rows.len()], a.rows[..]);
}

#[test]
fn rows_are_the_sum_of_the_true_codes_times_directions() {
    let data = small().init().unwrap().sample(200, 3);
    let d = data.d_in;
    let dense = data.codes.to_dense();
    for b in 0..200 {
        for k in 0..d {
            let x: f32 = (0..data.n_features)
                .map(|i| dense[b * data.n_features + i] * data.directions[i * d + k])
                .sum();
            assert!((x - data.rows[b * d + k]).abs() < 1e-4);
        }
    }
    let cfg = small();
    assert!(data
        .codes
        .values
        .iter()
        .all(|&c| c as f64 >= cfg.magnitude_min - 1e-6));
    let mean = data.codes.values.iter().map(|&c| c as f64).sum::<f64>() / data.codes.nnz() as f64;
    assert!(
        (mean - cfg.magnitude_mean).abs() < 0.1,
        "mean magnitude {mean}"
    );
}

/// Every feature's observed frequency is within 5 standard errors of its probability.
fn assert_frequencies(cfg: &SyntheticConfig, rows: usize) -> SyntheticData {
    let data = cfg.init().unwrap().sample(rows, 0);
    let freq = data.firing_frequencies();
    for (i, (&f, &p)) in freq.iter().zip(&data.firing_probabilities).enumerate() {
        let se = (p * (1.0 - p) / rows as f64).sqrt();
        assert!(
            (f - p).abs() <= 5.0 * se + 1e-9,
            "{cfg:?}: feature {i} fires at {f}, expected {p} ± {se}"
        );
    }
    let sum: f64 = data.firing_probabilities.iter().sum();
    assert!((sum - cfg.mean_active).abs() < 1e-9);
    let se = (cfg.mean_active / rows as f64).sqrt() * 3.0;
    assert!((data.mean_active() - cfg.mean_active).abs() < 5.0 * se);
    data
}

#[test]
fn firing_frequencies_match_the_probabilities() {
    let rows = 20_000;
    let plain = assert_frequencies(&small(), rows);
    let p = &plain.firing_probabilities;
    // Zipf: p_i ∝ (i + 1)^(-0.5).
    assert!((p[0] / p[3] - 2.0).abs() < 1e-9);
    // Correlation and hierarchy keep the marginals.
    assert_frequencies(&small().with_correlation(1.0).with_group_size(3), rows);
    assert_frequencies(&small().with_hierarchy(0.3), rows);
    assert_frequencies(
        &small()
            .with_correlation(0.6)
            .with_hierarchy(0.5)
            .with_exponent(1.2)
            .with_mean_active(6.0),
        rows,
    );
    // Exponent 0: every feature has the same probability.
    let u = assert_frequencies(&small().with_exponent(0.0), rows);
    assert!(u
        .firing_probabilities
        .iter()
        .all(|&q| (q - 4.0 / 96.0).abs() < 1e-12));
}

/// How often features `i` and `j` fire on the same row.
fn joint(data: &SyntheticData, i: usize, j: usize) -> f64 {
    (0..data.n_rows())
        .filter(|&b| {
            let f = data.codes.row(b).0;
            f.contains(&i) && f.contains(&j)
        })
        .count() as f64
        / data.n_rows() as f64
}

#[test]
fn correlated_groups_fire_together() {
    let rows = 20_000;
    let independent = small().init().unwrap().sample(rows, 0);
    let model = small().with_correlation(1.0).init().unwrap();
    let correlated = model.sample(rows, 0);
    let g = model.groups()[2].clone();
    let (i, j) = (g.start, g.end - 1);
    let p = &correlated.firing_probabilities;
    let (ji, jc) = (joint(&independent, i, j), joint(&correlated, i, j));
    // Independent: p_i p_j. Correlated with correlation 1: the rarest member (j) fires only
    // with the whole group, so P(i and j) = p_j.
    assert!((ji - p[i] * p[j]).abs() < 0.0025, "{ji} vs {}", p[i] * p[j]);
    assert!((jc - p[j]).abs() < 0.01, "{jc} vs {}", p[j]);
    // Members of different groups stay independent.
    let k = model.groups()[5].start;
    assert!((joint(&correlated, i, k) - p[i] * p[k]).abs() < 0.0025);
}

#[test]
fn a_child_never_fires_without_its_parent() {
    let model = small()
        .with_hierarchy(0.4)
        .with_correlation(0.5)
        .init()
        .unwrap();
    let parents = model.parents();
    let children: Vec<usize> = (0..96).filter(|&i| parents[i].is_some()).collect();
    assert_eq!(children.len(), 38);
    let data = model.sample(20_000, 2);
    let mut fired = vec![0usize; 96];
    for b in 0..data.n_rows() {
        let f = data.codes.row(b).0;
        for &c in f {
            fired[c] += 1;
            if let Some(p) = parents[c] {
                assert!(f.contains(&p), "row {b}: child {c} without parent {p}");
                assert!(parents[p].is_none(), "parents are roots");
            }
        }
    }
    assert!(children.iter().all(|&c| fired[c] > 0), "every child fires");
}

#[test]
fn invalid_configs_are_typed_errors() {
    let bad = [
        SyntheticConfig::new().with_d_in(0),
        SyntheticConfig::new().with_n_features(0),
        SyntheticConfig::new().with_mean_active(0.0),
        SyntheticConfig::new().with_mean_active(600.0),
        SyntheticConfig::new().with_mean_active(f64::NAN),
        SyntheticConfig::new().with_exponent(-1.0),
        SyntheticConfig::new().with_magnitude_min(0.0),
        SyntheticConfig::new().with_magnitude_mean(0.4),
        SyntheticConfig::new().with_correlation(1.5),
        SyntheticConfig::new().with_group_size(0),
        SyntheticConfig::new().with_hierarchy(1.0),
        SyntheticConfig::new().with_hierarchy(-0.1),
        SyntheticConfig::new().with_noise_std(f64::INFINITY),
        SyntheticConfig::new().with_n_features(usize::MAX),
    ];
    for c in bad {
        match c.init() {
            Err(Error::InvalidHyperParameter {
                item: "synthetic",
                field,
                ..
            }) => {
                let e = c.validate().unwrap_err().to_string();
                assert!(e.contains(field) && !e.contains('\n'), "{e}");
            }
            other => panic!("{c:?}: {other:?}"),
        }
    }
    // The edges of the domains are fine.
    SyntheticConfig::new()
        .with_n_features(8)
        .with_mean_active(8.0)
        .with_magnitude_mean(0.5)
        .with_correlation(1.0)
        .with_group_size(1)
        .init()
        .unwrap()
        .sample(10, 0);
}

/// The true directions, permuted, sign-flipped and scaled, with the true codes transformed to
/// reconstruct the same rows.
fn disguised_truth(data: &SyntheticData, seed: u64) -> (Vec<f32>, Vec<f32>, Vec<usize>) {
    let (nf, d) = (data.n_features, data.d_in);
    // A seeded permutation: sort by random keys.
    let keys = normal_vec(nf, 1.0, seed);
    let mut perm: Vec<usize> = (0..nf).collect();
    perm.sort_by(|&a, &b| keys[a].total_cmp(&keys[b]));
    // latent perm[i] = sign_i · scale_i · d_i
    let mut dec = vec![0.0f32; nf * d];
    let mut factor = vec![0.0f32; nf];
    for i in 0..nf {
        let sign = if i % 3 == 0 { -1.0 } else { 1.0 };
        let scale = 0.25 + (i % 7) as f32 * 0.5;
        factor[i] = sign * scale;
        for k in 0..d {
            dec[perm[i] * d + k] = factor[i] * data.directions[i * d + k];
        }
    }
    let mut codes = vec![0.0f32; data.n_rows() * nf];
    for b in 0..data.n_rows() {
        let (f, v) = data.codes.row(b);
        for (&i, &c) in f.iter().zip(v) {
            codes[b * nf + perm[i]] = c / factor[i];
        }
    }
    (dec, codes, perm)
}

#[test]
fn the_truth_scores_perfectly() {
    let model = small()
        .with_correlation(0.5)
        .with_hierarchy(0.25)
        .init()
        .unwrap();
    let test = model.sample(3000, 7);
    let (dec, codes, perm) = disguised_truth(&test, 1);
    let s = score(&test, &dec, &codes).unwrap();
    println!("truth: {:?}", (s.mcc, s.detection_f1, s.magnitude_ratio));
    assert!((s.mcc - 1.0).abs() < 1e-5, "mcc {}", s.mcc);
    assert!(
        (s.detection_f1 - 1.0).abs() < 1e-12,
        "f1 {}",
        s.detection_f1
    );
    assert!(
        (s.magnitude_ratio - 1.0).abs() < 1e-5,
        "ratio {}",
        s.magnitude_ratio
    );
    assert!((s.l0 - s.true_l0).abs() < 1e-12);
    assert_eq!(s.matching.len(), 96);
    for m in &s.matching {
        assert_eq!(m.latent, perm[m.feature]);
        let sign = if m.feature % 3 == 0 { -1.0 } else { 1.0 };
        assert!((m.cosine - sign).abs() < 1e-5);
    }
    let fired = test
        .firing_frequencies()
        .iter()
        .filter(|&&f| f > 0.0)
        .count();
    let dead = 1.0 - fired as f64 / 96.0;
    assert!((s.dead_fraction - dead).abs() < 1e-12);

    // The same codes with every magnitude halved: the same matching and F1, ratio 0.5.
    let half: Vec<f32> = codes.iter().map(|c| c * 0.5).collect();
    let h = test.score(&dec, &half).unwrap();
    assert!((h.magnitude_ratio - 0.5).abs() < 1e-5);
    assert!((h.detection_f1 - 1.0).abs() < 1e-12);
}

fn random_decoder(d_sae: usize, d_in: usize, seed: u64) -> Vec<f32> {
    normal_vec(d_sae * d_in, 1.0, seed)
}

/// Codes that use the decoder honestly: each row's `k` largest |⟨x, W_j⟩|.
fn top_k_codes(data: &SyntheticData, dec: &[f32], k: usize) -> Vec<f32> {
    let d = data.d_in;
    let d_sae = dec.len() / d;
    let mut codes = vec![0.0f32; data.n_rows() * d_sae];
    for (b, x) in data.rows.chunks_exact(d).enumerate() {
        let mut z: Vec<(f32, usize)> = dec
            .chunks_exact(d)
            .enumerate()
            .map(|(j, w)| (x.iter().zip(w).map(|(a, c)| a * c).sum::<f32>(), j))
            .collect();
        z.sort_by(|a, b| b.0.abs().total_cmp(&a.0.abs()));
        for &(v, j) in &z[..k] {
            codes[b * d_sae + j] = v;
        }
    }
    codes
}

#[test]
fn a_random_decoder_scores_low() {
    let test = small().init().unwrap().sample(2000, 1);
    let dec = random_decoder(96, 32, 9);
    let s = score(&test, &dec, &top_k_codes(&test, &dec, 4)).unwrap();
    println!(
        "random decoder (96 features, 32 dims): mcc {:.3}, F1 {:.3}",
        s.mcc, s.detection_f1
    );
    // In 32 dimensions random directions are not that far apart: the best assignment of 96
    // random latents averages |cos| ≈ 0.44 (in 128 dimensions, 512 of them: ≈ 0.27).
    assert!(s.mcc < 0.5, "mcc {}", s.mcc);
    assert!(s.detection_f1 < 0.3, "F1 {}", s.detection_f1);
    // 4 per row, except on the rows where no feature fires (x = 0, every code 0).
    assert!(s.l0 <= 4.0 && s.l0 > 3.8, "L0 {}", s.l0);
}

#[test]
fn half_the_features_scores_a_half() {
    let test = small().init().unwrap().sample(2000, 1);
    let (nf, d) = (96, 32);
    let (dec, codes, perm) = disguised_truth(&test, 2);
    // Keep the latents of the even features only.
    let keep: Vec<usize> = (0..nf).filter(|i| i % 2 == 0).map(|i| perm[i]).collect();
    let dec_half: Vec<f32> = keep
        .iter()
        .flat_map(|&j| dec[j * d..(j + 1) * d].to_vec())
        .collect();
    let codes_half: Vec<f32> = (0..test.n_rows())
        .flat_map(|b| keep.iter().map(move |&j| (b, j)))
        .map(|(b, j)| codes[b * nf + j])
        .collect();
    let s = score(&test, &dec_half, &codes_half).unwrap();
    println!("half: mcc {:.4}, F1 {:.4}", s.mcc, s.detection_f1);
    assert!((s.mcc - 0.5).abs() < 1e-5, "mcc {}", s.mcc);
    assert_eq!(s.matching.len(), 48);
    assert!(s.matching.iter().all(|m| m.feature % 2 == 0));
    assert!((s.detection_f1 - 0.5).abs() < 0.05, "F1 {}", s.detection_f1);
    assert!((s.magnitude_ratio - 1.0).abs() < 1e-5);

    // Half true, half random latents: the random half adds a little.
    let mut mixed = dec_half.clone();
    mixed.extend(random_decoder(48, d, 3));
    let m = score(&test, &mixed, &top_k_codes(&test, &mixed, 4)).unwrap();
    println!("half + random: mcc {:.4}", m.mcc);
    assert!(m.mcc > 0.5 && m.mcc < 0.75, "mcc {}", m.mcc);
}

#[test]
fn scores_check_shapes() {
    let test = small().init().unwrap().sample(10, 1);
    let dec = random_decoder(8, 32, 1);
    assert!(matches!(
        score(&test, &dec, &[0.0; 79]),
        Err(Error::Shape(_))
    ));
    assert!(matches!(
        score(&test, &dec[..31], &[0.0; 80]),
        Err(Error::Shape(_))
    ));
    let empty = small().init().unwrap().sample(0, 1);
    assert!(matches!(score(&empty, &dec, &[]), Err(Error::Shape(_))));
    assert!(score(&test, &dec, &[0.0; 80]).is_ok());
}

#[test]
fn default_size_generation_and_scoring_are_fast() {
    let t = Instant::now();
    let model = SyntheticConfig::new().init().unwrap();
    let test = model.sample(10_000, 1);
    let generate = t.elapsed();
    let t = Instant::now();
    let train = model.sample(50_000, 0);
    let generate_50k = t.elapsed();
    assert_eq!(train.rows.len(), 50_000 * 128);
    let p = test.firing_probabilities.clone();
    println!(
        "default probabilities: {:.4} .. {:.4}, true L0 {:.3}",
        p[0],
        p[511],
        test.mean_active()
    );
    let (dec, codes, _) = disguised_truth(&test, 4);
    let t = Instant::now();
    let s = score(&test, &dec, &codes).unwrap();
    let truth = t.elapsed();
    let rnd = random_decoder(512, 128, 5);
    let rnd_codes = top_k_codes(&test, &rnd, 8);
    let t = Instant::now();
    let r = score(&test, &rnd, &rnd_codes).unwrap();
    let random = t.elapsed();
    println!(
        "512 features x 128 dims: generate 10k rows {generate:?}, 50k rows {generate_50k:?}; \
         score the truth {truth:?} (mcc {:.4}), a random decoder {random:?} (mcc {:.3}, F1 {:.3})",
        s.mcc, r.mcc, r.detection_f1
    );
    assert!((s.mcc - 1.0).abs() < 1e-5 && (s.detection_f1 - 1.0).abs() < 1e-12);
    assert!(r.mcc < 0.35, "random mcc {}", r.mcc);
}

#[test]
fn a_top_k_sae_trained_with_fit_recovers_the_features() {
    let synth = SyntheticConfig::new()
        .with_d_in(24)
        .with_n_features(32)
        .with_mean_active(3.0)
        .with_exponent(0.3)
        .with_seed(11);
    let model = synth.init().unwrap();
    let train_set = model.sample(4096, 0);
    let test = model.sample(1024, 1);
    let rows = Arc::new(train_set.rows.clone());
    let valid = Arc::new(test.rows.clone());

    let device = Device::flex().autodiff();
    let t = Instant::now();
    let sae = SaeConfig::new(24, 32)
        .with_architecture(Architecture::TopK(arch::TopKConfig { k: 3 }))
        .with_seed(1)
        .init_with_data(&rows, &device)
        .unwrap();
    let dir = std::env::temp_dir().join(format!("sae-synthetic-{}", std::process::id()));
    let cfg = TrainConfig::new()
        .with_epochs(20)
        .with_batch_size(64)
        .with_learning_rate(3e-3)
        .with_checkpoints(false);
    let out = fit(sae, rows, valid, &cfg, &dir, FitOptions::default()).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    let trained = out.model;

    let x = Tensor::<2>::from_data(TensorData::new(test.rows.clone(), [1024, 24]), &device);
    let codes = trained.encode(x).try_into_vec_as::<f32>().unwrap();
    let dec = trained.w_dec.val().try_into_vec_as::<f32>().unwrap();
    let s = score(&test, &dec, &codes).unwrap();

    let rnd = random_decoder(32, 24, 2);
    let r = score(&test, &rnd, &top_k_codes(&test, &rnd, 3)).unwrap();
    println!(
        "TopK SAE ({:?}): mcc {:.3}, F1 {:.3}, magnitude ratio {:.3}, dead {:.3}, L0 {:.2} \
         (true {:.2}); random decoder: mcc {:.3}, F1 {:.3}",
        t.elapsed(),
        s.mcc,
        s.detection_f1,
        s.magnitude_ratio,
        s.dead_fraction,
        s.l0,
        s.true_l0,
        r.mcc,
        r.detection_f1
    );
    assert!(s.l0 <= 3.0 + 1e-9);
    assert!(s.mcc > 0.8, "mcc {}", s.mcc);
    assert!(s.mcc > r.mcc + 0.3, "mcc {} vs random {}", s.mcc, r.mcc);
    assert!(
        s.detection_f1 > r.detection_f1 + 0.3,
        "F1 {} vs random {}",
        s.detection_f1,
        r.detection_f1
    );
}
