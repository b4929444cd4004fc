//! The launch plumbing every kernel family shares: Burn's primitive as a `CubeTensor` and
//! back, a contiguous `float32` input, the cube sizes and grids, and [`GradLaunch`], what every
//! backward pass takes.

use std::any::Any;

use burn::tensor::{DType, Shape};
use burn_cubecl::cubecl::calculate_cube_count_elemwise;
use burn_cubecl::cubecl::prelude::{Client, CubeCount, CubeDim};
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::empty_device_contiguous_dtype;
use burn_cubecl::tensor::CubeTensor;

/// The units of a reducing cube (fewer where the device allows fewer).
pub(super) const BLOCK: u32 = 256;

/// The number of elements of `x`, if there are some and fewer than 2³¹ (so that the kernels'
/// `u32` indices, strides added, never wrap).
pub(super) fn elements(x: &CubeTensor) -> Option<u32> {
    let n = x.meta.shape().num_elements();
    (n > 0 && n < 1 << 31).then_some(n as u32)
}

/// `a` as a `B` when `A` is `B` (the backend's primitive as a `CubeTensor` and back).
pub(super) fn downcast<A: 'static, B: 'static>(a: A) -> Option<B> {
    let boxed: Box<dyn Any> = Box::new(a);
    boxed.downcast::<B>().ok().map(|b| *b)
}

/// `x` as a contiguous, row-major `float32` tensor (a copy for a strided view); `None` for
/// another dtype.
pub(super) fn input(x: CubeTensor) -> Option<CubeTensor> {
    if x.dtype != DType::F32 || x.qparams.is_some() {
        return None;
    }
    let x = into_contiguous(x);
    x.is_contiguous().then_some(x)
}

/// A new `float32` tensor of shape `[1]` on `x`'s device.
pub(super) fn scalar_output(x: &CubeTensor) -> CubeTensor {
    empty_device_contiguous_dtype(
        x.client.clone(),
        x.device.clone(),
        Shape::new([1]),
        DType::F32,
    )
}

/// The units of a reducing cube: `want`, or the largest power of two the device allows.
pub(super) fn block_size(client: &Client, want: u32) -> u32 {
    let max = client.properties().hardware.max_units_per_cube.max(1);
    let cap = want.min(max);
    if cap.is_power_of_two() {
        cap
    } else {
        cap.next_power_of_two() >> 1
    }
}

/// A cube of `units` units (a power of two), at most 32 along x.
pub(super) fn cube_dim(units: u32) -> CubeDim {
    let x = units.min(32);
    CubeDim::new_2d(x, units / x)
}

/// A grid of at least `cubes` cubes within the device's limits (the extra ones do nothing).
pub(super) fn grid(client: &Client, cubes: u32, units: u32) -> CubeCount {
    calculate_cube_count_elemwise(client, cubes as usize * units as usize, cube_dim(units))
}

/// What every backward launch takes: the input, the upstream gradient (shape `[1]`, read on the
/// device), the gradient to write (`x`'s shape, `float32`), the number of elements and the
/// elementwise launch over them.
pub(super) struct GradLaunch {
    pub(super) client: Client,
    pub(super) x: CubeTensor,
    pub(super) upstream: CubeTensor,
    pub(super) out: CubeTensor,
    pub(super) n: u32,
    pub(super) count: CubeCount,
    pub(super) dim: CubeDim,
}
