//! `--to target`: each target type delivered end to end (the message deleted, the fake given
//! exactly the target's input, the ledger keyed by event and target), two targets of one
//! event, and the dry run's preview.

use std::collections::BTreeMap;

use super::*;
use crate::delivery::names::{execution_name, log_stream_name};
use crate::ports::bus::TargetInputSpec;
use crate::ports::delivery::InvocationType;

/// Every message was delivered once to `arn` and deleted; the ledger holds one key per
/// event and target.
#[track_caller]
fn assert_delivered(w: &World, out: &DrainOutcome, n: usize, arn: &str, kind: &str) {
    assert_eq!(out.counts.reemitted, n as u64, "{:?}", out.failures);
    assert_eq!(out.counts.deleted, n as u64);
    assert!(out.failures.is_empty(), "{:?}", out.failures);
    assert_eq!(w.left(), 0, "the DLQ is empty");
    assert_eq!(
        out.targets,
        [TargetTally {
            target_arn: arn.into(),
            kind: kind.into(),
            delivered: n as u64,
            duplicates: 0,
            failed: 0,
        }]
    );
    let mut want: Vec<String> = (0..n).map(|i| format!("evt_{i} -> {arn}")).collect();
    want.sort();
    assert_eq!(w.ledger_keys(), want);
    assert_eq!(w.eb.put_calls(), 0, "nothing put on the rule's bus");
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[tokio::test(start_paused = true)]
async fn a_lambda_target_receives_its_transformed_input_of_the_event_as_dead_lettered() {
    let w = target_world(2, FUNCTION_ARN);
    w.lambda.add_function("f");
    // A re-emitted and replayed copy: the function sees the event without either mark.
    let mut marked = event(2);
    marked["replay-name"] = json!("nexus-replay-1");
    marked["detail"]["nexus_replay"] = json!({"dedup_key": "evt_2", "redrive": 1});
    w.sqs
        .push("subs-dlq", &marked.to_string(), attrs_for(FUNCTION_ARN));
    let mut t = target("fn", FUNCTION_ARN);
    t.input = TargetInputSpec::InputTransformer {
        input_paths_map: BTreeMap::from([
            ("id".into(), "$.detail.id".into()),
            ("t".into(), "$.detail.type".into()),
        ]),
        input_template: r#"{"event": <id>, "kind": "<t>", "rule": "<aws.events.rule-name>", "time": "<aws.events.event.ingestion-time>"}"#.into(),
    };
    add_rule(&w, vec![t]);
    let out = w.run(w.target_cfg()).await;
    assert_delivered(&w, &out, 3, FUNCTION_ARN, "lambda");
    let mut got: Vec<Value> = w
        .lambda
        .invoked()
        .iter()
        .map(|c| json(&c.payload))
        .collect();
    got.sort_by_key(|v| v["event"].as_str().unwrap().to_string());
    let want: Vec<Value> = (0..3)
        .map(|i| {
            json!({"event": format!("evt_{i}"), "kind": "customer.subscription.updated",
                "rule": "subscription-rule", "time": "2025-09-08T14:00:00Z"})
        })
        .collect();
    assert_eq!(got, want);
    assert!(
        w.lambda
            .invoked()
            .iter()
            .all(|c| c.invocation == InvocationType::RequestResponse && c.function == "f")
    );
    assert_eq!(
        w.eb.list_targets_calls(),
        1,
        "the rule's targets listed once"
    );
}

#[tokio::test(start_paused = true)]
async fn a_lambda_target_without_input_settings_gets_the_event_itself_and_can_be_invoked_async() {
    let w = target_world(0, FUNCTION_ARN);
    let mut marked = event(0);
    marked["replay-name"] = json!("nexus-replay-1");
    marked["detail"]["nexus_replay"] = json!({"dedup_key": "evt_0", "redrive": 1});
    w.sqs
        .push("subs-dlq", &marked.to_string(), attrs_for(FUNCTION_ARN));
    w.lambda.add_function("f");
    add_rule(&w, vec![target("fn", FUNCTION_ARN)]);
    let mut cfg = w.target_cfg();
    cfg.redrive = Redrive::Target {
        invocation: InvocationType::Event,
    };
    let out = w.run(cfg).await;
    assert_delivered(&w, &out, 1, FUNCTION_ARN, "lambda");
    let calls = w.lambda.invoked();
    assert_eq!(
        json(&calls[0].payload),
        event(0),
        "same id, time and detail"
    );
    assert_eq!(calls[0].invocation, InvocationType::Event);
}

#[tokio::test(start_paused = true)]
async fn an_sqs_target_gets_batches_of_ten() {
    let w = world(0);
    let q = w.sqs.create("orders");
    let w = World { ..w };
    for i in 0..25 {
        w.sqs.push("subs-dlq", &body(i), attrs_for(&q.arn));
    }
    add_rule(&w, vec![target("q", &q.arn)]);
    let mut cfg = w.target_cfg();
    cfg.concurrency = 1;
    let out = w.run(cfg).await;
    assert_delivered(&w, &out, 25, &q.arn, "sqs");
    assert_eq!(w.sender.calls(), 3, "10 + 10 + 5");
    let mut bodies: Vec<Value> = w
        .sqs
        .messages("orders")
        .iter()
        .map(|(b, _)| json(b))
        .collect();
    bodies.sort_by_key(|v| v["id"].as_str().unwrap().to_string());
    let mut want: Vec<Value> = (0..25).map(event).collect();
    want.sort_by_key(|v| v["id"].as_str().unwrap().to_string());
    assert_eq!(bodies, want);
    assert!(
        w.sender
            .sent()
            .iter()
            .all(|s| s.message.group_id.is_none() && s.message.deduplication_id.is_none())
    );
}

#[tokio::test(start_paused = true)]
async fn a_fifo_queue_target_gets_the_targets_group_and_a_dedup_id_per_event() {
    let w = world(0);
    let q = w.sqs.create("orders.fifo");
    for i in 0..3 {
        w.sqs.push("subs-dlq", &body(i), attrs_for(&q.arn));
    }
    let mut t = target("q", &q.arn);
    t.sqs_message_group_id = Some("subs".into());
    add_rule(&w, vec![t]);
    let out = w.run(w.target_cfg()).await;
    assert_delivered(&w, &out, 3, &q.arn, "sqs");
    let sent = w.sender.sent();
    assert_eq!(sent.len(), 3);
    let ids: BTreeSet<String> = sent
        .iter()
        .map(|s| s.message.deduplication_id.clone().unwrap())
        .collect();
    assert_eq!(ids.len(), 3, "one dedup id per event");
    for s in &sent {
        assert_eq!(s.message.group_id.as_deref(), Some("subs"));
        let id = s.message.deduplication_id.as_deref().unwrap();
        assert!(
            id.len() <= 128 && id.chars().all(|c| c.is_ascii_hexdigit()),
            "{id}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn an_sns_target_gets_the_input_and_a_fifo_topic_its_group() {
    let w = world(0);
    let topic = w.sns.add_topic("alerts");
    let fifo = w.sns.add_topic("alerts.fifo");
    w.sqs.push("subs-dlq", &body(0), attrs_for(&topic));
    w.sqs.push("subs-dlq", &body(1), attrs_for(&fifo));
    let mut f = target("fifo", &fifo);
    f.sqs_message_group_id = Some("g".into());
    f.input = TargetInputSpec::InputPath("$.detail".into());
    add_rule(&w, vec![target("plain", &topic), f]);
    let out = w.run(w.target_cfg()).await;
    assert_eq!(out.counts.reemitted, 2, "{:?}", out.failures);
    assert_eq!(w.left(), 0);
    let published = w.sns.published();
    let plain = published.iter().find(|(t, _)| *t == topic).unwrap();
    assert_eq!(json(&plain.1.message), event(0));
    assert_eq!(plain.1.group_id, None);
    let fifo_msg = published.iter().find(|(t, _)| *t == fifo).unwrap();
    assert_eq!(json(&fifo_msg.1.message), event(1)["detail"]);
    assert_eq!(fifo_msg.1.group_id.as_deref(), Some("g"));
    assert!(fifo_msg.1.deduplication_id.is_some());
    assert_eq!(out.targets.len(), 2);
    assert!(
        out.targets
            .iter()
            .all(|t| t.kind == "sns" && t.delivered == 1)
    );
}

#[tokio::test(start_paused = true)]
async fn a_state_machine_target_starts_a_named_execution_and_an_existing_one_counts() {
    use crate::ports::delivery::ExecutionStarter;
    let w = world(0);
    let sm = w.sfn.add_state_machine("billing");
    for i in 0..2 {
        w.sqs.push("subs-dlq", &body(i), attrs_for(&sm));
    }
    add_rule(&w, vec![target("sm", &sm)]);
    // evt_1's delivery was started before (an answer lost): the same name and input.
    w.sfn
        .start_execution(&sm, &execution_name("evt_1", 1), &event(1).to_string())
        .await
        .unwrap();
    let out = w.run(w.target_cfg()).await;
    assert_delivered(&w, &out, 2, &sm, "stepfunctions");
    let started = w.sfn.started();
    assert_eq!(started.len(), 2, "evt_1 not started twice");
    assert_eq!(started[1].1, execution_name("evt_0", 1));
    assert_eq!(json(&started[1].2), event(0));
}

#[tokio::test(start_paused = true)]
async fn a_bus_target_gets_the_event_put_on_that_bus() {
    let bus = "arn:aws:events:us-east-2:210987654321:event-bus/central";
    let w = target_world(0, bus);
    let mut marked = event(0);
    marked["detail"]["nexus_replay"] = json!({"dedup_key": "evt_0", "redrive": 1});
    marked["resources"] = json!(["arn:r"]);
    w.sqs.push("subs-dlq", &marked.to_string(), attrs_for(bus));
    add_rule(&w, vec![target("bus", bus)]);
    let out = w.run(w.target_cfg()).await;
    assert_eq!(out.counts.reemitted, 1, "{:?}", out.failures);
    assert_eq!(w.left(), 0);
    let put = w.eb.accepted();
    assert_eq!(put.len(), 1);
    let e = &put[0];
    assert_eq!(e.bus, bus);
    assert_eq!(e.source, "stripe.webhook");
    assert_eq!(e.detail_type, "Stripe Webhook Event");
    assert_eq!(json(&e.detail), event(0)["detail"], "no nexus_replay field");
    assert_eq!(e.resources, ["arn:r"]);
    assert_eq!(e.time.unwrap().to_rfc3339(), "2025-09-08T14:00:00+00:00");
    assert_eq!(out.targets[0].kind, "bus");
}

#[tokio::test(start_paused = true)]
async fn a_log_group_target_gets_the_event_at_its_time_in_the_runs_stream() {
    let arn = "arn:aws:logs:us-east-2:123456789012:log-group:/aws/events/billing:*";
    let w = target_world(3, arn);
    w.logs.add_log_group("/aws/events/billing");
    let time = chrono::DateTime::parse_from_rfc3339("2025-09-08T14:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    w.logs.set_now(time + chrono::Duration::hours(1));
    add_rule(&w, vec![target("logs", arn)]);
    let cfg = w.target_cfg();
    let run_id = cfg.run_id.clone();
    let out = w.run(cfg).await;
    assert_delivered(&w, &out, 3, arn, "logs");
    let events = w
        .logs
        .events("/aws/events/billing", &log_stream_name(&run_id));
    assert_eq!(events.len(), 3);
    assert!(
        events
            .iter()
            .all(|e| e.timestamp_ms == time.timestamp_millis())
    );
    assert_eq!(w.logs.calls(), 1, "three events, one call");
}

#[tokio::test(start_paused = true)]
async fn one_event_dead_lettered_by_two_targets_is_delivered_to_each() {
    let w = world(0);
    let q = w.sqs.create("orders");
    w.lambda.add_function("f");
    for i in 0..3 {
        w.sqs.push("subs-dlq", &body(i), attrs_for(FUNCTION_ARN));
        w.sqs.push("subs-dlq", &body(i), attrs_for(&q.arn));
    }
    add_rule(&w, vec![target("fn", FUNCTION_ARN), target("q", &q.arn)]);
    let out = w.run(w.target_cfg()).await;
    assert_eq!(out.counts.reemitted, 6, "{:?}", out.failures);
    assert_eq!(out.counts.duplicates, 0);
    assert_eq!(w.left(), 0);
    assert_eq!(w.lambda.invoked().len(), 3);
    assert_eq!(w.sqs.messages("orders").len(), 3);
    assert_eq!(w.ledger_keys().len(), 6);
    assert!(w.ledger_keys().contains(&format!("evt_1 -> {}", q.arn)));
    assert!(
        w.ledger_keys()
            .contains(&format!("evt_1 -> {FUNCTION_ARN}"))
    );
    assert_eq!(
        out.targets.iter().map(|t| t.delivered).collect::<Vec<_>>(),
        [3, 3]
    );
    // A second copy of an event for one target is a duplicate, not a second delivery.
    w.sqs.push("subs-dlq", &body(1), attrs_for(FUNCTION_ARN));
    let again = w.run(w.target_cfg()).await;
    assert_eq!(again.counts.duplicates, 1);
    assert_eq!(w.lambda.invoked().len(), 3);
    assert_eq!(again.targets[0].duplicates, 1);
    assert_eq!(w.left(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_dry_run_previews_the_target_and_its_input_and_changes_nothing() {
    let w = target_world(2, FUNCTION_ARN);
    w.lambda.add_function("f");
    w.sqs.push(
        "subs-dlq",
        &body(9),
        attrs_for("arn:aws:lambda:us-east-2:123456789012:function:gone"),
    );
    let mut t = target("fn", FUNCTION_ARN);
    t.input = TargetInputSpec::InputTransformer {
        input_paths_map: BTreeMap::from([("id".into(), "$.detail.id".into())]),
        input_template: format!(r#"{{"id": <id>, "pad": "{}"}}"#, "é".repeat(300)),
    };
    add_rule(&w, vec![t]);
    let mut cfg = w.target_cfg();
    cfg.dry_run = true;
    let out = w.run(cfg).await;
    assert!(w.lambda.invoked().is_empty());
    assert!(w.ledger.records().is_empty());
    assert_eq!(w.left(), 3);
    assert_eq!(w.sqs.in_flight("subs-dlq"), 0);
    assert_eq!(out.counts.would_reemit, 2);
    let deliver: Vec<&Planned> = out
        .planned
        .iter()
        .filter(|p| p.action == "deliver")
        .collect();
    assert_eq!(deliver.len(), 2);
    for p in &deliver {
        let t = p.target.as_ref().unwrap();
        assert_eq!((t.arn.as_str(), t.kind.as_str()), (FUNCTION_ARN, "lambda"));
        assert!(
            t.input_preview.starts_with(r#"{"id":"evt_"#),
            "{}",
            t.input_preview
        );
        assert_eq!(t.input_preview.chars().count(), 201, "200 characters and …");
        assert!(t.input_preview.ends_with("é…"));
        assert_eq!(p.bus, None);
        assert!(p.rules.is_empty());
    }
    let leave = out.planned.iter().find(|p| p.action == "leave").unwrap();
    assert!(
        leave
            .reason
            .as_deref()
            .unwrap()
            .contains("the rule has no target arn:aws:lambda:us-east-2:123456789012:function:gone"),
        "{leave:?}"
    );
    assert!(out.targets.is_empty(), "a dry run delivers nothing");
}

#[tokio::test(start_paused = true)]
async fn two_copies_of_one_event_for_one_target_in_one_run_are_delivered_once() {
    let w = target_world(1, FUNCTION_ARN);
    w.sqs.push("subs-dlq", &body(0), attrs_for(FUNCTION_ARN));
    w.lambda.add_function("f");
    add_rule(&w, vec![target("fn", FUNCTION_ARN)]);
    let mut cfg = w.target_cfg();
    cfg.concurrency = 1;
    let out = w.run(cfg).await;
    assert_eq!(w.lambda.invoked().len(), 1);
    assert_eq!(out.counts.reemitted, 1);
    assert_eq!(out.counts.duplicates, 1, "the copy is settled at the end");
    assert_eq!(w.left(), 0);
}
