//! The fault mix of tests/e2e/faults.rs on one target type: an SQS queue target whose
//! SendMessageBatch calls fail (500, 503, throttles, failed entries) or are applied with
//! their answers lost, besides failing receives and deletes on the DLQ. Nothing is lost;
//! extra copies come only from lost answers, and no more than the runs report.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::Value;

use super::topology::{Topo, letters, stripe_event, target, unique};
use crate::proxy::{Fault, Faults, OpFaults, Proxy};

const EVENTS: usize = 40;

#[test]
fn an_sqs_target_under_every_fault_gets_each_event_and_no_uncounted_copy() {
    let topo = Topo::on_moto("target-faults");
    let dlq = topo.queue("faulty-dlq");
    let queue = topo.queue("orders");
    let rule_arn = topo.rule_with_target(
        &unique("to-orders"),
        r#"{"source": ["stripe.webhook"]}"#,
        target("q", &queue.arn, &dlq),
    );
    let evs: Vec<Value> = (0..EVENTS).map(stripe_event).collect();
    topo.seed(&dlq, &letters(&evs, &rule_arn, &queue.arn));
    let faults = Faults {
        latency: Duration::from_millis(5),
        jitter: Duration::from_millis(20),
        ..Faults::default()
    }
    // Each kind once on the first calls (a run of 40 messages makes few), then at random.
    .first(
        "SendMessageBatch",
        &[
            Fault::Throttle,
            Fault::PartialEntries,
            Fault::Http500,
            Fault::DropAfterForward,
            Fault::Http503,
        ],
    )
    .on(
        "SendMessageBatch",
        OpFaults {
            http_500: 0.1,
            http_503: 0.1,
            throttle: 0.15,
            partial_calls: 0.3,
            partial_entries: 0.3,
            drop_after_forward: 0.2,
            ..OpFaults::default()
        },
    )
    .on(
        "DeleteMessageBatch",
        OpFaults {
            delete_entry_failures: 0.2,
            drop_after_forward: 0.1,
            ..OpFaults::default()
        },
    )
    .on(
        "ReceiveMessage",
        OpFaults {
            http_500: 0.1,
            ..OpFaults::default()
        },
    );
    let proxy = Proxy::start(topo.endpoint(), 31, faults);

    let faulty = topo.drain(&dlq, Some(&proxy.endpoint), &[]);
    assert!(
        faulty.code == 0 || faulty.code == 3,
        "a faulty run may leave failed messages (exit 3), nothing worse\nstdout:\n{}\nstderr:\n{}",
        faulty.stdout,
        faulty.stderr
    );
    let stats = proxy.stats();
    for kind in [
        "SendMessageBatch:500",
        "SendMessageBatch:503",
        "SendMessageBatch:throttle",
        "SendMessageBatch:entry",
        "SendMessageBatch:dropped",
        "DeleteMessageBatch:entry",
    ] {
        assert!(
            stats.injected_of(kind) > 0,
            "{kind} never injected: {:?}",
            stats.injected
        );
    }
    // A clean run finishes what the faulty one left.
    let clean = topo.drain(&dlq, None, &[]);
    clean.code(0);
    assert_eq!(topo.depth(&dlq), 0, "the DLQ ends empty");

    let got: Vec<Value> = topo.take(&queue).into_iter().map(|d| d.body).collect();
    for g in &got {
        assert!(evs.contains(g), "not an event as it was seeded: {g}");
    }
    let distinct: BTreeSet<String> = got.iter().map(|g| g["id"].to_string()).collect();
    assert_eq!(distinct.len(), EVENTS, "nothing lost");
    let extra = (got.len() - distinct.len()) as u64;
    assert!(
        extra > 0,
        "a call applied whose answer was lost is sent again: copies arrive"
    );
    // Only a call applied whose answer was lost sends its entries again.
    assert!(
        extra <= stats.injected_of("SendMessageBatch:dropped") * 10,
        "{extra} extra copies, {:?}",
        stats.injected
    );
    let possible: u64 = [&faulty, &clean]
        .iter()
        .map(|r| r.json()["counts"]["possible_duplicates"].as_u64().unwrap())
        .sum();
    assert!(
        extra <= possible,
        "{extra} extra copies arrived but only {possible} were reported as possible duplicates"
    );
}
