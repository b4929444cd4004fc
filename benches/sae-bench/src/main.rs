//! `sae-bench`: how fast sparse-losses' penalties and sparse-autoencoders' training steps run on
//! each Burn backend.
//!
//! ```sh
//! cargo run --release -p sae-bench -- penalties                     # flex and ndarray
//! cargo run --release -p sae-bench --features wgpu -- penalties     # and wgpu
//! cargo run --release -p sae-bench --features wgpu -- step --steps 10 --json step.json
//! cargo run --release -p sae-bench -- stream                        # disk rows/s vs step rows/s
//! cargo run --release -p sae-bench -- rows big.npy --rows 1000000 --dim 768
//! ```
//!
//! Each subcommand prints a Markdown table on stdout (progress goes to stderr) and, with
//! `--json FILE`, writes its records in the schema documented in `src/report.rs`; the timing
//! rules are in `src/timing.rs`.

mod backends;
mod dashboard;
mod penalties;
mod prune;
mod report;
mod sparse_linear;
mod step;
mod stream;
mod timing;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use backends::Backend;
use report::Report;
use step::{Arch, Shape};
use timing::Timing;

/// Benchmarks of sparse-losses penalties and sparse-autoencoders training steps per backend.
#[derive(Parser, Debug)]
#[command(name = "sae-bench", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Keep glibc's default allocator settings (by default sae-bench calls
    /// `sparse_autoencoders::reuse_freed_memory`, as sae-mnist does).
    #[arg(long, global = true)]
    system_allocator: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Forward + backward of every penalty, and the read + write time of each input shape.
    Penalties {
        /// Backends, comma-separated [default: flex,flex-chain,ndarray, plus wgpu and cuda when
        /// compiled in]; `X-chain` is backend X with the fused kernels off (the op chains).
        #[arg(long, value_delimiter = ',')]
        backends: Option<Vec<Backend>>,
        /// Input shapes: `cpu` (SAE-sized: [256, 1024] codes) or `gpu` ([4096, 4096]).
        #[arg(long, value_enum, default_value_t = Size::Cpu)]
        size: Size,
        /// Timed reps (per round on a GPU).
        #[arg(long, default_value_t = 41, value_parser = clap::value_parser!(u64).range(1..))]
        reps: u64,
        /// Untimed reps first.
        #[arg(long, default_value_t = 5)]
        warmup: usize,
        /// Only the cases whose label starts with one of these, comma-separated (e.g.
        /// `lp,entropy`) [default: all].
        #[arg(long, value_delimiter = ',')]
        cases: Option<Vec<String>>,
        /// Also write the records to this JSON file.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// One SAE training step (forward, loss, backward, Adam) per architecture and shape.
    Step {
        /// Backends, comma-separated [default: flex,flex-chain,ndarray, plus wgpu and cuda when
        /// compiled in]; `X-chain` is backend X with the fused kernels off (the op chains).
        #[arg(long, value_delimiter = ',')]
        backends: Option<Vec<Backend>>,
        /// Shapes `BATCHxINPUTxHIDDEN`, comma-separated [default: 256x784x1024,4096x784x4096,
        /// plus 4096x768x24576 with `--size gpu`].
        #[arg(long, value_delimiter = ',')]
        shapes: Option<Vec<Shape>>,
        /// Architectures, comma-separated.
        #[arg(long, value_enum, value_delimiter = ',',
              default_values_t = [Arch::ReluL1Dec, Arch::TopK, Arch::BatchTopK])]
        archs: Vec<Arch>,
        /// The default shapes: `cpu`, or `gpu` (adds 4096x768x24576).
        #[arg(long, value_enum, default_value_t = Size::Cpu)]
        size: Size,
        /// Timed steps (per round on a GPU).
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
        steps: u64,
        /// Untimed steps first.
        #[arg(long, default_value_t = 3)]
        warmup: usize,
        /// Also write the records to this JSON file.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Rows a second from disk through the mixing buffer (a `.npy` file of synthetic rows,
    /// the page cache dropped when the process may), against the rows a second a TopK training
    /// step consumes on flex, per width.
    Stream {
        /// Rows of each file.
        #[arg(long, default_value_t = 200_000)]
        rows: usize,
        /// Widths, comma-separated.
        #[arg(long, value_delimiter = ',', default_values_t = [512, 768])]
        dims: Vec<usize>,
        /// Rows of the mixing buffer.
        #[arg(long, default_value_t = 65_536)]
        buffer_rows: usize,
        /// Folder for the files (removed after).
        #[arg(long, default_value_os_t = std::env::temp_dir())]
        dir: PathBuf,
    },
    /// The feature dashboard of a large TopK SAE on rows streamed from disk: the one pass over
    /// the rows, the pages on 1 thread and on all, the peak memory.
    Dashboard {
        /// Rows.
        #[arg(long, default_value_t = 100_000)]
        rows: usize,
        /// Width of the rows.
        #[arg(long, default_value_t = 512)]
        d_in: usize,
        /// Latents.
        #[arg(long, default_value_t = 16_384)]
        d_sae: usize,
        /// Latents a row.
        #[arg(long, default_value_t = 32)]
        k: usize,
        /// Folder for the rows and the sites (removed after).
        #[arg(long, default_value_os_t = std::env::temp_dir())]
        dir: PathBuf,
    },
    /// Pruning one large layer by magnitude, Wanda and SparseGPT (50 % and 2:4), timed on flex.
    Prune {
        /// Outputs of the layer.
        #[arg(long, default_value_t = 4096)]
        out: usize,
        /// Inputs of the layer.
        #[arg(long = "in", default_value_t = 4096)]
        inputs: usize,
        /// Calibration rows.
        #[arg(long, default_value_t = 2048)]
        rows: usize,
        /// Write the layer's `w.npy` and `x.npy` here (for the PyTorch side).
        #[arg(long)]
        save: Option<PathBuf>,
        /// Read `w.npy` and `x.npy` from here instead of generating them.
        #[arg(long)]
        load: Option<PathBuf>,
        /// Also write the records to this JSON file.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// The forward of a pruned Linear stored as CSR against the dense product, per sparsity
    /// (50 %, 70 %, 90 %, 2:4) and batch.
    SparseLinear {
        /// Outputs of the layer.
        #[arg(long, default_value_t = 4096)]
        out: usize,
        /// Inputs of the layer.
        #[arg(long = "in", default_value_t = 4096)]
        inputs: usize,
        /// Batch sizes, comma-separated.
        #[arg(long, value_delimiter = ',', default_values_t = [1, 32, 256])]
        batches: Vec<usize>,
        /// Timed repetitions (the median is reported).
        #[arg(long, default_value_t = 11)]
        reps: usize,
    },
    /// Writes a `.npy` file of synthetic rows (sparse combinations of known features), a chunk
    /// at a time: files larger than memory, for the memory-bounded run.
    Rows {
        /// The file.
        file: PathBuf,
        /// Rows.
        #[arg(long)]
        rows: usize,
        /// Values a row.
        #[arg(long)]
        dim: usize,
        /// Seed of the features.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Write `f16` elements (`<f2`) instead of `f32`.
        #[arg(long)]
        f16: bool,
    },
}

