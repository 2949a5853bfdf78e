//! Issue 14: `drain --to target` end to end, the built binary against moto (LocalStack for
//! a partner bus). Each test makes its own bus, rules whose targets dead-letter to a DLQ it
//! made, and seeds that DLQ as EventBridge would; then it checks at the target what
//! arrived: every event once, with the input the target's rule gives it, and the DLQ empty.

mod faults;
mod partner;
mod topology;

use serde_json::{Value, json};

use crate::proxy::{Faults, Proxy};
use crate::support::{DeadLetter, REGION};
use topology::{
    Topo, assert_tally, group, letters, sorted, stripe_event, target, transformer, unique,
};

const SUBSCRIPTIONS: &str = r#"{"source": ["stripe.webhook"]}"#;

/// The events `from..to`.
fn events(from: usize, to: usize) -> Vec<Value> {
    (from..to).map(stripe_event).collect()
}

/// The input the transformer of [`lambda_transformer`] makes of `event` for `rule`.
fn transformed(event: &Value, rule: &str) -> Value {
    let sub = event["detail"]["data"]["object"]["id"].as_str().unwrap();
    json!({
        "subscription": sub,
        "note": format!("{sub} is active"),
        "rule": rule,
        "event_id": event["detail"]["id"],
    })
}

/// Variables outside quotes are inserted as JSON, inside as text; plus a predefined one.
fn lambda_transformer() -> aws_sdk_eventbridge::types::InputTransformer {
    transformer(
        &[
            ("sub", "$.detail.data.object.id"),
            ("status", "$.detail.data.object.status"),
            ("id", "$.detail.id"),
        ],
        r#"{"subscription": <sub>, "note": "<sub> is <status>", "rule": "<aws.events.rule-name>", "event_id": <id>}"#,
    )
}

#[test]
fn a_lambda_target_receives_its_transformed_input_once_per_event() {
    let topo = Topo::on_moto("to-lambda");
    let dlq = topo.queue("lambda-dlq");
    let function = topo.function("subscription-handler");
    let name = function.rsplit(':').next().unwrap().to_string();
    let rule = unique("subscription-updated");
    let rule_arn = topo.rule_with_target(
        &rule,
        SUBSCRIPTIONS,
        target("handler", &function, &dlq).input_transformer(lambda_transformer()),
    );
    let evs = events(0, 8);
    topo.seed(&dlq, &letters(&evs, &rule_arn, &function));
    // moto keeps no trace of an invocation: the proxy keeps what reached the function.
    let proxy = Proxy::start(topo.endpoint(), 1, Faults::default().recording("Invoke"));

    let run = topo.drain(&dlq, Some(&proxy.endpoint), &[]);
    run.code(0);
    let doc = run.json();
    assert_tally(&doc, &function, "lambda", [8, 0, 0]);
    let want: Vec<Value> = evs.iter().map(|e| transformed(e, &rule)).collect();
    assert_eq!(
        invoked(&proxy, &name, "RequestResponse"),
        sorted(want),
        "each event once, transformed, invoked synchronously (a function error would keep it)"
    );
    assert_eq!(topo.depth(&dlq), 0, "the DLQ ends empty");

    // --invoke async: as EventBridge invokes, accepted once Lambda has queued the event.
    proxy.reset_stats();
    let later = events(8, 11);
    topo.seed(&dlq, &letters(&later, &rule_arn, &function));
    let run = topo.drain(&dlq, Some(&proxy.endpoint), &["--invoke", "async"]);
    run.code(0);
    assert_tally(&run.json(), &function, "lambda", [3, 0, 0]);
    let want: Vec<Value> = later.iter().map(|e| transformed(e, &rule)).collect();
    assert_eq!(invoked(&proxy, &name, "Event"), sorted(want));
    assert_eq!(topo.depth(&dlq), 0);
}

