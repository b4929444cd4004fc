//! SAEBench-style sparse probing of SAE latents.
//!
//! For each class, a one-vs-rest L2 logistic regression (the problem solved
//! by scikit-learn's `LogisticRegression(C, penalty="l2",
//! fit_intercept=True)`) is fitted on the `k` latents whose class-conditional
//! means differ most, and scored by balanced accuracy on held-out rows.
//!
//! Functions return `NaN` instead of panicking when the shapes of their
//! inputs are inconsistent.

/// Newton iterations allowed in [`logistic_regression`].
const MAX_NEWTON_ITERS: usize = 100;
/// Convergence threshold on `max_j |∂f/∂θ_j|` in [`logistic_regression`].
const GRAD_TOL: f64 = 1e-10;
/// Step halvings tried per Newton iteration before giving up.
const MAX_HALVINGS: usize = 60;
/// Sufficient-decrease constant of the Armijo line search.
const ARMIJO: f64 = 1e-4;

/// Fits a binary L2-regularised logistic regression with an unpenalised
/// intercept, exactly the optimisation problem of scikit-learn's
/// `LogisticRegression(C=c, penalty="l2", fit_intercept=True)`:
///
/// `min_{w,b} f(w,b) = ½‖w‖² + C Σ_i log(1 + exp(−s_i (x_i·w + b)))`,
/// with `s_i = +1` if `y[i]` else `−1`.
///
/// `x` is row-major `[n, k]`; returns `(w, b)` with `w.len() == k`.
///
/// Solved by Newton's method on the `(k+1)`-dimensional problem, starting
/// from `w = 0, b = 0`, with a Cholesky solve of the Hessian
/// `H = diag(1,…,1,0) + C Σ_i σ(z_i)σ(−z_i) [x_i;1][x_i;1]ᵀ` and an Armijo
/// backtracking (step-halving) line search. It stops when
/// `max|∇f| < 1e-10`, after 100 iterations, or when no step reduces `f`
/// any further (the limit of `f64` rounding).
///
/// * Perfectly separable data: the `½‖w‖²` term keeps the optimum finite,
///   and Newton converges to it as usual.
/// * All rows in one class (scikit-learn refuses to fit this): `w` stays
///   finite but the optimal `b` is `±∞`. The iteration still terminates:
///   `b` grows by about 1 per step until the gradient, which decays like
///   `C·n·e^{−|b|}`, drops below `1e-10` (around `|b| ≈ 23 + ln(C·n)`), so a
///   large finite `b` of the right sign is returned.
/// * `n == 0`: returns `w = 0, b = 0`.
///
/// Returns `k` NaN weights and a NaN intercept if `x.len() != n * k`,
/// `y.len() != n`, or `c` is not finite and positive.
pub fn logistic_regression(x: &[f64], n: usize, k: usize, y: &[bool], c: f64) -> (Vec<f64>, f64) {
    if x.len() != n * k || y.len() != n || !(c.is_finite() && c > 0.0) {
        return (vec![f64::NAN; k], f64::NAN);
    }
    let problem = Logistic { x, k, y, c };
    let mut theta = vec![0.0; k + 1];
    let mut f = problem.objective(&theta);
    for _ in 0..MAX_NEWTON_ITERS {
        let (grad, hess) = problem.gradient_and_hessian(&theta);
        let grad_max = max_abs(&grad);
        if grad_max < GRAD_TOL {
            break;
        }
        let direction = descent_direction(&hess, &grad);
        match problem.line_search(&theta, f, &grad, grad_max, &direction) {
            Some((next, f_next)) => {
                theta = next;
                f = f_next;
            }
            None => break,
        }
    }
    let b = theta.pop().unwrap_or(0.0);
    (theta, b)
}

/// The data of one logistic-regression fit; `θ = (w_1, …, w_k, b)`.
struct Logistic<'a> {
    x: &'a [f64],
    k: usize,
    y: &'a [bool],
    c: f64,
}

