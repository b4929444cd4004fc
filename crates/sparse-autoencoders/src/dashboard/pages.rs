//! The dashboard's HTML: the index of all latents and one page per latent.

use std::fmt::Write as _;

use super::images::{bars, escape, format_value};
use super::stats::{Example, LatentStats, LOG_LO, LOG_STEP};
use super::LogitEffects;

/// The head of a page: title, the stylesheet and the script (`prefix` leads to the site's root).
fn head(title: &str, prefix: &str) -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{}</title><link rel="stylesheet" href="{prefix}style.css"><script src="{prefix}dashboard.js"></script></head>
"#,
        escape(title)
    )
}

/// A latent's file name, zero-padded to the width of the largest index.
pub fn latent_name(j: usize, d_sae: usize) -> String {
    let width = (d_sae.max(2) - 1).to_string().len();
    format!("{j:0width$}")
}

/// A row's thumbnail file name (`rows/…png`).
pub fn row_name(row: u32) -> String {
    format!("{row:07}")
}

/// The histogram of latent frequencies over all latents (log10 bins from 10⁻⁵ to 1), dead
/// latents counted apart.
fn frequency_histogram(stats: &LatentStats) -> String {
    const LO: f64 = -5.0;
    const N: usize = 25;
    let mut counts = [0usize; N];
    for j in 0..stats.d_sae {
        let f = stats.frequency(j);
        if f > 0.0 {
            let b = ((f.log10() - LO) / 0.2).floor().clamp(0.0, (N - 1) as f64) as usize;
            counts[b] += 1;
        }
    }
    let items: Vec<(String, f64)> = counts
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let a = LO + 0.2 * i as f64;
            (
                format!(
                    "{} latents with frequency in [10^{a:.1}, 10^{:.1})",
                    c,
                    a + 0.2
                ),
                *c as f64,
            )
        })
        .collect();
    let mut svg = bars(&items, 600.0, 120.0, "hist").replace("class=\"pos\"", "class=\"hist\"");
    svg.push_str(
        r#"<div class="axis-labels" style="width:600px"><span>10⁻⁵</span><span>10⁻⁴</span><span>10⁻³</span><span>10⁻²</span><span>0.1</span><span>1</span></div>"#,
    );
    svg
}

/// The index: summary cards, the frequency histogram, and the sortable, filterable table.
pub fn index(stats: &LatentStats, title: &str, source: &str) -> String {
    let h = stats.d_sae;
    let dead = (0..h).filter(|&j| stats.count[j] == 0).count();
    let l0: f64 = stats.count.iter().map(|&c| c as f64).sum::<f64>() / stats.rows.max(1) as f64;
    let max_freq = (0..h)
        .map(|j| stats.frequency(j))
        .fold(0.0, f64::max)
        .max(1e-12);
    let mut out = head(title, "");
    let _ = write!(
        out,
        r#"<body><header><h1>{}</h1><div class="sub">{} latents on {} rows of {}</div></header><main>
<div class="cards">
<div class="card stat"><b>{h}</b><span>latents</span></div>
<div class="card stat"><b>{}</b><span>rows</span></div>
<div class="card stat"><b>{:.1}</b><span>mean L0</span></div>
<div class="card stat"><b>{dead} ({:.1}%)</b><span>dead</span></div>
</div>
<h2>Activation frequency of all latents <span class="count">(log scale; dead latents not shown)</span></h2>
<div class="card">{}</div>
<h2>Latents</h2>
<div class="controls">
<label>min frequency <input id="min-freq" type="number" min="0" max="1" step="0.001" value="0"></label>
<label><input id="hide-dead" type="checkbox"> hide dead</label>
<label>latent <input id="search" type="search" placeholder="index"></label>
<span class="count"><span id="shown">{h}</span> shown · click a column to sort</span>
</div>
<table id="latents"><thead><tr><th data-key="id">latent</th><th data-key="freq">frequency</th><th data-key="mean">mean act.</th><th data-key="max">max act.</th></tr></thead><tbody>
"#,
        escape(title),
        h,
        stats.rows,
        escape(source),
        stats.rows,
        l0,
        100.0 * dead as f64 / h.max(1) as f64,
        frequency_histogram(stats),
    );
    for j in 0..h {
        let f = stats.frequency(j);
        let is_dead = stats.count[j] == 0;
        let name = latent_name(j, h);
        let _ = writeln!(
            out,
            r#"<tr data-id="{j}" data-freq="{f}" data-mean="{}" data-max="{}" data-dead="{}"{}><td><a href="latents/{name}.html">{j}</a>{}</td><td><span class="freqbar" style="width:{:.0}px"></span>{}</td><td>{}</td><td>{}</td></tr>"#,
            stats.mean(j),
            stats.max[j],
            is_dead as u8,
            if is_dead { r#" class="dead""# } else { "" },
            if is_dead {
                r#"<span class="badge dead">dead</span>"#
            } else {
                ""
            },
            60.0 * f / max_freq,
            format_value(f),
            format_value(stats.mean(j)),
            format_value(stats.max[j] as f64),
        );
    }
    out.push_str("</tbody></table></main></body></html>\n");
    out
}

/// What a latent page shows of the data and the model.
pub struct LatentPage<'a> {
    /// The statistics of every latent.
    pub stats: &'a LatentStats,
    /// The latent.
    pub j: usize,
    /// Its decoder row, `[d_in]`.
    pub atom: &'a [f32],
    /// Whether the atom is drawn as an image (image data).
    pub atom_image: bool,
    /// Whether the rows have thumbnails (`rows/…png`).
    pub thumbnails: bool,
    /// How many of the atom's largest entries the bar chart shows (non-image data).
    pub decoder_bars: usize,
    /// The logit effects, for an SAE on a classifier's activations.
    pub effects: Option<&'a LogitEffects>,
    /// The dashboard's title.
    pub title: &'a str,
}

