//! The backward steps of the sparse products in Burn's autodiff graph.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{binary, Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{get_device_settings, Autodiff, TensorMetadata};
use burn::tensor::Shape;

use super::SparseMatmulOps;

/// The decoder's `codes · weight`: the codes get `grad · weightᵀ` (only on their support when
/// `on_support`), the weight `codesᵀ · grad` (sparse).
#[derive(Debug)]
pub(super) struct SparseMatmulBackward {
    /// The codes' gradient only where they are nonzero.
    pub on_support: bool,
}

impl SparseMatmulBackward {
    /// Computes the product on `B` and records it. `None` when `B` has no sparse product for
    /// these codes and `on_support` is off (the caller's `matmul` is then the same thing);
    /// with `on_support` the product falls back to a GEMM and is recorded all the same.
    pub(super) fn record<B: SparseMatmulOps, C: CheckpointStrategy>(
        self,
        codes: FloatTensor<Autodiff<B, C>>,
        weight: FloatTensor<Autodiff<B, C>>,
    ) -> Option<FloatTensor<Autodiff<B, C>>> {
        let (codes, codes_node) = codes.into_parts();
        let (weight, weight_node) = weight.into_parts();
        let out = match B::sparse_matmul(codes.clone(), weight.clone(), false) {
            Some(out) => out,
            None if self.on_support => B::float_matmul(codes.clone(), weight.clone()),
            None => return None,
        };
        Some(
            match self
                .prepare::<C>([codes_node, weight_node])
                .compute_bound()
                .stateful()
            {
                OpsKind::Tracked(prep) => prep.finish((codes, weight), out),
                OpsKind::UnTracked(prep) => prep.finish(out),
            },
        )
    }
}

impl<B: SparseMatmulOps> Backward<B, 2> for SparseMatmulBackward {
    /// The codes and the weight.
    type State = (FloatTensor<B>, FloatTensor<B>);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (codes, weight) = ops.state;
        let on_support = self.on_support;
        let codes_for_lhs = codes.clone();
        binary::<B, _, _>(
            ops.parents,
            ops.node,
            grads,
            |grad| {
                if !on_support {
                    return B::float_matmul(grad, B::float_transpose(weight));
                }
                B::sparse_matmul_codes_grad(codes_for_lhs.clone(), grad.clone(), weight.clone())
                    .unwrap_or_else(|| {
                        // Zeroed in place through a boolean mask: a float mask (sign of |c|)
                        // would be one more code-sized tensor at the step's peak.
                        let dense = B::float_matmul(grad, B::float_transpose(weight));
                        let bool_dtype = get_device_settings::<B>(&dense.device()).bool_dtype;
                        let off = B::float_equal_elem(codes_for_lhs, 0.into(), bool_dtype);
                        B::float_mask_fill(dense, off, 0.into())
                    })
            },
            |grad| {
                B::sparse_matmul_weight_grad(codes.clone(), grad.clone())
                    .unwrap_or_else(|| B::float_matmul(B::float_transpose(codes), grad))
            },
        );
    }
}

/// The encoder's `(x − centre) · weight` (a GEMM), whose backward skips the zeros of the
/// incoming gradient `G`: the weight gets `(x − centre)ᵀ · G`, `x` gets `G · weightᵀ` (sparse
/// products in `G` where the backend has them: Flex, at most a quarter nonzero; GEMMs
/// otherwise), and the centre `−(Σ_rows G) · weightᵀ`, one vector-matrix product (not the
/// `[B, d]` gradient of `x − centre` summed over rows).
#[derive(Debug)]
pub(super) struct CentredBackward;

impl CentredBackward {
    /// Computes `(x − centre) · weight` on `B` and records it (`centre` of shape `[d]`).
    pub(super) fn record<B: SparseMatmulOps, C: CheckpointStrategy>(
        self,
        x: FloatTensor<Autodiff<B, C>>,
        centre: FloatTensor<Autodiff<B, C>>,
        weight: FloatTensor<Autodiff<B, C>>,
    ) -> FloatTensor<Autodiff<B, C>> {
        let (x, x_node) = x.into_parts();
        let (centre, centre_node) = centre.into_parts();
        let (weight, weight_node) = weight.into_parts();
        let d = centre.shape().num_elements();
        let row = B::float_reshape(centre, Shape::new([1, d]));
        let centred = B::float_sub(x, row);
        let out = B::float_matmul(centred.clone(), weight.clone());
        match self
            .prepare::<C>([x_node, centre_node, weight_node])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish((centred, weight), out),
            OpsKind::UnTracked(prep) => prep.finish(out),
        }
    }
}

impl<B: SparseMatmulOps> Backward<B, 3> for CentredBackward {
    /// `x − centre` and the weight.
    type State = (FloatTensor<B>, FloatTensor<B>);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_centre, node_weight] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (centred, weight) = ops.state;
        if let Some(node) = node_x {
            let g = B::sparse_matmul_t(grad.clone(), weight.clone()).unwrap_or_else(|| {
                B::float_matmul(grad.clone(), B::float_transpose(weight.clone()))
            });
            grads.register::<B>(node.id, g);
        }
        if let Some(node) = node_centre {
            let d = centred.shape().dims::<2>()[1];
            let sum = B::float_sum_dim(grad.clone(), 0);
            let g = B::float_matmul(sum, B::float_transpose(weight.clone()));
            grads.register::<B>(node.id, B::float_neg(B::float_reshape(g, Shape::new([d]))));
        }
        if let Some(node) = node_weight {
            let g = B::sparse_matmul_weight_grad_t(grad.clone(), centred.clone())
                .unwrap_or_else(|| B::float_matmul(B::float_transpose(centred), grad));
            grads.register::<B>(node.id, g);
        }
    }
}
