//! Pruning the layers of a whole Burn module, layer after layer, and keeping pruned weights at
//! zero while it trains ([`PruneMasks`]).

use std::time::Instant;

use burn::module::{Module, ModuleMapper, Param};
use burn::prelude::*;
use burn::tensor::TensorData;
use serde::Serialize;

use super::{prune_tensor, PruneMethod, PrunePattern};
use crate::param_selection::{outside_graph, ParamPath, ParamSelection};
use crate::{Error, Result};

/// Prunes the weights of a module's layers: `Linear` weights (Burn's `[in, out]`, read as
/// `W [out, in]`) and convolution weights (`[out, in, kh, kw]`, read as `[out, in·kh·kw]`),
/// selected by their dotted path with the include and exclude patterns of
/// [`ModulePenalty`](crate::ModulePenalty) (by default every rank-2 or rank-4 parameter called
/// `weight`).
///
/// The layers are pruned one after the other in the module's order; Wanda and SparseGPT get
/// each layer's calibration inputs from a closure that sees the module with the layers before
/// it already pruned (as both papers do).
///
/// ```
/// use burn::nn::{Linear, LinearConfig};
/// use burn::prelude::*;
/// use sparse_losses::prune::{ModulePruner, PruneMethod, PrunePattern};
///
/// #[derive(Module, Debug)]
/// struct Mlp { a: Linear, b: Linear }
///
/// let device = Device::flex();
/// let mlp = Mlp { a: LinearConfig::new(8, 16).init(&device), b: LinearConfig::new(16, 4).init(&device) };
/// let x = Tensor::<2>::random([32, 8], burn::tensor::Distribution::Default, &device);
/// let pruner = ModulePruner::new(PruneMethod::Wanda, PrunePattern::NOfM { n: 2, m: 4 });
/// // Each layer's inputs, computed with the layers before it already pruned.
/// let out = pruner.prune(mlp, |m: &Mlp, path| match path {
///     "a.weight" => x.clone(),
///     _ => m.a.forward(x.clone()),
/// })?;
/// assert_eq!(out.report.layers.len(), 2);
/// assert!(out.report.layers.iter().all(|l| l.sparsity == 0.5));
/// # Ok::<(), sparse_losses::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ModulePruner {
    method: PruneMethod,
    pattern: PrunePattern,
    selection: ParamSelection,
}

/// One layer's line of a [`PruneReport`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerReport {
    /// The weight's dotted path.
    pub path: String,
    /// The parameter's shape as Burn stores it.
    pub shape: Vec<usize>,
    /// Weights pruned.
    pub pruned: usize,
    /// Weights in the layer.
    pub total: usize,
    /// `pruned / total`.
    pub sparsity: f64,
    /// Seconds spent pruning it (calibration inputs included).
    pub seconds: f64,
}

/// What [`ModulePruner::prune`] did, layer by layer (serialises to JSON).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PruneReport {
    /// The method's name.
    pub method: String,
    /// The pattern.
    pub pattern: PrunePattern,
    /// One line per pruned layer, in order.
    pub layers: Vec<LayerReport>,
}

impl PruneReport {
    /// The fraction of all pruned layers' weights that is pruned.
    pub fn sparsity(&self) -> f64 {
        let total: usize = self.layers.iter().map(|l| l.total).sum();
        let pruned: usize = self.layers.iter().map(|l| l.pruned).sum();
        pruned as f64 / total.max(1) as f64
    }

    /// A Markdown table: one row per layer and a total.
    pub fn table(&self) -> String {
        let mut out = String::from(
            "| layer | shape | pruned | sparsity | seconds |\n| --- | --- | --- | --- | --- |\n",
        );
        for l in &self.layers {
            out.push_str(&format!(
                "| {} | {:?} | {} / {} | {:.3} | {:.3} |\n",
                l.path, l.shape, l.pruned, l.total, l.sparsity, l.seconds
            ));
        }
        let total: usize = self.layers.iter().map(|l| l.total).sum();
        let pruned: usize = self.layers.iter().map(|l| l.pruned).sum();
        let seconds: f64 = self.layers.iter().map(|l| l.seconds).sum();
        out.push_str(&format!(
            "| all | | {pruned} / {total} | {:.3} | {seconds:.3} |\n",
            self.sparsity()
        ));
        out
    }
}

