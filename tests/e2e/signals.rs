//! Issue 19, items 3 and 4 on moto: SIGTERM (how systemd, ECS and Kubernetes stop a
//! process) stops a drain, a replay watch and a playbook run as Ctrl-C does, with exit 143;
//! a rerun that finds a queue empty while a killed run's messages are in flight says so and
//! exits 3; and messages a slow drain holds stay invisible to a second drain with another
//! ledger.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::drain::{CAPTURE_BUS, bodies, capture, seed, stripe_body};
use crate::ledger::key_counts;
use crate::support::{Sandbox, TempDir, block_on, finish, signal};

const SUB_DLQ: &str = "ai-nexus-dev-stripe-update-subscription-dlq";

/// Each of the `n` keys arrived at the capture queue exactly once.
#[track_caller]
fn assert_each_key_arrived_once(sb: &Sandbox, url: &str, n: usize) {
    let counts = key_counts(sb, url);
    assert_eq!(counts.len(), n, "every key arrived");
    let twice: Vec<_> = counts.iter().filter(|(_, c)| **c > 1).collect();
    assert!(twice.is_empty(), "keys put more than once: {twice:?}");
}

/// (visible, in flight) on a queue.
fn visibility(sb: &Sandbox, url: &str) -> (u64, u64) {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let (_, sqs) = sb.clients();
    block_on(async {
        let a = sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(A::ApproximateNumberOfMessages)
            .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .unwrap();
        let attrs = a.attributes().unwrap();
        let n = |k: &A| attrs.get(k).map(|v| v.parse().unwrap()).unwrap_or(0);
        (
            n(&A::ApproximateNumberOfMessages),
            n(&A::ApproximateNumberOfMessagesNotVisible),
        )
    })
}

/// `drain` of the subscription DLQ to the capture bus, with `extra` flags.
pub(crate) fn drain_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "drain",
        "--queue",
        SUB_DLQ,
        "--to-bus",
        CAPTURE_BUS,
        "--yes",
        "--output",
        "json",
        "--receive-wait",
        "1s",
    ];
    a.extend_from_slice(extra);
    a
}

#[test]
fn sigterm_mid_drain_under_rate_releases_the_rest_and_a_rerun_puts_each_key_once() {
    let sb = Sandbox::new(0, 0);
    let cap = capture(&sb);
    let n = 200;
    let dlq = seed(&sb, SUB_DLQ, &(0..n).map(stripe_body).collect::<Vec<_>>());

    let child = sb
        .cmd()
        .start(&drain_args(&["--rate", "20", "--concurrency", "4"]));
    std::thread::sleep(Duration::from_secs(3));
    signal(&child, "TERM");
    let run = finish(child);
    run.code(143);
    let doc = run.json();
    assert_eq!(doc["signal"], "SIGTERM");
    assert_eq!(doc["interrupted"], true);
    assert_eq!(doc["stopped_because"], "interrupted by SIGTERM");
    let first = doc["counts"]["reemitted"].as_u64().unwrap();
    assert!(first > 0 && first < n as u64, "{}", doc["counts"]);
    assert_eq!(doc["counts"]["deleted"], first, "what was put is deleted");
    assert_eq!(doc["counts"]["failed"], 0);
    // Nothing is left claimed: the claims of batches not put were given back.
    let stats = sb
        .run(&["ledger", "stats", "--output", "json"])
        .code(0)
        .json();
    assert_eq!(stats["in_progress"], 0, "{stats}");
    assert_eq!(stats["done"], first);
    // And nothing is left invisible: a rerun can start at once.
    assert_eq!(visibility(&sb, &dlq), (n as u64 - first, 0));

    let rerun = sb.run(&drain_args(&[])).code(0).json();
    assert_eq!(rerun["counts"]["reemitted"], n as u64 - first);
    assert_each_key_arrived_once(&sb, &cap.queue_url, n);

    // The human summary says what stopped the run.
    seed(
        &sb,
        SUB_DLQ,
        &(n..n + 40).map(stripe_body).collect::<Vec<_>>(),
    );
    let child = sb.cmd().start(&[
        "drain",
        "--queue",
        SUB_DLQ,
        "--to-bus",
        CAPTURE_BUS,
        "--yes",
        "--rate",
        "10",
        "--concurrency",
        "1",
    ]);
    std::thread::sleep(Duration::from_secs(2));
    signal(&child, "TERM");
    let human = finish(child);
    human.code(143);
    assert!(
        human.stdout.contains("stopped: interrupted by SIGTERM"),
        "{}",
        human.stdout
    );
    assert!(human.stdout.contains("re-emitted"), "{}", human.stdout);
}

