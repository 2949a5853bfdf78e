//! `start --exact` on the command line's side: the flags into an [`ExactRequest`], the
//! ports (export and target delivery), the plan on stderr and the one confirmation.

use std::io::IsTerminal;

use chrono::{DateTime, Utc};

use super::args::StartArgs;
use super::dispatch::print;
use super::terminal::{confirm_change, drain_observer, observer};
use super::wiring::{drain_ports, started_by};
use crate::archive::export::ExportPorts;
use crate::aws::capture::AwsCapture;
use crate::aws::config::Clients;
use crate::commands::archive_export::ExportProgress;
use crate::commands::start_exact::{ExactRequest, check, start_exact as run};
use crate::error::AppError;
use crate::options::{DrainOptions, RedriveTo};
use crate::replay::plan::PlanRequest;
use crate::settings::Settings;
use crate::signals::interrupt;

pub(super) async fn start_exact(
    a: StartArgs,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<u8, AppError> {
    a.filter.validate()?;
    let run_id = format!(
        "exact-{}-{}",
        now.format("%Y%m%dT%H%M%S"),
        crate::ids::random_hex(6)
    );
    let req = ExactRequest {
        plan: plan_request(&a, settings),
        ids: a.ids.clone(),
        dry_run: a.dry_run,
        run_dir: settings.state_dir.join("exact"),
        run_id,
        settle: a.settle,
    };
    // Every flag is read before a client is built: bad input changes nothing.
    check(&req)?;
    // Off a terminal without --yes the confirmation would refuse after the export: refuse now.
    if !req.dry_run && !settings.yes && !std::io::stdin().is_terminal() {
        return Err(AppError::usage(
            "refusing to deliver without confirmation: stdin is not a terminal; pass --yes (or --dry-run to see the plan)",
        ));
    }
    let c = Clients::load(&settings.aws).await?;
    let capture = AwsCapture::new(c.raw_eventbridge.clone(), c.raw_sqs.clone());
    let ports = ExportPorts {
        catalogue: &c.eventbridge,
        replays: &c.eventbridge,
        resources: &capture,
        queue: &c.sqs,
    };
    let options = DrainOptions {
        to: RedriveTo::Target,
        dry_run: a.dry_run,
        ..DrainOptions::default()
    };
    let drain = drain_ports(settings, &c, &options)?;
    let mut progress = ExportProgress::stderr(observer(settings), settings.verbosity >= 0);
    let report = run(
        &ports,
        drain,
        &req,
        &mut |plan| {
            if settings.verbosity >= 0 {
                eprint!("{}", plan.text());
            }
            confirm_change(
                settings,
                "Deliver these events to exactly these targets (a rerun skips what was delivered)",
            )
            .map(|()| true)
        },
        &mut progress,
        drain_observer(settings, a.dry_run),
        interrupt,
        now,
    )
    .await?;
    for w in &report.export.warnings {
        tracing::warn!("{w}");
    }
    print(settings, &report)
}

/// The replay `start` plans from its flags, the archive and bus defaulting to the settings'.
pub(super) fn plan_request(a: &StartArgs, settings: &Settings) -> PlanRequest {
    PlanRequest {
        archive: a
            .archive
            .clone()
            .or_else(|| settings.default_archive.clone()),
        bus: a.bus.clone().or_else(|| settings.default_bus.clone()),
        since: a.since.clone(),
        until: a.until.clone(),
        event_types: a.filter.event_types.clone(),
        sources: a.filter.sources.clone(),
        rules: a.filter.rules.clone(),
        all_rules: a.all_rules,
        include_catch_all: a.include_catch_all,
        type_fields: a.filter.type_fields.clone(),
        name: a.name.clone(),
        description: a.description.clone(),
        started_by: started_by(),
    }
}
