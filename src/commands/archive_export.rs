//! `archive export` and `archive export --cleanup` on the command line's side: the flags,
//! their reading into an [`ExportRequest`] (every refusal here is exit 2 before anything
//! exists), the progress on stderr, and the cleanup's report. The work is the engine's
//! (`crate::archive`).

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use clap::Args;
use serde::Serialize;

use crate::archive::check::bus_of;
use crate::archive::cleanup::{CleanupReport, Leftovers};
use crate::archive::collect::Tally;
use crate::archive::export::{ExportOptions, ExportPorts, ExportRequest, export};
use crate::archive::filter::ExportFilter;
use crate::archive::progress::ExportObserver;
use crate::archive::report::ExportReport;
use crate::drain::event::DedupSpec;
use crate::error::{AppError, not_found_as};
use crate::interrupt::Signal;
use crate::limits;
use crate::options::{duration, span};
use crate::ports::PortError;
use crate::ports::bus::BusCatalogue;
use crate::ports::replay::ReplayStatus;
use crate::replay::archive::replay_bus;
use crate::replay::watch::WatchObserver;
use crate::window::parse_when;

/// The settle period's range: delivery trails COMPLETED by seconds on AWS.
const SETTLE_MIN: Duration = Duration::from_secs(1);
const SETTLE_MAX: Duration = Duration::from_secs(600);

/// `--settle`: a duration from 1s to 10m.
pub fn settle(s: &str) -> Result<Duration, String> {
    let d = duration(s)?;
    if (SETTLE_MIN..=SETTLE_MAX).contains(&d) {
        Ok(d)
    } else {
        Err(format!(
            "{s:?} is out of range: the settle period is 1s to 10m (delivery trails the replay's end by seconds)"
        ))
    }
}

/// The flags of `archive export`.
#[derive(Debug, Clone, Default, Args)]
pub struct ExportArgs {
    /// Archive name or ARN
    #[arg(long, env = "NEXUS_REPLAY_ARCHIVE")]
    pub archive: Option<String>,
    /// The archive's bus, checked against it; with --cleanup, the bus to search (default: the buses of every archive)
    #[arg(long, env = "NEXUS_REPLAY_BUS")]
    pub bus: Option<String>,
    /// Window start, by the time in the event: a duration back from now (90m, 2h, "1d 6h") or a time (RFC 3339, or "YYYY-MM-DD HH:MM[:SS]" UTC)
    #[arg(long, value_name = "WHEN", required_unless_present = "cleanup")]
    pub since: Option<String>,
    /// Window end (default: now - 10 min, because archives lag ingestion)
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    /// Event type (repeatable): only events of these types are exported
    #[arg(long = "event-type", value_name = "TYPE")]
    pub event_types: Vec<String>,
    /// Where the event type lives, tried in order (default: detail.type,detail-type)
    #[arg(long = "type-field", value_name = "PATH", value_delimiter = ',')]
    pub type_fields: Vec<String>,
    /// Event source (repeatable): only events from these sources are exported
    #[arg(long = "source", value_name = "SOURCE")]
    pub sources: Vec<String>,
    /// An EventBridge event pattern (JSON) the exported events must match too
    #[arg(long, value_name = "JSON")]
    pub pattern: Option<String>,
    /// Event id (repeatable): the envelope id, or detail.id (a Stripe event id)
    #[arg(long = "id", value_name = "ID")]
    pub ids: Vec<String>,
    /// The JSON Lines file to write, one event per line; it appears only when the export completed
    #[arg(long, value_name = "FILE", required_unless_present = "cleanup")]
    pub out: Option<PathBuf>,
    /// Overwrite an existing --out file
    #[arg(long)]
    pub force: bool,
    /// Dedup key: a dotted path or `hash` (default: detail.id when it is a Stripe event id, else the envelope id)
    #[arg(long, value_name = "KEY")]
    pub dedup_key: Option<String>,
    /// After the replay COMPLETED, wait until the queue stayed empty this long (default 30s; 1s to 10m)
    #[arg(long, value_name = "DUR", value_parser = settle)]
    pub settle: Option<Duration>,
    /// Give up after this long (exit 5): the replay is cancelled and everything removed, no file (1s to 30 days)
    #[arg(long, value_name = "DUR", value_parser = span(limits::TIMEOUT))]
    pub timeout: Option<Duration>,
    /// Replay poll interval (default 1s backing off to 10s; 1s to 5m)
    #[arg(long, value_name = "DUR", value_parser = span(limits::POLL))]
    pub poll: Option<Duration>,
    /// Find what killed exports left (rules, their targets, queues), list it, and remove it after confirmation
    #[arg(long, conflicts_with_all = [
        "since", "until", "event_types", "type_fields", "sources", "pattern", "ids", "out",
        "force", "dedup_key", "settle", "timeout", "poll",
    ])]
    pub cleanup: bool,
}