/// The masks of a pruned module (1 kept, 0 pruned), each in its parameter's own layout:
/// [`apply`](Self::apply) after every optimizer step keeps the pruned weights exactly 0.
#[derive(Debug, Clone, Default)]
pub struct PruneMasks {
    /// `(path, mask)` per pruned parameter.
    pub masks: Vec<(String, TensorData)>,
}

/// A pruned module, its masks and its report.
#[derive(Debug, Clone)]
pub struct PrunedModule<M> {
    /// The module with the pruned weights (exact zeros).
    pub model: M,
    /// The masks, to keep the zeros while the module trains.
    pub masks: PruneMasks,
    /// What was pruned, layer by layer.
    pub report: PruneReport,
}

/// `W [out, in]` of a parameter of rank 2 (`[in, out]`) or 4 (`[out, in, kh, kw]`).
fn as_matrix<const D: usize>(t: Tensor<D>) -> Tensor<2> {
    let dims = t.dims();
    match D {
        2 => t.reshape([dims[0], dims[1]]).transpose(),
        _ => {
            let out = dims[0];
            let rest: usize = dims[1..].iter().product();
            t.reshape([out, rest])
        }
    }
}

/// A `W [out, in]` back in the parameter's layout `dims`.
fn from_matrix<const D: usize>(m: Tensor<2>, dims: [usize; D]) -> Tensor<D> {
    match D {
        2 => m.transpose().reshape(dims),
        _ => m.reshape(dims),
    }
}

impl ModulePruner {
    /// A pruner of `method` for `pattern`.
    pub fn new(method: PruneMethod, pattern: PrunePattern) -> Self {
        Self {
            method,
            pattern,
            selection: ParamSelection::default(),
        }
    }

    /// Also prunes the parameters whose path matches `pattern` (see
    /// [`ModulePenalty::include`](crate::ModulePenalty::include)); once one is given, only
    /// the included ones are pruned.
    pub fn include(mut self, pattern: impl Into<String>) -> Self {
        self.selection.include.push(pattern.into());
        self
    }

    /// Leaves out the parameters whose path matches `pattern`.
    pub fn exclude(mut self, pattern: impl Into<String>) -> Self {
        self.selection.exclude.push(pattern.into());
        self
    }

    /// The paths and shapes of the weights it would prune, in order.
    pub fn layers<M: Module>(&self, module: &M) -> Vec<(String, Vec<usize>)> {
        let mut selection = self.selection.clone();
        if selection.include.is_empty() {
            selection.include.push("weight".into());
        }
        selection
            .selected(module)
            .into_iter()
            .filter(|(_, dims)| dims.len() == 2 || dims.len() == 4)
            .collect()
    }

    /// Prunes the selected layers of `module` in order. `inputs(module, path)` returns the
    /// calibration inputs `[n, in]` of the layer whose weight is at `path` (for a convolution,
    /// its unfolded patches `[n, in·kh·kw]`), computed with `module` as pruned so far; it is
    /// not called for magnitude pruning.
    ///
    /// # Errors
    /// [`Error::NoParametersSelected`]; the method's errors, naming the layer
    /// ([`Error::Parameter`]).
    pub fn prune<M: Module>(
        &self,
        module: M,
        mut inputs: impl FnMut(&M, &str) -> Tensor<2>,
    ) -> Result<PrunedModule<M>> {
        let layers = self.layers(&module);
        if layers.is_empty() {
            return Err(self.selection.nothing_selected());
        }
        let mut module = module;
        let mut masks = PruneMasks::default();
        let mut report = PruneReport {
            method: self.method.name().into(),
            pattern: self.pattern,
            layers: Vec::new(),
        };
        for (path, shape) in layers {
            let started = Instant::now();
            let x = match self.method {
                PruneMethod::Magnitude => None,
                _ => Some(inputs(&module, &path)),
            };
            let mut mapper = LayerMapper {
                target: &path,
                path: ParamPath::default(),
                method: &self.method,
                pattern: self.pattern,
                x,
                mask: None,
                error: None,
            };
            module = module.map(&mut mapper);
            if let Some(error) = mapper.error {
                return Err(Error::Parameter {
                    path,
                    source: Box::new(error),
                });
            }
            let mask = mapper.mask.expect("the selected parameter was visited");
            let values: Vec<f32> = mask
                .clone()
                .convert::<f32>()
                .try_to_vec::<f32>()
                .expect("a mask converts to f32");
            let total = values.len();
            let pruned = values.iter().filter(|v| **v == 0.0).count();
            report.layers.push(LayerReport {
                path: path.clone(),
                shape,
                pruned,
                total,
                sparsity: pruned as f64 / total.max(1) as f64,
                seconds: started.elapsed().as_secs_f64(),
            });
            masks.masks.push((path, mask));
        }
        Ok(PrunedModule {
            model: module,
            masks,
            report,
        })
    }
}

