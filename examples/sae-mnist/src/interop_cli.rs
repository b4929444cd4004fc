//! `sae-mnist export` (a run of ours as a SAELens or sparsify directory) and `sae-mnist apply`
//! (the codes and reconstructions of every row of a file, by any SAE we can read).

use std::io::Write;
use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::tensor::TensorData;
use clap::Parser;
use sparse_autoencoders::data::{npy_f32_header, RowStore};
use sparse_autoencoders::interop::{self, ExternalFormat};

use crate::backend::device_for;
use crate::error::{io, AppError};
use crate::saved::load_sae;
use crate::settings::BackendKind;

/// The formats of `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    /// SAELens 6.x: `cfg.json` + `sae_weights.safetensors` (`SAE.load_from_disk`).
    Saelens,
    /// EleutherAI sparsify: `cfg.json` + `sae.safetensors` (top-k SAEs only).
    Sparsify,
}

/// `sae-mnist export RUN --format saelens|sparsify --out DIR`.
#[derive(Parser, Debug)]
#[command(
    name = "sae-mnist export",
    about = "Save the SAE of a run (sae-mnist or sae-mnist model) as a SAELens or sparsify directory"
)]
pub struct ExportCli {
    /// The run folder.
    pub run: PathBuf,
    /// The format to write.
    #[arg(long, value_enum)]
    pub format: FormatArg,
    /// The directory to write (created; an earlier export there is replaced, anything else
    /// is refused).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// `sae-mnist apply SAE --input X.npy --codes CODES.npy --recon RECON.npy`.
#[derive(Parser, Debug)]
#[command(
    name = "sae-mnist apply",
    about = "Encode and reconstruct every row of a file with an SAE: a run folder of ours, a SAELens or a sparsify directory"
)]
pub struct ApplyCli {
    /// The SAE: a run folder, a SAELens directory or a sparsify directory.
    pub sae: PathBuf,
    /// The rows: a `.npy` or `.safetensors` file (or an activation store), `[n, d_in]`.
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    /// Where to write the codes, `[n, d_sae]` f32 `.npy`.
    #[arg(long, value_name = "FILE")]
    pub codes: Option<PathBuf>,
    /// Where to write the reconstructions, `[n, d_in]` f32 `.npy`.
    #[arg(long, value_name = "FILE")]
    pub recon: Option<PathBuf>,
    /// Rows per batch (memory is bounded by this, not by the file).
    #[arg(long, default_value_t = 4096)]
    pub batch_size: usize,
    /// The backend that computes them.
    #[arg(long, value_enum, default_value = "flex")]
    pub backend: BackendKind,
}

/// The files an export writes; an `--out` holding anything else is refused.
const EXPORT_FILES: [&str; 3] = ["cfg.json", "sae_weights.safetensors", "sae.safetensors"];

/// Runs `sae-mnist export`.
pub fn export(args: Vec<std::ffi::OsString>) -> Result<(), AppError> {
    let Some(cli) = crate::parse_subcommand::<ExportCli>(args)? else {
        return Ok(());
    };
    if let Ok(entries) = std::fs::read_dir(&cli.out) {
        let others: Vec<String> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !EXPORT_FILES.contains(&n.as_str()))
            .collect();
        if !others.is_empty() {
            return Err(AppError::Setting(format!(
                "{} holds other files ({}); export writes into an empty or new directory",
                cli.out.display(),
                others.join(", ")
            )));
        }
    }
    let saved = load_sae(&cli.run, &Device::flex())?;
    let format = match cli.format {
        FormatArg::Saelens => ExternalFormat::SaeLens,
        FormatArg::Sparsify => ExternalFormat::Sparsify,
    };
    interop::save(&saved.sae, &cli.out, format).map_err(|e| AppError::Setting(e.to_string()))?;
    // One format per directory: a reader tells them apart by the weights file.
    let other = match format {
        ExternalFormat::SaeLens => "sae.safetensors",
        ExternalFormat::Sparsify => "sae_weights.safetensors",
    };
    let _ = std::fs::remove_file(cli.out.join(other));
    crate::say!(
        "exported {} ({}, d_in {}, d_sae {}) as {} to {}",
        cli.run.display(),
        saved.sae.config.architecture.name(),
        saved.sae.d_in(),
        saved.sae.d_sae(),
        ExternalFormat::NAMES[format as usize],
        cli.out.display()
    );
    Ok(())
}