#[test]
fn a_rerun_that_finds_the_queue_empty_while_a_killed_runs_messages_are_in_flight_exits_3() {
    let sb = Sandbox::new(0, 0);
    let cap = capture(&sb);
    let n = 60;
    let dlq = seed(&sb, SUB_DLQ, &(0..n).map(stripe_body).collect::<Vec<_>>());
    let mut child = sb.cmd().spawn(&drain_args(&[
        "--rate",
        "10",
        "--concurrency",
        "1",
        "--visibility-timeout",
        "300s",
    ]));
    let started = Instant::now();
    while bodies(&sb, &cap.queue_url).len() < 10 {
        assert!(started.elapsed() < Duration::from_secs(60), "no progress");
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap(); // SIGKILL: its messages stay in flight for 300 s
    child.wait().unwrap();
    let (_, held) = visibility(&sb, &dlq);
    assert!(held > 0, "the killed run held messages");

    // The rerun drains what is visible, then finds the queue empty: not "done", exit 3.
    let run = sb.run(&drain_args(&[]));
    run.code(3);
    let doc = run.json();
    assert_eq!(doc["counts"]["in_flight"], held, "{}", doc["counts"]);
    let why = doc["stopped_because"].as_str().unwrap();
    assert!(
        why.contains(&format!(
            "{SUB_DLQ} is empty but {held} message(s) are still in flight"
        )),
        "{why}"
    );
    assert!(
        why.contains("come back after their visibility timeout"),
        "{why}"
    );
    let human = sb.run(&[
        "drain",
        "--queue",
        SUB_DLQ,
        "--to-bus",
        CAPTURE_BUS,
        "--yes",
    ]);
    human.code(3);
    assert!(human.stdout.contains("in flight"), "{}", human.stdout);
    assert!(human.stdout.contains("still in flight"), "{}", human.stdout);
}

#[test]
fn a_slow_drain_keeps_what_it_holds_from_a_second_drain_with_another_ledger() {
    // Item 4: at 0.5 events/s a batch of 10 waits 20 s for its turn, twice the 10 s
    // visibility timeout. A second drain with its own ledger looks at 12 s and 16 s: it
    // must find nothing the first one holds, so every key arrives once.
    let sb = Sandbox::new(0, 0);
    let cap = capture(&sb);
    let n = 20;
    seed(&sb, SUB_DLQ, &(0..n).map(stripe_body).collect::<Vec<_>>());
    let slow = sb.cmd().start(&drain_args(&[
        "--rate",
        "0.5",
        "--concurrency",
        "1",
        "--visibility-timeout",
        "10s",
    ]));
    let other_ledger = TempDir::new("other-ledger");
    let ledger = format!(
        "sqlite:{}",
        other_ledger.path().join("ledger.sqlite3").display()
    );
    let started = Instant::now();
    let mut others = Vec::new();
    for at in [12, 16] {
        let at = Duration::from_secs(at);
        std::thread::sleep(at.saturating_sub(started.elapsed()));
        let r = sb.run(&drain_args(&["--ledger", &ledger]));
        // Exit 3 when it sees the first drain's messages in flight.
        assert!(r.code == 0 || r.code == 3, "{}\n{}", r.stdout, r.stderr);
        others.push(r.json()["counts"]["reemitted"].as_u64().unwrap());
    }
    let slow = finish(slow);
    slow.code(0);
    assert_eq!(others, [0, 0], "the second drain found held messages");
    assert_eq!(slow.json()["counts"]["reemitted"], n as u64);
    assert_each_key_arrived_once(&sb, &cap.queue_url, n);
}

pub(crate) const SLOW_PLAYBOOK: &str = r#"name = "slow-drain"
description = "a rate-limited drain of the subscription DLQ, then a check"
when = "tests"

[[steps]]
id = "drain"
kind = "drain"
queues = ["ai-nexus-dev-stripe-update-subscription-dlq"]
to_bus = "capture-bus"
receive_wait = "1s"
concurrency = 1
rate = 5

[[steps]]
kind = "verify"
queues_empty = ["ai-nexus-dev-stripe-update-subscription-dlq"]
"#;

#[test]
fn sigterm_stops_a_playbook_drain_step_and_the_run_record_says_so() {
    let sb = Sandbox::new(0, 0);
    let cap = capture(&sb);
    let n = 60;
    seed(&sb, SUB_DLQ, &(0..n).map(stripe_body).collect::<Vec<_>>());
    let file = sb.home.path().join("slow.toml");
    std::fs::write(&file, SLOW_PLAYBOOK).unwrap();
    let file = file.to_str().unwrap().to_string();
    let child = sb
        .cmd()
        .start(&["playbook", "run", &file, "--yes", "--output", "json"]);
    let started = Instant::now();
    while bodies(&sb, &cap.queue_url).len() < 10 {
        assert!(started.elapsed() < Duration::from_secs(60), "no progress");
        std::thread::sleep(Duration::from_millis(200));
    }
    signal(&child, "TERM");
    let run = finish(child);
    run.code(143);
    let rec: Value = run.json();
    assert_eq!(rec["status"], "interrupted", "{rec}");
    assert_eq!(rec["exit_code"], 143);
    assert_eq!(rec["failed_step"], 1);
    assert_eq!(rec["steps"][0]["status"], "interrupted");
    assert_eq!(rec["steps"][0]["exit_code"], 143);
    assert!(
        rec["steps"][0]["error"]
            .as_str()
            .unwrap()
            .contains("interrupted by SIGTERM"),
        "{rec}"
    );
    assert_eq!(rec["steps"][1]["status"], "not_run");
    let message = rec["message"].as_str().unwrap();
    assert!(
        message.contains("interrupted by SIGTERM during step 1"),
        "{message}"
    );
    let resume = rec["resume"].as_str().unwrap();
    assert!(resume.contains("--from-step 1 --resume nexus-"), "{resume}");
    let disk: Value = serde_json::from_str(
        &std::fs::read_to_string(sb.home.path().join(format!(
            "state/playbook-runs/{}.json",
            rec["run_id"].as_str().unwrap()
        )))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(disk["status"], "interrupted");

    // Resumed, the step finishes the job; no key arrives twice.
    let run_id = rec["run_id"].as_str().unwrap();
    let resumed = sb.run(&[
        "playbook",
        "run",
        &file,
        "--from-step",
        "1",
        "--resume",
        run_id,
        "--yes",
        "--output",
        "json",
    ]);
    resumed.code(0);
    assert_each_key_arrived_once(&sb, &cap.queue_url, n);
}
