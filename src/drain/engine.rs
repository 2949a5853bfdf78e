//! The drain engine: receive DLQ messages, re-emit the selected ones with dedup keys, and
//! delete a message only after its re-emit succeeded. For every message, in this order:
//! claim its key in the ledger → PutEvents → mark done → delete.
//!
//! Crash windows (what a process death at each point can cause):
//! - after claim, before put: the claim blocks the key until it expires (`claim_for`), then
//!   a later run takes it over and puts it once. Nothing lost, no duplicate.
//! - after put, before mark-done: a later run takes the expired claim over and puts the
//!   event again: at most one extra copy, and only here. Consumers drop it by dedup key.
//! - after mark-done, before delete: a later run finds the key DONE and deletes the message
//!   without a second put.
//!
//! Each pipeline overlaps its calls (see `worker`): while one batch is claimed and put, the
//! previous batch is deleted and the next one received. A batch still goes through the four
//! steps in order, so each pipeline has at most one batch between put and mark-done.
//!
//! Every message received stays invisible until it is deleted or released (`keeper`). On
//! interrupt (Ctrl-C, SIGTERM) nothing new is put: PutEvents calls already sent are
//! finished, marked done and deleted; claims not yet put are given back and every message
//! held is released.
//!
//! A claim records the content digest of its event (`event::content_digest`). A message whose
//! key the ledger already holds DONE (or that this run re-emitted from another copy) is a
//! duplicate and deleted only when the digests match; otherwise it is a *conflict*: another
//! event under the same key, left in the queue and reported, never deleted unseen.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use super::event::{
    DedupSpec, Envelope, Origin, as_delivered, bus_of_rule_arn, content_digest, dedup_key, entry,
    parse, redrive_of,
};
use super::keeper::Keeper;
use super::pack::pack;
use super::rate::{RateLimiter, pipelines};
use super::select::Selection;
use crate::error::AppError;
use crate::interrupt::Signal;
use crate::pattern::Pattern;
use crate::ports::PortError;
use crate::ports::bus::BusCatalogue;
use crate::ports::ledger::{Claim, ClaimOutcome, Finished, Ledger, LedgerRecord, LedgerState};
use crate::ports::queue::{BatchEntry, Queue, QueueRef, ReceivedMessage};
use crate::ports::sink::{EventSink, PutEntry, PutOutcome};

/// Message attribute naming why a message was parked.
pub const PARK_REASON_ATTRIBUTE: &str = "NEXUS_REPLAY_PARK_REASON";
/// Message attribute naming the queue a parked message came from.
pub const PARK_SOURCE_ATTRIBUTE: &str = "NEXUS_REPLAY_SOURCE_QUEUE";

/// How a poison reason says to name the destination (the flag differs by command).
const NAME_THE_BUS: &str = "name the bus with --to-bus (reemit: --bus)";

/// Everything a drain run needs besides the ports.
#[derive(Debug, Clone)]
pub struct DrainConfig {
    pub queues: Vec<QueueRef>,
    pub to_bus: Option<String>,
    pub selection: Selection,
    pub dedup: DedupSpec,
    pub max_messages: Option<u64>,
    pub max_duration: Option<Duration>,
    pub concurrency: usize,
    /// Events per second, across all workers.
    pub rate: Option<f64>,
    pub max_redrives: u32,
    pub park_queue: Option<QueueRef>,
    pub dry_run: bool,
    pub size_limit: usize,
    /// Visibility timeout asked for on receive (and when extending).
    pub visibility: Duration,
    /// Long-poll wait per receive.
    pub receive_wait: Duration,
    pub run_id: String,
    /// How long an IN_PROGRESS claim protects a key.
    pub claim_for: Duration,
    pub ledger_ttl: Duration,
    /// PutEvents attempts per entry that fail for the service's sake (InternalFailure, a
    /// lost or 5xx answer).
    pub max_put_attempts: u32,
    /// PutEvents attempts per entry that are throttled; throttling also slows every
    /// pipeline down (a shared gate), so this budget is spent slowly.
    pub max_throttled_attempts: u32,
}

impl DrainConfig {
    /// Defaults for everything but the queues and run id.
    pub fn new(queues: Vec<QueueRef>, run_id: String) -> DrainConfig {
        DrainConfig {
            queues,
            to_bus: None,
            selection: Selection::default(),
            dedup: DedupSpec::Default,
            max_messages: None,
            max_duration: None,
            concurrency: DEFAULT_CONCURRENCY,
            rate: None,
            max_redrives: 3,
            park_queue: None,
            dry_run: false,
            size_limit: super::pack::DEFAULT_SIZE_LIMIT,
            visibility: Duration::from_secs(120),
            receive_wait: Duration::from_secs(2),
            run_id,
            claim_for: Duration::from_secs(300),
            ledger_ttl: crate::limits::LEDGER_TTL,
            max_put_attempts: 6,
            max_throttled_attempts: 30,
        }
    }
}

/// Pipelines per queue, chosen from docs/benchmarks.md: at 20 ms per call 32 pipelines (each
/// overlapping its receive, put and delete) reach 80-85% of what the emulator serves to 64
/// bare SDK loops, in under 40 MB; 8 reach about half, 16 about three quarters. That is up to
/// a few thousand events/s, which the targets behind the rules must absorb too: `--rate`
/// caps it, and a lower `--concurrency` trades speed for a gentler drain.
pub const DEFAULT_CONCURRENCY: usize = 32;

/// The steps of the per-message sequence, for crash tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    AfterClaim,
    AfterPut,
    AfterDone,
    AfterDelete,
}

/// Test seam: lets a test kill the run at a step (no cleanup, like a process death).
pub trait Hooks: Send + Sync {
    fn crash_at(&self, _step: Step) -> bool {
        false
    }
}

/// No hooks (production).
pub struct NoHooks;
impl Hooks for NoHooks {}

/// Running totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub received: u64,
    pub reemitted: u64,
    /// A dry run's re-emits and parks: planned, not done (`reemitted` and `parked` stay 0).
    pub would_reemit: u64,
    pub would_park: u64,
    pub duplicates: u64,
    pub filtered: u64,
    pub parked: u64,
    pub failed: u64,
    /// Keys another run (or another copy of the message) had claimed; left in the queue.
    pub held_elsewhere: u64,
    pub deleted: u64,
    pub delete_failed: u64,
    /// Entries re-sent after an ambiguous PutEvents failure, or whose claim was lost.
    pub possible_duplicates: u64,
    /// Messages whose key was already re-emitted with other content: left in the queue.
    pub conflicts: u64,
    /// Messages re-emitted with a warning (see `DrainOutcome::warnings`).
    pub warnings: u64,
    /// Messages made visible again at the end.
    pub released: u64,
    /// Approximate messages visible when the run started.
    pub total_estimate: u64,
    /// Approximate messages still in flight (invisible) in queues this run found empty, at
    /// its end: held by another run, or left by a stopped one until their visibility
    /// timeout. Not drained, so the run is partial.
    pub in_flight: u64,
}

