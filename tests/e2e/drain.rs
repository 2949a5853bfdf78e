//! Issue 4: draining DLQs on moto. moto never writes to rule DLQs, so the tests seed them in
//! the real EventBridge dead-letter format; a catch-all rule on a capture bus forwards every
//! re-emitted event to a capture queue, where each dedup key is checked.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::support::{BUS, DeadLetter, Sandbox, TempDir, block_on, put_dead_letters};

pub(crate) const CAPTURE_BUS: &str = "capture-bus";
/// moto serves requests on threads and its `Queue.delete_message` rebuilds the message list
/// from a snapshot without a lock, so concurrent DeleteMessageBatch calls on one queue can
/// resurrect each other's deletions. Multi-message moto drains therefore run one pipeline;
/// concurrency is covered by the engine tests over the in-memory fakes.
pub(crate) const ONE_PIPELINE: [&str; 2] = ["--concurrency", "1"];
const RULE_ARN: &str = "arn:aws:events:us-east-2:123456789012:rule/ai-nexus-dev-stripe-event-bus/ai-nexus-dev-stripe-subscription_events-rule";

pub(crate) struct Capture {
    pub(crate) queue_url: String,
    /// Shard capture queues (see `capture_sharded`).
    pub(crate) shards: Vec<String>,
}

fn capture_rule(sb: &Sandbox, name: &str, pattern: &str, queue: &str) -> String {
    rule_to_queue(sb, CAPTURE_BUS, name, pattern, queue)
}

