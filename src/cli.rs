//! The command line: clap definitions, resolution into [`Settings`] and engine inputs,
//! and dispatch. No other module sees a clap type.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

use crate::aws::config::{AwsOptions, Clients};
use crate::commands::drain::DrainRequest;
use crate::commands::list::ListRequest;
use crate::commands::start::StartOptions;
use crate::error::AppError;
use crate::exit_codes;
use crate::failure::{self, ErrorDoc, Sinks};
use crate::limits;
use crate::logging::{self, LogFormat};
use crate::output::{self, OutputMode, Report};
use crate::ports::replay::ReplayState;
use crate::replay::display::{Bar, Lines};
use crate::replay::journal::Journal;
use crate::replay::plan::{PlanRequest, ReplayPlan};
use crate::replay::watch::{Quiet, WatchObserver, WatchOptions};
use crate::settings::{self, Settings};
use crate::signals::interrupt;

#[derive(Debug, Parser)]
#[command(
    name = "nexus-replay",
    version,
    about = "Recover missing Amazon EventBridge events: archive replays, rule-DLQ drains and playbooks",
    after_help = "Exit codes: 0 ok, 1 runtime failure, 2 bad input (nothing changed), 3 partial (some items failed or were parked, messages left in flight, or a check FAILed), 4 replay FAILED/CANCELLED, 5 wait timed out (work goes on server-side), 130 interrupted (Ctrl-C), 143 stopped by SIGTERM."
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
    /// Let trace logging show message bodies and access key ids (the SDK's wire logging); off, they are kept out of every log level
    #[arg(long, global = true, env = "NEXUS_REPLAY_LOG_PAYLOADS", value_parser = clap::builder::BoolishValueParser::new())]
    pub log_payloads: bool,
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
    /// Replay archived events of a time window to the rules that match the event types
    Start(Box<StartArgs>),
    /// Show a replay's state and progress (default: the last one started here)
    Status(StatusArgs),
    /// List replays
    List(ListArgs),
    /// Cancel a STARTING or RUNNING replay
    Cancel(CancelArgs),
    /// Re-emit dead-lettered events to their bus with dedup keys, deleting only what was re-emitted
    Drain(Box<DrainArgs>),
    /// Re-emit messages from a `dlq export` file with the same dedup and ledger rules
    Reemit(Box<ReemitArgs>),
    /// Look into the dedup ledger
    #[command(subcommand)]
    Ledger(LedgerCommand),
    /// Declarative recovery procedures: replay, drain, verify (see playbooks/README.md)
    #[command(subcommand)]
    Playbook(PlaybookCommand),
    /// Local emulator sandbox (used by the quickstart and tests)
    #[command(subcommand, hide = true)]
    Sandbox(SandboxCommand),
}

#[derive(Debug, Args)]
pub struct WaitArgs {
    /// Stop watching after this long (exit 5; the replay goes on), e.g. 30m (1s to 30 days)
    #[arg(long, value_name = "DUR", value_parser = span(limits::TIMEOUT))]
    pub timeout: Option<Duration>,
    /// Poll interval (default 1s backing off to 10s; 1s to 5m)
    #[arg(long, value_name = "DUR", value_parser = span(limits::POLL))]
    pub poll: Option<Duration>,
}

#[derive(Debug, Args)]
pub struct StartArgs {
    /// Archive name or ARN (optional when the bus has exactly one archive)
    #[arg(long, env = "NEXUS_REPLAY_ARCHIVE")]
    pub archive: Option<String>,
    /// The archive's bus (the only possible destination)
    #[arg(long, env = "NEXUS_REPLAY_BUS")]
    pub bus: Option<String>,
    /// Window start: a duration back from now (90m, 2h, "1d 6h") or a time (RFC 3339, or "YYYY-MM-DD HH:MM[:SS]" UTC)
    #[arg(long, value_name = "WHEN")]
    pub since: String,
    /// Window end (default: now - 10 min, because archives lag ingestion)
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    /// Event type to replay (repeatable); matched against each rule's pattern
    #[arg(long = "event-type", value_name = "TYPE")]
    pub event_types: Vec<String>,
    /// Event source to replay (repeatable)
    #[arg(long = "source", value_name = "SOURCE")]
    pub sources: Vec<String>,
    /// Rule name or ARN to replay to, in addition to those selected (repeatable)
    #[arg(long = "rule", value_name = "RULE")]
    pub rules: Vec<String>,
    /// Replay to every rule on the bus (no FilterArns)
    #[arg(long)]
    pub all_rules: bool,
    /// Also select rules whose patterns do not constrain the event type (catch-alls)
    #[arg(long)]
    pub include_catch_all: bool,
    /// Where the event type lives, tried in order per rule
    #[arg(
        long = "type-field",
        value_name = "PATH",
        value_delimiter = ',',
        default_value = "detail.type,detail-type"
    )]
    pub type_fields: Vec<String>,
    /// Replay name (default: generated, e.g. nexus-20250908T1400-subscr-3f9a)
    #[arg(long)]
    pub name: Option<String>,
    /// Description (who started it and the filters are always recorded)
    #[arg(long)]
    pub description: Option<String>,
    /// Print the plan and start nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Start and return without watching
    #[arg(long, conflicts_with_all = ["timeout", "cancel_on_interrupt"])]
    pub no_wait: bool,
    #[command(flatten)]
    pub wait: WaitArgs,
    /// On Ctrl-C or SIGTERM, cancel the replay before exiting
    #[arg(long)]
    pub cancel_on_interrupt: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Replay name (default: the last replay started from this machine)
    pub name: Option<String>,
    /// Follow the replay until it ends
    #[arg(long)]
    pub watch: bool,
    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only replays in this state
    #[arg(long, value_parser = replay_state)]
    pub state: Option<ReplayState>,
    /// Only replays from this archive (name or ARN)
    #[arg(long)]
    pub archive: Option<String>,
    /// At most this many replays (1 to 10,000)
    #[arg(long, default_value_t = 50, value_parser = count::<usize>(limits::LIST_LIMIT))]
    pub limit: usize,
    /// Only replays started from this machine (the local journal)
    #[arg(long)]
    pub mine: bool,
}

