//! Issue 19, guards that could be bypassed and output that was not true: the park-queue
//! self-loop under another spelling of the queue, RULE_ARNs that do not parse or name another
//! account or Region, out-of-range option values, and the words of a run's summary.

use aws_sdk_sqs::types::MessageSystemAttributeName;
use serde_json::Value;

use crate::drain::{
    CAPTURE_BUS, attr, bodies, capture, depth, queue_url, rule_to_queue, seed, stripe_body,
};
use crate::support::{BUS, Cmd, Sandbox, TempDir, block_on};

const DLQ: &str = "ai-nexus-dev-stripe-update-subscription-dlq";

/// Sends one DLQ message per RULE_ARN.
fn seed_with_rule_arns(sb: &Sandbox, url: &str, arns: &[&str]) {
    let (_, sqs) = sb.clients();
    block_on(async {
        for (i, arn) in arns.iter().enumerate() {
            sqs.send_message()
                .queue_url(url)
                .message_body(stripe_body(900 + i))
                .message_attributes("RULE_ARN", attr(arn))
                .message_attributes("ERROR_CODE", attr("ERROR_FROM_TARGET"))
                .send()
                .await
                .unwrap();
        }
    });
}

/// How often each message of the queue was received so far (receiving it once more).
fn receive_counts(sb: &Sandbox, url: &str) -> Vec<u32> {
    let (_, sqs) = sb.clients();
    block_on(async {
        let r = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .unwrap();
        r.messages()
            .iter()
            .map(|m| {
                m.attributes()
                    .and_then(|a| a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0)
            })
            .collect()
    })
}

