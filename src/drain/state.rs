//! The state the pipelines of one run share: what they hold, what they counted, and when
//! they stop.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use tokio::time::Instant;

use super::config::{DrainConfig, DrainPorts, Hooks, Step};
use super::keeper::Keeper;
use super::outcome::{Counts, DrainObserver, Failure, Planned, TargetTally, Warning};
use super::rate::RateLimiter;
use super::route::RuleTargets;
use crate::error::AppError;
use crate::pattern::Pattern;
use crate::ports::PortError;
use crate::ports::ledger::LedgerRecord;
use crate::ports::queue::{QueueRef, ReceivedMessage};

/// A bus's rules as the blast radius reads them, or why they could not be listed.
pub(super) type BusRules = Result<Arc<Vec<(String, Pattern)>>, String>;

/// The shared throttling gate: after a throttled PutEvents, every pipeline waits.
#[derive(Default)]
pub(super) struct Gate {
    pub(super) until: Option<tokio::time::Instant>,
    pub(super) streak: u32,
}

#[derive(Default)]
pub(super) struct RunState {
    pub(super) counts: Counts,
    /// The ids of the messages this run received and has not deleted, as a `fingerprint`
    /// (16 bytes instead of a 36-character string): a message seen again is one this run
    /// holds or could not delete, not new work. Deleted ids are forgotten (`Shared::deleted`),
    /// so this grows with the messages left in the queue, not with the messages drained.
    pub(super) seen: HashSet<u128>,
    /// Messages to make visible again at the end: id → (queue url, latest receipt handle).
    pub(super) held: HashMap<String, (String, String)>,
    /// Copies of a key this run itself holds (the same event dead-lettered twice, e.g. by
    /// the webhook and the partner source). Settled at the end.
    pub(super) own_copies: Vec<OwnCopy>,
    pub(super) failures: Vec<Failure>,
    pub(super) warnings: Vec<Warning>,
    pub(super) planned: Vec<Planned>,
    /// A dry run's keys planned for re-emission, with their content digest.
    pub(super) dry_keys: HashMap<String, String>,
    pub(super) stop_reasons: Vec<String>,
    /// Queues that answered empty, checked at the end for messages still in flight.
    pub(super) found_empty: Vec<QueueRef>,
    /// `--to target`: what became of the messages of each target, by target ARN.
    pub(super) targets: BTreeMap<String, TargetTally>,
}

/// A message whose key this run claimed for another message.
pub(super) struct OwnCopy {
    pub(super) queue: String,
    pub(super) message_id: String,
    pub(super) key: String,
    pub(super) redrive: u32,
    pub(super) digest: String,
}

pub(super) struct Shared {
    pub(super) cfg: DrainConfig,
    pub(super) ports: DrainPorts,
    pub(super) hooks: Arc<dyn Hooks>,
    pub(super) observer: Arc<dyn DrainObserver>,
    pub(super) rate: Option<RateLimiter>,
    pub(super) gate: Mutex<Gate>,
    pub(super) started: Instant,
    /// Set on interrupt or on a pipeline's error: nothing new is put or received.
    pub(super) stop: tokio::sync::watch::Sender<bool>,
    pub(super) keeper: Keeper,
    pub(super) state: Mutex<RunState>,
    /// A dry run's rules per destination bus, listed once each: the rules with an event
    /// pattern, or why they could not be listed.
    pub(super) blast: tokio::sync::Mutex<BTreeMap<String, BusRules>>,
    /// `--to target`: each rule's targets by rule ARN, listed once each.
    pub(super) rule_targets: tokio::sync::Mutex<BTreeMap<String, RuleTargets>>,
    /// `--to target`: the URL of each target queue by ARN, resolved once each.
    pub(super) queue_urls: tokio::sync::Mutex<BTreeMap<String, Result<String, PortError>>>,
}

/// Which count of a target's tally to raise.
#[derive(Debug, Clone, Copy)]
pub(super) enum Tally {
    Delivered,
    Duplicate,
    Failed,
}