#[derive(Debug, Args)]
pub struct CancelArgs {
    /// Replay name
    pub name: String,
    /// Wait until the replay has stopped
    #[arg(long)]
    pub wait: bool,
    #[command(flatten)]
    pub wait_opts: WaitArgs,
}

fn duration(s: &str) -> Result<Duration, String> {
    crate::window::parse_duration("duration", s)
}

/// A whole-number flag within its range (`crate::limits`, shared with playbook fields).
fn count<T: TryFrom<u64>>(
    limit: limits::Count,
) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static {
    move |s| {
        limit
            .parse(s)
            .and_then(|n| T::try_from(n).map_err(|_| format!("{s:?} is too large")))
    }
}

/// A duration flag within its range.
fn span(
    limit: limits::Span,
) -> impl Fn(&str) -> Result<Duration, String> + Clone + Send + Sync + 'static {
    move |s| limit.parse(s)
}

fn rate(s: &str) -> Result<f64, String> {
    limits::RATE.parse(s)
}

fn replay_state(s: &str) -> Result<ReplayState, String> {
    match ReplayState::parse(&s.to_ascii_uppercase()) {
        ReplayState::Other(_) => {
            Err("use STARTING, RUNNING, CANCELLING, COMPLETED, CANCELLED or FAILED".into())
        }
        state => Ok(state),
    }
}

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// The DLQs discovered from the bus's rule targets, with approximate depth
    List(BusArg),
    /// Summarise a DLQ by rule, error code, event type and age, with samples (consumes nothing)
    Peek {
        /// Queue URL, ARN or name
        #[arg(long)]
        queue: String,
        /// Messages to look at (1 to 120,000; each is held in flight until the end)
        #[arg(long, default_value_t = 100, value_parser = count::<usize>(limits::BROWSE_MAX))]
        max: usize,
        /// Sample events to show (0 to 100)
        #[arg(long, default_value_t = 3, value_parser = count::<usize>(limits::SAMPLES))]
        samples: usize,
    },
    /// Write a DLQ's messages (body and attributes) to a JSON Lines file (deletes nothing)
    Export {
        /// Queue URL, ARN or name
        #[arg(long)]
        queue: String,
        /// Output file (.jsonl)
        #[arg(long)]
        out: PathBuf,
        /// Messages to export at most (1 to 120,000; each is held in flight until the end)
        #[arg(long, default_value_t = 100_000, value_parser = count::<usize>(limits::BROWSE_MAX))]
        max: usize,
        /// Overwrite an existing file
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum PlaybookCommand {
    /// The shipped playbooks and yours ($XDG_CONFIG_HOME/nexus-replay/playbooks)
    List,
    /// A playbook as a runbook: when to use it, parameters, steps
    Show {
        /// Playbook name or path to a .toml file
        name: String,
    },
    /// Check playbooks (all known ones when none is named); every problem with file and line; exit 2 if any
    Validate {
        /// Playbook names or paths to .toml files
        files: Vec<String>,
    },
    /// Resolve every step against the account: exact UTC windows, rules, queues (changes nothing)
    Plan(Box<PlaybookRunArgs>),
    /// Run a playbook; stops at the first failed step and says how to resume
    Run(Box<PlaybookRunArgs>),
}

#[derive(Debug, Args)]
pub struct PlaybookRunArgs {
    /// Playbook name or path to a .toml file
    pub name: String,
    /// Set a parameter (repeatable), e.g. --set since=4h
    #[arg(long = "set", value_name = "NAME=VALUE", value_parser = key_value)]
    pub sets: Vec<(String, String)>,
    /// Start at this step (1-based); earlier steps' outputs and parameters come from the run record
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub from_step: Option<u32>,
    /// The run to resume with --from-step (default: this playbook's latest run)
    #[arg(long, value_name = "RUN_ID", requires = "from_step")]
    pub resume: Option<String>,
}

fn key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!(
            "{s:?} is not NAME=VALUE; write e.g. --set since=4h"
        )),
    }
}