impl Logistic<'_> {
    /// Iterator over `(x_i, y_i)`.
    fn rows(&self) -> impl Iterator<Item = (&[f64], bool)> + '_ {
        matrix_rows(self.x, self.y.len(), self.k).zip(self.y.iter().copied())
    }

    /// Decision value `z = x·w + b`.
    fn decision(&self, row: &[f64], theta: &[f64]) -> f64 {
        dot(row, &theta[..self.k]) + theta[self.k]
    }

    /// `f(θ) = ½‖w‖² + C Σ_i softplus(−s_i z_i)`.
    fn objective(&self, theta: &[f64]) -> f64 {
        let penalty = 0.5 * dot(&theta[..self.k], &theta[..self.k]);
        let loss: f64 = self
            .rows()
            .map(|(row, label)| {
                let z = self.decision(row, theta);
                softplus(if label { -z } else { z })
            })
            .sum();
        penalty + self.c * loss
    }

    /// Gradient `∇f = (w + C Σ r_i x_i, C Σ r_i)` with residual
    /// `r_i = σ(z_i) − y_i`, and the Hessian (row-major `(k+1)²`)
    /// `diag(1,…,1,0) + C Σ σ(z_i)σ(−z_i) [x_i;1][x_i;1]ᵀ`.
    fn gradient_and_hessian(&self, theta: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let m = self.k + 1;
        let mut grad = vec![0.0; m];
        let mut hess = vec![0.0; m * m];
        let mut a = vec![1.0; m];
        for (row, label) in self.rows() {
            let z = self.decision(row, theta);
            // σ(z) − 1 = −σ(−z) avoids cancellation for confident positives.
            let residual = if label { -sigmoid(-z) } else { sigmoid(z) };
            let weight = sigmoid(z) * sigmoid(-z);
            a[..self.k].copy_from_slice(row);
            for i in 0..m {
                grad[i] += residual * a[i];
                for j in 0..=i {
                    hess[i * m + j] += weight * a[i] * a[j];
                }
            }
        }
        for i in 0..m {
            grad[i] *= self.c;
            for j in 0..=i {
                hess[i * m + j] *= self.c;
                hess[j * m + i] = hess[i * m + j];
            }
        }
        for j in 0..self.k {
            grad[j] += theta[j];
            hess[j * m + j] += 1.0;
        }
        (grad, hess)
    }

    /// Gradient only (see [`Logistic::gradient_and_hessian`]).
    fn gradient(&self, theta: &[f64]) -> Vec<f64> {
        self.gradient_and_hessian(theta).0
    }

    /// Backtracking along `direction` from `theta` (objective `f`, gradient
    /// `grad`): the first step `t ∈ {1, ½, ¼, …}` with
    /// `f(θ + t d) ≤ f + 1e-4 · t · ∇f·d` is taken. Near the optimum the
    /// decrease can fall below the rounding error of `f`; then the full step
    /// is still accepted if `f` does not rise beyond rounding and the
    /// gradient shrinks. Returns `None` when no step is acceptable.
    fn line_search(
        &self,
        theta: &[f64],
        f: f64,
        grad: &[f64],
        grad_max: f64,
        direction: &[f64],
    ) -> Option<(Vec<f64>, f64)> {
        let slope = dot(grad, direction);
        let mut t = 1.0;
        for attempt in 0..MAX_HALVINGS {
            let candidate: Vec<f64> = theta
                .iter()
                .zip(direction)
                .map(|(p, d)| p + t * d)
                .collect();
            let f_candidate = self.objective(&candidate);
            if f_candidate <= f + ARMIJO * t * slope {
                return Some((candidate, f_candidate));
            }
            let within_rounding = f_candidate - f <= 1e-12 * f.abs().max(1.0);
            if attempt == 0 && within_rounding && max_abs(&self.gradient(&candidate)) < grad_max {
                return Some((candidate, f_candidate));
            }
            t *= 0.5;
        }
        None
    }
}

