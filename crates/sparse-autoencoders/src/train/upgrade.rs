//! Checkpoints saved before a change of [`Sae`]'s layout, mapped onto the current one.
//!
//! Burn applies a record by module path (`w_enc`, `arch.JumpRelu.thresholds.log_threshold`).
//! Until version 0.1's architecture registry the architecture's parameters were fields of `Sae`
//! (`jump_relu.log_threshold`, `r_mag`, `b_mag`, `threshold`); they now live in
//! [`Sae::arch`]. Every parameter keeps its fixed id across layouts, so a tensor whose path the
//! model does not have is renamed to the path of the model's parameter with the same id.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;

use crate::{Error, Result, Sae};

/// The model's parameters: path → id, and id → path.
#[derive(Default)]
struct Paths {
    stack: Vec<String>,
    by_id: BTreeMap<u64, String>,
    paths: BTreeSet<String>,
}

impl Paths {
    fn add(&mut self, id: u64) {
        let path = self.stack.join(".");
        self.by_id.insert(id, path.clone());
        self.paths.insert(path);
    }
}

impl ModuleVisitor for Paths {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.stack.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.stack.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.add(param.id.val());
    }

    fn visit_int<const D: usize>(&mut self, param: &Param<Tensor<D, Int>>) {
        self.add(param.id.val());
    }

    fn visit_bool<const D: usize>(&mut self, param: &Param<Tensor<D, Bool>>) {
        self.add(param.id.val());
    }
}

/// Rewrites the model record `file` (a burnpack file, e.g. burn-train's
/// `checkpoint/model-E.bpk`) for the current layout of `sae` when it was saved with an older
/// one: each tensor whose path `sae` does not have is renamed to the path of `sae`'s parameter
/// with the same id. The file is replaced atomically (written beside it, then renamed), and
/// only when a path changes. Returns the number of tensors renamed (0: already current).
///
/// # Errors
/// [`Error::Checkpoint`] when the file does not read back or cannot be written.
pub fn upgrade_checkpoint(sae: &Sae, file: &Path, epoch: usize) -> Result<usize> {
    let error = |reason: String| Error::Checkpoint {
        path: file.to_path_buf(),
        epoch,
        reason,
    };
    let mut model = Paths::default();
    sae.visit(&mut model);
    let tensors = burn_pack::Reader::from_file(file)
        .and_then(|r| r.into_tensors())
        .map_err(|e| error(e.to_string()))?;
    let mut renamed = 0;
    let mut out = Vec::with_capacity(tensors.len());
    for t in tensors {
        let (path, dtype, shape, id, bytes) = t.into_parts().map_err(|e| error(e.to_string()))?;
        let path = match id.and_then(|id| model.by_id.get(&id)) {
            Some(current) if !model.paths.contains(&path) => {
                renamed += 1;
                current.clone()
            }
            _ => path,
        };
        out.push(burn_pack::Tensor::new(path, dtype, shape, id, bytes));
    }
    if renamed > 0 {
        burn_pack::Writer::new(out)
            .auto_extension(false)
            .write_to_file(file)
            .map_err(|e| error(e.to_string()))?;
    }
    Ok(renamed)
}
