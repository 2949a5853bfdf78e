//! `stripe reconcile`: Stripe's events of a window against what the bus received, and, with
//! `--apply`, the missing ones re-emitted as the webhook handler would have put them.
//!
//! The order is what keeps a failure harmless: every flag and the key are read first (exit
//! 2, nothing called), then Stripe is listed (a refused key is exit 1 before any AWS
//! resource exists), then the archive is exported (`archive export`'s engine, its temporary
//! rule and queue removed by it), then the ledger is asked about the events the archive
//! lacks. `--apply` writes the missing events to a JSON Lines file in the state dir, in the
//! format `dlq export` writes, and re-emits that file with `reemit`'s engine (the ledger,
//! the dedup key = the Stripe event id, the PutEvents size and retry rules of a drain), so
//! a second `--apply` finds the keys DONE and re-emits nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::Args;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::archive_export::{run as run_export, settle};
use super::dlq_export::ExportedMessage;
use super::drain::DrainReport;
use super::reemit::{ReemitRequest, config, reemit};
use crate::archive::export::{ExportOptions, ExportPorts, ExportRequest};
use crate::archive::filter::ExportFilter;
use crate::archive::progress::ExportObserver;
use crate::archive::report::{ExportOutcome, ExportReport};
use crate::drain::engine::{DrainObserver, DrainPorts, QuietDrain};
use crate::drain::event::DedupSpec;
use crate::error::AppError;
use crate::interrupt::Signal;
use crate::options::DrainOptions;
use crate::ports::ledger::{Ledger, LedgerState};
use crate::replay::archive::resolve_archive;
use crate::replay::plan::PlanRequest;
use crate::stripe::client::StripeClient;
use crate::stripe::event::StripeEvent;
use crate::stripe::query::EventQuery;
use crate::stripe::reconcile::{ReconcileReport, reconcile};
use crate::stripe::webhook::{STRIPE_ORIGIN, envelope};
use crate::window::parse_when;

/// Archives lag ingestion by up to about ten minutes: the default window ends before that.
pub const DEFAULT_UNTIL: &str = "10m";

crate::options::step::options_struct! {
    /// What `stripe reconcile` compares, and whether it re-emits what is missing.
    #[derive(Debug, Clone, PartialEq, Args, Deserialize)]
    pub struct ReconcileOptions {
        /// The event bus the webhook handler puts Stripe events on (else NEXUS_REPLAY_BUS or `bus` in the config file)
        #[arg(long, env = "NEXUS_REPLAY_BUS")]
        pub bus: Option<String>,
        /// The bus's archive, name or ARN (default: the bus's one archive)
        #[arg(long)]
        pub archive: Option<String>,
        /// Window start, by Stripe's `created`: a duration back from now (2h, "1d 6h", at most 30d) or a time (RFC 3339, or "YYYY-MM-DD HH:MM[:SS]" UTC)
        #[arg(long, value_name = "WHEN", required = true)]
        pub since: Option<String>,
        /// Window end (default: 10m, ten minutes ago, because archives lag ingestion)
        #[arg(long, value_name = "WHEN")]
        pub until: Option<String>,
        /// Stripe event type (repeatable; `*` as a wildcard, e.g. invoice.*): only these are compared (default: every type)
        #[arg(long = "event-type", value_name = "TYPE")]
        #[serde(default)]
        pub event_types: Vec<String>,
        /// Re-emit each missing event to the bus as the webhook handler would have (asks once; --yes skips)
        #[arg(long)]
        #[serde(default)]
        pub apply: bool,
        /// Stripe's API (a test server: http://127.0.0.1:PORT)
        #[arg(long, value_name = "URL", default_value = crate::stripe::client::DEFAULT_API_BASE)]
        #[serde(default = "default_api_base")]
        pub stripe_api_base: String,
        /// The environment variable holding the Stripe API key (a restricted key with read access to Events is enough; never a flag)
        #[arg(long, value_name = "NAME", default_value = crate::stripe::key::DEFAULT_KEY_ENV)]
        #[serde(default = "default_key_env")]
        pub stripe_key_env: String,
        /// Dedup ledger: sqlite (default, in the state dir), sqlite:PATH, dynamodb://TABLE (shared by hosts), or none
        #[arg(long, value_name = "URL|none")]
        pub ledger: Option<String>,
        /// The archive export's settle period: after its replay COMPLETED, the queue stays empty this long (default 30s; 1s to 10m)
        #[arg(long, value_name = "DUR", value_parser = settle)]
        #[serde(default, deserialize_with = "crate::options::opt_duration")]
        pub settle: Option<Duration>,
        [cli_only]
        /// With --apply: show what would be sent and which rules would receive it; change nothing
        #[arg(long)]
        #[serde(skip)]
        pub dry_run: bool,
    }
}