/// The payloads the function `name` was invoked with, sorted; each call of `invocation`
/// type.
#[track_caller]
fn invoked(proxy: &Proxy, name: &str, invocation: &str) -> Vec<Value> {
    let stats = proxy.stats();
    let calls = stats.invocations_of(name);
    for c in &calls {
        // The SDK leaves the header out for the default, RequestResponse.
        let kind = c
            .headers
            .get("x-amz-invocation-type")
            .map_or("RequestResponse", String::as_str);
        assert_eq!(kind, invocation, "{c:?}");
    }
    sorted(
        calls
            .iter()
            .map(|c| serde_json::from_str(&c.body).unwrap())
            .collect(),
    )
}

#[test]
fn standard_and_fifo_queue_targets_receive_exactly_the_events() {
    let topo = Topo::on_moto("to-sqs");
    let dlq = topo.queue("sqs-dlq");
    let standard = topo.queue("orders");
    let fifo = topo.fifo_queue("orders");
    let to_standard = topo.rule_with_target(
        &unique("to-standard"),
        SUBSCRIPTIONS,
        target("q", &standard.arn, &dlq),
    );
    let to_fifo = topo.rule_with_target(
        &unique("to-fifo"),
        SUBSCRIPTIONS,
        target("f", &fifo.arn, &dlq).sqs_parameters(group("billing")),
    );
    let (a, b) = (events(0, 6), events(6, 12));
    topo.seed(&dlq, &letters(&a, &to_standard, &standard.arn));
    topo.seed(&dlq, &letters(&b, &to_fifo, &fifo.arn));

    let run = topo.drain(&dlq, None, &[]);
    run.code(0);
    let doc = run.json();
    assert_tally(&doc, &standard.arn, "sqs", [6, 0, 0]);
    assert_tally(&doc, &fifo.arn, "sqs", [6, 0, 0]);
    // The event that was dead-lettered, as it was: same id, time and detail, nothing added.
    let at_standard = topo.take(&standard);
    assert!(at_standard.iter().all(|d| d.group.is_none()));
    assert_eq!(
        sorted(at_standard.into_iter().map(|d| d.body).collect()),
        sorted(a)
    );
    let at_fifo = topo.take(&fifo);
    assert!(
        at_fifo
            .iter()
            .all(|d| d.group.as_deref() == Some("billing")),
        "the group of the target's SqsParameters: {at_fifo:?}"
    );
    // A deduplication id per event (from its dedup key): a send retried after a lost
    // answer lands once.
    let ids: std::collections::BTreeSet<&str> = at_fifo
        .iter()
        .filter_map(|d| d.dedup_id.as_deref())
        .collect();
    assert_eq!(ids.len(), 6, "{at_fifo:?}");
    assert_eq!(
        sorted(at_fifo.into_iter().map(|d| d.body).collect()),
        sorted(b)
    );
    assert_eq!(topo.depth(&dlq), 0, "the DLQ ends empty");
}

#[test]
fn an_sns_target_publishes_each_event_once_to_its_subscribers() {
    let topo = Topo::on_moto("to-sns");
    let dlq = topo.queue("sns-dlq");
    let subscriber = topo.queue("alerts");
    let topic = topo.topic_to("billing-alerts", &subscriber);
    let rule_arn =
        topo.rule_with_target(&unique("alerts"), SUBSCRIPTIONS, target("t", &topic, &dlq));
    let evs = events(0, 6);
    topo.seed(&dlq, &letters(&evs, &rule_arn, &topic));

    let run = topo.drain(&dlq, None, &[]);
    run.code(0);
    assert_tally(&run.json(), &topic, "sns", [6, 0, 0]);
    let got = topo.take(&subscriber).into_iter().map(|d| d.body).collect();
    assert_eq!(sorted(got), sorted(evs));
    assert_eq!(topo.depth(&dlq), 0);
}

