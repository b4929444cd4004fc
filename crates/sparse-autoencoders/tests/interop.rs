//! SAELens and sparsify directories: the fixtures written by the real packages (sae-lens
//! 6.54.12 and eai-sparsify 1.3.3, `scripts/interop/make_fixtures.py`) load with the codes and
//! reconstructions those packages computed, on Flex, NdArray and wgpu; every architecture we
//! can export reads back with the same codes; what cannot be exported, and broken directories,
//! are refused in one line.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::prelude::*;
use burn::tensor::TensorData;
use sparse_autoencoders::data::read_npy;
use sparse_autoencoders::interop::{
    load, read_saelens, save, save_saelens, ExternalFormat, InferenceActivation, InferenceSae,
};
use sparse_autoencoders::{
    arch, fit, Architecture, Error, FitOptions, InputNormalization, Planted, Sae, SaeConfig,
    TrainConfig,
};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/interop")
}

const CASES: [&str; 10] = [
    "saelens-standard",
    "saelens-standard-no-bdec",
    "saelens-topk",
    "saelens-topk-rescale",
    "saelens-jumprelu",
    "saelens-gated",
    "saelens-standard-constant-norm",
    "saelens-standard-layer-norm",
    "saelens-topk-layer-norm",
    "sparsify-topk",
];

/// The wgpu device, looked for once per process (a second `init` of the runtime is an error).
#[cfg(feature = "wgpu")]
fn wgpu() -> Result<Device, String> {
    static DEVICE: std::sync::OnceLock<Result<Device, String>> = std::sync::OnceLock::new();
    DEVICE
        .get_or_init(
            || match std::panic::catch_unwind(|| Device::wgpu_options().init()) {
                Ok(Ok(device)) => Ok(device),
                Ok(Err(e)) => Err(format!("{e}")),
                Err(_) => Err("wgpu panicked looking for an adapter".to_string()),
            },
        )
        .clone()
}

/// Every device compiled in, without autodiff (wgpu where an adapter exists; required with
/// `SPARSE_LOSSES_REQUIRE_WGPU=1`).
fn devices() -> Vec<(&'static str, Device)> {
    #[allow(deprecated)]
    #[cfg_attr(not(feature = "wgpu"), allow(unused_mut))]
    let mut d = vec![("flex", Device::flex()), ("ndarray", Device::ndarray())];
    #[cfg(feature = "wgpu")]
    match wgpu() {
        Ok(device) => d.push(("wgpu", device)),
        Err(why) => assert!(
            std::env::var("SPARSE_LOSSES_REQUIRE_WGPU").as_deref() != Ok("1"),
            "no wgpu adapter ({why}), and SPARSE_LOSSES_REQUIRE_WGPU=1"
        ),
    }
    d
}

fn npy(path: &Path) -> (Vec<usize>, Vec<f32>) {
    let a = read_npy(path).unwrap();
    (a.shape, a.data)
}

fn host(t: Tensor<2>) -> Vec<f32> {
    t.try_into_vec_as::<f32>().unwrap()
}

/// `|a − b| ≤ 1e-5 · (1 + max|b|)` everywhere.
fn close(a: &[f32], b: &[f32], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    let scale = 1.0 + b.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let worst = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max);
    assert!(
        worst <= 1e-5 * scale,
        "{what}: differs by {worst} (scale {scale})"
    );
}

#[test]
fn the_packages_fixtures_load_with_their_codes_on_every_backend() {
    for case in CASES {
        let dir = fixtures().join(case);
        let (shape, x) = npy(&dir.join("inputs.npy"));
        let (_, codes) = npy(&dir.join("codes.npy"));
        let (_, recon) = npy(&dir.join("recon.npy"));
        assert!(
            codes.iter().any(|v| *v != 0.0),
            "{case}: the fixture's codes are all zero"
        );
        for (name, device) in devices() {
            let sae = load(&dir, &device).unwrap_or_else(|e| panic!("{case}: {e}"));
            let input =
                Tensor::<2>::from_data(TensorData::new(x.clone(), [shape[0], shape[1]]), &device);
            let (c, r) = sae.encode_and_reconstruct(input.clone());
            close(&host(c), &codes, &format!("{case} on {name}: codes"));
            close(
                &host(r.clone()),
                &recon,
                &format!("{case} on {name}: recon"),
            );
            close(
                &host(sae.forward(input)),
                &host(r),
                &format!("{case} on {name}: forward"),
            );
        }
    }
}

