//! [`reuse_freed_memory`]: keep freed tensor memory in the process instead of handing it back
//! to the operating system after every op.

/// Tells the C allocator (glibc's `malloc`, on Linux) to serve large blocks from its heap and
/// to keep freed memory, instead of mapping every block of more than 128 KiB afresh and
/// unmapping it when it is freed.
///
/// Burn's CPU backends allocate a new buffer for nearly every tensor op. With glibc's defaults
/// a training step of an SAE maps, page-faults in (zeroing every page) and unmaps megabytes
/// of short-lived buffers: on the 2-core development machine a 256 × 784 → 1024 Flex step
/// took 28-44 ms with the defaults and 19-20 ms after this call (see `docs/src/benchmarks.md`).
/// The cost: the process keeps its peak memory until it exits (as PyTorch's caching allocators
/// do).
///
/// Process-wide; call it once at start-up, before training. `sae-mnist` and `sae-bench` do.
/// Does nothing on other platforms and C libraries. Returns whether the allocator accepted
/// the settings.
pub fn reuse_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // M_TRIM_THRESHOLD = -1, M_MMAP_THRESHOLD = -3 (glibc's malloc.h).
        const M_TRIM_THRESHOLD: libc::c_int = -1;
        const M_MMAP_THRESHOLD: libc::c_int = -3;
        // 1 GiB: larger blocks are still mapped (glibc caps the threshold at 32 MiB on 64-bit
        // systems unless it is set explicitly, as here).
        const MMAP_ABOVE: libc::c_int = 1 << 30;
        // SAFETY: mallopt only changes allocator parameters; it is safe to call at any time.
        unsafe {
            libc::mallopt(M_MMAP_THRESHOLD, MMAP_ABOVE) == 1
                && libc::mallopt(M_TRIM_THRESHOLD, libc::c_int::MAX) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn glibc_accepts_the_settings() {
        let accepted = super::reuse_freed_memory();
        assert_eq!(accepted, cfg!(all(target_os = "linux", target_env = "gnu")));
        // Allocation still works afterwards.
        let v = vec![1u8; 8 << 20];
        assert_eq!(v.iter().map(|&b| b as usize).sum::<usize>(), 8 << 20);
    }
}
