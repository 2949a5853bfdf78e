//! Engine tests over the in-memory fakes: failures AWS produces and emulators do not.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use super::engine::*;
use crate::clock::ManualClock;
use crate::interrupt::Signal;
use crate::memory::eventbridge::MemoryEventBridge;
use crate::memory::latent::Latent;
use crate::memory::ledger::MemoryLedger;
use crate::memory::sqs::MemoryQueue;
use crate::ports::PortError;
use crate::ports::bus::RuleInfo;
use crate::ports::queue::QueueRef;

pub(crate) const RULE_ARN: &str =
    "arn:aws:events:us-east-2:123456789012:rule/billing/subscription-rule";

pub(crate) fn body(i: usize) -> String {
    json!({
        "version": "0", "id": format!("env-{i}"), "detail-type": "Stripe Webhook Event",
        "source": "stripe.webhook", "account": "123456789012", "time": "2025-09-08T14:00:00Z",
        "region": "us-east-2", "resources": [],
        "detail": {"id": format!("evt_{i}"), "type": "customer.subscription.updated"}
    })
    .to_string()
}

pub(crate) fn attrs() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("RULE_ARN".into(), RULE_ARN.into()),
        (
            "TARGET_ARN".into(),
            "arn:aws:lambda:us-east-2:123456789012:function:f".into(),
        ),
        ("ERROR_CODE".into(), "ERROR_FROM_TARGET".into()),
        ("RETRY_ATTEMPTS".into(), "185".into()),
    ])
}

struct World {
    sqs: MemoryQueue,
    eb: MemoryEventBridge,
    ledger: MemoryLedger,
    dlq: QueueRef,
    clock: Arc<ManualClock>,
}

fn world(n: usize) -> World {
    let sqs = MemoryQueue::new();
    let dlq = sqs.create("subs-dlq");
    for i in 0..n {
        sqs.push("subs-dlq", &body(i), attrs());
    }
    World {
        sqs,
        eb: MemoryEventBridge::new(),
        ledger: MemoryLedger::new(),
        dlq,
        clock: ManualClock::at(chrono::Utc::now()),
    }
}

impl World {
    fn cfg(&self) -> DrainConfig {
        let mut c = DrainConfig::new(
            vec![self.dlq.clone()],
            format!("run-{}", crate::ids::random_hex(6)),
        );
        c.receive_wait = Duration::ZERO;
        c
    }

    fn ports(&self, with_ledger: bool) -> DrainPorts {
        DrainPorts {
            queue: Arc::new(self.sqs.clone()),
            sink: Arc::new(self.eb.clone()),
            ledger: with_ledger
                .then(|| Arc::new(self.ledger.clone()) as Arc<dyn crate::ports::ledger::Ledger>),
            rules: Some(Arc::new(self.eb.clone())),
            clock: self.clock.clone(),
        }
    }

    async fn run(&self, cfg: DrainConfig) -> DrainOutcome {
        self.run_with(cfg, Arc::new(NoHooks)).await.unwrap()
    }

    async fn run_with(
        &self,
        cfg: DrainConfig,
        hooks: Arc<dyn Hooks>,
    ) -> Result<DrainOutcome, crate::error::AppError> {
        quiet_drain(cfg, self.ports(true), hooks).await
    }

    /// Dedup keys of every accepted put, with repeats.
    fn put_keys(&self) -> Vec<String> {
        self.eb
            .accepted()
            .iter()
            .map(|e| {
                let d: Value = serde_json::from_str(&e.detail).unwrap();
                d["nexus_replay"]["dedup_key"].as_str().unwrap().to_string()
            })
            .collect()
    }

    fn distinct_keys(&self) -> BTreeSet<String> {
        self.put_keys().into_iter().collect()
    }

    fn left(&self) -> usize {
        self.sqs.messages("subs-dlq").len()
    }

    /// Every one of the `n` keys was put exactly once and the DLQ is empty.
    #[track_caller]
    fn assert_each_key_put_once(&self, n: usize) {
        assert_eq!(self.put_keys().len(), n, "no key put twice");
        assert_eq!(self.distinct_keys(), all_keys(n));
        assert_eq!(self.left(), 0);
    }
}

/// A drain without progress output or interruption.
async fn quiet_drain(
    cfg: DrainConfig,
    ports: DrainPorts,
    hooks: Arc<dyn Hooks>,
) -> Result<DrainOutcome, crate::error::AppError> {
    drain(
        cfg,
        ports,
        hooks,
        Arc::new(QuietDrain),
        std::future::pending(),
    )
    .await
}

fn all_keys(n: usize) -> BTreeSet<String> {
    (0..n).map(|i| format!("evt_{i}")).collect()
}

#[tokio::test(start_paused = true)]
async fn drains_everything_once_with_batched_calls() {
    let w = world(95);
    let out = w.run(w.cfg()).await;
    assert_eq!(out.counts.received, 95);
    assert_eq!(out.counts.reemitted, 95);
    assert_eq!(out.counts.deleted, 95);
    assert_eq!(w.left(), 0);
    assert_eq!(w.put_keys().len(), 95);
    assert_eq!(w.distinct_keys(), all_keys(95));
    // Full batches: 10 receives + 10 puts + 10 deletes for 95 messages, plus the empty receives.
    assert_eq!(w.eb.put_calls(), 10);
    assert_eq!(w.sqs.calls("delete"), 10);
    let e = &w.eb.accepted()[0];
    assert_eq!(e.bus, "billing");
    assert_eq!(e.time.unwrap().to_rfc3339(), "2025-09-08T14:00:00+00:00");
    // A second run finds nothing.
    let again = w.run(w.cfg()).await;
    assert_eq!(again.counts.received, 0);
}

#[tokio::test(start_paused = true)]
async fn non_retryable_entry_failures_stay_in_the_dlq_with_their_code() {
    let w = world(20);
    w.eb.set_entry_fault(Box::new(|e| {
        e.detail
            .contains("\"evt_3\"")
            .then(|| "MalformedDetail".to_string())
    }));
    let out = w.run(w.cfg()).await;
    assert_eq!(out.counts.reemitted, 19);
    assert_eq!(out.counts.failed, 1);
    assert_eq!(out.failures[0].code, "MalformedDetail");
    assert_eq!(out.failures[0].dedup_key.as_deref(), Some("evt_3"));
    assert_eq!(w.left(), 1);
    assert!(w.sqs.messages("subs-dlq")[0].0.contains("evt_3"));
    assert_eq!(w.sqs.in_flight("subs-dlq"), 0, "released for a later run");
    // Its claim was released, so the next run tries again.
    assert!(w.ledger.records().iter().all(|r| r.key != "evt_3"));
}