impl Default for ReconcileOptions {
    /// As a step without fields reads (the flags' defaults).
    fn default() -> ReconcileOptions {
        ReconcileOptions {
            bus: None,
            archive: None,
            since: None,
            until: None,
            event_types: Vec::new(),
            apply: false,
            stripe_api_base: default_api_base(),
            stripe_key_env: default_key_env(),
            ledger: None,
            settle: None,
            dry_run: false,
        }
    }
}

fn default_api_base() -> String {
    crate::stripe::client::DEFAULT_API_BASE.to_string()
}

fn default_key_env() -> String {
    crate::stripe::key::DEFAULT_KEY_ENV.to_string()
}

/// A reconcile, read and checked: nothing has been called yet.
#[derive(Debug, Clone)]
pub struct ReconcileRequest {
    pub bus: String,
    pub archive: Option<String>,
    pub query: EventQuery,
    pub apply: bool,
    pub dry_run: bool,
    pub ledger: Option<String>,
    pub settle: Duration,
    /// Where the export and the missing events go (`<state dir>/stripe`).
    pub run_dir: PathBuf,
    pub run_id: String,
    pub started_by: String,
}

/// Reads the options (exit 2 on a bad window, a window older than Stripe's 30 days, a bad
/// event type, a missing bus).
pub fn request(
    o: &ReconcileOptions,
    bus: Option<String>,
    state_dir: &Path,
    run_id: String,
    started_by: String,
    now: DateTime<Utc>,
) -> Result<ReconcileRequest, AppError> {
    let bus = bus.ok_or_else(|| {
        AppError::usage("say which bus the Stripe events go to: --bus BUS (or NEXUS_REPLAY_BUS)")
    })?;
    let usage = |e: crate::window::WhenError| AppError::Usage(e.to_string());
    let since = o
        .since
        .as_deref()
        .ok_or_else(|| AppError::usage("say where the window starts: --since WHEN"))?;
    let start = parse_when("--since", since, now).map_err(usage)?;
    let until = o.until.as_deref().unwrap_or(DEFAULT_UNTIL);
    let end = parse_when("--until", until, now).map_err(usage)?;
    let query = EventQuery::new(start, end, &o.event_types, now)?;
    if o.dry_run && !o.apply {
        return Err(AppError::usage(
            "--dry-run shows what --apply would send: add --apply (a reconcile without it changes nothing anyway)",
        ));
    }
    DrainOptions {
        ledger: o.ledger.clone(),
        ..DrainOptions::default()
    }
    .validate()?;
    Ok(ReconcileRequest {
        bus,
        archive: o.archive.clone(),
        query,
        apply: o.apply,
        dry_run: o.dry_run,
        ledger: o.ledger.clone(),
        settle: o.settle.unwrap_or(crate::archive::export::DEFAULT_SETTLE),
        run_dir: state_dir.join("stripe"),
        run_id,
        started_by,
    })
}

/// What `--apply` did, or with `--dry-run` would do.
#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    pub dry_run: bool,
    /// The missing events as re-emitted (a `dlq export` file: `reemit --from` reads it).
    pub file: PathBuf,
    /// Per event type, the rules of the bus whose patterns match the re-emitted event (a
    /// dry run's blast radius; empty after a real run).
    pub rules_by_type: BTreeMap<String, Vec<String>>,
    /// Not confirmed: nothing was sent.
    pub declined: bool,
    /// The re-emit's own report (None when declined).
    pub reemit: Option<DrainReport>,
}

/// The report of `stripe reconcile`.
#[derive(Debug, Clone, Serialize)]
pub struct ReconcileOutcome {
    pub run_id: String,
    pub bus: String,
    pub archive: String,
    pub stripe_api_base: String,
    #[serde(flatten)]
    pub report: ReconcileReport,
    /// The archive export's replay (its temporary rule and queue are gone).
    pub export_replay: String,
    pub apply: Option<Applied>,
}

impl ReconcileOutcome {
    /// Missing events not re-emitted by this run (none applied, a dry run, declined, or
    /// failed).
    pub fn still_missing(&self) -> usize {
        let missing = self.report.missing.len() as u64;
        match self.apply.as_ref().and_then(|a| a.reemit.as_ref()) {
            Some(r) if !r.outcome.dry_run => {
                let c = &r.outcome.counts;
                missing.saturating_sub(c.reemitted + c.duplicates) as usize
            }
            _ => missing as usize,
        }
    }
}