/// Newton direction `d = −H⁻¹ ∇f`. If the Hessian is numerically singular
/// (all rows confidently classified, intercept direction flat), a growing
/// ridge is added to its diagonal; if that fails too, or `d` is not a descent
/// direction, falls back to steepest descent `d = −∇f`.
fn descent_direction(hess: &[f64], grad: &[f64]) -> Vec<f64> {
    let m = grad.len();
    let neg_grad: Vec<f64> = grad.iter().map(|g| -g).collect();
    let scale = (0..m).map(|i| hess[i * m + i].abs()).fold(1.0, f64::max);
    let mut ridge = 0.0;
    for _ in 0..8 {
        let mut h = hess.to_vec();
        for i in 0..m {
            h[i * m + i] += ridge;
        }
        if let Some(d) = cholesky_solve(&h, m, &neg_grad) {
            if dot(&d, grad) < 0.0 && d.iter().all(|v| v.is_finite()) {
                return d;
            }
        }
        ridge = if ridge == 0.0 {
            1e-12 * scale
        } else {
            ridge * 100.0
        };
    }
    neg_grad
}

/// Solves `A v = rhs` for a symmetric positive-definite row-major `m × m`
/// matrix `A` by Cholesky factorisation `A = L Lᵀ`; `None` if `A` is not
/// numerically positive definite.
fn cholesky_solve(a: &[f64], m: usize, rhs: &[f64]) -> Option<Vec<f64>> {
    let mut l = vec![0.0; m * m];
    for i in 0..m {
        for j in 0..=i {
            let sum = a[i * m + j] - dot(&l[i * m..i * m + j], &l[j * m..j * m + j]);
            if i == j {
                if !(sum > 0.0 && sum.is_finite()) {
                    return None;
                }
                l[i * m + i] = sum.sqrt();
            } else {
                l[i * m + j] = sum / l[j * m + j];
            }
        }
    }
    // Forward substitution L u = rhs, then back substitution Lᵀ v = u.
    let mut v = rhs.to_vec();
    for i in 0..m {
        v[i] = (v[i] - dot(&l[i * m..i * m + i], &v[..i])) / l[i * m + i];
    }
    for i in (0..m).rev() {
        let tail: f64 = (i + 1..m).map(|j| l[j * m + i] * v[j]).sum();
        v[i] = (v[i] - tail) / l[i * m + i];
    }
    Some(v)
}

/// The `n` rows of a row-major `[n, k]` matrix (empty slices when `k == 0`,
/// unlike `chunks_exact`). Requires `x.len() == n * k`.
fn matrix_rows(x: &[f64], n: usize, k: usize) -> impl Iterator<Item = &[f64]> {
    (0..n).map(move |i| &x[i * k..(i + 1) * k])
}

/// `Σ_i a_i b_i`.
fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `max_i |v_i|` (0 for an empty slice).
fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

/// Logistic function `σ(z) = 1 / (1 + e^{−z})`, stable for large `|z|`.
fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// `softplus(t) = log(1 + e^t) = max(t, 0) + log1p(e^{−|t|})`.
fn softplus(t: f64) -> f64 {
    t.max(0.0) + (-t.abs()).exp().ln_1p()
}

/// Balanced accuracy of binary predictions (scikit-learn's
/// `balanced_accuracy_score` for boolean labels):
///
/// `(TP / (TP + FN) + TN / (TN + FP)) / 2`,
///
/// i.e. the mean of the recalls of the positive and the negative class. If
/// one class is absent from `y_true`, its recall is undefined and the result
/// is the recall of the class that is present. Returns `NaN` if the slices
/// differ in length or are empty.
pub fn balanced_accuracy(y_true: &[bool], y_pred: &[bool]) -> f64 {
    if y_true.len() != y_pred.len() || y_true.is_empty() {
        return f64::NAN;
    }
    let recall = |class: bool| -> Option<f64> {
        let support = y_true.iter().filter(|&&t| t == class).count();
        let hits = y_true
            .iter()
            .zip(y_pred)
            .filter(|&(&t, &p)| t == class && p == class)
            .count();
        (support > 0).then(|| hits as f64 / support as f64)
    };
    let recalls: Vec<f64> = [true, false].into_iter().filter_map(recall).collect();
    recalls.iter().sum::<f64>() / recalls.len() as f64
}

