//! Line charts with a logarithmic x axis, several panels (two per row): the sweep's frontier
//! pictures (L0 against explained variance, γ, MCC, F1).

use crate::pictures::Canvas;

/// One line of a panel: a method's points, sorted by x.
#[derive(Debug, Clone)]
pub struct Series {
    /// The legend's text.
    pub name: String,
    /// `(x, y)` points.
    pub points: Vec<(f64, f64)>,
}

/// One panel: a y quantity against the shared x.
#[derive(Debug, Clone)]
pub struct Panel {
    /// The y axis's label.
    pub y_label: String,
    /// One line per method.
    pub series: Vec<Series>,
}

/// Sixteen distinguishable colours (Tableau 10 and six more).
const COLORS: [[u8; 3]; 16] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
    [188, 189, 34],
    [23, 190, 207],
    [0, 0, 0],
    [255, 215, 0],
    [0, 0, 128],
    [128, 0, 0],
    [0, 110, 0],
    [120, 120, 0],
];

fn label(v: f64) -> String {
    if v.abs() >= 10.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Panels (two per row) with a shared logarithmic x axis (`x_label`), a title and one
/// legend (the series' names, in the order of the first panel).
pub fn frontier_chart(title: &str, x_label: &str, panels: &[Panel]) -> Canvas {
    let (pw, ph) = (520.0, 360.0);
    let (left, gap, top, bottom, legend_w) = (70.0, 80.0, 54.0, 50.0, 190.0);
    let cols = panels.len().clamp(1, 2);
    let rows = panels.len().max(1).div_ceil(2);
    let n = cols as f64;
    let cell_h = top + ph + bottom;
    let width = (left + n * pw + (n - 1.0) * gap + 30.0 + legend_w) as usize;
    let height = (rows as f64 * cell_h) as usize;
    let mut c = Canvas::new(width, height, 3, 255);
    let black = [0u8, 0, 0];
    let grey = [220u8, 220, 220];
    c.text(left as f32, 8.0, 18.0, title, &black);
    let xs: Vec<f64> = panels
        .iter()
        .flat_map(|p| p.series.iter().flat_map(|s| s.points.iter().map(|q| q.0)))
        .filter(|x| x.is_finite() && *x > 0.0)
        .collect();
    let (x_lo, x_hi) = bounds(&xs, true);
    for (i, panel) in panels.iter().enumerate() {
        let x0 = left + (i % 2) as f64 * (pw + gap);
        let top = top + (i / 2) as f64 * cell_h;
        let ys: Vec<f64> = panel
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|q| q.1))
            .filter(|y| y.is_finite())
            .collect();
        let (y_lo, y_hi) = bounds(&ys, false);
        let x_of = |x: f64| x0 + (x.ln() - x_lo) / (x_hi - x_lo) * pw;
        let y_of = |y: f64| top + (y_hi - y) / (y_hi - y_lo) * ph;
        for t in 0..=5 {
            let y = y_lo + (y_hi - y_lo) * t as f64 / 5.0;
            c.line((x0, y_of(y)), (x0 + pw, y_of(y)), &grey, 1);
            c.text(
                (x0 - 52.0) as f32,
                y_of(y) as f32 - 8.0,
                13.0,
                &label(y),
                &black,
            );
        }
        // Ticks at powers of two, at most about 12 of them (a stride of several powers over a
        // wide range): a loop over exponents ends whatever the data (an L0 of 1e-320 made
        // `2^floor` underflow to 0, and doubling 0 never ended).
        let ln2 = 2f64.ln();
        let (e_lo, e_hi) = ((x_lo / ln2).floor(), (x_hi / ln2).ceil());
        let stride = ((e_hi - e_lo) / 12.0).ceil().max(1.0);
        let steps = if e_lo.is_finite() && e_hi.is_finite() {
            ((e_hi - e_lo) / stride) as usize
        } else {
            0
        };
        for step in 0..=steps {
            let tick = 2f64.powf(e_lo + step as f64 * stride);
            if tick > 0.0
                && tick.is_finite()
                && tick.ln() >= x_lo - 1e-9
                && tick.ln() <= x_hi + 1e-9
            {
                let x = x_of(tick);
                c.line((x, top), (x, top + ph), &grey, 1);
                c.text(
                    x as f32 - 8.0,
                    (top + ph + 6.0) as f32,
                    13.0,
                    &label(tick),
                    &black,
                );
            }
        }
        c.line((x0, top), (x0, top + ph), &black, 1);
        c.line((x0, top + ph), (x0 + pw, top + ph), &black, 1);
        c.text(
            (x0 + pw / 2.0 - 40.0) as f32,
            (top + ph + 26.0) as f32,
            14.0,
            &format!("{x_label} (log scale)"),
            &black,
        );
        c.text(
            x0 as f32 + 6.0,
            top as f32 - 20.0,
            15.0,
            &panel.y_label,
            &black,
        );
        for (j, s) in panel.series.iter().enumerate() {
            let color = &COLORS[j % COLORS.len()];
            let pts: Vec<(f64, f64)> = s
                .points
                .iter()
                .filter(|(x, y)| x.is_finite() && *x > 0.0 && y.is_finite())
                .map(|&(x, y)| (x_of(x), y_of(y)))
                .collect();
            for pair in pts.windows(2) {
                c.line(pair[0], pair[1], color, 2);
            }
            for &(x, y) in &pts {
                c.line((x - 3.0, y), (x + 3.0, y), color, 6);
            }
        }
    }
    if let Some(first) = panels.first() {
        let lx = left + n * pw + (n - 1.0) * gap + 30.0;
        for (j, s) in first.series.iter().enumerate() {
            let y = top + 10.0 + j as f64 * 22.0;
            c.line((lx, y), (lx + 22.0, y), &COLORS[j % COLORS.len()], 4);
            c.text(lx as f32 + 28.0, y as f32 - 9.0, 14.0, &s.name, &black);
        }
    }
    c
}

/// The range of `values` with 5 % margins (in log space when `log`); `(0, 1)` before the
/// margins when there is no finite range.
pub(crate) fn bounds(values: &[f64], log: bool) -> (f64, f64) {
    let map = |v: f64| if log { v.ln() } else { v };
    let (mut lo, mut hi) = values
        .iter()
        .map(|&v| map(v))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(v), h.max(v))
        });
    if !lo.is_finite() || !hi.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    if hi - lo < 1e-9 {
        (lo, hi) = (lo - 0.5, hi + 0.5);
    }
    let pad = (hi - lo) * 0.05;
    (lo - pad, hi + pad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_every_series_in_its_colour() {
        let panel = Panel {
            y_label: "EV".into(),
            series: vec![
                Series {
                    name: "a".into(),
                    points: vec![(8.0, 0.5), (16.0, 0.7), (64.0, 0.9)],
                },
                Series {
                    name: "b".into(),
                    points: vec![(4.0, 0.4), (f64::NAN, 0.2)],
                },
            ],
        };
        let c = frontier_chart("t", "L0", &[panel.clone(), panel.clone()]);
        assert_eq!(c.channels, 3);
        // Two panels side by side, four in two rows.
        let four = frontier_chart(
            "t",
            "L0",
            &[panel.clone(), panel.clone(), panel.clone(), panel],
        );
        assert_eq!((four.width, four.height), (c.width, 2 * c.height));
        let has = |rgb: [u8; 3]| c.pixels.chunks(3).any(|p| p == rgb);
        assert!(has(COLORS[0]) && has(COLORS[1]));
        assert!(!has(COLORS[2]));
    }
}
