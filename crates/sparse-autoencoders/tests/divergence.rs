//! The divergence guard of `fit`: a run whose loss becomes NaN or absurd stops with
//! `Error::Diverged` naming the step, and the checkpoints left are those of good parameters;
//! and the checkpoint checks before a resume.

use std::path::Path;
use std::sync::Arc;

use sparse_autoencoders::prelude::*;

const D: usize = 16;
const ROWS: usize = 256;
const BATCH: usize = 64;

fn rows() -> Arc<Vec<f32>> {
    let mut s = 3u64;
    Arc::new(
        (0..ROWS * D)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (s >> 40) as f32 / (1u64 << 24) as f32
            })
            .collect(),
    )
}

fn checkpoint_epochs(dir: &Path) -> Vec<usize> {
    let mut epochs: Vec<usize> = std::fs::read_dir(dir.join("checkpoint"))
        .map(|it| {
            it.flatten()
                .filter_map(|e| {
                    let name = e.file_name().into_string().ok()?;
                    name.strip_prefix("model-")?
                        .strip_suffix(".bpk")?
                        .parse()
                        .ok()
                })
                .collect()
        })
        .unwrap_or_default();
    epochs.sort_unstable();
    epochs
}

fn train(lr: f64, epochs: usize, resume_from: Option<usize>, dir: &Path) -> Result<FitResult> {
    let device = burn::prelude::Device::flex().autodiff();
    let sae = SaeConfig::new(D, 32)
        .with_architecture(Architecture::TopK(arch::TopKConfig { k: 4 }))
        .with_seed(1)
        .init_with_data(&rows(), &device)?;
    let config = TrainConfig::new()
        .with_epochs(epochs)
        .with_batch_size(BATCH)
        .with_learning_rate(lr);
    let options = FitOptions {
        resume_from,
        ..FitOptions::default()
    };
    fit(sae, rows(), rows(), &config, dir, options)
}

#[test]
fn a_diverging_run_stops_and_keeps_only_good_checkpoints() {
    let dir = std::env::temp_dir().join(format!("sae-divergence-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // One good epoch, then a learning rate that blows the parameters up.
    train(1e-3, 1, None, &dir).unwrap();
    assert_eq!(checkpoint_epochs(&dir), [1]);
    let per_epoch = ROWS / BATCH;
    match train(1e30, 4, Some(1), &dir) {
        Err(Error::Diverged { step, loss }) => {
            // Epoch 2's first step (step 4, 0-based) still sees epoch 1's parameters; the
            // update it makes is absurd, and the next step's loss shows it.
            assert_eq!(step, per_epoch + 1, "loss {loss}");
            assert!(!loss.is_finite() || loss > 1e6, "loss {loss}");
        }
        other => panic!(
            "expected Error::Diverged, got {:?}",
            other.map(|r| r.epochs)
        ),
    }
    // Training stopped after epoch 2, and its checkpoint (bad parameters) is gone.
    assert_eq!(checkpoint_epochs(&dir), [1]);
    // From the first step on: nothing good to keep.
    let fresh = dir.join("fresh");
    assert!(matches!(
        train(1e30, 3, None, &fresh),
        Err(Error::Diverged { step: 1, .. })
    ));
    assert!(checkpoint_epochs(&fresh).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A checkpoint cut short (a crash while burn-train wrote its last file) is skipped by
/// `latest_readable_checkpoint`, refused by `fit` with `Error::Checkpoint` naming the file
/// (burn-train panicked on it), and left on disk; the checkpoint before it resumes.
#[test]
fn a_checkpoint_cut_short_is_skipped_and_never_resumed() {
    let dir = std::env::temp_dir().join(format!("sae-cut-checkpoint-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    train(1e-3, 2, None, &dir).unwrap();
    assert_eq!(complete_checkpoints(&dir), [1, 2]);
    assert_eq!(latest_readable_checkpoint(&dir).0, Some(2));
    check_checkpoint(&dir, 2).unwrap();
    let cut = dir.join("checkpoint").join("optim-2.bpk");
    let bytes = std::fs::read(&cut).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let (latest, skipped) = latest_readable_checkpoint(&dir);
    assert_eq!(latest, Some(1));
    match skipped.as_slice() {
        [Error::Checkpoint { path, epoch: 2, .. }] => assert_eq!(path, &cut),
        other => panic!("expected one Error::Checkpoint for epoch 2, got {other:?}"),
    }
    let message = skipped[0].to_string();
    assert!(
        message.contains("optim-2.bpk") && !message.contains('\n'),
        "{message}"
    );
    match train(1e-3, 3, Some(2), &dir) {
        Err(Error::Checkpoint { path, epoch: 2, .. }) => assert_eq!(path, cut),
        other => panic!(
            "expected Error::Checkpoint, got {:?}",
            other.map(|r| r.epochs)
        ),
    }
    assert_eq!(
        std::fs::read(&cut).unwrap().len(),
        bytes.len() / 2,
        "the file was changed"
    );
    // Epoch 1's checkpoint resumes; epoch 2 is trained again and its files rewritten.
    let result = train(1e-3, 2, Some(1), &dir).unwrap();
    assert_eq!(result.epochs.len(), 1);
    let (latest, skipped) = latest_readable_checkpoint(&dir);
    assert_eq!((latest, skipped.len()), (Some(2), 0), "{skipped:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A checkpoint of another model (another d_sae) is refused with `Error::CheckpointMismatch`
/// naming what does not fit (burn-train panicked: "Failed to load record").
#[test]
fn a_checkpoint_of_another_model_is_refused() {
    let dir = std::env::temp_dir().join(format!("sae-other-model-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    train(1e-3, 1, None, &dir).unwrap();
    let device = burn::prelude::Device::flex().autodiff();
    let other = SaeConfig::new(D, 16)
        .with_architecture(Architecture::TopK(arch::TopKConfig { k: 4 }))
        .init_with_data(&rows(), &device)
        .unwrap();
    let config = TrainConfig::new().with_epochs(2).with_batch_size(BATCH);
    let options = FitOptions {
        resume_from: Some(1),
        ..FitOptions::default()
    };
    match fit(other, rows(), rows(), &config, &dir, options) {
        Err(e @ Error::CheckpointMismatch { .. }) => {
            let message = e.to_string();
            assert!(
                message.contains("model-1.bpk") && message.contains("w_enc: shape mismatch"),
                "{message}"
            );
            assert!(!message.contains('\n'), "{message}");
        }
        other => panic!(
            "expected CheckpointMismatch, got {:?}",
            other.map(|r| r.epochs)
        ),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `fit` of a model on a device without autodiff is a typed error, not a panic in backward.
#[test]
fn fit_without_autodiff_is_a_typed_error() {
    let dir = std::env::temp_dir().join(format!("sae-no-autodiff-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let sae = SaeConfig::new(D, 32)
        .with_architecture(Architecture::TopK(arch::TopKConfig { k: 4 }))
        .init_with_data(&rows(), &burn::prelude::Device::flex())
        .unwrap();
    let config = TrainConfig::new().with_epochs(1).with_batch_size(BATCH);
    match fit(sae, rows(), rows(), &config, &dir, FitOptions::default()) {
        Err(e @ Error::NoAutodiff) => assert!(e.to_string().contains("autodiff()"), "{e}"),
        other => panic!("expected NoAutodiff, got {:?}", other.map(|r| r.epochs)),
    }
    assert!(!dir.join("checkpoint").exists());
    let _ = std::fs::remove_dir_all(&dir);
}
