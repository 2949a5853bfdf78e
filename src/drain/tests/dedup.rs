//! Dedup keys and the ledger: duplicate deliveries, copies, conflicts, and what a second drainer or run finds.

use super::*;

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
    // And a true copy of the first (the same Stripe event relayed under another source; a
    // partner source `aws.partner/...` would be refused by bus mode, see poison.rs).
    let mut partner: Value = serde_json::from_str(&updated).unwrap();
    partner["id"] = json!("env-c");
    partner["source"] = json!("com.example.stripe-relay");
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
