//! Issue 13: the human reports (the default text output) and the JSON outputs of the main
//! commands, from the built binary against one seeded moto sandbox, under insta snapshots.
//! What varies between runs (times, durations, run ids, replay names, message ids, the
//! seeded events' random ids, the endpoint, scratch paths) is redacted by
//! `support::report_settings`. Progress lines are off (`--no-progress`): they are timed.
//! The steps run in order, each on the state the previous ones left.

use crate::drain::seed;
use crate::support::{Moto, Run, Sandbox, TempDir, report_settings};

const SUB_DLQ: &str = "ai-nexus-dev-stripe-update-subscription-dlq";
const STATUS_DLQ: &str = "ai-nexus-dev-stripe-get-status-dlq";
const INVOICES_DLQ: &str = "ai-nexus-dev-stripe-list-invoices-dlq";
const SUB_TYPE: &str = "customer.subscription.updated";

/// Runs the binary on the sandbox (bus from the environment, no progress lines), checks the
/// exit code and snapshots the transcript.
fn snap(sb: &Sandbox, name: &str, args: &[&str], code: i32) -> Run {
    let mut all = vec!["--no-progress"];
    all.extend_from_slice(args);
    let run = sb.run(&all);
    assert_eq!(run.code, code, "{name}: {args:?}\n{}", run.transcript());
    let text = format!("$ nexus-replay {}\n{}", args.join(" "), run.transcript());
    report_settings().bind(|| insta::assert_snapshot!(name, text));
    run
}

/// [`snap`] with the epoch seconds of the seeded Stripe objects (`created`, …) redacted too:
/// a target's input preview shows the event's own fields.
fn snap_input(sb: &Sandbox, name: &str, args: &[&str], code: i32) -> Run {
    let mut all = vec!["--no-progress"];
    all.extend_from_slice(args);
    let run = sb.run(&all);
    assert_eq!(run.code, code, "{name}: {args:?}\n{}", run.transcript());
    let text = format!("$ nexus-replay {}\n{}", args.join(" "), run.transcript());
    let mut settings = report_settings();
    settings.add_filter(r"\b1\d{9}\b", "[EPOCH]");
    settings.bind(|| insta::assert_snapshot!(name, text));
    run
}

/// [`snap`] of the human report, then of `--output json`.
fn snap_both(sb: &Sandbox, name: &str, args: &[&str], code: i32) -> Run {
    snap(sb, name, args, code);
    let mut json = args.to_vec();
    json.extend(["--output", "json"]);
    let run = snap(sb, &format!("{name}_json"), &json, code);
    run.json();
    run
}

