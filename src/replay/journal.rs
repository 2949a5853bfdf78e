//! The local journal of replays this tool started, in the state dir, so that `status`
//! without a name shows the last one and `list --mine` lists them. Written atomically
//! (temp file + rename); concurrent starts on one machine may drop each other's entry,
//! never corrupt the file.

use std::io;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Entries kept; older ones are dropped.
const KEEP: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    pub name: String,
    pub arn: Option<String>,
    pub archive: String,
    pub bus: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub filter_arns: Vec<String>,
    pub started_at: DateTime<Utc>,
    pub started_by: String,
}

/// `replays.json` in the state dir.
#[derive(Debug, Clone)]
pub struct Journal {
    path: PathBuf,
}

impl Journal {
    pub fn in_dir(state_dir: &Path) -> Journal {
        Journal {
            path: state_dir.join("replays.json"),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every entry, oldest first. A missing file is an empty journal.
    pub fn entries(&self) -> io::Result<Vec<JournalEntry>> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "{} is not a replay journal ({e}); move it aside",
                        self.path.display()
                    ),
                )
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    pub fn last(&self) -> io::Result<Option<JournalEntry>> {
        Ok(self.entries()?.pop())
    }

    /// Appends an entry.
    pub fn record(&self, entry: JournalEntry) -> io::Result<()> {
        let mut all = self.entries().unwrap_or_default();
        all.push(entry);
        if all.len() > KEEP {
            all.drain(..all.len() - KEEP);
        }
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let tmp = dir.join(format!(".replays.json.{}", std::process::id()));
        std::fs::write(&tmp, serde_json::to_vec_pretty(&all)?)?;
        std::fs::rename(&tmp, &self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_reads_back_in_order() {
        let dir = std::env::temp_dir().join(format!("nr-journal-{}", crate::ids::random_hex(8)));
        let j = Journal::in_dir(&dir);
        assert_eq!(j.last().unwrap(), None);
        let e = |n: &str| JournalEntry {
            name: n.into(),
            arn: None,
            archive: "a".into(),
            bus: "b".into(),
            start: Utc::now(),
            end: Utc::now(),
            filter_arns: vec![],
            started_at: Utc::now(),
            started_by: "me@host".into(),
        };
        j.record(e("one")).unwrap();
        j.record(e("two")).unwrap();
        assert_eq!(j.last().unwrap().unwrap().name, "two");
        assert_eq!(j.entries().unwrap().len(), 2);
        std::fs::write(j.path(), "garbage").unwrap();
        assert!(
            j.entries()
                .unwrap_err()
                .to_string()
                .contains("move it aside")
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