pub(super) fn crashed(step: Step) -> AppError {
    AppError::Io(format!("simulated crash {step:?} (test hook)"))
}

impl Shared {
    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, RunState> {
        self.state.lock().expect("drain state")
    }

    /// Whether the run is stopping (interrupted, or a pipeline failed).
    pub(super) fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    pub(super) fn halt(&self) {
        self.stop.send_replace(true);
    }

    /// Resolves once the run is stopping.
    pub(super) async fn stopped(&self) {
        let mut rx = self.stop.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }

    /// Counts a message of the target `arn` in its tally.
    pub(super) fn tally(&self, arn: &str, what: Tally) {
        let mut st = self.lock();
        let t = st
            .targets
            .entry(arn.to_string())
            .or_insert_with(|| TargetTally {
                target_arn: arn.to_string(),
                kind: crate::delivery::kind::TargetKind::of(arn)
                    .label()
                    .to_string(),
                ..TargetTally::default()
            });
        match what {
            Tally::Delivered => t.delivered += 1,
            Tally::Duplicate => t.duplicates += 1,
            Tally::Failed => t.failed += 1,
        }
    }

    pub(super) fn hold(&self, url: &str, m: &ReceivedMessage) {
        // A handle already recorded came from a later receive of the same message (admit):
        // only the newest handle can change its visibility.
        self.lock()
            .held
            .entry(m.message_id.clone())
            .or_insert_with(|| (url.to_string(), m.receipt_handle.clone()));
    }

    pub(super) fn fail(
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
    pub(super) fn conflict(
        &self,
        queue: &str,
        message_id: &str,
        key: &str,
        existing: &LedgerRecord,
    ) {
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
    pub(super) fn warn_duplicate_keys(
        &self,
        q: &QueueRef,
        m: &ReceivedMessage,
        key: &str,
        dups: &[String],
    ) {
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

    pub(super) fn stop_reason(&self) -> Option<String> {
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

    pub(super) fn note_stop(&self, reason: String) {
        let mut st = self.lock();
        if !st.stop_reasons.contains(&reason) {
            st.stop_reasons.push(reason);
        }
    }

    /// A queue answered empty: the run ends there, and at its end the queue is checked for
    /// messages still in flight (another run's, or a stopped run's).
    pub(super) fn found_empty(&self, q: &QueueRef) {
        self.note_stop(empty_reason(q));
        let mut st = self.lock();
        if !st.found_empty.iter().any(|e| e.url == q.url) {
            st.found_empty.push(q.clone());
        }
    }

    /// Counts messages deleted and forgets them: a copy SQS delivers again after its delete
    /// (standard queues deliver at least once) is then a new message, which the ledger finds
    /// done, so the seen set holds only messages still in the queue.
    pub(super) fn deleted<'a>(&self, ids: impl IntoIterator<Item = &'a str>) {
        let ids: Vec<&str> = ids.into_iter().collect();
        self.keeper.forget(ids.iter().copied());
        let mut st = self.lock();
        for id in ids {
            st.seen.remove(&fingerprint(id));
            st.counts.deleted += 1;
        }
    }

    /// Marks messages seen; answers the ones new to this run (within --max-messages).
    pub(super) fn admit(&self, q: &QueueRef, msgs: Vec<ReceivedMessage>) -> Vec<ReceivedMessage> {
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
}

/// A message id's first 128 bits of SHA-256: two ids of one run share it with a chance of
/// about n²/2¹²⁹ (n = 10⁹ ids: under 10⁻²⁰).
pub(super) fn fingerprint(message_id: &str) -> u128 {
    let digest = Sha256::digest(message_id.as_bytes());
    let mut first = [0u8; 16];
    first.copy_from_slice(&digest[..16]);
    u128::from_le_bytes(first)
}

pub(super) fn empty_reason(q: &QueueRef) -> String {
    format!("{} is empty", q.name)
}
