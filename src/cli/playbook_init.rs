//! `playbook init`: its flags, and the arm that reads the bus and writes the set.

use std::path::PathBuf;

use clap::Args;

use super::dispatch::print;
use crate::aws::config::Clients;
use crate::error::AppError;
use crate::playbook::init;
use crate::settings::Settings;

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Event bus name (else NEXUS_REPLAY_BUS or `bus` in the config file)
    #[arg(long, env = "NEXUS_REPLAY_BUS")]
    pub bus: Option<String>,
    /// Directory to write the playbooks into (created if missing; default ./playbooks-BUS, the bus name with / and . made -)
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Overwrite playbook files that exist (without it, an existing file stops init with exit 2 and nothing written)
    #[arg(long)]
    pub force: bool,
}

pub(super) async fn init(a: &InitArgs, settings: &Settings) -> Result<u8, AppError> {
    let bus = settings.bus(a.bus.as_deref())?;
    let out = a.out.clone().unwrap_or_else(|| init::default_out(&bus));
    let c = Clients::load(&settings.aws).await?;
    let set = init::generate(&c.eventbridge, &bus).await?;
    let report = init::write(&set, &out, a.force)?;
    print(settings, &report)
}