/// A message that was not re-emitted and stays in (or was parked from) the queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub queue: String,
    pub message_id: String,
    pub dedup_key: Option<String>,
    pub code: String,
    pub reason: String,
    pub parked: bool,
}

/// A message re-emitted (or, in a dry run, to be) with something the user should know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub queue: String,
    pub message_id: String,
    pub dedup_key: Option<String>,
    /// `DUPLICATE_JSON_KEYS`: an object in the body has a key twice; the last value is
    /// re-emitted, as EventBridge itself reads such JSON, and the earlier ones are lost.
    pub code: String,
    pub reason: String,
}

/// What a dry run would do with one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Planned {
    pub queue: String,
    pub message_id: String,
    /// re-emit, park, leave (poison without a park queue), skip (not selected), or, for a
    /// key an earlier message of this dry run takes, duplicate (same content) or conflict.
    pub action: String,
    pub dedup_key: Option<String>,
    pub event_type: Option<String>,
    pub bus: Option<String>,
    /// Rules on the destination bus whose patterns match the re-emitted event.
    pub rules: Vec<String>,
    pub reason: Option<String>,
}

/// How a run ended.
#[derive(Debug, Clone, Serialize)]
pub struct DrainOutcome {
    pub run_id: String,
    pub dry_run: bool,
    pub counts: Counts,
    pub failures: Vec<Failure>,
    pub warnings: Vec<Warning>,
    pub planned: Vec<Planned>,
    pub stopped_because: String,
    pub interrupted: bool,
    /// The signal that interrupted the run (SIGINT or SIGTERM).
    pub signal: Option<Signal>,
}

/// Sees counts as they change (progress display).
pub trait DrainObserver: Send + Sync {
    fn progress(&self, counts: &Counts);
    fn finish(&self);
}

/// Shows nothing.
pub struct QuietDrain;
impl DrainObserver for QuietDrain {
    fn progress(&self, _: &Counts) {}
    fn finish(&self) {}
}

/// The ports a drain works through.
#[derive(Clone)]
pub struct DrainPorts {
    pub queue: Arc<dyn Queue>,
    pub sink: Arc<dyn EventSink>,
    pub ledger: Option<Arc<dyn Ledger>>,
    /// Where a dry run reads the rules of each destination bus it meets (the blast radius);
    /// without it, a dry run cannot say which rules would receive an event.
    pub rules: Option<Arc<dyn BusCatalogue>>,
}

#[derive(Default)]
struct RunState {
    counts: Counts,
    /// The ids of the messages this run received and has not deleted, as a `fingerprint`
    /// (16 bytes instead of a 36-character string): a message seen again is one this run
    /// holds or could not delete, not new work. Deleted ids are forgotten (`Shared::deleted`),
    /// so this grows with the messages left in the queue, not with the messages drained.
    seen: HashSet<u128>,
    /// Messages to make visible again at the end: id → (queue url, latest receipt handle).
    held: HashMap<String, (String, String)>,
    /// Copies of a key this run itself holds (the same event dead-lettered twice, e.g. by
    /// the webhook and the partner source). Settled at the end.
    own_copies: Vec<OwnCopy>,
    failures: Vec<Failure>,
    warnings: Vec<Warning>,
    planned: Vec<Planned>,
    /// A dry run's keys planned for re-emission, with their content digest.
    dry_keys: HashMap<String, String>,
    stop_reasons: Vec<String>,
    /// Queues that answered empty, checked at the end for messages still in flight.
    found_empty: Vec<QueueRef>,
}

/// A message whose key this run claimed for another message.
struct OwnCopy {
    queue: String,
    message_id: String,
    key: String,
    redrive: u32,
    digest: String,
}

/// The shared throttling gate: after a throttled PutEvents, every pipeline waits.
#[derive(Default)]
struct Gate {
    until: Option<tokio::time::Instant>,
    streak: u32,
}

struct Shared {
    cfg: DrainConfig,
    ports: DrainPorts,
    hooks: Arc<dyn Hooks>,
    observer: Arc<dyn DrainObserver>,
    rate: Option<RateLimiter>,
    gate: Mutex<Gate>,
    started: Instant,
    /// Set on interrupt or on a pipeline's error: nothing new is put or received.
    stop: tokio::sync::watch::Sender<bool>,
    keeper: Keeper,
    state: Mutex<RunState>,
    /// A dry run's rules per destination bus, listed once each: the rules with an event
    /// pattern, or why they could not be listed.
    blast: tokio::sync::Mutex<BTreeMap<String, BusRules>>,
}

type BusRules = Result<Arc<Vec<(String, Pattern)>>, String>;

/// A candidate for re-emission.
struct Candidate {
    msg: ReceivedMessage,
    key: String,
    digest: String,
    /// Object keys the body has twice (warned about once the event is re-emitted).
    duplicate_keys: Vec<String>,
    redrive: u32,
    entry: PutEntry,
    event_type: Option<String>,
}

/// What `classify` decided for an emittable message (the message itself stays with the
/// caller, which moves it into the `Candidate`).
struct Emit {
    key: String,
    digest: String,
    duplicate_keys: Vec<String>,
    redrive: u32,
    entry: PutEntry,
    event_type: Option<String>,
}

enum Class {
    Poison { reason: String, key: Option<String> },
    Skip(String),
    Emit(Box<Emit>),
}

