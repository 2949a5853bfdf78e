//! The command line: clap definitions, resolution into [`Settings`] and engine inputs,
//! and dispatch. No other module sees a clap type.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

use crate::aws::config::{AwsOptions, Clients};
use crate::error::AppError;
use crate::exit_codes;
use crate::logging::{self, LogFormat};
use crate::output::{self, OutputMode, Report};
use crate::settings::{self, Settings};

#[derive(Debug, Parser)]
#[command(
    name = "nexus-replay",
    version,
    about = "Recover missing Amazon EventBridge events: archive replays, rule-DLQ drains and playbooks",
    after_help = "Exit codes: 0 ok, 1 runtime failure, 2 bad input (nothing changed), 3 partial (some items failed or were parked, or a check FAILed), 4 replay FAILED/CANCELLED, 5 wait timed out (work goes on server-side), 130 interrupted."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// AWS Region (else AWS_REGION, the profile, or the config file)
    #[arg(long, global = true, env = "NEXUS_REPLAY_REGION")]
    pub region: Option<String>,
    /// Named AWS profile
    #[arg(long, global = true, env = "NEXUS_REPLAY_PROFILE")]
    pub profile: Option<String>,
    /// Endpoint URL for every AWS call (e.g. a local emulator); AWS_ENDPOINT_URL also works
    #[arg(long, global = true, env = "NEXUS_REPLAY_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,
    /// Result format on stdout
    #[arg(long, global = true, value_enum, env = "NEXUS_REPLAY_OUTPUT")]
    pub output: Option<OutputArg>,
    /// More log detail on stderr (-v debug, -vv trace)
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,
    /// Less log detail on stderr (-q warnings only, -qq errors only)
    #[arg(short, long, global = true, action = ArgAction::Count, conflicts_with = "verbose")]
    pub quiet: u8,
    /// Log line format on stderr
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        env = "NEXUS_REPLAY_LOG_FORMAT"
    )]
    pub log_format: LogFormatArg,
    /// No progress bars or progress lines
    #[arg(long, global = true)]
    pub no_progress: bool,
    /// Skip confirmations (required for changes when stdin is not a terminal)
    #[arg(short = 'y', long, global = true)]
    pub yes: bool,
    /// Config file (default: ./nexus-replay.toml, then $XDG_CONFIG_HOME/nexus-replay/nexus-replay.toml)
    #[arg(long, global = true, env = "NEXUS_REPLAY_CONFIG")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OutputArg {
    Human,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormatArg {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct BusArg {
    /// Event bus name (else NEXUS_REPLAY_BUS or `bus` in the config file)
    #[arg(long, env = "NEXUS_REPLAY_BUS")]
    pub bus: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List archives with retention, approximate size and the earliest replayable time
    Archives(BusArg),
    /// Show a bus's rules with patterns, targets, DLQs and retry policies
    Rules(BusArg),
    /// Dead-letter queues behind rule targets
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// Incident-readiness checks for a bus (exit 3 if any check FAILs)
    Doctor(BusArg),
    /// Local emulator sandbox (used by the quickstart and tests)
    #[command(subcommand, hide = true)]
    Sandbox(SandboxCommand),
}

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// The DLQs discovered from the bus's rule targets, with approximate depth
    List(BusArg),
}

#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Create the billing topology on a loopback emulator (needs --endpoint-url)
    Seed {
        /// Stripe-shaped events to put on the bus
        #[arg(long, default_value_t = 120)]
        events: usize,
        /// Messages to put in each DLQ
        #[arg(long, default_value_t = 5)]
        dlq_messages: usize,
    },
}

