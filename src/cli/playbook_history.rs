//! `playbook runs` and `playbook report`: their arguments, and printing the run history and
//! a run's incident report (Markdown by default, JSON with `--format json` or `--output json`).

use clap::{Args, ValueEnum};

use super::dispatch::print;
use crate::error::AppError;
use crate::output::{self, OutputMode};
use crate::settings::Settings;

#[derive(Debug, Args)]
pub struct RunsArgs {
    /// Runs to list at most, newest first
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub limit: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Markdown, for the postmortem document
    Md,
    /// One JSON document (as --output json)
    Json,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The run's id, as `playbook runs` lists it (nexus-YYYYMMDDTHHMMSS-xxxxxx)
    pub run_id: String,
    /// Markdown (default) or JSON
    #[arg(long, value_enum)]
    pub format: Option<ReportFormat>,
}

pub(super) fn runs(a: &RunsArgs, settings: &Settings) -> Result<u8, AppError> {
    let h = crate::commands::playbook_runs::runs(
        &settings.state_dir,
        a.limit as usize,
        chrono::Utc::now(),
    )?;
    print(settings, &h)
}

pub(super) fn report(a: &ReportArgs, settings: &Settings) -> Result<u8, AppError> {
    let r =
        crate::commands::playbook_runs::report(&settings.state_dir, &a.run_id, chrono::Utc::now())?;
    let mode = match a.format {
        Some(ReportFormat::Json) => OutputMode::Json,
        Some(ReportFormat::Md) => OutputMode::Human,
        None => settings.output,
    };
    output::emit(mode, &r).map_err(|e| AppError::Io(format!("cannot write to stdout: {e}")))?;
    Ok(crate::exit_codes::SUCCESS)
}
