//! Learnable binary masks trained through a straight-through estimator: the rules
//! ([`BinaryMaskConfig`], [`MaskRule`]), the mask module ([`BinaryMask`]), the masked layer
//! ([`MaskedLinear`]) and movement pruning's cubic schedule ([`CubicSchedule`]).

mod binary_mask;
mod masked_linear;
mod schedule;

pub use binary_mask::*;
pub use masked_linear::*;
pub use schedule::*;
