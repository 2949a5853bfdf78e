//! `archives`: the archives (of one bus or all), with what a replay can reach.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::discovery::require_bus;
use crate::error::AppError;
use crate::ports::bus::BusCatalogue;

#[derive(Debug, Clone, Serialize)]
pub struct ArchiveRow {
    pub name: String,
    pub arn: String,
    pub state: String,
    pub source_bus: String,
    pub source_arn: String,
    /// 0 means forever.
    pub retention_days: i32,
    pub event_count_approx: i64,
    pub size_bytes_approx: i64,
    pub creation_time: Option<DateTime<Utc>>,
    pub earliest_replayable: Option<DateTime<Utc>>,
    pub event_pattern: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ArchivesReport {
    pub bus: Option<String>,
    pub archives: Vec<ArchiveRow>,
}

/// Lists archives; with a bus, only those recording it.
pub async fn archives(
    cat: &dyn BusCatalogue,
    bus: Option<&str>,
    now: DateTime<Utc>,
) -> Result<ArchivesReport, AppError> {
    let source = match bus {
        Some(b) => Some(require_bus(cat, b).await?.arn),
        None => None,
    };
    let mut rows = Vec::new();
    for a in cat.list_archives(source.as_deref()).await? {
        rows.push(ArchiveRow {
            earliest_replayable: a.earliest_replayable(now),
            source_bus: a.source_bus_name().to_string(),
            retention_days: a.retention_days.unwrap_or(0),
            event_count_approx: a.event_count,
            size_bytes_approx: a.size_bytes,
            name: a.name,
            arn: a.arn,
            state: a.state,
            source_arn: a.source_arn,
            creation_time: a.creation_time,
            event_pattern: a.event_pattern,
        });
    }
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(ArchivesReport {
        bus: bus.map(str::to_string),
        archives: rows,
    })
}

/// "forever" for 0, else "N days".
pub fn retention(days: i32) -> String {
    if days <= 0 {
        "forever".into()
    } else {
        format!("{days} days")
    }
}
