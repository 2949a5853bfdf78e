//! Issue 5: playbooks on the sandbox. The shipped playbooks validate and plan; the
//! subscription outage and the nightly drain run end to end and leave the DLQs empty; a
//! queue deleted mid-run stops the run at that step and `--from-step` resumes it.

use std::time::{Duration, Instant};

use crate::drain::{DLQS, attr, bodies as bodies_of, depth, queue_url, seed, stripe_body};
use crate::support::{Run, Sandbox, block_on};

/// Every shipped playbook (`playbook validate` with no file checks them all).
pub(crate) const SHIPPED: [&str; 6] = [
    "subscription-outage",
    "payment-outage",
    "customer-sync-outage",
    "nightly-dlq-drain",
    "partner-events-cutover",
    "stripe-webhook-outage",
];
const SUB_DLQ: &str = "ai-nexus-dev-stripe-update-subscription-dlq";

fn replay_count(sb: &Sandbox) -> usize {
    let (eb, _) = sb.clients();
    block_on(async { eb.list_replays().send().await.unwrap().replays().len() })
}

/// `playbook run ARGS... --yes --output json`.
fn run_playbook(sb: &Sandbox, args: &[&str]) -> Run {
    let mut all = vec!["playbook", "run"];
    all.extend_from_slice(args);
    all.extend(["--yes", "--output", "json"]);
    sb.run(&all)
}

fn dlq_depths(sb: &Sandbox) -> Vec<usize> {
    DLQS.iter().map(|q| depth(sb, &queue_url(sb, q))).collect()
}

#[test]
fn every_shipped_playbook_validates_and_plans_on_the_sandbox_without_changes() {
    let sb = Sandbox::new(10, 2);
    let v = sb.run(&["playbook", "validate", "--output", "json"]);
    v.code(0);
    let files = v.json()["files"].as_array().unwrap().clone();
    assert_eq!(files.len(), SHIPPED.len());
    assert!(files.iter().all(|f| f["ok"] == true), "{files:?}");

    let listed = sb.run(&["playbook", "list"]);
    listed.code(0);
    for name in SHIPPED {
        assert!(listed.stdout.contains(name), "{}", listed.stdout);
        let mut args = vec!["playbook", "plan", name, "--output", "json"];
        if name.ends_with("-outage") {
            // The sandbox archive is seconds old: end the window now.
            args.extend(["--set", "until=now"]);
        }
        let plan = sb.run(&args);
        plan.code(0);
        let doc = plan.json();
        let details: Vec<String> = doc["steps"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["details"].as_array().unwrap().clone())
            .map(|d| d.as_str().unwrap().to_string())
            .collect();
        let text = details.join("\n");
        if name == "stripe-webhook-outage" {
            assert!(
                text.contains("list Stripe's events created 20"),
                "{name}: {text}"
            );
        } else if name.ends_with("-outage") {
            assert!(text.contains("window 20"), "{name}: {text}");
            assert!(
                text.contains("rules: ai-nexus-dev-stripe-"),
                "{name}: {text}"
            );
        } else {
            assert!(
                text.contains("drain ai-nexus-dev-stripe-get-status-dlq (DLQ of rule ai-nexus-dev-stripe-customer_events-rule), "),
                "{name}: {text}"
            );
        }
    }
    let human = sb.run(&[
        "playbook",
        "plan",
        "subscription-outage",
        "--set",
        "until=now",
    ]);
    human.code(0);
    assert!(
        human
            .stdout
            .contains("rules: ai-nexus-dev-stripe-subscription_events-rule")
    );
    assert!(human.stdout.contains(&format!("drain {SUB_DLQ}")));
    assert_eq!(replay_count(&sb), 0, "plan starts nothing");
    assert_eq!(dlq_depths(&sb), vec![2, 2, 2, 2], "plan drains nothing");
}