/// Stripe's side, listed before anything else is opened or called.
#[derive(Debug, Clone)]
pub struct Listed {
    pub events: Vec<StripeEvent>,
    /// The API the list came from.
    pub base_url: String,
}

/// Lists Stripe's events for the request: the first call, so a key Stripe refuses fails
/// before any AWS client, ledger or resource exists.
pub async fn list(client: &StripeClient, req: &ReconcileRequest) -> Result<Listed, AppError> {
    Ok(Listed {
        events: client.list_events(&req.query).await?,
        base_url: client.base_url().to_string(),
    })
}

/// The AWS side of a reconcile.
pub struct ReconcilePorts<'a> {
    pub export: ExportPorts<'a>,
    /// The ledger's DONE keys count as received; None with `--ledger none`.
    pub ledger: Option<Arc<dyn Ledger>>,
    /// The re-emit's ports (without a ledger on a dry run).
    pub drain: DrainPorts,
}

/// Exports the archive and compares it with Stripe's list; with `apply`, asks once
/// (`confirm`) and re-emits the missing events. `interrupt` makes the signal future of
/// each step.
#[allow(clippy::too_many_arguments)]
pub async fn run<F, I>(
    ports: ReconcilePorts<'_>,
    req: &ReconcileRequest,
    listed: &Listed,
    confirm: &mut dyn FnMut(&ReconcileOutcome) -> Result<bool, AppError>,
    export_observer: &mut dyn ExportObserver,
    drain_observer: Arc<dyn DrainObserver>,
    interrupt: F,
    now: DateTime<Utc>,
) -> Result<ReconcileOutcome, AppError>
where
    F: Fn() -> I,
    I: Future<Output = Signal> + Send + 'static,
{
    let stripe = &listed.events;
    let (archive, exported, export_replay) =
        export_archive(&ports.export, req, now, export_observer, interrupt()).await?;
    let first = reconcile(&req.query, stripe, &exported, &[]);
    let done = done_keys(ports.ledger.as_deref(), &first).await?;
    let mut outcome = ReconcileOutcome {
        run_id: req.run_id.clone(),
        bus: req.bus.clone(),
        archive,
        stripe_api_base: listed.base_url.clone(),
        report: reconcile(&req.query, stripe, &exported, &done),
        export_replay,
        apply: None,
    };
    if !req.apply || outcome.report.missing.is_empty() {
        return Ok(outcome);
    }
    let file = req.run_dir.join(format!("{}-missing.jsonl", req.run_id));
    write_missing(&file, &outcome.report.missing_events(stripe))?;
    let preview = reemit_file(&file, req, true, ports.drain.clone(), Arc::new(QuietDrain)).await?;
    let mut applied = Applied {
        dry_run: req.dry_run,
        file: file.clone(),
        rules_by_type: rules_by_type(&preview),
        declined: false,
        reemit: req.dry_run.then_some(preview),
    };
    if req.dry_run {
        outcome.apply = Some(applied);
        return Ok(outcome);
    }
    outcome.apply = Some(applied.clone());
    if !confirm(&outcome)? {
        applied.declined = true;
        outcome.apply = Some(applied);
        return Ok(outcome);
    }
    let sent =
        reemit_file_with(&file, req, false, ports.drain, drain_observer, interrupt()).await?;
    applied.reemit = Some(sent);
    outcome.apply = Some(applied);
    Ok(outcome)
}

