//! The PNG outputs: decoder atoms, originals beside reconstructions, the training curve.

use std::path::Path;

use ab_glyph::{point, Font, FontRef, PxScale, ScaleFont};

use crate::error::AppError;
use crate::run_dir::write_atomic;
use crate::train::EpochRecord;

/// DejaVu Sans (Bitstream Vera licence, `assets/DejaVuSans-LICENSE.txt`), for the curve's labels.
const FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// An 8-bit image, grayscale (1 channel) or RGB (3).
#[derive(Debug, Clone)]
pub struct Canvas {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// 1 or 3.
    pub channels: usize,
    /// Row-major pixels.
    pub pixels: Vec<u8>,
}

impl Canvas {
    /// A canvas filled with `value` in every channel.
    pub fn new(width: usize, height: usize, channels: usize, value: u8) -> Self {
        Self {
            width,
            height,
            channels,
            pixels: vec![value; width * height * channels],
        }
    }

    fn put(&mut self, x: i64, y: i64, color: &[u8]) {
        if x < 0 || y < 0 || x as usize >= self.width || y as usize >= self.height {
            return;
        }
        let o = (y as usize * self.width + x as usize) * self.channels;
        self.pixels[o..o + self.channels].copy_from_slice(&color[..self.channels]);
    }

    fn blend(&mut self, x: i64, y: i64, color: &[u8], alpha: f32) {
        if x < 0 || y < 0 || x as usize >= self.width || y as usize >= self.height {
            return;
        }
        let o = (y as usize * self.width + x as usize) * self.channels;
        for (px, &target) in self.pixels[o..o + self.channels].iter_mut().zip(color) {
            let old = *px as f32;
            *px = (old + (target as f32 - old) * alpha).round() as u8;
        }
    }

    /// Pastes a `rows × cols` tile of values in `[0, 1]` at (x, y), each pixel `scale`×`scale`.
    pub fn tile(
        &mut self,
        x: usize,
        y: usize,
        rows: usize,
        cols: usize,
        values: &[f32],
        scale: usize,
    ) {
        for r in 0..rows {
            for c in 0..cols {
                let v = (values[r * cols + c].clamp(0.0, 1.0) * 255.0).round() as u8;
                for dy in 0..scale {
                    for dx in 0..scale {
                        let px = (x + c * scale + dx) as i64;
                        let py = (y + r * scale + dy) as i64;
                        self.put(px, py, &[v, v, v]);
                    }
                }
            }
        }
    }

    /// A straight line `width` pixels wide.
    pub fn line(&mut self, a: (f64, f64), b: (f64, f64), color: &[u8], width: i64) {
        let steps = ((b.0 - a.0).abs().max((b.1 - a.1).abs()) * 2.0)
            .ceil()
            .max(1.0) as usize;
        for i in 0..=steps {
            let t = i as f64 / steps as f64;
            let x = (a.0 + (b.0 - a.0) * t).round() as i64;
            let y = (a.1 + (b.1 - a.1) * t).round() as i64;
            for dx in 0..width {
                for dy in 0..width {
                    self.put(x + dx - width / 2, y + dy - width / 2, color);
                }
            }
        }
    }

    /// Text with its top-left corner at (x, y), `size` pixels high; returns its width.
    pub fn text(&mut self, x: f32, y: f32, size: f32, text: &str, color: &[u8]) -> f32 {
        let font = FontRef::try_from_slice(FONT).expect("the bundled font parses");
        let scaled = font.as_scaled(PxScale::from(size));
        let mut caret = x;
        let baseline = y + scaled.ascent();
        let mut previous = None;
        for ch in text.chars() {
            let id = scaled.glyph_id(ch);
            if let Some(p) = previous {
                caret += scaled.kern(p, id);
            }
            let glyph = id.with_scale_and_position(size, point(caret, baseline));
            caret += scaled.h_advance(id);
            previous = Some(id);
            if let Some(outline) = font.outline_glyph(glyph) {
                let bounds = outline.px_bounds();
                outline.draw(|gx, gy, coverage| {
                    self.blend(
                        bounds.min.x as i64 + gx as i64,
                        bounds.min.y as i64 + gy as i64,
                        color,
                        coverage,
                    );
                });
            }
        }
        caret - x
    }

    /// Encodes the canvas as PNG.
    pub fn png(&self) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, self.width as u32, self.height as u32);
            enc.set_color(if self.channels == 1 {
                png::ColorType::Grayscale
            } else {
                png::ColorType::Rgb
            });
            enc.set_depth(png::BitDepth::Eight);
            let mut writer = enc.write_header().expect("writing to a Vec cannot fail");
            writer
                .write_image_data(&self.pixels)
                .expect("the buffer matches the header");
        }
        out
    }

    /// Writes the PNG atomically.
    pub fn save(&self, path: &Path) -> Result<(), AppError> {
        write_atomic(path, &self.png())
    }
}

