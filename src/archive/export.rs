//! `archive export`: which events does an archive hold? EventBridge has no API that lists
//! them, so the export replays the window to a temporary rule of its own and captures what
//! arrives:
//!
//! 1. checks (no side effects): the archive, the window, the filter, 10 active replays;
//! 2. creates a queue only that rule may send to, the rule (its pattern: the filter and
//!    `"replay-name": ["<this replay>"]`, so live traffic never matches), the queue as its
//!    target ([`super::resources`]);
//! 3. starts a replay of the window with `FilterArns` = that rule, watches it as `start`
//!    does, and receives the queue meanwhile and until it stayed empty for the settle
//!    period after COMPLETED ([`super::receive`]);
//! 4. applies the window and the pattern again locally, drops `replay-name` and copies, and
//!    writes each event once per line to a file that appears only when the export
//!    completed ([`super::collect`], [`super::jsonl`]);
//! 5. always removes the target, the rule and the queue (and cancels the replay if it has
//!    not ended): on success, on failure and on interrupt, and reports each.

use std::future::{Future, pending};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch as phase;
use tokio::time::Instant;

use super::check::{CheckedArchive, check};
use super::collect::{Collector, Verdict};
use super::filter::{CapturePattern, ExportFilter, capture_pattern};
use super::jsonl::AtomicJsonl;
use super::names::RunNames;
use super::progress::{ExportObserver, WatchForward};
use super::receive::{Phase, ReceiveOptions, receive_until_settled};
use super::report::{ExportError, ExportOutcome, ExportReport, RequestedWindow, TempResource};
use super::resources::{Created, Setup};
use crate::drain::event::DedupSpec;
use crate::error::AppError;
use crate::interrupt::Signal;
use crate::ports::PortError;
use crate::ports::bus::BusCatalogue;
use crate::ports::capture::{CaptureResources, queue_arn_beside, rule_arn_on};
use crate::ports::queue::{Queue, ReceivedMessage};
use crate::ports::replay::{ReplayControl, ReplayFilter, ReplayRequest, ReplayState, ReplayStatus};
use crate::replay::naming::clip_description;
use crate::replay::plan::{DEFAULT_TYPE_FIELDS, MAX_ACTIVE_REPLAYS};
use crate::replay::watch::{WatchOptions, WatchOutcome, watch};

/// The ports an export works through.
#[derive(Clone, Copy)]
pub struct ExportPorts<'a> {
    pub catalogue: &'a dyn BusCatalogue,
    pub replays: &'a dyn ReplayControl,
    pub resources: &'a dyn CaptureResources,
    pub queue: &'a dyn Queue,
}

/// How long to wait for what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportOptions {
    /// After COMPLETED, the queue must stay empty this long.
    pub settle: Duration,
    /// The long-poll wait of each receive (at most 20 s).
    pub receive_wait: Duration,
    /// A fixed DescribeReplay interval instead of 1 s backing off to 10 s.
    pub poll: Option<Duration>,
    /// Give up (exit 5) when the replay has not ended after this long.
    pub timeout: Option<Duration>,
}

/// On AWS: delivery trails the replay's COMPLETED by seconds, rarely more.
pub const DEFAULT_SETTLE: Duration = Duration::from_secs(30);

impl Default for ExportOptions {
    fn default() -> ExportOptions {
        ExportOptions {
            settle: DEFAULT_SETTLE,
            receive_wait: Duration::from_secs(20),
            poll: None,
            timeout: None,
        }
    }
}

/// What to export, as plain values.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    /// Archive name or ARN.
    pub archive: String,
    pub start: DateTime<Utc>,
    /// None: now − 10 minutes (archives lag ingestion).
    pub end: Option<DateTime<Utc>>,
    pub filter: ExportFilter,
    pub dedup: DedupSpec,
    /// The JSON Lines file to write.
    pub out: PathBuf,
    /// user@host, recorded in the replay's description.
    pub started_by: String,
    pub options: ExportOptions,
}

