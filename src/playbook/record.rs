//! The run record: steps, timings, outputs and exit codes of a playbook run, written to
//! the state dir after every step (atomically), and found again to resume a run. Its
//! timestamps come from the run's clock (`RunOptions::clock`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::load::Value;
use crate::error::AppError;

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Ok,
    Failed,
    /// Cut short by a signal (Ctrl-C, SIGTERM).
    Interrupted,
    /// A confirm step under --yes.
    Skipped,
    /// Before --from-step; its outputs came from the resumed run.
    Resumed,
    NotRun,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepRecord {
    pub number: usize,
    pub id: Option<String>,
    pub kind: String,
    pub title: Option<String>,
    pub status: StepStatus,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_seconds: Option<f64>,
    pub exit_code: Option<u8>,
    #[serde(default)]
    pub outputs: BTreeMap<String, serde_json::Value>,
    pub error: Option<String>,
    /// The step's own report (as its command prints with --output json).
    pub report: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Succeeded,
    Failed,
    Declined,
    /// Stopped by a signal (Ctrl-C, SIGTERM); `message` says which and where.
    Interrupted,
}

/// A playbook run, as written to the state dir.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    pub run_id: String,
    pub playbook: String,
    pub file: String,
    /// How `playbook run` named the playbook (NAME or path), for the commands that run it
    /// again; absent from older records (the report then uses the name).
    #[serde(default)]
    pub invoked_as: Option<String>,
    pub params: BTreeMap<String, Value>,
    pub from_step: usize,
    /// The run whose outputs were reused for steps before `from_step`.
    pub resumed_from: Option<String>,
    pub started_by: String,
    /// The process running the playbook, and its host: a record still "running" whose
    /// process is gone reads as interrupted (`history::process_alive`). Absent from
    /// records written before they were kept.
    #[serde(default)]
    pub pid: Option<u32>,
    #[serde(default)]
    pub host: Option<String>,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub status: RunStatus,
    pub exit_code: u8,
    pub failed_step: Option<usize>,
    pub message: Option<String>,
    /// The command that resumes a failed run.
    pub resume: Option<String>,
    pub steps: Vec<StepRecord>,
    #[serde(skip)]
    pub path: PathBuf,
}

/// This machine's name, as a run record's `host` and a replay's `started_by` say it.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "unknown-host".into())
}

/// The folder of run records.
pub fn runs_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("playbook-runs")
}

impl RunRecord {
    /// Writes the record atomically (temp file, then rename).
    pub fn save(&self) -> Result<(), AppError> {
        let io = |e: std::io::Error| {
            AppError::Io(format!(
                "cannot write the run record {}: {e}",
                self.path.display()
            ))
        };
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let tmp = self.path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(self).map_err(|e| AppError::Io(e.to_string()))?;
        std::fs::write(&tmp, text).map_err(io)?;
        std::fs::rename(&tmp, &self.path).map_err(io)
    }

    /// A run record by id, or the latest of a playbook.
    pub fn find(
        state_dir: &Path,
        playbook: &str,
        run_id: Option<&str>,
    ) -> Result<Option<RunRecord>, AppError> {
        let dir = runs_dir(state_dir);
        let mut found: Option<RunRecord> = None;
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(None);
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.extension().is_none_or(|x| x != "json") {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let Ok(mut r) = serde_json::from_str::<RunRecord>(&text) else {
                tracing::warn!("skipping unreadable run record {}", path.display());
                continue;
            };
            r.path = path;
            let wanted = match run_id {
                Some(id) => r.run_id == id,
                None => r.playbook == playbook,
            };
            if wanted && found.as_ref().is_none_or(|f| f.started_at < r.started_at) {
                found = Some(r);
            }
        }
        if found.is_none()
            && let Some(id) = run_id
        {
            return Err(AppError::NotFound(format!(
                "no run record {id} in {}",
                dir.display()
            )));
        }
        Ok(found)
    }
}