fn crashed(step: Step) -> AppError {
    AppError::Io(format!("simulated crash {step:?} (test hook)"))
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, RunState> {
        self.state.lock().expect("drain state")
    }

    /// Whether the run is stopping (interrupted, or a pipeline failed).
    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    fn halt(&self) {
        self.stop.send_replace(true);
    }

    /// Resolves once the run is stopping.
    async fn stopped(&self) {
        let mut rx = self.stop.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }

    /// Waits for the turn of a PutEvents call of `n` entries (the throttling gate, then
    /// `--rate`). False when the run stops first: the call is not to be sent.
    async fn wait_turn(&self, n: usize) -> bool {
        if self.stopping() {
            return false;
        }
        let turn = async {
            self.pass_gate().await;
            if let Some(rate) = &self.rate {
                rate.acquire(n).await;
            }
        };
        tokio::select! {
            biased;
            _ = self.stopped() => false,
            _ = turn => !self.stopping(),
        }
    }

    /// Waits while the throttling gate is closed.
    async fn pass_gate(&self) {
        let until = self.gate.lock().expect("gate").until;
        if let Some(t) = until {
            tokio::time::sleep_until(t).await;
        }
    }

    /// Throttled: close the gate for a backoff that grows with consecutive throttles.
    fn throttled(&self) {
        let mut g = self.gate.lock().expect("gate");
        let wait = backoff(g.streak);
        g.streak = g.streak.saturating_add(1);
        let until = tokio::time::Instant::now() + wait;
        if g.until.is_none_or(|u| u < until) {
            g.until = Some(until);
        }
    }

    /// A call went through unthrottled: the next throttle starts from the shortest wait.
    fn unthrottled(&self) {
        self.gate.lock().expect("gate").streak = 0;
    }

    fn hold(&self, url: &str, m: &ReceivedMessage) {
        // A handle already recorded came from a later receive of the same message (admit):
        // only the newest handle can change its visibility.
        self.lock()
            .held
            .entry(m.message_id.clone())
            .or_insert_with(|| (url.to_string(), m.receipt_handle.clone()));
    }

    fn fail(
        &self,
        q: &QueueRef,
        m: &ReceivedMessage,
        key: Option<String>,
        code: &str,
        reason: String,
        parked: bool,
    ) {
        let mut st = self.lock();
        if parked {
            st.counts.parked += 1;
        } else {
            st.counts.failed += 1;
        }
        st.failures.push(Failure {
            queue: q.name.clone(),
            message_id: m.message_id.clone(),
            dedup_key: key,
            code: code.into(),
            reason,
            parked,
        });
    }

    /// A message whose key was re-emitted from other content (`existing`): it stays in the
    /// queue (held, released at the end) and is reported.
    fn conflict(&self, queue: &str, message_id: &str, key: &str, existing: &LedgerRecord) {
        let by = existing.run_id.as_str();
        let event = existing.event_id.as_deref().unwrap_or("unknown");
        tracing::warn!(
            queue = %queue,
            message_id = %message_id,
            key = %key,
            run = %by,
            event_id = %event,
            "same dedup key, other content than the copy re-emitted: left in the queue"
        );
        let mut st = self.lock();
        st.counts.conflicts += 1;
        st.failures.push(Failure {
            queue: queue.to_string(),
            message_id: message_id.to_string(),
            dedup_key: Some(key.to_string()),
            code: "CONFLICT".into(),
            reason: format!(
                "key {key}: the content differs from the copy re-emitted by run {by} (event id {event}), so this is another event, not a duplicate; left in the queue: compare the two, then re-emit it under another --dedup-key"
            ),
            parked: false,
        });
    }

    /// Notes a re-emitted message whose body has duplicate object keys.
    fn warn_duplicate_keys(&self, q: &QueueRef, m: &ReceivedMessage, key: &str, dups: &[String]) {
        let names: Vec<String> = dups.iter().take(5).map(|k| format!("{k:?}")).collect();
        let more = dups.len().saturating_sub(names.len());
        let names = if more > 0 {
            format!("{} and {more} more", names.join(", "))
        } else {
            names.join(", ")
        };
        tracing::warn!(queue = %q.name, message_id = %m.message_id, keys = %names, "the body has duplicate JSON keys; the last value of each is re-emitted");
        let mut st = self.lock();
        st.counts.warnings += 1;
        st.warnings.push(Warning {
            queue: q.name.clone(),
            message_id: m.message_id.clone(),
            dedup_key: Some(key.to_string()),
            code: "DUPLICATE_JSON_KEYS".into(),
            reason: format!(
                "the body has the key {names} more than once in one object; the last value of each is re-emitted (as EventBridge reads such JSON) and the earlier ones are lost"
            ),
        });
    }

    fn stop_reason(&self) -> Option<String> {
        if self.stopping() {
            return Some("stopped".into());
        }
        if let Some(max) = self.cfg.max_duration
            && self.started.elapsed() >= max
        {
            return Some(format!(
                "--max-duration {} reached",
                humantime::format_duration(max)
            ));
        }
        if let Some(max) = self.cfg.max_messages
            && self.lock().counts.received >= max
        {
            return Some(format!("--max-messages {max} reached"));
        }
        None
    }

    fn note_stop(&self, reason: String) {
        let mut st = self.lock();
        if !st.stop_reasons.contains(&reason) {
            st.stop_reasons.push(reason);
        }
    }

    /// A queue answered empty: the run ends there, and at its end the queue is checked for
    /// messages still in flight (another run's, or a stopped run's).
    fn found_empty(&self, q: &QueueRef) {
        self.note_stop(empty_reason(q));
        let mut st = self.lock();
        if !st.found_empty.iter().any(|e| e.url == q.url) {
            st.found_empty.push(q.clone());
        }
    }

    /// Counts messages deleted and forgets them: a copy SQS delivers again after its delete
    /// (standard queues deliver at least once) is then a new message, which the ledger finds
    /// done, so the seen set holds only messages still in the queue.
    fn deleted<'a>(&self, ids: impl IntoIterator<Item = &'a str>) {
        let ids: Vec<&str> = ids.into_iter().collect();
        self.keeper.forget(ids.iter().copied());
        let mut st = self.lock();
        for id in ids {
            st.seen.remove(&fingerprint(id));
            st.counts.deleted += 1;
        }
    }

    /// Marks messages seen; answers the ones new to this run (within --max-messages).
    fn admit(&self, q: &QueueRef, msgs: Vec<ReceivedMessage>) -> Vec<ReceivedMessage> {
        let mut st = self.lock();
        let mut fresh = Vec::new();
        for m in msgs {
            let id = fingerprint(&m.message_id);
            if !st.seen.insert(id) {
                // Seen before in this run: keep only its newest receipt handle, if held.
                if let Some(h) = st.held.get_mut(&m.message_id) {
                    h.1 = m.receipt_handle.clone();
                } else {
                    st.held.insert(
                        m.message_id.clone(),
                        (q.url.clone(), m.receipt_handle.clone()),
                    );
                }
                continue;
            }
            let over = self
                .cfg
                .max_messages
                .is_some_and(|max| st.counts.received >= max);
            if over {
                st.seen.remove(&id);
                st.held.insert(
                    m.message_id.clone(),
                    (q.url.clone(), m.receipt_handle.clone()),
                );
                continue;
            }
            st.counts.received += 1;
            fresh.push(m);
        }
        fresh
    }

    fn classify(&self, q: &QueueRef, m: &ReceivedMessage, now: DateTime<Utc>) -> Class {
        let mut env: Envelope = match parse(&m.body) {
            Ok(e) => e,
            Err(reason) => return Class::Poison { reason, key: None },
        };
        if let Some(why) = self
            .cfg
            .selection
            .rejects(&env, &m.attributes, m.sent_at, now)
        {
            return Class::Skip(why);
        }
        let key = match dedup_key(&env, &self.cfg.dedup) {
            Ok(k) => k,
            Err(reason) => return Class::Poison { reason, key: None },
        };
        let redrive = match redrive_of(&env) {
            Ok(r) if r <= self.cfg.max_redrives => r,
            Ok(r) => {
                return Class::Poison {
                    reason: format!(
                        "redriven {} times already, more than --max-redrives {}",
                        r - 1,
                        self.cfg.max_redrives
                    ),
                    key: Some(key),
                };
            }
            Err(why) => {
                return Class::Poison {
                    reason: format!(
                        "{why}: counted as over --max-redrives {}",
                        self.cfg.max_redrives
                    ),
                    key: Some(key),
                };
            }
        };
        let rule_arn = m.attributes.get("RULE_ARN").cloned();
        let bus = match (&self.cfg.to_bus, &rule_arn) {
            (Some(b), _) => b.clone(),
            (None, Some(arn)) => match bus_of_rule_arn(arn, &q.arn) {
                Ok(b) => b,
                Err(why) => {
                    return Class::Poison {
                        reason: format!("no destination: {why}; {NAME_THE_BUS}"),
                        key: Some(key),
                    };
                }
            },
            (None, None) => {
                return Class::Poison {
                    reason: format!(
                        "no RULE_ARN attribute names the destination bus; {NAME_THE_BUS}"
                    ),
                    key: Some(key),
                };
            }
        };
        let origin = Origin {
            queue: q.name.clone(),
            rule_arn,
            error_code: m.attributes.get("ERROR_CODE").cloned(),
            run_id: self.cfg.run_id.clone(),
        };
        let event_type = self.cfg.selection.event_type(&env).map(str::to_string);
        let digest = content_digest(&env);
        let duplicate_keys = std::mem::take(&mut env.duplicate_keys);
        let e = entry(env, &key, redrive, &bus, &origin);
        if e.size() > self.cfg.size_limit {
            return Class::Poison {
                reason: format!(
                    "the entry is {} bytes, over the PutEvents limit of {} bytes",
                    e.size(),
                    self.cfg.size_limit
                ),
                key: Some(key),
            };
        }
        Class::Emit(Box::new(Emit {
            event_type,
            key,
            digest,
            duplicate_keys,
            redrive,
            entry: e,
        }))
    }

    /// The rules of the bus that have an event pattern, listed on first use.
    async fn rules_of(&self, bus: &str) -> BusRules {
        let mut known = self.blast.lock().await;
        if let Some(r) = known.get(bus) {
            return r.clone();
        }
        let listed = match &self.ports.rules {
            None => Err("no rule catalogue to read them from".to_string()),
            Some(cat) => cat.list_rules(bus).await.map_err(|e| e.to_string()),
        };
        let rules = listed.map(|rules| {
            Arc::new(
                rules
                    .into_iter()
                    .filter_map(|r| {
                        let p = Pattern::parse(r.event_pattern.as_deref()?).ok()?;
                        Some((r.name, p))
                    })
                    .collect::<Vec<_>>(),
            )
        });
        known.insert(bus.to_string(), rules.clone());
        rules
    }

    /// The rules of the destination bus whose patterns match the re-emitted event, or why
    /// they are not known.
    async fn blast_radius(&self, c: &Candidate) -> Result<Vec<String>, String> {
        let rules = self
            .rules_of(&c.entry.bus)
            .await
            .map_err(|e| format!("rules of bus {} unknown: {e}", c.entry.bus))?;
        let env = parse(&c.msg.body).ok();
        let field = |name: &str| {
            env.as_ref()
                .and_then(|e| e.value().get(name))
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string()
        };
        let delivered = as_delivered(&c.entry, &field("account"), &field("region"));
        Ok(rules
            .iter()
            .filter(|(_, p)| p.matches(&delivered))
            .map(|(n, _)| n.clone())
            .collect())
    }
}

