//! Issue 17: `stripe reconcile` on moto, against the loopback stand-in for Stripe's
//! `GET /v1/events` (`nexus_replay::stripe::testing`). The bus has an archive and one rule
//! (invoice.paid from the webhook → queue `invoices`) that refuses replayed events, so
//! what reaches the queue is what the reconcile re-emitted, not the export's replay.

use chrono::{Duration, Utc};
use nexus_replay::stripe::testing::{StripeStandIn, event};
use serde_json::{Value, json};

use crate::support::{
    Cmd, Moto, Run, TempDir, block_on, clients_on, queue_with_arn, report_settings,
};

const BUS: &str = "stripe-bus";
const ARCHIVE: &str = "stripe-archive";
const KEY: &str = "rk_test_51E2eStandInKey000000000abcd";

/// The bus, its archive and the invoice rule with its queue; answers the queue's URL.
async fn seed(eb: &aws_sdk_eventbridge::Client, sqs: &aws_sdk_sqs::Client) -> String {
    crate::support::archived_bus_with(eb, BUS, ARCHIVE, &[]).await;
    let (url, arn) = queue_with_arn(sqs, "invoices").await;
    eb.put_rule()
        .name("invoice-rule")
        .event_bus_name(BUS)
        .event_pattern(
            json!({"source": ["stripe.webhook"], "detail": {"type": ["invoice.paid"]},
                "replay-name": [{"exists": false}]})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    eb.put_targets()
        .rule("invoice-rule")
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
    url
}

/// Puts Stripe events on the bus as the webhook handler does.
async fn webhook_put(eb: &aws_sdk_eventbridge::Client, events: &[Value]) {
    for e in events {
        let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
            .event_bus_name(BUS)
            .source("stripe.webhook")
            .detail_type("Stripe Webhook Event")
            .detail(e.to_string())
            .time(aws_sdk_eventbridge::primitives::DateTime::from_secs(
                e["created"].as_i64().unwrap(),
            ))
            .build();
        let out = eb.put_events().entries(entry).send().await.unwrap();
        assert_eq!(out.failed_entry_count(), 0);
    }
}

/// Every message waiting in the queue, read and deleted until it is empty.
async fn drained(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<Value> {
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

fn reconcile(
    moto: &Moto,
    home: &TempDir,
    stripe: &StripeStandIn,
    key: &str,
    extra: &[&str],
) -> Run {
    let mut args = vec![
        "--no-progress",
        "stripe",
        "reconcile",
        "--bus",
        BUS,
        "--since",
        "3h",
        "--until",
        "now",
        "--settle",
        "1s",
        "--stripe-api-base",
        &stripe.base_url,
    ];
    args.extend_from_slice(extra);
    Cmd::new(Some(&moto.endpoint), home.path())
        .env("STRIPE_API_KEY", key)
        .run(&args)
}

fn ids(v: &Value) -> Vec<String> {
    let mut ids: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

/// The files a run left in the state dir's `stripe` directory.
fn run_files(home: &TempDir) -> Vec<String> {
    match std::fs::read_dir(home.path().join("state").join("stripe")) {
        Err(_) => Vec::new(),
        Ok(d) => d
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
    }
}

/// The rules on the bus: a leftover export rule would show here.
fn rules(eb: &aws_sdk_eventbridge::Client) -> Vec<String> {
    let out = block_on(eb.list_rules().event_bus_name(BUS).send()).unwrap();
    out.rules()
        .iter()
        .filter_map(|r| r.name().map(str::to_string))
        .filter(|n| !n.starts_with("Events-Archive-"))
        .collect()
}

#[test]
fn missing_events_are_found_exactly_applied_once_and_a_second_run_is_clean() {
    let moto = Moto::start();
    let home = TempDir::new("stripe");
    let (eb, sqs) = clients_on(&moto.endpoint);
    let queue = block_on(seed(&eb, &sqs));
    let hour_ago = (Utc::now() - Duration::hours(1)).timestamp();
    let stripe_side = [
        event("evt_a", "invoice.paid", hour_ago),
        event("evt_b", "invoice.paid", hour_ago + 60),
        event("evt_c", "invoice.paid", hour_ago + 120),
        event("evt_d", "charge.failed", hour_ago + 180),
        event("evt_e", "charge.failed", hour_ago + 240),
    ];
    let stripe = StripeStandIn::start(KEY);
    stripe.add_events(stripe_side.clone());
    // The bus received a, c and d, and one event this key's Stripe account does not know.
    let other = event("evt_other", "invoice.paid", hour_ago + 30);
    block_on(webhook_put(
        &eb,
        &[
            stripe_side[0].clone(),
            stripe_side[2].clone(),
            stripe_side[3].clone(),
            other,
        ],
    ));
    assert!(
        block_on(drained(&sqs, &queue)).len() == 3,
        "the live copies"
    );

    let found = reconcile(&moto, &home, &stripe, KEY, &["--output", "json"]);
    found.code(3);
    let r = found.json();
    assert_eq!(r["in_stripe"], 5, "{r:#}");
    assert_eq!(r["in_archive"], 4, "{r:#}");
    assert_eq!(ids(&r["missing"]), ["evt_b", "evt_e"], "{r:#}");
    assert_eq!(ids(&r["extra"]), ["evt_other"], "{r:#}");
    assert_eq!(r["missing"][0]["type"], "invoice.paid");
    assert_eq!(
        r["missing"][0]["created"],
        json!(
            chrono::DateTime::from_timestamp(hour_ago + 60, 0)
                .unwrap()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )
    );
    assert_eq!(r["by_type"]["charge.failed"]["missing"], 1, "{r:#}");
    assert_eq!(r["by_type"]["invoice.paid"]["extra"], 1, "{r:#}");
    let window_start =
        chrono::DateTime::parse_from_rfc3339(r["window"]["start"].as_str().unwrap()).unwrap();
    assert!(
        (Utc::now() - Duration::hours(3) - window_start.with_timezone(&Utc))
            .num_seconds()
            .abs()
            < 120,
        "{r:#}"
    );
    assert_eq!(
        r["stripe_version"],
        nexus_replay::stripe::client::STRIPE_VERSION
    );
    // Every call pinned the version; no export file is left behind.
    assert!(
        stripe
            .requests()
            .iter()
            .all(|q| q.stripe_version.as_deref()
                == Some(nexus_replay::stripe::client::STRIPE_VERSION))
    );
    assert!(run_files(&home).is_empty(), "{:?}", run_files(&home));
    assert_eq!(rules(&eb), ["invoice-rule"]);

    // The human reports: what is missing, then what --apply would send and to which rules.
    snap(
        reconcile(&moto, &home, &stripe, KEY, &[]),
        "stripe_reconcile_missing",
        3,
    );
    snap(
        reconcile(&moto, &home, &stripe, KEY, &["--apply", "--dry-run"]),
        "stripe_reconcile_dry_run",
        3,
    );

    // A dry run shows what would be sent and where, and sends nothing.
    let dry = reconcile(
        &moto,
        &home,
        &stripe,
        KEY,
        &["--apply", "--dry-run", "--output", "json"],
    );
    dry.code(3);
    let d = dry.json();
    assert_eq!(d["apply"]["dry_run"], true, "{d:#}");
    // The archive's own rule takes every event; the invoice rule only invoice.paid.
    let radius = |t: &str| d["apply"]["rules_by_type"][t].clone();
    assert_eq!(
        radius("invoice.paid"),
        json!(["Events-Archive-stripe-archive", "invoice-rule"]),
        "{d:#}"
    );
    assert_eq!(
        radius("charge.failed"),
        json!(["Events-Archive-stripe-archive"]),
        "{d:#}"
    );
    assert!(block_on(drained(&sqs, &queue)).is_empty());

    // Off a terminal without --yes: refused before anything.
    let refused = reconcile(&moto, &home, &stripe, KEY, &["--apply"]);
    refused.code(2);
    assert!(refused.stderr.contains("pass --yes"), "{}", refused.stderr);

    let applied = reconcile(
        &moto,
        &home,
        &stripe,
        KEY,
        &["--apply", "--yes", "--output", "json"],
    );
    applied.code(0);
    let a = applied.json();
    assert_eq!(a["apply"]["reemit"]["counts"]["reemitted"], 2, "{a:#}");
    let got = block_on(drained(&sqs, &queue));
    assert_eq!(got.len(), 1, "{got:#?}");
    let e = &got[0];
    assert_eq!(e["source"], "stripe.webhook");
    assert_eq!(e["detail-type"], "Stripe Webhook Event");
    assert_eq!(e["detail"]["id"], "evt_b");
    assert_eq!(e["detail"]["data"], stripe_side[1]["data"]);
    assert_eq!(e["detail"]["nexus_replay"]["dedup_key"], "evt_b");
    assert_eq!(e["detail"]["nexus_replay"]["queue"], "stripe");
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(e["time"].as_str().unwrap())
            .unwrap()
            .timestamp(),
        hour_ago + 60
    );

    // Nothing is missing any more, and a second --apply re-emits nothing.
    let again = reconcile(&moto, &home, &stripe, KEY, &["--output", "json"]);
    again.code(0);
    assert_eq!(again.json()["missing"], json!([]));
    let twice = reconcile(
        &moto,
        &home,
        &stripe,
        KEY,
        &["--apply", "--yes", "--output", "json"],
    );
    twice.code(0);
    assert_eq!(twice.json()["apply"], Value::Null);
    assert!(block_on(drained(&sqs, &queue)).is_empty());
    assert_eq!(rules(&eb), ["invoice-rule"]);

    snap(
        reconcile(&moto, &home, &stripe, KEY, &[]),
        "stripe_reconcile_clean",
        0,
    );
}

/// Snapshots a run's transcript (exit code, stdout, stderr), what varies redacted.
fn snap(run: Run, name: &str, code: i32) {
    run.code(code);
    let text = format!(
        "$ nexus-replay stripe reconcile --bus {BUS} --since 3h --until now ...\n{}",
        run.transcript()
    );
    let mut settings = report_settings();
    settings.add_filter(r"stripe-\d{8}T\d{6}-[0-9a-f]{6}", "[RUN-ID]");
    settings.add_filter(r"nexus-export-[0-9A-Za-z-]+", "[REPLAY-NAME]");
    // Printed when the queue is polled, which the timing decides.
    settings.add_filter(r"captured \d+ event\(s\) so far[^\n]*\n", "");
    settings.bind(|| insta::assert_snapshot!(name, text));
}

#[test]
fn a_bad_key_or_an_old_window_fails_without_side_effects() {
    let moto = Moto::start();
    let home = TempDir::new("stripe-bad");
    let (eb, sqs) = clients_on(&moto.endpoint);
    let queue = block_on(seed(&eb, &sqs));
    let stripe = StripeStandIn::start(KEY);
    let hour_ago = (Utc::now() - Duration::hours(1)).timestamp();
    stripe.add_events([event("evt_a", "invoice.paid", hour_ago)]);

    let wrong = "rk_test_51WrongKeyValue00000000wxyz";
    // With trace logging on too: the key must not appear at any level.
    let bad = reconcile(&moto, &home, &stripe, wrong, &["--apply", "--yes", "-vv"]);
    bad.code(1);
    assert!(
        bad.stderr.contains("Invalid API Key provided: rk_test_"),
        "{}",
        bad.stderr
    );
    assert!(bad.stderr.contains("STRIPE_API_KEY"), "{}", bad.stderr);
    for out in [&bad.stdout, &bad.stderr] {
        assert!(!out.contains("WrongKeyValue"), "the key is shown:\n{out}");
    }
    assert_eq!(stripe.requests().len(), 1, "a refusal is not retried");
    // Nothing in the state dir either: no ledger was opened, no file written.
    let state: Vec<_> = std::fs::read_dir(home.path().join("state"))
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(state.is_empty(), "{state:?}");
    assert_eq!(rules(&eb), ["invoice-rule"], "no export rule was made");
    assert!(
        block_on(drained(&sqs, &queue)).is_empty(),
        "nothing was put"
    );

    // A window Stripe no longer has: exit 2 before any call.
    let old = Cmd::new(Some(&moto.endpoint), home.path())
        .env("STRIPE_API_KEY", KEY)
        .run(&[
            "stripe",
            "reconcile",
            "--bus",
            BUS,
            "--since",
            "31d",
            "--stripe-api-base",
            &stripe.base_url,
        ]);
    old.code(2);
    assert!(old.stderr.contains("30 days"), "{}", old.stderr);
    // No key at all: exit 2, naming the variable.
    let none = Cmd::new(Some(&moto.endpoint), home.path())
        .env_remove("STRIPE_API_KEY")
        .run(&[
            "stripe",
            "reconcile",
            "--bus",
            BUS,
            "--since",
            "2h",
            "--stripe-api-base",
            &stripe.base_url,
        ]);
    none.code(2);
    assert!(
        none.stderr.contains("STRIPE_API_KEY is not set"),
        "{}",
        none.stderr
    );
    assert_eq!(stripe.requests().len(), 1);
}

#[test]
fn more_than_a_page_is_listed_and_a_429_waits_as_asked() {
    let moto = Moto::start();
    let home = TempDir::new("stripe-pages");
    let (eb, sqs) = clients_on(&moto.endpoint);
    block_on(seed(&eb, &sqs));
    let stripe = StripeStandIn::start(KEY);
    let start = (Utc::now() - Duration::hours(2)).timestamp();
    stripe.add_events((0..230).map(|i| event(&format!("evt_p{i:04}"), "invoice.paid", start + i)));
    stripe.throttle_next(1, Some("1"));

    let run = reconcile(&moto, &home, &stripe, KEY, &["--output", "json"]);
    run.code(3);
    let r = run.json();
    assert_eq!(r["in_stripe"], 230);
    assert_eq!(r["missing"].as_array().unwrap().len(), 230);
    let calls = stripe.requests();
    // The throttled call, then three pages of 100, 100 and 30.
    assert_eq!(calls.len(), 4, "{calls:#?}");
    assert_eq!(calls[0].value("starting_after"), None);
    assert_eq!(calls[1].value("starting_after"), None);
    assert!(calls[2].value("starting_after").is_some());
    assert!(calls[3].value("starting_after").is_some());
    assert!(calls.iter().all(|c| c.value("limit") == Some("100")));
    assert!(run.stderr.contains("wait_ms=1000"), "{}", run.stderr);
}

#[test]
fn the_shipped_playbook_finds_applies_and_verifies() {
    let moto = Moto::start();
    let home = TempDir::new("stripe-playbook");
    let (eb, sqs) = clients_on(&moto.endpoint);
    let queue = block_on(seed(&eb, &sqs));
    let hour_ago = (Utc::now() - Duration::hours(1)).timestamp();
    let stripe_side = [
        event("evt_pa", "invoice.paid", hour_ago),
        event("evt_pb", "invoice.paid", hour_ago + 60),
        event("evt_pc", "customer.created", hour_ago + 120),
    ];
    let stripe = StripeStandIn::start(KEY);
    stripe.add_events(stripe_side.clone());
    block_on(webhook_put(&eb, &stripe_side[..1]));
    assert_eq!(block_on(drained(&sqs, &queue)).len(), 1);

    let base = format!("stripe_api_base={}", stripe.base_url);
    let bus = format!("bus={BUS}");
    let args = [
        "playbook",
        "run",
        "stripe-webhook-outage",
        "--set",
        &bus,
        "--set",
        "since=3h",
        "--set",
        "until=now",
        "--set",
        &base,
        "--set",
        "settle=1s",
        "--yes",
        "--output",
        "json",
    ];
    let cmd = || Cmd::new(Some(&moto.endpoint), home.path()).env("STRIPE_API_KEY", KEY);
    let run = cmd().run(&args);
    run.code(0);
    let rec = run.json();
    let steps = rec["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 4, "{rec:#}");
    assert_eq!(steps[0]["outputs"]["missing"], 2, "{rec:#}");
    assert_eq!(steps[2]["outputs"]["reemitted"], 2, "{rec:#}");
    assert_eq!(steps[2]["outputs"]["still_missing"], 0, "{rec:#}");
    assert_eq!(steps[3]["outputs"]["missing"], 0, "{rec:#}");
    let got = block_on(drained(&sqs, &queue));
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(got[0]["detail"]["id"], "evt_pb");

    // Run again: nothing is missing, nothing is sent.
    let again = cmd().run(&args);
    again.code(0);
    let rec = again.json();
    assert_eq!(rec["steps"][0]["outputs"]["missing"], 0, "{rec:#}");
    assert_eq!(rec["steps"][2]["outputs"]["reemitted"], 0, "{rec:#}");
    assert!(block_on(drained(&sqs, &queue)).is_empty());
    assert_eq!(rules(&eb), ["invoice-rule"]);
}
