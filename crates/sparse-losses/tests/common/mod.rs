//! Helpers shared by the test binaries (`mod common;` in each one that uses them): the Flex
//! test device, the wgpu device (and `SPARSE_LOSSES_REQUIRE_WGPU`), value and gradient of a
//! penalty, a relative comparison and a deterministic random generator.
//!
//! Each test binary compiles its own copy and uses only part of it.
#![allow(dead_code)]

use burn::prelude::*;
use burn::tensor::TensorData;
use sparse_losses::Penalty;

/// The Flex device with autodiff: the device of the suites that run on Flex only.
pub fn device() -> Device {
    Device::flex().autodiff()
}

/// Whether `SPARSE_LOSSES_REQUIRE_WGPU=1`: a missing wgpu adapter is then a failure, not a
/// skip.
pub fn wgpu_required() -> bool {
    std::env::var("SPARSE_LOSSES_REQUIRE_WGPU").is_ok_and(|v| v == "1")
}

/// The wgpu device (without autodiff), or why there is none. Looked for once per process: a
/// second `init` of the same runtime is an error, and adapter discovery from several test
/// threads at once fails on some systems (EGL). Adapter discovery can panic inside wgpu on
/// some systems: that is "no adapter" too.
#[cfg(feature = "wgpu")]
pub fn wgpu_device() -> Result<Device, String> {
    static DEVICE: std::sync::OnceLock<Result<Device, String>> = std::sync::OnceLock::new();
    DEVICE
        .get_or_init(
            || match std::panic::catch_unwind(|| Device::wgpu_options().init()) {
                Ok(Ok(device)) => Ok(device),
                Ok(Err(e)) => Err(format!("no wgpu adapter: {e}")),
                Err(_) => Err("no wgpu adapter (wgpu panicked while looking for one)".to_string()),
            },
        )
        .clone()
}

/// Without the `wgpu` feature there is no wgpu device.
#[cfg(not(feature = "wgpu"))]
pub fn wgpu_device() -> Result<Device, String> {
    Err("built without the `wgpu` feature (cargo test --features wgpu)".to_string())
}

/// The wgpu device for a test, or `None` (a skip, said on stderr) when there is no adapter;
/// with `SPARSE_LOSSES_REQUIRE_WGPU=1` a missing adapter is a failure (a panic).
pub fn wgpu_or_skip() -> Option<Device> {
    match wgpu_device() {
        Ok(device) => Some(device),
        Err(why) if wgpu_required() => {
            panic!("{why} (SPARSE_LOSSES_REQUIRE_WGPU=1 makes this a failure)")
        }
        Err(why) => {
            eprintln!("wgpu: skipped: {why}");
            None
        }
    }
}

/// The value and the gradient of `penalty` at `x` (shape `dims`) on `device` (an autodiff
/// device).
pub fn value_and_grad<const D: usize>(
    penalty: &impl Penalty,
    x: &[f32],
    dims: [usize; D],
    device: &Device,
) -> (f32, Vec<f32>) {
    let (value, grad) = value_tensor_and_grad(penalty, x, dims, device, |t| t);
    (value.into_scalar(), grad)
}

/// The value (the penalty's output tensor) and the gradient of `penalty` at `x` (shape
/// `dims`) on `device` (an autodiff device), the penalty applied to `view(x)`: `x` itself, or
/// a view of the same values (a strided layout, say); the gradient is `x`'s.
pub fn value_tensor_and_grad<const D: usize>(
    penalty: &impl Penalty,
    x: &[f32],
    dims: [usize; D],
    device: &Device,
    view: impl FnOnce(Tensor<D>) -> Tensor<D>,
) -> (Tensor<1>, Vec<f32>) {
    let t = Tensor::<D>::from_data(TensorData::new(x.to_vec(), dims), device).require_grad();
    let value = penalty.forward(view(t.clone())).unwrap();
    let grads = value.backward();
    let grad = t
        .grad(&grads)
        .unwrap()
        .into_data()
        .try_into_vec::<f32>()
        .unwrap();
    (value, grad)
}

/// Whether `a` and `b` agree within `rtol` relative to the larger of `|a|` and `|b|` (never
/// for NaN).
pub fn close(a: f32, b: f32, rtol: f32) -> bool {
    (a - b).abs() <= rtol * a.abs().max(b.abs())
}

/// [`close`], the larger magnitude taken as at least `floor` (so that values near 0 agree
/// within `rtol · floor`).
pub fn close_with_floor(a: f32, b: f32, rtol: f32, floor: f32) -> bool {
    (a - b).abs() <= rtol * a.abs().max(b.abs()).max(floor)
}

/// Knuth's MMIX linear congruential generator: the deterministic pseudo-random inputs of the
/// tests (the same numbers on every platform and run).
pub struct Lcg {
    state: u64,
}

impl Lcg {
    const MUL: u64 = 6364136223846793005;
    const INC: u64 = 1442695040888963407;

    /// The generator seeded with `seed` (its state is one step from `seed`).
    pub fn new(seed: u64) -> Self {
        Self::from_state(seed.wrapping_mul(Self::MUL).wrapping_add(Self::INC))
    }

    /// The generator in state `state` (its first number is one step from it).
    pub fn from_state(state: u64) -> Self {
        Self { state }
    }

    /// The next state.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_mul(Self::MUL).wrapping_add(Self::INC);
        self.state
    }

    /// A number in `[0, 1)` from the next state's top 24 bits.
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
}
