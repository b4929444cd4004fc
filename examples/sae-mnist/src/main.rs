//! `sae-mnist`: train a sparse autoencoder on MNIST. Run `sae-mnist --help` for the flags.

use std::process::ExitCode;

use sae_mnist::cli::{Invocation, Plan};
use sae_mnist::settings::Settings;
use sae_mnist::{data, model, run_dir, train};
use sae_mnist::{write_outputs, AppError, OUTPUTS};
use sparse_autoencoders::data::load_mnist_limited;

fn main_inner(invocation: Invocation) -> Result<(), AppError> {
    let Plan {
        settings,
        dir,
        resume,
        done,
    } = invocation.plan()?;
    let cli = &invocation.cli;
    settings.validate()?;
    // Burn's default device becomes the run's backend: burn-optim puts the optimizer state of
    // a resumed run there, and with the wgpu feature the default was wgpu, which a CPU run
    // must not need (with no adapter it panicked). Set before any thread starts.
    std::env::set_var("BURN_DEVICE", settings.backend.name());
    // A finished run, recognised by its results, is not resumed (unless for a decoder
    // fine-tune): its results stay. Nor is one whose checkpoints fall short of its results
    // (deleted): that would retrain it and overwrite them.
    if let Some(finished) = resume
        .then(|| run_dir::finished_epochs(&dir.root))
        .flatten()
    {
        let finetune = invocation.gave("finetune_epochs") && settings.finetune_epochs > 0;
        if finished >= settings.epochs && !finetune {
            return Err(AppError::Setting(format!(
                "{} is a finished run ({finished} of {} epochs), and its results stay as they \
                 are: give --epochs N with N > {finished} to train further",
                dir.root.display(),
                settings.epochs
            )));
        }
        if done < finished {
            return Err(AppError::Setting(format!(
                "{} holds the results of {finished} epochs but its checkpoints reach only epoch \
                 {done} (burn/checkpoint was removed?): resuming would retrain it and overwrite \
                 them; keep them and start a new run instead",
                dir.root.display()
            )));
        }
    }
    let mut settings = settings;
    let mut data = match &settings.data_file {
        Some(file) => data::load_rows(file)?,
        None => data::RunData::from_mnist(load_mnist_limited(
            &settings.data_dir,
            settings.train_limit,
            settings.test_limit,
        )?),
    };
    data.truncate(settings.train_limit, settings.test_limit);
    // A batch cannot hold more rows than there are (the memory estimate of the larger batch
    // refused the run as needing terabytes): one batch of every row (said once the run starts).
    let asked_batch = settings.batch_size;
    settings.batch_size = asked_batch.min(data.n_train);
    let fingerprint = data::fingerprint(&data)?;
    if let Some(saved) = &settings.data_fingerprint {
        if resume && *saved != fingerprint && !cli.new_data {
            return Err(AppError::Setting(format!(
                "the data differs from the run's in {} (fingerprint {fingerprint}, the run's \
                 {saved}): pass --new-data to continue on it",
                dir.root.display()
            )));
        }
    }
    settings.data_fingerprint = Some(fingerprint);
    // An invalid or too large model is refused before the output folder exists.
    model::preflight(&settings, &data)?;
    if settings.batch_size < asked_batch {
        sae_mnist::say_err!(
            "note: --batch-size {asked_batch} is larger than the {} training rows; using {}",
            data.n_train,
            settings.batch_size
        );
    }
    let created = dir.create()?;
    // One writer per run folder, until this function returns.
    let _lock = dir.lock()?;
    if !resume && dir.in_use() {
        // Another run took the folder between our check and our lock.
        return Err(AppError::OutInUse(dir.root.clone()));
    }
    if resume {
        run_dir::remove_stale_temporaries(&dir.root);
    }
    let outcome = train_in(&dir, settings, &data, resume, cli.quiet);
    // A fresh run that failed before its first checkpoint leaves no folder behind (it would
    // be refused as "already holds a run"). A diverged run keeps its record.
    if let Err(e) = &outcome {
        if !resume
            && !matches!(e, AppError::Diverged { .. })
            && run_dir::latest_epoch(&dir.root).is_none()
        {
            created.discard(&run_dir::RUN_FILES);
        }
    }
    outcome
}

