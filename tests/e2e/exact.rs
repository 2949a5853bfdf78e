//! Issue 15: `start --exact` on moto. Rule A (order.paid) → queue QA and rule B (every
//! `shop` event, a catch-all `start` does not select) → queue QB: `--exact --event-type
//! order.paid` delivers the paid events once each to QA only, and a rerun delivers
//! nothing more. moto replays the whole archive to every rule, ignoring FilterArns: the
//! rules here refuse replayed events (`replay-name` must not exist), so whatever reaches
//! QA came through the exact delivery, not through moto's replay. moto also gives each
//! replayed event a new envelope id (AWS keeps it), so the events carry a Stripe event id
//! in `detail.id`, the dedup key a rerun is checked by.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::support::{Cmd, Moto, TempDir, archived_bus_with, block_on, clients_on, queue_with_arn};

const BUS: &str = "exact-bus";
const ARCHIVE: &str = "exact-archive";

/// Creates the bus and its archive, puts the events (order id, time, type), then the two
/// rules and their queues; answers the URLs of QA and QB.
async fn seed(
    eb: &aws_sdk_eventbridge::Client,
    sqs: &aws_sdk_sqs::Client,
    events: &[(&str, DateTime<Utc>, &str)],
) -> (String, String) {
    let events: Vec<(serde_json::Value, DateTime<Utc>)> = events
        .iter()
        .map(|(order, time, kind)| {
            (
                json!({"id": format!("evt_{order}"), "type": kind, "order": order}),
                *time,
            )
        })
        .collect();
    archived_bus_with(eb, BUS, ARCHIVE, &events).await;
    let mut urls = Vec::new();
    for (rule, queue, pattern) in [
        (
            "paid-rule",
            "qa",
            json!({"source": ["shop"], "detail": {"type": ["order.paid"]}, "replay-name": [{"exists": false}]}),
        ),
        (
            "all-shop",
            "qb",
            json!({"source": ["shop"], "replay-name": [{"exists": false}]}),
        ),
    ] {
        let (url, arn) = queue_with_arn(sqs, queue).await;
        eb.put_rule()
            .name(rule)
            .event_bus_name(BUS)
            .event_pattern(pattern.to_string())
            .send()
            .await
            .unwrap();
        eb.put_targets()
            .rule(rule)
            .event_bus_name(BUS)
            .targets(
                aws_sdk_eventbridge::types::Target::builder()
                    .id("q")
                    .arn(arn)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        urls.push(url);
    }
    (urls[0].clone(), urls[1].clone())
}

/// Every message waiting in the queue, read (and deleted) until it is empty.
async fn drained(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<serde_json::Value> {
    let mut bodies = Vec::new();
    loop {
        let out = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        if out.messages().is_empty() {
            return bodies;
        }
        for m in out.messages() {
            bodies.push(serde_json::from_str(m.body().unwrap()).unwrap());
            sqs.delete_message()
                .queue_url(url)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
}

fn exact(moto: &Moto, home: &TempDir, extra: &[&str]) -> crate::support::Run {
    let mut args = vec![
        "start",
        "--bus",
        BUS,
        "--archive",
        ARCHIVE,
        "--since",
        "3h",
        "--event-type",
        "order.paid",
        "--exact",
        "--settle",
        "1s",
        "--output",
        "json",
    ];
    args.extend_from_slice(extra);
    Cmd::new(Some(&moto.endpoint), home.path()).run(&args)
}

#[test]
fn exact_delivers_only_the_named_type_only_to_the_selected_rules_target_once() {
    let moto = Moto::start();
    let home = TempDir::new("exact");
    let (eb, sqs) = clients_on(&moto.endpoint);
    let hour_ago = Utc::now() - chrono::Duration::hours(1);
    let (qa, qb) = block_on(seed(
        &eb,
        &sqs,
        &[
            ("p1", hour_ago, "order.paid"),
            ("p2", hour_ago, "order.paid"),
            ("r1", hour_ago, "order.refunded"),
        ],
    ));

    // A dry run shows the plan (with QA's input) and delivers nothing.
    let dry = exact(&moto, &home, &["--dry-run"]);
    dry.code(0);
    let plan = dry.json();
    assert_eq!(plan["outcome"], "dry_run", "{plan:#}");
    assert_eq!(plan["plan"]["events_per_type"]["order.paid"], 2, "{plan:#}");
    let per_target = plan["plan"]["events_per_target"].as_object().unwrap();
    assert_eq!(per_target.len(), 1, "{plan:#}");
    assert!(per_target.keys().all(|k| k.ends_with(":qa")), "{plan:#}");
    assert_eq!(plan["plan"]["samples"].as_array().unwrap().len(), 1);
    assert!(block_on(drained(&sqs, &qa)).is_empty());
    // The human plan: counts, the rule, and QA's input.
    let human = Cmd::new(Some(&moto.endpoint), home.path()).run(&[
        "start",
        "--bus",
        BUS,
        "--since",
        "3h",
        "--event-type",
        "order.paid",
        "--exact",
        "--settle",
        "1s",
        "--dry-run",
    ]);
    human.code(0);
    for want in [
        "2 event(s) of type order.paid",
        "rule/exact-bus/paid-rule",
        "2 delivery(ies) to arn:aws:sqs:",
        "sample input for arn:aws:sqs:",
        "dry run: nothing was delivered",
    ] {
        assert!(human.stdout.contains(want), "{want}:\n{}", human.stdout);
    }
    assert!(!human.stdout.contains(":qb"), "{}", human.stdout);

    // Without --yes and off a terminal: refused, nothing delivered.
    let runs = || {
        std::fs::read_dir(home.path().join("state").join("exact"))
            .unwrap()
            .count()
    };
    let before = runs();
    let refused = exact(&moto, &home, &[]);
    refused.code(2);
    assert!(refused.stderr.contains("pass --yes"), "{}", refused.stderr);
    assert_eq!(runs(), before, "refused before the export");
    assert!(block_on(drained(&sqs, &qa)).is_empty());

    let run = exact(&moto, &home, &["--yes"]);
    run.code(0);
    let report = run.json();
    assert_eq!(report["outcome"], "delivered", "{report:#}");
    let targets = report["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 1, "{report:#}");
    assert_eq!(targets[0]["delivered"], 2, "{report:#}");
    assert_eq!(targets[0]["failed"], 0, "{report:#}");
    let mut orders: Vec<String> = block_on(drained(&sqs, &qa))
        .iter()
        .map(|e| e["detail"]["order"].as_str().unwrap().to_string())
        .collect();
    orders.sort();
    assert_eq!(orders, ["p1", "p2"]);
    assert!(block_on(drained(&sqs, &qb)).is_empty(), "QB got events");

    // A rerun: both deliveries are claimed already.
    let rerun = exact(&moto, &home, &["--yes"]);
    rerun.code(0);
    let again = rerun.json();
    assert_eq!(again["targets"][0]["delivered"], 0, "{again:#}");
    assert_eq!(again["targets"][0]["duplicates"], 2, "{again:#}");
    assert!(block_on(drained(&sqs, &qa)).is_empty());
    assert!(block_on(drained(&sqs, &qb)).is_empty());
}

#[test]
fn exact_without_a_type_or_an_id_is_refused_before_anything_is_created() {
    let home = TempDir::new("exact-usage");
    let run = Cmd::new(None, home.path()).run(&["start", "--since", "2h", "--exact"]);
    run.code(2);
    assert!(
        run.stderr.contains("--event-type TYPE or --id ID"),
        "{}",
        run.stderr
    );
    assert!(!home.path().join("state").join("exact").exists());
}