/// Indices of the `k` columns of `x` (row-major `[n, width]`) with the
/// largest `|mean_{i: y_i} x_{i,j} − mean_{i: ¬y_i} x_{i,j}|`, best first.
///
/// Means are computed in `f64`; the mean of an empty group is taken as 0.
/// Ties are broken by the lower column index (the PyTorch reference uses
/// `torch.argsort(descending=True)`, which is not stable, so exact ties may
/// be ordered differently there; with real-valued activations they are
/// rare). NaN scores rank last. `k` is capped at `width`. Returns an empty
/// vector if `x.len() != n * width` or `y.len() != n`.
pub fn top_k_mean_diff_columns(
    x: &[f32],
    n: usize,
    width: usize,
    y: &[bool],
    k: usize,
) -> Vec<usize> {
    if x.len() != n * width || y.len() != n || width == 0 {
        return Vec::new();
    }
    let mut sum_pos = vec![0.0f64; width];
    let mut sum_neg = vec![0.0f64; width];
    for (row, &label) in x.chunks_exact(width).zip(y) {
        let sums = if label { &mut sum_pos } else { &mut sum_neg };
        for (s, &v) in sums.iter_mut().zip(row) {
            *s += f64::from(v);
        }
    }
    let n_pos = y.iter().filter(|&&l| l).count();
    let mean = |sum: f64, count: usize| if count == 0 { 0.0 } else { sum / count as f64 };
    let score: Vec<f64> = sum_pos
        .iter()
        .zip(&sum_neg)
        .map(|(&p, &q)| (mean(p, n_pos) - mean(q, n - n_pos)).abs())
        .map(|s| if s.is_nan() { f64::NEG_INFINITY } else { s })
        .collect();
    let mut order: Vec<usize> = (0..width).collect();
    order.sort_by(|&a, &b| score[b].total_cmp(&score[a]).then(a.cmp(&b)));
    order.truncate(k.min(width));
    order
}

/// Copies the given columns of row-major `[n, width]` `x` into a row-major
/// `[n, columns.len()]` `f64` matrix.
fn select_columns(x: &[f32], width: usize, columns: &[usize]) -> Vec<f64> {
    x.chunks_exact(width)
        .flat_map(|row| columns.iter().map(move |&j| f64::from(row[j])))
        .collect()
}

/// One class's one-vs-rest probe from [`sparse_probe_per_class`].
#[derive(Debug, Clone, PartialEq)]
pub struct ClassProbe {
    /// The selected columns (see [`top_k_mean_diff_columns`]), best first.
    pub columns: Vec<usize>,
    /// Logistic-regression weights, one per entry of `columns`.
    pub weights: Vec<f64>,
    /// Logistic-regression intercept `b`.
    pub intercept: f64,
    /// Balanced accuracy on the test rows of the prediction
    /// `x·w + b > 0` against `label == class`.
    pub balanced_accuracy: f64,
}

