//! The incident report of run records: its sections in Markdown and JSON, a failed step's
//! reason, and the messages a drain could not re-emit, from hand-made and real runs.

use super::history::sample_record;
use super::incident_report::*;
use super::load::Value;
use super::record::{RunRecord, RunStatus, StepRecord, StepStatus};
use chrono::{DateTime, Utc};
use serde_json::Value as Json;
use serde_json::json;

fn done(s: &mut StepRecord, status: StepStatus, at: &str, report: Json) {
    let t: DateTime<Utc> = at.parse().unwrap();
    s.status = status;
    s.started_at = Some(t);
    s.ended_at = Some(t + chrono::Duration::seconds(20));
    s.duration_seconds = Some(20.0);
    s.exit_code = Some(if status == StepStatus::Ok { 0 } else { 4 });
    s.report = Some(report);
}

/// A run whose replay completed and whose drain failed one message and parked another.
fn failed_run() -> RunRecord {
    let mut r = sample_record("nexus-20261101T100000-abc123", "2026-11-01T10:00:00Z");
    r.params
        .insert("since".into(), Value::Str("2026-11-01T08:00:00Z".into()));
    done(
        &mut r.steps[0],
        StepStatus::Ok,
        "2026-11-01T10:00:01Z",
        json!({}),
    );
    done(
        &mut r.steps[1],
        StepStatus::Ok,
        "2026-11-01T10:00:30Z",
        json!({
            "name": "nr-outage-1", "archive": "arch-x", "bus": "bus-x",
            "window": {"start": "2026-11-01T08:00:00Z", "end": "2026-11-01T09:00:00Z"},
            "outcome": "completed", "final_state": "COMPLETED", "state_reason": null,
            "plan": {"event_types": ["invoice.paid"], "sources": ["stripe"],
                     "rules": {"selected": [{"name": "rule-billing"}], "catch_all": []}}
        }),
    );
    done(
        &mut r.steps[2],
        StepStatus::Failed,
        "2026-11-01T10:01:00Z",
        json!({
            "queues": ["dlq-a", "dlq-b"], "to": "bus", "dry_run": false,
            "counts": {"received": 5, "reemitted": 3, "failed": 1, "parked": 1},
            "failures": [
                {"queue": "dlq-a", "message_id": "m-1", "dedup_key": "evt_1",
                 "code": "NOT_JSON", "reason": "the body is not JSON", "parked": true},
                {"queue": "dlq-b", "message_id": "m-2", "dedup_key": null,
                 "code": "PUT_FAILED", "reason": "InternalFailure from PutEvents", "parked": false}
            ],
            "stopped_because": "the queues are empty"
        }),
    );
    r.steps[2].error = Some("1 message(s) failed, 1 were parked".into());
    r.status = RunStatus::Failed;
    r.exit_code = 4;
    r.failed_step = Some(3);
    r.message = Some("step 3 (drain) failed: 1 message(s) failed, 1 were parked".into());
    r.resume = Some(format!(
        "nexus-replay playbook run outage --from-step 3 --resume {} --yes",
        r.run_id
    ));
    r.ended_at = Some("2026-11-01T10:01:20Z".parse().unwrap());
    r
}

