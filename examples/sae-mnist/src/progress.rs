//! A progress bar on stderr with the live loss and L0, redrawn in place when stdout and
//! stderr are terminals; only the plain per-epoch lines on stdout otherwise (CI logs, pipes).
//!
//! Written out rather than taken from `indicatif`: that crate turns on `portable-atomic`'s
//! default feature, which Burn's CubeCL crates share, and so forces a full rebuild of Burn
//! (about 25 minutes on 2 cores) for every feature set that includes this example.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// The progress display.
#[derive(Debug)]
pub struct Progress {
    bar: bool,
    last_draw: Option<Instant>,
    epoch_start: Instant,
    width: usize,
}

impl Progress {
    /// A bar when stdout and stderr are terminals (and `quiet` is false), plain lines
    /// otherwise.
    pub fn new(quiet: bool) -> Self {
        Self {
            bar: !quiet && std::io::stdout().is_terminal() && std::io::stderr().is_terminal(),
            last_draw: None,
            epoch_start: Instant::now(),
            width: 30,
        }
    }

    /// Redraws the bar (at most 10 times a second).
    pub fn update(&mut self, epoch: usize, done: usize, total: usize, loss: f64, l0: f64) {
        if done == 1 {
            self.epoch_start = Instant::now();
        }
        if !self.bar {
            return;
        }
        let now = Instant::now();
        if done != total
            && self
                .last_draw
                .is_some_and(|t| now - t < Duration::from_millis(100))
        {
            return;
        }
        self.last_draw = Some(now);
        let filled = self.width * done / total.max(1);
        let elapsed = self.epoch_start.elapsed().as_secs_f64();
        let eta = elapsed / done.max(1) as f64 * (total - done) as f64;
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r\x1b[2Kepoch {epoch:>3} [{}{}] {done}/{total}  loss {loss:.4}  L0 {l0:.1}  eta {eta:.1}s",
            "#".repeat(filled),
            "-".repeat(self.width - filled),
        );
        let _ = err.flush();
    }

    /// Prints a line (clearing the bar first).
    pub fn line(&mut self, text: &str) {
        if self.bar {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
        println!("{text}");
    }
}
