//! What a playbook's reader reports: each problem with its file, line and what to write
//! instead, and the "did you mean" that suggests the closest allowed name.

use std::fmt;

use serde::Serialize;

/// One problem in a playbook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub file: String,
    pub line: usize,
    pub message: String,
    /// What to write instead.
    pub hint: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)?;
        if !self.hint.is_empty() {
            write!(f, "\n  fix: {}", self.hint)?;
        }
        Ok(())
    }
}

/// The closest allowed name, for "did you mean".
pub(crate) fn closest<'a>(
    word: &str,
    allowed: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    allowed
        .into_iter()
        .map(|a| (strsim::levenshtein(word, a), a))
        .filter(|(d, a)| *d <= 2.max(a.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, a)| a)
}

pub(crate) fn unknown_key_hint(key: &str, allowed: &[&str]) -> String {
    match closest(key, allowed.iter().copied()) {
        Some(c) => format!("did you mean `{c}`? allowed here: {}", allowed.join(", ")),
        None => format!("allowed here: {}", allowed.join(", ")),
    }
}

/// The problems found so far in one file, and where its lines start.
pub(super) struct Ctx<'a> {
    file: &'a str,
    /// The byte offset where each line after the first starts: a span's line is found by
    /// binary search, so validation stays linear in the file's size (counting newlines
    /// from the top for every value made it quadratic).
    line_starts: Vec<usize>,
    pub(super) diags: Vec<Diagnostic>,
}

impl<'a> Ctx<'a> {
    pub(super) fn new(file: &'a str, src: &str) -> Ctx<'a> {
        Ctx {
            file,
            line_starts: src
                .bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1)
                .collect(),
            diags: Vec::new(),
        }
    }

    /// The 1-based line of a span's start.
    pub(super) fn line(&self, span: std::ops::Range<usize>) -> usize {
        self.line_starts.partition_point(|&s| s <= span.start) + 1
    }

    pub(super) fn err(&mut self, line: usize, message: impl Into<String>, hint: impl Into<String>) {
        self.diags.push(Diagnostic {
            file: self.file.to_string(),
            line,
            message: message.into(),
            hint: hint.into(),
        });
    }
}
