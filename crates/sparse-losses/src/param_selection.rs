//! Selecting the float parameters of a module by their dotted path, with include and exclude
//! glob patterns: shared by [`ModulePenalty`](crate::ModulePenalty) and
//! [`ProxStep`](crate::ProxStep), whose docs describe the patterns.

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::tensor::Tensor;

use crate::Error;

/// Include and exclude patterns.
#[derive(Debug, Clone, Default)]
pub(crate) struct ParamSelection {
    /// Parameters matching any of these are selected (all of them when empty).
    pub(crate) include: Vec<String>,
    /// Parameters matching any of these are left out.
    pub(crate) exclude: Vec<String>,
}

impl ParamSelection {
    /// Whether a parameter with this dotted path is selected.
    pub(crate) fn selects(&self, path: &str) -> bool {
        let included =
            self.include.is_empty() || self.include.iter().any(|p| path_matches(p, path));
        included && !self.exclude.iter().any(|p| path_matches(p, path))
    }

    /// [`Error::NoParametersSelected`] with these patterns.
    pub(crate) fn nothing_selected(&self) -> Error {
        Error::NoParametersSelected {
            include: self.include.clone(),
            exclude: self.exclude.clone(),
        }
    }

    /// The selected float parameters of `module`: their paths and shapes, in visiting order.
    /// Shapes are read without initialising lazy parameters.
    pub(crate) fn selected<M: Module>(&self, module: &M) -> Vec<(String, Vec<usize>)> {
        let mut visitor = Collector {
            selection: self,
            path: ParamPath::default(),
            selected: Vec::new(),
        };
        module.visit(&mut visitor);
        visitor.selected
    }
}

/// The dotted path of the parameter a visitor or mapper is at, kept up to date by its
/// `enter_module` / `exit_module`.
#[derive(Debug, Default)]
pub(crate) struct ParamPath(Vec<String>);

impl ParamPath {
    pub(crate) fn enter(&mut self, name: &str) {
        self.0.push(name.to_string());
    }

    pub(crate) fn exit(&mut self) {
        self.0.pop();
    }

    /// `encoder.weight`, `layers.0.bias`, ...
    pub(crate) fn current(&self) -> String {
        self.0.join(".")
    }
}

struct Collector<'a> {
    selection: &'a ParamSelection,
    path: ParamPath,
    selected: Vec<(String, Vec<usize>)>,
}

impl ModuleVisitor for Collector<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.enter(name);
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.exit();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let path = self.path.current();
        if self.selection.selects(&path) {
            self.selected.push((path, param.lazy_shape().to_vec()));
        }
    }
}

/// `f(w)` computed without autodiff; an autodiff parameter gets its autodiff state back
/// (`require_grad`, distribution, checkpointing: what `burn-optim` does after an optimizer
/// step). Shared by [`ProxStep`](crate::ProxStep) and the pruning of a module.
pub(crate) fn outside_graph<const D: usize>(
    w: Tensor<D>,
    id: ParamId,
    f: impl FnOnce(Tensor<D>) -> crate::Result<Tensor<D>>,
) -> crate::Result<Tensor<D>> {
    if !w.is_autodiff() {
        return f(w);
    }
    let require_grad = w.is_require_grad();
    let distributed = w.is_distributed();
    let strategy = w.gradient_checkpointing_strategy();
    let mut updated = f(w.without_autodiff())?.autodiff();
    if let Some(strategy) = strategy {
        updated = updated.with_gradient_checkpointing_strategy(strategy);
    }
    if require_grad {
        updated = updated.require_grad();
    }
    if distributed {
        updated = updated.set_distributed(id);
    }
    Ok(updated)
}

/// Whether `pattern` matches the whole of `path` or one of its trailing component runs.
fn path_matches(pattern: &str, path: &str) -> bool {
    let pat: Vec<&str> = pattern.split('.').collect();
    let parts: Vec<&str> = path.split('.').collect();
    (0..parts.len()).any(|start| components_match(&pat, &parts[start..]))
}

/// Matches a list of pattern components against the whole list of path components.
fn components_match(pat: &[&str], parts: &[&str]) -> bool {
    match pat.split_first() {
        None => parts.is_empty(),
        Some((&"**", rest)) => (0..=parts.len()).any(|skip| components_match(rest, &parts[skip..])),
        Some((first, rest)) => match parts.split_first() {
            Some((part, others)) => {
                glob(first.as_bytes(), part.as_bytes()) && components_match(rest, others)
            }
            None => false,
        },
    }
}

/// `*`-glob on one component.
fn glob(pat: &[u8], text: &[u8]) -> bool {
    match pat.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|skip| glob(rest, &text[skip..])),
        Some((c, rest)) => text.first() == Some(c) && glob(rest, &text[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::{path_matches, ParamSelection};

    #[test]
    fn patterns() {
        assert!(path_matches("weight", "fc1.weight"));
        assert!(path_matches("weight", "weight"));
        assert!(!path_matches("weight", "fc1.bias"));
        assert!(!path_matches("weight", "fc1.weight_scale"));
        assert!(path_matches("fc1.weight", "model.fc1.weight"));
        assert!(!path_matches("fc1.weight", "xfc1.weight"));
        assert!(path_matches("*_proj.weight", "attn.q_proj.weight"));
        assert!(!path_matches("*_proj.weight", "attn.q_proj.bias"));
        assert!(path_matches("encoder.**", "encoder.layers.0.weight"));
        assert!(path_matches("encoder.**.weight", "net.encoder.a.b.weight"));
        assert!(!path_matches("encoder.**", "decoder.weight"));
        assert!(path_matches("layers.*.weight", "layers.3.weight"));
        assert!(!path_matches("layers.*.weight", "layers.3.inner.weight"));
    }

    #[test]
    fn include_then_exclude() {
        let all = ParamSelection::default();
        assert!(all.selects("fc1.bias") && all.selects("fc1.weight"));
        let some = ParamSelection {
            include: vec!["weight".into(), "bias".into()],
            exclude: vec!["head.**".into()],
        };
        assert!(some.selects("fc1.weight") && some.selects("fc1.bias"));
        assert!(!some.selects("head.weight") && !some.selects("fc1.scale"));
    }
}
