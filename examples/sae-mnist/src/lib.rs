//! `sae-mnist`: trains a sparse autoencoder on MNIST with the penalties of `sparse-losses`,
//! on Burn's CPU backends (flex, ndarray) or the GPU (wgpu), and writes metrics, pictures and
//! checkpoints. The binary (`src/main.rs`) is a thin command line over this library; the
//! integration tests drive both.

/// `println!` that never stops a run: output is a convenience, so a closed pipe (`| head -1`)
/// or a full device (`> /dev/full`) loses the line, not the run (`println!` panics on them).
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// `eprintln!` that never panics (see [`say!`]).
#[macro_export]
macro_rules! say_err {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

pub mod backend;
pub mod burn_progress;
pub mod chart;
pub mod cli;
pub mod dashboard_cli;
pub mod data;
pub mod error;
pub mod interop_cli;
pub mod model;
pub mod model_run;
pub mod pictures;
pub mod prune_run;
pub mod run_dir;
pub mod saved;
pub mod settings;
pub mod sweep;
pub mod sweep_cli;
pub mod sweep_dir;
pub mod train;
pub mod vocabulary;

use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::tensor::TensorData;

pub use error::AppError;
use run_dir::write_atomic;
use sparse_autoencoders::Sae;
use train::RunReport;

/// Reports a command-line error of clap in one line on stderr (help and version as clap prints
/// them, on stdout), and returns clap's exit status (2 for a usage error, 0 for help).
pub fn cli_error(e: clap::Error) -> std::process::ExitCode {
    let code = e.exit_code();
    match clap_line(&e) {
        None => {
            let _ = e.print();
        }
        Some(line) => say_err!("error: {line}"),
    }
    std::process::ExitCode::from(code as u8)
}

/// A clap error as one line without its `error: ` prefix, or `None` for help and version
/// (which are not errors): `invalid value 'foo' for '--backend <BACKEND>'` and clap's list of
/// possible values become `invalid value 'foo' for '--backend <BACKEND>' [possible values:
/// flex, ...]`; the usage hint and the pointer to `--help` are left out.
pub fn clap_line(e: &clap::Error) -> Option<String> {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        return None;
    }
    let text = e.render().to_string();
    let line = text
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more information")
        })
        .collect::<Vec<_>>()
        .join(" ");
    Some(line.strip_prefix("error: ").unwrap_or(&line).to_string())
}

/// A subcommand's command line parsed with clap (`args` starts with the program name);
/// `None` when clap printed the help or the version, [`AppError::Usage`] (one line) for a
/// usage error.
pub fn parse_subcommand<T: clap::Parser>(
    args: Vec<std::ffi::OsString>,
) -> Result<Option<T>, AppError> {
    match T::try_parse_from(args) {
        Ok(cli) => Ok(Some(cli)),
        Err(e) => match clap_line(&e) {
            None => {
                let _ = e.print();
                Ok(None)
            }
            Some(line) => Err(AppError::Usage(line)),
        },
    }
}

/// The bundled dataset: 8,000 train and 2,000 test MNIST digits in `data/mnist-10k`.
pub fn default_data_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist-10k");
    dir.canonicalize().unwrap_or(dir)
}

/// The files a finished run leaves in its folder, besides `checkpoints/`.
pub const OUTPUTS: [&str; 4] = [
    "metrics.json",
    "atoms.png",
    "reconstructions.png",
    "curve.png",
];

fn host(t: Tensor<2>) -> Vec<f32> {
    t.try_into_vec_as::<f32>().expect("float tensor")
}

/// Writes `metrics.json` and the three pictures into `dir` (each atomically).
pub fn write_outputs(
    dir: &Path,
    model: &Sae,
    data: &data::RunData,
    report: &RunReport,
) -> Result<(), AppError> {
    let device = model.b_dec.val().device();
    write_outputs_with(
        dir,
        model.w_dec.val(),
        data,
        report,
        |x| model.forward(x),
        &device,
    )
}

/// [`write_outputs`] for any model: its decoder `[h, d]` and its `x ↦ x̂`.
pub fn write_outputs_with(
    dir: &Path,
    w_dec: Tensor<2>,
    data: &data::RunData,
    report: &RunReport,
    reconstruct: impl Fn(Tensor<2>) -> Tensor<2>,
    device: &Device,
) -> Result<(), AppError> {
    let [rows, cols] = data.image;
    let h = w_dec.dims()[0];
    pictures::atom_grid(&host(w_dec), h, rows, cols).save(&dir.join("atoms.png"))?;
    let d = data.dim;
    let originals = data.test_head(16)?;
    let n = originals.len() / d;
    let x = Tensor::<2>::from_data(TensorData::new(originals.clone(), [n, d]), device);
    let recon = host(reconstruct(x));
    pictures::reconstructions(&originals, &recon, n, rows, cols)
        .save(&dir.join("reconstructions.png"))?;
    let s = &report.settings;
    let title = format!(
        "sae-mnist {} ({}, {} latents, {})",
        s.run_name(),
        s.penalty_name(),
        s.hidden,
        s.backend.name()
    );
    pictures::training_curve(&report.epochs, &title).save(&dir.join("curve.png"))?;
    // Last: a folder with `metrics.json` holds every output of a finished run.
    let json = serde_json::to_vec_pretty(report).expect("the report serialises");
    write_atomic(&dir.join("metrics.json"), &json)
}
