//! [`ShuffledRows`]: one epoch of a [`RowStore`] view in batches, read and mixed on a
//! background thread.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::RowStore;
use crate::data::DataResult;

/// Batches the reader thread may have ready ahead of the consumer.
const AHEAD: usize = 4;

/// How [`ShuffledRows`] reads an epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamOrder {
    /// Rows a batch (the last of the epoch may hold fewer).
    pub batch_size: usize,
    /// Rows of the mixing buffer: chunks are read into it, and when it is full it is shuffled
    /// and half of it is handed out (SAELens' mixing buffer). Memory is about this many rows
    /// plus a chunk. Ignored without a seed.
    pub buffer_rows: usize,
    /// The seed of the shuffle; `None` reads the rows in order (evaluation).
    pub seed: Option<u64>,
}

/// One epoch of a view's rows in batches (row-major `Vec<f32>`s), produced by a background
/// thread: with a seed, the chunks in an order drawn from `(seed, epoch)` through the mixing
/// buffer; without, in order. The same store, order and epoch give the same batches.
/// Dropping it stops the thread.
pub struct ShuffledRows {
    rx: Option<Receiver<DataResult<Vec<f32>>>>,
    thread: Option<JoinHandle<()>>,
}

impl ShuffledRows {
    /// Starts reading epoch `epoch` (0-based) of `store`.
    pub fn start(store: &RowStore, order: StreamOrder, epoch: usize) -> Self {
        let (tx, rx) = sync_channel(AHEAD);
        let store = store.clone();
        let thread = std::thread::Builder::new()
            .name("sae-row-stream".into())
            .spawn(move || produce(&store, order, epoch, &tx))
            .ok();
        Self {
            rx: Some(rx),
            thread,
        }
    }
}

impl Iterator for ShuffledRows {
    type Item = DataResult<Vec<f32>>;

    fn next(&mut self) -> Option<Self::Item> {
        self.rx.as_ref()?.recv().ok()
    }
}

impl Drop for ShuffledRows {
    fn drop(&mut self) {
        // Closing the channel ends the thread at its next send.
        self.rx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Cuts rows into batches and sends them; `false` once the consumer is gone.
struct Batcher<'a> {
    tx: &'a SyncSender<DataResult<Vec<f32>>>,
    batch: usize,
    pending: Vec<f32>,
}

impl Batcher<'_> {
    fn emit(&mut self, rows: &[f32]) -> bool {
        let mut rest = rows;
        while !rest.is_empty() {
            let take = (self.batch - self.pending.len()).min(rest.len());
            self.pending.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.pending.len() == self.batch && !self.send() {
                return false;
            }
        }
        true
    }

    fn send(&mut self) -> bool {
        let full = std::mem::replace(&mut self.pending, Vec::with_capacity(self.batch));
        self.tx.send(Ok(full)).is_ok()
    }
}

/// Shuffles the rows (of `d` values) of `buf` in place.
fn shuffle_rows(buf: &mut [f32], d: usize, rng: &mut ChaCha8Rng) {
    let n = buf.len() / d;
    for i in (1..n).rev() {
        let j = rng.random_range(0..=i);
        if i != j {
            let (a, b) = buf.split_at_mut(i * d);
            a[j * d..(j + 1) * d].swap_with_slice(&mut b[..d]);
        }
    }
}

fn produce(
    store: &RowStore,
    order: StreamOrder,
    epoch: usize,
    tx: &SyncSender<DataResult<Vec<f32>>>,
) {
    let d = store.dim();
    let mut out = Batcher {
        tx,
        batch: order.batch_size.max(1) * d,
        pending: Vec::new(),
    };
    let mut chunks: Vec<usize> = (0..store.chunk_count()).collect();
    let mut rng = order.seed.map(|seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5354_5245_414D);
        rng.set_stream(epoch as u64);
        rng
    });
    if let Some(rng) = rng.as_mut() {
        chunks.shuffle(rng);
    }
    let capacity = order.buffer_rows.max(order.batch_size).max(2) * d;
    let mut buffer: Vec<f32> = Vec::new();
    for c in chunks {
        let rows = match store.read_chunk(c) {
            Ok(rows) => rows,
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
        };
        let Some(rng) = rng.as_mut() else {
            if !out.emit(&rows) {
                return;
            }
            continue;
        };
        buffer.extend_from_slice(&rows);
        drop(rows);
        while buffer.len() >= capacity {
            shuffle_rows(&mut buffer, d, rng);
            let keep = (buffer.len() / d).div_ceil(2) * d;
            if !out.emit(&buffer[keep..]) {
                return;
            }
            buffer.truncate(keep);
        }
    }
    if let Some(rng) = rng.as_mut() {
        shuffle_rows(&mut buffer, d, rng);
        if !out.emit(&buffer) {
            return;
        }
    }
    if !out.pending.is_empty() {
        out.send();
    }
}