#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Create the ledger: the SQLite file, or the DynamoDB table (on-demand, TTL on expires_at); safe to repeat
    Init {
        #[arg(long, value_name = "URL")]
        ledger: Option<String>,
    },
    /// One dedup key's record (exit 3 when there is none)
    Show {
        key: String,
        /// sqlite (default, in the state dir), sqlite:PATH or dynamodb://TABLE
        #[arg(long, value_name = "URL")]
        ledger: Option<String>,
    },
    /// Records by state
    Stats {
        #[arg(long, value_name = "URL")]
        ledger: Option<String>,
    },
    /// Remove expired records (SQLite; DynamoDB expires them by TTL)
    Prune {
        #[arg(long, value_name = "URL")]
        ledger: Option<String>,
    },
}

/// Opens the ledger a `ledger` subcommand names; `none` makes no sense there.
async fn open_ledger(
    settings: &Settings,
    url: Option<&str>,
) -> Result<std::sync::Arc<dyn crate::ports::ledger::Ledger>, AppError> {
    let spec = crate::ledger::open::parse(url, &settings.state_dir)?;
    let clients = match spec {
        crate::ledger::open::LedgerSpec::DynamoDb(_) => Some(Clients::load(&settings.aws).await?),
        _ => None,
    };
    crate::ledger::open::open(&spec, clients.as_ref())?.ok_or_else(|| {
        AppError::usage(
            "--ledger none has no records; name a ledger: sqlite, sqlite:PATH or dynamodb://TABLE",
        )
    })
}

/// Options shared by drain and reemit: dedup, ledger and PutEvents limits.
#[derive(Debug, Args)]
pub struct EmitArgs {
    /// Dedup key: a dotted path or `hash` (default: detail.id when it is a Stripe event id, evt_… or from a Stripe source; else the envelope id)
    #[arg(long, value_name = "PATH|hash")]
    pub dedup_key: Option<String>,
    /// Dedup ledger: sqlite (default, in the state dir), sqlite:PATH, dynamodb://TABLE (shared by hosts), or none
    #[arg(long, value_name = "URL|none")]
    pub ledger: Option<String>,
    /// Park (or leave) events already redriven more than this many times (1 to 100)
    #[arg(long, default_value_t = 3, value_parser = count::<u32>(limits::MAX_REDRIVES))]
    pub max_redrives: u32,
    /// PutEvents size limit per call in bytes (AWS: 256 KiB; 1 KiB to 1 MiB)
    #[arg(long, value_name = "BYTES", value_parser = count::<usize>(limits::SIZE_LIMIT))]
    pub size_limit: Option<usize>,
    /// At most this many events per second (0.01 to 10,000)
    #[arg(long, value_name = "N", value_parser = rate)]
    pub rate: Option<f64>,
    /// Show what would happen; change nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct DrainArgs {
    /// DLQ to drain: URL, ARN or name (repeatable)
    #[arg(long = "queue", value_name = "Q", required_unless_present = "bus")]
    pub queues: Vec<String>,
    /// Drain every DLQ behind the rule targets of this bus
    #[arg(long)]
    pub bus: Option<String>,
    /// Re-emit to this bus instead of the one in each message's RULE_ARN
    #[arg(long)]
    pub to_bus: Option<String>,
    /// Only these event types (detail.type, else detail-type; repeatable)
    #[arg(long = "event-type", value_name = "TYPE")]
    pub event_types: Vec<String>,
    /// Only these sources (repeatable)
    #[arg(long = "source", value_name = "SOURCE")]
    pub sources: Vec<String>,
    /// Only messages from these rules, by name or ARN (repeatable)
    #[arg(long = "rule", value_name = "RULE")]
    pub rules: Vec<String>,
    /// Only these ERROR_CODE values (repeatable)
    #[arg(long = "error-code", value_name = "CODE")]
    pub error_codes: Vec<String>,
    /// Only events matching this EventBridge pattern (JSON)
    #[arg(long, value_name = "JSON")]
    pub pattern: Option<String>,
    /// Only events at least this old
    #[arg(long, value_name = "DUR", value_parser = duration)]
    pub min_age: Option<Duration>,
    /// Where the event type lives, tried in order
    #[arg(
        long = "type-field",
        value_name = "PATH",
        value_delimiter = ',',
        default_value = "detail.type,detail-type"
    )]
    pub type_fields: Vec<String>,
    /// Stop after this many messages (at least 1)
    #[arg(long, value_name = "N", value_parser = count::<u64>(limits::MAX_MESSAGES))]
    pub max_messages: Option<u64>,
    /// Stop after this long (1s to 30 days)
    #[arg(long, value_name = "DUR", value_parser = span(limits::MAX_DURATION))]
    pub max_duration: Option<Duration>,
    /// Pipelines per queue (default 32, chosen in docs/benchmarks.md; 1 to 256; lower it, or cap with --rate, to spare the targets)
    #[arg(long, value_name = "N", value_parser = count::<usize>(limits::CONCURRENCY))]
    pub concurrency: Option<usize>,
    /// Copy poison messages here (with the reason) before deleting them
    #[arg(long, value_name = "Q")]
    pub park_queue: Option<String>,
    /// Visibility timeout for received messages, extended while in flight (10s to 12h)
    #[arg(long, value_name = "DUR", value_parser = span(limits::VISIBILITY))]
    pub visibility_timeout: Option<Duration>,
    /// Long-poll wait per receive (0s to 20s)
    #[arg(long, value_name = "DUR", value_parser = span(limits::RECEIVE_WAIT))]
    pub receive_wait: Option<Duration>,
    /// How long a key's claim holds off other runs (default 5m; 10s to 7 days, the ledger's record lifetime; after a crash, the dead run's keys are retried after this)
    #[arg(long, value_name = "DUR", value_parser = span(limits::CLAIM_TIMEOUT))]
    pub claim_timeout: Option<Duration>,
    #[command(flatten)]
    pub emit: EmitArgs,
}