#[test]
fn subscription_outage_runs_end_to_end_and_empties_its_dlq() {
    let sb = Sandbox::new(40, 6);
    let run = run_playbook(&sb, &["subscription-outage", "--set", "until=now"]);
    run.code(0);
    let rec = run.json();
    assert_eq!(rec["status"], "succeeded");
    let steps = rec["steps"].as_array().unwrap();
    let statuses: Vec<&str> = steps
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["ok", "ok", "skipped", "ok", "ok"]);
    assert_eq!(steps[1]["outputs"]["state"], "COMPLETED");
    assert_eq!(steps[3]["outputs"]["reemitted"], 6);
    // The replay went to the subscription rule only (read back from EventBridge).
    let name = steps[1]["outputs"]["name"].as_str().unwrap().to_string();
    let (eb, _) = sb.clients();
    let filter = block_on(async {
        eb.describe_replay()
            .replay_name(&name)
            .send()
            .await
            .unwrap()
            .destination()
            .unwrap()
            .filter_arns()
            .to_vec()
    });
    assert_eq!(filter.len(), 1);
    assert!(filter[0].ends_with("/ai-nexus-dev-stripe-subscription_events-rule"));
    assert_eq!(depth(&sb, &queue_url(&sb, SUB_DLQ)), 0);
    // The other DLQs are not this playbook's business.
    assert_eq!(dlq_depths(&sb)[1..], [6, 6, 6]);
    // The record is in the state dir.
    let record = sb.home.path().join(format!(
        "state/playbook-runs/{}.json",
        rec["run_id"].as_str().unwrap()
    ));
    let disk: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(record).unwrap()).unwrap();
    assert_eq!(disk["status"], "succeeded");
}

#[test]
fn nightly_dlq_drain_empties_every_dlq_and_prints_a_json_summary() {
    let sb = Sandbox::new(0, 4);
    let run = run_playbook(&sb, &["nightly-dlq-drain"]);
    run.code(0);
    let rec = run.json();
    assert_eq!(rec["status"], "succeeded");
    assert_eq!(rec["exit_code"], 0);
    let drain = &rec["steps"][1];
    assert_eq!(drain["outputs"]["reemitted"], 16, "{drain}");
    assert_eq!(drain["report"]["counts"]["parked"], 0);
    assert_eq!(rec["steps"][2]["outputs"]["passed"], 4);
    assert_eq!(dlq_depths(&sb), vec![0, 0, 0, 0]);
    // A second (concurrent-safe) run finds nothing to do and still succeeds.
    let again = run_playbook(&sb, &["nightly-dlq-drain"]);
    again.code(0);
    assert_eq!(again.json()["steps"][1]["outputs"]["reemitted"], 0);
}

const STOPPABLE: &str = r#"name = "stoppable"
description = "waits for a queue to empty, then drains the subscription DLQ"
when = "tests"

[[params]]
name = "gate"
type = "string"
default = "ai-nexus-dev-stripe-monitoring-logs-dlq"
help = "the queue the first step waits on"

[[steps]]
id = "gate"
kind = "verify"
title = "wait for the gate queue to empty"
queues_empty = ["${gate}"]
within = "60s"

[[steps]]
id = "drain"
kind = "drain"
queues = ["ai-nexus-dev-stripe-update-subscription-dlq"]
receive_wait = "1s"

[[steps]]
kind = "verify"
queues_empty = ["ai-nexus-dev-stripe-update-subscription-dlq"]
"#;

#[test]
fn a_queue_deleted_mid_run_stops_the_run_and_from_step_resumes_it() {
    let sb = Sandbox::new(0, 3);
    let file = sb.home.path().join("stoppable.toml");
    std::fs::write(&file, STOPPABLE).unwrap();
    let file = file.to_str().unwrap().to_string();
    let runs = sb.home.path().join("state/playbook-runs");

    // Step 1 waits for the gate queue; meanwhile the DLQ step 2 needs is deleted.
    let child = std::thread::spawn({
        let cmd = sb.cmd();
        let file = file.clone();
        move || cmd.run(&["playbook", "run", &file, "--yes", "--output", "json"])
    });
    let started = Instant::now();
    while std::fs::read_dir(&runs).map(|d| d.count()).unwrap_or(0) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the run never started"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (_, sqs) = sb.clients();
    let gate = queue_url(&sb, "ai-nexus-dev-stripe-monitoring-logs-dlq");
    let sub = queue_url(&sb, SUB_DLQ);
    block_on(async {
        sqs.delete_queue().queue_url(&sub).send().await.unwrap();
        sqs.purge_queue().queue_url(&gate).send().await.unwrap();
    });
    let run = child.join().unwrap();
    run.code(2);
    let rec = run.json();
    assert_eq!(rec["status"], "failed");
    assert_eq!(rec["failed_step"], 2);
    assert_eq!(rec["steps"][0]["status"], "ok");
    assert_eq!(rec["steps"][2]["status"], "not_run");
    let err = rec["steps"][1]["error"].as_str().unwrap();
    assert!(
        err.contains(SUB_DLQ) && err.contains("does not exist"),
        "{err}"
    );
    let resume = rec["resume"].as_str().unwrap().to_string();
    assert!(resume.contains("--from-step 2 --resume nexus-"), "{resume}");
    assert!(
        run.stderr.contains("step 2 (drain) failed"),
        "{}",
        run.stderr
    );

    // Run again while the queue is missing: planning catches it, nothing runs.
    let again = sb.run(&["playbook", "run", &file, "--yes"]);
    again.code(2);
    assert!(again.stderr.contains("step 2 (drain"), "{}", again.stderr);
    assert_eq!(
        std::fs::read_dir(&runs).unwrap().count(),
        1,
        "no second run record"
    );

    // Fixed: the DLQ is back with messages; resume at step 2.
    block_on(async {
        sqs.create_queue().queue_name(SUB_DLQ).send().await.unwrap();
    });
    let bodies: Vec<String> = (0..5).map(stripe_body).collect();
    seed(&sb, SUB_DLQ, &bodies);
    let run_id = rec["run_id"].as_str().unwrap();
    let resumed = run_playbook(&sb, &[&file, "--from-step", "2", "--resume", run_id]);
    resumed.code(0);
    let rec2 = resumed.json();
    assert_eq!(rec2["resumed_from"], run_id);
    assert_eq!(rec2["steps"][0]["status"], "resumed");
    assert_eq!(rec2["steps"][1]["outputs"]["reemitted"], 5);
    assert_eq!(depth(&sb, &queue_url(&sb, SUB_DLQ)), 0);
}

