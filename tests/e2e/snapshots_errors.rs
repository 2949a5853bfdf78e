//! Issue 13: the error text (stderr) and the JSON error document (stdout with `--output
//! json`) of the common bad inputs, under insta snapshots. Every one exits 2 and changes
//! nothing: the endpoint is a closed loopback port (a call would fail with exit 1), and the
//! scratch home is compared before and after each run.

use std::path::Path;

use crate::support::{Cmd, Run, TempDir, snapshot_settings};

/// A closed port: any AWS call fails (exit 1), so exit 2 shows nothing was called.
const NOWHERE: &str = "http://127.0.0.1:9";

/// A playbook with one drain step; `step` replaces its body, `top` is put before it.
fn playbook(top: &str, step: &str) -> String {
    format!(
        "name = \"broken\"\ndescription = \"A broken playbook\"\nwhen = \"never\"\n{top}\n\
         [[steps]]\nid = \"drain\"\nkind = \"drain\"\ntitle = \"Drain\"\n{step}\n"
    )
}

/// The fixture files, relative to the scratch home.
fn fixtures() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("empty.jsonl", Vec::new()),
        ("exists.jsonl", Vec::new()),
        ("not-json.jsonl", b"this is not json\n".to_vec()),
        ("no-queue.jsonl", b"{\"body\": \"x\"}\n".to_vec()),
        ("syntax.toml", b"bus = \"b\nregion = 3\n".to_vec()),
        ("unknown-key.toml", b"buss = \"b\"\n".to_vec()),
        ("not-utf8.toml", b"bus = \"b\"\nregion = \"\xff\"\n".to_vec()),
        (
            "pb-syntax.toml",
            b"name = \"broken\"\n[[steps]\nkind = \"drain\"\n".to_vec(),
        ),
        (
            "pb-unknown-kind.toml",
            playbook("", "queues = [\"q\"]")
                .replace("kind = \"drain\"", "kind = \"drian\"")
                .into_bytes(),
        ),
        (
            "pb-unknown-field.toml",
            playbook("", "queues = [\"q\"]\nmax_redrive = 3").into_bytes(),
        ),
        (
            "pb-undefined-param.toml",
            playbook("", "queues = [\"${nope}\"]").into_bytes(),
        ),
        (
            "pb-bad-value.toml",
            playbook("", "queues = [\"q\"]\nmin_age = \"soon\"\nrate = 0").into_bytes(),
        ),
        (
            "pb-bad-to.toml",
            playbook("", "queues = [\"q\"]\nto = \"queue\"").into_bytes(),
        ),
        (
            "no-target.jsonl",
            b"{\"queue\": \"q\", \"message_id\": \"m-1\", \"body\": \"{}\", \"attributes\": {\"RULE_ARN\": \"arn:aws:events:us-east-2:123456789012:rule/b/r\"}, \"sent_at\": null, \"receive_count\": 1}\n".to_vec(),
        ),
        (
            "pb-bad-param.toml",
            playbook(
                "[[params]]\nname = \"age\"\ntype = \"duration\"\ndefault = \"later\"\nhelp = \"x\"\n",
                "queues = [\"q\"]\nmin_age = \"${age}\"",
            )
            .into_bytes(),
        ),
    ]
}