#[derive(Debug, Args)]
pub struct ReemitArgs {
    /// A file written by `dlq export`
    #[arg(long)]
    pub from: PathBuf,
    /// Re-emit to this bus instead of the one in each message's RULE_ARN
    #[arg(long)]
    pub bus: Option<String>,
    #[command(flatten)]
    pub emit: EmitArgs,
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
        Err(e) => return parse_failed(&e),
    };
    let verbosity = cli.global.verbose as i8 - cli.global.quiet as i8;
    let log_format = match cli.global.log_format {
        LogFormatArg::Text => LogFormat::Text,
        LogFormatArg::Json => LogFormat::Json,
    };
    logging::init(verbosity, log_format, cli.global.log_payloads);
    let settings = match resolve(&cli.global, verbosity) {
        Ok(s) => s,
        Err(e) => {
            // The settings did not resolve: report where the flags, env or file ask for.
            let args: Vec<String> = std::env::args().collect();
            let mut sinks = Sinks::early(&args, |k| std::env::var(k).ok());
            sinks.log_format = log_format;
            return fail(&e, sinks);
        }
    };
    let sinks = Sinks {
        output: settings.output,
        log_format: settings.log_format,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return fail(
                &AppError::Io(format!("cannot start the async runtime: {e}")),
                sinks,
            );
        }
    };
    match runtime.block_on(run(cli.command, &settings)) {
        Ok(code) => code,
        Err(e) => fail(&e, sinks),
    }
}

fn fail(e: &AppError, sinks: Sinks) -> u8 {
    tracing::debug!(error = ?e, "command failed");
    failure::report(&ErrorDoc::of(e), sinks);
    e.exit_code()
}

/// A command line clap refused: its own message on stderr (or one JSON log line), and the
/// error document on stdout when `--output json` is asked for on the command line, in
/// `NEXUS_REPLAY_OUTPUT` or in the config file. `--help` and `--version` are not failures.
fn parse_failed(e: &clap::Error) -> u8 {
    if !e.use_stderr() {
        let _ = e.print();
        return exit_codes::SUCCESS;
    }
    let args: Vec<String> = std::env::args().collect();
    let sinks = Sinks::early(&args, |k| std::env::var(k).ok());
    let rendered = e.render().to_string();
    // clap's text: "error: WHAT" (maybe more lines), then blank-line separated tips, usage
    // and "For more information, try '--help'."
    let mut paragraphs = rendered.split("\n\n");
    let what = paragraphs.next().unwrap_or_default();
    let what = what.strip_prefix("error: ").unwrap_or(what);
    let hint: Vec<String> = paragraphs
        .flat_map(str::lines)
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    let doc = ErrorDoc {
        error: what.lines().map(str::trim).collect::<Vec<_>>().join(" "),
        kind: "usage",
        exit_code: exit_codes::USAGE,
        hint: (!hint.is_empty()).then(|| hint.join("; ")),
        operation: None,
        aws_error_code: None,
    };
    match sinks.log_format {
        LogFormat::Text => {
            let _ = e.print();
            if sinks.output == OutputMode::Json {
                failure::print_json(&doc);
            }
        }
        LogFormat::Json => failure::report(&doc, sinks),
    }
    exit_codes::USAGE
}

