//! `triage`: read the window as `start` does, then triage the bus (`crate::triage`).

use chrono::{DateTime, Utc};

use crate::error::AppError;
use crate::ports::bus::BusCatalogue;
use crate::ports::metrics::Metrics;
use crate::ports::queue::Queue;
use crate::triage::{TriageReport, TriageRequest};

/// Triages `bus` over `--since`/`--until` (until defaults to now - 10 min, as for `start`).
pub async fn triage(
    cat: &dyn BusCatalogue,
    queues: &dyn Queue,
    metrics: &dyn Metrics,
    bus: &str,
    since: &str,
    until: Option<&str>,
    now: DateTime<Utc>,
) -> Result<TriageReport, AppError> {
    let w = crate::replay::window::window(since, until, now)?;
    let req = TriageRequest {
        bus: bus.to_string(),
        start: w.start,
        end: w.end,
    };
    let mut report = crate::triage::triage(cat, queues, metrics, &req, now).await?;
    report.warnings.extend(w.warnings);
    Ok(report)
}
