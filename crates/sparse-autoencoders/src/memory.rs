//! Memory checks before large allocations: an SAE whose weights or training state cannot fit
//! in memory is refused with [`Error::OutOfMemory`] instead of aborting the process when an
//! allocation fails (or being killed once the memory is touched).

use crate::{Error, Result, SaeConfig};

/// The memory this process can still use without swapping, in bytes: `MemAvailable` of
/// `/proc/meminfo` on Linux; `None` elsewhere or when it cannot be read (then nothing is
/// refused).
///
/// ```
/// if let Some(bytes) = sparse_autoencoders::memory::available_bytes() {
///     assert!(bytes > 0);
/// }
/// ```
pub fn available_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
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
