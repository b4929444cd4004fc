//! The Hungarian algorithm (shortest augmenting paths with potentials, O(n²·m)): a one-to-one
//! assignment of rows to columns of minimum total cost.
//!
//! Written here rather than taken from `pathfinding` (whose `kuhn_munkres` needs integer
//! weights): `pathfinding` turns on `num-traits`' `std` feature, which changes the features of
//! every Burn and CubeCL crate and so rebuilds all of Burn (15+ minutes on two cores).

/// Assigns each of the `n` rows of `cost` (`[n, m]` row-major, `n ≤ m`, finite) to a distinct
/// column so that the sum of the chosen costs is minimal; returns the column of each row.
///
/// # Panics
/// When `n > m` or `cost` does not hold `n · m` values (internal callers guarantee both).
pub(crate) fn assign_min_cost(cost: &[f64], n: usize, m: usize) -> Vec<usize> {
    assert!(n <= m && cost.len() == n * m, "a [n, m] cost with n <= m");
    // 1-based rows and columns; column 0 is the virtual start of each augmenting path.
    let mut u = vec![0.0f64; n + 1];
    let mut v = vec![0.0f64; m + 1];
    let mut row_of = vec![0usize; m + 1];
    let mut way = vec![0usize; m + 1];
    for i in 1..=n {
        row_of[0] = i;
        let mut j0 = 0;
        let mut min_v = vec![f64::INFINITY; m + 1];
        let mut used = vec![false; m + 1];
        loop {
            used[j0] = true;
            let i0 = row_of[j0];
            let (mut delta, mut j1) = (f64::INFINITY, 0);
            for j in 1..=m {
                if !used[j] {
                    let reduced = cost[(i0 - 1) * m + (j - 1)] - u[i0] - v[j];
                    if reduced < min_v[j] {
                        min_v[j] = reduced;
                        way[j] = j0;
                    }
                    if min_v[j] < delta {
                        delta = min_v[j];
                        j1 = j;
                    }
                }
            }
            for j in 0..=m {
                if used[j] {
                    u[row_of[j]] += delta;
                    v[j] -= delta;
                } else {
                    min_v[j] -= delta;
                }
            }
            j0 = j1;
            if row_of[j0] == 0 {
                break;
            }
        }
        // Flip the augmenting path.
        while j0 != 0 {
            let j1 = way[j0];
            row_of[j0] = row_of[j1];
            j0 = j1;
        }
    }
    let mut column = vec![0; n];
    for j in 1..=m {
        if row_of[j] != 0 {
            column[row_of[j] - 1] = j - 1;
        }
    }
    column
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn best_by_brute_force(cost: &[f64], n: usize, m: usize) -> f64 {
        fn go(cost: &[f64], n: usize, m: usize, i: usize, used: &mut Vec<bool>) -> f64 {
            if i == n {
                return 0.0;
            }
            let mut best = f64::INFINITY;
            for j in 0..m {
                if !used[j] {
                    used[j] = true;
                    best = best.min(cost[i * m + j] + go(cost, n, m, i + 1, used));
                    used[j] = false;
                }
            }
            best
        }
        go(cost, n, m, 0, &mut vec![false; m])
    }

    #[test]
    fn matches_brute_force_on_random_matrices() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for trial in 0..200 {
            let n = 1 + trial % 5;
            let m = n + trial % 3;
            let cost: Vec<f64> = (0..n * m)
                .map(|_| rng.random::<f64>() * 10.0 - 5.0)
                .collect();
            let cols = assign_min_cost(&cost, n, m);
            let mut seen = cols.clone();
            seen.sort_unstable();
            seen.dedup();
            assert_eq!(seen.len(), n, "distinct columns");
            let total: f64 = cols.iter().enumerate().map(|(i, &j)| cost[i * m + j]).sum();
            let best = best_by_brute_force(&cost, n, m);
            assert!(
                (total - best).abs() < 1e-9,
                "trial {trial}: {total} vs {best}"
            );
        }
    }

    #[test]
    fn finds_the_permutation_of_a_planted_diagonal() {
        let n = 40;
        let perm: Vec<usize> = (0..n).map(|i| (i * 7 + 3) % n).collect();
        let mut cost = vec![1.0; n * n];
        for (i, &j) in perm.iter().enumerate() {
            cost[i * n + j] = 0.0;
        }
        assert_eq!(assign_min_cost(&cost, n, n), perm);
    }
}
