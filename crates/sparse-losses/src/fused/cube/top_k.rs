//! The per-row top-k mask on the device, the twin of `host/top_k.rs`: radix select of each
//! row's k-th largest key (four 8-bit passes, each a histogram over the rows' chunks in shared
//! memory with `u32` atomics, then one cube per row picks the digit), then the ties per chunk
//! and the mask, which keeps the first ties in index order (the same mask as the host kernel).

use burn::tensor::DType;
use burn_cubecl::cubecl;
use burn_cubecl::cubecl::calculate_cube_count_elemwise;
use burn_cubecl::ops::numeric::empty_device_contiguous_dtype;
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;

use super::launch::{block_size, cube_dim, downcast, elements, grid, input, BLOCK};

/// The top-k mask's integer key of `x`, with the float's order: IEEE's order on numbers
/// (`−0.0` is mapped to `+0.0`), positive NaN above every number (as the host kernel's key).
#[cube]
fn order_key(x: f32) -> u32 {
    let raw = u32::reinterpret(x);
    // −0.0 → +0.0 by its bits (an `x + 0.0` a compiler might fold away).
    let bits = select(raw == 0x8000_0000u32, 0u32, raw);
    let negative = (bits >> 31u32) == 1u32;
    select(negative, !bits, bits | 0x8000_0000u32)
}

/// The top-k selection's start: `hist[..n]` zeroed (`rows · 256` bins) and each row's state
/// `(prefix, remaining) = (0, k)` in `state[2r], state[2r + 1]`.
#[cube(launch)]
fn top_k_init(hist: &mut [u32], state: &mut [u32], n: u32, k: u32) {
    let i = ABSOLUTE_POS;
    if i < n as usize {
        hist[i] = 0u32;
        if (i & 255) == 0 {
            let r = i / 256;
            state[2 * r] = 0u32;
            state[2 * r + 1] = k;
        }
    }
}

/// The part of the data one cube of the top-k kernels covers: row `row = c / chunks`, its chunk
/// `index = c % chunks` of `chunk` elements, `[start, end)` in the data (empty for a cube at or
/// beyond `cubes`, whose `cube` is then 0 and `valid` false).
#[derive(CubeType, Clone, Copy)]
struct RowChunk {
    cube: u32,
    valid: bool,
    row: u32,
    index: u32,
    start: u32,
    end: u32,
}

/// This cube's [`RowChunk`] (`row` is the row length).
#[cube]
fn row_chunk(row: u32, chunk: u32, chunks: u32, cubes: u32) -> RowChunk {
    let c = CUBE_POS as u32;
    let valid = c < cubes;
    let c = select(valid, c, 0u32);
    let r = c / chunks;
    let index = c % chunks;
    let offset = index * chunk;
    let start = r * row + offset;
    let len = select(row - offset < chunk, row - offset, chunk);
    RowChunk {
        cube: c,
        valid,
        row: r,
        index,
        start,
        end: start + select(valid, len, 0u32),
    }
}

/// One radix-select pass, per cube one chunk of a row (cube `c` = row `c / chunks`, chunk
/// `c % chunks`, `chunk` elements): the histogram of the digit `(key >> shift) & 255` over the
/// chunk's candidates (`key & high == prefix & high`, the row's prefix found so far) in shared
/// memory, then added into the row's 256 bins of `hist`.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn top_k_histogram(
    x: &[f32],
    state: &[u32],
    hist: &mut [Atomic<u32>],
    row: u32,
    chunk: u32,
    chunks: u32,
    cubes: u32,
    shift: u32,
    high: u32,
) {
    let part = row_chunk(row, chunk, chunks, cubes);
    let (r, start, end) = (part.row, part.start, part.end);
    let bins = Shared::<[Atomic<u32>]>::new_slice(256usize);
    let mut b = UNIT_POS;
    while b < 256u32 {
        bins[b as usize].store(0u32);
        b += CUBE_DIM;
    }
    sync_cube();
    let prefix = state[(2 * r) as usize] & high;
    let mut i = start + UNIT_POS;
    while i < end {
        let key = order_key(x[i as usize]);
        if (key & high) == prefix {
            bins[((key >> shift) & 255u32) as usize].fetch_add(1u32);
        }
        i += CUBE_DIM;
    }
    sync_cube();
    let mut b = UNIT_POS;
    while b < 256u32 {
        let v = bins[b as usize].load();
        if v > 0u32 {
            hist[(r * 256u32 + b) as usize].fetch_add(v);
        }
        b += CUBE_DIM;
    }
}

