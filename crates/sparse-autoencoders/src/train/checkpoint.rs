//! burn-train's checkpoints as [`fit`](super::fit) leaves them in its folder: which epochs
//! are complete, whether one reads back, and removing the ones after a divergence.
//!
//! burn-train writes `checkpoint/model-E.bpk`, `optim-E.bpk` and `scheduler-E.bpk` after each
//! epoch, in that order and not atomically: a process killed while writing them leaves an
//! incomplete set, or (killed inside the last file) a complete set with a file cut short.

use std::path::Path;

use crate::{Error, Result};

/// The three files of a checkpoint, in the order burn-train writes them.
const KINDS: [&str; 3] = ["model", "optim", "scheduler"];

/// A burn-train checkpoint file name, `model-E.bpk`, `optim-E.bpk` or `scheduler-E.bpk`, as
/// `(kind, E)`.
fn checkpoint_file(name: &str) -> Option<(&'static str, usize)> {
    KINDS.iter().find_map(|&kind| {
        let epoch = name
            .strip_prefix(kind)?
            .strip_prefix('-')?
            .strip_suffix(".bpk")?
            .parse()
            .ok()?;
        Some((kind, epoch))
    })
}

/// The epochs of the complete checkpoints [`fit`](super::fit) left in `dir` (its `dir`
/// argument), oldest first: those whose model, optimizer and scheduler files are all in
/// `dir/checkpoint`.
pub fn complete_checkpoints(dir: &Path) -> Vec<usize> {
    let mut kinds = std::collections::BTreeMap::<usize, usize>::new();
    let Ok(entries) = std::fs::read_dir(dir.join("checkpoint")) else {
        return Vec::new();
    };
    for entry in entries.flatten() {
        if let Some((_, epoch)) = entry.file_name().to_str().and_then(checkpoint_file) {
            *kinds.entry(epoch).or_default() += 1;
        }
    }
    kinds
        .into_iter()
        .filter(|&(_, n)| n == KINDS.len())
        .map(|(e, _)| e)
        .collect()
}

/// The newest complete checkpoint [`fit`](super::fit) left in `dir` (its `dir` argument): the
/// epoch whose model, optimizer and scheduler files are all in `dir/checkpoint` (an incomplete
/// set is skipped). Files are not read: see [`latest_readable_checkpoint`].
pub fn latest_checkpoint(dir: &Path) -> Option<usize> {
    complete_checkpoints(dir).pop()
}

/// Reads back the model, optimizer and scheduler records of `epoch` in `dir` (the `dir` of
/// [`fit`](super::fit)) as burn-train does when it resumes, so that a file cut short or
/// corrupt is an error, not a panic inside burn-train. (Records are checked as burnpack
/// files: their metadata and sizes; values are not checksummed.)
///
/// # Errors
/// [`Error::Checkpoint`] naming the first file that does not read back, and why.
pub fn check_checkpoint(dir: &Path, epoch: usize) -> Result<()> {
    read_records(dir, epoch).map(drop)
}

/// [`check_checkpoint`], then applies the model record to a copy of `sae` as burn-train does
/// when it resumes (where a mismatch panics). [`fit`](super::fit) calls it before resuming. A
/// model record saved with an older layout of [`Sae`](crate::Sae) is first rewritten for the
/// current one ([`upgrade_checkpoint`](super::upgrade_checkpoint)).
///
/// # Errors
/// [`Error::Checkpoint`] when a file does not read back; [`Error::CheckpointMismatch`] when
/// the model's tensors do not fit `sae` (another config).
pub fn check_checkpoint_fits(sae: &crate::Sae, dir: &Path, epoch: usize) -> Result<()> {
    use burn::module::Module;
    let mut model = read_records(dir, epoch)?;
    if super::upgrade_checkpoint(sae, &file(dir, "model", epoch), epoch)? > 0 {
        model = read_records(dir, epoch)?;
    }
    sae.clone()
        .try_load_record(model)
        .map(drop)
        .map_err(|e| Error::CheckpointMismatch {
            path: file(dir, "model", epoch),
            reason: one_line(&record_error(&e)),
        })
}

