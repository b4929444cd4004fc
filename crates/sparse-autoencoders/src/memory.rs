//! Memory checks before large allocations: an SAE whose weights or training state cannot fit
//! in memory is refused with [`Error::OutOfMemory`] instead of aborting the process when an
//! allocation fails (or being killed once the memory is touched).

use crate::{Error, Result, SaeConfig};

/// The memory this process can still use without swapping, in bytes: the least of
/// `MemAvailable` (`/proc/meminfo`), the headroom of the process's cgroup (`memory.max` minus
/// `memory.current`, or cgroup v1's `memory.limit_in_bytes` minus `memory.usage_in_bytes`) and
/// the headroom of its address-space limit (`RLIMIT_AS` in `/proc/self/limits` minus `VmSize`
/// in `/proc/self/status`). Linux only: `None` elsewhere or when none can be read (then
/// nothing is refused).
///
/// ```
/// if let Some(bytes) = sparse_autoencoders::memory::available_bytes() {
///     assert!(bytes > 0);
/// }
/// ```
pub fn available_bytes() -> Option<u64> {
    let read = |path: &str| std::fs::read_to_string(path).ok();
    let meminfo = read("/proc/meminfo").and_then(|t| kib_field(&t, "MemAvailable:"));
    let cgroup_v2 = cgroup_headroom(
        read("/sys/fs/cgroup/memory.max").as_deref(),
        read("/sys/fs/cgroup/memory.current").as_deref(),
    );
    let cgroup_v1 = cgroup_headroom(
        read("/sys/fs/cgroup/memory/memory.limit_in_bytes").as_deref(),
        read("/sys/fs/cgroup/memory/memory.usage_in_bytes").as_deref(),
    );
    let address_space = match (read("/proc/self/limits"), read("/proc/self/status")) {
        (Some(limits), Some(status)) => address_space_limit(&limits)
            .map(|limit| limit.saturating_sub(kib_field(&status, "VmSize:").unwrap_or(0))),
        _ => None,
    };
    [meminfo, cgroup_v2, cgroup_v1, address_space]
        .into_iter()
        .flatten()
        .min()
}

/// A `Name:   1234 kB` field of `/proc/meminfo` or `/proc/self/status`, in bytes.
fn kib_field(text: &str, name: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(name))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// A cgroup's limit minus its usage, both as the cgroup files hold them; `None` without a
/// limit (`max`, or cgroup v1's near-`u64::MAX` "unlimited").
fn cgroup_headroom(limit: Option<&str>, usage: Option<&str>) -> Option<u64> {
    let limit: u64 = limit?.trim().parse().ok()?;
    if limit >= 1 << 60 {
        return None;
    }
    let usage: u64 = usage.and_then(|u| u.trim().parse().ok()).unwrap_or(0);
    Some(limit.saturating_sub(usage))
}

/// The soft `Max address space` of `/proc/self/limits`, in bytes; `None` when unlimited.
fn address_space_limit(limits: &str) -> Option<u64> {
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max address space"))?;
    line.trim_start_matches("Max address space")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Bytes of an SAE's float32 parameters under `config`: the encoder and decoder weights, the
/// biases and the per-latent vectors (a generous count of them).
pub fn parameter_bytes(config: &SaeConfig) -> u128 {
    let (d, h) = (config.d_in as u128, config.d_sae as u128);
    4 * (2 * d * h + 2 * d + 8 * h)
}

/// Bytes a training run of `config` with batches of `batch` rows holds at its peak, roughly: the
/// parameters, their gradients and Adam's two moments (4×), and a batch's activations and their
/// gradients (a dozen `[batch, d_sae]` and half a dozen `[batch, d_in]` tensors).
pub fn training_bytes(config: &SaeConfig, batch: usize) -> u128 {
    let (d, h, b) = (config.d_in as u128, config.d_sae as u128, batch as u128);
    4 * parameter_bytes(config) + 4 * b * (12 * h + 6 * d)
}

/// [`Error::OutOfMemory`] when `needed` bytes exceed what [`available_bytes`] reports.
///
/// # Errors
/// [`Error::OutOfMemory`], naming `what`.
pub fn check(what: &'static str, needed: u128) -> Result<()> {
    match available_bytes() {
        Some(available) if needed > u128::from(available) => Err(Error::OutOfMemory {
            what,
            needed,
            available,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The limits are read from the files' own formats.
    #[test]
    fn limits_are_parsed() {
        assert_eq!(cgroup_headroom(Some("max\n"), Some("123\n")), None);
        assert_eq!(cgroup_headroom(Some("1000\n"), Some("300\n")), Some(700));
        assert_eq!(cgroup_headroom(Some("100\n"), Some("300\n")), Some(0));
        assert_eq!(
            cgroup_headroom(Some("9223372036854771712"), Some("1")),
            None
        );
        assert_eq!(cgroup_headroom(None, Some("1")), None);
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max address space         3000000000           unlimited            bytes\n";
        assert_eq!(address_space_limit(limits), Some(3_000_000_000));
        let unlimited =
            "Max address space         unlimited            unlimited            bytes\n";
        assert_eq!(address_space_limit(unlimited), None);
        assert_eq!(kib_field("VmSize:\t  2048 kB\n", "VmSize:"), Some(2 << 20));
    }
    use burn::tensor::Device;

    #[test]
    #[cfg(feature = "flex")]
    fn a_model_beyond_the_memory_is_refused_before_allocating() {
        let Some(available) = available_bytes() else {
            return; // Not Linux: nothing to check against.
        };
        // 784 × 10⁸ weights pass the config's 1 TiB limit but not this machine's memory.
        let config = SaeConfig::new(784, 100_000_000)
            .with_architecture(crate::Architecture::TopK(crate::arch::TopKConfig { k: 8 }));
        config.validate().unwrap();
        assert!(parameter_bytes(&config) > u128::from(available));
        match config.init(&Device::flex()) {
            Err(Error::OutOfMemory { what, needed, .. }) => {
                assert_eq!(what, "the SAE's weights");
                assert!(needed >= parameter_bytes(&config));
            }
            other => panic!("expected OutOfMemory, got {:?}", other.map(|_| ())),
        }
        let message = check("training", u128::from(available) + 1)
            .unwrap_err()
            .to_string();
        assert!(
            message.starts_with("training would need about"),
            "{message}"
        );
        assert!(check("training", 1).is_ok());
    }

    #[test]
    fn training_needs_more_than_the_weights_and_grows_with_the_batch() {
        let config = SaeConfig::new(784, 1024);
        assert_eq!(
            parameter_bytes(&config),
            4 * (2 * 784 * 1024 + 2 * 784 + 8 * 1024)
        );
        assert!(training_bytes(&config, 256) > 4 * parameter_bytes(&config));
        assert!(training_bytes(&config, 4096) > training_bytes(&config, 256));
    }
}
