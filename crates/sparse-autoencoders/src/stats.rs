//! Host-side helpers: seeded normal numbers, means and the geometric median.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `n` standard-normal numbers times `std` from a ChaCha8 stream seeded with `seed` (Box–Muller):
/// the same numbers on every platform and backend.
pub fn normal_vec(n: usize, std: f64, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
        let u2: f64 = rng.random::<f64>();
        let r = (-2.0 * u1.ln()).sqrt();
        let t = std::f64::consts::TAU * u2;
        out.push((r * t.cos() * std) as f32);
        if out.len() < n {
            out.push((r * t.sin() * std) as f32);
        }
    }
    out
}

/// The mean of the rows of a row-major `[n, d]` matrix.
pub fn mean(rows: &[f32], d: usize) -> Vec<f32> {
    let n = rows.len() / d;
    let mut acc = vec![0.0f64; d];
    for row in rows.chunks_exact(d) {
        for (a, &v) in acc.iter_mut().zip(row) {
            *a += v as f64;
        }
    }
    acc.into_iter()
        .map(|a| (a / n.max(1) as f64) as f32)
        .collect()
}

/// The geometric median of the rows (the point minimising the sum of Euclidean distances),
/// by at most `iters` Weiszfeld iterations from the mean.
pub fn geometric_median(rows: &[f32], d: usize, iters: usize) -> Vec<f32> {
    let mut m: Vec<f64> = mean(rows, d).into_iter().map(f64::from).collect();
    for _ in 0..iters {
        let mut num = vec![0.0f64; d];
        let mut den = 0.0f64;
        for row in rows.chunks_exact(d) {
            let dist = row
                .iter()
                .zip(&m)
                .map(|(&x, &c)| (x as f64 - c).powi(2))
                .sum::<f64>()
                .sqrt()
                .max(1e-12);
            let w = 1.0 / dist;
            den += w;
            for (a, &x) in num.iter_mut().zip(row) {
                *a += w * x as f64;
            }
        }
        let next: Vec<f64> = num.iter().map(|a| a / den).collect();
        let shift: f64 = next
            .iter()
            .zip(&m)
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f64>()
            .sqrt();
        m = next;
        if shift < 1e-7 {
            break;
        }
    }
    m.into_iter().map(|v| v as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normals_are_seeded_and_standard() {
        let a = normal_vec(20_000, 1.0, 7);
        assert_eq!(a, normal_vec(20_000, 1.0, 7));
        assert_ne!(a, normal_vec(20_000, 1.0, 8));
        let m = a.iter().map(|&v| v as f64).sum::<f64>() / a.len() as f64;
        let v = a.iter().map(|&x| (x as f64 - m).powi(2)).sum::<f64>() / a.len() as f64;
        assert!(m.abs() < 0.03 && (v - 1.0).abs() < 0.05, "mean {m} var {v}");
    }

    #[test]
    fn geometric_median_ignores_an_outlier() {
        // Three points at the origin and one far away: the median stays near the origin
        // where the mean moves a quarter of the way.
        let rows = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 100.0, 100.0];
        assert_eq!(mean(&rows, 2), vec![25.0, 25.0]);
        let g = geometric_median(&rows, 2, 200);
        assert!(g[0].abs() < 1e-2 && g[1].abs() < 1e-2, "{g:?}");
    }
}
