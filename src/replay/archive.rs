//! Archive checks: find the archive to replay from, refuse one that cannot replay, and
//! check the window against what the archive still holds.

use chrono::{DateTime, Duration, Utc};

use super::request::PlanRequest;
use crate::discovery::require_bus;
use crate::error::{AppError, not_found_as};
use crate::output::time;
use crate::ports::bus::{ArchiveInfo, BusCatalogue};

/// The word that asks for the archive to be found from the bus (`archive = "auto"`).
pub const AUTO: &str = "auto";

/// Whether the request names no archive (or `auto`): it is found from the bus.
pub fn archive_is_auto(archive: Option<&str>) -> bool {
    archive.is_none_or(|a| a == AUTO)
}

/// The archive named by `--archive` (name or ARN), or, when none is named (or `auto`), the
/// only ENABLED archive of `--bus`: none or several are refused (exit 2), each listed with
/// its state.
pub async fn resolve_archive(
    cat: &dyn BusCatalogue,
    req: &PlanRequest,
) -> Result<ArchiveInfo, AppError> {
    if let Some(a) = req.archive.as_deref().filter(|a| !archive_is_auto(Some(a))) {
        let name = archive_name(a);
        return cat.describe_archive(name).await.map_err(|e| {
            not_found_as(e, || format!("archive {name:?} does not exist in this account and region; list them with `nexus-replay archives`"))
        });
    }
    let Some(bus) = &req.bus else {
        return Err(AppError::usage(
            "say which archive to replay from: --archive NAME, or --bus BUS when the bus has exactly one ENABLED archive",
        ));
    };
    let bus = require_bus(cat, bus).await?;
    let archives = cat.list_archives(Some(&bus.arn)).await?;
    let listed = || {
        archives
            .iter()
            .map(|a| format!("{} ({})", a.name, a.state))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let enabled: Vec<&ArchiveInfo> = archives.iter().filter(|a| a.is_enabled()).collect();
    match enabled.as_slice() {
        [] if archives.is_empty() => Err(AppError::NotFound(format!(
            "bus {} has no archive, so nothing can be replayed; create one with aws events create-archive",
            bus.name
        ))),
        [] => Err(AppError::usage(format!(
            "bus {} has no ENABLED archive to replay from: {}; enable one, or name one with --archive",
            bus.name,
            listed()
        ))),
        [only] => Ok(cat.describe_archive(&only.name).await?),
        many => Err(AppError::usage(format!(
            "bus {} has {} ENABLED archives, so none is picked for you: {}; pick one with --archive (a playbook: archive = \"NAME\")",
            bus.name,
            many.len(),
            listed()
        ))),
    }
}

/// Refuses an archive that is not ENABLED (exit 2); `needs` says what needs it enabled.
pub fn require_enabled(archive: &ArchiveInfo, needs: &str) -> Result<(), AppError> {
    if archive.is_enabled() {
        return Ok(());
    }
    Err(AppError::usage(format!(
        "archive {} is {}{}; {needs}",
        archive.name,
        archive.state,
        archive
            .state_reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    )))
}

/// Refuses an archive that is not ENABLED or that records another bus than `--bus`;
/// answers the name of the bus the replay goes to.
pub fn replay_bus(archive: &ArchiveInfo, asked_bus: Option<&str>) -> Result<String, AppError> {
    require_enabled(archive, "a replay needs an ENABLED archive")?;
    let bus = archive.source_bus_name().to_string();
    if let Some(b) = asked_bus
        && b != bus
        && b != archive.source_arn
    {
        return Err(AppError::usage(format!(
            "archive {} records bus {bus}, not {b}: EventBridge replays only to the archive's own bus",
            archive.name
        )));
    }
    Ok(bus)
}

/// Checks the window against what the archive can replay, for `start`, playbooks and
/// `archive export` alike. Before the retention horizon the events existed and were
/// deleted: refused. Before the archive's creation is only warned about, and the window is
/// kept as asked: EventBridge replays by the time *in* the event, and a producer may
/// back-date it (a webhook handler stamping the Stripe event's `created`, retried by
/// Stripe for up to 3 days), so an archive can hold events older than itself.
pub fn check_archive_window(
    archive: &ArchiveInfo,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    now: DateTime<Utc>,
    warnings: &mut Vec<String>,
) -> Result<(), AppError> {
    let retention = archive.retention_days.unwrap_or(0);
    if retention > 0 {
        let horizon = now - Duration::days(i64::from(retention));
        if start < horizon {
            return Err(AppError::usage(format!(
                "the window starts at {}, before archive {}'s {}-day retention horizon ({}): those events were deleted; use --since {} or later",
                time(Some(start)),
                archive.name,
                retention,
                time(Some(horizon)),
                horizon.format("%Y-%m-%dT%H:%M:%SZ"),
            )));
        }
    }
    if let Some(created) = archive.creation_time
        && start < created
    {
        let part = if end <= created {
            "the whole window"
        } else {
            "the window"
        };
        warnings.push(format!(
            "{part} starts at {}, before archive {} was created ({}): it holds events from then only when their producer back-dated their time (EventBridge replays by the time in the event); the window is kept as asked",
            time(Some(start)),
            archive.name,
            time(Some(created)),
        ));
    }
    Ok(())
}

fn archive_name(arg: &str) -> &str {
    match arg.split_once(":archive/") {
        Some((_, name)) => name,
        None => arg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::eventbridge::MemoryEventBridge;
    use crate::replay::fixtures::{BUS, billing_rules, err, fake, now, req};
    use crate::replay::plan::plan;

    #[tokio::test]
    async fn a_window_before_the_archives_creation_is_kept_with_a_warning() {
        let eb = MemoryEventBridge::new();
        let bus = eb.add_bus(BUS);
        for r in billing_rules() {
            eb.add_rule(BUS, r);
        }
        eb.add_archive(ArchiveInfo {
            name: "young".into(),
            arn: "arn:aws:events:us-east-2:123456789012:archive/young".into(),
            source_arn: bus.arn,
            state: "ENABLED".into(),
            state_reason: None,
            retention_days: Some(0),
            event_count: 0,
            size_bytes: 0,
            creation_time: Some(now() - Duration::hours(1)),
            event_pattern: None,
        });
        // Straddling the creation: kept as asked, with a warning (events may be back-dated).
        let p = plan(&eb, &eb, &req("2h"), now()).await.unwrap();
        assert_eq!(p.start, now() - Duration::hours(2));
        assert_eq!(p.requested_start, p.start);
        assert!(
            p.warnings[0].starts_with("the window starts at")
                && p.warnings[0].contains("before archive young was created")
                && p.warnings[0].contains("back-dated")
                && p.warnings[0].contains("kept as asked"),
            "{:?}",
            p.warnings
        );
        // Wholly before the creation: planned too, with the same warning.
        let mut r = req("3h");
        r.until = Some("2h".into());
        let p = plan(&eb, &eb, &r, now()).await.unwrap();
        assert_eq!(
            (p.start, p.end),
            (now() - Duration::hours(3), now() - Duration::hours(2))
        );
        assert!(
            p.warnings[0].starts_with("the whole window starts at"),
            "{:?}",
            p.warnings
        );
    }

    #[tokio::test]
    async fn archive_errors() {
        let eb = fake();
        let mut r = req("2h");
        r.archive = Some("missing".into());
        let e = plan(&eb, &eb, &r, now()).await.unwrap_err();
        assert!(matches!(e, AppError::NotFound(_)), "{e}");
        let mut r = req("2h");
        r.archive = Some("arn:aws:events:us-east-2:123456789012:archive/archive".into());
        r.bus = Some("other-bus".into());
        assert!(err(&eb, r).await.contains("only to the archive's own bus"));

        let eb = fake();
        let bus = eb.describe_bus(BUS).await.unwrap();
        eb.add_archive(ArchiveInfo {
            name: "second".into(),
            arn: "arn:x:archive/second".into(),
            source_arn: bus.arn.clone(),
            state: "DISABLED".into(),
            state_reason: Some("disabled by admin".into()),
            retention_days: None,
            event_count: 0,
            size_bytes: 0,
            creation_time: None,
            event_pattern: None,
        });
        // The DISABLED one is not a candidate: the bus's only ENABLED archive is picked.
        assert_eq!(
            plan(&eb, &eb, &req("2h"), now()).await.unwrap().archive,
            "archive"
        );
        let mut r = req("2h");
        r.archive = Some("auto".into());
        assert_eq!(plan(&eb, &eb, &r, now()).await.unwrap().archive, "archive");
        let mut r = req("2h");
        r.archive = Some("second".into());
        assert!(err(&eb, r).await.contains("DISABLED (disabled by admin)"));
    }

    fn archive_of(bus_arn: &str, name: &str, state: &str) -> ArchiveInfo {
        ArchiveInfo {
            name: name.into(),
            arn: format!("arn:x:archive/{name}"),
            source_arn: bus_arn.into(),
            state: state.into(),
            state_reason: None,
            retention_days: None,
            event_count: 0,
            size_bytes: 0,
            creation_time: None,
            event_pattern: None,
        }
    }

    #[tokio::test]
    async fn auto_needs_exactly_one_enabled_archive_and_lists_them_otherwise() {
        use crate::exit_codes;
        // Two ENABLED archives: none is picked; both are listed with their state.
        let eb = fake();
        let bus = eb.describe_bus(BUS).await.unwrap();
        eb.add_archive(archive_of(&bus.arn, "second", "ENABLED"));
        let mut r = req("2h");
        r.archive = Some(AUTO.into());
        let e = plan(&eb, &eb, &r, now()).await.unwrap_err();
        assert_eq!(e.exit_code(), exit_codes::USAGE);
        let msg = e.to_string();
        assert!(
            msg.contains("2 ENABLED archives")
                && msg.contains("archive (ENABLED)")
                && msg.contains("second (ENABLED)"),
            "{msg}"
        );
        // Only a DISABLED archive: refused, listed.
        let eb = MemoryEventBridge::new();
        let bus = eb.add_bus(BUS);
        for rule in billing_rules() {
            eb.add_rule(BUS, rule);
        }
        eb.add_archive(archive_of(&bus.arn, "off", "DISABLED"));
        let e = plan(&eb, &eb, &req("2h"), now()).await.unwrap_err();
        assert_eq!(e.exit_code(), exit_codes::USAGE);
        assert!(
            e.to_string().contains("no ENABLED archive")
                && e.to_string().contains("off (DISABLED)"),
            "{e}"
        );
        assert!(archive_is_auto(None) && archive_is_auto(Some("auto")));
        assert!(!archive_is_auto(Some("mine")));
    }
}