/// A grid of decoder atoms (`atoms`: `[h, rows·cols]`), each shown with 0 as mid-gray and
/// scaled by its own largest |value|.
pub fn atom_grid(atoms: &[f32], h: usize, rows: usize, cols: usize) -> Canvas {
    let d = rows * cols;
    let per_row = (h as f64).sqrt().ceil() as usize;
    let grid_rows = h.div_ceil(per_row);
    let scale = 2;
    let gap = 2;
    let (tw, th) = (cols * scale + gap, rows * scale + gap);
    let mut c = Canvas::new(per_row * tw + gap, grid_rows * th + gap, 1, 40);
    for j in 0..h {
        let atom = &atoms[j * d..(j + 1) * d];
        let m = atom.iter().fold(0f32, |a, v| a.max(v.abs())).max(1e-12);
        let shown: Vec<f32> = atom.iter().map(|v| 0.5 + 0.5 * v / m).collect();
        c.tile(
            gap + (j % per_row) * tw,
            gap + (j / per_row) * th,
            rows,
            cols,
            &shown,
            scale,
        );
    }
    c
}

/// Originals (top row) above their reconstructions (bottom row), values in `[0, 1]`.
pub fn reconstructions(
    originals: &[f32],
    recons: &[f32],
    n: usize,
    rows: usize,
    cols: usize,
) -> Canvas {
    let d = rows * cols;
    let scale = 3;
    let gap = 4;
    let (tw, th) = (cols * scale + gap, rows * scale + gap);
    let mut c = Canvas::new(n * tw + gap, 2 * th + gap, 1, 90);
    for i in 0..n {
        c.tile(
            gap + i * tw,
            gap,
            rows,
            cols,
            &originals[i * d..(i + 1) * d],
            scale,
        );
        c.tile(
            gap + i * tw,
            gap + th,
            rows,
            cols,
            &recons[i * d..(i + 1) * d],
            scale,
        );
    }
    c
}

fn nice_label(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}

/// The training curve: loss (and reconstruction term) per epoch.
pub fn training_curve(history: &[EpochRecord], title: &str) -> Canvas {
    let (w, h) = (720usize, 440usize);
    let mut c = Canvas::new(w, h, 3, 255);
    let (left, right, top, bottom) = (80.0, 20.0, 40.0, 50.0);
    let (pw, ph) = (w as f64 - left - right, h as f64 - top - bottom);
    let black = [0u8, 0, 0];
    let grey = [215u8, 215, 215];
    c.text(left as f32, 10.0, 18.0, title, &black);
    let series: [(&str, [u8; 3], Vec<f64>); 2] = [
        (
            "train loss",
            [31, 119, 180],
            history.iter().map(|r| r.train_loss).collect(),
        ),
        (
            "reconstruction",
            [255, 127, 14],
            history.iter().map(|r| r.train_recon).collect(),
        ),
    ];
    let all: Vec<f64> = series.iter().flat_map(|s| s.2.iter().copied()).collect();
    let (lo, hi) = crate::chart::bounds(&all, false);
    let n = history.len().max(1);
    let first = history.first().map_or(1, |r| r.epoch) as f64;
    let last = history.last().map_or(1, |r| r.epoch) as f64;
    let span = (last - first).max(1.0);
    let x_of = |e: f64| left + (e - first) / span * pw;
    let y_of = |v: f64| top + (hi - v) / (hi - lo) * ph;
    // Grid and y labels.
    for i in 0..=4 {
        let v = lo + (hi - lo) * i as f64 / 4.0;
        let y = y_of(v);
        c.line((left, y), (left + pw, y), &grey, 1);
        let label = nice_label(v);
        c.text(8.0, y as f32 - 8.0, 14.0, &label, &black);
    }
    // x labels: at most 10.
    let stride = n.div_ceil(10).max(1);
    for r in history.iter().step_by(stride) {
        let x = x_of(r.epoch as f64);
        c.line((x, top + ph), (x, top + ph + 5.0), &black, 1);
        c.text(
            x as f32 - 6.0,
            (top + ph + 8.0) as f32,
            14.0,
            &r.epoch.to_string(),
            &black,
        );
    }
    c.text(
        (left + pw / 2.0 - 20.0) as f32,
        (h - 22) as f32,
        14.0,
        "epoch",
        &black,
    );
    // Axes.
    c.line((left, top), (left, top + ph), &black, 1);
    c.line((left, top + ph), (left + pw, top + ph), &black, 1);
    // Series and legend.
    let mut legend_x = (left + pw - 300.0) as f32;
    for (name, color, values) in &series {
        let points: Vec<(f64, f64)> = history
            .iter()
            .zip(values)
            .map(|(r, &v)| (x_of(r.epoch as f64), y_of(v)))
            .collect();
        for pair in points.windows(2) {
            c.line(pair[0], pair[1], color, 2);
        }
        for &(x, y) in &points {
            c.line((x - 3.0, y), (x + 3.0, y), color, 3);
        }
        // The legend sits in the plot's top-right corner, where the falling curves are not.
        c.line(
            (legend_x as f64, top + 14.0),
            (legend_x as f64 + 20.0, top + 14.0),
            color,
            3,
        );
        let tw = c.text(legend_x + 26.0, (top + 5.0) as f32, 14.0, name, &black);
        legend_x += 26.0 + tw + 20.0;
    }
    c
}
