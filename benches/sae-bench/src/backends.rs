//! The backends a run can use, and their devices.
//!
//! A backend that is not compiled in, or whose device cannot be created (no wgpu adapter, no
//! CUDA GPU), is reported in one plain line on stderr and skipped: device creation is wrapped
//! in `catch_unwind`, because wgpu's adapter discovery and CUDA's driver loading can panic.

use std::fmt;
use std::str::FromStr;

use burn::prelude::*;

/// A Burn backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Burn's pure-Rust CPU backend.
    Flex,
    /// The (deprecated) ndarray CPU backend.
    Ndarray,
    /// wgpu (Vulkan, Metal, DX12, GL).
    Wgpu,
    /// CUDA.
    Cuda,
    /// Flex with the fused kernels turned off (`sparse_losses::fused::set_enabled(false)`):
    /// the penalties' Burn op chains, for the before/after comparison in one run.
    FlexChain,
    /// wgpu with the fused kernels turned off.
    WgpuChain,
    /// CUDA with the fused kernels turned off.
    CudaChain,
}

impl Backend {
    /// The name used on the command line, in the tables and in the JSON records.
    pub fn name(self) -> &'static str {
        match self {
            Self::Flex => "flex",
            Self::Ndarray => "ndarray",
            Self::Wgpu => "wgpu",
            Self::Cuda => "cuda",
            Self::FlexChain => "flex-chain",
            Self::WgpuChain => "wgpu-chain",
            Self::CudaChain => "cuda-chain",
        }
    }

    /// Whether this backend runs with sparse-losses' fused kernels (the `-chain` variants
    /// turn them off).
    pub fn fused(self) -> bool {
        !matches!(self, Self::FlexChain | Self::WgpuChain | Self::CudaChain)
    }

    /// Whether the backend runs asynchronously on a GPU (and is timed as one, see
    /// [`crate::timing`]).
    pub fn is_gpu(self) -> bool {
        matches!(
            self,
            Self::Wgpu | Self::Cuda | Self::WgpuChain | Self::CudaChain
        )
    }

    /// The default list: flex, flex-chain and ndarray, plus wgpu and cuda when compiled in.
    pub fn defaults() -> Vec<Self> {
        let mut list = vec![Self::Flex, Self::FlexChain, Self::Ndarray];
        if cfg!(feature = "wgpu") {
            list.push(Self::Wgpu);
        }
        if cfg!(feature = "cuda") {
            list.push(Self::Cuda);
        }
        list
    }

    /// The backend's (non-autodiff) device, or why there is none.
    pub fn device(self) -> Result<Device, String> {
        match self {
            Self::Flex | Self::FlexChain => Ok(Device::flex()),
            #[allow(deprecated)]
            Self::Ndarray => Ok(Device::ndarray()),
            Self::Wgpu | Self::WgpuChain => wgpu_device(),
            Self::Cuda | Self::CudaChain => cuda_device(),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Backend {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "flex" => Ok(Self::Flex),
            "ndarray" => Ok(Self::Ndarray),
            "wgpu" => Ok(Self::Wgpu),
            "cuda" => Ok(Self::Cuda),
            "flex-chain" => Ok(Self::FlexChain),
            "wgpu-chain" => Ok(Self::WgpuChain),
            "cuda-chain" => Ok(Self::CudaChain),
            other => Err(format!(
                "unknown backend `{other}` (expected flex, ndarray, wgpu, cuda, or flex-chain, wgpu-chain, cuda-chain for the op chains)"
            )),
        }
    }
}

/// The devices of `backends` that exist, in order; each missing one is reported on stderr.
pub fn available(backends: &[Backend]) -> Vec<(Backend, Device)> {
    backends
        .iter()
        .filter_map(|&b| match b.device() {
            Ok(device) => Some((b, device)),
            Err(why) => {
                eprintln!("{b}: {why}; skipped");
                None
            }
        })
        .collect()
}

#[cfg(feature = "wgpu")]
fn wgpu_device() -> Result<Device, String> {
    match quietly(|| Device::wgpu_options().init()) {
        Ok(Ok(device)) => Ok(device),
        Ok(Err(e)) => Err(format!("no wgpu adapter ({e})")),
        Err(_) => Err("no wgpu adapter (wgpu panicked while looking for one)".into()),
    }
}

#[cfg(not(feature = "wgpu"))]
fn wgpu_device() -> Result<Device, String> {
    Err("not compiled in (build with `--features wgpu`)".into())
}

#[cfg(feature = "cuda")]
fn cuda_device() -> Result<Device, String> {
    // `Device::cuda` panics when there is no driver or no GPU; creating a tensor makes sure the
    // runtime really starts (it loads the driver lazily).
    quietly(|| {
        let device = Device::cuda(0);
        let _ = Tensor::<1>::zeros([1], &device).into_scalar::<f32>();
        device
    })
    .map_err(|_| "no CUDA device 0 (driver or toolkit missing?)".to_string())
}

#[cfg(not(feature = "cuda"))]
fn cuda_device() -> Result<Device, String> {
    Err("not compiled in (build with `--features cuda`)".into())
}

/// Runs `f`, catching a panic without printing its message (the caller prints one line).
#[cfg(any(feature = "wgpu", feature = "cuda"))]
fn quietly<T>(f: impl FnOnce() -> T) -> std::thread::Result<T> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    std::panic::set_hook(hook);
    result
}