/// A catch-all rule on `bus` forwarding to a new queue; answers the queue's URL.
fn catch_all(sb: &Sandbox, bus: &str, queue: &str) -> String {
    let rule = format!("{queue}-all");
    rule_to_queue(sb, bus, &rule, r#"{"source": [{"prefix": ""}]}"#, queue)
}

#[test]
fn a_park_queue_that_is_the_drained_queue_under_another_spelling_is_refused() {
    let sb = Sandbox::new(0, 0);
    let url = seed(&sb, DLQ, &["not json, so poison".to_string()]);
    assert!(url.contains("127.0.0.1"), "{url}");
    let localhost = url.replace("127.0.0.1", "localhost");
    let arn = format!("arn:aws:sqs:us-east-2:123456789012:{DLQ}");
    for (queue, park) in [
        (url.as_str(), localhost.as_str()),
        (DLQ, arn.as_str()),
        (arn.as_str(), url.as_str()),
        (localhost.as_str(), DLQ),
    ] {
        let run = sb.run(&[
            "drain",
            "--queue",
            queue,
            "--park-queue",
            park,
            // Bounds the old self-loop (it parked the same message hundreds of times).
            "--max-duration",
            "10s",
            "--yes",
        ]);
        assert_eq!(run.code, 2, "{queue} / {park}: {}", run.stderr);
        assert!(
            run.stderr.contains("must not be one of the drained queues"),
            "{queue} / {park}: {}",
            run.stderr
        );
    }
    // Refused before anything was received.
    assert_eq!(receive_counts(&sb, &url), [1]);
    // Two spellings of one queue to drain are one queue.
    let run = sb.run(&[
        "drain",
        "--queue",
        &url,
        "--queue",
        &localhost,
        "--dry-run",
        "--output",
        "json",
    ]);
    run.code(0);
    assert_eq!(run.json()["queues"], serde_json::json!([DLQ]));
}

#[test]
fn rule_arns_that_do_not_parse_or_are_foreign_are_left_in_the_dlq() {
    let sb = Sandbox::new(0, 0);
    let to_default = catch_all(&sb, "default", "default-capture");
    let to_bus = catch_all(&sb, BUS, "bus-capture");
    let url = queue_url(&sb, DLQ);
    seed_with_rule_arns(
        &sb,
        &url,
        &[
            "arn:aws:events:us-east-2:123456789012:rule/",
            "arn:aws:events:us-east-2:123456789012:rule//x",
            &format!("arn:aws:events:us-east-2:999999999999:rule/{BUS}/subscription"),
            &format!("arn:aws:events:eu-west-1:123456789012:rule/{BUS}/subscription"),
        ],
    );
    let run = sb.run(&[
        "drain",
        "--queue",
        DLQ,
        "--yes",
        "--output",
        "json",
        "--concurrency",
        "1",
    ]);
    run.code(3);
    let doc = run.json();
    assert_eq!(doc["counts"]["reemitted"], 0, "{doc}");
    assert_eq!(doc["counts"]["failed"], 4, "{doc}");
    for f in doc["failures"].as_array().unwrap() {
        let why = f["reason"].as_str().unwrap();
        assert!(why.starts_with("no destination: RULE_ARN"), "{why}");
    }
    assert_eq!(
        doc["stopped_because"],
        "only messages that cannot be re-emitted remain (4 poison)"
    );
    assert_eq!(depth(&sb, &url), 4, "left in the DLQ");
    assert!(bodies(&sb, &to_default).is_empty(), "nothing on default");
    assert!(
        bodies(&sb, &to_bus).is_empty(),
        "nothing on the same-named bus"
    );
}

/// `reemit` shares the drain's options (one struct, one check): every value a drain refuses,
/// a reemit refuses too, with exit 2 and the same message, before any file or AWS is read.
#[test]
fn reemit_refuses_every_value_a_drain_refuses() {
    let home = TempDir::new("reemit-ranges");
    for (flag, value, want) in [
        ("--rate", "0", "between 0.01 and 10000"),
        ("--size-limit", "10", "between 1024 and 1048576"),
        ("--concurrency", "0", "between 1 and 256"),
        ("--concurrency", "300", "between 1 and 256"),
        ("--max-redrives", "0", "between 1 and 100"),
    ] {
        let drain = Cmd::new(None, home.path()).run(&["drain", "--queue", "q", flag, value]);
        // No such file: only the option check can answer before the file is read.
        let reemit =
            Cmd::new(None, home.path()).run(&["reemit", "--from", "missing.jsonl", flag, value]);
        for (what, run) in [("drain", &drain), ("reemit", &reemit)] {
            assert_eq!(run.code, 2, "{what} {flag} {value}: {}", run.stderr);
            assert!(
                run.stderr.contains(want),
                "{what} {flag} {value}: {}",
                run.stderr
            );
            assert!(!run.stderr.contains("missing.jsonl"), "{}", run.stderr);
        }
    }
}

/// Where a drain sends each message: the combinations that cannot be meant are refused by
/// drain, reemit and a playbook step alike (exit 2), before any file or AWS is read.
#[test]
fn redrive_combinations_that_cannot_be_meant_are_refused_everywhere() {
    let home = TempDir::new("redrive-guards");
    for (args, want) in [
        (
            vec!["--invoke", "async"],
            "--invoke async applies to --to target only",
        ),
        (vec!["--to", "queue"], "[possible values: bus, target]"),
    ] {
        let mut drain = vec!["drain", "--queue", "q"];
        drain.extend(&args);
        let mut reemit = vec!["reemit", "--from", "missing.jsonl"];
        reemit.extend(&args);
        for run in [
            Cmd::new(None, home.path()).run(&drain),
            Cmd::new(None, home.path()).run(&reemit),
        ] {
            assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
            assert!(run.stderr.contains(want), "{args:?}: {}", run.stderr);
            assert!(!run.stderr.contains("missing.jsonl"), "{}", run.stderr);
        }
    }
    let drain = Cmd::new(None, home.path()).run(&[
        "drain", "--queue", "q", "--to", "target", "--to-bus", "capture",
    ]);
    let reemit = Cmd::new(None, home.path()).run(&[
        "reemit",
        "--from",
        "missing.jsonl",
        "--to",
        "target",
        "--bus",
        "capture",
    ]);
    for (flag, run) in [("--to-bus", drain), ("--bus", reemit)] {
        assert_eq!(run.code, 2, "{flag}: {}", run.stderr);
        assert!(
            run.stderr.contains(&format!(
                "{flag} capture names a bus to re-emit to, but --to target"
            )),
            "{}",
            run.stderr
        );
    }
    let file = home.path().join("to-queue.toml");
    std::fs::write(
        &file,
        "name = \"t\"\ndescription = \"d\"\nwhen = \"w\"\n[[steps]]\nkind = \"drain\"\nqueues = [\"q\"]\nto = \"queue\"\n",
    )
    .unwrap();
    let run =
        Cmd::new(None, home.path()).run(&["playbook", "run", file.to_str().unwrap(), "--yes"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("`to` must be one of \"bus\" or \"target\", not \"queue\"")
            || run
                .stderr
                .contains("`to` must be one of \"bus\" or \"target\", not \"queue\""),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
}

#[test]
fn out_of_range_values_are_refused_before_anything_runs() {
    let home = TempDir::new("ranges");
    let file = home.path().join("export.jsonl");
    std::fs::write(&file, "").unwrap();
    let f = file.to_str().unwrap();
    // No endpoint: an answer would need AWS, so exit 2 shows nothing was called.
    for (args, want) in [
        (
            vec!["drain", "--queue", "q", "--concurrency", "30000"],
            "between 1 and 256",
        ),
        (
            vec!["drain", "--queue", "q", "--concurrency", "0"],
            "between 1 and 256",
        ),
        (
            vec!["drain", "--queue", "q", "--claim-timeout", "300000years"],
            "between 10s and 7days",
        ),
        (
            vec!["drain", "--queue", "q", "--visibility-timeout", "1s"],
            "between 10s and 12h",
        ),
        (
            vec!["drain", "--queue", "q", "--receive-wait", "30s"],
            "between 0s and 20s",
        ),
        (
            vec!["drain", "--queue", "q", "--max-messages", "0"],
            "at least 1",
        ),
        (
            vec!["drain", "--queue", "q", "--max-duration", "0s"],
            "between 1s and 30days",
        ),
        (
            vec!["drain", "--queue", "q", "--max-redrives", "0"],
            "between 1 and 100",
        ),
        (
            vec!["drain", "--queue", "q", "--rate=-3"],
            "between 0.01 and 10000",
        ),
        (
            vec!["reemit", "--from", f, "--rate", "0"],
            "between 0.01 and 10000",
        ),
        (
            vec!["reemit", "--from", f, "--size-limit", "10"],
            "between 1024 and 1048576",
        ),
        (
            vec!["start", "--since", "2h", "--rule", "r", "--poll", "0s"],
            "between 1s and 5m",
        ),
        (
            vec!["status", "x", "--watch", "--timeout", "0s"],
            "between 1s and 30days",
        ),
        (vec!["list", "--limit", "0"], "between 1 and 10000"),
        (
            vec!["dlq", "peek", "--queue", "q", "--max", "0"],
            "between 1 and 120000",
        ),
        (
            vec![
                "dlq", "export", "--queue", "q", "--out", "x", "--max", "200000",
            ],
            "between 1 and 120000",
        ),
    ] {
        let run = Cmd::new(None, home.path()).run(&args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(want), "{args:?}: {}", run.stderr);
    }
}

#[test]
fn summaries_say_what_happened() {
    let sb = Sandbox::new(0, 0);
    let cap = capture(&sb);
    let url = seed(&sb, DLQ, &(0..20).map(stripe_body).collect::<Vec<_>>());

    // A dry run counts what it would do, not what it did.
    let dry = sb
        .run(&[
            "drain",
            "--queue",
            DLQ,
            "--to-bus",
            CAPTURE_BUS,
            "--dry-run",
            "--output",
            "json",
        ])
        .code(0)
        .json();
    assert_eq!(dry["counts"]["reemitted"], 0);
    assert_eq!(dry["counts"]["would_reemit"], 20);

    // --max-messages: the limit and what it left, not "is empty".
    let run = sb
        .run(&[
            "drain",
            "--queue",
            DLQ,
            "--to-bus",
            CAPTURE_BUS,
            "--max-messages",
            "5",
            "--concurrency",
            "1",
            "--yes",
            "--output",
            "json",
        ])
        .code(0)
        .json();
    assert_eq!(run["counts"]["reemitted"], 5);
    assert_eq!(
        run["stopped_because"],
        "--max-messages 5 reached (~15 left in the queue)"
    );
    assert_eq!(depth(&sb, &url), 15);

    // reemit from a file speaks of its lines and deletes nothing.
    let dir = TempDir::new("reemit");
    let file = dir.path().join("dlq.jsonl");
    let f = file.to_str().unwrap();
    sb.run(&["dlq", "export", "--queue", DLQ, "--out", f, "--max", "3"])
        .code(0);
    let human = sb
        .run(&["reemit", "--from", f, "--bus", CAPTURE_BUS, "--yes"])
        .code(0)
        .stdout
        .clone();
    assert!(human.contains("re-emitted 3 of 3 lines"), "{human}");
    assert!(
        !human.contains("deleted") && !human.contains("empty"),
        "{human}"
    );
    assert_eq!(depth(&sb, &url), 15, "the DLQ is untouched");
    let null = sb
        .run(&[
            "reemit",
            "--from",
            "/dev/null",
            "--bus",
            CAPTURE_BUS,
            "--yes",
        ])
        .code(0)
        .stdout
        .clone();
    assert_eq!(
        null.trim_end().rsplit(": ").next(),
        Some("/dev/null has no messages"),
        "{null}"
    );
    assert!(
        !null.contains("Drain") && !null.contains("of null"),
        "{null}"
    );
    let json: Value = serde_json::from_str(
        &sb.run(&[
            "reemit",
            "--from",
            "/dev/null",
            "--bus",
            CAPTURE_BUS,
            "--yes",
            "--output",
            "json",
        ])
        .code(0)
        .stdout,
    )
    .unwrap();
    assert_eq!(json["stopped_because"], "/dev/null has no messages");
    assert_eq!(json["counts"]["deleted"], 0);
    assert_eq!(bodies(&sb, &cap.queue_url).len(), 8);
}