/// Runs the one-vs-rest sparse probe for every class and returns one
/// [`ClassProbe`] per class (see [`sparse_probe`] for the procedure), or
/// `None` if the inputs are inconsistent: `train.len() != n_train * width`,
/// `test.len() != n_test * width`, label counts differing from the row
/// counts, any label `>= classes`, or `n_train`, `n_test`, `classes` or
/// `width` equal to 0.
#[allow(clippy::too_many_arguments)]
pub fn sparse_probe_per_class(
    train: &[f32],
    n_train: usize,
    width: usize,
    train_labels: &[usize],
    test: &[f32],
    n_test: usize,
    test_labels: &[usize],
    classes: usize,
    k: usize,
) -> Option<Vec<ClassProbe>> {
    let shapes_ok = train.len() == n_train * width
        && test.len() == n_test * width
        && train_labels.len() == n_train
        && test_labels.len() == n_test;
    let sizes_ok = n_train > 0 && n_test > 0 && classes > 0 && width > 0;
    let labels_ok = train_labels.iter().chain(test_labels).all(|&l| l < classes);
    if !(shapes_ok && sizes_ok && labels_ok) {
        return None;
    }
    let probes = (0..classes)
        .map(|class| {
            let y_train: Vec<bool> = train_labels.iter().map(|&l| l == class).collect();
            let y_test: Vec<bool> = test_labels.iter().map(|&l| l == class).collect();
            let columns = top_k_mean_diff_columns(train, n_train, width, &y_train, k);
            let x_train = select_columns(train, width, &columns);
            let (weights, intercept) =
                logistic_regression(&x_train, n_train, columns.len(), &y_train, 1.0);
            let x_test = select_columns(test, width, &columns);
            let y_pred: Vec<bool> = matrix_rows(&x_test, n_test, columns.len())
                .map(|row| dot(row, &weights) + intercept > 0.0)
                .collect();
            let balanced_accuracy = balanced_accuracy(&y_test, &y_pred);
            ClassProbe {
                columns,
                weights,
                intercept,
                balanced_accuracy,
            }
        })
        .collect();
    Some(probes)
}

