//! Applying a proximal operator to the parameters of a whole Burn module.

use burn::module::{Module, ModuleMapper, Param, ParamId};
use burn::tensor::Tensor;

use super::Prox;
use crate::param_selection::{outside_graph, ParamPath, ParamSelection};
use crate::{Error, Result};

/// The proximal half of a proximal-gradient step: after the optimizer has taken its step on
/// the smooth loss (without the penalty), replaces each selected float parameter `w` of a
/// Burn [`Module`] by `prox_{t·P}(w)` with `t = learning rate × factor`.
///
/// ```text
/// w ← w − η ∇f(w)           optimizer step on the loss f, penalty left out
/// w ← prox_{ηP}(w)          ProxStep::apply(model, η)
/// ```
///
/// With plain SGD this is ISTA (proximal gradient descent), which converges to the minimiser
/// of `f + P` for a learning rate below `1/L` and, unlike adding the penalty to the loss, puts
/// the pruned weights at exactly `+0.0`. After an adaptive optimizer (Adam), whose steps are
/// not `η ∇f`, it is a heuristic: weights still become exact zeros, but the threshold `ηλ` is
/// no longer matched to the size of the gradient step.
///
/// Parameters are selected by path with the same patterns as
/// [`ModulePenalty`](crate::ModulePenalty) (`include("weight")`, `exclude("head.**")`, ...; with
/// no include pattern every float parameter is selected). Each selected parameter gets the
/// prox of its whole tensor, so per-parameter quantities are per tensor (the `n` of an L1 with
/// the `mean` reduction, the groups of a [`GroupLasso`](crate::GroupLasso)).
///
/// The prox runs **outside the autodiff graph**: on an autodiff device each parameter is
/// taken off autodiff, updated on the inner backend and put back with its autodiff state
/// (gradient requirement, checkpointing strategy, distribution), as Burn's optimizers do.
/// Parameter ids are kept, so the optimizer's state (Adam's moments) still applies, and so is
/// each parameter's `require_grad` setting; frozen parameters are updated too when selected.
/// It works the same on a device without autodiff.
///
/// ```
/// use burn::nn::{Linear, LinearConfig};
/// use burn::optim::{GradientsParams, SgdConfig};
/// use burn::prelude::*;
/// use sparse_losses::prelude::*;
///
/// let device = Device::flex().autodiff();
/// device.seed(1);
/// // y = 3 x₀: only the first of 4 inputs matters.
/// let x = Tensor::<2>::random([64, 4], burn::tensor::Distribution::Normal(0.0, 1.0), &device);
/// let y = x.clone().slice(s![.., 0..1]).mul_scalar(3.0);
///
/// let mut model: Linear = LinearConfig::new(4, 1).init(&device);
/// // One group per input row of the weight [d_input, d_output]; biases left alone.
/// let prox = ProxStep::new(GroupLassoConfig::new().with_lambda(0.1).init()?).include("weight");
/// assert_eq!(prox.selected_paths(&model), ["weight"]);
///
/// let mut optim = SgdConfig::new().init();
/// let lr = 0.2;
/// for _ in 0..200 {
///     let mse = (model.forward(x.clone()) - y.clone()).square().mean();
///     let grads = GradientsParams::from_grads(mse.backward(), &model);
///     model = optim.step(lr, model, grads); // the gradient step on the loss alone,
///     model = prox.apply(model, lr)?; // then the prox with t = lr
/// }
/// let w: Vec<f32> = model.weight.val().into_data().try_into_vec().unwrap();
/// assert!((w[0] - 3.0).abs() < 0.1); // shrunk a little towards 0
/// assert_eq!(&w[1..], [0.0, 0.0, 0.0]); // exactly pruned
/// # Ok::<(), Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ProxStep<P> {
    penalty: P,
    selection: ParamSelection,
    factor: f64,
}

