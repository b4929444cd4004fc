//! The thresholds on which OMP stops a signal, shared by its two implementations: the batched
//! op chain (`omp.rs`) and the CPU loop (`omp_cpu.rs`).

/// Float32's machine epsilon: the dictionary and signals are float32 tensors.
const EPS: f64 = f32::EPSILON as f64;

/// A new atom whose Cholesky pivot is at most `PIVOT_EPS × ‖d_j‖²` is linearly dependent on
/// the chosen ones. SPEC says "≤ machine epsilon"; in float32, `1 − ‖w‖²` of an exactly
/// dependent unit atom comes out at a few ε, hence the factor.
pub(super) const PIVOT_EPS: f64 = 8.0 * EPS;

/// A residual correlation `|α_j| <= NOISE × ‖x‖` is rounding noise: the residual is zero
/// (the signal is fitted exactly) and the signal stops, as scikit-learn's float64 run does
/// when it reselects an atom at that point.
pub(super) const NOISE: f64 = 16.0 * EPS;