/// Reads the flags into the engine's request. Refuses (exit 2) a bad window or dedup key,
/// a missing archive, and an existing `--out` without `--force`.
pub fn request(
    args: &ExportArgs,
    started_by: String,
    now: DateTime<Utc>,
) -> Result<ExportRequest, AppError> {
    let usage = |e: crate::window::WhenError| AppError::Usage(e.to_string());
    let archive = args.archive.clone().ok_or_else(|| {
        AppError::usage("say which archive to export from: --archive NAME (list them with `nexus-replay archive list`)")
    })?;
    let since = args
        .since
        .as_deref()
        .ok_or_else(|| AppError::usage("say where the window starts: --since WHEN"))?;
    let out = args
        .out
        .clone()
        .ok_or_else(|| AppError::usage("say which file to write: --out FILE.jsonl"))?;
    let start = parse_when("--since", since, now).map_err(usage)?;
    let end = match args.until.as_deref() {
        Some(u) => Some(parse_when("--until", u, now).map_err(usage)?),
        None => None,
    };
    let dedup = match &args.dedup_key {
        Some(d) => DedupSpec::parse(d).map_err(AppError::Usage)?,
        None => DedupSpec::Default,
    };
    if out.exists() && !args.force && !out.is_dir() {
        return Err(AppError::usage(format!(
            "{} already exists; pass --force to overwrite it, or name another file with --out",
            out.display()
        )));
    }
    Ok(ExportRequest {
        archive,
        start,
        end,
        filter: ExportFilter {
            event_types: args.event_types.clone(),
            type_fields: args.type_fields.clone(),
            sources: args.sources.clone(),
            pattern: args.pattern.clone(),
            ids: args.ids.clone(),
        },
        dedup,
        out,
        started_by,
        options: ExportOptions {
            settle: args
                .settle
                .unwrap_or(crate::archive::export::DEFAULT_SETTLE),
            poll: args.poll,
            timeout: args.timeout,
            ..ExportOptions::default()
        },
    })
}

/// Refuses (exit 2) a `--bus` that is not the archive's: the export's rule goes on the
/// archive's bus, the only one its replay can reach.
async fn check_bus(cat: &dyn BusCatalogue, archive: &str, bus: &str) -> Result<(), AppError> {
    let name = archive.split_once(":archive/").map_or(archive, |(_, n)| n);
    let info = cat.describe_archive(name).await.map_err(|e| {
        not_found_as(e, || {
            format!("archive {name:?} does not exist in this account and region; list them with `nexus-replay archive list`")
        })
    })?;
    replay_bus(&info, Some(bus)).map(|_| ())
}

/// Runs the export. A failure after resources were created has had them removed (the
/// observer said so); those that could not be are named with the cleanup command.
pub async fn run<I: Future<Output = Signal>>(
    ports: &ExportPorts<'_>,
    req: &ExportRequest,
    bus: Option<&str>,
    now: DateTime<Utc>,
    observer: &mut dyn ExportObserver,
    interrupt: I,
) -> Result<ExportReport, AppError> {
    if let Some(b) = bus {
        check_bus(ports.catalogue, &req.archive, b).await?;
    }
    export(ports, req, now, observer, interrupt)
        .await
        .map_err(|e| {
            for r in e.leftovers() {
                tracing::warn!("{}", r.outcome_line());
            }
            if e.leftovers().next().is_some() {
                tracing::warn!(
                    "remove what is left with `nexus-replay archive export --cleanup{}`",
                    bus.map(|b| format!(" --bus {b}")).unwrap_or_default()
                );
            }
            e.error
        })
}

/// How often the captured count may be printed.
const CAPTURED_INTERVAL: Duration = Duration::from_secs(5);

/// An export's progress on stderr: the resources as they are created and removed, the
/// replay as `start` shows it, and the events captured so far.
pub struct ExportProgress {
    replay: Box<dyn WatchObserver>,
    lines: bool,
    last_captured: Option<(Instant, u64)>,
    out: Box<dyn FnMut(String) + Send>,
}

