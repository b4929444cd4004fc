//! The results: JSON records (the schema shared with the PyTorch side of the comparison) and
//! the Markdown tables printed on stdout.
//!
//! ```text
//! {"tool": "sae-bench", "subcommand": "penalties" | "step", "threads": N, "size": "cpu" | "gpu",
//!  "records": [
//!    {"kind": "penalty", "backend": "flex", "case": "l1", "shape": [256, 1024], "ms": 0.123},
//!    {"kind": "copy", "backend": "flex", "shape": [256, 1024], "ms": 0.03},
//!    {"kind": "step", "backend": "flex", "arch": "topk", "shape": [256, 784, 1024], "ms": 12.3}]}
//! ```

use std::path::Path;

use serde::Serialize;

/// One measurement, in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    /// Forward + backward of one penalty case.
    Penalty {
        /// Backend name.
        backend: String,
        /// Case label (`"group_lasso 16 groups"`, ...).
        case: String,
        /// Input shape.
        shape: Vec<usize>,
        /// Milliseconds per rep.
        ms: f64,
    },
    /// One read + one write of a tensor of `shape` (the memory-bandwidth floor).
    Copy {
        /// Backend name.
        backend: String,
        /// Tensor shape.
        shape: Vec<usize>,
        /// Milliseconds per rep.
        ms: f64,
    },
    /// One SAE training step.
    Step {
        /// Backend name.
        backend: String,
        /// Architecture label (`relu-l1dec`, `topk`, `batchtopk`).
        arch: String,
        /// `[batch, input, hidden]`.
        shape: Vec<usize>,
        /// Milliseconds per step.
        ms: f64,
    },
}

/// A whole run, as written by `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Always `"sae-bench"`.
    pub tool: &'static str,
    /// `"penalties"` or `"step"`.
    pub subcommand: &'static str,
    /// CPU threads: `RAYON_NUM_THREADS`, or the available parallelism.
    pub threads: usize,
    /// `"cpu"` or `"gpu"` (the shape preset).
    pub size: &'static str,
    /// The measurements.
    pub records: Vec<Record>,
}

impl Report {
    /// Writes the report as pretty JSON to `path`.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn write_json(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(path, text + "\n")
    }

    fn penalty_ms(&self, backend: &str, case: &str) -> Option<f64> {
        self.records.iter().find_map(|r| match r {
            Record::Penalty {
                backend: b,
                case: c,
                ms,
                ..
            } if b == backend && c == case => Some(*ms),
            _ => None,
        })
    }

    fn copy_ms(&self, backend: &str, shape: &[usize]) -> Option<f64> {
        self.records.iter().find_map(|r| match r {
            Record::Copy {
                backend: b,
                shape: s,
                ms,
            } if b == backend && s == shape => Some(*ms),
            _ => None,
        })
    }

    fn step_ms(&self, backend: &str, arch: &str, shape: &[usize]) -> Option<f64> {
        self.records.iter().find_map(|r| match r {
            Record::Step {
                backend: b,
                arch: a,
                shape: s,
                ms,
            } if b == backend && a == arch && s == shape => Some(*ms),
            _ => None,
        })
    }

    /// The penalties table: one row per case (in `cases` order, `(label, shape)`), one column
    /// per backend, then the first backend's read + write time for the case's shape and the
    /// ratio of the first backend's time to it.
    pub fn penalties_table(&self, backends: &[&str], cases: &[(String, Vec<usize>)]) -> String {
        let mut out = String::from("| case | shape |");
        for b in backends {
            out += &format!(" {b} (ms) |");
        }
        let first = backends.first().copied();
        if let Some(f) = first {
            out += &format!(" read+write {f} (ms) | {f} / read+write |");
        }
        out += "\n| --- | --- |";
        out += &" ---: |".repeat(backends.len() + if first.is_some() { 2 } else { 0 });
        out += "\n";
        for (case, shape) in cases {
            out += &format!("| {case} | {} |", shape_text(shape, ", "));
            for b in backends {
                out += &format!(" {} |", ms_text(self.penalty_ms(b, case)));
            }
            if let Some(f) = first {
                let ms = self.penalty_ms(f, case);
                let copy = self.copy_ms(f, shape);
                let ratio = match (ms, copy) {
                    (Some(m), Some(c)) if c > 0.0 => format!("{:.1}", m / c),
                    _ => "–".into(),
                };
                out += &format!(" {} | {ratio} |", ms_text(copy));
            }
            out += "\n";
        }
        out
    }

    /// The step table: one row per architecture × shape (`batch x input x hidden`), one column
    /// per backend.
    pub fn step_table(&self, backends: &[&str], rows: &[(String, Vec<usize>)]) -> String {
        let mut out = String::from("| arch | shape |");
        for b in backends {
            out += &format!(" {b} (ms) |");
        }
        out += "\n| --- | --- |";
        out += &" ---: |".repeat(backends.len());
        out += "\n";
        for (arch, shape) in rows {
            out += &format!("| {arch} | {} |", shape_text(shape, "x"));
            for b in backends {
                out += &format!(" {} |", ms_text(self.step_ms(b, arch, shape)));
            }
            out += "\n";
        }
        out
    }
}

/// `[256, 1024]` or `256x784x1024`.
fn shape_text(shape: &[usize], sep: &str) -> String {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    if sep == "x" {
        dims.join("x")
    } else {
        format!("[{}]", dims.join(sep))
    }
}

/// A time with 3 significant decimals, or a dash when it was not measured.
fn ms_text(ms: Option<f64>) -> String {
    match ms {
        Some(m) if m >= 100.0 => format!("{m:.1}"),
        Some(m) => format!("{m:.3}"),
        None => "–".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_follow_the_shared_schema() {
        let report = Report {
            tool: "sae-bench",
            subcommand: "penalties",
            threads: 2,
            size: "cpu",
            records: vec![
                Record::Penalty {
                    backend: "flex".into(),
                    case: "l1".into(),
                    shape: vec![256, 1024],
                    ms: 0.5,
                },
                Record::Copy {
                    backend: "flex".into(),
                    shape: vec![256, 1024],
                    ms: 0.25,
                },
                Record::Step {
                    backend: "flex".into(),
                    arch: "topk".into(),
                    shape: vec![256, 784, 1024],
                    ms: 12.0,
                },
            ],
        };
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "tool": "sae-bench", "subcommand": "penalties", "threads": 2, "size": "cpu",
                "records": [
                    {"kind": "penalty", "backend": "flex", "case": "l1", "shape": [256, 1024], "ms": 0.5},
                    {"kind": "copy", "backend": "flex", "shape": [256, 1024], "ms": 0.25},
                    {"kind": "step", "backend": "flex", "arch": "topk", "shape": [256, 784, 1024], "ms": 12.0}
                ]
            })
        );
        let table = report.penalties_table(&["flex"], &[("l1".into(), vec![256, 1024])]);
        assert!(
            table.contains("| l1 | [256, 1024] | 0.500 | 0.250 | 2.0 |"),
            "{table}"
        );
    }
}
