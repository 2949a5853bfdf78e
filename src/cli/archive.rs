//! The `archive` commands: `archive list` (the `archives` listing), `archive export`, and
//! `archive export --cleanup` (list what killed exports left, ask, remove).

use chrono::{DateTime, Utc};

use super::args::ArchiveCommand;
use super::dispatch::print;
use super::terminal::{confirm_change, observer};
use super::wiring::started_by;
use crate::archive::cleanup::{find_leftovers, remove_leftovers};
use crate::archive::export::ExportPorts;
use crate::aws::capture::AwsCapture;
use crate::aws::config::Clients;
use crate::commands::archive_export::{
    CleanupOutcome, ExportArgs, ExportProgress, cleanup_buses, request, run,
};
use crate::error::AppError;
use crate::settings::Settings;
use crate::signals::interrupt;

pub(super) async fn archive(
    cmd: ArchiveCommand,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<u8, AppError> {
    match cmd {
        ArchiveCommand::List(a) => {
            let bus = a.bus.or_else(|| settings.default_bus.clone());
            let c = Clients::load(&settings.aws).await?;
            let report =
                crate::commands::archives::archives(&c.eventbridge, bus.as_deref(), now).await?;
            print(settings, &report)
        }
        ArchiveCommand::Export(a) if a.cleanup => cleanup(&a, settings).await,
        ArchiveCommand::Export(a) => {
            let mut a = *a;
            a.archive = a.archive.or_else(|| settings.default_archive.clone());
            // Every flag is read before a client is built: bad input changes nothing.
            let req = request(&a, started_by(), now)?;
            let c = Clients::load(&settings.aws).await?;
            let capture = AwsCapture::new(c.raw_eventbridge.clone(), c.raw_sqs.clone());
            let ports = ExportPorts {
                catalogue: &c.eventbridge,
                replays: &c.eventbridge,
                resources: &capture,
                queue: &c.sqs,
            };
            let mut progress = ExportProgress::stderr(observer(settings), settings.verbosity >= 0);
            let report = run(
                &ports,
                &req,
                a.bus.as_deref(),
                now,
                &mut progress,
                interrupt(),
            )
            .await?;
            for w in &report.warnings {
                tracing::warn!("{w}");
            }
            print(settings, &report)
        }
    }
}

async fn cleanup(a: &ExportArgs, settings: &Settings) -> Result<u8, AppError> {
    let bus = a.bus.clone().or_else(|| settings.default_bus.clone());
    let c = Clients::load(&settings.aws).await?;
    let capture = AwsCapture::new(c.raw_eventbridge.clone(), c.raw_sqs.clone());
    let buses = cleanup_buses(&c.eventbridge, bus.as_deref()).await?;
    let found = find_leftovers(&capture, &c.eventbridge, &buses).await?;
    if found.is_empty() {
        return print(
            settings,
            &CleanupOutcome {
                found,
                removed: None,
            },
        );
    }
    if settings.verbosity >= 0 {
        eprint!("{}", crate::render::archive_export::leftovers_text(&found));
    }
    let count: usize = found
        .removable()
        .map(|r| r.rules.len() + r.queues.len())
        .sum();
    confirm_change(
        settings,
        &format!(
            "Remove these {count} rule(s) and queue(s) of {} killed export run(s)",
            found.removable().count()
        ),
    )?;
    let removed = remove_leftovers(&capture, &found).await;
    print(
        settings,
        &CleanupOutcome {
            found,
            removed: Some(removed),
        },
    )
}
