//! `triage`'s arguments and its arm of the dispatch.

use clap::Args;

use crate::aws::config::Clients;
use crate::error::AppError;
use crate::settings::Settings;

#[derive(Debug, Args)]
pub struct TriageArgs {
    /// Event bus name (else NEXUS_REPLAY_BUS or `bus` in the config file)
    #[arg(long, env = "NEXUS_REPLAY_BUS")]
    pub bus: Option<String>,
    /// Window start: a duration back from now (90m, 2h, "1d 6h") or a time (RFC 3339, or "YYYY-MM-DD HH:MM[:SS]" UTC)
    #[arg(long, value_name = "WHEN")]
    pub since: String,
    /// Window end (default: now - 10 min, as for `start`)
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
}

pub(super) async fn triage(
    a: TriageArgs,
    settings: &Settings,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<u8, AppError> {
    let bus = settings.bus(a.bus.as_deref())?;
    let c = Clients::load(&settings.aws).await?;
    let report = crate::commands::triage::triage(
        &c.eventbridge,
        &c.sqs,
        &c.cloudwatch(),
        &bus,
        &a.since,
        a.until.as_deref(),
        now,
    )
    .await?;
    super::dispatch::print(settings, &report)
}
