//! Checkpoints in the layout of `Sae` before the architecture registry (the architecture's
//! parameters were fields of `Sae`: `jump_relu.log_threshold`, `r_mag`, `b_mag`,
//! `threshold`) resume: `fit` maps their tensors onto the current layout by parameter id
//! (`upgrade_checkpoint`), and the resumed run ends with exactly the model of an uninterrupted
//! one.

mod common;

use std::path::Path;
use std::sync::Arc;

use sparse_autoencoders::prelude::*;

const D: usize = 12;
const H: usize = 24;

/// The paths that version gave each parameter the registry moved, by the new path.
const OLD_PATHS: [(&str, &str); 5] = [
    (
        "arch.JumpRelu.thresholds.log_threshold",
        "jump_relu.log_threshold",
    ),
    ("arch.Gated.magnitude.r_mag", "r_mag"),
    ("arch.Gated.magnitude.b_mag", "b_mag"),
    ("arch.BatchTopK.threshold", "threshold"),
    ("arch.Matryoshka.batch_top_k.threshold", "threshold"),
];

/// Rewrites a model record with the old paths; returns how many tensors it renamed.
fn downgrade(file: &Path) -> usize {
    let tensors = burn_pack::Reader::from_file(file)
        .and_then(|r| r.into_tensors())
        .unwrap();
    let mut renamed = 0;
    let tensors = tensors
        .into_iter()
        .map(|t| {
            let (path, dtype, shape, id, bytes) = t.into_parts().unwrap();
            let path = match OLD_PATHS.iter().find(|(new, _)| *new == path) {
                Some((_, old)) => {
                    renamed += 1;
                    old.to_string()
                }
                None => path,
            };
            burn_pack::Tensor::new(path, dtype, shape, id, bytes)
        })
        .collect();
    burn_pack::Writer::new(tensors)
        .auto_extension(false)
        .write_to_file(file)
        .unwrap();
    renamed
}

fn train(arch: &Architecture, epochs: usize, resume_from: Option<usize>, dir: &Path) -> Sae {
    let data = Planted::new(D, 16, 256, 0.2, 4);
    let rows = Arc::new(data.rows);
    let mut config = SaeConfig::new(D, H)
        .with_architecture(arch.clone())
        .with_seed(2);
    if matches!(arch, Architecture::Gated(_)) {
        config = config.with_unit_norm_decoder(true);
    }
    let sae = config.init_with_data(&rows, &common::device()).unwrap();
    let train = TrainConfig::new().with_epochs(epochs).with_batch_size(64);
    let options = FitOptions {
        resume_from,
        ..FitOptions::default()
    };
    fit(sae, rows.clone(), rows, &train, dir, options)
        .unwrap()
        .model
}

fn values(sae: &Sae) -> Vec<f32> {
    let x = burn::prelude::Tensor::<2>::ones([4, D], &common::device());
    sae.forward(x).try_into_vec_as::<f32>().unwrap()
}

#[test]
fn checkpoints_of_the_old_layout_resume_exactly() {
    let root = std::env::temp_dir().join(format!("sae-upgrade-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let moved = common::architectures(3, &[8])
        .into_iter()
        .filter(|a| {
            matches!(
                a,
                Architecture::JumpRelu(_)
                    | Architecture::Gated(_)
                    | Architecture::BatchTopK(_)
                    | Architecture::Matryoshka(_)
            )
        })
        .collect::<Vec<_>>();
    assert_eq!(moved.len(), 4);
    for arch in moved {
        let (whole, split) = (
            root.join(format!("{}-whole", arch.name())),
            root.join(arch.name()),
        );
        let expected = values(&train(&arch, 2, None, &whole));
        train(&arch, 1, None, &split);
        let model = split.join("checkpoint").join("model-1.bpk");
        assert!(downgrade(&model) >= 1, "{arch:?}: nothing to downgrade");
        let resumed = values(&train(&arch, 2, Some(1), &split));
        assert_eq!(resumed, expected, "{arch:?}: the resumed run differs");
        // The file now has the current layout: a second upgrade renames nothing.
        let fresh = SaeConfig::new(D, H).with_architecture(arch.clone());
        let sae = fresh.init(&common::device()).unwrap();
        assert_eq!(upgrade_checkpoint(&sae, &model, 1).unwrap(), 0, "{arch:?}");
    }
    std::fs::remove_dir_all(&root).unwrap();
}
