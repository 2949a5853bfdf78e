//! The archive an export reads and the window it asks for. Refused before anything is
//! created (exit 2): a missing or not ENABLED archive, an empty or future window, a start
//! before the retention horizon (those events were deleted). A window before the archive's
//! creation is only warned about, as for `start` ([`check_archive_window`]).

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::error::{AppError, not_found_as};
use crate::output::time;
use crate::ports::bus::{ArchiveInfo, BusCatalogue};
use crate::replay::archive::{check_archive_window, require_enabled};
use crate::replay::plan::ARCHIVE_LAG_MINUTES;

/// An event-time window: `start` ≤ time < `end`, as StartReplay reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Window {
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }
}

/// The archive, its bus, and the window the export replays.
#[derive(Debug, Clone)]
pub struct CheckedArchive {
    pub archive: ArchiveInfo,
    pub bus: String,
    pub bus_arn: String,
    pub window: Window,
    pub warnings: Vec<String>,
}

/// The archive named `name` (or by ARN).
async fn describe(cat: &dyn BusCatalogue, name: &str) -> Result<ArchiveInfo, AppError> {
    let name = name.split_once(":archive/").map_or(name, |(_, n)| n);
    cat.describe_archive(name).await.map_err(|e| {
        not_found_as(e, || {
            format!("archive {name:?} does not exist in this account and region; list them with `nexus-replay archives`")
        })
    })
}

/// The bus an archive records: everything after `event-bus/` in its source ARN (a partner
/// bus keeps its slashes).
pub(crate) fn bus_of(archive: &ArchiveInfo) -> Result<String, AppError> {
    archive
        .source_arn
        .split_once(":event-bus/")
        .map(|(_, bus)| bus.to_string())
        .filter(|b| !b.is_empty())
        .ok_or_else(|| {
            AppError::Port(crate::ports::PortError::Other(format!(
                "archive {} has no event bus source ARN ({:?})",
                archive.name, archive.source_arn
            )))
        })
}

/// Resolves and checks the archive and the window (`end` None: now − the archive lag).
pub async fn check(
    cat: &dyn BusCatalogue,
    archive: &str,
    start: DateTime<Utc>,
    end: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<CheckedArchive, AppError> {
    let lag_edge = now - Duration::minutes(ARCHIVE_LAG_MINUTES);
    let end = end.unwrap_or(lag_edge);
    if end > now {
        return Err(AppError::usage(format!(
            "--until {} is in the future (now is {}); the archive cannot hold events that have not happened yet",
            time(Some(end)),
            time(Some(now))
        )));
    }
    if start >= end {
        return Err(AppError::usage(format!(
            "the window is empty: start {} is not before end {} (--until defaults to now - {ARCHIVE_LAG_MINUTES} min because archives lag ingestion); move --since earlier",
            time(Some(start)),
            time(Some(end))
        )));
    }
    let archive = describe(cat, archive).await?;
    require_enabled(
        &archive,
        "an export replays it, which needs an ENABLED archive",
    )?;
    let mut warnings = Vec::new();
    check_archive_window(&archive, start, end, now, &mut warnings)?;
    if end > lag_edge {
        warnings.push(format!(
            "the window ends within {ARCHIVE_LAG_MINUTES} minutes of now; archives lag ingestion by up to about {ARCHIVE_LAG_MINUTES} minutes, so the newest events may be missing"
        ));
    }
    Ok(CheckedArchive {
        bus: bus_of(&archive)?,
        bus_arn: archive.source_arn.clone(),
        archive,
        window: Window { start, end },
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::eventbridge::MemoryEventBridge;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 9, 8, 16, 0, 0).unwrap()
    }

    fn archive(state: &str, retention: i32, created_days_ago: i64) -> ArchiveInfo {
        ArchiveInfo {
            name: "a".into(),
            arn: "arn:aws:events:us-east-2:123456789012:archive/a".into(),
            source_arn:
                "arn:aws:events:us-east-2:123456789012:event-bus/aws.partner/stripe.com/ed_1".into(),
            state: state.into(),
            state_reason: None,
            retention_days: Some(retention),
            event_count: 0,
            size_bytes: 0,
            creation_time: Some(now() - Duration::days(created_days_ago)),
            event_pattern: None,
        }
    }

    fn fake(a: ArchiveInfo) -> MemoryEventBridge {
        let eb = MemoryEventBridge::new();
        eb.add_archive(a);
        eb
    }

    async fn usage(
        eb: &MemoryEventBridge,
        start: DateTime<Utc>,
        end: Option<DateTime<Utc>>,
    ) -> String {
        let e = check(eb, "a", start, end, now()).await.unwrap_err();
        assert_eq!(e.exit_code(), crate::exit_codes::USAGE, "{e}");
        e.to_string()
    }

    #[tokio::test]
    async fn the_window_defaults_to_the_archive_lag_and_names_the_partner_bus() {
        let eb = fake(archive("ENABLED", 7, 30));
        let c = check(
            &eb,
            "arn:aws:events:us-east-2:123456789012:archive/a",
            now() - Duration::hours(2),
            None,
            now(),
        )
        .await
        .unwrap();
        assert_eq!(c.window.end, now() - Duration::minutes(10));
        assert_eq!(c.bus, "aws.partner/stripe.com/ed_1");
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        assert!(c.window.contains(c.window.start) && !c.window.contains(c.window.end));
    }

    #[tokio::test]
    async fn refusals_before_anything_is_created() {
        let eb = fake(archive("ENABLED", 7, 30));
        let h = |n| now() - Duration::hours(n);
        assert!(
            usage(&eb, h(1), Some(now() + Duration::minutes(1)))
                .await
                .contains("in the future")
        );
        assert!(
            usage(&eb, h(1), Some(h(2)))
                .await
                .contains("window is empty")
        );
        assert!(
            usage(&eb, now() - Duration::days(8), None)
                .await
                .contains("7-day retention horizon")
        );
        let e = check(&eb, "missing", h(2), None, now()).await.unwrap_err();
        assert!(e.to_string().contains("does not exist"), "{e}");
        let eb = fake(archive("DISABLED", 0, 30));
        assert!(
            usage(&eb, h(2), None)
                .await
                .contains("needs an ENABLED archive")
        );
    }

    #[tokio::test]
    async fn a_window_before_the_archives_creation_is_warned_about_not_moved() {
        // Created 1 day ago, kept forever: a window from 3 days ago is exported as asked.
        let eb = fake(archive("ENABLED", 0, 1));
        let start = now() - Duration::days(3);
        let c = check(&eb, "a", start, Some(now() - Duration::days(2)), now())
            .await
            .unwrap();
        assert_eq!(c.window.start, start);
        assert!(
            c.warnings[0].starts_with("the whole window starts at"),
            "{:?}",
            c.warnings
        );
        assert!(c.warnings[0].contains("back-dated"));
        let c = check(&eb, "a", start, None, now()).await.unwrap();
        assert_eq!(c.window.start, start);
        assert!(c.warnings[0].starts_with("the window starts at"));
    }

    #[tokio::test]
    async fn a_window_ending_inside_the_lag_is_warned_about() {
        let eb = fake(archive("ENABLED", 0, 30));
        let c = check(&eb, "a", now() - Duration::hours(1), Some(now()), now())
            .await
            .unwrap();
        assert!(
            c.warnings[0].contains("archives lag ingestion"),
            "{:?}",
            c.warnings
        );
    }
}