/// SAEBench-style `k`-sparse probing accuracy, averaged over classes.
///
/// `train` and `test` are row-major `[n, width]` activations. For each class
/// `c` in `0..classes`:
///
/// 1. one-vs-rest targets `y = (label == c)`;
/// 2. pick the `k` columns (`min(k, width)`) with the largest
///    `|mean_{train, y} x_j − mean_{train, ¬y} x_j|`
///    ([`top_k_mean_diff_columns`], ties to the lower index);
/// 3. fit [`logistic_regression`] with `C = 1` on those columns of the train
///    rows (as `f64`);
/// 4. predict test rows as `x·w + b > 0` (scikit-learn's `predict`);
/// 5. score with [`balanced_accuracy`] on the test rows.
///
/// Returns `(1/classes) Σ_c balanced_accuracy_c`, or `NaN` when the inputs
/// are inconsistent (see [`sparse_probe_per_class`]).
#[allow(clippy::too_many_arguments)]
pub fn sparse_probe(
    train: &[f32],
    n_train: usize,
    width: usize,
    train_labels: &[usize],
    test: &[f32],
    n_test: usize,
    test_labels: &[usize],
    classes: usize,
    k: usize,
) -> f64 {
    match sparse_probe_per_class(
        train,
        n_train,
        width,
        train_labels,
        test,
        n_test,
        test_labels,
        classes,
        k,
    ) {
        Some(probes) => probes.iter().map(|p| p.balanced_accuracy).sum::<f64>() / classes as f64,
        None => f64::NAN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 12 × 2 overlapping data set of `sklearn_check.py`.
    const X12: [f64; 24] = [
        0.5, 1.2, 1.5, -0.3, 2.0, 0.8, -0.4, 0.1, 1.1, 2.2, 0.9, -1.0, -1.2, 0.4, -0.7, -1.5, 0.8,
        0.3, -1.9, -0.2, -0.2, 1.7, -1.0, -0.9,
    ];
    const Y12: [bool; 12] = [
        true, true, true, false, true, true, false, false, false, false, true, false,
    ];

    /// `max|∇f|` at `(w, b)`, computed independently of the solver:
    /// `∇_w = w + C Σ r_i x_i`, `∂_b = C Σ r_i`, `r_i = σ(z_i) − y_i`.
    fn first_order_residual(x: &[f64], k: usize, y: &[bool], c: f64, w: &[f64], b: f64) -> f64 {
        let mut g: Vec<f64> = w.to_vec();
        g.push(0.0);
        for (row, &label) in x.chunks_exact(k).zip(y) {
            let z: f64 = row.iter().zip(w).map(|(a, b)| a * b).sum::<f64>() + b;
            let r = 1.0 / (1.0 + (-z).exp()) - if label { 1.0 } else { 0.0 };
            for j in 0..k {
                g[j] += c * r * row[j];
            }
            g[k] += c * r;
        }
        max_abs(&g)
    }

    #[test]
    fn optimum_satisfies_first_order_conditions() {
        for c in [0.01, 0.1, 1.0, 10.0] {
            let (w, b) = logistic_regression(&X12, 12, 2, &Y12, c);
            let residual = first_order_residual(&X12, 2, &Y12, c, &w, b);
            assert!(residual < 1e-9, "C={c}: residual {residual}");
        }
        // 1-D data.
        let x = [-3.0, -1.0, 0.0, 0.5, 1.0, 2.0, 4.0];
        let y = [false, false, true, false, true, true, true];
        let (w, b) = logistic_regression(&x, 7, 1, &y, 1.0);
        assert!(first_order_residual(&x, 1, &y, 1.0, &w, b) < 1e-9);
        assert!(w[0] > 0.0);
    }

    /// Reference values from `sklearn_check.py` (scikit-learn 1.9.1,
    /// `LogisticRegression(C, max_iter=10000, tol=1e-12)`).
    #[test]
    fn matches_scikit_learn() {
        let cases: [(f64, [f64; 2], f64); 2] = [
            (
                1.0,
                [1.173126921674871, 0.6289048632479571],
                -0.3180529580941385,
            ),
            (
                0.1,
                [0.3527651229527765, 0.21133361867045058],
                -0.09119457525356232,
            ),
        ];
        for (c, coef, intercept) in cases {
            let (w, b) = logistic_regression(&X12, 12, 2, &Y12, c);
            assert!((w[0] - coef[0]).abs() < 1e-6, "C={c}: {w:?}");
            assert!((w[1] - coef[1]).abs() < 1e-6, "C={c}: {w:?}");
            assert!((b - intercept).abs() < 1e-6, "C={c}: {b}");
        }
    }

    #[test]
    fn separable_data_gives_finite_sklearn_solution() {
        let x = [-2.0, -1.5, -0.5, 0.5, 1.0, 3.0];
        let y = [false, false, false, true, true, true];
        let (w, b) = logistic_regression(&x, 6, 1, &y, 1.0);
        assert!((w[0] - 1.129532825293498).abs() < 1e-6, "{w:?}");
        assert!((b - 0.030280336881464497).abs() < 1e-6, "{b}");
        assert!(first_order_residual(&x, 1, &y, 1.0, &w, b) < 1e-9);
    }

    #[test]
    fn single_class_terminates_with_finite_large_intercept() {
        let x = [0.5, -1.0, 2.0, 0.0];
        let (w, b) = logistic_regression(&x, 4, 1, &[true; 4], 1.0);
        assert!(w[0].is_finite() && b.is_finite() && b > 10.0, "{w:?} {b}");
        let (w, b) = logistic_regression(&x, 4, 1, &[false; 4], 1.0);
        assert!(w[0].is_finite() && b.is_finite() && b < -10.0, "{w:?} {b}");
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        assert_eq!(
            logistic_regression(&[], 0, 3, &[], 1.0),
            (vec![0.0; 3], 0.0)
        );
        // k = 0: intercept only, b = log(n_pos / n_neg).
        let (w, b) = logistic_regression(&[], 3, 0, &[true, true, false], 1.0);
        assert!(w.is_empty() && (b - 2f64.ln()).abs() < 1e-9, "{b}");
        let (w, b) = logistic_regression(&[1.0, 2.0], 3, 1, &[true; 3], 1.0);
        assert!(w[0].is_nan() && b.is_nan());
        let (_, b) = logistic_regression(&[1.0], 1, 1, &[true], 0.0);
        assert!(b.is_nan());
    }

    #[test]
    fn balanced_accuracy_hand_cases() {
        // 3 positives (2 hit), 2 negatives (1 hit): (2/3 + 1/2) / 2 = 7/12.
        let t = [true, true, true, false, false];
        let p = [true, false, true, true, false];
        assert!((balanced_accuracy(&t, &p) - 7.0 / 12.0).abs() < 1e-15);
        assert_eq!(balanced_accuracy(&t, &t), 1.0);
        let inverted: Vec<bool> = t.iter().map(|v| !v).collect();
        assert_eq!(balanced_accuracy(&t, &inverted), 0.0);
        // Constant prediction scores 1/2 whatever the class balance.
        assert_eq!(balanced_accuracy(&t, &[true; 5]), 0.5);
        assert_eq!(balanced_accuracy(&t, &[false; 5]), 0.5);
        // Only one class present in y_true: recall of that class.
        assert_eq!(
            balanced_accuracy(&[false; 4], &[false, true, false, false]),
            0.75
        );
        assert_eq!(balanced_accuracy(&[true; 2], &[true, false]), 0.5);
        assert!(balanced_accuracy(&[], &[]).is_nan());
        assert!(balanced_accuracy(&[true], &[true, false]).is_nan());
    }

    /// Deterministic uniform noise in `[-0.5, 0.5)`.
    fn lcg(state: &mut u64) -> f32 {
        *state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (*state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    }

    /// Two classes, width 6; column 4 equals the label (as 0/1) plus small
    /// noise, the other columns are pure noise.
    fn synthetic(n: usize, state: &mut u64) -> (Vec<f32>, Vec<usize>) {
        let labels: Vec<usize> = (0..n).map(|i| i % 2).collect();
        let x = labels
            .iter()
            .flat_map(|&l| {
                (0..6)
                    .map(|j| {
                        if j == 4 {
                            l as f32 + 0.2 * lcg(state)
                        } else {
                            lcg(state)
                        }
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        (x, labels)
    }

    #[test]
    fn sparse_probe_finds_the_informative_column() {
        let mut state = 7;
        let (train, train_labels) = synthetic(200, &mut state);
        let (test, test_labels) = synthetic(100, &mut state);
        for k in [1, 2, 3] {
            let probes = sparse_probe_per_class(
                &train,
                200,
                6,
                &train_labels,
                &test,
                100,
                &test_labels,
                2,
                k,
            )
            .unwrap();
            for p in &probes {
                assert_eq!(p.columns.len(), k);
                assert_eq!(p.columns[0], 4, "{p:?}");
                assert!(p.balanced_accuracy > 0.99, "{p:?}");
            }
            // Class 1 probe: positive weight on the indicator column; class 0: negative.
            assert!(probes[1].weights[0] > 0.0 && probes[0].weights[0] < 0.0);
            let acc = sparse_probe(
                &train,
                200,
                6,
                &train_labels,
                &test,
                100,
                &test_labels,
                2,
                k,
            );
            assert!(acc > 0.99, "k={k}: {acc}");
        }
        // k larger than width is capped.
        let probes = sparse_probe_per_class(
            &train,
            200,
            6,
            &train_labels,
            &test,
            100,
            &test_labels,
            2,
            50,
        )
        .unwrap();
        assert_eq!(probes[0].columns.len(), 6);
    }

    #[test]
    fn column_ranking_and_ties() {
        // Column 0: diff 1, column 1: diff −1 (same |diff|), column 2: diff 3.
        let x = [1.0, 0.0, 3.0, 0.0, 1.0, 0.0];
        let y = [true, false];
        assert_eq!(top_k_mean_diff_columns(&x, 2, 3, &y, 3), vec![2, 0, 1]);
        assert_eq!(top_k_mean_diff_columns(&x, 2, 3, &y, 1), vec![2]);
        assert!(top_k_mean_diff_columns(&x, 3, 3, &y, 1).is_empty());
    }

    #[test]
    fn sparse_probe_rejects_inconsistent_inputs() {
        let x = [0.0f32; 6];
        assert!(sparse_probe(&x, 2, 3, &[0, 1], &x, 2, &[0, 2], 2, 1).is_nan());
        assert!(sparse_probe(&x, 3, 3, &[0, 1], &x, 2, &[0, 1], 2, 1).is_nan());
        assert!(sparse_probe(&x, 2, 3, &[0, 1], &x, 2, &[0, 1], 0, 1).is_nan());
        assert!(sparse_probe(&x, 2, 3, &[0, 1], &x, 2, &[0, 1], 2, 1).is_finite());
    }
}