/// The shape preset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Size {
    /// Shapes for a CPU.
    Cpu,
    /// Larger shapes for a GPU.
    Gpu,
}

impl Size {
    /// `"cpu"` or `"gpu"`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            Self::Gpu => "gpu",
        }
    }
}

/// CPU threads: `RAYON_NUM_THREADS` when set to a positive number, else the available
/// parallelism.
fn threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

fn main() -> ExitCode {
    // As sae-mnist does: keep freed tensor memory in the process (see
    // `sparse_autoencoders::reuse_freed_memory`); `--system-allocator` measures without it.
    let cli = Cli::parse();
    if !cli.system_allocator {
        sparse_autoencoders::reuse_freed_memory();
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("sae-bench: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    let (report, table, json) = match cli.command {
        Command::Rows {
            file,
            rows,
            dim,
            seed,
            f16,
        } => {
            if rows == 0 || dim == 0 {
                return Err("--rows and --dim must be at least 1".into());
            }
            stream::write_rows(&file, rows, dim, seed, f16)?;
            eprintln!("wrote {} ({rows} rows of {dim})", file.display());
            return Ok(());
        }
        Command::SparseLinear {
            out,
            inputs,
            batches,
            reps,
        } => {
            if out == 0 || inputs % 4 != 0 || inputs == 0 || reps == 0 || batches.contains(&0) {
                return Err("--out, --reps and the batches must be at least 1, --in a positive multiple of 4".into());
            }
            print!("{}", sparse_linear::run(out, inputs, &batches, reps)?);
            return Ok(());
        }
        Command::Prune {
            out,
            inputs,
            rows,
            save,
            load,
            json,
        } => {
            if out == 0 || inputs == 0 || rows == 0 || inputs % 4 != 0 {
                return Err(
                    "--out, --in and --rows must be at least 1, --in a multiple of 4".into(),
                );
            }
            let (table, records) = prune::run(out, inputs, rows, save.as_deref(), load.as_deref())?;
            print!("{table}");
            if let Some(path) = json {
                std::fs::write(&path, serde_json::to_vec_pretty(&records).expect("json"))
                    .map_err(|e| format!("{}: {e}", path.display()))?;
            }
            return Ok(());
        }
        Command::Dashboard {
            rows,
            d_in,
            d_sae,
            k,
            dir,
        } => {
            if rows == 0 || d_in == 0 || k == 0 || k > d_sae {
                return Err("--rows, --d-in must be at least 1 and --k in 1..=--d-sae".into());
            }
            print!("{}", dashboard::run(&dir, rows, d_in, d_sae, k, threads())?);
            return Ok(());
        }
        Command::Stream {
            rows,
            dims,
            buffer_rows,
            dir,
        } => {
            if rows == 0 || dims.contains(&0) || buffer_rows == 0 {
                return Err("--rows, --dims and --buffer-rows must be at least 1".into());
            }
            let lines = stream::run(&dir, rows, &dims, buffer_rows)?;
            print!("{}", stream::table(&lines, threads()));
            return Ok(());
        }
        Command::Penalties {
            backends,
            size,
            reps,
            warmup,
            cases,
            json,
        } => {
            let timing = Timing {
                warmup,
                reps: reps as usize,
            };
            let mut all = penalties::cases(size);
            if let Some(wanted) = &cases {
                all.retain(|c| wanted.iter().any(|w| c.label.starts_with(w.as_str())));
                if all.is_empty() {
                    return Err(format!("no penalty case starts with any of {wanted:?}"));
                }
            }
            let cases = all;
            let devices = backends::available(&backends.unwrap_or_else(Backend::defaults));
            let mut records = Vec::new();
            for (backend, device) in &devices {
                sparse_losses::fused::set_enabled(backend.fused());
                records.extend(penalties::run(*backend, device, &cases, timing));
            }
            let report = Report {
                tool: "sae-bench",
                subcommand: "penalties",
                threads: threads(),
                size: size.name(),
                records,
            };
            let names: Vec<&str> = devices.iter().map(|(b, _)| b.name()).collect();
            let rows: Vec<(String, Vec<usize>)> = cases
                .iter()
                .map(|c| (c.label.to_string(), c.shape.clone()))
                .collect();
            let table = report.penalties_table(&names, &rows);
            (report, table, json)
        }
        Command::Step {
            backends,
            shapes,
            archs,
            size,
            steps,
            warmup,
            json,
        } => {
            let timing = Timing {
                warmup,
                reps: steps as usize,
            };
            let shapes = shapes.unwrap_or_else(|| {
                let mut list = vec!["256x784x1024", "4096x784x4096"];
                if size == Size::Gpu {
                    list.push("4096x768x24576");
                }
                list.iter()
                    .map(|s| s.parse().expect("built-in shapes parse"))
                    .collect()
            });
            for arch in &archs {
                for shape in &shapes {
                    arch.config(shape.input, shape.hidden)
                        .validate()
                        .map_err(|e| format!("{} at {shape}: {e}", arch.label()))?;
                }
            }
            let devices = backends::available(&backends.unwrap_or_else(Backend::defaults));
            let mut records = Vec::new();
            for (backend, device) in &devices {
                sparse_losses::fused::set_enabled(backend.fused());
                records.extend(step::run(*backend, device, &archs, &shapes, timing)?);
            }
            let report = Report {
                tool: "sae-bench",
                subcommand: "step",
                threads: threads(),
                size: size.name(),
                records,
            };
            let names: Vec<&str> = devices.iter().map(|(b, _)| b.name()).collect();
            let rows: Vec<(String, Vec<usize>)> = archs
                .iter()
                .flat_map(|a| shapes.iter().map(|s| (a.label().to_string(), s.dims())))
                .collect();
            let table = report.step_table(&names, &rows);
            (report, table, json)
        }
    };
    print!("{table}");
    if let Some(path) = json {
        report
            .write_json(&path)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
