//! The parallel loops the CPU kernels share: [`CHUNK`], sums and maps over the elements
//! (compiled for AVX2 where the CPU has it) and over the rows.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::math;

/// Elements per parallel task: large enough that rayon's overhead is noise, small enough to
/// split a `[256, 1024]` batch between cores.
pub(super) const CHUNK: usize = 1 << 14;

/// Rows per parallel task, so that a task holds about [`CHUNK`] elements.
pub(super) fn rows_per_task(row: usize) -> usize {
    (CHUNK / row.max(1)).max(1)
}

/// `f(row)` summed over the rows of length `row`, in parallel.
pub(super) fn sum_rows(data: &[f32], row: usize, f: impl Fn(&[f32]) -> f64 + Sync + Send) -> f64 {
    data.par_chunks(row * rows_per_task(row))
        .map(|task| task.chunks(row).map(&f).sum::<f64>())
        .sum()
}

/// Fills each row's gradient with `g(row, out)`, in parallel.
pub(super) fn grad_rows(
    data: &[f32],
    row: usize,
    g: impl Fn(&[f32], &mut [f32]) + Sync + Send,
) -> Vec<f32> {
    let mut out = vec![0f32; data.len()];
    let per_task = row * rows_per_task(row);
    out.par_chunks_mut(per_task)
        .zip(data.par_chunks(per_task))
        .for_each(|(o, d)| {
            for (o, d) in o.chunks_mut(row).zip(d.chunks(row)) {
                g(d, o);
            }
        });
    out
}

/// `Σᵢ f(xᵢ)` in parallel chunks (see [`chunk_sum`]).
pub(super) fn sum_map<F: Fn(f32) -> f32 + Copy + Sync + Send>(data: &[f32], f: F) -> f64 {
    if data.len() <= CHUNK {
        chunk_sum(data, f)
    } else {
        data.par_chunks(CHUNK).map(|c| chunk_sum(c, f)).sum()
    }
}

/// `Σᵢ f(xᵢ)` over one chunk, compiled for AVX2 where the CPU has it: `f` fills a block of 64
/// (a loop the compiler vectorises), which is added into 8 `f64` lanes. (Not [`two_sums`] with
/// a zero second sum: the compiler keeps the dead lanes, and the L1 forward took 2.3× longer.)
#[inline(always)]
pub(super) fn chunk_sum<F: Fn(f32) -> f32 + Copy>(chunk: &[f32], f: F) -> f64 {
    const BLOCK: usize = 64;
    math::vectorized(
        #[inline(always)]
        move || {
            let mut lanes = [0f64; 8];
            let mut buf = [0f32; BLOCK];
            for block in chunk.chunks(BLOCK) {
                if block.len() < BLOCK {
                    buf = [0.0; BLOCK];
                }
                for (b, &x) in buf.iter_mut().zip(block) {
                    *b = f(x);
                }
                for part in buf.chunks_exact(8) {
                    for (lane, &v) in lanes.iter_mut().zip(part) {
                        *lane += f64::from(v);
                    }
                }
            }
            lanes.iter().sum::<f64>()
        },
    )
}

/// Two sums over a row in one pass, `(Σ u, Σ v)` with `(u, v) = f(x)`, compiled for AVX2 where
/// the CPU has it: `f` fills blocks of 64 (a loop the compiler vectorises), added into 8 `f64`
/// lanes each.
#[inline(always)]
pub(super) fn two_sums(r: &[f32], f: impl Fn(f32) -> (f32, f32) + Copy) -> (f64, f64) {
    const BLOCK: usize = 64;
    math::vectorized(
        #[inline(always)]
        move || {
            let (mut la, mut lb) = ([0f64; 8], [0f64; 8]);
            let (mut ba, mut bb) = ([0f32; BLOCK], [0f32; BLOCK]);
            for block in r.chunks(BLOCK) {
                if block.len() < BLOCK {
                    ba = [0.0; BLOCK];
                    bb = [0.0; BLOCK];
                }
                for ((a, b), &x) in ba.iter_mut().zip(bb.iter_mut()).zip(block) {
                    (*a, *b) = f(x);
                }
                for (pa, pb) in ba.chunks_exact(8).zip(bb.chunks_exact(8)) {
                    for ((l, m), (&u, &v)) in
                        la.iter_mut().zip(lb.iter_mut()).zip(pa.iter().zip(pb))
                    {
                        *l += f64::from(u);
                        *m += f64::from(v);
                    }
                }
            }
            (la.iter().sum(), lb.iter().sum())
        },
    )
}

/// `[g(x) for x in data]`, in parallel chunks, compiled for AVX2 where the CPU has it. The
/// output is written once, into uninitialised memory (`vec![0; n]` would write it twice: with
/// freed memory kept by the allocator, calloc must clear it).
pub(super) fn map(data: &[f32], g: impl Fn(f32) -> f32 + Copy + Sync + Send) -> Vec<f32> {
    let mut out: Vec<f32> = Vec::with_capacity(data.len());
    let fill = |(o, d): (&mut [MaybeUninit<f32>], &[f32])| {
        // A local copy: not redundant, the loop then reads the closure's constants from registers,
        // not through a pointer (which keeps the compiler from vectorising it).
        #[allow(clippy::redundant_locals)]
        let g = g;
        math::vectorized(
            #[inline(always)]
            move || {
                for (o, &x) in o.iter_mut().zip(d) {
                    o.write(g(x));
                }
            },
        )
    };
    let spare = &mut out.spare_capacity_mut()[..data.len()];
    if data.len() <= CHUNK {
        fill((spare, data));
    } else {
        spare
            .par_chunks_mut(CHUNK)
            .zip(data.par_chunks(CHUNK))
            .for_each(fill);
    }
    // SAFETY: the first `data.len()` elements (within the capacity) were all written just above:
    // `fill` writes every element of each output chunk, and the chunks of `spare` and `data`
    // pair up one to one (same length, same chunk size).
    unsafe { out.set_len(data.len()) };
    out
}