/// The path of one checkpoint file.
fn file(dir: &Path, kind: &str, epoch: usize) -> std::path::PathBuf {
    dir.join("checkpoint").join(format!("{kind}-{epoch}.bpk"))
}

/// Reads the three records of `epoch`; returns the model's.
fn read_records(dir: &Path, epoch: usize) -> Result<burn::store::ModuleRecord> {
    use burn::lr_scheduler::LrSchedulerRecord;
    use burn::optim::OptimizerRecord;
    use burn::store::ModuleRecord;
    use burn::train::checkpoint::Checkpoint;
    let error = |kind: &str| {
        let path = file(dir, kind, epoch);
        move |e| Error::Checkpoint {
            path,
            epoch,
            reason: reason(&e),
        }
    };
    let model =
        <ModuleRecord as Checkpoint>::load(file(dir, "model", epoch)).map_err(error("model"))?;
    <OptimizerRecord as Checkpoint>::load(file(dir, "optim", epoch)).map_err(error("optim"))?;
    <LrSchedulerRecord as Checkpoint>::load(file(dir, "scheduler", epoch))
        .map_err(error("scheduler"))?;
    Ok(model)
}

/// The message of a [`RecordError`](burn::store::RecordError), without Burn's prefix.
fn record_error(e: &burn::store::RecordError) -> String {
    use burn::store::RecordError as R;
    match e {
        R::Io(m) | R::Validation(m) => m.clone(),
    }
}

/// `text` on one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// burn-train's error about a checkpoint file, on one line.
fn reason(e: &burn::train::checkpoint::CheckpointerError) -> String {
    use burn::train::checkpoint::CheckpointerError as E;
    one_line(&match e {
        E::IOError(io) => io.to_string(),
        E::Record(r) => record_error(r),
        E::Unknown(m) => m.clone(),
    })
}

/// The newest complete checkpoint in `dir` (the `dir` of [`fit`](super::fit)) that reads back
/// ([`check_checkpoint`]), and the errors of the newer complete ones that do not, newest first:
/// where to resume after a crash while burn-train wrote its last checkpoint. Nothing is
/// removed; burn-train overwrites a skipped epoch's files when it trains that epoch again.
pub fn latest_readable_checkpoint(dir: &Path) -> (Option<usize>, Vec<Error>) {
    let mut skipped = Vec::new();
    for epoch in complete_checkpoints(dir).into_iter().rev() {
        match check_checkpoint(dir, epoch) {
            Ok(()) => return (Some(epoch), skipped),
            Err(e) => skipped.push(e),
        }
    }
    (None, skipped)
}

/// Removes burn-train's checkpoint files of the epochs for which `remove` holds in `dir` (the
/// checkpoint folder itself): those after the last good one of a diverged run (so that a
/// resumed run starts from good parameters), those older than the kept ones. Best effort: a
/// file that cannot be removed is left.
pub(super) fn remove_checkpoints_where(dir: &Path, remove: impl Fn(usize) -> bool) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let epoch = name.to_str().and_then(checkpoint_file).map(|(_, e)| e);
        if epoch.is_some_and(&remove) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod checkpoint_tests {
    use super::*;

    #[test]
    fn the_latest_checkpoint_is_the_newest_complete_set() {
        let dir = std::env::temp_dir().join(format!("sae-ckpt-{}", std::process::id()));
        let folder = dir.join("checkpoint");
        std::fs::create_dir_all(&folder).unwrap();
        for name in [
            "model-1.bpk",
            "optim-1.bpk",
            "scheduler-1.bpk",
            "model-2.bpk", // epoch 2 incomplete: killed while writing
            "model-3.bpk.123-0.tmp",
            "notes.txt",
        ] {
            std::fs::write(folder.join(name), b"").unwrap();
        }
        assert_eq!(latest_checkpoint(&dir), Some(1));
        assert_eq!(checkpoint_file("scheduler-12.bpk"), Some(("scheduler", 12)));
        assert_eq!(checkpoint_file("model-2.bpk.tmp"), None);
        remove_checkpoints_where(&folder, |e| e > 1);
        assert!(!folder.join("model-2.bpk").exists());
        assert!(folder.join("model-1.bpk").exists() && folder.join("notes.txt").exists());
        assert_eq!(latest_checkpoint(&dir.join("missing")), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