/// A `.npy` file of `f32` rows written as they come: the header first, then the rows, to a
/// temporary name renamed by [`finish`](NpyRows::finish).
struct NpyRows {
    path: PathBuf,
    tmp: PathBuf,
    out: std::io::BufWriter<std::fs::File>,
}

impl NpyRows {
    fn create(path: &Path, shape: [usize; 2]) -> Result<Self, AppError> {
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(".tmp");
        let tmp = path.with_file_name(name);
        let file = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        let mut out = std::io::BufWriter::new(file);
        out.write_all(&npy_f32_header(&shape)).map_err(io(&tmp))?;
        Ok(Self {
            path: path.to_path_buf(),
            tmp,
            out,
        })
    }

    fn push(&mut self, rows: &[f32]) -> Result<(), AppError> {
        for v in rows {
            self.out
                .write_all(&v.to_le_bytes())
                .map_err(io(&self.tmp))?;
        }
        Ok(())
    }

    fn finish(mut self) -> Result<(), AppError> {
        self.out.flush().map_err(io(&self.tmp))?;
        std::fs::rename(&self.tmp, &self.path).map_err(io(&self.path))
    }
}

/// Runs `sae-mnist apply`.
pub fn apply(args: Vec<std::ffi::OsString>) -> Result<(), AppError> {
    let Some(cli) = crate::parse_subcommand::<ApplyCli>(args)? else {
        return Ok(());
    };
    if cli.codes.is_none() && cli.recon.is_none() {
        return Err(AppError::Setting(
            "give --codes FILE, --recon FILE or both: there is nothing to write".into(),
        ));
    }
    if cli.batch_size == 0 {
        return Err(AppError::Setting("--batch-size must be at least 1".into()));
    }
    let device = device_for(cli.backend)?;
    let saved = load_sae(&cli.sae, &device)?;
    let sae = saved.sae;
    let rows = RowStore::open(&cli.input).map_err(|e| AppError::Setting(e.to_string()))?;
    let (n, d, h) = (rows.len(), rows.dim(), sae.d_sae());
    if d != sae.d_in() {
        return Err(AppError::Setting(format!(
            "{}: rows of {d} values; the SAE's d_in is {}",
            cli.input.display(),
            sae.d_in()
        )));
    }
    let mut codes = cli
        .codes
        .as_deref()
        .map(|p| NpyRows::create(p, [n, h]))
        .transpose()?;
    let mut recon = cli
        .recon
        .as_deref()
        .map(|p| NpyRows::create(p, [n, d]))
        .transpose()?;
    let mut start = 0;
    while start < n {
        let end = (start + cli.batch_size).min(n);
        let x = rows.view(start, end).read_all()?;
        let x = Tensor::<2>::from_data(TensorData::new(x, [end - start, d]), &device);
        let (f, x_hat) = sae.encode_and_reconstruct(x);
        if let Some(w) = codes.as_mut() {
            w.push(&f.try_into_vec_as::<f32>().expect("float codes"))?;
        }
        if let Some(w) = recon.as_mut() {
            w.push(&x_hat.try_into_vec_as::<f32>().expect("float rows"))?;
        }
        start = end;
    }
    for w in [codes, recon].into_iter().flatten() {
        w.finish()?;
    }
    crate::say!(
        "applied {} to {n} rows of {}: codes [{n}, {h}], reconstructions [{n}, {d}]",
        cli.sae.display(),
        cli.input.display()
    );
    Ok(())
}