#[tokio::test(start_paused = true)]
async fn retryable_entry_failures_and_throttling_are_retried() {
    let w = world(30);
    let n = Arc::new(AtomicUsize::new(0));
    let counter = n.clone();
    w.eb.set_entry_fault(Box::new(move |_| {
        // Every third entry fails on its first attempts.
        let k = counter.fetch_add(1, Ordering::Relaxed);
        match k % 3 {
            0 if k < 40 => Some("ThrottlingException".into()),
            1 if k < 40 => Some("InternalFailure".into()),
            _ => None,
        }
    }));
    w.eb.fail_next_put_calls(vec![PortError::Throttled("Rate exceeded".into())]);
    let out = w.run(w.cfg()).await;
    assert_eq!(out.counts.reemitted, 30, "{:?}", out.failures);
    assert_eq!(out.counts.failed, 0);
    assert_eq!(w.distinct_keys(), all_keys(30));
    assert_eq!(w.put_keys().len(), 30, "retried entries are not put twice");
    assert_eq!(
        out.counts.possible_duplicates, 0,
        "a throttled call was not applied"
    );
    assert_eq!(w.left(), 0);
}

#[tokio::test(start_paused = true)]
async fn retries_are_bounded() {
    // Throttling has its own, larger budget...
    let w = world(3);
    w.eb.set_entry_fault(Box::new(|_| Some("ThrottlingException".into())));
    let mut cfg = w.cfg();
    cfg.max_throttled_attempts = 4;
    let out = w.run(cfg).await;
    assert_eq!(out.counts.failed, 3);
    assert_eq!(w.eb.put_calls(), 4);
    assert!(
        out.failures[0]
            .reason
            .contains("after 4 attempts, 4 of them throttled"),
        "{}",
        out.failures[0].reason
    );
    assert_eq!(w.left(), 3);
    // ...and failures on the service's side theirs.
    let w = world(3);
    w.eb.set_entry_fault(Box::new(|_| Some("InternalFailure".into())));
    let mut cfg = w.cfg();
    cfg.max_put_attempts = 3;
    let out = w.run(cfg).await;
    assert_eq!((out.counts.failed, w.eb.put_calls()), (3, 3));
    assert!(
        out.failures[0]
            .reason
            .contains("after 3 attempts, 0 of them throttled")
    );
}

#[tokio::test(start_paused = true)]
async fn throttling_closes_a_gate_for_every_pipeline() {
    // Every call is throttled for the first 10 s of (paused) time: with 8 pipelines and a
    // shared gate that doubles from 100 ms, the calls stay few; then everything goes out.
    let w = world(80);
    let start = tokio::time::Instant::now();
    w.eb.set_entry_fault(Box::new(move |_| {
        (start.elapsed() < Duration::from_secs(10)).then(|| "ThrottlingException".into())
    }));
    let mut cfg = w.cfg();
    cfg.concurrency = 8;
    let out = w.run(cfg).await;
    assert_eq!(out.counts.reemitted, 80, "{:?}", out.failures);
    assert_eq!(out.counts.failed, 0);
    let calls = w.eb.put_calls();
    // 8 pipelines retrying on their own every 100-200 ms would make hundreds of calls.
    assert!(calls < 100, "{calls} PutEvents calls");
}

