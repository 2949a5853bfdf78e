//! Runs over the in-memory fakes: steps in order, the run stopped at the failing step and
//! recorded, resumed with --from-step, stopped by a signal, timed by the run's clock.

use super::exec::*;
use super::load::load;
use super::test_world::*;
use crate::drain::tests::RULE_ARN;
use crate::interrupt::Signal;
use crate::ports::PortError;
use chrono::Duration;
use chrono::Utc;
use serde_json::json;
use std::collections::VecDeque;

#[tokio::test]
async fn a_run_replays_drains_and_verifies_in_order_and_records_it() {
    let w = world(7, true);
    w.complete("fixed-replay");
    let mut ui = TestUi {
        answers: VecDeque::from([true]),
        ..TestUi::default()
    };
    let rec = run_it(&w, RECOVER, &w.opts(1, false), &mut ui)
        .await
        .unwrap();
    assert_eq!(rec.status, RunStatus::Succeeded, "{rec:#?}");
    assert_eq!(rec.exit_code, 0);
    assert_eq!(ui.started, vec![1, 2, 3, 4, 5]);
    assert_eq!(ui.asked, vec!["Drain after fixed-replay?"]);
    let started = w.eb.started();
    assert_eq!(started.len(), 1);
    assert_eq!(started[0].filter_arns, vec![RULE_ARN.to_string()]);
    assert_eq!(w.eb.accepted().len(), 7);
    assert!(w.sqs.messages("subs-dlq").is_empty());
    assert_eq!(rec.steps[3].outputs["reemitted"], json!(7));
    assert_eq!(rec.steps[1].outputs["state"], json!("COMPLETED"));
    // The record on disk is the one returned.
    let disk: RunRecord =
        serde_json::from_str(&std::fs::read_to_string(&rec.path).unwrap()).unwrap();
    assert_eq!(disk.status, RunStatus::Succeeded);
    assert_eq!(disk.steps.len(), 5);
}

#[tokio::test]
async fn a_failed_step_stops_the_run_and_from_step_resumes_with_recorded_outputs() {
    let w = world(4, true);
    w.complete("fixed-replay");
    let opts = w.opts(1, true);
    let pb = load("recover.toml", RECOVER).unwrap();
    let ports = w.ports();
    let (scope, _) = prepare_run(&pb, &opts).unwrap();
    let planned = plan(&pb, &mut scope.clone(), &ports, 1, Utc::now())
        .await
        .unwrap();
    // The DLQ disappears after planning: the drain step fails, verify does not run.
    w.sqs.delete_queue("subs-dlq");
    let mut ui = TestUi::default();
    let rec = run(&pb, &planned, scope, None, &ports, &mut ui, &opts)
        .await
        .unwrap();
    assert_eq!(rec.status, RunStatus::Failed);
    assert_eq!(rec.failed_step, Some(4));
    assert_eq!(rec.exit_code, crate::exit_codes::USAGE, "{rec:#?}");
    assert_eq!(rec.steps[2].status, StepStatus::Skipped);
    assert_eq!(rec.steps[3].status, StepStatus::Failed);
    assert!(rec.steps[3].error.as_deref().unwrap().contains("subs-dlq"));
    assert_eq!(rec.steps[4].status, StepStatus::NotRun);
    let hint = rec.resume.clone().unwrap();
    assert_eq!(
        hint,
        format!(
            "nexus-replay playbook run recover --from-step 4 --resume {} --yes",
            rec.run_id
        )
    );
    assert_eq!(w.eb.started().len(), 1);

    // Fixed: the queue is back with its messages. Resume at step 4.
    w.sqs.create("subs-dlq");
    push_dlq(&w.sqs, 4);
    let mut again = w.opts(4, true);
    again.resume = Some(rec.run_id.clone());
    let mut ui = TestUi::default();
    let rec2 = run_it(&w, RECOVER, &again, &mut ui).await.unwrap();
    assert_eq!(rec2.status, RunStatus::Succeeded, "{rec2:#?}");
    assert_eq!(rec2.resumed_from.as_deref(), Some(rec.run_id.as_str()));
    assert_eq!(ui.started, vec![4, 5]);
    assert_eq!(w.eb.started().len(), 1, "the replay is not started again");
    assert_eq!(rec2.steps[1].status, StepStatus::Resumed);
    assert_eq!(rec2.steps[1].outputs["name"], json!("fixed-replay"));
    assert_eq!(w.eb.accepted().len(), 4);
}

#[tokio::test]
async fn a_step_refused_a_permission_records_the_error_with_its_hint() {
    let w = world(2, true);
    w.eb.fail_next_start(PortError::Denied(
        "StartReplay: AccessDeniedException: not authorized to perform events:StartReplay".into(),
    ));
    let mut ui = TestUi::default();
    let rec = run_it(&w, RECOVER, &w.opts(1, true), &mut ui)
        .await
        .unwrap();
    assert_eq!(rec.failed_step, Some(2));
    assert_eq!(rec.exit_code, crate::exit_codes::FAILURE);
    let error = rec.steps[1].error.as_deref().unwrap();
    assert!(
        error.starts_with("StartReplay: AccessDeniedException"),
        "{error}"
    );
    assert!(
        error.contains("\nhint: the credentials in use lack this permission"),
        "{error}"
    );
    assert!(w.eb.started().is_empty());
}