#[test]
fn reports_of_the_main_commands() {
    // The sandbox seeded here, so that its human report is snapshotted too.
    let moto = Moto::start();
    let home = TempDir::new("reports");
    let sb = Sandbox {
        moto,
        home,
        seed: serde_json::Value::Null,
    };
    snap(
        &sb,
        "sandbox_seed",
        &["sandbox", "seed", "--events", "10", "--dlq-messages", "2"],
        0,
    );
    // Its JSON report, on a second Region of the same emulator.
    snap(
        &sb,
        "sandbox_seed_json",
        &[
            "--region",
            "us-west-2",
            "sandbox",
            "seed",
            "--events",
            "1",
            "--dlq-messages",
            "1",
            "--output",
            "json",
        ],
        0,
    );

    // Read-only looks at the bus.
    snap_both(&sb, "doctor", &["doctor"], 0);
    snap_both(&sb, "rules", &["rules"], 0);
    snap_both(&sb, "archives", &["archives"], 0);
    snap_both(&sb, "dlq_list", &["dlq", "list"], 0);
    snap_both(
        &sb,
        "dlq_peek",
        &["dlq", "peek", "--queue", SUB_DLQ, "--samples", "1"],
        0,
    );

    // Replays: the plan, a start that waits for the end, then status, list and cancel.
    let window = ["--since", "2h", "--until", "now", "--event-type", SUB_TYPE];
    let mut dry = vec!["start"];
    dry.extend(window);
    dry.push("--dry-run");
    snap_both(&sb, "start_dry_run", &dry, 0);
    let mut start = vec!["start"];
    start.extend(window);
    // Without --yes and no terminal: the plan, then a refusal.
    snap_both(&sb, "start_needs_yes", &start, 2);
    start.push("--yes");
    snap(&sb, "start", &start, 0);
    snap_both(&sb, "status", &["status"], 0);
    let mut start_json = start.clone();
    start_json.extend(["--output", "json"]);
    let started = snap(&sb, "start_json", &start_json, 0).json();
    let name = started["name"].as_str().unwrap().to_string();
    snap_both(&sb, "status_named", &["status", &name], 0);
    snap_both(&sb, "list", &["list"], 0);
    snap_both(&sb, "cancel_completed", &["cancel", &name], 2);

    // DLQs: export (deletes nothing), dry run, drain, then re-emit of the export.
    let out = sb.home.path().join("invoices.jsonl");
    let out = out.to_str().unwrap();
    snap(
        &sb,
        "dlq_export",
        &["dlq", "export", "--queue", INVOICES_DLQ, "--out", out],
        0,
    );
    let out_json = sb.home.path().join("invoices-2.jsonl");
    snap(
        &sb,
        "dlq_export_json",
        &[
            "dlq",
            "export",
            "--queue",
            INVOICES_DLQ,
            "--out",
            out_json.to_str().unwrap(),
            "--output",
            "json",
        ],
        0,
    );
    // One pipeline (see drain::ONE_PIPELINE); short polls: moto answers at once, and a long
    // poll would add its wait to every run that ends on an empty queue.
    let one = ["--concurrency", "1", "--receive-wait", "0s"];
    let mut dry = vec!["drain", "--queue", STATUS_DLQ, "--dry-run"];
    dry.extend(one);
    let planned = snap_both(&sb, "drain_dry_run", &dry, 0).json();
    let key = planned["planned"][0]["dedup_key"]
        .as_str()
        .unwrap()
        .to_string();
    let mut drain = vec!["drain", "--queue", STATUS_DLQ, "--yes"];
    drain.extend(one);
    snap(&sb, "drain", &drain, 0);
    let mut drain_json = vec!["drain", "--queue", SUB_DLQ, "--yes", "--output", "json"];
    drain_json.extend(one);
    snap(&sb, "drain_json", &drain_json, 0);
    // Poison: a body that is not an event is parked with its reason (exit 3, partial).
    seed(&sb, SUB_DLQ, &["this is not json".to_string()]);
    let mut partial = vec![
        "drain",
        "--queue",
        SUB_DLQ,
        "--park-queue",
        "ai-nexus-dev-stripe-parked",
        "--yes",
    ];
    partial.extend(one);
    snap(&sb, "drain_parked", &partial, 3);
    seed(&sb, SUB_DLQ, &["this is not json either".to_string()]);
    partial.extend(["--output", "json"]);
    snap(&sb, "drain_parked_json", &partial, 3);
    snap(&sb, "reemit", &["reemit", "--from", out, "--yes"], 0);
    // The same lines again: every key is in the ledger, so nothing is put twice.
    snap(
        &sb,
        "reemit_again_json",
        &["reemit", "--from", out, "--yes", "--output", "json"],
        0,
    );

    // The ledger those runs wrote.
    snap_both(&sb, "ledger_init", &["ledger", "init"], 0);
    snap_both(&sb, "ledger_stats", &["ledger", "stats"], 0);
    snap_both(&sb, "ledger_show", &["ledger", "show", &key], 0);
    snap_both(
        &sb,
        "ledger_show_missing",
        &["ledger", "show", "evt_none"],
        3,
    );
    snap_both(&sb, "ledger_prune", &["ledger", "prune"], 0);

    // --to target: the invoices DLQ (exported above, not drained) planned per target, then
    // its export delivered to the target that dead-lettered each message (ledger key: the
    // dedup key and the target ARN, so the bus re-emits above do not count).
    let mut dry = vec![
        "drain",
        "--queue",
        INVOICES_DLQ,
        "--to",
        "target",
        "--dry-run",
    ];
    dry.extend(one);
    snap_input(&sb, "drain_to_target_dry_run", &dry, 0);
    dry.extend(["--output", "json"]);
    let planned = snap_input(&sb, "drain_to_target_dry_run_json", &dry, 0).json();
    assert_eq!(planned["planned"][0]["target"]["kind"], "sqs");
    snap(
        &sb,
        "reemit_to_target",
        &["reemit", "--from", out, "--to", "target", "--yes"],
        0,
    );

    // Playbooks.
    snap_both(&sb, "playbook_list", &["playbook", "list"], 0);
    snap_both(
        &sb,
        "playbook_show",
        &["playbook", "show", "subscription-outage"],
        0,
    );
    snap_both(&sb, "playbook_validate", &["playbook", "validate"], 0);
    snap_both(
        &sb,
        "playbook_plan",
        &[
            "playbook",
            "plan",
            "subscription-outage",
            "--set",
            "until=now",
        ],
        0,
    );
    // The nightly drain empties what is left: the invoices DLQ (its keys already in the
    // ledger, so duplicates) and the monitoring DLQ.
    snap(
        &sb,
        "playbook_run",
        &["playbook", "run", "nightly-dlq-drain", "--yes"],
        0,
    );
    snap(
        &sb,
        "playbook_run_json",
        &[
            "playbook",
            "run",
            "nightly-dlq-drain",
            "--yes",
            "--output",
            "json",
        ],
        0,
    );
}
