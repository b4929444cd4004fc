//! The command line of a training run: the [`Settings`] (one flag per setting) and the flags
//! that say where the run goes; and the settings of a fresh run, or of a resumed one (the
//! saved settings with the flags that may change on a resume).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser};

use crate::error::AppError;
use crate::run_dir::{self, RunDir};
use crate::settings::Settings;

/// Train a sparse autoencoder on MNIST with the penalties of sparse-losses, on the CPU
/// (flex, ndarray) or the GPU (wgpu), and write metrics.json, pictures and per-epoch
/// checkpoints.
///
/// With no flags: a top-k SAE (256 latents, k = 32) for 20 epochs on the bundled mnist-10k,
/// on the flex CPU backend, into a new folder under runs/.
///
/// `sae-mnist sweep --help`: train many methods at many strengths and draw their frontier.
/// `sae-mnist model --help`: a classifier trained in Burn, an SAE on its activations, spliced
/// back and probed.
/// `sae-mnist dashboard --help`: the feature dashboard of a run, a static site.
/// `sae-mnist export --help`: a run as a SAELens or sparsify directory.
/// `sae-mnist apply --help`: the codes and reconstructions of a file's rows by any SAE.
/// `sae-mnist prune --help`: the classifier pruned by magnitude, Wanda or SparseGPT.
#[derive(Parser, Debug)]
#[command(name = "sae-mnist", version, allow_negative_numbers = true)]
pub struct Cli {
    /// Every setting of the run (saved as settings.json).
    #[command(flatten)]
    pub settings: Settings,
    /// Output folder [default: a new folder runs/ARCH-...]. Must not hold a run already.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Continue the run in DIR from its last complete checkpoint, with its saved settings
    /// (only --epochs, --finetune-epochs, --finetune-scale, --backend, --devices, --ddp,
    /// --data-dir and --data may change).
    #[arg(long, value_name = "DIR", conflicts_with = "out")]
    pub resume: Option<PathBuf>,
    /// With --resume: continue on data that differs from the run's (by default refused: the
    /// run records a fingerprint of its data).
    #[arg(long, requires = "resume")]
    pub new_data: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// A parsed command line: the flags, and which settings were given on it.
pub struct Invocation {
    /// The flags (defaults where not given).
    pub cli: Cli,
    /// The settings given on the command line, by field name.
    pub given: Vec<String>,
}

/// What a run is: its settings, its folder, and whether it resumes (after `done` epochs).
pub struct Plan {
    /// The settings (the saved ones with the changes, for a resumed run).
    pub settings: Settings,
    /// The output folder.
    pub dir: RunDir,
    /// Whether the run continues the one in `dir`.
    pub resume: bool,
    /// The epochs already trained (0 for a fresh run).
    pub done: usize,
}

impl Invocation {
    /// Parses `args` (with the program name first).
    ///
    /// # Errors
    /// clap's error for a command line it refuses (or for `--help`, `--version`).
    pub fn parse(
        args: impl IntoIterator<Item = impl Into<OsString> + Clone>,
    ) -> Result<Self, clap::Error> {
        let matches = Cli::command().try_get_matches_from(args)?;
        let mut cli = Cli::from_arg_matches(&matches)?;
        let given = setting_ids()
            .into_iter()
            .filter(|id| given_on_command_line(&matches, id))
            .collect();
        let s = &mut cli.settings;
        s.data_dir = absolute(s.data_dir.clone());
        s.data_file = s.data_file.take().map(absolute);
        Ok(Self { cli, given })
    }

    /// Whether setting `id` was given on the command line.
    pub fn gave(&self, id: &str) -> bool {
        self.given.iter().any(|g| g == id)
    }

    /// The settings, folder and start of the run the command line asks for.
    ///
    /// # Errors
    /// A `--resume` folder that holds no run, a flag that contradicts its saved settings, an
    /// `--out` that is a file or holds a run, `--lambda` that weighs nothing.
    pub fn plan(&self) -> Result<Plan, AppError> {
        match &self.cli.resume {
            Some(root) => self.resumed(root),
            None => self.fresh(),
        }
    }

    fn fresh(&self) -> Result<Plan, AppError> {
        let mut settings = self.cli.settings.clone();
        settings.fill_defaults();
        if self.gave("lambda")
            && settings.penalty_name() == crate::vocabulary::NO_PENALTY
            && !crate::vocabulary::arch_has(&settings.arch, "lambda")
        {
            return Err(AppError::Setting(format!(
                "--lambda weighs a penalty (--penalty) or the sparsity term of the architectures \
                 with a `lambda` ({}); --arch {} without a penalty has none",
                crate::vocabulary::archs_with("lambda").join(", "),
                settings.arch
            )));
        }
        self.check_given_flags_apply(&settings)?;
        let root = match &self.cli.out {
            Some(p) => {
                if p.exists() && !p.is_dir() {
                    return Err(AppError::Setting(format!(
                        "--out {} is a file, not a folder",
                        p.display()
                    )));
                }
                if (RunDir { root: p.clone() }).in_use() {
                    return Err(AppError::OutInUse(p.clone()));
                }
                p.clone()
            }
            None => fresh_out_dir(&settings.run_name()),
        };
        check_path_length(&root)?;
        Ok(Plan {
            settings,
            dir: RunDir { root },
            resume: false,
            done: 0,
        })
    }