/// (snapshot name, arguments): each must exit 2.
fn cases() -> Vec<(&'static str, Vec<&'static str>)> {
    let r = "ai-nexus-dev-stripe-subscription_events-rule";
    vec![
        // Usage errors from clap.
        ("unknown_flag", vec!["rules", "--nope"]),
        ("unknown_subcommand", vec!["drian"]),
        ("missing_required", vec!["drain"]),
        (
            "missing_value",
            vec!["start", "--since", "2h", "--event-type"],
        ),
        ("bad_enum_value", vec!["--log-format", "xml", "rules"]),
        // Windows.
        (
            "since_unreadable",
            vec!["start", "--since", "bogus", "--rule", r],
        ),
        (
            "window_end_before_start",
            vec![
                "start",
                "--since",
                "2025-09-08 14:00",
                "--until",
                "2025-09-08 13:00",
                "--rule",
                r,
            ],
        ),
        ("nothing_to_replay", vec!["start", "--since", "2h"]),
        ("no_bus", vec!["rules"]),
        // Filters.
        (
            "bad_pattern",
            vec!["drain", "--queue", "q", "--pattern", "{"],
        ),
        (
            "blank_type_field",
            vec!["drain", "--queue", "q", "--type-field="],
        ),
        (
            "start_blank_type_field",
            vec!["start", "--since", "2h", "--rule", r, "--type-field="],
        ),
        // Where a drain sends each message.
        (
            "drain_invoke_async_without_target",
            vec!["drain", "--queue", "q", "--invoke", "async"],
        ),
        (
            "drain_to_target_and_to_bus",
            vec![
                "drain", "--queue", "q", "--to", "target", "--to-bus", "capture",
            ],
        ),
        (
            "drain_to_unknown",
            vec!["drain", "--queue", "q", "--to", "queue"],
        ),
        (
            "reemit_to_target_and_bus",
            vec![
                "reemit",
                "--from",
                "no-target.jsonl",
                "--to",
                "target",
                "--bus",
                "capture",
            ],
        ),
        (
            "reemit_to_target_without_target_arn",
            vec![
                "reemit",
                "--from",
                "no-target.jsonl",
                "--to",
                "target",
                "--yes",
            ],
        ),
        // Out-of-range values (tests/e2e/guards.rs has the list).
        ("drain_rate_0", vec!["drain", "--queue", "q", "--rate", "0"]),
        (
            "drain_rate_negative",
            vec!["drain", "--queue", "q", "--rate=-3"],
        ),
        (
            "drain_concurrency_0",
            vec!["drain", "--queue", "q", "--concurrency", "0"],
        ),
        (
            "drain_claim_timeout",
            vec!["drain", "--queue", "q", "--claim-timeout", "300000years"],
        ),
        (
            "drain_visibility_timeout",
            vec!["drain", "--queue", "q", "--visibility-timeout", "1s"],
        ),
        (
            "drain_receive_wait",
            vec!["drain", "--queue", "q", "--receive-wait", "30s"],
        ),
        (
            "drain_max_messages_0",
            vec!["drain", "--queue", "q", "--max-messages", "0"],
        ),
        (
            "drain_max_duration_0",
            vec!["drain", "--queue", "q", "--max-duration", "0s"],
        ),
        (
            "drain_max_redrives_0",
            vec!["drain", "--queue", "q", "--max-redrives", "0"],
        ),
        (
            "reemit_rate_0",
            vec!["reemit", "--from", "empty.jsonl", "--rate", "0"],
        ),
        (
            "reemit_size_limit",
            vec!["reemit", "--from", "empty.jsonl", "--size-limit", "10"],
        ),
        (
            "start_poll_0",
            vec!["start", "--since", "2h", "--rule", "r", "--poll", "0s"],
        ),
        (
            "start_exact_names_nothing",
            vec!["start", "--since", "2h", "--exact"],
        ),
        (
            "status_timeout_0",
            vec!["status", "x", "--watch", "--timeout", "0s"],
        ),
        ("list_limit_0", vec!["list", "--limit", "0"]),
        (
            "peek_max_0",
            vec!["dlq", "peek", "--queue", "q", "--max", "0"],
        ),
        (
            "export_max",
            vec![
                "dlq", "export", "--queue", "q", "--out", "x", "--max", "200000",
            ],
        ),
        // Files.
        (
            "export_exists",
            vec!["dlq", "export", "--queue", "q", "--out", "exists.jsonl"],
        ),
        (
            "reemit_missing_file",
            vec!["reemit", "--from", "missing.jsonl", "--yes"],
        ),
        (
            "reemit_not_json",
            vec!["reemit", "--from", "not-json.jsonl", "--yes"],
        ),
        (
            "reemit_not_exported",
            vec!["reemit", "--from", "no-queue.jsonl", "--yes"],
        ),
        (
            "ledger_bad_url",
            vec!["ledger", "stats", "--ledger", "bogus://x"],
        ),
        // Config files.
        ("config_missing", vec!["--config", "missing.toml", "rules"]),
        ("config_syntax", vec!["--config", "syntax.toml", "rules"]),
        (
            "config_unknown_key",
            vec!["--config", "unknown-key.toml", "rules"],
        ),
        (
            "config_not_utf8",
            vec!["--config", "not-utf8.toml", "rules"],
        ),
        // Playbooks.
        (
            "playbook_unknown",
            vec!["playbook", "show", "no-such-playbook"],
        ),
        (
            "playbook_syntax",
            vec!["playbook", "validate", "pb-syntax.toml"],
        ),
        (
            "playbook_unknown_kind",
            vec!["playbook", "validate", "pb-unknown-kind.toml"],
        ),
        (
            "playbook_unknown_field",
            vec!["playbook", "validate", "pb-unknown-field.toml"],
        ),
        (
            "playbook_undefined_param",
            vec!["playbook", "validate", "pb-undefined-param.toml"],
        ),
        (
            "playbook_bad_value",
            vec!["playbook", "validate", "pb-bad-value.toml"],
        ),
        (
            "playbook_bad_param",
            vec!["playbook", "validate", "pb-bad-param.toml"],
        ),
        // archive export: refused before any AWS call.
        (
            "archive_export_bad_since",
            vec![
                "archive",
                "export",
                "--archive",
                "a",
                "--since",
                "bogus",
                "--out",
                "x.jsonl",
            ],
        ),
        (
            "archive_export_no_out",
            vec!["archive", "export", "--archive", "a", "--since", "2h"],
        ),
        (
            "archive_export_out_exists",
            vec![
                "archive",
                "export",
                "--archive",
                "a",
                "--since",
                "2h",
                "--out",
                "exists.jsonl",
            ],
        ),
        (
            "archive_export_settle_0",
            vec![
                "archive",
                "export",
                "--archive",
                "a",
                "--since",
                "2h",
                "--out",
                "x.jsonl",
                "--settle",
                "0s",
            ],
        ),
        (
            "playbook_bad_to",
            vec!["playbook", "validate", "pb-bad-to.toml"],
        ),
        (
            "playbook_set_unknown",
            vec!["playbook", "plan", "nightly-dlq-drain", "--set", "nope=1"],
        ),
        (
            "playbook_set_bad_value",
            vec![
                "playbook",
                "plan",
                "nightly-dlq-drain",
                "--set",
                "min_age=soon",
            ],
        ),
    ]
}