impl<P: Prox> ProxStep<P> {
    /// Applies the prox of `penalty` to every float parameter (narrow it with
    /// [`include`](Self::include) and [`exclude`](Self::exclude)), with step = learning rate.
    pub fn new(penalty: P) -> Self {
        Self {
            penalty,
            selection: ParamSelection::default(),
            factor: 1.0,
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

    /// Multiplies the learning rate by `factor` to get the step `t` (default 1), e.g. to
    /// match a loss that is scaled differently from the one the learning rate was tuned for.
    /// The product is checked by [`apply`](Self::apply).
    pub fn with_factor(mut self, factor: f64) -> Self {
        self.factor = factor;
        self
    }

    /// The wrapped penalty.
    pub fn penalty(&self) -> &P {
        &self.penalty
    }

    /// The step `t` used for a learning rate: `learning_rate × factor`.
    pub fn step_size(&self, learning_rate: f64) -> f64 {
        learning_rate * self.factor
    }

    /// Whether a parameter with this dotted path is selected.
    pub fn selects(&self, path: &str) -> bool {
        self.selection.selects(path)
    }

    /// The paths of the parameters of `module` that the prox applies to, in visiting order.
    pub fn selected_paths<M: Module>(&self, module: &M) -> Vec<String> {
        let selected = self.selection.selected(module);
        selected.into_iter().map(|(path, _)| path).collect()
    }

    /// Replaces every selected parameter `w` of `module` by `prox_{t·P}(w)`, with
    /// `t = learning_rate × factor`, and returns the module.
    ///
    /// Everything is checked before any parameter is touched, so an error never leaves a
    /// half-updated model behind (the module is consumed, as by an optimizer step).
    ///
    /// # Errors
    /// [`Error::InvalidStep`] when `t` is not finite and `> 0` or outside the operator's domain;
    /// [`Error::NoProximalOperator`] for an [`AnyPenalty`](crate::AnyPenalty) without a prox;
    /// [`Error::NoParametersSelected`] when nothing matches; [`Error::Parameter`] (naming the
    /// path) when a parameter's shape does not suit the prox, e.g. a group-lasso axis the
    /// tensor does not have.
    pub fn apply<M: Module>(&self, module: M, learning_rate: f64) -> Result<M> {
        let step = self.step_size(learning_rate);
        let selected = self.selection.selected(&module);
        if selected.is_empty() {
            return Err(self.selection.nothing_selected());
        }
        for (path, dims) in selected {
            self.penalty
                .check_prox(&dims, step)
                .map_err(|error| for_parameter(error, path))?;
        }
        let mut mapper = ProxMapper {
            penalty: &self.penalty,
            selection: &self.selection,
            step,
            path: ParamPath::default(),
            error: None,
        };
        let module = module.map(&mut mapper);
        match mapper.error {
            Some(error) => Err(error),
            None => Ok(module),
        }
    }
}

/// Names the parameter in a shape error; errors of the step or the penalty itself, which do
/// not depend on the parameter, are returned as they are.
fn for_parameter(error: Error, path: String) -> Error {
    match error {
        Error::InvalidStep { .. } | Error::NoProximalOperator { .. } => error,
        source => Error::Parameter {
            path,
            source: Box::new(source),
        },
    }
}

struct ProxMapper<'a, P> {
    penalty: &'a P,
    selection: &'a ParamSelection,
    step: f64,
    path: ParamPath,
    error: Option<Error>,
}

impl<P: Prox> ModuleMapper for ProxMapper<'_, P> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.enter(name);
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.exit();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let path = self.path.current();
        if self.error.is_some() || !self.selection.selects(&path) {
            return param;
        }
        let id = param.id;
        let mut failure = None;
        // `Param::map` keeps the id and the configured `require_grad` state.
        let param =
            param.map(
                |w| match prox_outside_graph(self.penalty, w.clone(), self.step, id) {
                    Ok(updated) => updated,
                    Err(error) => {
                        failure = Some(error);
                        w
                    }
                },
            );
        if let Some(error) = failure {
            self.error = Some(for_parameter(error, path));
        }
        param
    }
}

/// The prox of `w` computed without autodiff ([`outside_graph`]).
fn prox_outside_graph<P: Prox, const D: usize>(
    penalty: &P,
    w: Tensor<D>,
    step: f64,
    id: ParamId,
) -> Result<Tensor<D>> {
    outside_graph(w, id, |w| penalty.prox(w, step))
}

#[cfg(test)]
mod tests {
    use burn::nn::{Linear, LinearConfig};
    use burn::prelude::*;

    use crate::{Error, GroupLassoConfig, L1Config, PenaltyConfig, ProxStep};

    #[derive(Module, Debug)]
    struct Net {
        hidden: Linear,
        out: Linear,
    }

    impl Net {
        fn new(device: &Device) -> Self {
            Self {
                hidden: LinearConfig::new(3, 4).init(device),
                out: LinearConfig::new(4, 2).init(device),
            }
        }

