//! Issue 16 on moto: the run history (`playbook runs`) and the incident report
//! (`playbook report RUN_ID`) of a playbook whose drain parked one message and failed
//! another, the `notify` step delivering the run's summary to an SNS topic a queue
//! subscribes to, and a SIGKILL-ed run listed as interrupted instead of running for ever.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::drain::{bodies, capture, seed, stripe_body};
use crate::signals::{SLOW_PLAYBOOK, drain_args};
use crate::support::{
    Run, Sandbox, block_on, client, queue_with_arn, report_settings, subscribed_topic, take_all,
};

const SUB_DLQ: &str = "ai-nexus-dev-stripe-update-subscription-dlq";

/// A drain with a park queue, a check that the DLQ is empty, and a page to on-call.
const PAGED_DRAIN: &str = r#"name = "paged-drain"
description = "drain the subscription DLQ, park poison, tell on-call when it fails"
when = "tests"

[[steps]]
id = "drain"
kind = "drain"
title = "drain the subscription DLQ"
queues = ["ai-nexus-dev-stripe-update-subscription-dlq"]
to_bus = "capture-bus"
park_queue = "parked"
receive_wait = "1s"
concurrency = 1

[[steps]]
kind = "verify"
queues_empty = ["ai-nexus-dev-stripe-update-subscription-dlq"]

[[steps]]
kind = "notify"
topic = "oncall"
"#;

/// The report settings, plus the user and host that started a run, the width of a history
/// table's TIME column (which follows the durations, redacted), and why the drain stopped.
fn settings() -> insta::Settings {
    let mut s = report_settings();
    s.add_filter(r"Started by: [^\s@]+@\S+", "Started by: [USER]@[HOST]");
    s.add_filter(r"\bTIME +STATUS\b", "TIME  STATUS");
    // Whether SQS still counts the released conflict when the drain ends depends on timing.
    s.add_filter(r"- Stopped because: .*", "- Stopped because: [REASON]");
    s
}

fn snap(name: &str, args: &[&str], run: &Run) {
    let text = format!("$ nexus-replay {}\n{}", args.join(" "), run.transcript());
    settings().bind(|| insta::assert_snapshot!(name, text));
}

/// `stripe_body(1)` with other content under the same `detail.id` (its dedup key).
fn other_content_same_key() -> String {
    let mut v: Value = serde_json::from_str(&stripe_body(1)).unwrap();
    v["detail"]["data"]["object"]["status"] = json!("canceled");
    v.to_string()
}

