//! The process-wide switch of the fused kernels: [`set_enabled`] and [`enabled`].

use std::sync::atomic::{AtomicBool, Ordering};

/// Whether the fused kernels are used (the default); see [`set_enabled`].
static ENABLED: AtomicBool = AtomicBool::new(true);

/// Turns the fused kernels on or off for the whole process: with `false`, every penalty and
/// the top-k mask run their Burn op chains on every backend. For benchmarks (the op chain
/// against the fused kernel in one run) and for ruling the kernels out when debugging; the
/// results agree within float32 rounding either way.
///
/// ```
/// use burn::prelude::*;
/// use sparse_losses::prelude::*;
///
/// let l1 = L1Config::new().init()?;
/// let x = Tensor::<1>::from_floats([1.0, -2.0], &Device::flex());
/// sparse_losses::fused::set_enabled(false);
/// let chain: f32 = l1.forward(x.clone())?.into_scalar();
/// sparse_losses::fused::set_enabled(true);
/// let fused: f32 = l1.forward(x)?.into_scalar();
/// assert_eq!(chain, fused);
/// # Ok::<(), sparse_losses::Error>(())
/// ```
pub fn set_enabled(enabled: bool) {
    ENABLED.store(enabled, Ordering::Relaxed);
}

/// Whether the fused kernels are in use ([`set_enabled`]).
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}
