//! `sae-bench stream`: how fast rows come off disk through the mixing buffer
//! ([`ShuffledRows`]) against how fast a training step consumes them, at each width; and
//! `sae-bench rows`: a `.npy` file of synthetic rows larger than memory, written a chunk at a
//! time (for the memory-bounded run).

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use sparse_autoencoders::data::{
    npy_f16_header, npy_f32_header, RowStore, ShuffledRows, StreamOrder,
};
use sparse_autoencoders::synthetic::SyntheticConfig;

use crate::backends::Backend;
use crate::step::{time_step, Arch, Shape};
use crate::timing::Timing;

/// Rows generated and written at a time.
const CHUNK_ROWS: usize = 16_384;

/// Writes `rows` synthetic rows of width `dim` (the library's synthetic generator: sparse
/// combinations of `4 · dim` unit features, 8 active a row on average) to the `.npy` file
/// `path`, a chunk at a time: memory stays at one chunk whatever `rows`.
pub fn write_rows(
    path: &Path,
    rows: usize,
    dim: usize,
    seed: u64,
    half: bool,
) -> Result<(), String> {
    let model = SyntheticConfig::new()
        .with_d_in(dim)
        .with_n_features(4 * dim)
        .with_seed(seed)
        .init()
        .map_err(|e| e.to_string())?;
    let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    let err = |e: std::io::Error| format!("{}: {e}", path.display());
    let header = if half {
        npy_f16_header(&[rows, dim])
    } else {
        npy_f32_header(&[rows, dim])
    };
    w.write_all(&header).map_err(err)?;
    let mut done = 0;
    let mut stream = 0;
    while done < rows {
        let n = CHUNK_ROWS.min(rows - done);
        let chunk = model.sample(n, 1000 + stream);
        let mut bytes = Vec::with_capacity(n * dim * 4);
        for &v in &chunk.rows {
            if half {
                bytes.extend_from_slice(&::half::f16::from_f32(v).to_le_bytes());
            } else {
                bytes.extend_from_slice(&v.to_le_bytes());
            }
        }
        w.write_all(&bytes).map_err(err)?;
        done += n;
        stream += 1;
    }
    w.flush().map_err(err)
}

/// One line of the stream table.
pub struct StreamRow {
    /// Values a row.
    pub dim: usize,
    /// Rows a second through the mixing buffer (a whole epoch).
    pub read_rows_per_s: f64,
    /// Rows a second a TopK training step consumes (batch 256, 1,024 latents, k 32).
    pub step_rows_per_s: f64,
    /// Whether the page cache was dropped before reading (the rows came from the disk).
    pub cold: bool,
}

/// Drops the page cache (Linux, as root); whether it could.
fn drop_caches() -> bool {
    let _ = std::process::Command::new("sync").status();
    std::fs::write("/proc/sys/vm/drop_caches", "3").is_ok()
}

/// Measures each width: writes `rows` rows to a file in `dir`, reads them back through the
/// mixing buffer (`buffer_rows`, batches of 256), and times the training step on flex.
pub fn run(
    dir: &Path,
    rows: usize,
    dims: &[usize],
    buffer_rows: usize,
) -> Result<Vec<StreamRow>, String> {
    let mut out = Vec::new();
    for &dim in dims {
        let path = dir.join(format!("stream-{dim}.npy"));
        write_rows(&path, rows, dim, 7, false)?;
        let store = RowStore::open(&path).map_err(|e| e.to_string())?;
        let cold = drop_caches();
        let order = StreamOrder {
            batch_size: 256,
            buffer_rows,
            seed: Some(1),
        };
        let started = Instant::now();
        let mut seen = 0;
        for batch in ShuffledRows::start(&store, order, 0) {
            seen += batch.map_err(|e| e.to_string())?.len() / dim;
        }
        let read = seen as f64 / started.elapsed().as_secs_f64();
        let _ = std::fs::remove_file(&path);
        let shape: Shape = format!("256x{dim}x1024").parse()?;
        let device = Backend::Flex.device()?.autodiff();
        let ms = time_step(
            Arch::TopK,
            shape,
            &device,
            false,
            Timing {
                warmup: 3,
                reps: 10,
            },
        )?;
        let step = 256.0 / (ms / 1000.0);
        eprintln!(
            "stream d={dim}: read {read:.0} rows/s (cold cache: {cold}), step {step:.0} rows/s"
        );
        out.push(StreamRow {
            dim,
            read_rows_per_s: read,
            step_rows_per_s: step,
            cold,
        });
    }
    Ok(out)
}

/// The Markdown table of [`run`].
pub fn table(rows: &[StreamRow], threads: usize) -> String {
    let mut s = String::from(
        "| d_in | read through the buffer (rows/s) | TopK step, 1,024 latents, k 32, batch 256 (rows/s) | read / step | page cache dropped | threads |\n\
         | --- | --- | --- | --- | --- | --- |\n"
    );
    for r in rows {
        s.push_str(&format!(
            "| {} | {:.0} | {:.0} | {:.1}× | {} | {threads} |\n",
            r.dim,
            r.read_rows_per_s,
            r.step_rows_per_s,
            r.read_rows_per_s / r.step_rows_per_s,
            if r.cold { "yes" } else { "no" }
        ));
    }
    s
}
