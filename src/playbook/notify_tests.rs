//! The notify step over the in-memory fakes: a failed run still runs the notify steps after
//! the failing step and publishes its summary once per topic, naming that step; a run that
//! succeeds publishes only `when = "always"`; a publish that fails is a failure of a run
//! that had none, and changes nothing of a run that had one.

use std::sync::Arc;

use chrono::Utc;

use super::exec::*;
use super::load::load;
use super::test_world::*;
use crate::memory::sns::MemorySns;
use crate::ports::delivery::DeliveryPorts;

const NOTIFY: &str = r#"name = "nightly"
description = "drain, check, tell on-call"
when = "tests"

[[steps]]
id = "drain"
kind = "drain"
title = "drain the DLQ"
queues = ["subs-dlq"]
receive_wait = "0s"

[[steps]]
kind = "verify"
queues_empty = ["subs-dlq"]

[[steps]]
id = "page"
kind = "notify"
topic = "oncall"

[[steps]]
kind = "notify"
topic = "arn:aws:sns:us-east-2:123456789012:audit"
when = "always"
subject = "nightly drain"
"#;

/// The world with a `default` bus (whose ARN names the account) and SNS topics.
fn notify_world(dlq_messages: usize) -> (World, MemorySns) {
    let w = world(dlq_messages, true);
    w.eb.add_bus("default");
    let sns = MemorySns::new();
    sns.add_topic("oncall");
    sns.add_topic("audit");
    (w, sns)
}

fn ports(w: &World, sns: &MemorySns) -> Ports {
    let sqs = w.sqs.clone();
    let sns = sns.clone();
    Ports {
        delivery: Box::new(move || DeliveryPorts {
            sns: Arc::new(sns.clone()),
            ..memory_delivery(&sqs)
        }),
        ..w.ports()
    }
}

/// Plans `src`, lets `between` break the world, runs it.
async fn run_notify(
    w: &World,
    sns: &MemorySns,
    src: &str,
    between: impl FnOnce(&World, &MemorySns),
) -> (RunRecord, PlaybookPlan, TestUi) {
    let pb = load("nightly.toml", src).unwrap();
    let ports = ports(w, sns);
    let opts = w.opts(1, true);
    let (scope, _) = prepare_run(&pb, &opts).unwrap();
    let planned = plan(&pb, &mut scope.clone(), &ports, 1, Utc::now())
        .await
        .unwrap();
    between(w, sns);
    let mut ui = TestUi::default();
    let rec = run(&pb, &planned, scope, None, &ports, &mut ui, &opts)
        .await
        .unwrap();
    (rec, planned, ui)
}

#[tokio::test]
async fn a_failed_step_still_runs_the_notify_steps_after_it_which_name_it() {
    let (w, sns) = notify_world(3);
    // The DLQ disappears after planning: the drain step fails, verify does not run.
    let (rec, planned, ui) =
        run_notify(&w, &sns, NOTIFY, |w, _| w.sqs.delete_queue("subs-dlq")).await;
    assert_eq!(ui.started, vec![1, 3, 4], "verify skipped, both notify run");
    assert_eq!(rec.status, RunStatus::Failed);
    assert_eq!(rec.failed_step, Some(1));
    assert_eq!(rec.exit_code, crate::exit_codes::USAGE, "the drain's code");
    let statuses: Vec<StepStatus> = rec.steps.iter().map(|s| s.status).collect();
    assert_eq!(
        statuses,
        [
            StepStatus::Failed,
            StepStatus::NotRun,
            StepStatus::Ok,
            StepStatus::Ok
        ]
    );
    let published = sns.published();
    let topics: Vec<&str> = published.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        topics,
        [
            "arn:aws:sns:us-east-2:123456789012:oncall",
            "arn:aws:sns:us-east-2:123456789012:audit"
        ],
        "once per topic, the name made an ARN in the default bus's account"
    );
    let (_, page) = &published[0];
    assert_eq!(
        page.subject.as_deref(),
        Some(format!("nexus-replay: playbook nightly FAILED (run {})", rec.run_id).as_str())
    );
    let body = &page.message;
    assert!(
        body.contains(&format!(
            "Playbook nightly run {}: FAILED (exit code 2)",
            rec.run_id
        )),
        "{body}"
    );
    assert!(
        body.contains("Failing step: 1 (drain \"drain\"): "),
        "{body}"
    );
    assert!(body.contains("subs-dlq"), "the error is named: {body}");
    assert!(body.contains("  2. verify: not run\n"), "{body}");
    assert!(body.contains("  3. notify: this notification\n"), "{body}");
    assert!(
        body.contains(&format!(
            "Incident report: nexus-replay playbook report {}\n",
            rec.run_id
        )),
        "{body}"
    );
    assert_eq!(published[1].1.subject.as_deref(), Some("nightly drain"));
    assert_eq!(
        rec.steps[2].outputs["topic_arn"],
        "arn:aws:sns:us-east-2:123456789012:oncall"
    );
    assert_eq!(rec.steps[2].outputs["published"], true);
    let details = &planned.steps[2].details;
    assert_eq!(
        details,
        &["publish the run's summary to arn:aws:sns:us-east-2:123456789012:oncall on failure"]
    );
    // The record on disk has the notify steps' outcomes.
    let disk: RunRecord =
        serde_json::from_str(&std::fs::read_to_string(&rec.path).unwrap()).unwrap();
    assert_eq!(disk.steps[3].status, StepStatus::Ok);
}

