//! `sae-bench dashboard`: the feature dashboard of a large SAE on many rows streamed from disk:
//! the one pass over the rows (encoding and every latent's statistics), the pages written on 1
//! thread and on all of them, the files and bytes written, and the process's peak memory.

use std::path::Path;
use std::time::Instant;

use burn::prelude::*;
use sparse_autoencoders::dashboard::{collect, write_site, DashboardConfig, Extras};
use sparse_autoencoders::data::RowStore;
use sparse_autoencoders::{arch, RowSource, SaeConfig};

/// The process's peak resident memory in MiB (`getrusage`).
fn peak_mib() -> f64 {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct it is given.
    #[allow(unsafe_code)]
    unsafe {
        libc::getrusage(libc::RUSAGE_SELF, &mut usage)
    };
    usage.ru_maxrss as f64 / 1024.0
}

/// Files and bytes under `dir`.
fn size_of(dir: &Path) -> (usize, u64) {
    let mut files = 0;
    let mut bytes = 0;
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            let (f, b) = size_of(&p);
            files += f;
            bytes += b;
        } else {
            files += 1;
            bytes += entry.metadata().map_or(0, |m| m.len());
        }
    }
    (files, bytes)
}

/// Writes `rows` synthetic rows of width `d_in` under `dir`, builds a TopK SAE of `d_sae`
/// latents (k latents a row, its decoder bias the rows' mean), and times its dashboard.
pub fn run(
    dir: &Path,
    rows: usize,
    d_in: usize,
    d_sae: usize,
    k: usize,
    threads: usize,
) -> Result<String, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let file = dir.join(format!("dashboard-rows-{rows}x{d_in}.npy"));
    crate::stream::write_rows(&file, rows, d_in, 7, false)?;
    let store = RowStore::open(&file).map_err(|e| e.to_string())?;
    let sample = store
        .view(0, 4096.min(rows))
        .read_all()
        .map_err(|e| e.to_string())?;
    let device = Device::flex();
    let sae = SaeConfig::new(d_in, d_sae)
        .with_architecture(arch::TopKConfig { k }.into())
        .init_with_data(&sample, &device)
        .map_err(|e| e.to_string())?;
    let source = RowSource::Disk(store);
    let config = DashboardConfig::new().with_batch_size(1024);
    let before = peak_mib();
    let started = Instant::now();
    let stats = collect(&sae, &source, &config).map_err(|e| e.to_string())?;
    let pass = started.elapsed().as_secs_f64();
    let mut lines = vec![
        format!(
            "dashboard: TopK k {k}, d_in {d_in}, d_sae {d_sae}, {rows} rows streamed from disk (flex, {} threads)\n",
            crate::threads()
        ),
        "| step | threads | seconds | rows/s or pages/s |\n| --- | --- | --- | --- |\n".to_string(),
        format!("| one pass: encode + every latent's top-k, histogram, sample | {} | {pass:.2} | {:.0} rows/s |\n", crate::threads(), rows as f64 / pass),
    ];
    let mut size = None;
    for t in [threads, 1, threads] {
        let out = dir.join(format!("dashboard-{t}"));
        let _ = std::fs::remove_dir_all(&out);
        // Each run starts with no dirty pages of the last one to write back.
        // SAFETY: sync takes no arguments and cannot fail.
        #[allow(unsafe_code)]
        unsafe {
            libc::sync()
        };
        let started = Instant::now();
        write_site(
            &sae,
            &source,
            &stats,
            &config.clone().with_threads(t),
            &Extras::default(),
            &out,
        )
        .map_err(|e| e.to_string())?;
        let secs = started.elapsed().as_secs_f64();
        lines.push(format!(
            "| pages (index + {d_sae} latent pages) | {t} | {secs:.2} | {:.0} pages/s |\n",
            d_sae as f64 / secs
        ));
        if size.is_none() {
            size = Some(size_of(&out));
        }
        let _ = std::fs::remove_dir_all(&out);
    }
    let (files, bytes) = size.unwrap_or_default();
    lines.push(format!(
        "\n{files} files, {:.1} MB; peak resident memory {:.0} MiB ({:.0} MiB before the pass: the rows are not held)\n",
        bytes as f64 / 1e6,
        peak_mib(),
        before
    ));
    let _ = std::fs::remove_file(&file);
    Ok(lines.concat())
}
