//! The group lasso on the device, the twin of `host/group_lasso.rs`: the tensor as `[outer,
//! size, inner]` around the group axis; the `Σx²` of each slice (index along the axis: one cube
//! per slice, after column sums over the outer blocks where there are several), then one unit
//! per group adds its slices (the slices sorted by group on the host), giving `w_g ‖x_g‖₂`
//! (then [`finish`], plus the L1 part by the elementwise reduction) or the factor `w_g /
//! ‖x_g‖₂` of the elementwise backward. An inconsistent group description returns `None` (the
//! op chain runs).

use burn_cubecl::cubecl;
use burn_cubecl::cubecl::calculate_cube_count_elemwise;
use burn_cubecl::cubecl::server::Handle;
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;

use super::elementwise::{elementwise_partials, ABS};
use super::launch::{block_size, cube_dim, grid, GradLaunch, BLOCK};
use super::math::sign;
use super::reduce::{cube_sum, finish, reduce, Columns};

/// Group lasso, per cube one slice `k` (index `k` along the group axis): `Σ src[c · cols + k ·
/// inner + j]` (squared with `square`) over `c < chunks`, `j < inner`, into `out[k]`. With
/// `src = x`, `chunks = 1` (one outer block) that is the slice's `Σx²`; with `src` the
/// [`column_partials`] of `x²` it adds the chunks of the outer blocks.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn group_slices(
    src: &[f32],
    out: &mut [f32],
    size: u32,
    inner: u32,
    cols: u32,
    chunks: u32,
    #[comptime] square: bool,
    #[comptime] block: usize,
) {
    let k = CUBE_POS as u32;
    let valid = k < size;
    let end = select(valid, chunks * inner, 0u32);
    let mut acc = 0.0f32;
    let mut e = UNIT_POS;
    while e < end {
        let c = e / inner;
        let j = e - c * inner;
        let v = src[(c * cols + k * inner + j) as usize];
        if comptime![square] {
            acc += v * v;
        }
        if comptime![!square] {
            acc += v;
        }
        e += CUBE_DIM;
    }
    let total = cube_sum(acc, block);
    if UNIT_POS == 0u32 && valid {
        out[k as usize] = total;
    }
}

/// Group lasso, per group `g` (one unit each): `sq = Σ slices[order[i]]` over
/// `offsets[g] ≤ i < offsets[g + 1]` (the slices of the group), then
/// - the forward (`grad = false`): `w_g √sq` into `out[g]`;
/// - the backward: `upstream[0] · scale · w_g / √sq` (0 for a zero group) into `out[g]`.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn group_norms(
    slices: &[f32],
    order: &[u32],
    offsets: &[u32],
    weights: &[f32],
    upstream: &[f32],
    out: &mut [f32],
    groups: u32,
    scale: f32,
    #[comptime] grad: bool,
) {
    let pos = ABSOLUTE_POS;
    if pos < groups as usize {
        let mut sq = 0.0f32;
        let mut i = offsets[pos];
        let end = offsets[pos + 1];
        while i < end {
            sq += slices[order[i as usize] as usize];
            i += 1u32;
        }
        let norm = sq.sqrt();
        let w = weights[pos];
        if comptime![!grad] {
            out[pos] = w * norm;
        }
        if comptime![grad] {
            let safe = select(sq > 0.0f32, norm, 1.0f32);
            let f = upstream[0] * scale * w / safe;
            // A zero group has no norm term (as in the CPU kernel).
            out[pos] = select(sq > 0.0f32, f, 0.0f32);
        }
    }
}

/// Group lasso, backward: `out[i] = factors[g] x + upstream[0] · l1 · sign(x)`, `g` the group
/// of `x[i]`'s slice `(i / inner) % size` (without `norms`, `α = 1`, only the second term).
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn group_grad(
    x: &[f32],
    group_of: &[u32],
    factors: &[f32],
    upstream: &[f32],
    out: &mut [f32],
    n: u32,
    size: u32,
    inner: u32,
    l1: f32,
    #[comptime] norms: bool,
) {
    let i = ABSOLUTE_POS;
    if i < n as usize {
        let v = x[i];
        let mut g = upstream[0] * l1 * sign(v);
        if comptime![norms] {
            let k = (i as u32 / inner) % size;
            g += factors[group_of[k as usize] as usize] * v;
        }
        out[i] = g;
    }
}