#[test]
fn a_state_machine_target_starts_one_execution_per_event_named_by_its_key() {
    let topo = Topo::on_moto("to-sfn");
    let dlq = topo.queue("sfn-dlq");
    let machine = topo.state_machine("billing");
    let rule_arn = topo.rule_with_target(
        &unique("to-machine"),
        SUBSCRIPTIONS,
        target("m", &machine, &dlq),
    );
    let evs = events(0, 5);
    let dead = letters(&evs, &rule_arn, &machine);
    topo.seed(&dlq, &dead);

    let run = topo.drain(&dlq, None, &[]);
    run.code(0);
    assert_tally(&run.json(), &machine, "stepfunctions", [5, 0, 0]);
    let want: Vec<(String, Value)> = {
        let mut w: Vec<(String, Value)> = evs
            .iter()
            .map(|e| {
                let key = e["detail"]["id"].as_str().unwrap();
                (
                    nexus_replay::delivery::names::execution_name(key, 1),
                    e.clone(),
                )
            })
            .collect();
        w.sort_by(|a, b| a.0.cmp(&b.0));
        w
    };
    assert_eq!(topo.executions(&machine), want);
    assert_eq!(topo.depth(&dlq), 0);

    // The same messages again (a target that dead-lettered them twice): the ledger knows
    // them; nothing new starts.
    topo.seed(&dlq, &dead);
    let again = topo.drain(&dlq, None, &[]);
    again.code(0);
    assert_tally(&again.json(), &machine, "stepfunctions", [0, 5, 0]);
    assert_eq!(topo.executions(&machine), want);
    assert_eq!(topo.depth(&dlq), 0);

    // Without the ledger, the execution names derived from the keys still start nothing
    // twice: a start under a name already used, with the same input, is that execution.
    topo.seed(&dlq, &dead);
    topo.drain(&dlq, None, &["--ledger", "none"]).code(0);
    assert_eq!(topo.executions(&machine), want);
    assert_eq!(topo.depth(&dlq), 0);
}

#[test]
fn an_event_dead_lettered_by_two_targets_reaches_each_once() {
    let topo = Topo::on_moto("two-targets");
    let dlq = topo.queue("shared-dlq");
    let (ledger, search) = (topo.queue("ledger"), topo.queue("search"));
    let to_ledger = topo.rule_with_target(
        &unique("to-ledger"),
        SUBSCRIPTIONS,
        target("l", &ledger.arn, &dlq),
    );
    let to_search = topo.rule_with_target(
        &unique("to-search"),
        SUBSCRIPTIONS,
        target("s", &search.arn, &dlq),
    );
    // Both targets failed on the same events: one message per event and target, in one DLQ,
    // under the same dedup key; and the ledger target's first event twice (a copy).
    let evs = events(0, 5);
    let mut dead: Vec<DeadLetter> = letters(&evs, &to_ledger, &ledger.arn);
    dead.extend(letters(&evs, &to_search, &search.arn));
    dead.extend(letters(&evs[..1], &to_ledger, &ledger.arn));
    topo.seed(&dlq, &dead);

    let run = topo.drain(&dlq, None, &[]);
    run.code(0);
    let doc = run.json();
    assert_tally(&doc, &ledger.arn, "sqs", [5, 1, 0]);
    assert_tally(&doc, &search.arn, "sqs", [5, 0, 0]);
    for q in [&ledger, &search] {
        let got = topo.take(q).into_iter().map(|d| d.body).collect();
        assert_eq!(sorted(got), sorted(evs.clone()), "{}", q.name);
    }
    assert_eq!(topo.depth(&dlq), 0);
}