fn resolve(g: &GlobalArgs, verbosity: i8) -> Result<Settings, AppError> {
    let (config_path, file) = settings::load_file(g.config.as_deref())?;
    if let Some(path) = &config_path {
        log_config_file(path, &file, g);
        if g.endpoint_url.is_none() && file.endpoint_url.is_some() {
            settings::check_endpoint_source(path)?;
        }
    }
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

/// Says which config file was read and each setting it gave (info), or that a flag or
/// `NEXUS_REPLAY_*` variable won over it (debug): a file in the current directory is read
/// without being asked for.
fn log_config_file(path: &std::path::Path, file: &settings::FileConfig, g: &GlobalArgs) {
    tracing::info!("read config file {}", path.display());
    for (key, value) in file.entries() {
        let overridden = match key {
            "region" => g.region.is_some(),
            "profile" => g.profile.is_some(),
            "endpoint_url" => g.endpoint_url.is_some(),
            "output" => g.output.is_some(),
            _ => false,
        };
        if overridden {
            tracing::debug!(
                "config file {}: {key} not used: a flag or NEXUS_REPLAY_* variable sets it",
                path.display()
            );
        } else {
            tracing::info!("config file {}: {key} = {value:?}", path.display());
        }
    }
}

fn print<R: Report>(settings: &Settings, report: &R) -> Result<u8, AppError> {
    output::emit(settings.output, report)
        .map_err(|e| AppError::Io(format!("cannot write to stdout: {e}")))?;
    Ok(report.exit_code())
}

async fn run(command: Command, settings: &Settings) -> Result<u8, AppError> {
    crate::signals::install();
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
        Command::Start(a) => {
            let a = *a;
            let opts = StartOptions {
                plan: PlanRequest {
                    archive: a.archive.or_else(|| settings.default_archive.clone()),
                    bus: a.bus.or_else(|| settings.default_bus.clone()),
                    since: a.since,
                    until: a.until,
                    event_types: a.event_types,
                    sources: a.sources,
                    rules: a.rules,
                    all_rules: a.all_rules,
                    include_catch_all: a.include_catch_all,
                    type_fields: a.type_fields,
                    name: a.name,
                    description: a.description,
                    started_by: started_by(),
                },
                dry_run: a.dry_run,
                no_wait: a.no_wait,
                watch: WatchOptions {
                    poll: a.wait.poll,
                    timeout: a.wait.timeout,
                    cancel_on_interrupt: a.cancel_on_interrupt,
                },
            };
            let c = Clients::load(&settings.aws).await?;
            let journal = Journal::in_dir(&settings.state_dir);
            let mut observer = observer(settings);
            let report = crate::commands::start::start(
                &c.eventbridge,
                &c.eventbridge,
                &journal,
                &opts,
                &mut |plan| confirm(settings, plan),
                observer.as_mut(),
                interrupt(),
                now,
            )
            .await?;
            print(settings, &report)
        }
        Command::Status(a) => {
            let journal = Journal::in_dir(&settings.state_dir);
            let name = crate::commands::status::name_or_last(a.name.as_deref(), &journal)?;
            let c = Clients::load(&settings.aws).await?;
            let opts = watch_options(&a.wait, false);
            let mut observer = observer(settings);
            let report = crate::commands::status::status(
                &c.eventbridge,
                &name,
                a.watch.then_some(&opts),
                observer.as_mut(),
                interrupt(),
            )
            .await?;
            print(settings, &report)
        }
        Command::List(a) => {
            let c = Clients::load(&settings.aws).await?;
            let req = ListRequest {
                state: a.state,
                archive: a.archive,
                limit: a.limit,
                mine: a.mine,
            };
            let journal = Journal::in_dir(&settings.state_dir);
            let report =
                crate::commands::list::list(&c.eventbridge, &c.eventbridge, &journal, &req).await?;
            print(settings, &report)
        }
        Command::Cancel(a) => {
            let c = Clients::load(&settings.aws).await?;
            let opts = watch_options(&a.wait_opts, false);
            let mut observer = observer(settings);
            let report = crate::commands::cancel::cancel(
                &c.eventbridge,
                &a.name,
                a.wait.then_some(&opts),
                observer.as_mut(),
                interrupt(),
            )
            .await?;
            print(settings, &report)
        }
        Command::Dlq(DlqCommand::Peek {
            queue,
            max,
            samples,
        }) => {
            let c = Clients::load(&settings.aws).await?;
            print(
                settings,
                &crate::commands::dlq_peek::peek(&c.sqs, &queue, max, samples, now).await?,
            )
        }
        Command::Dlq(DlqCommand::Export {
            queue,
            out,
            max,
            force,
        }) => {
            let c = Clients::load(&settings.aws).await?;
            print(
                settings,
                &crate::commands::dlq_export::export(&c.sqs, &queue, &out, max, force).await?,
            )
        }
        Command::Drain(a) => {
            let a = *a;
            let req = DrainRequest {
                queues: a.queues,
                bus: a.bus,
                to_bus: a.to_bus,
                event_types: a.event_types,
                sources: a.sources,
                rules: a.rules,
                error_codes: a.error_codes,
                pattern: a.pattern,
                min_age: a.min_age,
                type_fields: a.type_fields,
                max_messages: a.max_messages,
                max_duration: a.max_duration,
                concurrency: a.concurrency,
                rate: a.emit.rate,
                dedup_key: a.emit.dedup_key.clone(),
                max_redrives: a.emit.max_redrives,
                park_queue: a.park_queue,
                dry_run: a.emit.dry_run,
                size_limit: a.emit.size_limit,
                visibility: a.visibility_timeout,
                receive_wait: a.receive_wait,
                claim_timeout: a.claim_timeout,
            };
            let c = Clients::load(&settings.aws).await?;
            let cfg =
                crate::commands::drain::prepare(&c.eventbridge, &c.sqs, &req, run_id()).await?;
            let ports = drain_ports(settings, &c, &a.emit)?;
            if !cfg.dry_run {
                let names: Vec<&str> = cfg.queues.iter().map(|q| q.name.as_str()).collect();
                confirm_change(
                    settings,
                    &format!("Drain {} and re-emit to the bus", names.join(", ")),
                )?;
            }
            let observer = drain_observer(settings, cfg.dry_run);
            let report = crate::commands::drain::run(cfg, ports, observer, interrupt()).await?;
            print(settings, &report)
        }
        Command::Reemit(a) => {
            let a = *a;
            let c = Clients::load(&settings.aws).await?;
            if let Some(b) = &a.bus {
                crate::commands::drain::check_bus_exists(&c.eventbridge, b, "--bus").await?;
            }
            let req = crate::commands::reemit::ReemitRequest {
                bus: a.bus,
                dedup_key: a.emit.dedup_key.clone(),
                max_redrives: a.emit.max_redrives,
                rate: a.emit.rate,
                size_limit: a.emit.size_limit,
                dry_run: a.emit.dry_run,
            };
            let cfg = crate::commands::reemit::config(&req, run_id())?;
            crate::commands::dlq_export::read(&a.from)?;
            let ports = drain_ports(settings, &c, &a.emit)?;
            if !cfg.dry_run {
                confirm_change(
                    settings,
                    &format!("Re-emit the events in {}", a.from.display()),
                )?;
            }
            let observer = drain_observer(settings, cfg.dry_run);
            let report =
                crate::commands::reemit::reemit(&a.from, cfg, ports, observer, interrupt()).await?;
            print(settings, &report)
        }
        Command::Ledger(LedgerCommand::Init { ledger }) => {
            let spec = crate::ledger::open::parse(ledger.as_deref(), &settings.state_dir)?;
            let report = match &spec {
                crate::ledger::open::LedgerSpec::DynamoDb(table) => {
                    let c = Clients::load(&settings.aws).await?;
                    crate::commands::ledger::InitReport::from(
                        c.dynamo_ledger(table)
                            .init(Duration::from_secs(120))
                            .await?,
                    )
                }
                crate::ledger::open::LedgerSpec::Sqlite(path) => {
                    let existed = path.exists();
                    let l = open_ledger(settings, ledger.as_deref()).await?;
                    crate::commands::ledger::InitReport::local(l.as_ref(), !existed)
                }
                crate::ledger::open::LedgerSpec::None => {
                    return Err(AppError::usage(
                        "--ledger none has nothing to create; name sqlite, sqlite:PATH or dynamodb://TABLE",
                    ));
                }
            };
            print(settings, &report)
        }
        Command::Ledger(LedgerCommand::Show { key, ledger }) => {
            let l = open_ledger(settings, ledger.as_deref()).await?;
            print(
                settings,
                &crate::commands::ledger::show(l.as_ref(), &key).await?,
            )
        }
        Command::Ledger(LedgerCommand::Stats { ledger }) => {
            let l = open_ledger(settings, ledger.as_deref()).await?;
            print(
                settings,
                &crate::commands::ledger::stats(l.as_ref(), now).await?,
            )
        }
        Command::Ledger(LedgerCommand::Prune { ledger }) => {
            let l = open_ledger(settings, ledger.as_deref()).await?;
            print(
                settings,
                &crate::commands::ledger::prune(l.as_ref(), now).await?,
            )
        }
        Command::Playbook(cmd) => playbook(cmd, settings).await,
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

fn watch_options(w: &WaitArgs, cancel_on_interrupt: bool) -> WatchOptions {
    WatchOptions {
        poll: w.poll,
        timeout: w.timeout,
        cancel_on_interrupt,
    }
}

/// A progress bar on a terminal, plain lines elsewhere, nothing with -q.
fn observer(settings: &Settings) -> Box<dyn WatchObserver> {
    if settings.verbosity < 0 {
        Box::new(Quiet)
    } else if settings.progress && std::io::stderr().is_terminal() {
        Box::new(Bar::new())
    } else {
        Box::new(Lines::stderr(settings.progress))
    }
}

/// `user@host` for replay descriptions.
fn started_by() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "unknown-host".into());
    format!("{user}@{host}")
}