#[tokio::test]
async fn a_run_that_succeeds_publishes_only_when_always() {
    let (w, sns) = notify_world(2);
    let (rec, _, ui) = run_notify(&w, &sns, NOTIFY, |_, _| {}).await;
    assert_eq!(rec.status, RunStatus::Succeeded, "{rec:#?}");
    assert_eq!(rec.exit_code, 0);
    assert_eq!(ui.started, vec![1, 2, 3, 4]);
    assert_eq!(rec.steps[2].status, StepStatus::Skipped, "when = failure");
    assert_eq!(rec.steps[2].outputs["published"], false);
    let published = sns.published();
    assert_eq!(published.len(), 1);
    assert!(published[0].0.ends_with(":audit"));
    assert!(
        published[0].1.message.contains("Playbook nightly run ")
            && published[0]
                .1
                .message
                .contains(": succeeded so far (exit code 0)"),
        "{}",
        published[0].1.message
    );
    assert!(!published[0].1.message.contains("Failing step"));
}

#[tokio::test]
async fn a_publish_that_fails_fails_a_good_run_but_not_the_code_of_a_failed_one() {
    // A good run: the topic deleted after planning fails the run at that step, exit 1,
    // and the notify after it still runs.
    let (w, sns) = notify_world(2);
    let (rec, _, _) = run_notify(&w, &sns, NOTIFY, |_, sns| {
        sns.remove_topic("arn:aws:sns:us-east-2:123456789012:audit")
    })
    .await;
    assert_eq!(rec.status, RunStatus::Failed);
    assert_eq!(rec.failed_step, Some(4));
    assert_eq!(rec.exit_code, crate::exit_codes::FAILURE);
    let err = rec.steps[3].error.as_deref().unwrap();
    assert!(
        err.starts_with("cannot publish to arn:aws:sns:us-east-2:123456789012:audit: "),
        "{err}"
    );

    // A failed run: the failing notify is recorded, the drain's code stays.
    let (w, sns) = notify_world(2);
    let (rec, _, _) = run_notify(&w, &sns, NOTIFY, |w, sns| {
        w.sqs.delete_queue("subs-dlq");
        sns.remove_topic("arn:aws:sns:us-east-2:123456789012:oncall");
    })
    .await;
    assert_eq!(rec.failed_step, Some(1));
    assert_eq!(rec.exit_code, crate::exit_codes::USAGE);
    assert_eq!(rec.steps[2].status, StepStatus::Failed);
    assert_eq!(rec.steps[2].exit_code, Some(crate::exit_codes::FAILURE));
    assert_eq!(rec.steps[3].status, StepStatus::Ok, "the next notify runs");
    assert_eq!(sns.published().len(), 1);
}

#[test]
fn validate_refuses_an_unknown_when_and_a_notify_without_a_topic() {
    let src = "name = \"t\"\ndescription = \"d\"\nwhen = \"w\"\n[[steps]]\nkind = \"notify\"\nwhen = \"sometimes\"\n";
    let d = load("pb.toml", src).unwrap_err();
    let got: Vec<(usize, &str)> = d.iter().map(|x| (x.line, x.message.as_str())).collect();
    assert_eq!(
        got,
        [
            (4, "step 1 (notify) needs `topic`"),
            (6, "notify `when` is \"sometimes\", which is not a choice"),
        ],
        "{d:#?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_run_stopped_by_a_signal_still_publishes_that_it_was_interrupted() {
    let (w, sns) = notify_world(2);
    let src = "name = \"v\"\ndescription = \"d\"\nwhen = \"w\"\n[[steps]]\nkind = \"verify\"\nqueues_empty = [\"subs-dlq\"]\nwithin = \"10m\"\n[[steps]]\nkind = \"notify\"\ntopic = \"oncall\"\n";
    let pb = load("v.toml", src).unwrap();
    let ports = ports(&w, &sns);
    let opts = w.opts(1, true);
    let (scope, _) = prepare_run(&pb, &opts).unwrap();
    let planned = plan(&pb, &mut scope.clone(), &ports, 1, Utc::now())
        .await
        .unwrap();
    let mut ui = TestUi {
        signal: Some((
            tokio::time::Instant::now() + std::time::Duration::from_secs(12),
            crate::interrupt::Signal::Terminate,
        )),
        ..TestUi::default()
    };
    let rec = run(&pb, &planned, scope, None, &ports, &mut ui, &opts)
        .await
        .unwrap();
    assert_eq!(rec.status, RunStatus::Interrupted, "{rec:#?}");
    assert_eq!(rec.exit_code, crate::exit_codes::TERMINATED);
    assert_eq!(
        rec.steps[1].status,
        StepStatus::Ok,
        "the signal does not cut it"
    );
    let published = sns.published();
    assert_eq!(published.len(), 1);
    let body = &published[0].1.message;
    assert!(body.contains(": INTERRUPTED (exit code 143)"), "{body}");
    assert!(
        body.contains("Failing step: 1 (verify): interrupted by SIGTERM"),
        "{body}"
    );
}