#[test]
fn bad_playbooks_and_parameters_exit_2_and_change_nothing() {
    let sb = Sandbox::new(0, 2);
    let bad = sb.home.path().join("bad.toml");
    std::fs::write(
        &bad,
        "name = \"bad\"\ndescription = \"d\"\nwhen = \"w\"\n[[steps]]\nkind = \"drian\"\nqueues = [\"q\"]\n[[steps]]\nkind = \"verify\"\nreplay_completed = \"${steps.replay.name}\"\n",
    )
    .unwrap();
    let bad = bad.to_str().unwrap();
    let v = sb.run(&["playbook", "validate", bad]);
    v.code(2);
    assert!(
        v.stdout
            .contains(&format!("{bad}:5: step 1: unknown step kind \"drian\"")),
        "{}",
        v.stdout
    );
    assert!(v.stdout.contains("did you mean kind = \"drain\""));
    assert!(
        v.stdout.contains(&format!(
            "{bad}:9: step 2 (`replay_completed`): ${{steps.replay.name}}: no step has id `replay`"
        )),
        "{}",
        v.stdout
    );
    let r = sb.run(&["playbook", "run", bad, "--yes"]);
    r.code(2);
    assert!(
        r.stderr.contains("2 problems (nothing was run)"),
        "{}",
        r.stderr
    );
    for args in [
        &[
            "playbook",
            "run",
            "nightly-dlq-drain",
            "--set",
            "min_age=soonish",
            "--yes",
        ][..],
        &[
            "playbook",
            "run",
            "nightly-dlq-drain",
            "--set",
            "colour=red",
            "--yes",
        ][..],
        &[
            "playbook",
            "run",
            "nightly-dlq-drain",
            "--set",
            "park_queue=no-such-queue",
            "--yes",
        ][..],
        &["playbook", "run", "nightly-dlq-drain"][..],
        &["playbook", "run", "no-such-playbook", "--yes"][..],
        &[
            "playbook",
            "plan",
            "subscription-outage",
            "--from-step",
            "5",
        ][..],
    ] {
        let r = sb.run(args);
        r.code(2);
        assert!(r.stderr.contains("error: "), "{args:?}: {}", r.stderr);
    }
    assert_eq!(dlq_depths(&sb), vec![2, 2, 2, 2]);
    assert_eq!(replay_count(&sb), 0);
}

/// The subscription rule's target in the sandbox: a queue standing in for the Lambda.
const SUB_TARGET: &str = "ai-nexus-dev-stripe-update-subscription";

/// Puts `bodies` on `dlq` as EventBridge dead-letters them for the subscription rule's
/// target: RULE_ARN and TARGET_ARN name the rule and the target (the sandbox's queue).
fn seed_for_target(sb: &Sandbox, dlq: &str, bodies: &[String]) -> String {
    use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
    let rule = "arn:aws:events:us-east-2:123456789012:rule/ai-nexus-dev-stripe-event-bus/ai-nexus-dev-stripe-subscription_events-rule";
    let target = format!("arn:aws:sqs:us-east-2:123456789012:{SUB_TARGET}");
    let url = queue_url(sb, dlq);
    let (_, sqs) = sb.clients();
    block_on(async {
        for (c, chunk) in bodies.chunks(10).enumerate() {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(format!("{c}-{i}"))
                        .message_body(b)
                        .message_attributes("RULE_ARN", attr(rule))
                        .message_attributes("TARGET_ARN", attr(&target))
                        .message_attributes("ERROR_CODE", attr("ERROR_FROM_TARGET"))
                        .build()
                        .unwrap()
                })
                .collect();
            let out = sqs
                .send_message_batch()
                .queue_url(&url)
                .set_entries(Some(entries))
                .send()
                .await
                .unwrap();
            assert!(out.failed().is_empty());
        }
    });
    url
}