#[tokio::test]
async fn from_step_without_the_outputs_it_needs_is_refused_before_anything_runs() {
    let w = world(1, true);
    let pb = load("recover.toml", RECOVER).unwrap();
    let e = prepare_run(&pb, &w.opts(5, true)).unwrap_err();
    assert_eq!(e.exit_code(), crate::exit_codes::USAGE);
    let msg = e.to_string();
    assert!(
        msg.contains("uses ${steps.replay.name} from step 2"),
        "{msg}"
    );
    assert!(
        msg.contains("no earlier run of recover is recorded"),
        "{msg}"
    );
    let e = prepare_run(&pb, &w.opts(9, true)).unwrap_err().to_string();
    assert!(e.contains("has 5 steps"), "{e}");
}

#[tokio::test]
async fn declining_a_confirm_step_stops_before_the_drain() {
    let w = world(3, true);
    w.complete("fixed-replay");
    let mut ui = TestUi {
        answers: VecDeque::from([false]),
        ..TestUi::default()
    };
    let rec = run_it(&w, RECOVER, &w.opts(1, false), &mut ui)
        .await
        .unwrap();
    assert_eq!(rec.status, RunStatus::Declined);
    assert_eq!(rec.exit_code, crate::exit_codes::FAILURE);
    assert_eq!(rec.failed_step, Some(3));
    assert_eq!(w.sqs.messages("subs-dlq").len(), 3, "nothing drained");
    assert!(w.eb.accepted().is_empty());
}

#[tokio::test]
async fn doctor_outcomes_outside_allow_fail_the_step_with_exit_3() {
    // A target without a DLQ is a doctor FAIL.
    let w = world(0, false);
    let src = "name = \"d\"\ndescription = \"d\"\nwhen = \"w\"\n[[steps]]\nkind = \"doctor\"\nbus = \"billing\"\n[[steps]]\nkind = \"verify\"\nqueues_empty = [\"subs-dlq\"]\n";
    let mut ui = TestUi::default();
    let rec = run_it(&w, src, &w.opts(1, true), &mut ui).await.unwrap();
    assert_eq!(rec.exit_code, crate::exit_codes::PARTIAL);
    assert_eq!(rec.failed_step, Some(1));
    assert!(
        rec.steps[0].error.as_deref().unwrap().contains("1 FAIL"),
        "{rec:#?}"
    );
    let allowed = src.replace(
        "bus = \"billing\"\n[[steps]]",
        "bus = \"billing\"\nallow = [\"pass\", \"warn\", \"fail\"]\n[[steps]]",
    );
    let rec = run_it(&w, &allowed, &w.opts(1, true), &mut ui)
        .await
        .unwrap();
    assert_eq!(rec.exit_code, 0, "{rec:#?}");
}

/// A doctor step runs the `doctor` command's checks: a DLQ encrypted with a customer key
/// whose policy leaves EventBridge out is a FAIL (its key policy is read), and the rule's
/// failed DLQ writes of the last 24 hours are read from CloudWatch.
#[tokio::test]
async fn a_doctor_step_reads_the_dlqs_key_policy_and_the_failed_dlq_writes() {
    use crate::ports::keys::KeyManager;
    let w = world(0, true);
    let dlq = "arn:aws:sqs:us-east-2:123456789012:subs-dlq";
    let allow_events = json!({"Version": "2012-10-17", "Statement": [
        serde_json::from_str::<serde_json::Value>(
            &crate::doctor::queue_statement(dlq, RULE_ARN)
        ).unwrap()
    ]});
    w.sqs
        .set_attribute("subs-dlq", "Policy", &allow_events.to_string());
    let root_only = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
        "Action": "kms:*", "Resource": "*"
    }]});
    let key = w.kms.add_key(
        "k-root",
        None,
        KeyManager::Customer,
        Ok(root_only.to_string()),
    );
    w.sqs.set_attribute("subs-dlq", "KmsMasterKeyId", &key);
    let src = "name = \"d\"\ndescription = \"d\"\nwhen = \"w\"\n[[steps]]\nkind = \"doctor\"\nbus = \"billing\"\n";
    let check = |rec: &RunRecord, kind: &str| {
        rec.steps[0].report.as_ref().unwrap()["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"] == kind)
            .unwrap_or_else(|| panic!("no {kind}: {rec:#?}"))
            .clone()
    };
    let mut ui = TestUi::default();
    let rec = run_it(&w, src, &w.opts(1, true), &mut ui).await.unwrap();
    assert_eq!(rec.exit_code, crate::exit_codes::PARTIAL, "{rec:#?}");
    assert!(
        rec.steps[0].error.as_deref().unwrap().contains("1 FAIL"),
        "{rec:#?}"
    );
    let enc = check(&rec, "dlq-encryption");
    assert_eq!(enc["status"], "FAIL", "{enc}");
    assert!(
        enc["message"]
            .as_str()
            .unwrap()
            .contains("kms:Decrypt, kms:GenerateDataKey"),
        "{enc}"
    );
    assert_eq!(check(&rec, "dlq-policy")["status"], "PASS");
    assert_eq!(check(&rec, "dlq-sends")["status"], "PASS");

    w.metrics.put(
        "AWS/Events",
        "InvocationsFailedToBeSentToDlq",
        &[
            ("RuleName", "subscription-rule"),
            ("EventBusName", "billing"),
        ],
        Utc::now() - Duration::hours(1),
        4.0,
    );
    let rec = run_it(&w, src, &w.opts(1, true), &mut ui).await.unwrap();
    assert!(
        rec.steps[0].error.as_deref().unwrap().contains("2 FAIL"),
        "{rec:#?}"
    );
    assert_eq!(check(&rec, "dlq-sends")["subject"], "subscription-rule");
    assert_eq!(check(&rec, "dlq-sends")["status"], "FAIL");
}