impl ExportProgress {
    /// `replay` shows the replay; `lines` false (`-q`) prints nothing else.
    pub fn stderr(replay: Box<dyn WatchObserver>, lines: bool) -> ExportProgress {
        ExportProgress::new(replay, lines, Box::new(|l| eprintln!("{l}")))
    }

    pub fn new(
        replay: Box<dyn WatchObserver>,
        lines: bool,
        out: Box<dyn FnMut(String) + Send>,
    ) -> ExportProgress {
        ExportProgress {
            replay,
            lines,
            last_captured: None,
            out,
        }
    }
}

impl ExportObserver for ExportProgress {
    fn step(&mut self, what: &str) {
        if self.lines {
            (self.out)(what.to_string());
        }
    }

    fn replay(&mut self, status: &ReplayStatus, elapsed: Duration) {
        self.replay.status(status, elapsed);
    }

    fn replay_error(&mut self, error: &PortError, consecutive: u32) {
        self.replay.transient_error(error, consecutive);
    }

    fn captured(&mut self, tally: &Tally) {
        let due = match self.last_captured {
            None => true,
            Some((at, written)) => written != tally.written && at.elapsed() >= CAPTURED_INTERVAL,
        };
        if self.lines && due && tally.received > 0 {
            self.last_captured = Some((Instant::now(), tally.written));
            (self.out)(format!(
                "captured {} event(s) so far ({} message(s) received)",
                tally.written, tally.received
            ));
        }
    }

    fn removing(&mut self) {
        self.replay.finish();
        if self.lines {
            (self.out)("removing the temporary target, rule and queue".into());
        }
    }
}

/// What `archive export --cleanup` found and did.
#[derive(Debug, Clone, Serialize)]
pub struct CleanupOutcome {
    pub found: Leftovers,
    /// None when there was nothing to remove.
    pub removed: Option<CleanupReport>,
}

impl CleanupOutcome {
    pub fn exit_code(&self) -> u8 {
        self.removed
            .as_ref()
            .map_or(crate::exit_codes::SUCCESS, CleanupReport::exit_code)
    }
}

