//! How a run ends: filters, --max-messages, a deleted queue, and what the summary says.

use super::*;

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
