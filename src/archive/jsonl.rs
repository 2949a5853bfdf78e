//! The export file, written atomically: lines go to a hidden temporary file beside the
//! target, which is renamed over the target only when the export completed. An export
//! that fails or is interrupted removes its temporary file, so no half file ever sits
//! under the name asked for (a `kill -9` can leave the hidden `.NAME.RUN.partial`).

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// A JSON Lines file being written.
#[derive(Debug)]
pub struct AtomicJsonl {
    target: PathBuf,
    temp: PathBuf,
    out: Option<BufWriter<File>>,
}

impl AtomicJsonl {
    /// Creates the temporary file for `target` (named after the run `run_id`).
    pub fn create(target: &Path, run_id: &str) -> io::Result<AtomicJsonl> {
        let name = target
            .file_name()
            .ok_or_else(|| io::Error::other("the output path names no file"))?;
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if target.is_dir() {
            return Err(io::Error::other("it is a directory"));
        }
        let temp = dir.join(format!(".{}.{run_id}.partial", name.to_string_lossy()));
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        Ok(AtomicJsonl {
            target: target.to_path_buf(),
            temp,
            out: Some(BufWriter::new(file)),
        })
    }

    /// Appends one line (`line` holds no newline).
    pub fn write_line(&mut self, line: &str) -> io::Result<()> {
        let out = self
            .out
            .as_mut()
            .ok_or_else(|| io::Error::other("closed"))?;
        out.write_all(line.as_bytes())?;
        out.write_all(b"\n")
    }

    /// Flushes, syncs and renames the file to its target; answers the target.
    pub fn commit(mut self) -> io::Result<PathBuf> {
        let out = self.out.take().ok_or_else(|| io::Error::other("closed"))?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        fs::rename(&self.temp, &self.target)?;
        Ok(self.target.clone())
    }

    /// The temporary file's path (for tests and messages).
    pub fn temp_path(&self) -> &Path {
        &self.temp
    }
}

impl Drop for AtomicJsonl {
    fn drop(&mut self) {
        if self.out.take().is_some() {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "nexus-jsonl-{tag}-{}-{}",
            std::process::id(),
            crate::ids::random_hex(6)
        ));
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn lines_appear_under_the_name_only_at_commit() {
        let d = dir("commit");
        let target = d.join("out.jsonl");
        fs::write(&target, "old\n").unwrap();
        let mut f = AtomicJsonl::create(&target, "run1").unwrap();
        f.write_line(r#"{"a":1}"#).unwrap();
        f.write_line(r#"{"a":2}"#).unwrap();
        assert_eq!(fs::read_to_string(&target).unwrap(), "old\n");
        let temp = f.temp_path().to_path_buf();
        assert_eq!(temp, d.join(".out.jsonl.run1.partial"));
        assert_eq!(f.commit().unwrap(), target);
        assert_eq!(
            fs::read_to_string(&target).unwrap(),
            "{\"a\":1}\n{\"a\":2}\n"
        );
        assert!(!temp.exists());
        fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn an_abandoned_file_leaves_nothing() {
        let d = dir("drop");
        let target = d.join("out.jsonl");
        let mut f = AtomicJsonl::create(&target, "run1").unwrap();
        f.write_line("{}").unwrap();
        let temp = f.temp_path().to_path_buf();
        assert!(temp.exists());
        drop(f);
        assert!(!temp.exists() && !target.exists());
        assert!(AtomicJsonl::create(&d, "run1").is_err(), "a directory");
        assert!(AtomicJsonl::create(&d.join("no/such/dir/x.jsonl"), "run1").is_err());
        fs::remove_dir_all(d).unwrap();
    }
}
