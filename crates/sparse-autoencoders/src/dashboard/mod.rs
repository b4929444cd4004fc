//! A feature dashboard: a static site (no network, every script and style written beside the
//! pages) with an index of all latents and a page per latent.
//!
//! [`write_dashboard`] makes one pass over the rows for every latent at once
//! ([`LatentStats`]: memory `O(d_sae · (top_k + samples))`, whatever the number of rows), then
//! writes the pages on several threads:
//!
//! - `index.html`: the number of latents, rows, mean L0 and dead latents; a histogram of all
//!   latents' activation frequencies; a table of every latent (frequency, mean and max
//!   activation, dead marked) that sorts by any column and filters by frequency, deadness and
//!   index;
//! - `latents/J.html`: the decoder atom (a picture for image data, else a bar chart of its
//!   largest entries), the activation histogram, the top activating rows (thumbnails for
//!   images, row numbers and values otherwise), samples from four intervals of the rest of
//!   its range, each with its value and interval, and, given [`LogitEffects`], the classes it
//!   pushes up and down.
//!
//! ```
//! use std::sync::Arc;
//! use burn::prelude::*;
//! use sparse_autoencoders::dashboard::{write_dashboard, DashboardConfig};
//! use sparse_autoencoders::{arch, Planted, RowSource, SaeConfig};
//!
//! let device = Device::flex();
//! let data = Planted::new(16, 24, 300, 0.1, 0);
//! let sae = SaeConfig::new(16, 32)
//!     .with_architecture(arch::TopKConfig { k: 4 }.into())
//!     .init(&device)?;
//! let out = std::env::temp_dir().join(format!("sae-dashboard-doc-{}", std::process::id()));
//! let rows = RowSource::Memory(Arc::new(data.rows.clone()));
//! let report = write_dashboard(&sae, &rows, &DashboardConfig::new(), &Default::default(), &out)?;
//! assert_eq!(report.latents, 32);
//! assert!(out.join("index.html").is_file() && out.join("latents/00.html").is_file());
//! # std::fs::remove_dir_all(&out).ok();
//! # Ok::<(), sparse_autoencoders::Error>(())
//! ```

mod assets;
pub mod images;
mod pages;
pub mod stats;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Instant;

use burn::config::Config;
use burn::prelude::*;
use burn::tensor::TensorData;

pub use pages::{latent_name, row_name};
pub use stats::{Example, LatentStats};

use crate::error::invalid;
use crate::{Error, Result, RowSource, Sae};

/// The dashboard's settings.
#[derive(Config, Debug, PartialEq)]
pub struct DashboardConfig {
    /// Top activating rows kept and shown per latent (≥ 1).
    #[config(default = 12)]
    pub top_k: usize,
    /// Firing rows sampled uniformly per latent, for the samples by interval.
    #[config(default = 48)]
    pub samples: usize,
    /// Rows encoded at once (memory is bounded by this, not by the data; ≥ 1).
    #[config(default = 1024)]
    pub batch_size: usize,
    /// `[rows, cols]` when each row is an image (thumbnails and atom pictures are drawn);
    /// empty otherwise. `rows · cols` must be `d_in`.
    #[config(default = "Vec::new()")]
    pub image_shape: Vec<usize>,
    /// How many of a decoder atom's largest entries the bar chart shows (non-image data).
    #[config(default = 24)]
    pub decoder_bars: usize,
    /// The title of the pages.
    #[config(default = "String::from(\"SAE feature dashboard\")")]
    pub title: String,
    /// What the rows are, shown under the title.
    #[config(default = "String::from(\"the data\")")]
    pub source: String,
    /// Threads that write the pages (0: the machine's parallelism).
    #[config(default = 0)]
    pub threads: usize,
    /// Seed of the samples.
    #[config(default = 0)]
    pub seed: u64,
}

/// The classes each latent pushes up and down: the change of each output when the latent's
/// decoder direction is added (computed by the caller through the rest of its model).
#[derive(Debug, Clone)]
pub struct LogitEffects {
    /// The outputs' names.
    pub classes: Vec<String>,
    /// `[d_sae, classes]` row-major: latent j's effect on each output.
    pub effects: Vec<f32>,
    /// How the effects were computed, in one sentence (shown under the table).
    pub description: String,
}

/// The pictures shown for the rows, when they are not the rows themselves: e.g. the images a
/// classifier saw, for an SAE on its activations (row i of `rows` is the picture of data row i).
#[derive(Debug, Clone)]
pub struct Pictures {
    /// The pictures, one row each, `rows · cols` values.
    pub rows: RowSource,
    /// `[rows, cols]` of each picture.
    pub shape: [usize; 2],
}