/// Exports the window from the archive into the run dir and reads it back (the file is
/// removed after: the report keeps what matters). Answers the archive's name, the events
/// and the export's replay. An export that did not complete is an error: comparing with
/// part of the archive would call received events missing.
async fn export_archive<I: Future<Output = Signal>>(
    ports: &ExportPorts<'_>,
    req: &ReconcileRequest,
    now: DateTime<Utc>,
    observer: &mut dyn ExportObserver,
    interrupt: I,
) -> Result<(String, Vec<Value>, String), AppError> {
    let found = resolve_archive(
        ports.catalogue,
        &PlanRequest {
            archive: req.archive.clone(),
            bus: Some(req.bus.clone()),
            ..PlanRequest::default()
        },
    )
    .await?;
    std::fs::create_dir_all(&req.run_dir)
        .map_err(|e| AppError::Io(format!("cannot create {}: {e}", req.run_dir.display())))?;
    let out = req.run_dir.join(format!("{}-archive.jsonl", req.run_id));
    let types = req.query.types();
    // The export's filter takes exact names only; with a wildcard every type is exported
    // and the comparison leaves the other types out.
    let event_types = if types.listed().iter().any(|t| t.contains('*')) {
        Vec::new()
    } else {
        types.listed()
    };
    let window = req.query.window();
    let export_req = ExportRequest {
        archive: found.name.clone(),
        start: window.start,
        end: Some(window.end),
        filter: ExportFilter {
            event_types,
            ..ExportFilter::default()
        },
        dedup: DedupSpec::Default,
        out: out.clone(),
        started_by: req.started_by.clone(),
        options: ExportOptions {
            settle: req.settle,
            ..ExportOptions::default()
        },
    };
    let report: ExportReport =
        run_export(ports, &export_req, Some(&req.bus), now, observer, interrupt).await?;
    for w in &report.warnings {
        tracing::warn!("{w}");
    }
    if report.outcome != ExportOutcome::Completed {
        return Err(export_not_completed(&report));
    }
    let text = std::fs::read_to_string(&out)
        .map_err(|e| AppError::Io(format!("cannot read {}: {e}", out.display())))?;
    let _ = std::fs::remove_file(&out);
    let events = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    Ok((found.name, events, report.replay_name))
}

fn export_not_completed(r: &ExportReport) -> AppError {
    match r.outcome {
        ExportOutcome::Interrupted => AppError::Interrupted,
        _ => AppError::Io(format!(
            "the archive export of the window did not complete ({}, replay {}), so what the bus received is not known; nothing was compared or re-emitted",
            serde_json::to_value(r.outcome)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            r.replay_name
        )),
    }
}

/// The missing events the ledger marks DONE (re-emitted earlier, not archived yet).
async fn done_keys(
    ledger: Option<&dyn Ledger>,
    report: &ReconcileReport,
) -> Result<Vec<String>, AppError> {
    let Some(ledger) = ledger else {
        return Ok(Vec::new());
    };
    let mut done = Vec::new();
    for m in &report.missing {
        if let Some(r) = ledger.get(&m.id).await?
            && r.state == LedgerState::Done
        {
            done.push(m.id.clone());
        }
    }
    Ok(done)
}

/// The missing events as a `dlq export` file of the queue `stripe`: each line's body the
/// webhook's envelope.
fn write_missing(path: &Path, events: &[&StripeEvent]) -> Result<(), AppError> {
    let mut text = String::new();
    for e in events {
        let line = ExportedMessage {
            queue: STRIPE_ORIGIN.to_string(),
            queue_arn: None,
            message_id: e.id.clone(),
            body: envelope(e).to_string(),
            attributes: BTreeMap::new(),
            sent_at: None,
            receive_count: 1,
        };
        text.push_str(&serde_json::to_string(&line).map_err(|e| AppError::Io(e.to_string()))?);
        text.push('\n');
    }
    std::fs::write(path, text)
        .map_err(|e| AppError::Io(format!("cannot write {}: {e}", path.display())))
}

fn reemit_request(file: &Path, req: &ReconcileRequest, dry_run: bool) -> ReemitRequest {
    ReemitRequest {
        from: file.to_path_buf(),
        bus: Some(req.bus.clone()),
        options: DrainOptions {
            ledger: req.ledger.clone(),
            dry_run,
            ..DrainOptions::default()
        },
    }
}

/// A dry run of the re-emit (without the ledger): what would be sent, and where.
async fn reemit_file(
    file: &Path,
    req: &ReconcileRequest,
    dry_run: bool,
    drain: DrainPorts,
    observer: Arc<dyn DrainObserver>,
) -> Result<DrainReport, AppError> {
    let drain = DrainPorts {
        ledger: None,
        ..drain
    };
    reemit_file_with(file, req, dry_run, drain, observer, std::future::pending()).await
}

async fn reemit_file_with<I: Future<Output = Signal> + Send + 'static>(
    file: &Path,
    req: &ReconcileRequest,
    dry_run: bool,
    drain: DrainPorts,
    observer: Arc<dyn DrainObserver>,
    interrupt: I,
) -> Result<DrainReport, AppError> {
    let cfg = config(&reemit_request(file, req, dry_run), req.run_id.clone())?;
    reemit(file, cfg, drain, observer, interrupt).await
}