/// A new queue, and a rule on `bus` that forwards what `pattern` matches to it; answers the
/// queue's URL.
pub(crate) fn rule_to_queue(
    sb: &Sandbox,
    bus: &str,
    name: &str,
    pattern: &str,
    queue: &str,
) -> String {
    let (eb, sqs) = sb.clients();
    block_on(async {
        let url = sqs
            .create_queue()
            .queue_name(queue)
            .send()
            .await
            .unwrap()
            .queue_url()
            .unwrap()
            .to_string();
        eb.put_rule()
            .name(name)
            .event_bus_name(bus)
            .event_pattern(pattern)
            .send()
            .await
            .unwrap();
        eb.put_targets()
            .rule(name)
            .event_bus_name(bus)
            .targets(
                aws_sdk_eventbridge::types::Target::builder()
                    .id("q")
                    .arn(format!("arn:aws:sqs:us-east-2:123456789012:{queue}"))
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        url
    })
}

/// A bus whose one catch-all rule forwards everything to a queue.
pub(crate) fn capture(sb: &Sandbox) -> Capture {
    let (eb, _) = sb.clients();
    block_on(async {
        eb.create_event_bus()
            .name(CAPTURE_BUS)
            .send()
            .await
            .unwrap()
    });
    Capture {
        queue_url: capture_rule(
            sb,
            "capture-all",
            r#"{"source": [{"prefix": ""}]}"#,
            "capture",
        ),
        shards: Vec::new(),
    }
}

/// A capture bus with one rule per shard (`detail.data.object.shard`), each to its own
/// queue: moto's SQS costs O(queue length) per received message, so four queues of 500
/// are read far faster than one of 2,000.
pub(crate) fn capture_sharded(sb: &Sandbox, shards: usize) -> Capture {
    let (eb, _) = sb.clients();
    block_on(async {
        eb.create_event_bus()
            .name(CAPTURE_BUS)
            .send()
            .await
            .unwrap()
    });
    let shards = (0..shards)
        .map(|i| {
            let pattern =
                format!(r#"{{"detail": {{"data": {{"object": {{"shard": ["{i}"]}}}}}}}}"#);
            capture_rule(
                sb,
                &format!("capture-{i}"),
                &pattern,
                &format!("capture-{i}"),
            )
        })
        .collect();
    Capture {
        queue_url: String::new(),
        shards,
    }
}

pub(crate) use crate::support::attr;

/// Puts `bodies` on a queue with the DLQ attributes EventBridge sets.
pub(crate) fn seed(sb: &Sandbox, queue: &str, bodies: &[String]) -> String {
    let (_, sqs) = sb.clients();
    block_on(async {
        let url = sqs
            .get_queue_url()
            .queue_name(queue)
            .send()
            .await
            .unwrap()
            .queue_url()
            .unwrap()
            .to_string();
        let letters: Vec<DeadLetter> = bodies
            .iter()
            .map(|b| DeadLetter {
                body: b.clone(),
                rule_arn: RULE_ARN.into(),
                target_arn: "arn:aws:lambda:us-east-2:123456789012:function:update-subscription"
                    .into(),
            })
            .collect();
        put_dead_letters(&sqs, &url, &letters).await;
        url
    })
}

pub(crate) fn stripe_body(i: usize) -> String {
    sharded_body(i, 0)
}

pub(crate) fn sharded_body(i: usize, shard: usize) -> String {
    json!({
        "version": "0", "id": format!("0000-{i}"), "detail-type": "Stripe Webhook Event",
        "source": "stripe.webhook", "account": "123456789012", "time": "2026-01-01T10:00:00Z",
        "region": "us-east-2", "resources": [],
        "detail": {"id": format!("evt_e2e_{i:05}"), "object": "event", "type": "customer.subscription.updated",
                   "data": {"object": {"id": format!("sub_{i}"), "status": "active", "shard": shard.to_string(), "pad": "x".repeat(1200)}}}
    })
    .to_string()
}

fn malformed() -> Vec<String> {
    vec![
        "this is not json".to_string(),
        r#"{"hello": "not an event"}"#.to_string(),
        r#"{"source": "s", "detail-type": "t", "detail": "not an object"}"#.to_string(),
    ]
}

/// Every message body on a queue: reads until empty, then makes them visible again.
pub(crate) fn bodies(sb: &Sandbox, url: &str) -> Vec<(String, Vec<(String, String)>)> {
    let (_, sqs) = sb.clients();
    block_on(async {
        let mut out = Vec::new();
        let mut handles = Vec::new();
        loop {
            let r = sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .visibility_timeout(300)
                .message_attribute_names("All")
                .send()
                .await
                .unwrap();
            if r.messages().is_empty() {
                break;
            }
            for m in r.messages() {
                let attrs = m
                    .message_attributes()
                    .map(|a| {
                        a.iter()
                            .map(|(k, v)| (k.clone(), v.string_value().unwrap_or("").to_string()))
                            .collect()
                    })
                    .unwrap_or_default();
                out.push((m.body().unwrap_or("").to_string(), attrs));
                handles.push(m.receipt_handle().unwrap_or("").to_string());
            }
        }
        for chunk in handles.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, h)| {
                    aws_sdk_sqs::types::ChangeMessageVisibilityBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(h)
                        .visibility_timeout(0)
                        .build()
                        .unwrap()
                })
                .collect();
            sqs.change_message_visibility_batch()
                .queue_url(url)
                .set_entries(Some(entries))
                .send()
                .await
                .unwrap();
        }
        out
    })
}