/// Every file under `dir` with its size, sorted: what a run could have changed.
fn tree(dir: &Path) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let meta = e.metadata().unwrap();
            if meta.is_dir() {
                todo.push(e.path());
            }
            out.push((e.path().display().to_string(), meta.len()));
        }
    }
    out.sort();
    out
}

fn shown(args: &[&str], run: &Run) -> String {
    format!("$ nexus-replay {}\n{}", args.join(" "), run.transcript())
}

#[test]
fn bad_inputs_exit_2_with_their_text_and_json_document() {
    let home = TempDir::new("errors");
    for (name, bytes) in fixtures() {
        std::fs::write(home.path().join(name), bytes).unwrap();
    }
    let settings = snapshot_settings();
    for (name, args) in cases() {
        let before = tree(home.path());
        let human = Cmd::new(Some(NOWHERE), home.path()).run(&args);
        let mut json_args = args.clone();
        json_args.extend(["--output", "json"]);
        let json = Cmd::new(Some(NOWHERE), home.path()).run(&json_args);
        for (a, run) in [(&args, &human), (&json_args, &json)] {
            assert_eq!(run.code, 2, "{a:?}\n{}", run.transcript());
        }
        // One JSON document: an error document, or the report of `playbook validate`.
        let doc = json.json();
        if !doc["error"].is_null() {
            assert_eq!(doc["exit_code"], 2, "{name}: {doc}");
        }
        assert_eq!(tree(home.path()), before, "{name} changed the home");
        let text = format!("{}\n{}", shown(&args, &human), shown(&json_args, &json));
        settings.bind(|| insta::assert_snapshot!(format!("error_{name}"), text));
    }
}