struct LayerMapper<'a> {
    target: &'a str,
    path: ParamPath,
    method: &'a PruneMethod,
    pattern: PrunePattern,
    x: Option<Tensor<2>>,
    mask: Option<TensorData>,
    error: Option<Error>,
}

impl ModuleMapper for LayerMapper<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.enter(name);
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.exit();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if self.path.current() != self.target {
            return param;
        }
        let id = param.id;
        let mut mask = None;
        let mut failure = None;
        let param = param.map(|w| {
            let dims = w.dims();
            let result = outside_graph(w.clone(), id, |plain| {
                let x = self.x.clone().map(|x| x.to_device(&plain.device()));
                let (m, pruned) = prune_tensor(as_matrix(plain), x, self.method, self.pattern)?;
                mask = Some(from_matrix(m, dims).into_data());
                Ok(from_matrix(pruned, dims))
            });
            match result {
                Ok(updated) => updated,
                Err(error) => {
                    failure = Some(error);
                    w
                }
            }
        });
        self.mask = mask;
        self.error = failure;
        param
    }
}

impl PruneMasks {
    /// `module` with every masked parameter multiplied by its mask, outside the autodiff graph
    /// (after an optimizer step: the pruned weights are exactly 0 again).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when a parameter no longer has its mask's shape.
    pub fn apply<M: Module>(&self, module: M) -> Result<M> {
        let mut mapper = MaskMapper {
            masks: self,
            path: ParamPath::default(),
            error: None,
        };
        let module = module.map(&mut mapper);
        match mapper.error {
            Some(e) => Err(e),
            None => Ok(module),
        }
    }

    /// The pruned model for deployment: its masked weights set to exact zeros once more
    /// ([`apply`](Self::apply)), as plain Burn modules with nothing of the pruning left in them
    /// (no mask parameters, no wrapper layers), saved with Burn's recorders like any model.
    ///
    /// # Errors
    /// As [`apply`](Self::apply).
    pub fn squash<M: Module>(&self, module: M) -> Result<M> {
        self.apply(module)
    }

    /// The fraction of masked weights that are pruned.
    pub fn sparsity(&self) -> f64 {
        let (mut zeros, mut total) = (0usize, 0usize);
        for (_, m) in &self.masks {
            let v: Vec<f32> = m
                .clone()
                .convert::<f32>()
                .try_to_vec::<f32>()
                .expect("f32 mask");
            zeros += v.iter().filter(|x| **x == 0.0).count();
            total += v.len();
        }
        zeros as f64 / total.max(1) as f64
    }
}

struct MaskMapper<'a> {
    masks: &'a PruneMasks,
    path: ParamPath,
    error: Option<Error>,
}

impl ModuleMapper for MaskMapper<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.enter(name);
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.exit();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let path = self.path.current();
        let Some((_, mask)) = self.masks.masks.iter().find(|(p, _)| *p == path) else {
            return param;
        };
        let id = param.id;
        let mut failure = None;
        let param = param.map(|w| {
            if mask.shape().as_slice() != w.dims().as_slice() {
                failure = Some(Error::ShapeMismatch {
                    what: "prune masks: a parameter and its mask",
                    left: w.dims().to_vec(),
                    right: mask.shape().to_vec(),
                });
                return w;
            }
            outside_graph(w.clone(), id, |plain| {
                let m = Tensor::<D>::from_data(mask.clone(), &plain.device());
                Ok(plain * m)
            })
            .unwrap_or(w)
        });
        if failure.is_some() && self.error.is_none() {
            self.error = failure;
        }
        param
    }
}