/// A message id's first 128 bits of SHA-256: two ids of one run share it with a chance of
/// about n²/2¹²⁹ (n = 10⁹ ids: under 10⁻²⁰).
fn fingerprint(message_id: &str) -> u128 {
    let digest = Sha256::digest(message_id.as_bytes());
    let mut first = [0u8; 16];
    first.copy_from_slice(&digest[..16]);
    u128::from_le_bytes(first)
}

/// Jittered exponential backoff: 100 ms doubling to 5 s, plus up to the same again.
fn backoff(attempt: u32) -> Duration {
    let base = 100u64.saturating_mul(1 << attempt.min(6)).min(5000);
    let jitter = u64::from_str_radix(&crate::ids::random_hex(8), 16).unwrap_or(0) % (base + 1);
    Duration::from_millis(base + jitter)
}

async fn retry<T, F, Fut>(what: &str, mut f: F) -> Result<T, PortError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, PortError>>,
{
    let mut attempt = 0;
    loop {
        match f().await {
            Err(e) if e.is_retryable() && attempt < 5 => {
                tracing::warn!(error = %e, attempt, "{what} failed; retrying");
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// What became of one candidate's put.
#[derive(Debug, Clone)]
enum Put {
    Accepted {
        event_id: String,
    },
    Failed {
        code: String,
        message: String,
    },
    /// The run stopped before it was sent (or sent again): its claim is given back and the
    /// message released, for a later run.
    NotSent,
}

/// Puts every candidate, retrying only retryable failures. One result per candidate.
/// Budgets per entry: `max_put_attempts` for failures on the service's side, with a jittered
/// backoff between rounds; `max_throttled_attempts` for throttling, paced by the shared gate.
/// Once the run stops, no call is sent: what is still pending is `NotSent`.
async fn put_all(sh: &Shared, cands: &[Candidate]) -> Vec<Put> {
    let n = cands.len();
    let mut results: Vec<Option<Put>> = vec![None; n];
    let mut failed = vec![0u32; n];
    let mut throttled = vec![0u32; n];
    let mut pending: Vec<usize> = (0..n).collect();
    let mut backoff_next = false;
    while !pending.is_empty() {
        if backoff_next {
            let worst = pending.iter().map(|&i| failed[i]).max().unwrap_or(1);
            tokio::select! {
                _ = tokio::time::sleep(backoff(worst.saturating_sub(1))) => {}
                _ = sh.stopped() => {}
            }
        }
        backoff_next = false;
        let entries: Vec<&PutEntry> = pending.iter().map(|&i| &cands[i].entry).collect();
        let mut again = Vec::new();
        // Counts one more try of entry `i`: Ok to go again, or the final error.
        let mut retry_entry =
            |i: usize, throttle: bool, code: String, msg: String| -> Result<(), Put> {
                let (used, budget) = if throttle {
                    throttled[i] += 1;
                    (throttled[i], sh.cfg.max_throttled_attempts)
                } else {
                    failed[i] += 1;
                    (failed[i], sh.cfg.max_put_attempts)
                };
                if used < budget {
                    Ok(())
                } else {
                    Err(Put::Failed {
                        code,
                        message: format!(
                            "{msg} (still failing after {} attempts, {} of them throttled)",
                            failed[i] + throttled[i],
                            throttled[i]
                        ),
                    })
                }
            };
        for call in pack(&entries, sh.cfg.size_limit) {
            let idx: Vec<usize> = call.iter().map(|&j| pending[j]).collect();
            if !sh.wait_turn(idx.len()).await {
                for &i in &idx {
                    results[i] = Some(Put::NotSent);
                }
                continue;
            }
            let batch: Vec<PutEntry> = idx.iter().map(|&i| cands[i].entry.clone()).collect();
            match sh.ports.sink.put_events(&batch).await {
                Ok(outcomes) => {
                    let mut any_throttle = false;
                    for (&i, o) in idx.iter().zip(outcomes) {
                        match o {
                            PutOutcome::Accepted { event_id } => {
                                results[i] = Some(Put::Accepted { event_id })
                            }
                            ref r @ PutOutcome::Rejected {
                                ref code,
                                ref message,
                            } => {
                                if r.is_retryable() {
                                    let throttle = code == "ThrottlingException";
                                    any_throttle |= throttle;
                                    backoff_next |= !throttle;
                                    match retry_entry(i, throttle, code.clone(), message.clone()) {
                                        Ok(()) => again.push(i),
                                        Err(e) => results[i] = Some(e),
                                    }
                                } else {
                                    results[i] = Some(Put::Failed {
                                        code: code.clone(),
                                        message: message.clone(),
                                    });
                                }
                            }
                        }
                    }
                    if any_throttle {
                        sh.throttled();
                    } else {
                        sh.unthrottled();
                    }
                }
                Err(e) if e.is_retryable() => {
                    let throttle = matches!(e, PortError::Throttled(_));
                    if throttle {
                        sh.throttled();
                    } else {
                        // The call may have been applied with its answer lost.
                        sh.lock().counts.possible_duplicates += idx.len() as u64;
                        backoff_next = true;
                    }
                    tracing::warn!(error = %e, entries = idx.len(), "PutEvents failed; retrying");
                    for &i in &idx {
                        match retry_entry(i, throttle, "CallFailed".into(), e.to_string()) {
                            Ok(()) => again.push(i),
                            Err(err) => results[i] = Some(err),
                        }
                    }
                }
                Err(e) => {
                    for &i in &idx {
                        results[i] = Some(Put::Failed {
                            code: "CallFailed".into(),
                            message: e.to_string(),
                        });
                    }
                }
            }
        }
        again.sort_unstable();
        pending = again;
    }
    results
        .into_iter()
        .map(|r| r.expect("every candidate answered"))
        .collect()
}

/// Deletes messages in batches of 10, retrying entries that failed for the service's sake.
/// The message a batch entry (made by `BatchEntry::for_handles`) stands for.
fn msg_of<'a>(chunk: &[&'a ReceivedMessage], e: &BatchEntry) -> Option<&'a ReceivedMessage> {
    e.id.parse::<usize>()
        .ok()
        .and_then(|i| chunk.get(i))
        .copied()
}

async fn delete_all(sh: &Shared, q: &QueueRef, msgs: &[&ReceivedMessage]) {
    for chunk in msgs.chunks(10) {
        let mut entries = BatchEntry::for_handles(chunk.iter().map(|m| m.receipt_handle.as_str()));
        let mut attempt = 0;
        while !entries.is_empty() {
            match sh.ports.queue.delete_batch(&q.url, &entries).await {
                Ok(failed) => {
                    sh.deleted(
                        entries
                            .iter()
                            .filter(|e| !failed.iter().any(|f| f.id == e.id))
                            .filter_map(|e| msg_of(chunk, e))
                            .map(|m| m.message_id.as_str()),
                    );
                    let mut again = Vec::new();
                    for f in failed {
                        let e = entries.iter().find(|e| e.id == f.id).cloned();
                        if f.sender_fault || attempt >= 3 {
                            sh.lock().counts.delete_failed += 1;
                            tracing::warn!(queue = %q.name, code = %f.code, "could not delete a re-emitted message; the ledger dedups it on the next run");
                            // Visible again at the end, so the next run finds it at once.
                            if let Some(m) = e.and_then(|e| msg_of(chunk, &e)) {
                                sh.hold(&q.url, m);
                            }
                        } else if let Some(e) = e {
                            again.push(e);
                        }
                    }
                    entries = again;
                }
                Err(e) if e.is_retryable() && attempt < 3 => {
                    tracing::warn!(queue = %q.name, error = %e, "DeleteMessageBatch failed; retrying");
                }
                Err(e) => {
                    tracing::warn!(queue = %q.name, error = %e, "DeleteMessageBatch failed");
                    sh.lock().counts.delete_failed += entries.len() as u64;
                    for m in entries.iter().filter_map(|e| msg_of(chunk, e)) {
                        sh.hold(&q.url, m);
                    }
                    entries.clear();
                }
            }
            if !entries.is_empty() {
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
            }
        }
    }
}

/// Classifies, claims, puts and marks done one received batch. Answers the messages to
/// delete: re-emitted, found done, or parked.
async fn process(
    sh: &Shared,
    q: &QueueRef,
    msgs: Vec<ReceivedMessage>,
) -> Result<Vec<ReceivedMessage>, AppError> {
    let now = Utc::now();
    let mut cands = Vec::new();
    let mut to_delete: Vec<ReceivedMessage> = Vec::new();
    for m in msgs {
        match sh.classify(q, &m, now) {
            Class::Skip(why) => {
                sh.hold(&q.url, &m);
                let mut st = sh.lock();
                st.counts.filtered += 1;
                if sh.cfg.dry_run {
                    st.planned.push(Planned {
                        queue: q.name.clone(),
                        message_id: m.message_id.clone(),
                        action: "skip".into(),
                        dedup_key: None,
                        event_type: None,
                        bus: None,
                        rules: vec![],
                        reason: Some(why),
                    });
                }
            }
            Class::Poison { reason, key } => {
                if sh.cfg.dry_run {
                    sh.hold(&q.url, &m);
                    let action = if sh.cfg.park_queue.is_some() {
                        "park"
                    } else {
                        "leave"
                    };
                    let mut st = sh.lock();
                    if sh.cfg.park_queue.is_some() {
                        st.counts.would_park += 1;
                    } else {
                        st.counts.failed += 1;
                    }
                    st.planned.push(Planned {
                        queue: q.name.clone(),
                        message_id: m.message_id.clone(),
                        action: action.into(),
                        dedup_key: key,
                        event_type: None,
                        bus: None,
                        rules: vec![],
                        reason: Some(reason),
                    });
                    continue;
                }
                match &sh.cfg.park_queue {
                    Some(park) => {
                        let mut attrs = m.attributes.clone();
                        attrs.insert(PARK_REASON_ATTRIBUTE.into(), reason.clone());
                        attrs.insert(PARK_SOURCE_ATTRIBUTE.into(), q.arn.clone());
                        match retry("SendMessage (park)", || {
                            sh.ports.queue.send(&park.url, &m.body, &attrs)
                        })
                        .await
                        {
                            Ok(_) => {
                                sh.fail(q, &m, key, "PARKED", reason, true);
                                to_delete.push(m);
                            }
                            Err(e) => {
                                sh.hold(&q.url, &m);
                                sh.fail(
                                    q,
                                    &m,
                                    key,
                                    "PARK_FAILED",
                                    format!("{reason}; parking failed: {e}"),
                                    false,
                                );
                            }
                        }
                    }
                    None => {
                        sh.hold(&q.url, &m);
                        sh.fail(q, &m, key, "POISON", reason, false);
                    }
                }
            }
            Class::Emit(e) => {
                let Emit {
                    key,
                    digest,
                    duplicate_keys,
                    redrive,
                    entry,
                    event_type,
                } = *e;
                cands.push(Candidate {
                    msg: m,
                    key,
                    digest,
                    duplicate_keys,
                    redrive,
                    entry,
                    event_type,
                });
            }
        }
    }

    if sh.cfg.dry_run {
        for c in cands {
            let (rules, reason) = match sh.blast_radius(&c).await {
                Ok(rules) => (rules, None),
                Err(why) => (Vec::new(), Some(why)),
            };
            sh.hold(&q.url, &c.msg);
            let mut st = sh.lock();
            // A key an earlier message of this dry run takes: the real run would put it once
            // and delete this copy, or leave it as a conflict (the ledger is not read here).
            let (action, reason) = match st.dry_keys.get(&c.key) {
                None => {
                    st.dry_keys.insert(c.key.clone(), c.digest.clone());
                    st.counts.would_reemit += 1;
                    ("re-emit", reason)
                }
                Some(d) if *d == c.digest => {
                    st.counts.duplicates += 1;
                    ("duplicate", Some("another message of this run has the same key and content: deleted without a put".into()))
                }
                Some(_) => {
                    st.counts.conflicts += 1;
                    (
                        "conflict",
                        Some(format!(
                            "key {}: another message of this run has the same key and other content: this one would stay in the queue",
                            c.key
                        )),
                    )
                }
            };
            st.planned.push(Planned {
                queue: q.name.clone(),
                message_id: c.msg.message_id.clone(),
                action: action.into(),
                dedup_key: Some(c.key.clone()),
                event_type: c.event_type.clone(),
                bus: Some(c.entry.bus.clone()),
                rules,
                reason,
            });
            drop(st);
            if action == "re-emit" && !c.duplicate_keys.is_empty() {
                sh.warn_duplicate_keys(q, &c.msg, &c.key, &c.duplicate_keys);
            }
        }
        return Ok(Vec::new());
    }

    // Stopping: nothing new is claimed; the candidates are released at the end.
    if sh.stopping() {
        for c in &cands {
            sh.hold(&q.url, &c.msg);
        }
        return Ok(to_delete);
    }

    // Claim.
    let mut to_put = Vec::new();
    match &sh.ports.ledger {
        None => to_put = cands,
        Some(ledger) => {
            let claims: Vec<Claim> = cands
                .iter()
                .map(|c| Claim {
                    key: c.key.clone(),
                    run_id: sh.cfg.run_id.clone(),
                    redrive: c.redrive,
                    now,
                    in_progress_for: sh.cfg.claim_for,
                    ttl: sh.cfg.ledger_ttl,
                    digest: c.digest.clone(),
                })
                .collect();
            let outcomes = if claims.is_empty() {
                Vec::new()
            } else {
                match retry("ledger claim", || ledger.claim(&claims)).await {
                    Ok(o) => o,
                    Err(e) => {
                        for c in &cands {
                            sh.hold(&q.url, &c.msg);
                        }
                        return Err(AppError::Port(e));
                    }
                }
            };
            for (c, o) in cands.into_iter().zip(outcomes) {
                match o {
                    ClaimOutcome::Claimed => to_put.push(c),
                    ClaimOutcome::Done(r) if r.content_differs(&c.digest) => {
                        sh.hold(&q.url, &c.msg);
                        sh.conflict(&q.name, &c.msg.message_id, &c.key, &r);
                    }
                    ClaimOutcome::Done(_) => {
                        sh.lock().counts.duplicates += 1;
                        to_delete.push(c.msg);
                    }
                    ClaimOutcome::Held(r) if r.run_id == sh.cfg.run_id => {
                        // Another copy of this event, claimed by this run: decided at the end,
                        // once that copy's re-emit is done (or not).
                        sh.hold(&q.url, &c.msg);
                        sh.lock().own_copies.push(OwnCopy {
                            queue: q.name.clone(),
                            message_id: c.msg.message_id.clone(),
                            key: c.key.clone(),
                            redrive: c.redrive,
                            digest: c.digest.clone(),
                        });
                    }
                    ClaimOutcome::Held(r) => {
                        sh.hold(&q.url, &c.msg);
                        sh.lock().counts.held_elsewhere += 1;
                        tracing::info!(key = %c.key, holder = %r.run_id, "key claimed by another run; left in the queue");
                    }
                }
            }
        }
    }
    if sh.hooks.crash_at(Step::AfterClaim) {
        return Err(crashed(Step::AfterClaim));
    }

    // Put.
    let results = put_all(sh, &to_put).await;
    if sh.hooks.crash_at(Step::AfterPut) {
        return Err(crashed(Step::AfterPut));
    }

    // Mark done, or release the claim of what failed for sure.
    let mut done = Vec::new();
    let mut released = Vec::new();
    for (c, r) in to_put.iter().zip(&results) {
        match r {
            Put::Accepted { event_id } => done.push(Finished {
                key: c.key.clone(),
                event_id: event_id.clone(),
            }),
            Put::Failed { code, message } => {
                released.push(c.key.clone());
                sh.hold(&q.url, &c.msg);
                sh.fail(q, &c.msg, Some(c.key.clone()), code, message.clone(), false);
            }
            Put::NotSent => {
                released.push(c.key.clone());
                sh.hold(&q.url, &c.msg);
            }
        }
    }
    if let Some(ledger) = &sh.ports.ledger {
        if !done.is_empty() {
            match retry("ledger mark-done", || {
                ledger.mark_done(&sh.cfg.run_id, &done, Utc::now())
            })
            .await
            {
                Ok(owned) => {
                    let lost = owned.iter().filter(|o| !**o).count() as u64;
                    sh.lock().counts.possible_duplicates += lost;
                }
                Err(e) => {
                    // The events are on the bus; without DONE a later run may put them once
                    // more after the claim expires (the documented window). Delete anyway.
                    tracing::warn!(error = %e, "could not mark keys done in the ledger");
                    sh.lock().counts.possible_duplicates += done.len() as u64;
                }
            }
        }
        if !released.is_empty()
            && let Err(e) = ledger.release(&sh.cfg.run_id, &released).await
        {
            tracing::warn!(error = %e, "could not release the claims of events not re-emitted; they expire by themselves");
        }
    }
    sh.lock().counts.reemitted += done.len() as u64;
    for (c, _) in to_put
        .iter()
        .zip(&results)
        .filter(|(_, r)| matches!(r, Put::Accepted { .. }))
    {
        if !c.duplicate_keys.is_empty() {
            sh.warn_duplicate_keys(q, &c.msg, &c.key, &c.duplicate_keys);
        }
    }
    if sh.hooks.crash_at(Step::AfterDone) {
        return Err(crashed(Step::AfterDone));
    }

    // What was re-emitted, found done, or parked is deleted by the caller.
    to_delete.extend(
        to_put
            .into_iter()
            .zip(&results)
            .filter(|(_, r)| matches!(r, Put::Accepted { .. }))
            .map(|(c, _)| c.msg),
    );
    Ok(to_delete)
}

/// Deletes a processed batch's messages; then the `AfterDelete` crash point.
async fn delete_processed(
    sh: &Shared,
    q: &QueueRef,
    msgs: Vec<ReceivedMessage>,
) -> Result<(), AppError> {
    if msgs.is_empty() {
        return Ok(());
    }
    let refs: Vec<&ReceivedMessage> = msgs.iter().collect();
    delete_all(sh, q, &refs).await;
    if sh.hooks.crash_at(Step::AfterDelete) {
        return Err(crashed(Step::AfterDelete));
    }
    Ok(())
}

/// Receives a batch; from here until it is deleted or released, every message in it is
/// kept invisible (`Keeper`).
async fn receive(sh: &Shared, q: &QueueRef) -> Result<Vec<ReceivedMessage>, AppError> {
    let want = match sh.cfg.max_messages {
        Some(max) => (max.saturating_sub(sh.lock().counts.received)).clamp(1, 10) as u8,
        None => 10,
    };
    let msgs = retry("ReceiveMessage", || {
        sh.ports
            .queue
            .receive(&q.url, want, sh.cfg.receive_wait, Some(sh.cfg.visibility))
    })
    .await
    .map_err(|e| match e {
        PortError::NotFound(m) => AppError::Port(PortError::NotFound(format!(
            "{m}: queue {} disappeared during the drain",
            q.name
        ))),
        other => AppError::Port(other),
    })?;
    sh.keeper.track(&q.url, &msgs, Instant::now());
    Ok(msgs)
}

/// One pipeline over one queue. Its calls overlap: while batch i is claimed and put, the
/// messages of batch i-1 are deleted and batch i+1 is received, so a pipeline waits about one
/// round trip per batch instead of three. Prefetching is off under `--max-messages` (the
/// count decides how many to receive).
async fn worker(sh: Arc<Shared>, q: QueueRef) -> Result<(), AppError> {
    let mut prefetched: Option<Vec<ReceivedMessage>> = None;
    let mut deletes: Vec<ReceivedMessage> = Vec::new();
    let outcome = loop {
        if let Some(reason) = sh.stop_reason() {
            if let Some(msgs) = prefetched.take() {
                for m in &msgs {
                    sh.hold(&q.url, m);
                }
            }
            sh.note_stop(reason);
            break Ok(());
        }
        let msgs = match prefetched.take() {
            Some(batch) => batch,
            None => match receive(&sh, &q).await {
                Ok(msgs) => msgs,
                Err(e) => break Err(e),
            },
        };
        if msgs.is_empty() {
            sh.found_empty(&q);
            break Ok(());
        }
        let fresh = sh.admit(&q, msgs);
        if fresh.is_empty() {
            sh.note_stop(format!(
                "{}: only messages already seen in this run",
                q.name
            ));
            break Ok(());
        }
        let prefetch = sh.cfg.max_messages.is_none();
        let (processed, deleted, next) = tokio::join!(
            process(&sh, &q, fresh),
            delete_processed(&sh, &q, std::mem::take(&mut deletes)),
            async {
                if prefetch {
                    Some(receive(&sh, &q).await)
                } else {
                    None
                }
            },
        );
        let counts = sh.lock().counts;
        sh.observer.progress(&counts);
        let failed = match (processed, deleted) {
            (Ok(d), Ok(())) => {
                deletes = d;
                None
            }
            (Err(e), _) | (Ok(_), Err(e)) => Some(e),
        };
        match next {
            Some(Ok(batch)) if failed.is_some() => {
                for m in &batch {
                    sh.hold(&q.url, m);
                }
            }
            Some(Ok(batch)) => prefetched = Some(batch),
            Some(Err(e)) if failed.is_none() => break Err(e),
            _ => {}
        }
        if let Some(e) = failed {
            return Err(e);
        }
    };
    // What the last batch re-emitted is deleted whatever ended the loop.
    let deleted = delete_processed(&sh, &q, deletes).await;
    outcome.and(deleted)
}

/// Deletes the extra copies of keys this run re-emitted (a duplicate, no second put); copies
/// whose key did not end DONE stay for a later run, and copies of other content (a conflict)
/// stay too.
async fn settle_own_copies(sh: &Shared) {
    let copies = std::mem::take(&mut sh.lock().own_copies);
    let Some(ledger) = &sh.ports.ledger else {
        return;
    };
    let mut by_queue: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for copy in copies {
        let done = match ledger.get(&copy.key).await {
            Ok(Some(r)) if r.state == LedgerState::Done && r.redrive >= copy.redrive => Some(r),
            _ => None,
        };
        let held = sh.lock().held.get(&copy.message_id).cloned();
        match (done, held) {
            (Some(r), Some(_)) if r.content_differs(&copy.digest) => {
                sh.conflict(&copy.queue, &copy.message_id, &copy.key, &r);
            }
            (Some(_), Some((url, handle))) => by_queue
                .entry(url)
                .or_default()
                .push((copy.message_id, handle)),
            _ => sh.lock().counts.held_elsewhere += 1,
        }
    }
    for (url, items) in by_queue {
        for chunk in items.chunks(10) {
            let entries = BatchEntry::for_handles(chunk.iter().map(|(_, h)| h.as_str()));
            let failed = match sh.ports.queue.delete_batch(&url, &entries).await {
                Ok(f) => f.into_iter().map(|f| f.id).collect::<HashSet<_>>(),
                Err(e) => {
                    tracing::warn!(error = %e, "could not delete duplicate copies; the ledger dedups them next run");
                    entries.iter().map(|e| e.id.clone()).collect()
                }
            };
            let mut gone = Vec::new();
            {
                let mut st = sh.lock();
                for (e, (id, _)) in entries.iter().zip(chunk) {
                    if failed.contains(&e.id) {
                        st.counts.delete_failed += 1;
                    } else {
                        st.held.remove(id);
                        st.counts.duplicates += 1;
                        gone.push(id.as_str());
                    }
                }
            }
            sh.deleted(gone);
        }
    }
}

/// Makes held messages visible again.
async fn release_held(sh: &Shared) {
    let held: Vec<(String, String)> = sh.lock().held.drain().map(|(_, v)| v).collect();
    let mut by_queue: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (url, handle) in held {
        by_queue.entry(url).or_default().push(handle);
    }
    for (url, handles) in by_queue {
        for chunk in handles.chunks(10) {
            let entries = BatchEntry::for_handles(chunk.iter().map(String::as_str));
            match sh
                .ports
                .queue
                .change_visibility_batch(&url, &entries, Duration::ZERO)
                .await
            {
                Ok(failed) => sh.lock().counts.released += (entries.len() - failed.len()) as u64,
                Err(e) => {
                    tracing::warn!(error = %e, "could not release messages; they reappear after their visibility timeout")
                }
            }
        }
    }
}

/// Messages still in the drained queues (visible, in flight or delayed), so the summary can
/// say what the run left; None when a queue cannot be asked.
async fn left_in_queues(sh: &Shared) -> Option<u64> {
    let mut left = 0;
    for q in &sh.cfg.queues {
        match sh.ports.queue.depth(&q.url).await {
            Ok(d) => left += d.visible + d.in_flight + d.delayed,
            Err(e) => {
                tracing::debug!(queue = %q.name, error = %e, "could not count what is left");
                return None;
            }
        }
    }
    Some(left)
}

/// Runs a drain to its end. On `interrupt` nothing new is put: the calls already sent are
/// finished, marked done and deleted, and everything else held is released.
pub async fn drain<I: Future<Output = Signal> + Send + 'static>(
    cfg: DrainConfig,
    ports: DrainPorts,
    hooks: Arc<dyn Hooks>,
    observer: Arc<dyn DrainObserver>,
    interrupt: I,
) -> Result<DrainOutcome, AppError> {
    let mut total = 0;
    for q in &cfg.queues {
        if let Ok(d) = ports.queue.depth(&q.url).await {
            total += d.visible;
        }
    }
    let sh = Arc::new(Shared {
        rate: cfg.rate.map(RateLimiter::new),
        gate: Mutex::new(Gate::default()),
        keeper: Keeper::new(cfg.visibility),
        cfg,
        ports,
        hooks,
        observer,
        started: Instant::now(),
        stop: tokio::sync::watch::channel(false).0,
        state: Mutex::new(RunState::default()),
        blast: tokio::sync::Mutex::new(BTreeMap::new()),
    });
    sh.lock().counts.total_estimate = total;
    let signal = Arc::new(OnceLock::new());
    let watcher = {
        let sh = sh.clone();
        let signal = signal.clone();
        tokio::spawn(async move {
            let _ = signal.set(interrupt.await);
            sh.halt();
        })
    };
    let keeper_done = Arc::new(tokio::sync::Notify::new());
    // A zero visibility timeout (tests) holds nothing.
    let keeper = (!sh.cfg.visibility.is_zero()).then(|| {
        let sh = sh.clone();
        let done = keeper_done.clone();
        tokio::spawn(async move { sh.keeper.run(sh.ports.queue.as_ref(), &done).await })
    });
    let per_queue = pipelines(sh.cfg.concurrency, sh.cfg.rate, sh.cfg.visibility);
    if per_queue < sh.cfg.concurrency {
        tracing::info!(
            pipelines = per_queue,
            concurrency = sh.cfg.concurrency,
            "--rate: fewer pipelines per queue, so that what they hold can be put within half the visibility timeout"
        );
    }
    let mut result = Ok(());
    for q in sh.cfg.queues.clone() {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..per_queue {
            set.spawn(worker(sh.clone(), q.clone()));
        }
        while let Some(joined) = set.join_next().await {
            let r =
                joined.unwrap_or_else(|e| Err(AppError::Io(format!("drain worker failed: {e}"))));
            if let Err(e) = r {
                sh.halt();
                if result.is_ok() {
                    result = Err(e);
                }
            }
        }
        if result.is_err() || sh.stopping() {
            break;
        }
    }
    watcher.abort();
    // The keeper finishes a tick in progress before the messages are released, so no
    // extension lands after a release.
    if let Some(k) = keeper {
        keeper_done.notify_one();
        let _ = k.await;
    }
    tracing::debug!(
        extended = sh.keeper.extended(),
        "visibility extensions of held messages"
    );
    sh.observer.finish();
    if let Err(e) = result {
        if !e.to_string().contains("(test hook)") {
            settle_own_copies(&sh).await;
            release_held(&sh).await;
        }
        return Err(e);
    }
    settle_own_copies(&sh).await;
    release_held(&sh).await;
    let signal = signal.get().copied();
    let left = match signal {
        Some(_) => None,
        None => {
            check_in_flight(&sh).await;
            // Messages in flight in a queue found empty are already explained by its reason.
            let in_flight = sh.lock().counts.in_flight;
            left_in_queues(&sh)
                .await
                .map(|k| k.saturating_sub(in_flight))
        }
    };
    let st = std::mem::take(&mut *sh.lock());
    let stopped_because = match signal {
        Some(sig) => format!("interrupted by {sig}"),
        None => super::ending::stopped_because(&super::ending::End {
            reasons: &st.stop_reasons,
            counts: &st.counts,
            failures: &st.failures,
            dry_run: sh.cfg.dry_run,
            queues: sh.cfg.queues.len(),
            left,
        }),
    };
    Ok(DrainOutcome {
        run_id: sh.cfg.run_id.clone(),
        dry_run: sh.cfg.dry_run,
        counts: st.counts,
        failures: st.failures,
        warnings: st.warnings,
        planned: st.planned,
        stopped_because,
        interrupted: signal.is_some(),
        signal,
    })
}

fn empty_reason(q: &QueueRef) -> String {
    format!("{} is empty", q.name)
}

/// A queue that answered empty may still hold messages in flight: a stopped or killed
/// run's (back after their visibility timeout) or another run's. One GetQueueAttributes per
/// such queue, after this run released what it held; approximate, as SQS's counts are.
async fn check_in_flight(sh: &Shared) {
    let empty = sh.lock().found_empty.clone();
    for q in empty {
        let n = match sh.ports.queue.depth(&q.url).await {
            Ok(d) => d.in_flight,
            Err(e) => {
                tracing::warn!(queue = %q.name, error = %e, "could not check the queue for messages still in flight");
                continue;
            }
        };
        if n == 0 {
            continue;
        }
        let mut st = sh.lock();
        st.counts.in_flight += n;
        let was = empty_reason(&q);
        let now = format!(
            "{} is empty but {n} message(s) are still in flight: another run holds them, or a stopped run left them and they come back after their visibility timeout; run again then",
            q.name
        );
        match st.stop_reasons.iter_mut().find(|r| **r == was) {
            Some(r) => *r = now,
            None => st.stop_reasons.push(now),
        }
    }
}
