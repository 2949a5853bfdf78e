//! `playbook runs` and `playbook report`: the run history of the state dir, and the incident
//! report of one run; a record left "running" by a process that is gone reads as
//! interrupted in both (`playbook::history::process_alive`).

use std::path::Path;

use chrono::{DateTime, Utc};

use crate::error::AppError;
use crate::playbook::exec::{RunRecord, runs_dir};
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
    let missing = || {
        AppError::NotFound(format!(
            "no run record {run_id} in {}; `nexus-replay playbook runs` lists the run ids",
            runs_dir(state_dir).display()
        ))
    };
    let record = match RunRecord::find(state_dir, "", Some(run_id)) {
        Ok(Some(r)) => r,
        Ok(None) | Err(AppError::NotFound(_)) => return Err(missing()),
        Err(e) => return Err(e),
    };
    let record = history::settle(record, &|r| process_alive(r, now));
    Ok(incident_report(&record))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_run_says_where_the_ids_are_with_or_without_a_runs_dir() {
        let dir = std::env::temp_dir().join(format!("nr-pb-runs-{}", crate::ids::random_hex(8)));
        for _ in 0..2 {
            let e = report(&dir, "nexus-x", Utc::now()).unwrap_err();
            assert_eq!(e.exit_code(), crate::exit_codes::USAGE);
            let text = e.to_string();
            assert!(
                text.starts_with("no run record nexus-x in ")
                    && text.ends_with("; `nexus-replay playbook runs` lists the run ids"),
                "{text}"
            );
            std::fs::create_dir_all(runs_dir(&dir)).unwrap();
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}
