//! The backends: a device for `--backend`, several for `--devices`, burn-train's execution
//! strategy.

use burn::prelude::*;
use burn::tensor::distributed::{DistributedConfig, ReduceOperation};
use burn::train::{ExecutionStrategy, MultiDeviceOptim};

use crate::error::AppError;
use crate::settings::{BackendKind, Settings};

/// The device for a backend.
pub fn device_for(kind: BackendKind) -> Result<Device, AppError> {
    match kind {
        BackendKind::Flex => Ok(Device::flex()),
        #[allow(deprecated)]
        BackendKind::Ndarray => Ok(Device::ndarray()),
        BackendKind::Wgpu => wgpu_device(),
        BackendKind::Cuda => cuda_device(0),
    }
}

/// Device `index` of a backend.
pub fn device_at(kind: BackendKind, index: usize) -> Result<Device, AppError> {
    match kind {
        BackendKind::Cuda => cuda_device(index),
        _ if index == 0 => device_for(kind),
        _ => Err(AppError::Setting(format!(
            "--devices > 1 needs a GPU backend; {} has one device",
            kind.name()
        ))),
    }
}

#[cfg(feature = "cuda")]
fn cuda_device(index: usize) -> Result<Device, AppError> {
    std::panic::catch_unwind(|| Device::cuda(index)).map_err(|_| {
        AppError::Backend(format!(
            "no CUDA device {index} (driver or toolkit missing?)"
        ))
    })
}

#[cfg(not(feature = "cuda"))]
fn cuda_device(_index: usize) -> Result<Device, AppError> {
    Err(AppError::Backend(
        "this build has no CUDA backend; rebuild with `--features cuda`".into(),
    ))
}

/// burn-train's execution strategy for `settings`: one device, several (multi-device), or
/// distributed data parallel.
pub fn strategy(settings: &Settings) -> Result<Option<ExecutionStrategy>, AppError> {
    if settings.devices == 1 && !settings.ddp {
        return Ok(None);
    }
    let devices = (0..settings.devices)
        .map(|i| device_at(settings.backend, i).map(|d| d.autodiff()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(if settings.ddp {
        ExecutionStrategy::ddp(
            devices,
            DistributedConfig {
                all_reduce_op: ReduceOperation::Mean,
            },
        )
    } else {
        ExecutionStrategy::multi(devices, MultiDeviceOptim::OptimMainDevice)
    }))
}

/// The wgpu device, set up once per process (a second set-up fails in CubeCL with "Service
/// already initialized"), so that the preflight check and the run share it.
#[cfg(feature = "wgpu")]
fn wgpu_device() -> Result<Device, AppError> {
    static DEVICE: std::sync::OnceLock<Result<Device, String>> = std::sync::OnceLock::new();
    DEVICE
        .get_or_init(|| {
            // Adapter discovery can panic inside wgpu on some systems: "no adapter" too.
            match std::panic::catch_unwind(|| Device::wgpu_options().init()) {
                Ok(Ok(device)) => Ok(device),
                Ok(Err(e)) => Err(format!(
                    "no wgpu adapter ({e}); on a machine without a GPU install Mesa's \
                     lavapipe (Debian: mesa-vulkan-drivers)"
                )),
                Err(_) => Err("wgpu panicked while looking for an adapter".into()),
            }
        })
        .clone()
        .map_err(AppError::Backend)
}

#[cfg(not(feature = "wgpu"))]
fn wgpu_device() -> Result<Device, AppError> {
    Err(AppError::Backend(
        "this build has no wgpu backend; rebuild with `cargo run --release -p sae-mnist \
         --features wgpu -- --backend wgpu`"
            .into(),
    ))
}