/// Parses the command line, runs the command and answers the process exit code.
pub fn main() -> u8 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                exit_codes::USAGE
            } else {
                exit_codes::SUCCESS
            };
        }
    };
    let verbosity = cli.global.verbose as i8 - cli.global.quiet as i8;
    logging::init(
        verbosity,
        match cli.global.log_format {
            LogFormatArg::Text => LogFormat::Text,
            LogFormatArg::Json => LogFormat::Json,
        },
    );
    let settings = match resolve(&cli.global, verbosity) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return fail(&AppError::Io(format!(
                "cannot start the async runtime: {e}"
            )));
        }
    };
    match runtime.block_on(run(cli.command, &settings)) {
        Ok(code) => code,
        Err(e) => fail(&e),
    }
}

fn fail(e: &AppError) -> u8 {
    tracing::debug!(error = ?e, "command failed");
    eprintln!("error: {e}");
    e.exit_code()
}

fn resolve(g: &GlobalArgs, verbosity: i8) -> Result<Settings, AppError> {
    let (config_path, file) = settings::load_file(g.config.as_deref())?;
    let output = match g.output {
        Some(OutputArg::Json) => OutputMode::Json,
        Some(OutputArg::Human) => OutputMode::Human,
        None => match &file.output {
            Some(o) => settings::parse_output(o).map_err(AppError::Usage)?,
            None => OutputMode::Human,
        },
    };
    Ok(Settings {
        aws: AwsOptions {
            region: g.region.clone().or(file.region),
            profile: g.profile.clone().or(file.profile),
            endpoint_url: g.endpoint_url.clone().or(file.endpoint_url),
        },
        output,
        verbosity,
        log_format: match g.log_format {
            LogFormatArg::Text => LogFormat::Text,
            LogFormatArg::Json => LogFormat::Json,
        },
        progress: !g.no_progress && verbosity >= 0,
        yes: g.yes,
        default_bus: file.bus,
        default_archive: file.archive,
        state_dir: file.state_dir.unwrap_or_else(settings::default_state_dir),
        config_path,
    })
}

fn print<R: Report>(settings: &Settings, report: &R) -> Result<u8, AppError> {
    output::emit(settings.output, report)
        .map_err(|e| AppError::Io(format!("cannot write to stdout: {e}")))?;
    Ok(report.exit_code())
}

async fn run(command: Command, settings: &Settings) -> Result<u8, AppError> {
    let now = chrono::Utc::now();
    match command {
        Command::Archives(a) => {
            let bus = a.bus.or_else(|| settings.default_bus.clone());
            let c = Clients::load(&settings.aws).await?;
            let report =
                crate::commands::archives::archives(&c.eventbridge, bus.as_deref(), now).await?;
            print(settings, &report)
        }
        Command::Rules(a) => {
            let bus = settings.bus(a.bus.as_deref())?;
            let c = Clients::load(&settings.aws).await?;
            print(
                settings,
                &crate::commands::rules::rules(&c.eventbridge, &bus).await?,
            )
        }
        Command::Dlq(DlqCommand::List(a)) => {
            let bus = settings.bus(a.bus.as_deref())?;
            let c = Clients::load(&settings.aws).await?;
            let report = crate::commands::dlq_list::dlq_rows(&c.eventbridge, &c.sqs, &bus).await?;
            print(settings, &report)
        }
        Command::Doctor(a) => {
            let bus = settings.bus(a.bus.as_deref())?;
            let c = Clients::load(&settings.aws).await?;
            let report = crate::commands::doctor::doctor(&c.eventbridge, &c.sqs, &bus, now).await?;
            print(settings, &report)
        }
        Command::Sandbox(SandboxCommand::Seed {
            events,
            dlq_messages,
        }) => {
            let endpoint = settings.aws.endpoint_url.clone().ok_or_else(|| {
                AppError::usage("sandbox seed needs --endpoint-url pointing at a local emulator")
            })?;
            let c = Clients::load(&settings.aws).await?;
            let opts = crate::aws::sandbox::SandboxOptions {
                endpoint_url: endpoint,
                region: c.region.clone(),
                events,
                dlq_messages,
            };
            let report = crate::aws::sandbox::seed(&c.raw_eventbridge, &c.raw_sqs, &opts).await?;
            print(settings, &report)
        }
    }
}