#[test]
fn the_fixtures_read_as_their_architectures() {
    let read = |case: &str| read_saelens(&fixtures().join(case)).unwrap();
    assert_eq!(
        read("saelens-standard").activation,
        InferenceActivation::Relu
    );
    assert!(!read("saelens-standard-no-bdec").apply_b_dec_to_input);
    assert_eq!(
        read("saelens-topk").activation,
        InferenceActivation::TopK { k: 5 }
    );
    assert!(matches!(
        read("saelens-jumprelu").activation,
        InferenceActivation::JumpRelu { .. }
    ));
    assert!(matches!(
        read("saelens-gated").activation,
        InferenceActivation::Gated { .. }
    ));
    assert_eq!(
        read("saelens-standard-layer-norm").normalization,
        InputNormalization::LayerNorm
    );
    assert_eq!(
        read("saelens-standard-constant-norm").normalization,
        InputNormalization::ConstantNormRescale
    );
    // A rescaling top-k SAE is read with its decoder norms folded in: unit rows.
    let folded = read("saelens-topk-rescale");
    for row in folded.w_dec.chunks(folded.d_in) {
        let n: f32 = row.iter().map(|w| w * w).sum::<f32>().sqrt();
        assert!((n - 1.0).abs() < 1e-5, "{n}");
    }
    assert_eq!(
        ExternalFormat::detect(&fixtures().join("sparsify-topk")),
        Some(ExternalFormat::Sparsify)
    );
}

/// A small SAE of `arch` trained 2 epochs on planted data (so that thresholds, gates and the
/// running threshold are trained values), on the CPU with autodiff.
fn trained(arch: Architecture, tag: &str) -> (Sae, Vec<f32>) {
    let data = Planted::new(12, 20, 256, 0.15, 3);
    let rows = Arc::new(data.rows.clone());
    let device = common::device();
    let mut config = SaeConfig::new(12, 24).with_architecture(arch.clone());
    if arch.needs_penalty() {
        config = config.with_penalty(Some(sparse_losses::PenaltyConfig::L1(
            sparse_losses::L1Config::new().with_lambda(0.01),
        )));
    }
    let sae = config.init_with_data(&rows, &device).unwrap();
    let dir = std::env::temp_dir().join(format!("sae-interop-{tag}-{}", std::process::id()));
    let train = TrainConfig::new()
        .with_epochs(2)
        .with_batch_size(64)
        .with_checkpoints(false);
    let out = fit(
        sae,
        rows.clone(),
        rows.clone(),
        &train,
        &dir,
        FitOptions::default(),
    )
    .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    (out.model, data.rows[..32 * 12].to_vec())
}

