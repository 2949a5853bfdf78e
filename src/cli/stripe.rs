//! The `stripe` commands: `stripe reconcile` on the command line's side (the key from the
//! environment, the ports, the one confirmation before `--apply` sends anything).

use std::io::IsTerminal;

use chrono::{DateTime, Utc};
use clap::Subcommand;

use super::dispatch::print;
use super::terminal::{confirm_change, drain_observer, observer};
use super::wiring::{drain_ports, started_by};
use crate::archive::export::ExportPorts;
use crate::aws::capture::AwsCapture;
use crate::aws::config::Clients;
use crate::commands::archive_export::ExportProgress;
use crate::commands::stripe_reconcile::{ReconcileOptions, ReconcilePorts, list, request, run};
use crate::error::AppError;
use crate::options::DrainOptions;
use crate::settings::Settings;
use crate::signals::interrupt;
use crate::stripe::client::StripeClient;
use crate::stripe::key::ApiKey;

#[derive(Debug, Subcommand)]
pub enum StripeCommand {
    /// Find the Stripe events of a window that never reached the bus (Stripe's GET /v1/events against an archive export and the ledger); --apply re-emits them as the webhook would have
    Reconcile(Box<ReconcileOptions>),
}

pub(super) async fn stripe(
    cmd: StripeCommand,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<u8, AppError> {
    let StripeCommand::Reconcile(o) = cmd;
    let run_id = format!(
        "stripe-{}-{}",
        now.format("%Y%m%dT%H%M%S"),
        crate::ids::random_hex(6)
    );
    let bus = o.bus.clone().or_else(|| settings.default_bus.clone());
    // Every flag and the key are read before anything is called: bad input changes nothing.
    let req = request(&o, bus, &settings.state_dir, run_id, started_by(), now)?;
    let key = ApiKey::from_env(&o.stripe_key_env)?;
    let client = StripeClient::new(&o.stripe_api_base, key)?;
    // Off a terminal without --yes the confirmation would refuse after the export: refuse now.
    if req.apply && !req.dry_run && !settings.yes && !std::io::stdin().is_terminal() {
        return Err(AppError::usage(
            "refusing to re-emit without confirmation: stdin is not a terminal; pass --yes (or --apply --dry-run to see what would be sent)",
        ));
    }
    let listed = list(&client, &req).await?;
    let c = Clients::load(&settings.aws).await?;
    let capture = AwsCapture::new(c.raw_eventbridge.clone(), c.raw_sqs.clone());
    let emit = DrainOptions {
        ledger: o.ledger.clone(),
        dry_run: o.dry_run,
        ..DrainOptions::default()
    };
    let spec = crate::ledger::open::parse(o.ledger.as_deref(), &settings.state_dir)?;
    let ports = ReconcilePorts {
        export: ExportPorts {
            catalogue: &c.eventbridge,
            replays: &c.eventbridge,
            resources: &capture,
            queue: &c.sqs,
        },
        ledger: crate::ledger::open::open(&spec, Some(&c))?,
        drain: drain_ports(settings, &c, &emit)?,
    };
    let mut progress = ExportProgress::stderr(observer(settings), settings.verbosity >= 0);
    let report = run(
        ports,
        &req,
        &listed,
        &mut |plan| {
            if settings.verbosity >= 0 {
                eprint!("{}", crate::output::Report::human(plan));
            }
            confirm_change(
                settings,
                &format!(
                    "Re-emit these {} missing Stripe event(s) to bus {} (a rerun skips what was re-emitted)",
                    plan.report.missing.len(),
                    plan.bus
                ),
            )
            .map(|()| true)
        },
        &mut progress,
        drain_observer(settings, o.dry_run),
        interrupt,
        now,
    )
    .await?;
    print(settings, &report)
}