#[test]
fn a_bus_target_and_a_log_group_target_receive_the_events() {
    let topo = Topo::on_moto("to-bus-and-logs");
    let dlq = topo.queue("bus-logs-dlq");
    // Another bus, whose catch-all rule forwards to a capture queue.
    let downstream = unique("downstream");
    topo.create_bus(&downstream);
    let capture = topo.queue("capture");
    topo.rule_with_target_on(
        &downstream,
        "capture-all",
        r#"{"source": [{"prefix": ""}]}"#,
        target("c", &capture.arn, &dlq),
    );
    let bus_arn = format!(
        "arn:aws:events:{REGION}:{}:event-bus/{downstream}",
        topo.account
    );
    let group = "/aws/events/billing";
    let group_arn = topo.log_group(group);
    let to_bus = topo.rule_with_target(
        &unique("to-downstream"),
        SUBSCRIPTIONS,
        target("b", &bus_arn, &dlq),
    );
    let to_logs = topo.rule_with_target(
        &unique("to-logs"),
        SUBSCRIPTIONS,
        target("l", &group_arn, &dlq),
    );
    // Recent events: CloudWatch Logs refuses events older than 14 days (as does a DLQ,
    // which keeps messages 14 days at most).
    let recent = |i: usize| {
        let mut e = stripe_event(i);
        e["time"] = json!(
            (chrono::Utc::now() - chrono::Duration::minutes(10 + i as i64))
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string()
        );
        e
    };
    let (a, b): (Vec<Value>, Vec<Value>) =
        ((0..4).map(recent).collect(), (4..8).map(recent).collect());
    topo.seed(&dlq, &letters(&a, &to_bus, &bus_arn));
    topo.seed(&dlq, &letters(&b, &to_logs, &group_arn));

    let run = topo.drain(&dlq, None, &[]);
    run.code(0);
    let doc = run.json();
    assert_tally(&doc, &bus_arn, "bus", [4, 0, 0]);
    assert_tally(&doc, &group_arn, "logs", [4, 0, 0]);
    // PutEvents gives the event a new id; its source, type, time and detail are the ones
    // that were dead-lettered, unmarked.
    let fields = |e: &Value| json!([e["source"], e["detail-type"], e["time"], e["detail"]]);
    let got = topo
        .take(&capture)
        .iter()
        .map(|d| fields(&d.body))
        .collect();
    assert_eq!(sorted(got), sorted(a.iter().map(fields).collect()));
    let stream = nexus_replay::delivery::names::log_stream_name(doc["run_id"].as_str().unwrap());
    assert_eq!(sorted(topo.log_messages(group, &stream)), sorted(b));
    assert_eq!(topo.depth(&dlq), 0);
}

#[test]
fn a_dry_run_shows_each_target_and_its_input_and_changes_nothing() {
    let topo = Topo::on_moto("dry-run");
    let dlq = topo.queue("dry-dlq");
    let queue = topo.queue("billing");
    let rule = unique("to-billing");
    let rule_arn = topo.rule_with_target(
        &rule,
        SUBSCRIPTIONS,
        target("q", &queue.arn, &dlq).input_transformer(lambda_transformer()),
    );
    let evs = events(0, 3);
    topo.seed(&dlq, &letters(&evs, &rule_arn, &queue.arn));

    let run = topo.drain(&dlq, None, &["--dry-run"]);
    run.code(0);
    let doc = run.json();
    assert_eq!(doc["dry_run"], true);
    let planned = doc["planned"].as_array().unwrap();
    assert_eq!(planned.len(), 3, "{doc}");
    let mut previews = Vec::new();
    for p in planned {
        let t = &p["target"];
        assert_eq!(t["arn"], queue.arn.as_str(), "{p}");
        assert_eq!(t["kind"], "sqs", "{p}");
        previews.push(serde_json::from_str(t["input_preview"].as_str().unwrap()).unwrap());
    }
    let want: Vec<Value> = evs.iter().map(|e| transformed(e, &rule)).collect();
    assert_eq!(sorted(previews), sorted(want));

    // The human plan names the target and shows the input too.
    let human = topo.drain(&dlq, None, &["--dry-run", "--output", "human"]);
    human.code(0);
    assert!(human.stdout.contains(&queue.arn), "{}", human.stdout);
    assert!(
        human.stdout.contains(r#""note":"sub_0001 is active""#)
            || human.stdout.contains(r#""note": "sub_0001 is active""#),
        "{}",
        human.stdout
    );

    assert_eq!(topo.depth(&dlq), 3, "nothing taken from the DLQ");
    assert!(topo.take(&queue).is_empty(), "nothing delivered");
    let stats = topo
        .sb
        .bare_cmd()
        .run(&["ledger", "stats", "--output", "json"])
        .code(0)
        .json();
    assert_eq!(stats["done"], 0, "nothing claimed: {stats}");
}
