//! PutEvents through the engine: batching, per-entry retries and their budgets, the throttling gate, and messages kept invisible while they wait.

use super::*;

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
        delivery: None,
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