/// Asks once on a terminal; `--yes` skips; no terminal and no `--yes` is a usage error.
fn confirm(settings: &Settings, plan: &ReplayPlan) -> Result<bool, AppError> {
    if settings.verbosity >= 0 {
        eprint!("{}", plan.human());
    } else {
        for w in &plan.warnings {
            tracing::warn!("{w}");
        }
    }
    if settings.yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        return Err(AppError::usage(format!(
            "refusing to start replay {} without confirmation: stdin is not a terminal; pass --yes",
            plan.name
        )));
    }
    ask(&format!("Start replay {}?", plan.name))
}

/// Asks a yes/no question on the terminal; only y or yes is yes.
fn ask(question: &str) -> Result<bool, AppError> {
    eprint!("{question} [y/N] ");
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| AppError::Io(format!("cannot read the answer: {e}")))?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

/// `nexus-20250908T140501-3f9a2c`: sortable and unique.
fn run_id() -> String {
    format!(
        "nexus-{}-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S"),
        crate::ids::random_hex(6)
    )
}

fn drain_ports(
    settings: &Settings,
    c: &Clients,
    emit: &EmitArgs,
) -> Result<crate::drain::engine::DrainPorts, AppError> {
    let spec = crate::ledger::open::parse(emit.ledger.as_deref(), &settings.state_dir)?;
    let ledger = if emit.dry_run {
        None
    } else {
        crate::ledger::open::open(&spec, Some(c))?
    };
    Ok(crate::drain::engine::DrainPorts {
        queue: std::sync::Arc::new(c.sqs.clone()),
        sink: std::sync::Arc::new(c.eventbridge.clone()),
        ledger,
        rules: Some(std::sync::Arc::new(c.eventbridge.clone())),
        clock: c.clock.clone(),
    })
}