/// After a [`top_k_histogram`] pass, per cube one row: the digit of the row's k-th largest key
/// (the highest bin where the candidates from the top reach `remaining`), appended to the
/// prefix, `remaining` less the candidates of the higher bins; the bins are zeroed for the
/// next pass.
#[cube(launch)]
fn top_k_choose(hist: &mut [u32], state: &mut [u32], rows: u32, shift: u32) {
    let r = CUBE_POS as u32;
    let valid = r < rows;
    let r = select(valid, r, 0u32);
    let mut counts = Shared::<[u32]>::new_slice(256usize);
    let mut b = UNIT_POS;
    while b < 256u32 {
        let at = (r * 256u32 + b) as usize;
        counts[b as usize] = hist[at];
        b += CUBE_DIM;
    }
    sync_cube();
    if valid && UNIT_POS == 0u32 {
        let remaining = state[(2 * r + 1) as usize];
        let mut acc = 0u32;
        let mut digit = 256u32;
        let mut found = false;
        while !found && digit > 0u32 {
            digit -= 1u32;
            let count = counts[digit as usize];
            if acc + count >= remaining {
                found = true;
            } else {
                acc += count;
            }
        }
        let prefix = state[(2 * r) as usize];
        state[(2 * r) as usize] = prefix | (digit << shift);
        state[(2 * r + 1) as usize] = remaining - acc;
    }
    sync_cube();
    let mut b = UNIT_POS;
    while b < 256u32 {
        if valid {
            hist[(r * 256u32 + b) as usize] = 0u32;
        }
        b += CUBE_DIM;
    }
}

/// Per cube one chunk (as in [`top_k_histogram`]): the number of entries equal to the row's
/// k-th largest key (`state[2r]`), into `ties[c]`.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn top_k_ties(
    x: &[f32],
    state: &[u32],
    ties: &mut [u32],
    row: u32,
    chunk: u32,
    chunks: u32,
    cubes: u32,
) {
    let part = row_chunk(row, chunk, chunks, cubes);
    let (c, valid, r, start, end) = (part.cube, part.valid, part.row, part.start, part.end);
    let total = Shared::<[Atomic<u32>]>::new_slice(1usize);
    if UNIT_POS == 0u32 {
        total[0].store(0u32);
    }
    sync_cube();
    let kth = state[(2 * r) as usize];
    let mut count = 0u32;
    let mut i = start + UNIT_POS;
    while i < end {
        if order_key(x[i as usize]) == kth {
            count += 1u32;
        }
        i += CUBE_DIM;
    }
    if count > 0u32 {
        total[0].fetch_add(count);
    }
    sync_cube();
    if valid && UNIT_POS == 0u32 {
        ties[c as usize] = total[0].load();
    }
}

/// The mask (the host twin's `mark`), per cube one chunk (as in [`top_k_histogram`]; each unit
/// a contiguous run of `chunk / CUBE_DIM` entries): 1 for a key above the row's k-th largest,
/// 1 for a tie whose rank in the row (the ties of the earlier chunks, then of the earlier
/// units, then its own) is below the row's `remaining`, else 0.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn top_k_mark(
    x: &[f32],
    state: &[u32],
    ties: &[u32],
    out: &mut [f32],
    row: u32,
    chunk: u32,
    chunks: u32,
    cubes: u32,
    #[comptime] block: usize,
) {
    let part = row_chunk(row, chunk, chunks, cubes);
    let (r, chunk_index, start, end) = (part.row, part.index, part.start, part.end);
    let kth = state[(2 * r) as usize];
    let needed = state[(2 * r + 1) as usize];
    // The ties of the row's earlier chunks.
    let before = Shared::<[Atomic<u32>]>::new_slice(1usize);
    if UNIT_POS == 0u32 {
        before[0].store(0u32);
    }
    sync_cube();
    let mut acc = 0u32;
    let mut j = UNIT_POS;
    while j < chunk_index {
        acc += ties[(r * chunks + j) as usize];
        j += CUBE_DIM;
    }
    if acc > 0u32 {
        before[0].fetch_add(acc);
    }
    // This unit's run and its ties.
    let per = chunk / CUBE_DIM;
    let run_start = start + UNIT_POS * per;
    let run_end = select(run_start + per < end, run_start + per, end);
    let mut own = 0u32;
    let mut i = run_start;
    while i < run_end {
        if order_key(x[i as usize]) == kth {
            own += 1u32;
        }
        i += 1u32;
    }
    let mut runs = Shared::<[u32]>::new_slice(block);
    runs[UNIT_POS as usize] = own;
    sync_cube();
    if UNIT_POS == 0u32 {
        // Exclusive scan of the units' tie counts.
        let mut sum = before[0].load();
        let mut u = 0u32;
        while u < CUBE_DIM {
            let v = runs[u as usize];
            runs[u as usize] = sum;
            sum += v;
            u += 1u32;
        }
    }
    sync_cube();
    let mut rank = runs[UNIT_POS as usize];
    let mut i = run_start;
    while i < run_end {
        let key = order_key(x[i as usize]);
        let tie = key == kth;
        let keep = key > kth || (tie && rank < needed);
        if tie {
            rank += 1u32;
        }
        out[i as usize] = select(keep, 1.0f32, 0.0f32);
        i += 1u32;
    }
}