#[test]
fn every_exportable_architecture_reads_back_with_its_codes() {
    for arch in common::architectures(4, &[8, 24]) {
        let name = arch.name();
        let (sae, x) = trained(arch.clone(), name);
        let sae = sae.valid();
        let dir =
            std::env::temp_dir().join(format!("sae-interop-out-{name}-{}", std::process::id()));
        let result = save_saelens(&sae, &dir);
        if matches!(arch, Architecture::HardConcrete(_) | Architecture::Omp(_)) {
            let err = result.unwrap_err();
            assert!(matches!(err, Error::NoExternalForm { .. }), "{name}: {err}");
            assert!(
                err.to_string().contains(name) && !err.to_string().contains('\n'),
                "{err}"
            );
            continue;
        }
        result.unwrap_or_else(|e| panic!("{name}: {e}"));
        let device = Device::flex();
        let back = load(&dir, &device).unwrap();
        let input = Tensor::<2>::from_data(TensorData::new(x.clone(), [32, 12]), &device);
        let (c0, r0) = sae.encode_and_reconstruct(input.clone());
        let (c1, r1) = back.encode_and_reconstruct(input);
        close(&host(r1), &host(r0), &format!("{name}: reconstructions"));
        let (c0, c1) = (host(c0), host(c1));
        if matches!(
            arch,
            Architecture::BatchTopK(_) | Architecture::Matryoshka(_)
        ) {
            // Decoder norms folded in, as SAELens' own BatchTopK export: codes · ‖W_dec[j]‖.
            let norms: Vec<f32> = host(sae.decoder_norms().unsqueeze::<2>());
            let scaled: Vec<f32> = c0
                .iter()
                .enumerate()
                .map(|(i, v)| v * norms[i % 24])
                .collect();
            close(
                &c1,
                &scaled,
                &format!("{name}: codes in unit-decoder units"),
            );
        } else {
            close(&c1, &c0, &format!("{name}: codes"));
        }
        assert!(c0.iter().any(|v| *v != 0.0), "{name}: all codes zero");
        // Top-k SAEs are sparsify SAEs too.
        let sparsify = dir.with_extension("sparsify");
        let r = save(&sae, &sparsify, ExternalFormat::Sparsify);
        if matches!(arch, Architecture::TopK(_)) {
            r.unwrap();
            let back = load(&sparsify, &device).unwrap();
            let input = Tensor::<2>::from_data(TensorData::new(x.clone(), [32, 12]), &device);
            close(
                &host(back.encode(input)),
                &c0,
                &format!("{name}: sparsify codes"),
            );
        } else {
            let err = r.unwrap_err().to_string();
            assert!(
                err.starts_with("sparsify:") && err.contains("top-k"),
                "{err}"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_dir_all(&sparsify);
    }
}

#[test]
fn a_decoder_finetune_exports_exactly() {
    // Fine-tune state: a frozen encoder centre and a latent scale, folded into the export.
    let (sae, x) = trained(Architecture::TopK(arch::TopKConfig { k: 4 }), "finetune");
    let device = sae.b_dec.val().device();
    let mut tuned = sae.into_decoder_finetune(true).unwrap();
    let h = 24;
    let scale: Vec<f32> = (0..h).map(|j| 0.5 + j as f32 / h as f32).collect();
    tuned.latent_scale = Some(burn::module::Param::from_tensor(Tensor::<1>::from_data(
        TensorData::new(scale, [h]),
        &device,
    )));
    tuned.b_dec = burn::module::Param::from_tensor(tuned.b_dec.val().add_scalar(0.3));
    let tuned = tuned.valid();
    let form = InferenceSae::from_sae(&tuned).unwrap();
    let back = form.to_sae(&Device::flex()).unwrap();
    let input = Tensor::<2>::from_data(TensorData::new(x.clone(), [32, 12]), &Device::flex());
    let (c0, r0) =
        tuned.encode_and_reconstruct(input.clone().to_device(&tuned.b_dec.val().device()));
    let (c1, r1) = back.encode_and_reconstruct(input);
    close(&host(c1), &host(c0), "fine-tuned codes");
    close(&host(r1), &host(r0), "fine-tuned reconstructions");
}

#[test]
fn broken_directories_are_refused_in_one_line() {
    let root = std::env::temp_dir().join(format!("sae-interop-bad-{}", std::process::id()));
    let copy = |case: &str, name: &str| {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for f in std::fs::read_dir(fixtures().join(case)).unwrap() {
            let f = f.unwrap();
            std::fs::copy(f.path(), dir.join(f.file_name())).unwrap();
        }
        dir
    };
    let device = Device::flex();
    let edit = |dir: &Path, from: &str, to: &str| {
        let p = dir.join("cfg.json");
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains(from), "{text}");
        std::fs::write(&p, text.replacen(from, to, 1)).unwrap();
    };
    let cases: Vec<(PathBuf, &str)> = vec![
        {
            let d = copy("saelens-standard", "json");
            std::fs::write(d.join("cfg.json"), "{oops").unwrap();
            (d, "not JSON")
        },
        {
            let d = copy("saelens-standard", "arch");
            edit(&d, "\"standard\"", "\"abstopk\"");
            (d, "architecture `abstopk` is not supported")
        },
        {
            let d = copy("saelens-standard", "width");
            edit(&d, "\"d_in\": 8", "\"d_in\": 9");
            (
                d,
                "tensor `W_enc` has shape [8, 24]; the config says [9, 24]",
            )
        },
        {
            let d = copy("saelens-jumprelu", "missing");
            edit(&d, "\"jumprelu\"", "\"gated\"");
            (d, "has no tensor `b_gate`")
        },
        {
            let d = copy("saelens-jumprelu", "extra");
            edit(&d, "\"jumprelu\"", "\"standard\"");
            (d, "tensors this architecture does not use: threshold")
        },
        {
            let d = copy("sparsify-topk", "transcoder");
            edit(&d, "\"transcode\": false", "\"transcode\": true");
            (d, "`transcode` SAEs are not supported")
        },
        {
            let d = copy("saelens-standard", "truncated");
            let w = d.join("sae_weights.safetensors");
            let bytes = std::fs::read(&w).unwrap();
            std::fs::write(&w, &bytes[..bytes.len() / 2]).unwrap();
            (d, "sae_weights.safetensors")
        },
        (root.join("empty"), "is not an SAE directory"),
    ];
    std::fs::create_dir_all(root.join("empty")).unwrap();
    for (dir, expect) in cases {
        let err = load(&dir, &device)
            .err()
            .unwrap_or_else(|| panic!("{} loaded", dir.display()));
        let text = err.to_string();
        assert!(
            text.contains(expect) && !text.contains('\n'),
            "{}: {text}",
            dir.display()
        );
    }
    // Sigmoid codes have no sparse inference form.
    let sigmoid = SaeConfig::new(4, 8)
        .with_architecture(arch::SigmoidConfig::new().into())
        .with_penalty(Some(sparse_losses::PenaltyConfig::L1(
            sparse_losses::L1Config::new(),
        )))
        .init(&device)
        .unwrap();
    let err = save_saelens(&sigmoid, &root.join("sigmoid"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("sigmoid") && err.contains("dense"), "{err}");
    // A normalising (loaded) SAE is for inference: training refuses it.
    let loaded = load(
        &fixtures().join("saelens-standard-layer-norm"),
        &common::device(),
    )
    .unwrap();
    let rows = Arc::new(vec![0.5f32; 8 * 20]);
    let err = fit(
        loaded,
        rows.clone(),
        rows,
        &TrainConfig::new(),
        &root.join("fit"),
        FitOptions::default(),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(
        err.contains("layer_norm") && err.contains("inference only"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&root);
}