fn drain_observer(
    settings: &Settings,
    dry_run: bool,
) -> std::sync::Arc<dyn crate::drain::engine::DrainObserver> {
    use crate::drain::display::{DrainBar, DrainLines};
    if settings.verbosity < 0 || !settings.progress {
        std::sync::Arc::new(crate::drain::engine::QuietDrain)
    } else if std::io::stderr().is_terminal() {
        std::sync::Arc::new(DrainBar::new(dry_run))
    } else {
        std::sync::Arc::new(DrainLines::new(Duration::from_secs(30), dry_run))
    }
}

/// Confirms a change once on a terminal; `--yes` skips; off a terminal `--yes` is required.
fn confirm_change(settings: &Settings, what: &str) -> Result<(), AppError> {
    if settings.yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(AppError::usage(format!(
            "refusing to change anything without confirmation ({what}): stdin is not a terminal; pass --yes"
        )));
    }
    if ask(&format!("{what}?"))? {
        Ok(())
    } else {
        Err(AppError::usage("not confirmed; nothing was changed"))
    }
}

async fn playbook(cmd: PlaybookCommand, settings: &Settings) -> Result<u8, AppError> {
    use crate::commands::playbook as report;
    use crate::playbook::{catalog, exec};
    let user_dir = catalog::user_dir();
    let user = user_dir.as_deref();
    match cmd {
        PlaybookCommand::List => {
            let found = catalog::all(user)?;
            print(
                settings,
                &report::list(&found, user_dir.map(|d| d.display().to_string())),
            )
        }
        PlaybookCommand::Show { name } => {
            let found = catalog::find(&name, user)?;
            let playbook = catalog::open(&found)?;
            print(
                settings,
                &report::ShowReport {
                    playbook,
                    source: found.text,
                },
            )
        }
        PlaybookCommand::Validate { files } => {
            let found = report::found_or_all(&files, user)?;
            print(settings, &report::validate(&found))
        }
        PlaybookCommand::Plan(a) => {
            let found = catalog::find(&a.name, user)?;
            let pb = catalog::open(&found)?;
            let opts = run_options(settings, &a, String::new());
            let (mut scope, _) = exec::prepare_run(&pb, &opts)?;
            let c = Clients::load(&settings.aws).await?;
            let ports = playbook_ports(settings, &c);
            let plan =
                exec::plan(&pb, &mut scope, &ports, opts.from_step, chrono::Utc::now()).await?;
            print(settings, &plan)
        }
        PlaybookCommand::Run(a) => {
            let found = catalog::find(&a.name, user)?;
            let pb = catalog::open(&found)?;
            let opts = run_options(settings, &a, run_id());
            let (scope, previous) = exec::prepare_run(&pb, &opts)?;
            if let Some(p) = &previous {
                tracing::info!(
                    "resuming run {} of {} at step {}: its parameters and earlier outputs are reused",
                    p.run_id,
                    p.playbook,
                    opts.from_step
                );
            }
            let c = Clients::load(&settings.aws).await?;
            let ports = playbook_ports(settings, &c);
            let plan = exec::plan(
                &pb,
                &mut scope.clone(),
                &ports,
                opts.from_step,
                chrono::Utc::now(),
            )
            .await?;
            if settings.verbosity >= 0 {
                eprint!("{}", plan.human());
                eprintln!();
            }
            confirm_change(
                settings,
                &format!(
                    "Run playbook {} from step {} of {}",
                    pb.name,
                    opts.from_step,
                    pb.steps.len()
                ),
            )?;
            let mut ui = CliInteract { settings };
            let record =
                exec::run(&pb, &plan, scope, previous.as_ref(), &ports, &mut ui, &opts).await?;
            print(settings, &record)
        }
    }
}

