//! Sharing and inspecting a run: `export` (SAELens, sparsify), `apply` (codes and
//! reconstructions of a file by any SAE), and `dashboard`, opened in a real headless Chromium.

use super::*;

fn sub(name: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sae-mnist"));
    c.arg(name);
    c
}

/// A `.npy` of `f32` as this crate writes them: its shape and values.
fn read_npy(path: &Path) -> (Vec<usize>, Vec<f32>) {
    let a = sparse_autoencoders::data::read_npy(path).unwrap();
    (a.shape, a.data)
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Chromium, when installed (`SPARSE_LOSSES_REQUIRE_CHROMIUM=1`: its absence fails the test).
fn chromium() -> Option<PathBuf> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|p| p.join(name))
                    .find(|p| p.is_file())
            })
        });
    if found.is_none() {
        assert!(
            std::env::var("SPARSE_LOSSES_REQUIRE_CHROMIUM").as_deref() != Ok("1"),
            "Chromium is required (SPARSE_LOSSES_REQUIRE_CHROMIUM=1) but not installed"
        );
        eprintln!("skipping the browser checks: no chromium on PATH");
    }
    found
}

/// Runs headless Chromium on `page` with `args`; returns stdout and stderr.
fn headless(browser: &Path, page: &Path, args: &[&str]) -> (String, String) {
    let profile = std::env::temp_dir().join(format!("sae-chromium-{}", std::process::id()));
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=10000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.canonicalize().unwrap().display()))
        .output()
        .expect("chromium runs");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The value of `name="..."` in the first tag of `dom` that has it.
fn attribute<'a>(dom: &'a str, name: &str) -> Option<&'a str> {
    let key = format!("{name}=\"");
    let start = dom.find(&key)? + key.len();
    dom[start..].split('"').next()
}

/// Checks a page's DOM as Chromium built it: the script ran, no error, every image loaded.
fn check_page(browser: &Path, page: &Path) -> String {
    let (dom, log) = headless(browser, page, &["--dump-dom"]);
    assert!(!log.contains("Uncaught"), "{}: {log}", page.display());
    assert_eq!(
        attribute(&dom, "data-ready"),
        Some("1"),
        "{}",
        page.display()
    );
    assert_eq!(
        attribute(&dom, "data-errors"),
        Some("0"),
        "{}",
        page.display()
    );
    assert_eq!(
        attribute(&dom, "data-images-broken"),
        Some("0"),
        "{}: {dom:.400}",
        page.display()
    );
    dom
}

/// Opens a dashboard in Chromium: the index lists `latents` rows with no script error, its
/// first link leads to a latent page whose images all load (natural width > 0), and a
/// screenshot of each is not blank (many colours).
pub fn check_dashboard(dir: &Path, latents: usize, images: bool) {
    let Some(browser) = chromium() else { return };
    let index = dir.join("index.html");
    let dom = check_page(&browser, &index);
    assert_eq!(
        dom.matches("<tr data-id=").count(),
        latents,
        "{}",
        dir.display()
    );
    let at = dom
        .find("href=\"latents/")
        .expect("a link to a latent page")
        + "href=\"".len();
    let href = dom[at..].split('"').next().unwrap();
    let page = dir.join(href);
    assert!(page.is_file(), "{}", page.display());
    let dom = check_page(&browser, &page);
    let loaded: usize = attribute(&dom, "data-images-loaded")
        .unwrap()
        .parse()
        .unwrap();
    if images {
        assert!(loaded > 1, "{}: {loaded} images", page.display());
    }
    for (what, file) in [("index", &index), ("latent", &page)] {
        let shot = dir.join(format!("screenshot-{what}.png"));
        headless(
            &browser,
            file,
            &[
                &format!("--screenshot={}", shot.display()),
                "--window-size=1280,900",
                "--hide-scrollbars",
            ],
        );
        let decoder = png::Decoder::new(std::io::Cursor::new(std::fs::read(&shot).unwrap()));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        let bytes = &buf[..info.buffer_size()];
        let step = info.color_type.samples();
        let colours: std::collections::BTreeSet<&[u8]> = bytes.chunks(step).collect();
        assert!(
            info.width >= 1000 && colours.len() > 50,
            "{}: a blank screenshot ({} colours)",
            shot.display(),
            colours.len()
        );
    }
}