#[test]
fn partner_events_cutover_delivers_each_stripe_event_id_once_to_the_target_that_failed_it() {
    use nexus_replay::aws::sandbox::{PARTNER_SOURCE, WEBHOOK_SOURCE, dlq_envelope, stripe_event};
    let sb = Sandbox::new(0, 0);
    // Six Stripe events dead-lettered by the webhook path; three of them also by the
    // partner source: the same Stripe event object (so the same id), with another source,
    // envelope id and detail-type. PutEvents would refuse the partner copies (aws. source):
    // the playbook delivers to the target instead.
    let time = chrono::Utc::now() - chrono::Duration::minutes(40);
    let events: Vec<serde_json::Value> = (0..6)
        .map(|i| {
            stripe_event(
                "customer.subscription.updated",
                &format!("evt_cutover_{i}"),
                time.timestamp(),
                i,
            )
        })
        .collect();
    let copy = |i: usize, source: &str, detail_type: &str| {
        dlq_envelope(
            "us-east-2",
            "123456789012",
            source,
            detail_type,
            time,
            &events[i],
        )
        .to_string()
    };
    let mut bodies: Vec<String> = (0..6)
        .map(|i| copy(i, WEBHOOK_SOURCE, "Stripe Webhook Event"))
        .collect();
    bodies.extend((0..3).map(|i| copy(i, PARTNER_SOURCE, "Stripe Event")));
    let dlq = seed_for_target(&sb, SUB_DLQ, &bodies);

    let run = run_playbook(&sb, &["partner-events-cutover"]);
    run.code(0);
    let rec = run.json();
    assert_eq!(rec["status"], "succeeded");
    let drain = &rec["steps"][2];
    assert_eq!(drain["outputs"]["reemitted"], 6, "{drain}");
    assert_eq!(
        drain["outputs"]["duplicates"], 3,
        "the partner copies were not delivered again"
    );
    let targets = drain["report"]["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 1, "{drain}");
    assert_eq!(targets[0]["kind"], "sqs");
    assert_eq!(targets[0]["delivered"], 6);
    // The target got each event once, as it missed it: the webhook copy, unmarked.
    let got = bodies_of(&sb, &queue_url(&sb, SUB_TARGET));
    let mut ids: Vec<String> = got
        .iter()
        .map(|(b, _)| {
            let v: serde_json::Value = serde_json::from_str(b).unwrap();
            assert!(v.get("nexus_replay").is_none(), "{v}");
            v["detail"]["id"].as_str().unwrap().to_string()
        })
        .collect();
    ids.sort();
    let want: Vec<String> = (0..6).map(|i| format!("evt_cutover_{i}")).collect();
    assert_eq!(ids, want);
    // Nothing went to the other rules (no blast radius).
    assert_eq!(
        depth(&sb, &queue_url(&sb, "ai-nexus-dev-stripe-monitoring-logs")),
        0
    );
    assert_eq!(rec["steps"][3]["status"], "ok");
    assert_eq!(depth(&sb, &dlq), 0);
}

const TWO_CHECKS: &str = r#"name = "two-checks"
description = "two verify steps, each printing its report"
when = "tests"

[[steps]]
kind = "verify"
queues_empty = ["ai-nexus-dev-stripe-update-subscription-dlq"]

[[steps]]
kind = "verify"
queues_empty = ["ai-nexus-dev-stripe-list-invoices-dlq"]
"#;

#[test]
fn a_reader_that_closes_early_ends_the_printing_not_the_run() {
    let sb = Sandbox::new(0, 0);
    let file = sb.home.path().join("two-checks.toml");
    std::fs::write(&file, TWO_CHECKS).unwrap();
    let file = file.to_str().unwrap().to_string();
    let mut child = sb.cmd().start(&["playbook", "run", &file, "--yes"]);
    // The reader goes away before the first step report is written (as `| head -0` would).
    drop(child.stdout.take());
    let run = crate::support::finish(child);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    run.code(0);
    let runs = sb.home.path().join("state/playbook-runs");
    let records: Vec<_> = std::fs::read_dir(&runs).unwrap().flatten().collect();
    assert_eq!(records.len(), 1);
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(records[0].path()).unwrap()).unwrap();
    assert_eq!(record["status"], "succeeded", "{record:#}");
    assert_eq!(record["steps"][1]["status"], "ok", "{record:#}");
}