/// What the dashboard adds beyond the SAE and its rows.
#[derive(Debug, Clone, Default)]
pub struct Extras<'a> {
    /// Each latent's effect on a model's outputs.
    pub effects: Option<&'a LogitEffects>,
    /// The pictures of the rows (by default, for image data, the rows themselves).
    pub pictures: Option<&'a Pictures>,
}

/// What [`write_dashboard`] did.
#[derive(Debug, Clone)]
pub struct DashboardReport {
    /// Latents (pages written).
    pub latents: usize,
    /// Rows passed through the SAE.
    pub rows: usize,
    /// Seconds of the pass over the rows (encoding and statistics).
    pub pass_seconds: f64,
    /// Seconds writing the site.
    pub write_seconds: f64,
    /// The statistics of every latent.
    pub stats: LatentStats,
}

const ITEM: &str = "dashboard";

impl DashboardConfig {
    /// Checks the fields against the SAE's `d_in`.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`] naming the first invalid field.
    pub fn validate(&self, d_in: usize) -> Result<()> {
        if self.top_k == 0 {
            return Err(invalid(ITEM, "top_k", self.top_k, "at least 1"));
        }
        if self.batch_size == 0 {
            return Err(invalid(ITEM, "batch_size", self.batch_size, "at least 1"));
        }
        if !self.image_shape.is_empty()
            && (self.image_shape.len() != 2 || self.image_shape.iter().product::<usize>() != d_in)
        {
            return Err(invalid(
                ITEM,
                "image_shape",
                format!("{:?}", self.image_shape),
                "empty, or [rows, cols] with rows · cols = d_in",
            ));
        }
        Ok(())
    }
}

/// Rows `start..end` of `rows` (`d` values each).
fn read(rows: &RowSource, d: usize, start: usize, end: usize) -> Result<Vec<f32>> {
    match rows {
        RowSource::Memory(v) => Ok(v[start * d..end * d].to_vec()),
        RowSource::Disk(s) => Ok(s.view(start, end).read_all()?),
    }
}

/// One pass of `sae` over `rows`: every latent's statistics.
///
/// # Errors
/// [`Error::Shape`] for rows of another width than the SAE's; the readers' errors.
pub fn collect(sae: &Sae, rows: &RowSource, config: &DashboardConfig) -> Result<LatentStats> {
    let d = sae.d_in();
    rows.check("the dashboard's rows", d)?;
    let n = rows.rows(d);
    let device = sae.w_dec.val().device();
    let mut stats = LatentStats::new(sae.d_sae(), config.top_k, config.samples, config.seed);
    let mut start = 0;
    while start < n {
        let end = (start + config.batch_size).min(n);
        let x = Tensor::<2>::from_data(
            TensorData::new(read(rows, d, start, end)?, [end - start, d]),
            &device,
        );
        let codes: Vec<f32> = sae
            .encode(x)
            .try_into_vec_as::<f32>()
            .map_err(|e| Error::Training(format!("{e:?}")))?;
        stats.push(&codes, start);
        start = end;
    }
    Ok(stats)
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|e| Error::ExternalSae {
        path: path.to_path_buf(),
        message: format!("cannot write: {e}"),
    })
}

/// Runs `f` on each item of `items` on `threads` threads (scoped), returning the first error.
fn parallel<T: Sync>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> Result<()> + Sync,
) -> Result<()> {
    let chunk = items.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(|| part.iter().try_for_each(&f)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a dashboard writer thread panicked"))
            .collect::<Result<Vec<()>>>()
            .map(|_| ())
    })
}

/// [`Error::Shape`] for effects that are not `[h, classes]`.
fn check_effects(effects: Option<&LogitEffects>, h: usize) -> Result<()> {
    match effects {
        Some(e) if e.classes.is_empty() || e.effects.len() != h * e.classes.len() => {
            Err(Error::Shape(format!(
                "the logit effects hold {} values; {h} latents × {} classes need {}",
                e.effects.len(),
                e.classes.len(),
                h * e.classes.len()
            )))
        }
        _ => Ok(()),
    }
}

