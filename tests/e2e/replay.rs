//! Issue 3: archive replays on moto. moto completes replays at once and ignores the window
//! and FilterArns, so these tests check what was *sent* (via DescribeReplay) and the exit
//! codes; the tracking state machine is covered with aws-smithy-mocks in the library.

use crate::support::{ARCHIVE, BUS, Sandbox, block_on};

const SUB_RULE: &str = "ai-nexus-dev-stripe-subscription_events-rule";

fn replay_names(sb: &Sandbox) -> Vec<String> {
    let (eb, _) = sb.clients();
    block_on(async {
        eb.list_replays()
            .send()
            .await
            .unwrap()
            .replays()
            .iter()
            .map(|r| r.replay_name().unwrap_or_default().to_string())
            .collect()
    })
}

#[test]
fn start_selects_the_subscription_rule_completes_and_exits_0() {
    let sb = Sandbox::new(20, 0);
    // The sandbox archive was created seconds ago, so the window must run to now (the
    // default end, now - 10 min, would precede the archive).
    let run = sb.run(&[
        "start",
        "--since",
        "2h",
        "--until",
        "now",
        "--event-type",
        "customer.subscription.updated",
        "--yes",
        "--output",
        "json",
    ]);
    run.code(0);
    let doc = run.json();
    assert_eq!(doc["outcome"], "completed");
    assert_eq!(doc["final_state"], "COMPLETED");
    assert_eq!(doc["archive"], ARCHIVE);
    let rule_arn = format!("arn:aws:events:us-east-2:123456789012:rule/{BUS}/{SUB_RULE}");
    assert_eq!(doc["filter_arns"], serde_json::json!([rule_arn]));
    assert!(
        run.stderr.contains("archives lag ingestion"),
        "{}",
        run.stderr
    );

    // What reached EventBridge, read back independently.
    let name = doc["name"].as_str().unwrap().to_string();
    assert!(
        name.starts_with("nexus-") && name.contains("-subscr-"),
        "{name}"
    );
    let (eb, _) = sb.clients();
    let sent = block_on(async {
        eb.describe_replay()
            .replay_name(&name)
            .send()
            .await
            .unwrap()
    });
    let dest = sent.destination().unwrap();
    assert_eq!(dest.filter_arns(), [rule_arn.as_str()]);
    assert!(dest.arn().ends_with(&format!("event-bus/{BUS}")));
    assert!(
        sent.description()
            .unwrap()
            .contains("customer.subscription.updated")
    );

    // The journal: status without a name shows it, list --mine lists it.
    let status = sb.run(&["status", "--output", "json"]).code(0).json();
    assert_eq!(status["replay"]["name"], name.as_str());
    assert_eq!(status["replay"]["state"], "COMPLETED");
    let mine = sb
        .run(&["list", "--mine", "--output", "json"])
        .code(0)
        .json();
    assert_eq!(mine["replays"].as_array().unwrap().len(), 1);
    let human = sb.run(&["list"]).code(0).stdout.clone();
    assert!(human.contains(&name), "{human}");

    // Only STARTING or RUNNING replays can be cancelled.
    let cancel = sb.run(&["cancel", &name]);
    cancel.code(2);
    assert!(
        cancel.stderr.contains("only STARTING or RUNNING"),
        "{}",
        cancel.stderr
    );
}

#[test]
fn dry_run_prints_the_plan_and_starts_nothing() {
    let sb = Sandbox::new(0, 0);
    let run = sb.run(&[
        "start",
        "--since",
        "1h",
        "--until",
        "now",
        "--event-type",
        "invoice.payment_failed",
        "--dry-run",
    ]);
    run.code(0);
    assert!(
        run.stdout
            .contains("+ ai-nexus-dev-stripe-payment_events-rule"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("catch-all"), "{}", run.stdout);
    assert!(
        run.stdout.contains("re-delivers EVERY archived event"),
        "{}",
        run.stdout
    );
    assert!(replay_names(&sb).is_empty());
}

#[test]
fn every_validation_error_exits_2_and_starts_nothing() {
    let sb = Sandbox::new(0, 0);
    let (eb, _) = sb.clients();
    block_on(async {
        eb.create_event_bus()
            .name("other-bus")
            .send()
            .await
            .unwrap()
    });
    let t = "customer.subscription.updated";
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--since", "5m", "--event-type", t], "window is empty"),
        (
            vec!["--since", "2h", "--until", "2h 30m", "--event-type", t],
            "not before",
        ),
        (
            vec![
                "--since",
                "1h",
                "--until",
                "2099-01-01 00:00",
                "--event-type",
                t,
            ],
            "in the future",
        ),
        (
            vec!["--since", "yesterday", "--event-type", t],
            "cannot read --since",
        ),
        (
            vec!["--since", "31d", "--until", "now", "--event-type", t],
            "retention horizon",
        ),
        (
            vec![
                "--since",
                "1h",
                "--until",
                "now",
                "--archive",
                "nope",
                "--event-type",
                t,
            ],
            "does not exist",
        ),
        (
            vec![
                "--since",
                "1h",
                "--until",
                "now",
                "--archive",
                ARCHIVE,
                "--bus",
                "other-bus",
                "--event-type",
                t,
            ],
            "archive's own bus",
        ),
        (
            vec![
                "--since",
                "1h",
                "--until",
                "now",
                "--name",
                "bad name",
                "--event-type",
                t,
            ],
            "not a valid replay name",
        ),
        (
            vec![
                "--since",
                "1h",
                "--until",
                "now",
                "--event-type",
                "charge.refunded",
            ],
            "no rule on the bus can match",
        ),
        (
            vec!["--since", "1h", "--until", "now"],
            "say what to replay",
        ),
        (
            vec!["--since", "1h", "--until", "now", "--rule", "nope"],
            "no such rule",
        ),
    ];
    for (args, want) in cases {
        let mut full = vec!["start", "--yes"];
        full.extend(&args);
        let run = sb.run(&full);
        assert_eq!(run.code, 2, "{args:?}\nstderr: {}", run.stderr);
        assert!(
            run.stderr.contains(want),
            "{args:?}: want {want:?}\nstderr: {}",
            run.stderr
        );
        assert!(run.stdout.is_empty(), "{args:?}");
    }
    // Without --yes and without a terminal, nothing starts either.
    let run = sb.run(&[
        "start",
        "--since",
        "1h",
        "--until",
        "now",
        "--event-type",
        t,
    ]);
    run.code(2);
    assert!(run.stderr.contains("pass --yes"), "{}", run.stderr);
    assert!(
        replay_names(&sb).is_empty(),
        "ListReplays must be unchanged"
    );
}

#[test]
fn status_of_an_unknown_replay_is_a_usage_error() {
    let sb = Sandbox::new(0, 0);
    let run = sb.run(&["status", "no-such-replay"]);
    run.code(2);
    assert!(run.stderr.contains("does not exist"), "{}", run.stderr);
    let run = sb.run(&["status"]);
    run.code(2);
    assert!(run.stderr.contains("has started none"), "{}", run.stderr);
    let run = sb.run(&["list", "--state", "BOGUS"]);
    run.code(2);
}