/// A run exported to SAELens and sparsify reads back with the run's own codes and
/// reconstructions (`apply` on the run folder, on the SAELens and on the sparsify directory);
/// its dashboard opens in Chromium; bad input is one line.
#[test]
fn a_run_exports_applies_and_has_a_dashboard() {
    let dir = scratch("share");
    let out = dir.join("run");
    run(small(&mut bin()).args(["--epochs", "1", "--out"]).arg(&out));
    // Rows to apply it to: a few test images as a .npy file.
    let mnist =
        sparse_autoencoders::data::load_mnist_limited(sae_mnist_data(), Some(1), Some(40)).unwrap();
    let x = dir.join("x.npy");
    let n = 40;
    sparse_autoencoders::data::write_npy_f32(&x, &[n, 784], &mnist.test.images[..n * 784]).unwrap();
    let apply = |sae: &Path, tag: &str| {
        let (codes, recon) = (
            dir.join(format!("{tag}-codes.npy")),
            dir.join(format!("{tag}-recon.npy")),
        );
        run(sub("apply")
            .arg(sae)
            .arg("--input")
            .arg(&x)
            .arg("--codes")
            .arg(&codes)
            .arg("--recon")
            .arg(&recon)
            .args(["--batch-size", "16"]));
        (read_npy(&codes), read_npy(&recon))
    };
    let ((cs, codes), (rs, recon)) = apply(&out, "run");
    assert_eq!((cs, rs), (vec![n, 64], vec![n, 784]));
    let l0 = codes.iter().filter(|v| **v != 0.0).count() as f64 / n as f64;
    // top_k k = 32 by default (then ReLU: a row with fewer positive pre-activations has fewer).
    assert!(l0 <= 32.0 && l0 > 24.0, "L0 {l0}");
    for format in ["saelens", "sparsify"] {
        let exported = dir.join(format);
        run(sub("export")
            .arg(&out)
            .args(["--format", format, "--out"])
            .arg(&exported));
        let weights = if format == "saelens" {
            "sae_weights.safetensors"
        } else {
            "sae.safetensors"
        };
        assert!(exported.join("cfg.json").is_file() && exported.join(weights).is_file());
        let ((_, c), (_, r)) = apply(&exported, format);
        assert!(
            max_diff(&c, &codes) < 1e-5,
            "{format}: codes differ by {}",
            max_diff(&c, &codes)
        );
        assert!(
            max_diff(&r, &recon) < 1e-5,
            "{format}: recon differs by {}",
            max_diff(&r, &recon)
        );
        // Again into the same directory: an earlier export is replaced.
        run(sub("export")
            .arg(&out)
            .args(["--format", format, "--out"])
            .arg(&exported));
    }
    // Bad input: one line, nothing written.
    let err = fails(
        sub("export")
            .arg(&out)
            .args(["--format", "saelens", "--out"])
            .arg(&out),
    );
    assert!(
        err.contains("holds other files") && err.trim().lines().count() == 1,
        "{err}"
    );
    let err = fails(
        sub("apply")
            .arg(dir.join("nope"))
            .arg("--input")
            .arg(&x)
            .arg("--codes")
            .arg(dir.join("c.npy")),
    );
    assert!(
        err.contains("not a directory") && err.trim().lines().count() == 1,
        "{err}"
    );
    let narrow = dir.join("narrow.npy");
    sparse_autoencoders::data::write_npy_f32(&narrow, &[2, 3], &[0.0; 6]).unwrap();
    let err = fails(
        sub("apply")
            .arg(&out)
            .arg("--input")
            .arg(&narrow)
            .arg("--codes")
            .arg(dir.join("c.npy")),
    );
    assert!(
        err.contains("d_in is 784") && err.trim().lines().count() == 1,
        "{err}"
    );
    assert!(!dir.join("c.npy").exists());
    std::fs::write(dir.join("saelens/cfg.json"), "{not json").unwrap();
    let err = fails(
        sub("apply")
            .arg(dir.join("saelens"))
            .arg("--input")
            .arg(&x)
            .arg("--codes")
            .arg(dir.join("c.npy")),
    );
    assert!(
        err.contains("cfg.json") && err.trim().lines().count() == 1,
        "{err}"
    );
    // The dashboard: 64 latents, thumbnails and atoms as images.
    let site = dir.join("site");
    run(sub("dashboard")
        .arg(&out)
        .arg("--out")
        .arg(&site)
        .arg("--quiet"));
    assert!(site.join("index.html").is_file());
    assert_eq!(std::fs::read_dir(site.join("latents")).unwrap().count(), 64);
    assert_eq!(std::fs::read_dir(site.join("atoms")).unwrap().count(), 64);
    check_dashboard(&site, 64, true);
    // A SAELens directory needs the rows to show.
    let err = fails(sub("dashboard").arg(dir.join("sparsify")));
    assert!(
        err.contains("--data") && err.trim().lines().count() == 1,
        "{err}"
    );
    run(sub("dashboard")
        .arg(dir.join("sparsify"))
        .arg("--data")
        .arg(&x)
        .arg("--out")
        .arg(dir.join("site2"))
        .arg("--quiet"));
    check_dashboard(&dir.join("site2"), 64, false);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Dashboards built by CI from its own runs (`SAE_MNIST_DASHBOARDS=DIR:LATENTS[,...]`), checked
/// in Chromium as above; nothing to do when the variable is not set.
#[test]
fn dashboards_built_by_ci_open_in_chromium() {
    let Ok(list) = std::env::var("SAE_MNIST_DASHBOARDS") else {
        return;
    };
    for item in list.split(',') {
        let (dir, latents) = item.rsplit_once(':').expect("DIR:LATENTS");
        check_dashboard(Path::new(dir), latents.parse().unwrap(), true);
    }
}