#[tokio::test(start_paused = true)]
async fn sigterm_stops_a_drain_step_as_the_command_would_and_the_record_says_so() {
    let w = world(40, true);
    let mut ui = TestUi {
        signal: Some((
            tokio::time::Instant::now() + std::time::Duration::from_secs(7),
            Signal::Terminate,
        )),
        ..TestUi::default()
    };
    let rec = run_it(&w, SLOW_DRAIN, &w.opts(1, true), &mut ui)
        .await
        .unwrap();
    assert_eq!(rec.status, RunStatus::Interrupted, "{rec:#?}");
    assert_eq!(rec.exit_code, crate::exit_codes::TERMINATED);
    assert_eq!(rec.failed_step, Some(1));
    assert_eq!(rec.steps[0].status, StepStatus::Interrupted);
    assert!(
        rec.steps[0].error.as_deref().unwrap().contains("SIGTERM"),
        "{rec:#?}"
    );
    assert_eq!(rec.steps[1].status, StepStatus::NotRun);
    assert!(
        rec.message
            .as_deref()
            .unwrap()
            .contains("interrupted by SIGTERM during step 1"),
        "{rec:#?}"
    );
    assert!(
        rec.resume
            .as_deref()
            .unwrap()
            .contains("--from-step 1 --resume")
    );
    // 2 events/s for 7 s: the batches put were deleted, the rest left visible for a rerun.
    let put = w.eb.accepted().len();
    assert!((10..40).contains(&put), "{put} put");
    assert_eq!(w.sqs.messages("subs-dlq").len(), 40 - put);
    assert_eq!(w.sqs.in_flight("subs-dlq"), 0, "released");
    assert!(
        w.ledger
            .records()
            .iter()
            .all(|r| r.state == crate::ports::ledger::LedgerState::Done)
    );
    let disk: RunRecord =
        serde_json::from_str(&std::fs::read_to_string(&rec.path).unwrap()).unwrap();
    assert_eq!(disk.status, RunStatus::Interrupted);
}

#[tokio::test(start_paused = true)]
async fn ctrl_c_abandons_a_waiting_verify_step_with_exit_130() {
    let w = world(2, true);
    let src = "name = \"v\"\ndescription = \"d\"\nwhen = \"w\"\n[[steps]]\nkind = \"verify\"\nqueues_empty = [\"subs-dlq\"]\nwithin = \"10m\"\n";
    let started = tokio::time::Instant::now();
    let mut ui = TestUi {
        signal: Some((
            started + std::time::Duration::from_secs(12),
            Signal::Interrupt,
        )),
        ..TestUi::default()
    };
    let rec = run_it(&w, src, &w.opts(1, true), &mut ui).await.unwrap();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(13),
        "not the 10 minutes"
    );
    assert_eq!(rec.status, RunStatus::Interrupted, "{rec:#?}");
    assert_eq!(rec.exit_code, crate::exit_codes::INTERRUPTED);
    assert_eq!(rec.steps[0].status, StepStatus::Interrupted);
    assert_eq!(rec.steps[0].error.as_deref(), Some("interrupted by SIGINT"));
}

#[tokio::test]
async fn the_run_record_reads_its_times_from_the_run_clock() {
    let w = world(2, true);
    w.complete("fixed-replay");
    // Ahead of the plan's "now", so the planned replay window has ended by the run's clock.
    let t0 = Utc::now() + Duration::minutes(1);
    let clock = crate::clock::ManualClock::at(t0);
    let opts = RunOptions {
        clock: clock.clone(),
        ..w.opts(1, true)
    };
    let rec = run_it(&w, RECOVER, &opts, &mut TestUi::default())
        .await
        .unwrap();
    assert_eq!(rec.status, RunStatus::Succeeded, "{rec:#?}");
    assert_eq!(rec.started_at, t0);
    assert_eq!(rec.ended_at, Some(t0));
    for s in &rec.steps {
        assert_eq!((s.started_at, s.ended_at), (Some(t0), Some(t0)), "{s:#?}");
    }
}