/// `a[0] += b[0]` (one unit).
#[cube(launch)]
fn add_scalar(a: &mut [f32], b: &[f32]) {
    if ABSOLUTE_POS == 0usize {
        a[0] += b[0];
    }
}

/// The group lasso's layout: `x` as `[outer, size, inner]` around the group axis, with the
/// group ids on the device (`group_of`, one per slice) and the slices sorted by group
/// (`order`, the slices of group `g` at `offsets[g]..offsets[g + 1]`) with the weights.
struct Groups {
    outer: u32,
    size: u32,
    inner: u32,
    groups: u32,
    group_of: Handle,
    order: Handle,
    offsets: Handle,
    weights: Handle,
}

/// The bytes of `values` (`u32` or `f32`) to upload.
fn bytes<T: Copy>(values: &[T], to_bytes: impl Fn(T) -> [u8; 4]) -> Vec<u8> {
    values.iter().flat_map(|&v| to_bytes(v)).collect()
}

impl Groups {
    /// The layout of `x` for groups `group_of` (one id per index along `axis`, dense ids
    /// `0..weights.len()`); `None` for an inconsistent description or an empty group axis.
    fn of(x: &CubeTensor, axis: usize, group_of: &[usize], weights: &[f64]) -> Option<Self> {
        let dims = x.meta.shape();
        if axis >= dims.num_dims() || dims[axis] == 0 || group_of.len() != dims[axis] {
            return None;
        }
        let outer = u32::try_from((0..axis).map(|d| dims[d]).product::<usize>()).ok()?;
        let size = u32::try_from(dims[axis]).ok()?;
        let inner = u32::try_from(
            (axis + 1..dims.num_dims())
                .map(|d| dims[d])
                .product::<usize>(),
        )
        .ok()?;
        let groups = u32::try_from(weights.len()).ok()?;
        if groups == 0 || group_of.iter().any(|&g| g >= weights.len()) {
            return None;
        }
        let mut offsets = vec![0u32; weights.len() + 1];
        for &g in group_of {
            offsets[g + 1] += 1;
        }
        for g in 0..weights.len() {
            offsets[g + 1] += offsets[g];
        }
        let mut next = offsets.clone();
        let mut order = vec![0u32; group_of.len()];
        for (k, &g) in group_of.iter().enumerate() {
            order[next[g] as usize] = k as u32;
            next[g] += 1;
        }
        let ids: Vec<u32> = group_of.iter().map(|&g| g as u32).collect();
        let w: Vec<f32> = weights.iter().map(|&w| w as f32).collect();
        let client = &x.client;
        Some(Self {
            outer,
            size,
            inner,
            groups,
            group_of: client.create_from_slice(&bytes(&ids, u32::to_ne_bytes)),
            order: client.create_from_slice(&bytes(&order, u32::to_ne_bytes)),
            offsets: client.create_from_slice(&bytes(&offsets, u32::to_ne_bytes)),
            weights: client.create_from_slice(&bytes(&w, f32::to_ne_bytes)),
        })
    }

    /// `‖x_k‖₂²` of every slice `k`, `size` floats: one cube per slice, straight from `x` for
    /// one outer block, else from the column partial sums of `x²` over the outer blocks.
    fn slices(&self, x: &CubeTensor) -> Handle {
        let client = &x.client;
        let cols = self.size * self.inner;
        let (src, chunks, square) = if self.outer == 1 {
            (x.clone().into_buffer_arg(), 1, true)
        } else {
            let columns = Columns::for_rows(self.outer, cols);
            let partials = columns.partials(x, true);
            let len = columns.chunks as usize * cols as usize;
            // SAFETY: the partials hold `chunks · cols` floats.
            let src = unsafe { BufferArg::from_raw_parts(partials, len) };
            (src, columns.chunks, false)
        };
        let out = client.empty(self.size as usize * size_of::<f32>());
        let per_slice = chunks * self.inner;
        let block = block_size(
            client,
            per_slice.div_ceil(4).next_power_of_two().clamp(32, BLOCK),
        );
        group_slices::launch(
            client,
            grid(client, self.size, block),
            cube_dim(block),
            src,
            // SAFETY: `out` holds one float per slice.
            unsafe { BufferArg::from_raw_parts(out.clone(), self.size as usize) },
            self.size,
            self.inner,
            cols,
            chunks,
            square,
            block as usize,
        );
        out
    }