/// Writes the dashboard of `sae` on `rows` into `out` (created if missing): `index.html`,
/// `style.css`, `dashboard.js`, `latents/`, and for image data `atoms/` and `rows/` (the
/// thumbnails of the rows shown). `effects` adds each latent's effect on a model's outputs.
///
/// # Errors
/// [`Error::InvalidHyperParameter`] for an invalid config, [`Error::Shape`] for rows or effects
/// of the wrong size, the readers' errors, a directory that cannot be written.
pub fn write_dashboard(
    sae: &Sae,
    rows: &RowSource,
    config: &DashboardConfig,
    extras: &Extras<'_>,
    out: &Path,
) -> Result<DashboardReport> {
    let (d, h) = (sae.d_in(), sae.d_sae());
    config.validate(d)?;
    check_effects(extras.effects, h)?;
    let started = Instant::now();
    let stats = collect(sae, rows, config)?;
    let pass_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    write_site(sae, rows, &stats, config, extras, out)?;
    Ok(DashboardReport {
        latents: h,
        rows: stats.rows,
        pass_seconds,
        write_seconds: started.elapsed().as_secs_f64(),
        stats,
    })
}

/// Writes the site of [`write_dashboard`] from statistics already collected ([`collect`]),
/// for a caller that needs them first (e.g. to compute [`LogitEffects`] at each latent's
/// mean activation).
///
/// # Errors
/// As [`write_dashboard`].
pub fn write_site(
    sae: &Sae,
    rows: &RowSource,
    stats: &LatentStats,
    config: &DashboardConfig,
    extras: &Extras<'_>,
    out: &Path,
) -> Result<()> {
    let effects = extras.effects;
    let (d, h) = (sae.d_in(), sae.d_sae());
    config.validate(d)?;
    if stats.d_sae != h {
        return Err(Error::Shape(format!(
            "statistics of {} latents for an SAE of {h}",
            stats.d_sae
        )));
    }
    check_effects(effects, h)?;
    let images = !config.image_shape.is_empty();
    let own = (images && extras.pictures.is_none()).then(|| Pictures {
        rows: rows.clone(),
        shape: [config.image_shape[0], config.image_shape[1]],
    });
    let pictures = extras.pictures.or(own.as_ref());
    if let Some(p) = pictures {
        let need = stats.rows;
        let have = p.rows.rows(p.shape[0] * p.shape[1]);
        if have < need {
            return Err(Error::Shape(format!(
                "{have} pictures for {need} rows: every row needs its picture"
            )));
        }
    }
    for sub in ["latents", "atoms", "rows"] {
        if sub == "latents" || (sub == "atoms" && images) || (sub == "rows" && pictures.is_some()) {
            let dir = out.join(sub);
            std::fs::create_dir_all(&dir).map_err(|e| Error::ExternalSae {
                path: dir.clone(),
                message: format!("cannot create: {e}"),
            })?;
        }
    }
    write(&out.join("style.css"), assets::STYLE.as_bytes())?;
    write(&out.join("dashboard.js"), assets::SCRIPT.as_bytes())?;
    let threads = match config.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        t => t,
    };
    let w_dec: Vec<f32> = sae
        .w_dec
        .val()
        .try_into_vec_as::<f32>()
        .map_err(|e| Error::Training(format!("{e:?}")))?;
    let latents: Vec<usize> = (0..h).collect();
    parallel(&latents, threads, |&j| {
        let atom = &w_dec[j * d..(j + 1) * d];
        let name = latent_name(j, h);
        if images {
            let [r, c] = [config.image_shape[0], config.image_shape[1]];
            write(
                &out.join("atoms").join(format!("{name}.png")),
                &images::png(atom, r, c, 6.max(168 / c.max(1)), true),
            )?;
        }
        let page = pages::latent(&pages::LatentPage {
            stats,
            j,
            atom,
            atom_image: images,
            thumbnails: pictures.is_some(),
            decoder_bars: config.decoder_bars,
            effects,
            title: &config.title,
        });
        write(
            &out.join("latents").join(format!("{name}.html")),
            page.as_bytes(),
        )
    })?;
    if let Some(p) = pictures {
        let [r, c] = p.shape;
        let shown: BTreeSet<u32> = (0..h)
            .flat_map(|j| stats.top(j).into_iter().chain(stats.sample(j)))
            .map(|e| e.row)
            .collect();
        let shown: Vec<u32> = shown.into_iter().collect();
        parallel(&shown, threads, |&row| {
            let values = read(&p.rows, r * c, row as usize, row as usize + 1)?;
            write(
                &out.join("rows").join(format!("{}.png", row_name(row))),
                &images::png(&values, r, c, 3.max(84 / c.max(1)), false),
            )
        })?;
    }
    // Last: a folder with index.html holds a whole dashboard.
    write(
        &out.join("index.html"),
        pages::index(stats, &config.title, &config.source).as_bytes(),
    )
}