/// How long a received message stays invisible before it is deleted.
const VISIBILITY: Duration = Duration::from_secs(120);

/// Everything known before anything is created.
struct Prepared {
    checked: CheckedArchive,
    setup: Setup,
    type_fields: Vec<String>,
    pattern: CapturePattern,
}

/// How the run part of an export ended.
enum Ending {
    Completed,
    /// The replay ended FAILED or CANCELLED.
    Replay(ReplayState),
    TimedOut,
    Interrupted(Signal),
}

async fn active_replays(replays: &dyn ReplayControl) -> Result<Vec<ReplayStatus>, PortError> {
    let mut active = Vec::new();
    for state in [ReplayState::Starting, ReplayState::Running] {
        let filter = ReplayFilter {
            state: Some(state),
            ..ReplayFilter::default()
        };
        active.extend(replays.list_replays(&filter, 100).await?);
    }
    Ok(active)
}

fn listed(active: &[ReplayStatus]) -> String {
    active
        .iter()
        .map(|r| format!("{} ({})", r.name, r.state))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn prepare(
    ports: &ExportPorts<'_>,
    req: &ExportRequest,
    now: DateTime<Utc>,
) -> Result<Prepared, AppError> {
    let checked = check(ports.catalogue, &req.archive, req.start, req.end, now).await?;
    let type_fields: Vec<String> = if req.filter.type_fields.is_empty() {
        DEFAULT_TYPE_FIELDS.iter().map(|s| s.to_string()).collect()
    } else {
        req.filter.type_fields.clone()
    };
    let names = RunNames::new(now);
    let pattern =
        capture_pattern(&req.filter, &type_fields, &names.replay).map_err(AppError::Usage)?;
    let active = active_replays(ports.replays).await?;
    if active.len() >= MAX_ACTIVE_REPLAYS {
        return Err(AppError::usage(format!(
            "{} replays are already active, the account's limit is {MAX_ACTIVE_REPLAYS} and an export starts one: {}; wait for one to finish or cancel one with `nexus-replay cancel NAME`",
            active.len(),
            listed(&active)
        )));
    }
    let other = |e: String| AppError::Port(PortError::Other(e));
    let rule_arn = rule_arn_on(&checked.bus_arn, &names.rule).map_err(other)?;
    let queue_arn = queue_arn_beside(&rule_arn, &names.queue).map_err(other)?;
    Ok(Prepared {
        setup: Setup {
            archive: checked.archive.name.clone(),
            bus: checked.bus.clone(),
            rule_arn,
            queue_arn,
            pattern: pattern.text.clone(),
            names,
        },
        checked,
        type_fields,
        pattern,
    })
}

fn description(req: &ExportRequest, run_id: &str) -> String {
    let mut d = format!("nexus-replay archive export {run_id} by {}", req.started_by);
    let f = &req.filter;
    for (label, values) in [
        ("types", &f.event_types),
        ("sources", &f.sources),
        ("ids", &f.ids),
    ] {
        if !values.is_empty() {
            d.push_str(&format!("; {label}={}", values.join(",")));
        }
    }
    clip_description(d)
}

/// A StartReplay refusal, saying which limit it hit.
async fn start_error(replays: &dyn ReplayControl, e: PortError) -> AppError {
    match e {
        PortError::LimitExceeded(m) => {
            let active = active_replays(replays)
                .await
                .map(|a| format!(" ({})", listed(&a)))
                .unwrap_or_default();
            AppError::Port(PortError::LimitExceeded(format!(
                "{m}: the account already has {MAX_ACTIVE_REPLAYS} active replays in this Region{active}, the most EventBridge allows; wait for one to finish or cancel one with `nexus-replay cancel NAME`, then export again"
            )))
        }
        other => AppError::Port(other),
    }
}

/// Creates, replays and captures; `created` records every resource as it is asked for.
async fn run(
    ports: &ExportPorts<'_>,
    req: &ExportRequest,
    p: &Prepared,
    created: &mut Created,
    collector: &mut Collector,
    file: &mut AtomicJsonl,
    observer: &mut dyn ExportObserver,
) -> Result<Ending, AppError> {
    let names = &p.setup.names;
    let queue = created
        .create(&p.setup, ports.resources, &mut |s| observer.step(s))
        .await?;
    let request = ReplayRequest {
        name: names.replay.clone(),
        description: Some(description(req, &names.run_id)),
        archive_arn: p.checked.archive.arn.clone(),
        start: p.checked.window.start,
        end: p.checked.window.end,
        destination_bus_arn: p.checked.bus_arn.clone(),
        filter_arns: vec![p.setup.rule_arn.clone()],
    };
    if let Err(e) = created.start_replay(ports.replays, &request).await {
        return Err(start_error(ports.replays, e).await);
    }
    observer.step(&format!("started replay {}", names.replay));

    let observer = Mutex::new(observer);
    let (tx, rx) = phase::channel(Phase::Running);
    let wopts = WatchOptions {
        poll: req.options.poll,
        timeout: req.options.timeout,
        cancel_on_interrupt: false,
    };
    let last = &created.last_status;
    let watching = async {
        let mut forward = WatchForward {
            observer: &observer,
            last,
        };
        let out = watch(
            ports.replays,
            &names.replay,
            &wopts,
            &mut forward,
            pending::<Signal>(),
        )
        .await;
        let phase = match &out {
            Ok(WatchOutcome::Finished(s)) if s.state == ReplayState::Completed => {
                Phase::Completed(Instant::now())
            }
            _ => Phase::Stopped,
        };
        let _ = tx.send(phase);
        out
    };
    let mut take = |batch: &[ReceivedMessage]| -> Result<(), AppError> {
        for m in batch {
            if let Verdict::Write(line) = collector.judge(&m.body) {
                file.write_line(&line).map_err(|e| {
                    AppError::Io(format!("cannot write {}: {e}", file.temp_path().display()))
                })?;
            }
        }
        observer
            .lock()
            .expect("observer lock")
            .captured(&collector.tally);
        Ok(())
    };
    let ropts = ReceiveOptions {
        settle: req.options.settle,
        wait: req.options.receive_wait.min(Duration::from_secs(20)),
        visibility: VISIBILITY,
    };
    let receiving = receive_until_settled(ports.queue, &queue.url, rx, ropts, &mut take);
    tokio::pin!(watching, receiving);
    let mut watched = None;
    let received = loop {
        tokio::select! {
            w = &mut watching, if watched.is_none() => watched = Some(w),
            r = &mut receiving => break r,
        }
    };
    received?;
    match watched {
        Some(Ok(WatchOutcome::Finished(s))) if s.state == ReplayState::Completed => {
            Ok(Ending::Completed)
        }
        Some(Ok(WatchOutcome::Finished(s))) => Ok(Ending::Replay(s.state)),
        Some(Ok(WatchOutcome::TimedOut(_))) => Ok(Ending::TimedOut),
        Some(Err(e)) => Err(e),
        Some(Ok(WatchOutcome::Interrupted { .. })) | None => Err(AppError::Port(PortError::Other(
            "the capture ended before the replay did".into(),
        ))),
    }
}

fn leftover_warning(r: &TempResource, bus: &str) -> Option<String> {
    r.is_left().then(|| {
        format!(
            "{}, or later with `nexus-replay archive export --cleanup --bus {bus}`",
            r.outcome_line()
        )
    })
}

/// Runs an export to its end; see the module doc. `now` is the wall-clock time the window
/// is checked against; `interrupt` resolves on Ctrl-C or SIGTERM.
pub async fn export<I>(
    ports: &ExportPorts<'_>,
    req: &ExportRequest,
    now: DateTime<Utc>,
    observer: &mut dyn ExportObserver,
    interrupt: I,
) -> Result<ExportReport, ExportError>
where
    I: Future<Output = Signal>,
{
    let p = prepare(ports, req, now).await?;
    let names = p.setup.names.clone();
    let mut file = AtomicJsonl::create(&req.out, &names.run_id).map_err(|e| {
        AppError::usage(format!(
            "cannot write {}: {e}; name a file in a writable directory with --out",
            req.out.display()
        ))
    })?;
    let mut collector = Collector::new(
        p.pattern.compiled.clone(),
        &names.replay,
        p.checked.window,
        req.dedup.clone(),
        p.type_fields.clone(),
    );
    let mut created = Created::default();
    let ending = {
        let running = run(
            ports,
            req,
            &p,
            &mut created,
            &mut collector,
            &mut file,
            observer,
        );
        tokio::pin!(running, interrupt);
        tokio::select! {
            biased;
            signal = &mut interrupt => Ok(Ending::Interrupted(signal)),
            r = &mut running => r,
        }
    };
    observer.removing();
    let (resources, replay) = created
        .remove(&p.setup, ports.resources, ports.queue, ports.replays)
        .await;
    for r in &resources {
        observer.step(&r.outcome_line());
    }
    let ending = match ending {
        Ok(e) => e,
        Err(error) => {
            return Err(ExportError {
                error,
                resources,
                replay,
            });
        }
    };
    let (outcome, signal) = match &ending {
        Ending::Completed => (ExportOutcome::Completed, None),
        Ending::Replay(ReplayState::Failed) => (ExportOutcome::ReplayFailed, None),
        Ending::Replay(_) => (ExportOutcome::ReplayCancelled, None),
        Ending::TimedOut => (ExportOutcome::TimedOut, None),
        Ending::Interrupted(s) => (ExportOutcome::Interrupted, Some(*s)),
    };
    let written = if outcome == ExportOutcome::Completed {
        match file.commit() {
            Ok(path) => Some(path),
            Err(e) => {
                return Err(ExportError {
                    error: AppError::Io(format!(
                        "cannot move the export into {}: {e}",
                        req.out.display()
                    )),
                    resources,
                    replay,
                });
            }
        }
    } else {
        drop(file);
        None
    };
    let tally = collector.tally;
    let mut warnings = p.checked.warnings.clone();
    if !tally.conflicts.is_empty() {
        let shown: Vec<&str> = tally.conflicts.iter().take(5).map(String::as_str).collect();
        warnings.push(format!(
            "{} dedup key(s) came with different contents ({}{}); every version is in the file: compare them before replaying",
            tally.conflicts.len(),
            shown.join(", "),
            if tally.conflicts.len() > shown.len() { ", …" } else { "" }
        ));
    }
    if tally.over_put_events_size > 0 {
        warnings.push(format!(
            "{} exported event(s) are larger than 256 KiB, the most PutEvents accepts: they cannot be put on a bus again as they are",
            tally.over_put_events_size
        ));
    }
    warnings.extend(
        resources
            .iter()
            .filter_map(|r| leftover_warning(r, &p.setup.bus)),
    );
    if let Some(e) = replay.as_ref().and_then(|r| r.cancel_error.as_ref()) {
        warnings.push(format!("could not cancel replay {}: {e}", names.replay));
    }
    Ok(ExportReport {
        run_id: names.run_id.clone(),
        replay_name: names.replay.clone(),
        archive: p.checked.archive.name.clone(),
        bus: p.setup.bus.clone(),
        window: p.checked.window,
        requested: RequestedWindow {
            start: req.start,
            end: req.end,
        },
        pattern: p.pattern.text.clone(),
        outcome,
        signal,
        file: written,
        total: tally.written,
        events_per_type: tally.per_type,
        received: tally.received,
        skipped: tally.skipped,
        conflicts: tally.conflicts,
        replay: replay.unwrap_or_else(|| super::report::ReplayEnding {
            name: names.replay.clone(),
            arn: None,
            state: None,
            state_reason: None,
            cancelled: false,
            cancel_error: None,
        }),
        resources,
        warnings,
    })
}