fn example_card(e: &Example, images: bool, interval: &str) -> String {
    let picture = if images {
        format!(
            r#"<img src="../rows/{}.png" alt="row {}" width="84" height="84">"#,
            row_name(e.row),
            e.row
        )
    } else {
        String::new()
    };
    format!(
        r#"<div class="example">{picture}<div class="value">{}</div><div class="row-label">row {}</div><div class="interval">{interval}</div></div>"#,
        format_value(e.value as f64),
        e.row
    )
}

/// A latent's page.
pub fn latent(p: &LatentPage<'_>) -> String {
    let (s, j) = (p.stats, p.j);
    let h = s.d_sae;
    let name = latent_name(j, h);
    let dead = s.count[j] == 0;
    let mut out = head(&format!("Latent {j} · {}", p.title), "../");
    let prev = (j > 0).then(|| {
        format!(
            r#"<a href="{}.html">← latent {}</a>"#,
            latent_name(j - 1, h),
            j - 1
        )
    });
    let next = (j + 1 < h).then(|| {
        format!(
            r#"<a href="{}.html">latent {} →</a>"#,
            latent_name(j + 1, h),
            j + 1
        )
    });
    let _ = write!(
        out,
        r#"<body><header><div class="nav"><a href="../index.html">all latents</a>{}{}</div><h1>Latent {j}{}</h1><div class="sub">{}</div></header><main>
<div class="cards">
<div class="card stat"><b>{}</b><span>frequency</span></div>
<div class="card stat"><b>{}</b><span>rows fired</span></div>
<div class="card stat"><b>{}</b><span>mean activation</span></div>
<div class="card stat"><b>{}</b><span>max activation</span></div>
</div>
<div class="two"><div>
"#,
        prev.unwrap_or_default(),
        next.unwrap_or_default(),
        if dead {
            r#"<span class="badge dead">dead</span>"#
        } else {
            ""
        },
        escape(p.title),
        format_value(s.frequency(j)),
        s.count[j],
        format_value(s.mean(j)),
        format_value(s.max[j] as f64),
    );
    // The decoder atom.
    out.push_str("<h2>Decoder direction</h2><div class=\"card atom\">");
    if p.atom_image {
        let _ = write!(
            out,
            r#"<img src="../atoms/{name}.png" alt="decoder atom of latent {j}" width="168" height="168"><div class="count">red: positive, blue: negative</div>"#
        );
    } else {
        let mut order: Vec<usize> = (0..p.atom.len()).collect();
        order.sort_by(|&a, &b| p.atom[b].abs().total_cmp(&p.atom[a].abs()));
        order.truncate(p.decoder_bars);
        order.sort_unstable();
        let items: Vec<(String, f64)> = order
            .iter()
            .map(|&i| (format!("dimension {i}"), p.atom[i] as f64))
            .collect();
        out.push_str(&bars(&items, 520.0, 140.0, "atom-bars"));
        out.push_str(r#"<div class="ticks" style="width:520px">"#);
        for i in &order {
            let _ = write!(out, "<span>{i}</span>");
        }
        out.push_str("</div>");
        let _ = write!(
            out,
            r#"<div class="count">the {} largest entries of {} by magnitude, by dimension (hover for values)</div>"#,
            order.len(),
            p.atom.len()
        );
    }
    out.push_str("</div>");
    // The classes it pushes up and down.
    if let Some(e) = p.effects {
        let n = e.classes.len();
        let row = &e.effects[j * n..(j + 1) * n];
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| row[b].total_cmp(&row[a]));
        out.push_str("<h2>Effect on the output</h2><div class=\"card\"><table class=\"effects\"><tr><th>pushes up</th><th>Δ logit</th><th>pushes down</th><th>Δ logit</th></tr>");
        let shown = n.min(5);
        for i in 0..shown {
            let (u, d) = (order[i], order[n - 1 - i]);
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&e.classes[u]),
                format_value(row[u] as f64),
                escape(&e.classes[d]),
                format_value(row[d] as f64)
            );
        }
        let _ = write!(
            out,
            r#"</table><div class="count">{}</div></div>"#,
            escape(&e.description)
        );
    }
    out.push_str("</div><div>");
    // The activation histogram.
    let hist = s.histogram_of(j);
    let first = hist.iter().position(|&c| c > 0).unwrap_or(0);
    let last = hist.iter().rposition(|&c| c > 0).unwrap_or(0).max(first);
    let items: Vec<(String, f64)> = (first..=last)
        .map(|b| {
            let a = LOG_LO + LOG_STEP * b as f32;
            (
                format!(
                    "{} rows in [{}, {})",
                    hist[b],
                    format_value(10f64.powf(a as f64)),
                    format_value(10f64.powf((a + LOG_STEP) as f64))
                ),
                hist[b] as f64,
            )
        })
        .collect();
    let edge = |b: usize| format_value(10f64.powf((LOG_LO + LOG_STEP * b as f32) as f64));
    let _ = write!(
        out,
        r#"<h2>Activation histogram <span class="count">(log-spaced bins)</span></h2><div class="card">{}<div class="axis-labels" style="width:520px"><span>{}</span><span>activation (log scale)</span><span>{}</span></div></div>"#,
        bars(&items, 520.0, 140.0, "hist").replace("class=\"pos\"", "class=\"hist\""),
        if items.is_empty() {
            "–".into()
        } else {
            edge(first)
        },
        if items.is_empty() {
            "–".into()
        } else {
            edge(last + 1)
        },
    );
    out.push_str("</div></div>");
    // Top activations, then samples from intervals of the rest of the range.
    let top = s.top(j);
    let _ = write!(
        out,
        "<h2>Top activations <span class=\"count\">({} rows)</span></h2><div class=\"grid\">",
        top.len()
    );
    if top.is_empty() {
        out.push_str("<p class=\"count\">This latent never fired on these rows.</p>");
    }
    let lowest_top = top.last().map(|e| e.value).unwrap_or(0.0);
    for e in &top {
        let interval = format!(
            "top [{}, {}]",
            format_value(lowest_top as f64),
            format_value(s.max[j] as f64)
        );
        out.push_str(&example_card(e, p.thumbnails, &interval));
    }
    out.push_str("</div>");
    let rest: Vec<Example> = s
        .sample(j)
        .into_iter()
        .filter(|e| !top.iter().any(|t| t.row == e.row))
        .collect();
    if !rest.is_empty() {
        out.push_str("<h2>Samples from the rest of the range <span class=\"count\">(a uniform sample of the rows it fires on, by interval of the max)</span></h2>");
        let max = s.max[j];
        for q in (0..4).rev() {
            let (a, b) = (max * q as f32 / 4.0, max * (q + 1) as f32 / 4.0);
            let group: Vec<&Example> = rest
                .iter()
                .filter(|e| e.value >= a && (e.value < b || (q == 3 && e.value <= b)))
                .collect();
            if group.is_empty() {
                continue;
            }
            let interval = format!(
                "[{}, {}{}",
                format_value(a as f64),
                format_value(b as f64),
                if q == 3 { "]" } else { ")" }
            );
            let _ = write!(
                out,
                r#"<h3 class="count">interval {interval}: {} of the sample</h3><div class="grid">"#,
                group.len()
            );
            let step = (group.len() as f64 / 6.0).max(1.0);
            let mut i = 0.0;
            while (i as usize) < group.len() {
                out.push_str(&example_card(group[i as usize], p.thumbnails, &interval));
                i += step;
            }
            out.push_str("</div>");
        }
    }
    out.push_str("</main></body></html>\n");
    out
}