/// The rules each event type would reach, from a dry run's plan.
fn rules_by_type(preview: &DrainReport) -> BTreeMap<String, Vec<String>> {
    let mut by_type: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for p in &preview.outcome.planned {
        let t = p.event_type.clone().unwrap_or_else(|| "(no type)".into());
        by_type
            .entry(t)
            .or_default()
            .extend(p.rules.iter().cloned());
    }
    by_type
        .into_iter()
        .map(|(t, r)| (t, r.into_iter().collect()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::eventbridge::MemoryEventBridge;
    use crate::memory::ledger::MemoryLedger;
    use crate::memory::sqs::MemoryQueue;
    use crate::stripe::webhook;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap()
    }

    fn options(since: &str) -> ReconcileOptions {
        ReconcileOptions {
            since: Some(since.into()),
            until: Some("now".into()),
            apply: true,
            ..ReconcileOptions::default()
        }
    }

    fn req(dir: &Path) -> ReconcileRequest {
        request(
            &options("2h"),
            Some("billing".into()),
            dir,
            "stripe-run-1".into(),
            "test@host".into(),
            now(),
        )
        .unwrap()
    }

    fn stripe_events() -> Vec<StripeEvent> {
        ["evt_1A", "evt_1B"]
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let created = (now() - chrono::Duration::minutes(30 - i as i64)).timestamp();
                serde_json::from_value(crate::stripe::testing::event(id, "invoice.paid", created))
                    .unwrap()
            })
            .collect()
    }

    fn scratch(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "nexus-reconcile-{tag}-{}",
            crate::ids::random_hex(6)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_window_stripe_no_longer_has_or_a_lone_dry_run_is_refused() {
        let dir = std::env::temp_dir();
        let old = request(
            &options("31d"),
            Some("b".into()),
            &dir,
            "r".into(),
            "u".into(),
            now(),
        )
        .unwrap_err();
        assert_eq!(old.exit_code(), crate::exit_codes::USAGE);
        assert!(old.to_string().contains("30 days"), "{old}");
        let lone = ReconcileOptions {
            apply: false,
            dry_run: true,
            ..options("2h")
        };
        let e = request(&lone, Some("b".into()), &dir, "r".into(), "u".into(), now()).unwrap_err();
        assert!(e.to_string().contains("add --apply"), "{e}");
        let no_bus = request(&options("2h"), None, &dir, "r".into(), "u".into(), now());
        assert!(no_bus.unwrap_err().to_string().contains("--bus"));
    }

    /// The engine, fed the missing-events file, puts exactly what `webhook::reemit` builds
    /// (the webhook's shape, drain's metadata, the Stripe id as key), and the ledger then
    /// holds each id DONE, which a later reconcile counts as received.
    #[tokio::test]
    async fn applying_puts_the_webhook_shape_once_and_marks_each_id_done() {
        let dir = scratch("apply");
        let req = req(&dir);
        let events = stripe_events();
        let file = dir.join("missing.jsonl");
        write_missing(&file, &events.iter().collect::<Vec<_>>()).unwrap();
        let eb = MemoryEventBridge::new();
        let ledger = MemoryLedger::new();
        let ports = DrainPorts {
            queue: Arc::new(MemoryQueue::new()),
            sink: Arc::new(eb.clone()),
            ledger: Some(Arc::new(ledger.clone())),
            rules: Some(Arc::new(eb.clone())),
            delivery: None,
            clock: crate::clock::system(),
        };
        let sent = reemit_file_with(
            &file,
            &req,
            false,
            ports.clone(),
            Arc::new(QuietDrain),
            std::future::pending(),
        )
        .await
        .unwrap();
        assert_eq!(sent.outcome.counts.reemitted, 2);
        let want: Vec<_> = events
            .iter()
            .map(|e| webhook::reemit(e, "billing", &req.run_id).entry)
            .collect();
        let mut got = eb.accepted();
        got.sort_by_key(|e| e.time);
        assert_eq!(got, want);

        let report = reconcile(&req.query, &events, &[], &[]);
        let done = done_keys(Some(&ledger), &report).await.unwrap();
        assert_eq!(done, ["evt_1A", "evt_1B"]);
        let again = reconcile(&req.query, &events, &[], &done);
        assert!(again.missing.is_empty());
        assert_eq!(again.done_in_ledger, 2);

        // A second apply of the same file re-emits nothing.
        let twice = reemit_file_with(
            &file,
            &req,
            false,
            ports,
            Arc::new(QuietDrain),
            std::future::pending(),
        )
        .await
        .unwrap();
        assert_eq!(twice.outcome.counts.reemitted, 0);
        assert_eq!(twice.outcome.counts.duplicates, 2);
        assert_eq!(eb.accepted().len(), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