    /// Refuses a flag given for a field that the architecture or the penalty does not have
    /// (it would be ignored silently).
    fn check_given_flags_apply(&self, settings: &Settings) -> Result<(), AppError> {
        use crate::vocabulary::{arch_has, archs_with, penalty_has, NO_PENALTY};
        let (arch, penalty) = (settings.arch.as_str(), settings.penalty_name());
        let refuse = |msg: String| Err(AppError::Setting(msg));
        if self.gave("k") && !arch_has(arch, "k") {
            return refuse(format!(
                "--k does not apply to --arch {arch} (it is the k of {})",
                archs_with("k").join(", ")
            ));
        }
        if self.gave("kl_target") && !penalty_has(penalty, "target") {
            return refuse(format!(
                "--kl-target does not apply to --penalty {penalty} (it is the target of \
                 kl_sparsity)"
            ));
        }
        for flag in ["warmup_steps", "warmup_fraction"] {
            if self.gave(flag) && penalty == NO_PENALTY && !arch_has(arch, "lambda") {
                return refuse(format!(
                    "--{} warms up a penalty or an architecture's lambda; --arch {arch} \
                     without a penalty has neither",
                    flag.replace('_', "-")
                ));
            }
        }
        Ok(())
    }

    fn resumed(&self, root: &Path) -> Result<Plan, AppError> {
        if !root.is_dir() {
            return Err(AppError::Setting(format!(
                "--resume {}: no such folder (give the --out folder of a run)",
                root.display()
            )));
        }
        let saved = run_dir::saved_settings(root)
            .ok_or_else(|| AppError::NoCheckpoint(root.to_path_buf()))??;
        let done = run_dir::latest_epoch(root).unwrap_or(0);
        let settings = self.changed(saved, done)?;
        Ok(Plan {
            settings,
            dir: RunDir {
                root: root.to_path_buf(),
            },
            resume: true,
            done,
        })
    }

    /// `saved` with the settings given on the command line: those of
    /// [`Settings::RESUMABLE`] replace the saved ones, any other must equal its saved value.
    fn changed(&self, saved: Settings, done: usize) -> Result<Settings, AppError> {
        let unrecordable = |e: serde_json::Error| {
            AppError::Setting(format!(
                "the settings cannot be recorded in settings.json: {e}"
            ))
        };
        let mut merged = serde_json::to_value(&saved).map_err(unrecordable)?;
        let ours = serde_json::to_value(&self.cli.settings).map_err(unrecordable)?;
        for id in &self.given {
            let id = id.as_str();
            if Settings::RESUMABLE.contains(&id) {
                merged[id] = ours[id].clone();
            } else if merged[id] != ours[id] {
                return Err(AppError::ResumeConflict(format!(
                    "{} cannot change (leave it out)",
                    flag(id)
                )));
            }
        }
        let settings: Settings = serde_json::from_value(merged).expect("settings read back");
        if self.gave("epochs") && settings.epochs < done {
            return Err(AppError::ResumeConflict(format!(
                "--epochs {} is fewer than the {done} epochs already trained",
                settings.epochs
            )));
        }
        Ok(settings)
    }
}

/// The ids of the settings' flags: their field names (clap's ids, serde's keys).
fn setting_ids() -> Vec<String> {
    use clap::Args;
    Settings::augment_args(clap::Command::new("settings"))
        .get_arguments()
        .map(|a| a.get_id().to_string())
        .collect()
}

fn given_on_command_line(matches: &ArgMatches, id: &str) -> bool {
    matches.try_contains_id(id).unwrap_or(false)
        && matches.value_source(id) == Some(ValueSource::CommandLine)
}

/// The flag of setting `id`, as typed (`--data` for `data_file`).
pub fn flag(id: &str) -> String {
    Cli::command()
        .get_arguments()
        .find(|a| a.get_id() == id)
        .and_then(|a| a.get_long())
        .map_or_else(|| id.to_string(), |long| format!("--{long}"))
}

/// `path` made absolute against the working directory (as it is when that fails): the settings
/// saved with a run name their data so that `--resume` works from any directory.
fn absolute(path: PathBuf) -> PathBuf {
    std::path::absolute(&path).unwrap_or(path)
}

/// The longest path a run writes below its folder (`burn-finetune/checkpoint/…bpk.tmp` and
/// the like), with room to spare.
const DEEPEST_FILE: usize = 96;

/// Refuses an output folder whose path the OS would refuse deep inside the run (burn-train's
/// logger panicked on "File name too long"): a component over 255 bytes, or a path that
/// leaves no room for the run's files under `PATH_MAX` (4096).
fn check_path_length(root: &Path) -> Result<(), AppError> {
    let path = absolute(root.to_path_buf());
    if let Some(long) = path.components().find(|c| c.as_os_str().len() > 255) {
        return Err(AppError::Setting(format!(
            "--out: the name `{}…` is {} bytes long; a file system allows 255",
            long.as_os_str()
                .to_string_lossy()
                .chars()
                .take(24)
                .collect::<String>(),
            long.as_os_str().len()
        )));
    }
    let len = path.as_os_str().len();
    if len + DEEPEST_FILE > 4096 {
        return Err(AppError::Setting(format!(
            "--out: the path is {len} bytes long; a run needs it under {} (the OS allows 4096 \
             for the files it writes inside)",
            4096 - DEEPEST_FILE
        )));
    }
    Ok(())
}

/// `runs/<name>`, or `runs/<name>-2`, `-3`, … when taken.
fn fresh_out_dir(name: &str) -> PathBuf {
    let base = Path::new("runs");
    std::iter::once(base.join(name))
        .chain((2..).map(|i| base.join(format!("{name}-{i}"))))
        .find(|p| !RunDir { root: p.clone() }.in_use())
        .expect("some suffix is free")
}