#[tokio::test(start_paused = true)]
async fn a_lost_put_response_is_counted_as_a_possible_duplicate() {
    let w = world(10);
    w.eb.lose_next_put_responses(1);
    let out = w.run(w.cfg()).await;
    assert_eq!(out.counts.reemitted, 10);
    assert_eq!(out.counts.possible_duplicates, 10);
    assert_eq!(
        w.put_keys().len(),
        20,
        "applied twice: the lost answer and the retry"
    );
    assert_eq!(w.distinct_keys(), all_keys(10));
    assert_eq!(w.left(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_pipeline_overlaps_receive_put_and_delete() {
    // 100 messages, one pipeline, 20 ms per call (virtual time). One call after another
    // would take 3 round trips per batch of 10 (600 ms and more); overlapped, a batch costs
    // one round trip (claim and mark-done add no latency here).
    let w = world(100);
    let latency = Duration::from_millis(20);
    let calls = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let ports = DrainPorts {
        queue: Arc::new(Latent {
            inner: w.sqs.clone(),
            latency,
            calls: calls.clone(),
        }),
        sink: Arc::new(Latent {
            inner: w.eb.clone(),
            latency,
            calls: calls.clone(),
        }),
        ledger: Some(Arc::new(w.ledger.clone())),
        rules: None,
        clock: w.clock.clone(),
    };
    let mut cfg = w.cfg();
    cfg.concurrency = 1;
    let started = tokio::time::Instant::now();
    let out = quiet_drain(cfg, ports, Arc::new(NoHooks)).await.unwrap();
    let took = started.elapsed();
    assert_eq!(out.counts.reemitted, 100);
    assert_eq!(out.counts.deleted, 100);
    assert_eq!(w.left(), 0);
    // 11 receives (the last one finds the queue empty), 10 puts, 10 deletes.
    assert_eq!(calls.load(Ordering::Relaxed), 31);
    assert!(
        took <= latency * 13,
        "10 batches took {took:?}: the calls of a pipeline did not overlap"
    );
}

#[tokio::test(start_paused = true)]
async fn duplicate_deliveries_are_put_once() {
    let w = world(10);
    w.sqs.duplicate_next_deliveries(4);
    let out = w.run(w.cfg()).await;
    assert_eq!(w.put_keys().len(), 10);
    assert_eq!(w.distinct_keys(), all_keys(10));
    assert_eq!(out.counts.reemitted, 10);
    assert_eq!(w.left(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_copy_delivered_again_after_its_delete_is_settled_in_the_same_run() {
    let w = world(10);
    w.sqs.survive_next_deletes(3);
    let out = w.run(w.cfg()).await;
    assert_eq!(out.counts.reemitted, 10);
    assert_eq!(out.counts.duplicates, 3, "the ledger knows the copies");
    assert_eq!(out.counts.deleted, 13);
    assert_eq!(w.left(), 0, "no copy is left in the DLQ");
    assert_eq!(w.put_keys().len(), 10, "no second put");
}

#[tokio::test(start_paused = true)]
async fn expired_receipt_handles_are_deduplicated_by_the_next_run() {
    let w = world(10);
    // The deletes of the first batch fail: handles expired before the delete.
    struct ExpireBeforeDelete(MemoryQueue);
    impl Hooks for ExpireBeforeDelete {
        fn crash_at(&self, step: Step) -> bool {
            if step == Step::AfterDone {
                self.0.expire_receipt_handles();
                self.0.make_all_visible();
            }
            false
        }
    }
    let out = w
        .run_with(w.cfg(), Arc::new(ExpireBeforeDelete(w.sqs.clone())))
        .await
        .unwrap();
    assert_eq!(out.counts.reemitted, 10);
    assert_eq!(out.counts.delete_failed, 10);
    assert_eq!(w.left(), 10);
    let again = w.run(w.cfg()).await;
    assert_eq!(again.counts.duplicates, 10);
    assert_eq!(again.counts.reemitted, 0);
    assert_eq!(w.left(), 0);
    assert_eq!(w.put_keys().len(), 10, "no second put");
}

#[tokio::test(start_paused = true)]
async fn partial_delete_failures_are_retried() {
    let w = world(10);
    w.sqs.fail_next_delete_entries(3);
    let out = w.run(w.cfg()).await;
    assert_eq!(out.counts.deleted, 10);
    assert_eq!(out.counts.delete_failed, 0);
    assert_eq!(w.left(), 0);
}

struct CrashOnce {
    at: Step,
    done: AtomicUsize,
}

impl Hooks for CrashOnce {
    fn crash_at(&self, step: Step) -> bool {
        step == self.at && self.done.fetch_add(1, Ordering::Relaxed) == 0
    }
}

#[tokio::test(start_paused = true)]
async fn a_crash_at_any_step_loses_nothing_and_duplicates_only_after_put() {
    for at in [
        Step::AfterClaim,
        Step::AfterPut,
        Step::AfterDone,
        Step::AfterDelete,
    ] {
        let w = world(25);
        let mut cfg = w.cfg();
        cfg.concurrency = 1;
        let hooks = Arc::new(CrashOnce {
            at,
            done: AtomicUsize::new(0),
        });
        assert!(w.run_with(cfg.clone(), hooks).await.is_err(), "{at:?}");
        // The process is gone: its in-flight messages reappear after their visibility timeout.
        assert!(
            w.sqs.in_flight("subs-dlq") > 0 || at == Step::AfterDelete,
            "{at:?}: no cleanup after a crash"
        );
        w.sqs.make_all_visible();
        // The rerun comes after the crashed run's claims expired.
        w.clock.advance(
            chrono::Duration::from_std(cfg.claim_for).unwrap() + chrono::Duration::seconds(1),
        );
        let mut rerun = cfg.clone();
        rerun.run_id = format!("rerun-{at:?}");
        w.run(rerun).await;
        assert_eq!(w.left(), 0, "{at:?}: nothing left in the DLQ");
        assert_eq!(w.distinct_keys(), all_keys(25), "{at:?}: every key arrived");
        let extra = w.put_keys().len() - 25;
        match at {
            Step::AfterPut => assert_eq!(extra, 10, "{at:?}: exactly the crashed batch again"),
            _ => assert_eq!(extra, 0, "{at:?}: no key put twice"),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn an_unexpired_claim_of_a_crashed_run_holds_the_key() {
    let w = world(10);
    let mut cfg = w.cfg();
    cfg.concurrency = 1;
    let hooks = Arc::new(CrashOnce {
        at: Step::AfterClaim,
        done: AtomicUsize::new(0),
    });
    assert!(w.run_with(cfg.clone(), hooks).await.is_err());
    w.sqs.make_all_visible();
    cfg.run_id = "second".into();
    let out = w.run(cfg).await;
    assert_eq!(out.counts.held_elsewhere, 10);
    assert_eq!(w.put_keys().len(), 0);
    assert_eq!(w.left(), 10, "left for a run after the claim expires");
}

#[tokio::test(start_paused = true)]
async fn malformed_messages_are_parked_with_their_reason_or_left() {
    for park in [false, true] {
        let w = world(5);
        w.sqs.push("subs-dlq", "not json at all", attrs());
        w.sqs.push("subs-dlq", r#"{"hello": "world"}"#, attrs());
        let park_q = w.sqs.create("parked");
        let mut cfg = w.cfg();
        if park {
            cfg.park_queue = Some(park_q.clone());
        }
        let out = w.run(cfg).await;
        assert_eq!(out.counts.reemitted, 5);
        if park {
            assert_eq!(out.counts.parked, 2);
            assert_eq!(w.left(), 0);
            let parked = w.sqs.messages("parked");
            assert_eq!(parked.len(), 2);
            assert!(
                parked.iter().all(
                    |(_, a)| a.contains_key(PARK_REASON_ATTRIBUTE) && a["RULE_ARN"] == RULE_ARN
                )
            );
            assert!(parked[0].1[PARK_REASON_ATTRIBUTE].contains("not JSON"));
        } else {
            assert_eq!(out.counts.failed, 2);
            assert_eq!(w.left(), 2);
            assert!(out.failures.iter().all(|f| f.code == "POISON"));
        }
    }
}

#[tokio::test(start_paused = true)]
async fn too_many_redrives_and_oversized_entries_are_poison() {
    let w = world(0);
    let mut b: Value = serde_json::from_str(&body(1)).unwrap();
    b["detail"]["nexus_replay"] = json!({"dedup_key": "evt_1", "redrive": 3});
    w.sqs.push("subs-dlq", &b.to_string(), attrs());
    let mut big: Value = serde_json::from_str(&body(2)).unwrap();
    big["detail"]["blob"] = json!("x".repeat(300 * 1024));
    w.sqs.push("subs-dlq", &big.to_string(), attrs());
    let mut ok: Value = serde_json::from_str(&body(3)).unwrap();
    ok["detail"]["nexus_replay"] =
        json!({"dedup_key": "evt_3", "redrive": 2, "original_id": "first"});
    w.sqs.push("subs-dlq", &ok.to_string(), attrs());
    let out = w.run(w.cfg()).await;
    assert_eq!(out.counts.failed, 2);
    let reasons: Vec<&str> = out.failures.iter().map(|f| f.reason.as_str()).collect();
    assert!(
        reasons.iter().any(|r| r.contains("--max-redrives 3")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("over the PutEvents limit")),
        "{reasons:?}"
    );
    let put: Value = serde_json::from_str(&w.eb.accepted()[0].detail).unwrap();
    assert_eq!(put["nexus_replay"]["redrive"], 3);
    assert_eq!(put["nexus_replay"]["original_id"], "first");
}

#[tokio::test(start_paused = true)]
async fn unselected_messages_stay_untouched_and_visible() {
    let w = world(6);
    let mut other: Value = serde_json::from_str(&body(99)).unwrap();
    other["detail"]["type"] = json!("invoice.payment_failed");
    w.sqs.push("subs-dlq", &other.to_string(), attrs());
    let mut cfg = w.cfg();
    cfg.selection.event_types = vec!["customer.subscription.updated".into()];
    let out = w.run(cfg).await;
    assert_eq!(out.counts.reemitted, 6);
    assert_eq!(out.counts.filtered, 1);
    assert_eq!(w.left(), 1);
    assert_eq!(w.sqs.in_flight("subs-dlq"), 0);
    assert_eq!(out.counts.released, 1);
}

#[tokio::test(start_paused = true)]
async fn dry_run_changes_nothing_and_shows_the_blast_radius() {
    let w = world(4);
    w.sqs.push("subs-dlq", "garbage", attrs());
    let mut cfg = w.cfg();
    cfg.dry_run = true;
    let rule = |name: &str, pattern: Value| RuleInfo {
        name: name.into(),
        arn: format!("arn:aws:events:us-east-2:123456789012:rule/billing/{name}"),
        state: "ENABLED".into(),
        event_pattern: Some(pattern.to_string()),
        schedule_expression: None,
        managed_by: None,
        description: None,
        targets: Vec::new(),
    };
    w.eb.add_bus("billing");
    w.eb.add_rule(
        "billing",
        rule(
            "subs",
            json!({"detail": {"type": [{"prefix": "customer.subscription."}]}}),
        ),
    );
    w.eb.add_rule(
        "billing",
        rule("payments", json!({"detail": {"type": ["invoice.paid"]}})),
    );
    let out = w.run(cfg).await;
    assert!(out.dry_run);
    assert_eq!(w.eb.put_calls(), 0);
    assert_eq!(w.left(), 5);
    assert_eq!(w.sqs.in_flight("subs-dlq"), 0, "every message released");
    assert!(w.ledger.records().is_empty());
    let emits: Vec<&Planned> = out
        .planned
        .iter()
        .filter(|p| p.action == "re-emit")
        .collect();
    assert_eq!(emits.len(), 4);
    assert!(
        emits
            .iter()
            .all(|p| p.rules == ["subs"] && p.reason.is_none())
    );
    assert!(out.planned.iter().any(|p| p.action == "leave"));
    // The bus's rules were listed once for the whole run, not per message.
    assert_eq!(w.eb.list_rules_calls(), 1);

    // A destination bus whose rules cannot be listed: said so, not an empty list.
    let mut cfg = w.cfg();
    cfg.dry_run = true;
    cfg.to_bus = Some("elsewhere".into());
    let out = w.run(cfg).await;
    let emit = out.planned.iter().find(|p| p.action == "re-emit").unwrap();
    assert!(emit.rules.is_empty());
    let why = emit.reason.as_deref().unwrap();
    assert!(why.starts_with("rules of bus elsewhere unknown: "), "{why}");
}

#[tokio::test(start_paused = true)]
async fn without_a_ledger_every_selected_message_is_put() {
    let w = world(12);
    let out = drain(
        w.cfg(),
        w.ports(false),
        Arc::new(NoHooks),
        Arc::new(QuietDrain),
        std::future::pending(),
    )
    .await
    .unwrap();
    assert_eq!(out.counts.reemitted, 12);
    assert_eq!(w.left(), 0);
}

#[tokio::test(start_paused = true)]
async fn max_messages_and_only_seen_messages_end_the_run() {
    let w = world(30);
    let mut cfg = w.cfg();
    cfg.max_messages = Some(12);
    cfg.concurrency = 1;
    let out = w.run(cfg).await;
    assert_eq!(out.counts.received, 12);
    assert_eq!(w.left(), 18);
    // The limit, and how much it left: not "is empty", even where a pipeline found
    // nothing visible while the others held the rest.
    assert_eq!(
        out.stopped_because,
        "--max-messages 12 reached (~18 left in the queue)"
    );
    assert_eq!(w.sqs.in_flight("subs-dlq"), 0);

    // Everything filtered and re-received: the run still ends.
    let w = world(5);
    let mut cfg = w.cfg();
    cfg.selection.sources = vec!["nothing.matches".into()];
    cfg.visibility = Duration::ZERO;
    let out = w.run(cfg).await;
    assert_eq!(out.counts.filtered, 5);
    assert_eq!(
        out.stopped_because,
        "only messages this run does not re-emit remain (5 not selected)"
    );
}

#[tokio::test(start_paused = true)]
async fn a_deleted_queue_stops_the_run_with_a_clear_error() {
    let w = world(5);
    w.sqs.delete_queue("subs-dlq");
    let err = w.run_with(w.cfg(), Arc::new(NoHooks)).await.unwrap_err();
    assert!(
        err.to_string().contains("disappeared during the drain"),
        "{err}"
    );
}

#[tokio::test(start_paused = true)]
async fn two_drainers_sharing_a_ledger_put_each_key_once() {
    let w = world(60);
    let a = w.cfg();
    let mut b = w.cfg();
    b.run_id = "other-drainer".into();
    let (ra, rb) = tokio::join!(w.run(a), w.run(b));
    assert_eq!(ra.counts.reemitted + rb.counts.reemitted, 60);
    assert_eq!(w.put_keys().len(), 60);
    assert_eq!(w.left(), 0);
}

#[tokio::test]
async fn two_copies_of_one_event_are_put_once_and_both_deleted() {
    // The same Stripe event dead-lettered twice (webhook and partner delivery): one put,
    // and the second copy deleted as a duplicate in the same run.
    let w = world(3);
    w.sqs.push("subs-dlq", &body(1), attrs());
    w.sqs.push("subs-dlq", &body(2), attrs());
    let out = w.run(w.cfg()).await;
    assert_eq!(out.counts.reemitted, 3, "{:?}", out.failures);
    assert_eq!(out.counts.duplicates, 2);
    assert_eq!(out.counts.held_elsewhere, 0);
    assert_eq!(w.put_keys().len(), 3);
    assert_eq!(w.left(), 0, "the extra copies are deleted too");
}

#[tokio::test(start_paused = true)]
async fn a_redrive_count_that_does_not_fit_is_over_the_cap_not_a_first_redrive() {
    let w = world(0);
    let park_q = w.sqs.create("parked");
    let values = [
        json!(u64::MAX),
        json!(i64::MAX),
        json!(1u64 << 63),
        json!(-1),
        json!(1.5),
        json!("2"),
    ];
    for (i, redrive) in values.iter().enumerate() {
        let mut b: Value = serde_json::from_str(&body(i)).unwrap();
        b["detail"]["nexus_replay"] = json!({"dedup_key": format!("evt_{i}"), "redrive": redrive});
        w.sqs.push("subs-dlq", &b.to_string(), attrs());
    }
    let mut cfg = w.cfg();
    cfg.park_queue = Some(park_q);
    let out = w.run(cfg).await;
    assert_eq!(w.eb.put_calls(), 0, "nothing re-emitted");
    assert_eq!(out.counts.parked, 6, "{:?}", out.failures);
    assert_eq!(w.sqs.messages("parked").len(), 6);
    for f in &out.failures {
        assert!(
            f.reason.contains("is not a redrive count") && f.reason.contains("--max-redrives 3"),
            "{}",
            f.reason
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_rule_arn_that_does_not_parse_or_is_foreign_has_no_destination() {
    let w = world(0);
    let arns = [
        "arn:aws:events:us-east-2:123456789012:rule/",
        "arn:aws:events:us-east-2:123456789012:rule//x",
        "arn:aws:events:us-east-2:123456789012:rule/x/",
        "arn:aws:events:us-east-2:999999999999:rule/billing/subscription-rule",
        "arn:aws:events:eu-west-1:123456789012:rule/billing/subscription-rule",
        // Fine: a partner bus keeps its slashes.
        "arn:aws:events:us-east-2:123456789012:rule/aws.partner/stripe.com/ed_1/subs",
        RULE_ARN,
    ];
    for (i, arn) in arns.iter().enumerate() {
        let mut a = attrs();
        a.insert("RULE_ARN".into(), arn.to_string());
        w.sqs.push("subs-dlq", &body(i), a);
    }
    let out = w.run(w.cfg()).await;
    let buses: BTreeSet<String> = w.eb.accepted().iter().map(|e| e.bus.clone()).collect();
    assert_eq!(
        buses,
        BTreeSet::from(["aws.partner/stripe.com/ed_1".into(), "billing".into()])
    );
    assert_eq!(out.counts.reemitted, 2);
    assert_eq!(out.counts.failed, 5);
    assert_eq!(w.left(), 5, "left in the DLQ");
    assert!(out.failures.iter().all(|f| {
        f.code == "POISON"
            && f.reason.starts_with("no destination: RULE_ARN ")
            && f.reason
                .ends_with("name the bus with --to-bus (reemit: --bus)")
    }));
    let reasons: Vec<&str> = out.failures.iter().map(|f| f.reason.as_str()).collect();
    assert!(
        reasons.iter().any(|r| r.contains("account 999999999999")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("in eu-west-1")),
        "{reasons:?}"
    );
    assert_eq!(
        out.stopped_because,
        "only messages that cannot be re-emitted remain (5 poison)"
    );

    // --to-bus names the destination: the RULE_ARN is not needed then.
    let mut cfg = w.cfg();
    cfg.to_bus = Some("capture".into());
    let out = w.run(cfg).await;
    assert_eq!(out.counts.reemitted, 5);
    assert_eq!(w.left(), 0);
}

/// A Stripe-shaped body with the given envelope id, Stripe id, type and amount.
fn stripe(env_id: &str, evt: &str, kind: &str, amount: i64) -> String {
    json!({
        "version": "0", "id": env_id, "detail-type": "Stripe Webhook Event",
        "source": "stripe.webhook", "time": "2025-09-08T14:00:00Z", "resources": [],
        "detail": {"id": evt, "type": kind, "data": {"object": {"amount": amount}}}
    })
    .to_string()
}

fn exit_code_of(out: &DrainOutcome) -> u8 {
    use crate::output::Report;
    crate::commands::drain::DrainReport {
        queues: vec!["subs-dlq".into()],
        ledger: "memory".into(),
        duration_seconds: 0.0,
        from_file: None,
        outcome: out.clone(),
    }
    .exit_code()
}

#[tokio::test(start_paused = true)]
async fn a_key_done_with_other_content_is_a_conflict_left_in_the_queue() {
    // Issue 19: evt_same as customer.subscription.updated was re-emitted; a later message
    // with the same Stripe id but other content is another event, not a duplicate.
    let w = world(0);
    w.sqs.push(
        "subs-dlq",
        &stripe("env-a", "evt_same", "customer.subscription.updated", 100),
        attrs(),
    );
    let first = w.run(w.cfg()).await;
    assert_eq!(first.counts.reemitted, 1);
    assert_eq!(exit_code_of(&first), crate::exit_codes::SUCCESS);
    let done = w.ledger.records().remove(0);
    let event_id = done.event_id.clone().unwrap();

    let other = stripe("env-b", "evt_same", "customer.subscription.deleted", 999);
    w.sqs.push("subs-dlq", &other, attrs());
    // A copy of the first, delivered again: the same content, so a duplicate as before.
    w.sqs.push(
        "subs-dlq",
        &stripe("env-a", "evt_same", "customer.subscription.updated", 100),
        attrs(),
    );
    let mut cfg = w.cfg();
    cfg.run_id = "second".into();
    let out = w.run(cfg).await;
    assert_eq!(out.counts.reemitted, 0);
    assert_eq!(out.counts.duplicates, 1, "the same content is a duplicate");
    assert_eq!(out.counts.deleted, 1);
    assert_eq!(out.counts.conflicts, 1);
    assert_eq!(out.counts.failed, 0);
    assert_eq!(w.put_keys(), ["evt_same"], "no second put");
    let left = w.sqs.messages("subs-dlq");
    assert_eq!(left.len(), 1, "the other event stays in the DLQ");
    assert_eq!(left[0].0, other);
    assert_eq!(w.sqs.in_flight("subs-dlq"), 0, "released at the end");
    let f = &out.failures[0];
    assert_eq!(
        (f.code.as_str(), f.dedup_key.as_deref()),
        ("CONFLICT", Some("evt_same"))
    );
    assert!(!f.parked);
    for part in ["key evt_same", "content differs", &done.run_id, &event_id] {
        assert!(f.reason.contains(part), "{part}: {}", f.reason);
    }
    assert_eq!(exit_code_of(&out), crate::exit_codes::PARTIAL);
    // The record still describes the first event.
    assert_eq!(w.ledger.records()[0].digest, done.digest);
}

#[tokio::test]
async fn copies_in_one_run_with_other_content_are_conflicts_not_duplicates() {
    // Two messages of one run under one key: the one put second is settled at the end of
    // the run; with other content it stays (the own-copies path).
    let w = world(0);
    let updated = stripe("env-a", "evt_same", "customer.subscription.updated", 100);
    let deleted = stripe("env-b", "evt_same", "customer.subscription.deleted", 999);
    w.sqs.push("subs-dlq", &updated, attrs());
    w.sqs.push("subs-dlq", &deleted, attrs());
    // And a true copy of the first (the partner delivery of the same Stripe event).
    let mut partner: Value = serde_json::from_str(&updated).unwrap();
    partner["id"] = json!("env-c");
    partner["source"] = json!("aws.partner/stripe.com/ed_1");
    partner["detail-type"] = json!("Stripe Event");
    w.sqs.push("subs-dlq", &partner.to_string(), attrs());
    let mut cfg = w.cfg();
    cfg.concurrency = 1;
    let out = w.run(cfg).await;
    assert_eq!(out.counts.reemitted, 1, "{:?}", out.failures);
    assert_eq!(out.counts.conflicts, 1);
    assert_eq!(out.counts.duplicates, 1, "the partner copy is a duplicate");
    assert_eq!(out.counts.held_elsewhere, 0);
    assert_eq!(w.put_keys(), ["evt_same"]);
    let left = w.sqs.messages("subs-dlq");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].0, deleted, "the event not put stays");
    assert_eq!(w.sqs.in_flight("subs-dlq"), 0);
    let f = &out.failures[0];
    assert_eq!(f.code, "CONFLICT");
    assert!(
        f.reason.contains(&format!("run {}", out.run_id)),
        "{}",
        f.reason
    );
    assert_eq!(exit_code_of(&out), crate::exit_codes::PARTIAL);
}

#[tokio::test(start_paused = true)]
async fn events_with_blank_or_shared_non_stripe_ids_are_each_re_emitted() {
    // Issue 19: three events with detail.id "" (and two orders sharing detail.id) were
    // merged into one key, and the others deleted as duplicates.
    let w = world(0);
    let order = |env: &str, kind: &str, id: &str| {
        json!({"id": env, "source": "shop", "detail-type": kind, "detail": {"id": id}}).to_string()
    };
    for (i, blank) in ["", " ", ""].iter().enumerate() {
        w.sqs.push(
            "subs-dlq",
            &order(&format!("env-empty-{i}"), "Order", blank),
            attrs(),
        );
    }
    w.sqs.push(
        "subs-dlq",
        &order("env-created", "OrderCreated", "order-1"),
        attrs(),
    );
    w.sqs.push(
        "subs-dlq",
        &order("env-shipped", "OrderShipped", "order-1"),
        attrs(),
    );
    let out = w.run(w.cfg()).await;
    assert_eq!(out.counts.reemitted, 5, "{:?}", out.failures);
    assert_eq!(out.counts.duplicates, 0);
    assert_eq!(
        w.distinct_keys(),
        [
            "env-created",
            "env-empty-0",
            "env-empty-1",
            "env-empty-2",
            "env-shipped"
        ]
        .map(String::from)
        .into()
    );
    assert_eq!(w.left(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_run_ended_by_max_messages_says_what_it_left_not_empty() {
    let w = world(100);
    let mut cfg = w.cfg();
    cfg.max_messages = Some(15);
    let out = w.run(cfg).await;
    assert_eq!(out.counts.reemitted, 15);
    assert_eq!(w.left(), 85);
    assert_eq!(
        out.stopped_because,
        "--max-messages 15 reached (~85 left in the queue)"
    );
}

#[tokio::test(start_paused = true)]
async fn a_queue_holding_only_poison_is_not_called_empty() {
    let w = world(3);
    w.sqs.push("subs-dlq", "not json", attrs());
    w.sqs.push("subs-dlq", "[]", attrs());
    let out = w.run(w.cfg()).await;
    assert_eq!(out.counts.reemitted, 3);
    assert_eq!(
        out.stopped_because,
        "only messages that cannot be re-emitted remain (2 poison)"
    );
    // Drained for real: then it is empty.
    let w = world(3);
    let out = w.run(w.cfg()).await;
    assert_eq!(out.stopped_because, "subs-dlq is empty");
}

#[tokio::test(start_paused = true)]
async fn a_dry_run_counts_what_it_would_do_not_what_it_did() {
    let w = world(4);
    w.sqs.push("subs-dlq", "garbage", attrs());
    let park_q = w.sqs.create("parked");
    let mut cfg = w.cfg();
    cfg.dry_run = true;
    cfg.park_queue = Some(park_q);
    let out = w.run(cfg).await;
    let c = out.counts;
    assert_eq!((c.reemitted, c.parked), (0, 0), "nothing was done");
    assert_eq!((c.would_reemit, c.would_park), (4, 1));
    let json = serde_json::to_value(&out).unwrap();
    assert_eq!(json["counts"]["reemitted"], 0);
    assert_eq!(json["counts"]["would_reemit"], 4);
    assert!(
        out.stopped_because
            .starts_with("every message was looked at"),
        "{}",
        out.stopped_because
    );
    assert_eq!(w.left(), 5);
}

/// Issue 19 item 4: with `--rate 1` a drain of 160 messages takes 160 s, longer than their
/// 120 s visibility. No message it holds may become visible before it is deleted or
/// released, whatever it waits on (here the rate gate), so a second drain with another
/// ledger, looking every 5 s, takes only messages the first never received: every key is
/// put once.
#[tokio::test(start_paused = true)]
async fn held_messages_stay_invisible_while_they_wait_for_the_rate() {
    let w = world(160);
    let mut cfg = w.cfg();
    cfg.rate = Some(1.0);
    cfg.visibility = Duration::from_secs(120);
    let first = tokio::spawn(quiet_drain(cfg, w.ports(true), Arc::new(NoHooks)));
    let other = DrainPorts {
        ledger: Some(Arc::new(MemoryLedger::new())),
        ..w.ports(true)
    };
    let mut lapsed = Vec::new();
    let mut other_reemitted = 0;
    let started = tokio::time::Instant::now();
    while !first.is_finished() {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let n = w.sqs.lapsed_now("subs-dlq");
        if n > 0 {
            lapsed.push((started.elapsed(), n));
        }
        let mut cfg = w.cfg();
        cfg.run_id = "other-ledger".into();
        let out = quiet_drain(cfg, other.clone(), Arc::new(NoHooks))
            .await
            .unwrap();
        other_reemitted += out.counts.reemitted;
    }
    let out = first.await.unwrap().unwrap();
    assert!(
        lapsed.is_empty(),
        "held messages became visible (at, how many): {lapsed:?}"
    );
    assert_eq!(out.counts.reemitted + other_reemitted, 160);
    w.assert_each_key_put_once(160);
}

/// Whatever a batch waits on: here every PutEvents is throttled for 5 minutes, so the
/// batches in hand and those received ahead wait at the throttling gate for longer than
/// twice their visibility timeout. They stay invisible, and then go out once each.
#[tokio::test(start_paused = true)]
async fn held_messages_stay_invisible_through_a_throttling_storm() {
    let w = world(60);
    let start = tokio::time::Instant::now();
    w.eb.set_entry_fault(Box::new(move |_| {
        (start.elapsed() < Duration::from_secs(300)).then(|| "ThrottlingException".into())
    }));
    let mut cfg = w.cfg();
    cfg.concurrency = 2;
    cfg.visibility = Duration::from_secs(120);
    cfg.max_throttled_attempts = 1000;
    let first = tokio::spawn(quiet_drain(cfg, w.ports(true), Arc::new(NoHooks)));
    let mut lapsed = Vec::new();
    while !first.is_finished() {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let n = w.sqs.lapsed_now("subs-dlq");
        if n > 0 {
            lapsed.push((start.elapsed(), n));
        }
    }
    let out = first.await.unwrap().unwrap();
    assert!(start.elapsed() > Duration::from_secs(300));
    assert!(
        lapsed.is_empty(),
        "held messages became visible: {lapsed:?}"
    );
    assert_eq!(out.counts.reemitted, 60, "{:?}", out.failures);
    w.assert_each_key_put_once(60);
    assert!(w.sqs.calls("visibility") > 0, "extended while throttled");
}

/// Issue 19 item 3: SIGTERM (as a scheduler stops a process) stops a drain as Ctrl-C does,
/// and promptly under `--rate`: the calls already sent are finished, marked done and deleted;
/// batches waiting for their turn are not put, their claims are given back and every
/// message held is released. A rerun then puts each remaining key once.
#[tokio::test(start_paused = true)]
async fn sigterm_finishes_what_was_sent_releases_the_rest_and_a_rerun_puts_each_key_once() {
    for sig in [Signal::Terminate, Signal::Interrupt] {
        let w = world(200);
        let mut cfg = w.cfg();
        cfg.rate = Some(20.0);
        cfg.concurrency = 4;
        let started = tokio::time::Instant::now();
        let out = drain(
            cfg.clone(),
            w.ports(true),
            Arc::new(NoHooks),
            Arc::new(QuietDrain),
            async move {
                tokio::time::sleep(Duration::from_secs(3)).await;
                sig
            },
        )
        .await
        .unwrap();
        // Four pipelines hold 80 messages at 20/s: finishing them all would take 4 s more.
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{sig}: stopped after {:?}",
            started.elapsed()
        );
        assert_eq!(out.signal, Some(sig));
        assert!(out.interrupted);
        assert_eq!(out.stopped_because, format!("interrupted by {sig}"));
        let put = w.put_keys().len();
        assert!((60..=80).contains(&put), "{sig}: {put} put in 3 s at 20/s");
        assert_eq!(out.counts.reemitted as usize, put);
        assert_eq!(
            out.counts.deleted as usize, put,
            "{sig}: what was put is deleted"
        );
        assert_eq!(out.counts.failed, 0);
        assert_eq!(w.left(), 200 - put);
        assert_eq!(
            w.sqs.in_flight("subs-dlq"),
            0,
            "{sig}: everything held released"
        );
        assert!(
            w.ledger
                .records()
                .iter()
                .all(|r| r.state == crate::ports::ledger::LedgerState::Done),
            "{sig}: no claim left in progress"
        );
        let report = crate::commands::drain::DrainReport {
            queues: vec!["subs-dlq".into()],
            ledger: "memory".into(),
            duration_seconds: 3.0,
            from_file: None,
            outcome: out,
        };
        use crate::output::Report;
        assert_eq!(report.exit_code(), sig.exit_code());
        assert!(
            report
                .human()
                .contains(&format!("stopped: interrupted by {sig}"))
        );

        let mut rerun = cfg;
        rerun.rate = None;
        rerun.run_id = "rerun".into();
        let again = w.run(rerun).await;
        assert_eq!(again.counts.reemitted as usize, 200 - put);
        w.assert_each_key_put_once(200);
    }
}

/// After a run dies, its messages are in flight until their visibility timeout: a rerun that
/// finds the queue empty says how many and exits 3, not "empty" and 0.
#[tokio::test(start_paused = true)]
async fn a_rerun_that_finds_the_queue_empty_reports_the_messages_still_in_flight() {
    let w = world(25);
    let mut cfg = w.cfg();
    cfg.concurrency = 1;
    let hooks = Arc::new(CrashOnce {
        at: Step::AfterClaim,
        done: AtomicUsize::new(0),
    });
    assert!(w.run_with(cfg.clone(), hooks).await.is_err());
    let in_flight = w.sqs.in_flight("subs-dlq");
    assert!(in_flight >= 10, "the dead run holds {in_flight}");
    cfg.run_id = "rerun".into();
    let out = w.run(cfg).await;
    assert_eq!(out.counts.in_flight as usize, in_flight);
    assert!(
        out.stopped_because.contains(&format!(
            "subs-dlq is empty but {in_flight} message(s) are still in flight"
        )),
        "{}",
        out.stopped_because
    );
    assert!(!out.stopped_because.contains("subs-dlq is empty;"));
    let report = crate::commands::drain::DrainReport {
        queues: vec!["subs-dlq".into()],
        ledger: "memory".into(),
        duration_seconds: 0.1,
        from_file: None,
        outcome: out,
    };
    use crate::output::Report;
    assert_eq!(report.exit_code(), crate::exit_codes::PARTIAL);
    let human = report.human();
    assert!(human.contains("in flight"), "{human}");
    assert!(
        human.contains("come back after their visibility timeout"),
        "{human}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_dry_run_shows_copies_and_conflicts_within_the_run() {
    let w = world(0);
    let updated = stripe("env-a", "evt_same", "customer.subscription.updated", 100);
    w.sqs.push("subs-dlq", &updated, attrs());
    w.sqs.push("subs-dlq", &updated, attrs());
    w.sqs.push(
        "subs-dlq",
        &stripe("env-b", "evt_same", "customer.subscription.deleted", 999),
        attrs(),
    );
    let mut cfg = w.cfg();
    cfg.dry_run = true;
    cfg.concurrency = 1;
    let out = w.run(cfg).await;
    let actions: Vec<&str> = out.planned.iter().map(|p| p.action.as_str()).collect();
    assert_eq!(actions, ["re-emit", "duplicate", "conflict"]);
    assert_eq!(
        (
            out.counts.would_reemit,
            out.counts.duplicates,
            out.counts.conflicts
        ),
        (1, 1, 1)
    );
    assert!(
        out.planned
            .iter()
            .all(|p| p.dedup_key.as_deref() == Some("evt_same"))
    );
    assert_eq!(w.left(), 3);
}

#[tokio::test(start_paused = true)]
async fn duplicate_json_keys_are_re_emitted_last_value_wins_with_a_warning() {
    let w = world(1);
    let body = r#"{"id":"env-d","source":"stripe.webhook","detail-type":"Stripe Webhook Event",
        "detail":{"id":"evt_dup","type":"invoice.paid","amount":100,"amount":999}}"#;
    w.sqs.push("subs-dlq", body, attrs());
    let out = w.run(w.cfg()).await;
    assert_eq!(out.counts.reemitted, 2);
    assert_eq!(out.counts.warnings, 1);
    assert_eq!(out.warnings.len(), 1);
    let warning = &out.warnings[0];
    assert_eq!(warning.code, "DUPLICATE_JSON_KEYS");
    assert_eq!(warning.dedup_key.as_deref(), Some("evt_dup"));
    assert!(warning.reason.contains("\"amount\""), "{}", warning.reason);
    let put =
        w.eb.accepted()
            .into_iter()
            .find(|e| e.detail.contains("evt_dup"))
            .unwrap();
    let detail: Value = serde_json::from_str(&put.detail).unwrap();
    assert_eq!(
        detail["amount"], 999,
        "the last value, as EventBridge reads it"
    );
    assert_eq!(
        exit_code_of(&out),
        crate::exit_codes::SUCCESS,
        "a warning only"
    );
    // A dry run warns too.
    w.sqs.push("subs-dlq", body, attrs());
    let mut cfg = w.cfg();
    cfg.dry_run = true;
    let dry = w.run(cfg).await;
    assert_eq!(dry.warnings.len(), 1);
}

/// The (dedup key, reason) of each row a run reports about a message it did not re-emit:
/// the planned rows of a dry run, the failures of a real one.
fn key_rows(out: &DrainOutcome) -> Vec<(Option<String>, String)> {
    if out.dry_run {
        out.planned
            .iter()
            .map(|p| (p.dedup_key.clone(), p.reason.clone().unwrap_or_default()))
            .collect()
    } else {
        out.failures
            .iter()
            .map(|f| (f.dedup_key.clone(), f.reason.clone()))
            .collect()
    }
}

#[tokio::test(start_paused = true)]
async fn poison_rows_carry_the_dedup_key_when_there_is_one() {
    for dry_run in [false, true] {
        let w = world(0);
        let mut redriven: Value = serde_json::from_str(&body(1)).unwrap();
        redriven["detail"]["nexus_replay"] = json!({"dedup_key": "evt_1", "redrive": 3});
        w.sqs.push("subs-dlq", &redriven.to_string(), attrs());
        let mut big: Value = serde_json::from_str(&body(2)).unwrap();
        big["detail"]["blob"] = json!("x".repeat(300 * 1024));
        w.sqs.push("subs-dlq", &big.to_string(), attrs());
        let mut no_rule = attrs();
        no_rule.remove("RULE_ARN");
        w.sqs.push("subs-dlq", &body(3), no_rule);
        w.sqs.push("subs-dlq", "not json", attrs());
        let mut cfg = w.cfg();
        cfg.dry_run = dry_run;
        let out = w.run(cfg.clone()).await;
        let keys: BTreeMap<Option<String>, String> = key_rows(&out).into_iter().collect();
        for key in ["evt_1", "evt_2", "evt_3"] {
            assert!(keys.contains_key(&Some(key.into())), "{dry_run}: {keys:?}");
        }
        assert!(keys[&None].contains("not JSON"), "{dry_run}: {keys:?}");
        // With an explicit path that is blank there is no key (the message is poison).
        let w = world(0);
        let blank_path = json!({"id": "env-4", "source": "s", "detail-type": "t",
                                "detail": {"id": "evt_4", "k": " "}});
        w.sqs.push("subs-dlq", &blank_path.to_string(), attrs());
        let mut cfg = w.cfg();
        cfg.dry_run = dry_run;
        cfg.dedup = super::event::DedupSpec::parse("detail.k").unwrap();
        let out = w.run(cfg).await;
        let rows = key_rows(&out);
        assert!(
            rows.iter()
                .any(|(k, r)| k.is_none() && r.contains("detail.k is blank")),
            "{dry_run}: {rows:?}"
        );
    }
}
