//! The command line as clap types, and nothing else: the option families come from
//! `crate::options` and the engine requests, flattened in.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

use crate::commands::archive_export::ExportArgs;
use crate::commands::drain::DrainRequest;
use crate::commands::reemit::ReemitRequest;
use crate::limits;
use crate::options::{EventFilter, WaitOptions, count};
use crate::ports::replay::ReplayState;

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
    /// See inside archives: list them, or export a window's events to a JSON Lines file
    #[command(subcommand)]
    Archive(ArchiveCommand),
    /// Show a bus's rules with patterns, targets, DLQs and retry policies
    Rules(BusArg),
    /// Dead-letter queues behind rule targets
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// Incident-readiness checks for a bus (exit 3 if any check FAILs)
    Doctor(BusArg),
    /// What a window's failed deliveries lost, where they are now, and the command that recovers each (CloudWatch metrics, DLQs, archives)
    Triage(super::triage::TriageArgs),
    /// Replay archived events of a time window to the rules that match the event types
    Start(Box<StartArgs>),
    /// Show a replay's state and progress (default: the last one started here)
    Status(StatusArgs),
    /// List replays
    List(ListArgs),
    /// Cancel a STARTING or RUNNING replay
    Cancel(CancelArgs),
    /// Re-emit dead-lettered events to their bus (or, with --to target, to the rule target that failed) with dedup keys, deleting only what was re-emitted
    Drain(Box<DrainRequest>),
    /// Re-emit messages from a `dlq export` file with the same dedup and ledger rules
    Reemit(Box<ReemitRequest>),
    /// Stripe events that never reached the bus: find them (`stripe reconcile`) and re-emit them
    #[command(subcommand)]
    Stripe(super::stripe::StripeCommand),
    /// Look into the dedup ledger
    #[command(subcommand)]
    Ledger(LedgerCommand),
    /// Declarative recovery procedures: replay, drain, verify (see playbooks/README.md)
    #[command(subcommand)]
    Playbook(PlaybookCommand),
    /// Print a shell completion script on stdout (see the README to install it)
    Completions {
        /// The shell to complete for
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) on stdout, e.g. `nexus-replay man > nexus-replay.1`
    Man,
    /// Local emulator sandbox (used by the quickstart and tests)
    #[command(subcommand, hide = true)]
    Sandbox(SandboxCommand),
}

#[derive(Debug, Args)]
pub struct StartArgs {
    /// Archive name or ARN (default, or `auto`: the bus's only ENABLED archive)
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
    #[command(flatten)]
    pub filter: EventFilter,
    /// Replay to every rule on the bus (no FilterArns)
    #[arg(long)]
    pub all_rules: bool,
    /// Also select rules whose patterns do not constrain the event type (catch-alls)
    #[arg(long)]
    pub include_catch_all: bool,
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
    pub wait: WaitOptions,
    /// On Ctrl-C or SIGTERM, cancel the replay before exiting
    #[arg(long)]
    pub cancel_on_interrupt: bool,
    /// Replay exactly the named types (or --id events) to exactly the targets of the selected rules: export the window, show the plan, ask once, deliver with the ledger (a rerun skips what was delivered)
    #[arg(long, conflicts_with_all = ["all_rules", "no_wait", "name", "cancel_on_interrupt"])]
    pub exact: bool,
    /// With --exact, event id (repeatable): the envelope id, or detail.id (a Stripe event id)
    #[arg(long = "id", value_name = "ID", requires = "exact")]
    pub ids: Vec<String>,
    /// With --exact, how long the export waits for late deliveries after its replay COMPLETED (default 30s; 1s to 10m)
    #[arg(long, value_name = "DUR", requires = "exact", value_parser = crate::commands::archive_export::settle)]
    pub settle: Option<std::time::Duration>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Replay name (default: the last replay started from this machine)
    pub name: Option<String>,
    /// Follow the replay until it ends
    #[arg(long)]
    pub watch: bool,
    #[command(flatten)]
    pub wait: WaitOptions,
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
    pub wait_opts: WaitOptions,
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
pub enum ArchiveCommand {
    /// List archives with retention, approximate size and the earliest replayable time (as `archives`)
    List(BusArg),
    /// Write the archived events of a window to a JSON Lines file, through a temporary rule and queue of its own
    Export(Box<ExportArgs>),
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
    /// The recorded runs, newest first: id, playbook, start, duration, status, failing step
    Runs(super::playbook_history::RunsArgs),
    /// A run's incident report for the postmortem (Markdown; --format json for JSON)
    Report(super::playbook_history::ReportArgs),
    /// Write a playbook set for a bus from its rules: an outage playbook per consumer rule, a nightly drain, a partner cutover
    Init(super::playbook_init::InitArgs),
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
    /// The bus a `bus` parameter without a default takes (else NEXUS_REPLAY_BUS or `bus` in the config file)
    #[arg(long, env = "NEXUS_REPLAY_BUS")]
    pub bus: Option<String>,
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