/// The buses `--cleanup` searches: the one named, else the buses archives record (an
/// export's rule sits on its archive's bus; a partner bus's name keeps its slashes).
pub async fn cleanup_buses(
    cat: &dyn BusCatalogue,
    bus: Option<&str>,
) -> Result<Vec<String>, AppError> {
    if let Some(b) = bus {
        return Ok(vec![b.to_string()]);
    }
    let mut buses: Vec<String> = cat
        .list_archives(None)
        .await?
        .iter()
        .filter_map(|a| bus_of(a).ok())
        .collect();
    buses.sort();
    buses.dedup();
    Ok(buses)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::collect::Tally;
    use crate::replay::watch::Quiet;
    use chrono::TimeZone;
    use std::sync::{Arc, Mutex};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 9, 8, 16, 0, 0).unwrap()
    }

    /// An ENABLED archive of `bus`, kept forever.
    fn archive_of(name: &str, bus: &str) -> crate::ports::bus::ArchiveInfo {
        crate::ports::bus::ArchiveInfo {
            name: name.into(),
            arn: format!("arn:aws:events:us-east-2:123456789012:archive/{name}"),
            source_arn: format!("arn:aws:events:us-east-2:123456789012:event-bus/{bus}"),
            state: "ENABLED".into(),
            state_reason: None,
            retention_days: None,
            event_count: 0,
            size_bytes: 0,
            creation_time: None,
            event_pattern: None,
        }
    }

    fn args(out: &std::path::Path) -> ExportArgs {
        ExportArgs {
            archive: Some("a".into()),
            since: Some("2h".into()),
            out: Some(out.to_path_buf()),
            event_types: vec!["order.paid".into()],
            ..ExportArgs::default()
        }
    }

    #[test]
    fn the_flags_become_the_request() {
        let dir = std::env::temp_dir().join(format!("nr-xargs-{}", crate::ids::random_hex(8)));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("x.jsonl");
        let mut a = args(&out);
        a.until = Some("2025-09-08 15:00".into());
        a.settle = Some(Duration::from_secs(2));
        let r = request(&a, "me@host".into(), now()).unwrap();
        assert_eq!(r.start, now() - chrono::Duration::hours(2));
        assert_eq!(r.end, Some(now() - chrono::Duration::hours(1)));
        assert_eq!(r.filter.event_types, ["order.paid"]);
        assert_eq!(r.options.settle, Duration::from_secs(2));
        assert_eq!(r.dedup, DedupSpec::Default);
        // Without --until the engine picks the default end.
        let r = request(&args(&out), "me@host".into(), now()).unwrap();
        assert_eq!(r.end, None);
        assert_eq!(r.options.settle, crate::archive::export::DEFAULT_SETTLE);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn bad_flags_are_refused_before_anything_is_created() {
        let dir = std::env::temp_dir().join(format!("nr-xargs-{}", crate::ids::random_hex(8)));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("x.jsonl");
        let refused = |a: &ExportArgs| {
            let e = request(a, "me@host".into(), now()).unwrap_err();
            assert_eq!(e.exit_code(), crate::exit_codes::USAGE, "{e}");
            e.to_string()
        };
        let mut a = args(&out);
        a.since = Some("yesterday-ish".into());
        assert!(refused(&a).contains("--since"));
        let mut a = args(&out);
        a.archive = None;
        assert!(refused(&a).contains("--archive"));
        let mut a = args(&out);
        a.dedup_key = Some("".into());
        refused(&a);
        std::fs::write(&out, "old\n").unwrap();
        assert!(refused(&args(&out)).contains("already exists; pass --force"));
        let mut a = args(&out);
        a.force = true;
        assert!(request(&a, "me@host".into(), now()).is_ok());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn a_bus_other_than_the_archives_is_refused_before_anything_is_created() {
        use crate::archive::progress::Silent;
        use crate::memory::capture::MemoryCapture;
        use crate::memory::eventbridge::MemoryEventBridge;
        use crate::memory::sqs::MemoryQueue;
        let eb = MemoryEventBridge::new();
        eb.add_bus("orders");
        eb.add_archive(archive_of("a", "orders"));
        let queues = MemoryQueue::new();
        let res = MemoryCapture::new(queues.clone());
        let ports = ExportPorts {
            catalogue: &eb,
            replays: &eb,
            resources: &res,
            queue: &queues,
        };
        let dir = std::env::temp_dir().join(format!("nr-xbus-{}", crate::ids::random_hex(8)));
        std::fs::create_dir_all(&dir).unwrap();
        let req = request(&args(&dir.join("x.jsonl")), "me@host".into(), now()).unwrap();
        let e = run(
            &ports,
            &req,
            Some("payments"),
            now(),
            &mut Silent,
            std::future::pending(),
        )
        .await
        .unwrap_err();
        assert_eq!(e.exit_code(), crate::exit_codes::USAGE, "{e}");
        assert!(
            e.to_string().contains("records bus orders, not payments"),
            "{e}"
        );
        assert!(res.calls().is_empty(), "{:?}", res.calls());
        assert!(eb.started().is_empty());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn cleanup_searches_the_named_bus_else_every_archives_bus_partner_buses_whole() {
        use crate::memory::eventbridge::MemoryEventBridge;
        let eb = MemoryEventBridge::new();
        for (name, bus) in [
            ("a1", "aws.partner/stripe.com/ed_1"),
            ("a2", "orders"),
            ("a3", "orders"),
        ] {
            eb.add_archive(archive_of(name, bus));
        }
        assert_eq!(
            cleanup_buses(&eb, None).await.unwrap(),
            ["aws.partner/stripe.com/ed_1", "orders"]
        );
        assert_eq!(cleanup_buses(&eb, Some("b")).await.unwrap(), ["b"]);
    }

    #[test]
    fn progress_shows_steps_and_captured_counts_but_not_with_quiet() {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let mut p = ExportProgress::new(
            Box::new(Quiet),
            true,
            Box::new(move |l| sink.lock().unwrap().push(l)),
        );
        p.step("created queue q");
        let mut t = Tally {
            received: 3,
            written: 2,
            ..Tally::default()
        };
        p.captured(&t);
        // Within the interval: not repeated.
        t.written = 3;
        p.captured(&t);
        p.removing();
        assert_eq!(
            *lines.lock().unwrap(),
            [
                "created queue q",
                "captured 2 event(s) so far (3 message(s) received)",
                "removing the temporary target, rule and queue"
            ]
        );
        let quiet = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = quiet.clone();
        let mut p = ExportProgress::new(
            Box::new(Quiet),
            false,
            Box::new(move |l| sink.lock().unwrap().push(l)),
        );
        p.step("created queue q");
        p.captured(&t);
        assert!(quiet.lock().unwrap().is_empty());
    }
}