        fn forward(&self, x: Tensor<2>) -> Tensor<2> {
            self.out.forward(self.hidden.forward(x))
        }
    }

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_into_vec().unwrap()
    }

    fn bias(layer: &Linear) -> Vec<f32> {
        values(layer.bias.as_ref().unwrap().val())
    }

    #[test]
    fn only_the_selected_parameters_change() {
        let net = Net::new(&Device::flex());
        // λ so large that every selected element becomes 0.
        let prox = ProxStep::new(L1Config::new().with_lambda(1e6).init().unwrap())
            .include("weight")
            .exclude("out.**");
        assert_eq!(prox.selected_paths(&net), ["hidden.weight"]);
        assert!(prox.selects("hidden.weight") && prox.selects("model.hidden.weight"));
        assert!(!prox.selects("hidden.bias") && !prox.selects("out.weight"));
        let (out_w, hidden_b, out_b) = (
            values(net.out.weight.val()),
            bias(&net.hidden),
            bias(&net.out),
        );
        assert!(values(net.hidden.weight.val()).iter().all(|&v| v != 0.0));

        let net = prox.apply(net, 1.0).unwrap();
        let hidden_w = values(net.hidden.weight.val());
        assert_eq!(hidden_w, [0.0; 12]);
        assert!(hidden_w.iter().all(|v| v.is_sign_positive()), "no -0.0");
        assert_eq!(values(net.out.weight.val()), out_w);
        assert_eq!(bias(&net.hidden), hidden_b);
        assert_eq!(bias(&net.out), out_b);

        // No include pattern: every float parameter, in visiting order.
        let all = ProxStep::new(L1Config::new().init().unwrap());
        assert_eq!(
            all.selected_paths(&net),
            ["hidden.weight", "hidden.bias", "out.weight", "out.bias"]
        );
    }

    #[test]
    fn keeps_ids_gradient_requirements_and_the_autodiff_graph() {
        let device = Device::flex().autodiff();
        let mut net = Net::new(&device);
        net.out = net.out.no_grad();
        let ids = (net.hidden.weight.id, net.out.weight.id);
        let before = values(net.hidden.weight.val());
        // t·λ = 0.05, with a factor of 0.5 on the learning rate 0.2.
        let prox = ProxStep::new(L1Config::new().with_lambda(0.5).init().unwrap())
            .include("weight")
            .with_factor(0.5);
        assert_eq!(prox.step_size(0.2), 0.1);
        let net = prox.apply(net, 0.2).unwrap();

        assert_eq!((net.hidden.weight.id, net.out.weight.id), ids);
        let w = net.hidden.weight.val();
        assert!(w.is_autodiff() && w.is_require_grad());
        assert!(!net.out.weight.val().is_require_grad());
        let expected: Vec<f32> = before
            .iter()
            .map(|&v| {
                if v.abs() <= 0.05 {
                    0.0
                } else {
                    v - 0.05 * v.signum()
                }
            })
            .collect();
        let got = values(w);
        for (g, e) in got.iter().zip(&expected) {
            assert!((g - e).abs() < 1e-6, "{got:?} != {expected:?}");
        }

        // The updated parameters are leaves again: gradients reach the trainable ones only.
        let x = Tensor::<2>::ones([2, 3], &device);
        let grads = net.forward(x).sum().backward();
        let g = net.hidden.weight.val().grad(&grads).expect("a gradient");
        assert_eq!(g.dims(), [3, 4]);
        assert!(net.out.weight.val().grad(&grads).is_none());
    }

    #[test]
    fn works_on_a_device_without_autodiff() {
        let net = Net::new(&Device::flex());
        let prox = ProxStep::new(GroupLassoConfig::new().with_lambda(1e6).init().unwrap())
            .include("hidden.weight");
        let net = prox.apply(net, 1.0).unwrap();
        assert!(!net.hidden.weight.val().is_autodiff());
        assert_eq!(values(net.hidden.weight.val()), [0.0; 12]);
    }

    #[test]
    fn errors_are_typed_and_checked_before_any_update() {
        let device = Device::flex();
        let l1 = || ProxStep::new(L1Config::new().init().unwrap());
        for lr in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let err = l1().apply(Net::new(&device), lr).unwrap_err();
            assert!(
                matches!(err, Error::InvalidStep { item: "l1", step, .. } if step.to_bits() == lr.to_bits()),
                "{err:?}"
            );
        }
        let err = l1().with_factor(0.0).apply(Net::new(&device), 1.0);
        assert!(matches!(err, Err(Error::InvalidStep { step, .. }) if step == 0.0));

        let err = l1().include("encoder").apply(Net::new(&device), 1.0);
        assert_eq!(
            err.unwrap_err(),
            Error::NoParametersSelected {
                include: vec!["encoder".into()],
                exclude: vec![]
            }
        );

        let hoyer = PenaltyConfig::default_for("hoyer").unwrap().init().unwrap();
        let err = ProxStep::new(hoyer).apply(Net::new(&device), 1.0);
        assert_eq!(
            err.unwrap_err(),
            Error::NoProximalOperator { item: "hoyer" }
        );

        // Grouping along axis 1 fits the weights but not the rank-1 biases.
        let by_column = GroupLassoConfig::new().with_axis(1).init().unwrap();
        let err = ProxStep::new(by_column).apply(Net::new(&device), 1.0);
        assert_eq!(
            err.unwrap_err(),
            Error::Parameter {
                path: "hidden.bias".into(),
                source: Box::new(Error::AxisOutOfRange {
                    item: "group_lasso",
                    axis: 1,
                    rank: 1
                })
            }
        );
    }
}
