//! Applying a penalty to the parameters of a whole Burn module.

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::Tensor;

use crate::param_selection::{ParamPath, ParamSelection};
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
    selection: ParamSelection,
}

impl<P: Penalty> ModulePenalty<P> {
    /// Applies `penalty` to every float parameter (narrow it with
    /// [`include`](Self::include) and [`exclude`](Self::exclude)).
    pub fn new(penalty: P) -> Self {
        Self {
            penalty,
            selection: ParamSelection::default(),
        }
    }

    /// Also selects the parameters whose path matches `pattern`. Once there is an include
    /// pattern, only matching parameters are selected.
    pub fn include(mut self, pattern: impl Into<String>) -> Self {
        self.selection.include.push(pattern.into());
        self
    }

    /// Leaves out the parameters whose path matches `pattern`.
    pub fn exclude(mut self, pattern: impl Into<String>) -> Self {
        self.selection.exclude.push(pattern.into());
        self
    }

    /// The wrapped penalty.
    pub fn penalty(&self) -> &P {
        &self.penalty
    }

    /// Whether a parameter with this dotted path is selected.
    pub fn selects(&self, path: &str) -> bool {
        self.selection.selects(path)
    }

    /// The paths of the parameters of `module` that this penalty applies to, in visiting order.
    pub fn selected_paths<M: Module>(&self, module: &M) -> Vec<String> {
        let selected = self.selection.selected(module);
        selected.into_iter().map(|(path, _)| path).collect()
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
            path: ParamPath::default(),
            total: None,
            error: None,
        };
        module.visit(&mut visitor);
        if let Some(error) = visitor.error {
            return Err(error);
        }
        visitor
            .total
            .ok_or_else(|| self.selection.nothing_selected())
    }
}

struct Summer<'a, P> {
    owner: &'a ModulePenalty<P>,
    path: ParamPath,
    total: Option<Tensor<1>>,
    error: Option<Error>,
}

impl<P: Penalty> ModuleVisitor for Summer<'_, P> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.enter(name);
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.exit();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if self.error.is_some() {
            return;
        }
        let path = self.path.current();
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