    /// [`group_norms`]: `w_g ‖x_g‖₂` of every group, or with `grad` the gradient
    /// factors `upstream[0] · scale · w_g / ‖x_g‖₂`; `groups` floats.
    fn norms(&self, x: &CubeTensor, upstream: BufferArg, scale: f32, grad: bool) -> Handle {
        let client = &x.client;
        let slices = self.slices(x);
        let groups = self.groups as usize;
        let out = client.empty(groups * size_of::<f32>());
        let dim = CubeDim::new(client, groups);
        group_norms::launch(
            client,
            calculate_cube_count_elemwise(client, groups, dim),
            dim,
            // SAFETY: `slices` holds `size` floats, `order` `size` ids, `offsets` `groups + 1`,
            // `weights` and `out` `groups` floats.
            unsafe { BufferArg::from_raw_parts(slices, self.size as usize) },
            unsafe { BufferArg::from_raw_parts(self.order.clone(), self.size as usize) },
            unsafe { BufferArg::from_raw_parts(self.offsets.clone(), groups + 1) },
            unsafe { BufferArg::from_raw_parts(self.weights.clone(), groups) },
            upstream,
            unsafe { BufferArg::from_raw_parts(out.clone(), groups) },
            self.groups,
            scale,
            grad,
        );
        out
    }
}

/// The group lasso `λ [(1 − α) Σ_g w_g ‖x_g‖₂ + α Σ|x|]`, shape `[1]`; `None` for an
/// inconsistent group description.
pub(super) fn value(
    x: &CubeTensor,
    n: u32,
    lambda: f64,
    l1_ratio: f64,
    axis: usize,
    group_of: &[usize],
    weights: &[f64],
) -> Option<CubeTensor> {
    let groups = Groups::of(x, axis, group_of, weights)?;
    let client = x.client.clone();
    let l1 = (lambda * l1_ratio) as f32;
    let abs = (l1_ratio != 0.0).then(|| {
        reduce(x, n, l1, |client, count, dim, chunk, partials, block| {
            elementwise_partials::launch(
                client,
                count,
                dim,
                x.clone().into_buffer_arg(),
                partials,
                n,
                chunk,
                0.0,
                0.0,
                0.0,
                0.0,
                0.0,
                0.0,
                ABS,
                block,
            )
        })
    });
    Some(match abs {
        Some(abs) if l1_ratio == 1.0 => abs,
        abs => {
            let unused = client.empty(size_of::<f32>());
            // SAFETY: `unused` holds one float.
            let terms = groups.norms(
                x,
                unsafe { BufferArg::from_raw_parts(unused, 1) },
                1.0,
                false,
            );
            // `terms` holds one float per group.
            let scale = (lambda * (1.0 - l1_ratio)) as f32;
            let out = finish(x, terms, groups.groups, scale);
            if let Some(abs) = abs {
                add_scalar::launch(
                    &client,
                    CubeCount::new_single(),
                    CubeDim::new_1d(1),
                    out.clone().into_buffer_arg(),
                    abs.into_buffer_arg(),
                );
            }
            out
        }
    })
}

/// The gradient of `upstream[0] ·` [`value`] into `out`; `None` where [`value`] is.
pub(super) fn grad(
    g: GradLaunch,
    lambda: f64,
    l1_ratio: f64,
    axis: usize,
    group_of: &[usize],
    weights: &[f64],
) -> Option<()> {
    let groups = Groups::of(&g.x, axis, group_of, weights)?;
    let norms = l1_ratio != 1.0;
    let factors = if norms {
        groups.norms(
            &g.x,
            g.upstream.clone().into_buffer_arg(),
            (lambda * (1.0 - l1_ratio)) as f32,
            true,
        )
    } else {
        g.client.empty(size_of::<f32>())
    };
    let factor_len = if norms { groups.groups as usize } else { 1 };
    group_grad::launch(
        &g.client,
        g.count,
        g.dim,
        g.x.into_buffer_arg(),
        // SAFETY: `group_of` holds `size` ids, `factors` `factor_len` floats.
        unsafe { BufferArg::from_raw_parts(groups.group_of.clone(), groups.size as usize) },
        unsafe { BufferArg::from_raw_parts(factors, factor_len) },
        g.upstream.into_buffer_arg(),
        g.out.into_buffer_arg(),
        g.n,
        groups.size,
        groups.inner,
        (lambda * l1_ratio) as f32,
        norms,
    );
    Some(())
}
