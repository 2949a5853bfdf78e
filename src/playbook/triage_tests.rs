//! A playbook's `triage` step: its counts are outputs later steps use and the run records.

use super::exec::*;
use super::test_world::*;
use chrono::{Duration, Utc};
use serde_json::json;
use std::collections::VecDeque;

const TRIAGE: &str = r#"name = "triage"
description = "triage, then ask"
when = "tests"

[[steps]]
id = "t"
kind = "triage"
bus = "billing"
since = "2h"

[[steps]]
kind = "confirm"
message = "${steps.t.lost} lost, ${steps.t.in_dlq} in DLQs: go on?"
"#;

/// Runs [`TRIAGE`] on the fakes after putting the subscription rule's failed deliveries and
/// those sent to its DLQ an hour ago; answers the confirm step yes.
async fn run_triage(failed: f64, in_dlq: f64) -> (RunRecord, TestUi) {
    let w = world(1, true);
    let dims = [
        ("RuleName", "subscription-rule"),
        ("EventBusName", "billing"),
    ];
    let at = Utc::now() - Duration::hours(1);
    w.metrics
        .put("AWS/Events", "FailedInvocations", &dims, at, failed);
    w.metrics
        .put("AWS/Events", "InvocationsSentToDlq", &dims, at, in_dlq);
    let mut ui = TestUi {
        answers: VecDeque::from([true]),
        ..TestUi::default()
    };
    let rec = run_it(&w, TRIAGE, &w.opts(1, false), &mut ui)
        .await
        .unwrap();
    (rec, ui)
}

#[tokio::test]
async fn a_triage_step_outputs_its_counts_per_rule_and_in_all() {
    let (rec, ui) = run_triage(3.0, 1.0).await;
    assert_eq!(rec.status, RunStatus::Succeeded, "{rec:#?}");
    assert_eq!(ui.asked, vec!["2 lost, 1 in DLQs: go on?"]);
    let out = &rec.steps[0].outputs;
    assert_eq!(out["failed"], json!(3));
    assert_eq!(
        out["rules"]["subscription-rule"],
        json!({"failed": 3, "in_dlq": 1, "lost": 2})
    );
    assert!(
        rec.steps[0]
            .report
            .as_ref()
            .is_some_and(|r| r["totals"]["lost"] == json!(2)),
        "{:#?}",
        rec.steps[0].report
    );
}

/// The run's incident report shows a triage step: its totals, and a table of rules with
/// what each failed, sent to its DLQ and lost, and the commands that recover them.
#[tokio::test]
async fn the_incident_report_shows_a_triage_step_as_a_table_of_rules() {
    let (rec, _) = run_triage(5.0, 3.0).await;
    let report = super::incident_report::incident_report(&rec);
    let t = &report.triages[0];
    assert_eq!((t.step, t.failed, t.in_dlq, t.lost), (1, 5, 3, 2));
    assert_eq!(t.bus.as_deref(), Some("billing"));
    let md = report.markdown();
    assert!(
        md.contains("## Triage (step 1): bus billing")
            && md.contains("- Failed deliveries: 5, in DLQs: 3, lost (never reached a DLQ): 2")
            && md.contains("| Rule | Failed | In DLQ | Lost | Recover with |"),
        "{md}"
    );
    let row = md
        .lines()
        .find(|l| l.starts_with("| subscription-rule |"))
        .unwrap_or_else(|| panic!("no row for the rule: {md}"));
    assert!(
        row.starts_with("| subscription-rule | 5 | 3 | 2 | `nexus-replay drain --bus billing --rule subscription-rule")
            && row.contains("`nexus-replay start --bus billing --rule subscription-rule --since "),
        "{row}"
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["triages"][0]["rules"][0]["lost"], json!(2));
}
