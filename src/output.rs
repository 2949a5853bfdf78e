//! Results on stdout: a human table or exactly one JSON document. A closed pipe
//! (`| head`) is not an error.

use std::io::{self, Write};

use serde::Serialize;

use crate::exit_codes;

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputMode {
    #[default]
    Human,
    Json,
}

/// A command's result: printable both ways, and deciding the exit code.
pub trait Report: Serialize {
    /// The human rendering (tables, summaries), ending with a newline.
    fn human(&self) -> String;
    fn exit_code(&self) -> u8 {
        exit_codes::SUCCESS
    }
}

/// Prints the report on stdout in the chosen mode.
pub fn emit<R: Report + ?Sized>(mode: OutputMode, report: &R) -> io::Result<()> {
    let text = match mode {
        OutputMode::Human => report.human(),
        OutputMode::Json => {
            let mut s = serde_json::to_string_pretty(report).map_err(io::Error::other)?;
            s.push('\n');
            s
        }
    };
    write_stdout(text.as_bytes())
}

/// Writes bytes on stdout and flushes them. Every result goes through here, so a reader
/// that closed its end early (`| head`) never makes a panic or an error: Rust ignores
/// SIGPIPE, the write answers EPIPE, and that is taken as done.
pub fn write_stdout(bytes: &[u8]) -> io::Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(bytes).and_then(|_| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// A plain text table with left-aligned columns.
#[derive(Debug, Clone)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new<S: Into<String>>(headers: impl IntoIterator<Item = S>) -> Table {
        Table {
            headers: headers.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn render(&self) -> String {
        let cols = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate().take(cols) {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
        let mut out = String::new();
        let line = |cells: &[String], out: &mut String| {
            let mut l = String::new();
            for (i, c) in cells.iter().enumerate().take(cols) {
                if i + 1 == cols {
                    l.push_str(c);
                } else {
                    l.push_str(&format!("{:<w$}  ", c, w = widths[i]));
                }
            }
            out.push_str(l.trim_end());
            out.push('\n');
        };
        line(&self.headers, &mut out);
        for r in &self.rows {
            line(r, &mut out);
        }
        out
    }
}

/// `2025-09-08 14:00:00Z` style, or `-`.
pub fn time(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M:%SZ").to_string())
        .unwrap_or_else(|| "-".into())
}

/// Human byte count (binary units).
pub fn bytes(n: i64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns() {
        let mut t = Table::new(["A", "LONG"]);
        t.row(["xyz", "1"]);
        assert_eq!(t.render(), "A    LONG\nxyz  1\n");
    }

    #[test]
    fn bytes_are_human() {
        assert_eq!(bytes(12), "12 B");
        assert_eq!(bytes(2048), "2.0 KiB");
    }
}