#[test]
fn the_markdown_has_every_section_and_the_failed_step_shows_its_reason() {
    let md = incident_report(&failed_run()).markdown();
    for section in [
        "# Incident report: playbook outage run nexus-20261101T100000-abc123",
        "## Parameters",
        "## Timeline",
        "## Replay (step 2): nr-outage-1",
        "## Drain (step 3)",
        "## Reproduce",
    ] {
        assert!(md.contains(section), "no {section:?} in:\n{md}");
    }
    assert!(md.contains("- Status: **FAILED** (exit code 4)"), "{md}");
    assert!(md.contains("- `since` = `2026-11-01T08:00:00Z`"), "{md}");
    let failed_row = md
        .lines()
        .find(|l| l.starts_with("| 3 | drain |"))
        .expect("a timeline row for step 3");
    assert!(failed_row.contains("| failed |"), "{failed_row}");
    assert!(
        failed_row.contains("1 message(s) failed, 1 were parked"),
        "{failed_row}"
    );
    assert!(md.contains("- Window: 2026-11-01T08:00:00Z to 2026-11-01T09:00:00Z"));
    assert!(md.contains("- Rules: rule-billing"));
    assert!(md.contains("- Event types: invoice.paid"));
    assert!(md.contains("final state COMPLETED"));
    assert!(
        md.contains("| dlq-a | 0 | 1 |") && md.contains("| dlq-b | 1 | 0 |"),
        "{md}"
    );
    assert!(md.contains("| dlq-a | m-1 | evt_1 | yes | NOT_JSON | the body is not JSON |"));
    assert!(md.contains("InternalFailure from PutEvents"));
    assert!(md.contains("received 5, reemitted 3"), "{md}");
    assert!(md.contains(
        "`nexus-replay playbook run outage --from-step 3 --resume nexus-20261101T100000-abc123 --yes`"
    ));
    assert!(!md.contains("## Verification"), "no verify step ran");
}

#[test]
fn verification_results_are_listed_pass_and_fail() {
    let mut r = failed_run();
    let mut v = r.steps[0].clone();
    v.number = 4;
    v.kind = "verify".into();
    done(
        &mut v,
        StepStatus::Failed,
        "2026-11-01T10:02:00Z",
        json!({"attempts": 3, "checks": [
            {"check": "queue dlq-a is empty", "ok": false, "detail": "~1 visible"},
            {"check": "replay nr-outage-1 is COMPLETED", "ok": true, "detail": "COMPLETED"}
        ]}),
    );
    r.steps.push(v);
    let report = incident_report(&r);
    assert_eq!(report.verifications[0].attempts, Some(3));
    let md = report.markdown();
    assert!(md.contains("## Verification"));
    assert!(
        md.contains("- step 4: FAIL queue dlq-a is empty (~1 visible)"),
        "{md}"
    );
    assert!(
        md.contains("- step 4: PASS replay nr-outage-1 is COMPLETED"),
        "{md}"
    );
}

#[test]
fn the_json_holds_the_same_sections() {
    let j = serde_json::to_value(incident_report(&failed_run())).unwrap();
    assert_eq!(j["status"], "failed");
    assert_eq!(j["params"]["since"], "2026-11-01T08:00:00Z");
    assert_eq!(j["timeline"].as_array().unwrap().len(), 3);
    assert_eq!(j["timeline"][2]["status"], "failed");
    assert_eq!(
        j["timeline"][2]["error"],
        "1 message(s) failed, 1 were parked"
    );
    assert_eq!(j["replays"][0]["rules"], json!(["rule-billing"]));
    assert_eq!(j["drains"][0]["counts"]["received"], 5);
    assert_eq!(
        j["drains"][0]["failures"][0]["reason"],
        "the body is not JSON"
    );
    assert_eq!(j["drains"][0]["per_queue"][1]["failed"], 1);
    assert!(j["verifications"].as_array().unwrap().is_empty());
}

#[test]
fn a_run_without_reports_still_has_a_timeline_and_commands() {
    let r = sample_record("nexus-bare", "2026-11-02T10:00:00Z");
    let report = incident_report(&r);
    assert!(report.replays.is_empty() && report.drains.is_empty());
    let md = report.markdown();
    assert!(md.contains("None."), "no parameters: {md}");
    assert!(
        md.contains("| 1 | doctor | the doctor step | - | - | - | not_run | - | - |"),
        "{md}"
    );
    assert!(md.contains(
        "- step 2 (replay): `nexus-replay playbook run outage --from-step 2 --resume nexus-bare`"
    ));
}