/// Trains the run of `settings` in the locked folder `dir` and reports it.
fn train_in(
    dir: &run_dir::RunDir,
    settings: Settings,
    data: &data::RunData,
    resume: bool,
    quiet: bool,
) -> Result<(), AppError> {
    let (source, items) = match &settings.data_file {
        Some(file) => (file.display(), format!("rows of {}", data.dim)),
        None => (
            settings.data_dir.display(),
            format!("images of {}×{}", data.image[0], data.image[1]),
        ),
    };
    sae_mnist::say!(
        "sae-mnist: {} on {source} ({} train / {} test {items}), backend {}, {} epochs → {}",
        settings.run_name(),
        data.n_train,
        data.n_test,
        settings.backend.name(),
        settings.epochs,
        dir.root.display()
    );
    // A resumed run starts after its newest checkpoint that reads back (a crash while
    // burn-train wrote the last one can leave a file cut short).
    let start = if resume {
        let (start, warnings) = run_dir::resume_point(&dir.root);
        for w in warnings {
            sae_mnist::say_err!("warning: {w}");
        }
        start
    } else {
        0
    };
    let (model, report) = train::run(&settings, data, &dir.root, resume, start, quiet)?;
    write_outputs(&dir.root, &model, data, &report)?;
    if let Some(b) = &report.before_finetune {
        sae_mnist::say!(
            "before the decoder fine-tune: explained variance {:.4}  L0 {:.1}  gamma {:.3}",
            b.explained_variance,
            b.l0,
            b.gamma
        );
    }
    for w in &report.warnings {
        sae_mnist::say_err!("warning: {w}");
    }
    let t = &report.test;
    let secs: f64 = report.epochs.iter().map(|e| e.seconds).sum();
    sae_mnist::say!(
        "test: mse {:.5}  explained variance {:.4}  L0 {:.1}  dead {:.3}  gamma {:.3}  hoyer {:.3}",
        t.mse,
        t.explained_variance,
        t.l0,
        t.dead_fraction,
        t.gamma,
        t.hoyer
    );
    if let Some(m) = report.mask_sparsity {
        sae_mnist::say!("encoder mask removes {:.1}% of the weights", 100.0 * m);
    }
    sae_mnist::say!(
        "trained {} epochs in {:.1} s ({:.2} s/epoch)",
        report.epochs.len(),
        secs,
        secs / report.epochs.len().max(1) as f64
    );
    sae_mnist::say!(
        "outputs in {}: {} and the checkpoint of epoch {}",
        dir.root.display(),
        OUTPUTS.join(", "),
        report.epochs.len()
    );
    Ok(())
}

fn main() -> ExitCode {
    // Burn's CPU backends allocate every tensor anew: keep freed memory in the process instead
    // of mapping and page-faulting it in again every step (see `reuse_freed_memory`).
    sparse_autoencoders::reuse_freed_memory();
    // Arguments as the OS gives them: a path need not be UTF-8.
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).and_then(|a| a.to_str()) == Some("model") {
        // `sae-mnist model ...`: a classifier, its activations, an SAE on them, spliced back.
        args.remove(1);
        if let Some(program) = args.first_mut() {
            program.push(" model");
        }
        return match sae_mnist::model_run::main(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                sae_mnist::say_err!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    type Subcommand = fn(Vec<std::ffi::OsString>) -> Result<(), sae_mnist::AppError>;
    let subcommands: [(&str, Subcommand); 4] = [
        ("export", sae_mnist::interop_cli::export),
        ("apply", sae_mnist::interop_cli::apply),
        ("dashboard", sae_mnist::dashboard_cli::main),
        ("prune", sae_mnist::prune_run::main),
    ];
    if let Some((name, run)) = subcommands
        .iter()
        .find(|(name, _)| args.get(1).and_then(|a| a.to_str()) == Some(name))
    {
        args.remove(1);
        if let Some(program) = args.first_mut() {
            program.push(format!(" {name}"));
        }
        return match run(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                sae_mnist::say_err!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if args.get(1).and_then(|a| a.to_str()) == Some("sweep") {
        // `sae-mnist sweep ...`: the sweep's own command line.
        args.remove(1);
        if let Some(program) = args.first_mut() {
            program.push(" sweep");
        }
        return match sae_mnist::sweep_cli::main(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                sae_mnist::say_err!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let invocation = match Invocation::parse(args) {
        Ok(invocation) => invocation,
        Err(e) => return sae_mnist::cli_error(e),
    };
    match main_inner(invocation) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            sae_mnist::say_err!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