fn run_options(
    settings: &Settings,
    a: &PlaybookRunArgs,
    run_id: String,
) -> crate::playbook::exec::RunOptions {
    crate::playbook::exec::RunOptions {
        sets: a.sets.clone(),
        yes: settings.yes,
        from_step: a.from_step.unwrap_or(1) as usize,
        resume: a.resume.clone(),
        invoked_as: a.name.clone(),
        state_dir: settings.state_dir.clone(),
        run_id,
    }
}

fn playbook_ports(settings: &Settings, c: &Clients) -> crate::playbook::exec::Ports {
    use std::sync::Arc;
    let state_dir = settings.state_dir.clone();
    let aws = c.clone();
    crate::playbook::exec::Ports {
        cat: Arc::new(c.eventbridge.clone()),
        ctl: Arc::new(c.eventbridge.clone()),
        queue: Arc::new(c.sqs.clone()),
        sink: Arc::new(c.eventbridge.clone()),
        ledger: Box::new(move |url| {
            let spec = crate::ledger::open::parse(url, &state_dir)?;
            crate::ledger::open::open(&spec, Some(&aws))
        }),
        journal: Journal::in_dir(&settings.state_dir),
        started_by: started_by(),
    }
}

/// The terminal side of a playbook run: prompts, progress, each step's report.
struct CliInteract<'a> {
    settings: &'a Settings,
}

impl crate::playbook::exec::Interact for CliInteract<'_> {
    fn confirm(&mut self, question: &str) -> Result<bool, AppError> {
        if !std::io::stdin().is_terminal() {
            return Err(AppError::usage(format!(
                "a confirm step asks {question:?} but stdin is not a terminal; pass --yes to skip confirm steps"
            )));
        }
        ask(question)
    }

    fn watch_observer(&mut self) -> Box<dyn WatchObserver> {
        observer(self.settings)
    }

    fn drain_observer(&mut self) -> std::sync::Arc<dyn crate::drain::engine::DrainObserver> {
        // Playbook drain steps always change things.
        drain_observer(self.settings, false)
    }

    fn interrupt(&mut self) -> crate::interrupt::Interrupt {
        Box::pin(interrupt())
    }

    fn signalled(&mut self) -> Option<crate::interrupt::Signal> {
        crate::signals::received()
    }

    fn step_started(&mut self, step: &crate::playbook::load::Step, total: usize) {
        if self.settings.verbosity >= 0 {
            eprintln!(
                "==> step {}/{total}: {}{}",
                step.number,
                step.kind.name(),
                step.title
                    .as_ref()
                    .map(|t| format!(" - {t}"))
                    .unwrap_or_default()
            );
        }
    }

    fn step_finished(&mut self, record: &crate::playbook::exec::StepRecord, human: &str) {
        if self.settings.output == OutputMode::Human && !human.is_empty() {
            print!("--- step {} ({}):\n{human}", record.number, record.kind);
            use std::io::Write;
            let _ = std::io::stdout().flush();
        }
        if let Some(e) = &record.error {
            tracing::error!("step {} ({}) failed: {e}", record.number, record.kind);
        }
    }
}
