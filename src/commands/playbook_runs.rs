//! `playbook runs` and `playbook report`: the run history of the state dir, and the incident
//! report of one run; a record left "running" by a process that is gone reads as
//! interrupted in both (`playbook::history::process_alive`).

use std::path::Path;

use chrono::{DateTime, Utc};

use crate::error::AppError;
use crate::playbook::exec::RunRecord;
use crate::playbook::history::{self, RunHistory, process_alive};
use crate::playbook::incident_report::{IncidentReport, incident_report};

/// The newest `limit` runs recorded in the state dir.
pub fn runs(state_dir: &Path, limit: usize, now: DateTime<Utc>) -> Result<RunHistory, AppError> {
    history::list_runs(state_dir, limit, &|r| process_alive(r, now))
}

/// The incident report of run `run_id`; an unknown id is a usage error naming the command
/// that lists the ids.
pub fn report(
    state_dir: &Path,
    run_id: &str,
    now: DateTime<Utc>,
) -> Result<IncidentReport, AppError> {
    let record = RunRecord::find(state_dir, "", Some(run_id))
        .map_err(|e| match e {
            AppError::NotFound(m) => AppError::NotFound(format!(
                "{m}; `nexus-replay playbook runs` lists the run ids"
            )),
            other => other,
        })?
        .ok_or_else(|| AppError::NotFound(format!("no run record {run_id}")))?;
    let record = history::settle(record, &|r| process_alive(r, now));
    Ok(incident_report(&record))
}
