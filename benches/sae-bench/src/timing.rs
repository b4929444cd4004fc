//! How one measurement is taken, on a CPU backend and on a GPU backend.
//!
//! - **CPU** (flex, ndarray): `warmup` untimed reps, then `reps` timed reps, each ending with a
//!   read of one value back to the host; the result is the median of the per-rep times.
//! - **GPU** (wgpu, cuda): `warmup` reps (kernel compilation, autotuning), each read back; then
//!   [`GPU_ROUNDS`] rounds, each of `reps` reps launched back to back with no host
//!   synchronisation, closed by one read of the last rep's output and one `Device::sync`; a
//!   round gives its total time / `reps`, and the result is the median of the rounds.
//!
//! In a GPU round every rep's output is kept alive until the round is over, so that a backend
//! that fuses operations lazily cannot skip the work of an output that is dropped unread (Burn's
//! fusion backend skips writes to tensors nobody reads). That costs `reps` outputs of memory.

use std::time::Instant;

use burn::prelude::*;

/// Rounds of a GPU measurement (the median is reported).
pub const GPU_ROUNDS: usize = 3;

/// How many reps to run.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Untimed reps first.
    pub warmup: usize,
    /// Timed reps (per round on a GPU).
    pub reps: usize,
}

/// Times `run` on `device` and returns milliseconds per rep.
///
/// `run` does one rep and returns its output; `read` brings one value of an output back to the
/// host (which waits for the work that produced it). `gpu` selects the GPU rules (see the
/// module docs).
///
/// # Panics
/// When `timing.reps` is 0 or the device fails to synchronise.
pub fn measure<T>(
    device: &Device,
    gpu: bool,
    timing: Timing,
    mut run: impl FnMut() -> T,
    read: impl Fn(T) -> f32,
) -> f64 {
    assert!(timing.reps > 0, "at least one timed rep");
    for _ in 0..timing.warmup {
        std::hint::black_box(read(run()));
    }
    let times: Vec<f64> = if gpu {
        device.sync().expect("device sync after the warm-up");
        (0..GPU_ROUNDS)
            .map(|_| {
                let start = Instant::now();
                let mut outputs = Vec::with_capacity(timing.reps);
                for _ in 0..timing.reps {
                    outputs.push(run());
                }
                let last = outputs.pop().expect("at least one rep");
                std::hint::black_box(read(last));
                device.sync().expect("device sync");
                let seconds = start.elapsed().as_secs_f64();
                drop(outputs);
                seconds / timing.reps as f64
            })
            .collect()
    } else {
        (0..timing.reps)
            .map(|_| {
                let start = Instant::now();
                std::hint::black_box(read(run()));
                start.elapsed().as_secs_f64()
            })
            .collect()
    };
    median(times) * 1e3
}

/// The median (the mean of the two middle values for an even count).
pub fn median(mut values: Vec<f64>) -> f64 {
    assert!(!values.is_empty(), "median of nothing");
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// One element of `t` (its first), read back to the host.
pub fn first_element<const D: usize>(t: Tensor<D>) -> f32 {
    t.slice(std::array::from_fn::<_, D, _>(|_| 0..1))
        .into_scalar::<f32>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
