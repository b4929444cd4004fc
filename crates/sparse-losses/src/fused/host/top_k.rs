//! The per-row top-k mask: the k-th largest value by selection (`select_nth_unstable`, linear
//! time), then one pass that keeps what is above it and the first ties.

use rayon::prelude::*;

use super::reduce::CHUNK;

/// The 0/1 mask of the `k` largest entries of each row of length `row` (`1 <= k < row`): an
/// entry is kept when it is larger than the row's k-th largest value, or equal to it and among
/// the first (lowest-index) such entries that are still needed to make k. NaN ranks above
/// every number (as in a descending `total_cmp` sort).
pub fn top_k_mask(data: &[f32], row: usize, k: usize) -> Vec<f32> {
    let mut out = vec![0f32; data.len()];
    if row >= LONG_ROW {
        // BatchTopK's one row of k·B over the batch: each row in parallel passes.
        for (o, r) in out.chunks_mut(row).zip(data.chunks(row)) {
            long_row_mask(r, o, k);
        }
        return out;
    }
    let rows_per_task = (CHUNK / row.max(1)).max(1);
    out.par_chunks_mut(row * rows_per_task)
        .zip(data.par_chunks(row * rows_per_task))
        .for_each(|(o, d)| {
            let mut scratch = vec![0u32; row];
            for (o, r) in o.chunks_mut(row).zip(d.chunks(row)) {
                row_mask(r, o, k, &mut scratch);
            }
        });
    out
}

/// Rows at least this long take [`long_row_mask`] (a row of `[256, 1024]` codes is this long).
const LONG_ROW: usize = 1 << 18;

/// One long row's mask, in parallel passes: a histogram of the keys' top 16 bits finds the bin
/// of the k-th largest key, a selection among that bin's keys finds the key, and the mask pass
/// keeps the first ties by index (each chunk knowing how many ties lie before it).
fn long_row_mask(r: &[f32], out: &mut [f32], k: usize) {
    const BINS: usize = 1 << 16;
    let hist = r
        .par_chunks(CHUNK)
        .fold(
            || vec![0u32; BINS],
            |mut h, c| {
                for &x in c {
                    h[(key(x) >> 16) as usize] += 1;
                }
                h
            },
        )
        .reduce(
            || vec![0u32; BINS],
            |mut a, b| {
                for (x, y) in a.iter_mut().zip(b) {
                    *x += y;
                }
                a
            },
        );
    // The bin that holds the k-th largest key, and that key's rank from the top within it.
    let mut rank = k;
    let mut bin = BINS - 1;
    while (hist[bin] as usize) < rank {
        rank -= hist[bin] as usize;
        bin -= 1;
    }
    let mut candidates: Vec<u32> = r
        .par_iter()
        .map(|&x| key(x))
        .filter(|&kx| (kx >> 16) as usize == bin)
        .collect();
    let n = candidates.len();
    let kth = *candidates.select_nth_unstable(n - rank).1;
    let counts: Vec<(usize, usize)> = r
        .par_chunks(CHUNK)
        .map(|c| {
            let above = c.iter().filter(|&&x| key(x) > kth).count();
            let tied = c.iter().filter(|&&x| key(x) == kth).count();
            (above, tied)
        })
        .collect();
    let above: usize = counts.iter().map(|c| c.0).sum();
    let mut ties_before = Vec::with_capacity(counts.len());
    let mut running = 0;
    for c in &counts {
        ties_before.push(running);
        running += c.1;
    }
    let needed = k - above;
    out.par_chunks_mut(CHUNK)
        .zip(r.par_chunks(CHUNK))
        .zip(ties_before)
        .for_each(|((o, c), before)| mark(c, o, kth, needed.saturating_sub(before)));
}

/// An integer key with the order of the float: IEEE's order on numbers (`−0.0 = +0.0`, since
/// `x + 0.0` turns −0.0 into +0.0), NaN (positive) above every number, as in a descending
/// `total_cmp` sort. Integer comparisons make the selection about twice as fast.
#[inline(always)]
fn key(x: f32) -> u32 {
    let bits = (x + 0.0).to_bits();
    if bits >> 31 == 1 {
        !bits
    } else {
        bits | 0x8000_0000
    }
}

/// One row's mask into `out`.
fn row_mask(r: &[f32], out: &mut [f32], k: usize, scratch: &mut [u32]) {
    for (s, &x) in scratch.iter_mut().zip(r) {
        *s = key(x);
    }
    // Ascending order: the k-th largest sits at index len − k.
    let len = r.len();
    let (_, kth, _) = scratch.select_nth_unstable(len - k);
    let kth = *kth;
    let above = r.iter().filter(|&&x| key(x) > kth).count();
    mark(r, out, kth, k - above);
}

/// The mask pass: 1 where the key is above `kth`, and at the first `ties` entries equal to it.
fn mark(r: &[f32], out: &mut [f32], kth: u32, mut ties: usize) {
    for (o, &x) in out.iter_mut().zip(r) {
        let kx = key(x);
        *o = if kx > kth {
            1.0
        } else if kx == kth && ties > 0 {
            ties -= 1;
            1.0
        } else {
            0.0
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_k_per_row_ties_to_the_lower_index() {
        let data = [0.5, 2.0, 0.5, 0.5, 1.0, -1.0, 3.0, 0.0];
        assert_eq!(
            top_k_mask(&data, 4, 2),
            [1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0]
        );
        let ties = [1.0, 0.0, 1.0, 1.0];
        assert_eq!(top_k_mask(&ties, 4, 2), [1.0, 0.0, 1.0, 0.0]);
        // −0.0 and +0.0 are equal: the lower index wins.
        let zeros = [-1.0, -0.0, 0.0, -2.0];
        assert_eq!(top_k_mask(&zeros, 4, 1), [0.0, 1.0, 0.0, 0.0]);
    }

    #[test]
    fn long_rows_match_the_short_row_path() {
        // Heavy ties (values on a coarse grid), NaN and both zeros, k in many bins.
        let len = LONG_ROW + 12_345;
        let data: Vec<f32> = (0..len)
            .map(|i| match i % 1000 {
                7 => f32::NAN,
                8 => -0.0,
                _ => (((i * 7919) % 613) as f32 / 61.0).floor() - 4.0,
            })
            .collect();
        for k in [1, 100, 4096, len / 3, len - 1] {
            let long = top_k_mask(&data, len, k);
            let mut short = vec![0f32; len];
            row_mask(&data, &mut short, k, &mut vec![0u32; len]);
            assert_eq!(long.iter().filter(|&&v| v == 1.0).count(), k, "k {k}");
            assert!(long == short, "k {k}: the long-row mask differs");
        }
    }

    #[test]
    fn matches_a_sort_on_long_rows() {
        let (rows, len, k) = (40, 1000, 37);
        let data: Vec<f32> = (0..rows * len)
            .map(|i| (((i * 7919) % 613) as f32 / 61.0).floor())
            .collect();
        let mask = top_k_mask(&data, len, k);
        for (r, m) in data.chunks(len).zip(mask.chunks(len)) {
            assert_eq!(m.iter().filter(|&&v| v == 1.0).count(), k);
            let mut order: Vec<usize> = (0..len).collect();
            // Stable sort, descending: equal values keep the lower index first.
            order.sort_by(|&a, &b| r[b].total_cmp(&r[a]));
            for (rank, &i) in order.iter().enumerate() {
                assert_eq!(m[i] == 1.0, rank < k, "index {i}");
            }
        }
    }
}