#[test]
fn a_drain_that_parks_and_fails_is_listed_reported_and_paged() {
    let sb = Sandbox::new(0, 0);
    let cap = capture(&sb);
    let (_, sqs) = sb.clients();
    let sns = client!(aws_sdk_sns, &sb.moto.endpoint);
    let inbox = block_on(async {
        sqs.create_queue()
            .queue_name("parked")
            .send()
            .await
            .unwrap();
        let (inbox, inbox_arn) = queue_with_arn(&sqs, "oncall-inbox").await;
        subscribed_topic(&sns, "oncall", &inbox_arn).await;
        inbox
    });
    // evt_e2e_00001 re-emitted once; then a copy with other content under its key (a
    // conflict: left in the DLQ, failed) and a body that is not JSON (parked).
    seed(&sb, SUB_DLQ, &[stripe_body(1)]);
    sb.run(&drain_args(&[])).code(0);
    assert_eq!(bodies(&sb, &cap.queue_url).len(), 1);
    seed(
        &sb,
        SUB_DLQ,
        &[other_content_same_key(), "this is not json".to_string()],
    );
    let file = sb.home.path().join("paged-drain.toml");
    std::fs::write(&file, PAGED_DRAIN).unwrap();
    let file = file.to_str().unwrap();

    let plan = sb.run(&["playbook", "plan", file]);
    assert!(
        plan.code(0).stdout.contains(
            "publish the run's summary to arn:aws:sns:us-east-2:123456789012:oncall on failure"
        ),
        "{}",
        plan.stdout
    );
    let run = sb.run(&["playbook", "run", file, "--yes", "--output", "json"]);
    let rec = run.json();
    assert_eq!(rec["status"], "failed", "{rec}");
    assert_eq!(rec["failed_step"], 1);
    let code = rec["exit_code"].as_i64().unwrap();
    assert_ne!(code, 0);
    run.code(code as i32);
    assert_eq!(rec["steps"][1]["status"], "not_run");
    assert_eq!(
        rec["steps"][2]["status"], "ok",
        "the notify step ran: {rec}"
    );
    assert_eq!(rec["steps"][2]["outputs"]["published"], true);
    assert_eq!(
        rec["steps"][2]["outputs"]["topic_arn"],
        "arn:aws:sns:us-east-2:123456789012:oncall"
    );
    let run_id = rec["run_id"].as_str().unwrap().to_string();

    // The page: the run's summary, naming the failing step and the report command.
    let pages = block_on(take_all(&sqs, &inbox));
    assert_eq!(pages.len(), 1, "published once");
    let page = pages[0].body().unwrap();
    assert!(
        page.starts_with(&format!(
            "Playbook paged-drain run {run_id}: FAILED (exit code {code})\n"
        )),
        "{page}"
    );
    assert!(
        page.contains(
            "Failing step: 1 (drain \"drain\"): 0 message(s) failed, 1 were parked and 1 conflict"
        ),
        "{page}"
    );
    assert!(page.contains("  2. verify: not run\n"), "{page}");
    assert!(
        page.contains(&format!(
            "Incident report: nexus-replay playbook report {run_id}\n"
        )),
        "{page}"
    );

    // The history lists it with its failing step.
    let runs = sb.run(&["playbook", "runs", "--output", "json"]);
    runs.code(0);
    let h = runs.json();
    assert_eq!(h["total"], 1);
    let listed = &h["runs"][0];
    assert_eq!(listed["run_id"], run_id.as_str());
    assert_eq!(listed["playbook"], "paged-drain");
    assert_eq!(listed["status"], "failed");
    assert_eq!(listed["abandoned"], false);
    assert_eq!(listed["failing_step"]["number"], 1);
    assert_eq!(listed["failing_step"]["kind"], "drain");
    let args = ["playbook", "runs"];
    let human = sb.run(&args);
    human.code(0);
    assert!(human.stdout.contains("1 (drain)"), "{}", human.stdout);
    snap("playbook_runs_failed_drain", &args, &human);

    // The report names the parked and the failed message, with queue, key and reason.
    let json = sb.run(&["playbook", "report", &run_id, "--format", "json"]);
    json.code(0);
    let report = json.json();
    let failures = report["drains"][0]["failures"].as_array().unwrap();
    let mut seen: Vec<(String, String, bool)> = failures
        .iter()
        .map(|f| {
            assert_eq!(f["queue"], SUB_DLQ);
            assert!(!f["message_id"].as_str().unwrap().is_empty());
            assert!(!f["reason"].as_str().unwrap().is_empty());
            (
                f["code"].as_str().unwrap().to_string(),
                f["dedup_key"].as_str().unwrap_or("-").to_string(),
                f["parked"].as_bool().unwrap(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("CONFLICT".to_string(), "evt_e2e_00001".to_string(), false),
            ("PARKED".to_string(), "-".to_string(), true),
        ]
    );
    let args = ["playbook", "report", run_id.as_str()];
    let md = sb.run(&args);
    md.code(0);
    assert!(
        md.stdout
            .contains("| Queue | Message | Key | Parked | Code | Reason |")
    );
    snap("playbook_report_failed_drain", &args, &md);
    let as_output = sb.run(&["playbook", "report", &run_id, "--output", "json"]);
    assert_eq!(as_output.code(0).json()["run_id"], run_id.as_str());

    // An unknown id is a usage error that says where the ids are.
    let unknown = sb.run(&["playbook", "report", "nexus-20260101T000000-000000"]);
    unknown.code(2);
    assert!(
        unknown
            .stderr
            .contains("no run record nexus-20260101T000000-000000")
            && unknown
                .stderr
                .contains("`nexus-replay playbook runs` lists the run ids"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn a_sigkilled_run_is_listed_interrupted_not_running() {
    let sb = Sandbox::new(0, 0);
    let cap = capture(&sb);
    seed(&sb, SUB_DLQ, &(0..40).map(stripe_body).collect::<Vec<_>>());
    let file = sb.home.path().join("slow.toml");
    std::fs::write(&file, SLOW_PLAYBOOK).unwrap();
    let mut child = sb.cmd().start(&[
        "playbook",
        "run",
        file.to_str().unwrap(),
        "--yes",
        "--output",
        "json",
    ]);
    let started = Instant::now();
    while bodies(&sb, &cap.queue_url).len() < 3 {
        assert!(started.elapsed() < Duration::from_secs(60), "no progress");
        std::thread::sleep(Duration::from_millis(200));
    }
    // Alive, the run is listed as running.
    let live = sb.run(&["playbook", "runs", "--output", "json"]);
    assert_eq!(live.code(0).json()["runs"][0]["status"], "running");

    child.kill().unwrap(); // SIGKILL: no handler runs, the record stays "running"
    child.wait().unwrap();
    let runs = sb.run(&["playbook", "runs", "--output", "json"]);
    let h = runs.code(0).json();
    let r = &h["runs"][0];
    assert_eq!(r["status"], "interrupted", "{h}");
    assert_eq!(r["abandoned"], true);
    assert_eq!(r["abandoned_because"], "process gone");
    assert_eq!(r["failing_step"]["number"], 1);
    let human = sb.run(&["playbook", "runs"]);
    assert!(
        human.code(0).stdout.contains("INTERRUPTED (process gone)"),
        "{}",
        human.stdout
    );
    let run_id = r["run_id"].as_str().unwrap();
    let report = sb.run(&["playbook", "report", run_id]);
    assert!(
        report.code(0).stdout.contains("- Status: **INTERRUPTED**")
            && report
                .stdout
                .contains("interrupted: the record still said running (process gone): step 1 (drain) never ended"),
        "{}",
        report.stdout
    );
}
