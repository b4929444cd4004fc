//! The dashboard's pictures, drawn here: PNG images of rows and decoder atoms (for image data)
//! and inline SVG charts (histograms, bar charts).

use std::fmt::Write as _;

/// A PNG of `values` (`rows × cols`, row-major), each pixel a `scale × scale` square: grey
/// levels from the smallest value (black) to the largest (white) for data, or, `diverging`, a
/// blue-white-red map symmetric around 0 (decoder atoms).
pub fn png(values: &[f32], rows: usize, cols: usize, scale: usize, diverging: bool) -> Vec<u8> {
    let (w, h) = (cols * scale, rows * scale);
    let finite = values.iter().copied().filter(|v| v.is_finite());
    let (lo, hi) = finite.fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    let amp = lo.abs().max(hi.abs()).max(1e-12);
    let color = |v: f32| -> [u8; 3] {
        if !v.is_finite() {
            return [255, 0, 255];
        }
        if diverging {
            let t = (v / amp).clamp(-1.0, 1.0);
            let fade = (255.0 * (1.0 - t.abs())) as u8;
            if t >= 0.0 {
                [255, fade, fade]
            } else {
                [fade, fade, 255]
            }
        } else {
            let t = if hi > lo { (v - lo) / (hi - lo) } else { 0.0 };
            let g = (255.0 * t) as u8;
            [g, g, g]
        }
    };
    let mut pixels = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        for x in 0..w {
            pixels.extend_from_slice(&color(values[(y / scale) * cols + x / scale]));
        }
    }
    let mut out = Vec::new();
    {
        let mut enc = ::png::Encoder::new(&mut out, w as u32, h as u32);
        enc.set_color(::png::ColorType::Rgb);
        enc.set_depth(::png::BitDepth::Eight);
        let mut writer = enc.write_header().expect("writing to a Vec cannot fail");
        writer
            .write_image_data(&pixels)
            .expect("the pixels fill the image");
    }
    out
}

/// Escapes `&`, `<`, `>` and `"` for HTML text and attributes.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An inline SVG bar chart: one bar per `(label, value)` (positive up, negative down, from a
/// zero line), `width × height` pixels, each bar titled with its label and value.
pub fn bars(items: &[(String, f64)], width: f64, height: f64, class: &str) -> String {
    let mut svg = format!(
        r#"<svg class="{class}" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img">"#
    );
    if items.is_empty() {
        svg.push_str("</svg>");
        return svg;
    }
    let hi = items.iter().map(|(_, v)| *v).fold(0.0f64, f64::max);
    let lo = items.iter().map(|(_, v)| *v).fold(0.0f64, f64::min);
    let span = (hi - lo).max(1e-12);
    let pad = 4.0;
    let plot = height - 2.0 * pad;
    let zero = pad + plot * hi / span;
    let step = width / items.len() as f64;
    for (i, (label, v)) in items.iter().enumerate() {
        let len = plot * v.abs() / span;
        let y = if *v >= 0.0 { zero - len } else { zero };
        let cls = if *v >= 0.0 { "pos" } else { "neg" };
        let _ = write!(
            svg,
            r#"<rect class="{cls}" x="{:.2}" y="{y:.2}" width="{:.2}" height="{:.2}"><title>{}: {}</title></rect>"#,
            i as f64 * step + step * 0.1,
            step * 0.8,
            len.max(0.5),
            escape(label),
            format_value(*v)
        );
    }
    let _ = write!(
        svg,
        r#"<line class="axis" x1="0" x2="{width}" y1="{zero:.2}" y2="{zero:.2}"/></svg>"#
    );
    svg
}

/// A number in 4 significant digits (scientific for very small or large ones).
pub fn format_value(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.abs() < 1e-3 || v.abs() >= 1e5 {
        format!("{v:.3e}")
    } else {
        let digits = (3 - v.abs().log10().floor() as i32).max(0) as usize;
        format!("{v:.digits$}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pictures_are_well_formed() {
        let p = png(&[0.0, 1.0, -1.0, 0.5], 2, 2, 3, true);
        assert_eq!(&p[..8], b"\x89PNG\r\n\x1a\n");
        let svg = bars(&[("a".into(), 1.0), ("<b>".into(), -2.0)], 100.0, 50.0, "c");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<rect").count(), 2);
        assert!(svg.contains("&lt;b&gt;: -2.000"));
        assert_eq!(format_value(0.012346), "0.01235");
        assert_eq!(format_value(123.456), "123.5");
    }
}