/// The top-k mask's chunk: at most this many units' worth of 16 entries a cube and pass.
const TOP_K_PER_UNIT: u32 = 16;

/// The 0/1 mask of the `k` largest entries of each row (the last dimension) of `scores`, ties
/// to the lower index (as the host kernel, `1 <= k <` the row length); `None` for a dtype
/// other than `float32`, a primitive that is not a `CubeTensor` or a `k` out of range.
///
/// Radix select on the order-preserving `u32` keys ([`top_k_histogram`]): four passes of 8 bits
/// from the top, each a histogram of the digit over the row's candidates (those matching the
/// prefix found so far; the rows cut in chunks, one cube each, shared-memory atomics, then
/// added into the row's bins) and a choice of the k-th largest's digit per row
/// ([`top_k_choose`]). Then the ties of every chunk ([`top_k_ties`]) and the mask
/// ([`top_k_mark`]), which keeps the first ties in index order.
pub(in crate::fused) fn top_k_mask<T: 'static>(scores: T, k: usize) -> Option<T> {
    let x = input(downcast::<T, CubeTensor>(scores)?)?;
    let n = elements(&x)?;
    let row = u32::try_from(*x.meta.shape().last()?).ok()?;
    let k = u32::try_from(k).ok()?;
    if row == 0 || !n.is_multiple_of(row) || k == 0 || k >= row {
        return None;
    }
    let rows = n / row;
    let client = x.client.clone();
    let block = block_size(&client, BLOCK);
    // A multiple of `block` (the mask kernel gives each unit `chunk / block` entries).
    let chunk = (block * TOP_K_PER_UNIT).min(row.next_multiple_of(block));
    let chunks = row.div_ceil(chunk);
    let cubes = rows.checked_mul(chunks)?;
    let bins = rows.checked_mul(256)?;
    let hist = client.empty(bins as usize * size_of::<u32>());
    let state = client.empty(2 * rows as usize * size_of::<u32>());
    let ties = client.empty(cubes as usize * size_of::<u32>());
    // SAFETY (every `BufferArg` below): `hist` holds `256 rows` counts, `state` `2 rows`
    // words, `ties` one count per cube.
    let hist_arg = || unsafe { BufferArg::from_raw_parts(hist.clone(), bins as usize) };
    let state_arg = || unsafe { BufferArg::from_raw_parts(state.clone(), 2 * rows as usize) };
    let ties_arg = || unsafe { BufferArg::from_raw_parts(ties.clone(), cubes as usize) };
    let dim = CubeDim::new(&client, bins as usize);
    top_k_init::launch(
        &client,
        calculate_cube_count_elemwise(&client, bins as usize, dim),
        dim,
        hist_arg(),
        state_arg(),
        bins,
        k,
    );
    for pass in 0..4u32 {
        let shift = 24 - 8 * pass;
        // The digits above this one (none in the first pass).
        let high = if pass == 0 {
            0
        } else {
            u32::MAX << (shift + 8)
        };
        top_k_histogram::launch(
            &client,
            grid(&client, cubes, block),
            cube_dim(block),
            x.clone().into_buffer_arg(),
            state_arg(),
            hist_arg(),
            row,
            chunk,
            chunks,
            cubes,
            shift,
            high,
        );
        let choose = block_size(&client, 256);
        top_k_choose::launch(
            &client,
            grid(&client, rows, choose),
            cube_dim(choose),
            hist_arg(),
            state_arg(),
            rows,
            shift,
        );
    }
    top_k_ties::launch(
        &client,
        grid(&client, cubes, block),
        cube_dim(block),
        x.clone().into_buffer_arg(),
        state_arg(),
        ties_arg(),
        row,
        chunk,
        chunks,
        cubes,
    );
    let out = empty_device_contiguous_dtype(
        client.clone(),
        x.device.clone(),
        x.meta.shape().clone(),
        DType::F32,
    );
    top_k_mark::launch(
        &client,
        grid(&client, cubes, block),
        cube_dim(block),
        x.into_buffer_arg(),
        state_arg(),
        ties_arg(),
        out.clone().into_buffer_arg(),
        row,
        chunk,
        chunks,
        cubes,
        block as usize,
    );
    downcast(out)
}