pub(crate) fn dedup_keys(bodies: &[(String, Vec<(String, String)>)]) -> Vec<String> {
    bodies
        .iter()
        .map(|(b, _)| {
            let v: Value = serde_json::from_str(b).unwrap();
            v["detail"]["nexus_replay"]["dedup_key"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

pub(crate) fn queue_url(sb: &Sandbox, name: &str) -> String {
    let (_, sqs) = sb.clients();
    block_on(async {
        sqs.get_queue_url()
            .queue_name(name)
            .send()
            .await
            .unwrap()
            .queue_url()
            .unwrap()
            .to_string()
    })
}

pub(crate) fn depth(sb: &Sandbox, url: &str) -> usize {
    let (_, sqs) = sb.clients();
    block_on(async {
        let a = sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(
                aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
            )
            .send()
            .await
            .unwrap();
        a.attributes()
            .unwrap()
            .values()
            .map(|v| v.parse::<usize>().unwrap())
            .sum()
    })
}

pub(crate) const DLQS: [&str; 4] = [
    "ai-nexus-dev-stripe-update-subscription-dlq",
    "ai-nexus-dev-stripe-list-invoices-dlq",
    "ai-nexus-dev-stripe-get-status-dlq",
    "ai-nexus-dev-stripe-monitoring-logs-dlq",
];

#[test]
fn two_thousand_messages_drain_once_and_only_malformed_stay() {
    let sb = Sandbox::new(0, 0);
    let cap = capture_sharded(&sb, DLQS.len());
    // 2,000 events over the bus's four DLQs, plus malformed messages in the first.
    let mut urls = Vec::new();
    for (shard, dlq) in DLQS.iter().enumerate() {
        let mut bodies: Vec<String> = (0..500)
            .map(|i| sharded_body(shard * 500 + i, shard))
            .collect();
        if shard == 0 {
            bodies.extend(malformed());
        }
        urls.push(seed(&sb, dlq, &bodies));
    }

    let run = sb.run(&[
        "drain",
        "--bus",
        BUS,
        "--to-bus",
        CAPTURE_BUS,
        "--yes",
        "--output",
        "json",
        ONE_PIPELINE[0],
        ONE_PIPELINE[1],
    ]);
    run.code(3); // the malformed ones failed
    let doc = run.json();
    assert_eq!(doc["counts"]["received"], 2003);
    assert_eq!(doc["counts"]["reemitted"], 2000);
    assert_eq!(doc["counts"]["deleted"], 2000);
    assert_eq!(doc["counts"]["failed"], 3);
    assert_eq!(doc["queues"].as_array().unwrap().len(), 4);
    assert!(doc["run_id"].as_str().unwrap().starts_with("nexus-"));
    let failures = doc["failures"].as_array().unwrap();
    assert!(
        failures.iter().all(|f| f["code"] == "POISON"),
        "{failures:?}"
    );

    let mut keys = Vec::new();
    let mut first = None;
    for url in &cap.shards {
        let captured = bodies(&sb, url);
        assert_eq!(captured.len(), 500);
        first.get_or_insert_with(|| captured[0].0.clone());
        keys.extend(dedup_keys(&captured));
    }
    let distinct: BTreeSet<&String> = keys.iter().collect();
    assert_eq!(keys.len(), 2000, "each key exactly once");
    assert_eq!(distinct.len(), 2000);
    assert!(distinct.contains(&"evt_e2e_01999".to_string()));
    let first: Value = serde_json::from_str(&first.unwrap()).unwrap();
    let meta = &first["detail"]["nexus_replay"];
    assert_eq!(meta["queue"], DLQS[0]);
    assert_eq!(meta["rule_arn"], RULE_ARN);
    assert_eq!(meta["error_code"], "ERROR_FROM_TARGET");
    assert_eq!(meta["redrive"], 1);
    assert_eq!(
        first["time"], "2026-01-01T10:00:00Z",
        "the original time is kept"
    );
    assert_eq!(first["source"], "stripe.webhook");

    let mut left_bodies: Vec<String> = bodies(&sb, &urls[0]).into_iter().map(|(b, _)| b).collect();
    left_bodies.sort();
    let mut want = malformed();
    want.sort();
    assert_eq!(
        left_bodies, want,
        "the DLQ holds only the malformed messages"
    );
    for url in &urls[1..] {
        assert_eq!(depth(&sb, url), 0);
    }

    // A second run re-emits nothing.
    let again = sb.run(&[
        "drain",
        "--bus",
        BUS,
        "--to-bus",
        CAPTURE_BUS,
        "--yes",
        "--output",
        "json",
        "--receive-wait",
        "1s",
        ONE_PIPELINE[0],
        ONE_PIPELINE[1],
    ]);
    again.code(3);
    let doc = again.json();
    assert_eq!(doc["counts"]["reemitted"], 0);
    assert_eq!(doc["counts"]["failed"], 3);
    for url in &cap.shards {
        assert_eq!(depth(&sb, url), 500, "nothing new arrived");
    }
}

#[test]
fn a_park_queue_empties_the_dlq_and_keeps_the_reason() {
    let sb = Sandbox::new(0, 0);
    let cap = capture(&sb);
    let dlq = "ai-nexus-dev-stripe-update-subscription-dlq";
    let (_, sqs) = sb.clients();
    block_on(async {
        sqs.create_queue()
            .queue_name("parked")
            .send()
            .await
            .unwrap()
    });
    let mut all: Vec<String> = (0..50).map(stripe_body).collect();
    all.extend(malformed());
    let dlq_url = seed(&sb, dlq, &all);

    let run = sb.run(&[
        "drain",
        "--queue",
        dlq,
        "--to-bus",
        CAPTURE_BUS,
        "--park-queue",
        "parked",
        "--yes",
        "--output",
        "json",
        ONE_PIPELINE[0],
        ONE_PIPELINE[1],
    ]);
    run.code(3);
    let doc = run.json();
    assert_eq!(doc["counts"]["parked"], 3);
    assert_eq!(doc["counts"]["reemitted"], 50);
    assert_eq!(depth(&sb, &dlq_url), 0, "the DLQ is empty");
    let parked = bodies(&sb, &queue_url(&sb, "parked"));
    assert_eq!(parked.len(), 3);
    for (_, attrs) in &parked {
        let reason = attrs
            .iter()
            .find(|(k, _)| k == "NEXUS_REPLAY_PARK_REASON")
            .map(|(_, v)| v.clone());
        assert!(reason.is_some_and(|r| !r.is_empty()), "{attrs:?}");
        assert!(attrs.iter().any(|(k, v)| k == "RULE_ARN" && v == RULE_ARN));
    }
    assert_eq!(dedup_keys(&bodies(&sb, &cap.queue_url)).len(), 50);
}

#[test]
fn drain_by_bus_discovers_every_dlq_and_dry_run_changes_nothing() {
    let sb = Sandbox::new(0, 4);
    let dlq_names = [
        "ai-nexus-dev-stripe-update-subscription-dlq",
        "ai-nexus-dev-stripe-list-invoices-dlq",
        "ai-nexus-dev-stripe-get-status-dlq",
        "ai-nexus-dev-stripe-monitoring-logs-dlq",
    ];
    let dry = sb.run(&["drain", "--bus", BUS, "--dry-run", "--output", "json"]);
    dry.code(0);
    let doc = dry.json();
    let planned = doc["planned"].as_array().unwrap();
    assert_eq!(planned.len(), 16);
    let sub = planned.iter().find(|p| p["queue"] == dlq_names[0]).unwrap();
    let rules: Vec<&str> = sub["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(
        rules.contains(&"ai-nexus-dev-stripe-subscription_events-rule"),
        "{rules:?}"
    );
    assert!(
        rules.contains(&"ai-nexus-dev-stripe-all_events_monitoring-rule"),
        "{rules:?}"
    );
    assert!(
        !rules.contains(&"ai-nexus-dev-stripe-payment_events-rule"),
        "{rules:?}"
    );
    // With --queue alone the destination bus comes from each message's RULE_ARN: the dry
    // run lists that bus's rules when it first meets it, and predicts the same rules.
    let by_queue = sb
        .run(&[
            "drain",
            "--queue",
            dlq_names[0],
            "--dry-run",
            "--output",
            "json",
        ])
        .code(0)
        .json();
    let by_queue = by_queue["planned"].as_array().unwrap();
    assert_eq!(by_queue.len(), 4);
    for p in by_queue {
        let same = planned
            .iter()
            .find(|q| q["message_id"] == p["message_id"])
            .unwrap();
        assert_eq!(p["rules"], same["rules"], "{p}");
        assert!(p["reason"].is_null(), "{p}");
    }
    for n in dlq_names {
        assert_eq!(
            depth(&sb, &queue_url(&sb, n)),
            4,
            "{n}: dry run changed nothing"
        );
    }

    let run = sb.run(&["drain", "--bus", BUS, "--yes", "--output", "json"]);
    run.code(0);
    assert_eq!(run.json()["counts"]["reemitted"], 16);
    for n in dlq_names {
        assert_eq!(depth(&sb, &queue_url(&sb, n)), 0, "{n} drained");
    }
    // The dry run's blast radius predicted exactly what the subscription target received.
    let predicted: BTreeSet<String> = planned
        .iter()
        .filter(|p| {
            p["rules"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r == "ai-nexus-dev-stripe-subscription_events-rule")
        })
        .map(|p| p["dedup_key"].as_str().unwrap().to_string())
        .collect();
    let target = bodies(
        &sb,
        &queue_url(&sb, "ai-nexus-dev-stripe-update-subscription"),
    );
    let received: BTreeSet<String> = dedup_keys(
        &target
            .into_iter()
            .filter(|(b, _)| b.contains("nexus_replay"))
            .collect::<Vec<_>>(),
    )
    .into_iter()
    .collect();
    assert!(predicted.len() >= 4, "{predicted:?}");
    assert_eq!(received, predicted);
}

#[test]
fn filters_leave_unselected_messages_and_bad_input_changes_nothing() {
    let sb = Sandbox::new(0, 0);
    capture(&sb);
    let dlq = "ai-nexus-dev-stripe-update-subscription-dlq";
    let mut other: Value = serde_json::from_str(&stripe_body(7)).unwrap();
    other["detail"]["type"] = json!("customer.subscription.deleted");
    let dlq_url = seed(
        &sb,
        dlq,
        &[stripe_body(1), stripe_body(2), other.to_string()],
    );
    for (args, want) in [
        (
            vec!["drain", "--queue", dlq, "--pattern", "{bad json", "--yes"],
            "--pattern",
        ),
        (
            vec!["drain", "--queue", "no-such-queue", "--yes"],
            "does not exist",
        ),
        (
            vec!["drain", "--queue", dlq, "--ledger", "redis://x", "--yes"],
            "not a ledger",
        ),
        (
            vec!["drain", "--queue", dlq, "--concurrency", "0", "--yes"],
            "--concurrency",
        ),
        (
            vec!["drain", "--queue", dlq, "--max-duration", "soon", "--yes"],
            "duration",
        ),
        (
            vec!["drain", "--queue", dlq, "--park-queue", dlq, "--yes"],
            "must not be one of",
        ),
        (
            vec!["drain", "--queue", dlq, "--to-bus", "no-such-bus", "--yes"],
            "check --to-bus",
        ),
        (vec!["drain", "--queue", dlq], "pass --yes"),
    ] {
        let run = sb.run(&args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(want), "{args:?}: {}", run.stderr);
    }
    assert_eq!(depth(&sb, &dlq_url), 3);

    let run = sb.run(&[
        "drain",
        "--queue",
        dlq,
        "--to-bus",
        CAPTURE_BUS,
        "--event-type",
        "customer.subscription.updated",
        "--yes",
        "--output",
        "json",
    ]);
    run.code(0);
    let doc = run.json();
    assert_eq!(doc["counts"]["reemitted"], 2);
    assert_eq!(doc["counts"]["filtered"], 1);
    let left = bodies(&sb, &dlq_url);
    assert_eq!(left.len(), 1);
    assert!(left[0].0.contains("customer.subscription.deleted"));
}

#[test]
fn peek_export_and_reemit_consume_nothing_and_dedup() {
    let sb = Sandbox::new(0, 0);
    let cap = capture(&sb);
    let dlq = "ai-nexus-dev-stripe-update-subscription-dlq";
    let dlq_url = seed(&sb, dlq, &(0..12).map(stripe_body).collect::<Vec<_>>());

    let peek = sb
        .run(&["dlq", "peek", "--queue", dlq, "--output", "json"])
        .code(0)
        .json();
    assert_eq!(peek["looked_at"], 12);
    assert_eq!(peek["by_event_type"]["customer.subscription.updated"], 12);
    assert_eq!(peek["by_error_code"]["ERROR_FROM_TARGET"], 12);
    assert_eq!(depth(&sb, &dlq_url), 12);

    let dir = TempDir::new("export");
    let file = dir.path().join("dlq.jsonl");
    let f = file.to_str().unwrap();
    let export = sb
        .run(&[
            "dlq", "export", "--queue", dlq, "--out", f, "--output", "json",
        ])
        .code(0)
        .json();
    assert_eq!(export["messages"], 12);
    assert_eq!(std::fs::read_to_string(&file).unwrap().lines().count(), 12);
    assert_eq!(depth(&sb, &dlq_url), 12, "export deletes nothing");
    sb.run(&["dlq", "export", "--queue", dlq, "--out", f])
        .code(2);

    let re = sb
        .run(&[
            "reemit",
            "--from",
            f,
            "--bus",
            CAPTURE_BUS,
            "--yes",
            "--output",
            "json",
        ])
        .code(0)
        .json();
    assert_eq!(re["counts"]["reemitted"], 12);
    let again = sb
        .run(&[
            "reemit",
            "--from",
            f,
            "--bus",
            CAPTURE_BUS,
            "--yes",
            "--output",
            "json",
        ])
        .code(0)
        .json();
    assert_eq!(again["counts"]["duplicates"], 12, "the ledger remembers");
    assert_eq!(dedup_keys(&bodies(&sb, &cap.queue_url)).len(), 12);

    // The ledger answers "was this event re-emitted?".
    let shown = sb
        .run(&["ledger", "show", "evt_e2e_00003", "--output", "json"])
        .code(0)
        .json();
    assert_eq!(shown["record"]["state"], "DONE");
    assert_eq!(shown["record"]["redrive"], 1);
    assert!(shown["record"]["event_id"].is_string());
    sb.run(&["ledger", "show", "evt_never_seen"]).code(3);
    let stats = sb
        .run(&["ledger", "stats", "--output", "json"])
        .code(0)
        .json();
    assert_eq!(stats["done"], 12);
    assert_eq!(stats["in_progress"], 0);
    let pruned = sb
        .run(&["ledger", "prune", "--output", "json"])
        .code(0)
        .json();
    assert_eq!(pruned["removed"], 0, "nothing has expired yet");

    std::fs::write(&file, "{\"not\": \"an export line\"}\n").unwrap();
    let bad = sb.run(&["reemit", "--from", f, "--bus", CAPTURE_BUS, "--yes"]);
    bad.code(2);
    assert!(bad.stderr.contains(":1:"), "{}", bad.stderr);
}

/// The events of issue 19 that were deleted without being re-emitted: each must reach the
/// bus, and an event that reuses a re-emitted key with other content must stay in the DLQ.
#[test]
fn blank_shared_and_typed_keys_lose_no_event_and_a_conflict_stays_in_the_dlq() {
    let sb = Sandbox::new(0, 0);
    let cap = capture(&sb);
    let dlq = "ai-nexus-dev-stripe-update-subscription-dlq";
    let drain = |extra: &[&str]| {
        let mut args = vec![
            "drain",
            "--queue",
            dlq,
            "--to-bus",
            CAPTURE_BUS,
            "--yes",
            "--output",
            "json",
            ONE_PIPELINE[0],
            ONE_PIPELINE[1],
        ];
        args.extend_from_slice(extra);
        sb.run(&args)
    };
    let event = |id: &str, source: &str, kind: &str, detail: Value| {
        json!({"version": "0", "id": id, "source": source, "detail-type": kind,
               "account": "123456789012", "time": "2026-01-01T10:00:00Z",
               "region": "us-east-2", "resources": [], "detail": detail})
        .to_string()
    };
    let captured_keys = || -> Vec<String> {
        let mut keys = dedup_keys(&bodies(&sb, &cap.queue_url));
        keys.sort();
        keys
    };

    // Three events with an empty detail.id, and two orders sharing detail.id "order-1".
    let mut first: Vec<String> = (0..3)
        .map(|i| {
            event(
                &format!("env-empty-{i}"),
                "shop",
                "Order",
                json!({"id": ""}),
            )
        })
        .collect();
    first.push(event(
        "env-created",
        "shop",
        "OrderCreated",
        json!({"id": "order-1"}),
    ));
    first.push(event(
        "env-shipped",
        "shop",
        "OrderShipped",
        json!({"id": "order-1"}),
    ));
    let dlq_url = seed(&sb, dlq, &first);
    let doc = drain(&[]).code(0).json();
    assert_eq!(doc["counts"]["received"], 5);
    assert_eq!(doc["counts"]["reemitted"], 5, "{doc}");
    assert_eq!(doc["counts"]["duplicates"], 0);
    assert_eq!(doc["counts"]["deleted"], 5);
    assert_eq!(
        captured_keys(),
        [
            "env-created",
            "env-empty-0",
            "env-empty-1",
            "env-empty-2",
            "env-shipped"
        ]
    );
    assert_eq!(depth(&sb, &dlq_url), 0);

    // One Stripe id, two different events: one is re-emitted, the other stays as a conflict.
    let updated = event(
        "env-u",
        "stripe.webhook",
        "Stripe Webhook Event",
        json!({"id": "evt_same", "type": "customer.subscription.updated", "data": {"object": {"amount": 100}}}),
    );
    let deleted = event(
        "env-d",
        "stripe.webhook",
        "Stripe Webhook Event",
        json!({"id": "evt_same", "type": "customer.subscription.deleted", "data": {"object": {"amount": 999}}}),
    );
    seed(&sb, dlq, &[updated.clone(), deleted.clone()]);
    let run = drain(&[]);
    run.code(3);
    let doc = run.json();
    assert_eq!(doc["counts"]["reemitted"], 1, "{doc}");
    assert_eq!(doc["counts"]["conflicts"], 1);
    assert_eq!(doc["counts"]["duplicates"], 0);
    assert_eq!(doc["counts"]["deleted"], 1);
    let failure = &doc["failures"][0];
    assert_eq!(failure["code"], "CONFLICT");
    assert_eq!(failure["dedup_key"], "evt_same");
    let reason = failure["reason"].as_str().unwrap();
    assert!(reason.contains(doc["run_id"].as_str().unwrap()), "{reason}");
    let on_bus: Vec<Value> = bodies(&sb, &cap.queue_url)
        .iter()
        .map(|(b, _)| serde_json::from_str::<Value>(b).unwrap())
        .filter(|v| v["detail"]["id"] == "evt_same")
        .collect();
    assert_eq!(on_bus.len(), 1, "evt_same reached the bus once");
    let left = bodies(&sb, &dlq_url);
    assert_eq!(left.len(), 1, "the conflicting event stays in the DLQ");
    let left: Value = serde_json::from_str(&left[0].0).unwrap();
    let types: BTreeSet<&str> = [&on_bus[0], &left]
        .iter()
        .map(|v| v["detail"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        BTreeSet::from([
            "customer.subscription.deleted",
            "customer.subscription.updated"
        ])
    );
    // The ledger keeps the digest of what was re-emitted.
    let shown = sb
        .run(&["ledger", "show", "evt_same", "--output", "json"])
        .code(0)
        .json();
    assert!(
        shown["record"]["digest"]
            .as_str()
            .is_some_and(|d| d.starts_with("sha256-detail:")),
        "{shown}"
    );
    // A rerun leaves it again: it is not deleted as a duplicate later either.
    drain(&["--receive-wait", "1s"]).code(3);
    assert_eq!(depth(&sb, &dlq_url), 1);

    // The number 1 and the string "1" under --dedup-key detail.n are two keys.
    let (_, sqs) = sb.clients();
    block_on(sqs.purge_queue().queue_url(&dlq_url).send()).unwrap();
    seed(
        &sb,
        dlq,
        &[
            event("env-n", "shop", "Counted", json!({"n": 1})),
            event("env-s", "shop", "Counted", json!({"n": "1"})),
        ],
    );
    let doc = drain(&["--dedup-key", "detail.n"]).code(0).json();
    assert_eq!(doc["counts"]["reemitted"], 2, "{doc}");
    let keys = captured_keys();
    assert!(keys.contains(&"number:1".to_string()), "{keys:?}");
    assert!(keys.contains(&"1".to_string()), "{keys:?}");
    assert_eq!(keys.len(), 5 + 1 + 2);
}