#[tokio::test]
async fn a_real_run_with_a_poison_message_names_it_and_its_reason() {
    use super::test_world::{RECOVER, TestUi, run_it, world};
    let w = world(3, true);
    w.complete("fixed-replay");
    w.sqs
        .push("subs-dlq", "not json at all", Default::default());
    let rec = run_it(&w, RECOVER, &w.opts(1, true), &mut TestUi::default())
        .await
        .unwrap();
    assert_eq!(rec.failed_step, Some(4), "{rec:#?}");
    let report = incident_report(&rec);
    let replay = &report.replays[0];
    assert_eq!(replay.name.as_deref(), Some("fixed-replay"));
    assert_eq!(replay.final_state.as_deref(), Some("COMPLETED"));
    assert!(
        replay.window_start.is_some() && !replay.rules.is_empty(),
        "{replay:?}"
    );
    assert_eq!(replay.event_types, ["customer.subscription.updated"]);
    let drain = &report.drains[0];
    assert_eq!(drain.queues, ["subs-dlq"]);
    assert_eq!(drain.counts["reemitted"], 3);
    assert_eq!(drain.failures.len(), 1, "{drain:?}");
    assert_eq!(drain.per_queue[0].failed, 1);
    let f = &drain.failures[0];
    let md = report.markdown();
    assert!(!f.reason.is_empty() && md.contains(&f.reason), "{md}");
    assert!(
        md.contains(&format!("| subs-dlq | {} |", f.message_id)),
        "{md}"
    );
    assert!(
        md.contains("| 4 | drain |") && md.contains("1 message(s) failed"),
        "{md}"
    );
}

#[test]
fn a_drain_with_more_failures_than_the_record_keeps_says_how_many_more() {
    let mut r = failed_run();
    assert!(!incident_report(&r).markdown().contains("more message(s)"));
    r.steps[2].report.as_mut().unwrap()["failures_not_kept"] = json!(1234);
    let report = incident_report(&r);
    assert_eq!(report.drains[0].failures_not_kept, 1234);
    let md = report.markdown();
    assert!(
        md.contains("… and 1234 more message(s) not re-emitted, beyond those the run record keeps"),
        "{md}"
    );
}

#[test]
fn notifications_say_where_they_went_or_why_not() {
    let mut r = failed_run();
    let notify = |number: usize, status: StepStatus, outputs: Json, error: Option<&str>| {
        let mut s = r.steps[0].clone();
        s.number = number;
        s.kind = "notify".into();
        s.status = status;
        s.outputs = serde_json::from_value(outputs).unwrap();
        s.error = error.map(str::to_string);
        s
    };
    let page = notify(
        4,
        StepStatus::Ok,
        json!({"topic_arn": "arn:aws:sns:us-east-2:1:oncall", "message_id": "m-9", "published": true}),
        None,
    );
    let broken = notify(
        5,
        StepStatus::Failed,
        json!({"topic_arn": "arn:aws:sns:us-east-2:1:gone", "message_id": null, "published": false}),
        Some("cannot publish to arn:aws:sns:us-east-2:1:gone: NotFound"),
    );
    let later = notify(6, StepStatus::NotRun, json!({}), None);
    r.steps.extend([page, broken, later]);
    r.invoked_as = Some("my playbooks/outage.toml".into());
    let report = incident_report(&r);
    assert_eq!(
        report.notifications.len(),
        2,
        "a notify that did not run is not one"
    );
    let md = report.markdown();
    assert!(
        md.contains("- step 4: published to arn:aws:sns:us-east-2:1:oncall (message m-9)\n"),
        "{md}"
    );
    assert!(
        md.contains(
            "- step 5: NOT published: cannot publish to arn:aws:sns:us-east-2:1:gone: NotFound\n"
        ),
        "{md}"
    );
    assert!(
        md.contains(
            "`nexus-replay playbook run 'my playbooks/outage.toml' --from-step 3 --resume "
        ),
        "the reproduce commands name the playbook as the run did: {md}"
    );
}
