//! Applying a penalty to the parameters of a whole Burn module.

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::Tensor;

use crate::{Error, Penalty, Result};

/// Applies a [`Penalty`] to the float parameters of any Burn [`Module`], selected by their
/// path, and sums the results into one differentiable scalar.
///
/// A parameter's path is the dotted list of field names that leads to it, e.g.
/// `encoder.weight`, `layers.0.bias` (`Vec` elements are named by their index). Patterns:
///
/// - a pattern is a dotted list of components; it matches a parameter when it matches the
///   whole path or any of its trailing parts (`weight` matches `fc1.weight` and
///   `encoder.fc.weight`; `fc1.weight` matches `model.fc1.weight` but not `xfc1.weight`);
/// - `*` inside a component matches any characters but `.` (`*_proj.weight`); `**` as a
///   component matches any number of components (`encoder.**`).
///
/// With no `include` pattern every float parameter is selected; `exclude` patterns then
/// remove parameters. Parameters are penalised with their full tensor, whatever their rank.
///
/// ```
/// use burn::nn::{Linear, LinearConfig};
/// use burn::optim::{AdamConfig, GradientsParams};
/// use burn::prelude::*;
/// use sparse_losses::prelude::*;
///
/// #[derive(Module, Debug)]
/// struct Net {
///     hidden: Linear,
///     out: Linear,
/// }
///
/// let device = Device::flex().autodiff();
/// let mut net = Net {
///     hidden: LinearConfig::new(8, 16).init(&device),
///     out: LinearConfig::new(16, 1).init(&device),
/// };
/// // L1 on every weight matrix, biases left alone.
/// let l1 = ModulePenalty::new(L1Config::new().with_lambda(1e-3).init()?).include("weight");
/// assert_eq!(l1.selected_paths(&net), ["hidden.weight", "out.weight"]);
///
/// let mut optim = AdamConfig::new().init();
/// let x = Tensor::<2>::random([32, 8], burn::tensor::Distribution::Default, &device);
/// let y = x.clone().sum_dim(1);
/// for _ in 0..3 {
///     let pred = net.out.forward(burn::tensor::activation::relu(net.hidden.forward(x.clone())));
///     let mse = (pred - y.clone()).square().mean();
///     let loss = mse + l1.forward(&net)?;
///     let grads = GradientsParams::from_grads(loss.backward(), &net);
///     net = optim.step(1e-2, net, grads);
/// }
/// # Ok::<(), sparse_losses::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ModulePenalty<P> {
    penalty: P,
    include: Vec<String>,
    exclude: Vec<String>,
}

impl<P: Penalty> ModulePenalty<P> {
    /// Applies `penalty` to every float parameter (narrow it with
    /// [`include`](Self::include) and [`exclude`](Self::exclude)).
    pub fn new(penalty: P) -> Self {
        Self {
            penalty,
            include: Vec::new(),
            exclude: Vec::new(),
        }
    }

    /// Also selects the parameters whose path matches `pattern`. Once there is an include
    /// pattern, only matching parameters are selected.
    pub fn include(mut self, pattern: impl Into<String>) -> Self {
        self.include.push(pattern.into());
        self
    }

    /// Leaves out the parameters whose path matches `pattern`.
    pub fn exclude(mut self, pattern: impl Into<String>) -> Self {
        self.exclude.push(pattern.into());
        self
    }

    /// The wrapped penalty.
    pub fn penalty(&self) -> &P {
        &self.penalty
    }

    /// Whether a parameter with this dotted path is selected.
    pub fn selects(&self, path: &str) -> bool {
        let included =
            self.include.is_empty() || self.include.iter().any(|p| path_matches(p, path));
        included && !self.exclude.iter().any(|p| path_matches(p, path))
    }

    /// The paths of the parameters of `module` that this penalty applies to, in visiting order.
    pub fn selected_paths<M: Module>(&self, module: &M) -> Vec<String> {
        let mut visitor = PathCollector {
            owner: self,
            path: Vec::new(),
            selected: Vec::new(),
        };
        module.visit(&mut visitor);
        visitor.selected
    }

    /// The sum of the penalty over the selected parameters of `module`, shape `[1]`,
    /// differentiable with respect to those parameters.
    ///
    /// # Errors
    /// [`Error::NoParametersSelected`] when nothing matches, and
    /// [`Error::Parameter`] (naming the path) when the penalty fails on a parameter,
    /// e.g. a rank the penalty does not accept.
    pub fn forward<M: Module>(&self, module: &M) -> Result<Tensor<1>> {
        let mut visitor = Summer {
            owner: self,
            path: Vec::new(),
            total: None,
            error: None,
        };
        module.visit(&mut visitor);
        if let Some(error) = visitor.error {
            return Err(error);
        }
        visitor.total.ok_or_else(|| Error::NoParametersSelected {
            include: self.include.clone(),
            exclude: self.exclude.clone(),
        })
    }
}

struct PathCollector<'a, P> {
    owner: &'a ModulePenalty<P>,
    path: Vec<String>,
    selected: Vec<String>,
}

impl<P: Penalty> ModuleVisitor for PathCollector<'_, P> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, _param: &Param<Tensor<D>>) {
        let path = self.path.join(".");
        if self.owner.selects(&path) {
            self.selected.push(path);
        }
    }
}

struct Summer<'a, P> {
    owner: &'a ModulePenalty<P>,
    path: Vec<String>,
    total: Option<Tensor<1>>,
    error: Option<Error>,
}

impl<P: Penalty> ModuleVisitor for Summer<'_, P> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if self.error.is_some() {
            return;
        }
        let path = self.path.join(".");
        if !self.owner.selects(&path) {
            return;
        }
        match self.owner.penalty.forward(param.val()) {
            Ok(value) => {
                self.total = Some(match self.total.take() {
                    Some(total) => total + value,
                    None => value,
                })
            }
            Err(source) => {
                self.error = Some(Error::Parameter {
                    path,
                    source: Box::new(source),
                })
            }
        }
    }
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
    use super::path_matches;

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
}
