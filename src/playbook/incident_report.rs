//! The incident report of one playbook run, for the postmortem: its parameters, a timeline
//! of steps (times, outcomes, errors), each replay (window, rules, final state), each drain
//! or re-emit (counts, failed and parked messages with their reasons), the verification
//! results, and the command that runs each step again. Built from the run record alone
//! (the step reports it keeps are read as JSON), rendered as Markdown or serialized as JSON.
//!
//! What the record does not hold, and the report therefore cannot say:
//! - per-queue counts of a drain: its report has totals only, so per queue the report
//!   counts the failed and parked messages it lists, and gives the totals for the rest;
//! - how many events a replay delivered: EventBridge does not count them, so a replay
//!   names its event types and sources instead;
//! - the resolved fields of a step (only its report): the reproduce command is the playbook
//!   resumed at that step (`--from-step N --resume RUN_ID`, the run's parameters and
//!   earlier outputs reused), which also runs the steps after it;
//! - whether the run used `--yes`, except when its resume hint or a skipped confirm says so.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::history::status_word;
use super::record::{RunRecord, RunStatus, StepRecord, StepStatus};

#[derive(Debug, Clone, Serialize)]
pub struct IncidentReport {
    pub run_id: String,
    pub playbook: String,
    pub file: String,
    pub started_by: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub status: RunStatus,
    pub exit_code: u8,
    pub message: Option<String>,
    pub resumed_from: Option<String>,
    pub params: BTreeMap<String, String>,
    pub timeline: Vec<TimelineEntry>,
    pub replays: Vec<ReplaySection>,
    pub drains: Vec<DrainSection>,
    pub verifications: Vec<VerifySection>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TimelineEntry {
    pub number: usize,
    pub id: Option<String>,
    pub kind: String,
    pub title: Option<String>,
    pub status: StepStatus,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_seconds: Option<f64>,
    pub exit_code: Option<u8>,
    pub error: Option<String>,
    /// Runs this step again (and the steps after it) with the run's parameters.
    pub reproduce: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReplaySection {
    pub step: usize,
    pub name: Option<String>,
    pub archive: Option<String>,
    pub bus: Option<String>,
    pub window_start: Option<String>,
    pub window_end: Option<String>,
    pub rules: Vec<String>,
    pub event_types: Vec<String>,
    pub sources: Vec<String>,
    pub outcome: Option<String>,
    pub final_state: Option<String>,
    pub state_reason: Option<String>,
}

/// A message a drain could not re-emit, as its report lists it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MessageFailure {
    #[serde(default)]
    pub queue: String,
    #[serde(default)]
    pub message_id: String,
    #[serde(default)]
    pub dedup_key: Option<String>,
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub parked: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct QueueTally {
    pub queue: String,
    pub failed: u64,
    pub parked: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct DrainSection {
    pub step: usize,
    /// `drain` or `reemit`.
    pub kind: String,
    pub queues: Vec<String>,
    pub to: Option<String>,
    pub dry_run: bool,
    /// The run's totals, as its report counts them.
    pub counts: BTreeMap<String, u64>,
    pub per_queue: Vec<QueueTally>,
    pub failures: Vec<MessageFailure>,
    pub stopped_because: Option<String>,
}

/// A verify check's verdict, as its report lists it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckVerdict {
    #[serde(default)]
    pub check: String,
    #[serde(default)]
    pub ok: bool,
    #[serde(default)]
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerifySection {
    pub step: usize,
    pub attempts: Option<u64>,
    pub checks: Vec<CheckVerdict>,
}

fn text(v: &Json, path: &[&str]) -> Option<String> {
    let mut v = v;
    for p in path {
        v = v.get(p)?;
    }
    v.as_str().map(str::to_string)
}

fn texts(v: Option<&Json>) -> Vec<String> {
    v.and_then(Json::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn replay_section(step: usize, r: &Json) -> ReplaySection {
    let plan = r.get("plan");
    let rules = plan
        .and_then(|p| p.pointer("/rules/selected"))
        .and_then(Json::as_array)
        .map(|a| a.iter().filter_map(|c| text(c, &["name"])).collect())
        .unwrap_or_default();
    ReplaySection {
        step,
        name: text(r, &["name"]),
        archive: text(r, &["archive"]),
        bus: text(r, &["bus"]),
        window_start: text(r, &["window", "start"]),
        window_end: text(r, &["window", "end"]),
        rules,
        event_types: texts(plan.and_then(|p| p.get("event_types"))),
        sources: texts(plan.and_then(|p| p.get("sources"))),
        outcome: text(r, &["outcome"]),
        final_state: text(r, &["final_state"]),
        state_reason: text(r, &["state_reason"]),
    }
}

fn drain_section(step: usize, kind: &str, r: &Json) -> DrainSection {
    let failures: Vec<MessageFailure> = r
        .get("failures")
        .and_then(|f| serde_json::from_value(f.clone()).ok())
        .unwrap_or_default();
    let queues = texts(r.get("queues"));
    let mut per_queue: Vec<QueueTally> = queues
        .iter()
        .map(|q| QueueTally {
            queue: q.clone(),
            ..QueueTally::default()
        })
        .collect();
    for f in &failures {
        let i = match per_queue.iter().position(|t| t.queue == f.queue) {
            Some(i) => i,
            None => {
                per_queue.push(QueueTally {
                    queue: f.queue.clone(),
                    ..QueueTally::default()
                });
                per_queue.len() - 1
            }
        };
        if f.parked {
            per_queue[i].parked += 1;
        } else {
            per_queue[i].failed += 1;
        }
    }
    DrainSection {
        step,
        kind: kind.to_string(),
        queues,
        to: text(r, &["to"]),
        dry_run: r.get("dry_run").and_then(Json::as_bool).unwrap_or(false),
        counts: r
            .get("counts")
            .and_then(Json::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_u64().map(|n| (k.clone(), n)))
                    .collect()
            })
            .unwrap_or_default(),
        per_queue,
        failures,
        stopped_because: text(r, &["stopped_because"]).filter(|s| !s.is_empty()),
    }
}

fn verify_section(step: usize, r: &Json) -> VerifySection {
    VerifySection {
        step,
        attempts: r.get("attempts").and_then(Json::as_u64),
        checks: r
            .get("checks")
            .and_then(|c| serde_json::from_value(c.clone()).ok())
            .unwrap_or_default(),
    }
}

fn used_yes(r: &RunRecord) -> bool {
    r.resume.as_deref().is_some_and(|c| c.ends_with(" --yes"))
        || r.steps.iter().any(|s| s.status == StepStatus::Skipped)
}

fn timeline_entry(r: &RunRecord, s: &StepRecord) -> TimelineEntry {
    TimelineEntry {
        number: s.number,
        id: s.id.clone(),
        kind: s.kind.clone(),
        title: s.title.clone(),
        status: s.status,
        started_at: s.started_at,
        ended_at: s.ended_at,
        duration_seconds: s.duration_seconds,
        exit_code: s.exit_code,
        error: s.error.clone(),
        reproduce: format!(
            "nexus-replay playbook run {} --from-step {} --resume {}{}",
            r.playbook,
            s.number,
            r.run_id,
            if used_yes(r) { " --yes" } else { "" }
        ),
    }
}

/// The incident report of a run record.
pub fn incident_report(r: &RunRecord) -> IncidentReport {
    let mut replays = Vec::new();
    let mut drains = Vec::new();
    let mut verifications = Vec::new();
    for s in &r.steps {
        let Some(rep) = &s.report else { continue };
        match s.kind.as_str() {
            "replay" => replays.push(replay_section(s.number, rep)),
            "drain" | "reemit" => drains.push(drain_section(s.number, &s.kind, rep)),
            "verify" => verifications.push(verify_section(s.number, rep)),
            _ => {}
        }
    }
    IncidentReport {
        run_id: r.run_id.clone(),
        playbook: r.playbook.clone(),
        file: r.file.clone(),
        started_by: r.started_by.clone(),
        started_at: r.started_at,
        ended_at: r.ended_at,
        status: r.status,
        exit_code: r.exit_code,
        message: r.message.clone(),
        resumed_from: r.resumed_from.clone(),
        params: r
            .params
            .iter()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect(),
        timeline: r.steps.iter().map(|s| timeline_entry(r, s)).collect(),
        replays,
        drains,
        verifications,
    }
}

fn time(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| "-".into())
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn opt(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("-")
}

impl IncidentReport {
    /// The report as Markdown.
    pub fn markdown(&self) -> String {
        let mut s = format!(
            "# Incident report: playbook {} run {}\n\n",
            self.playbook, self.run_id
        );
        s.push_str(&format!(
            "- Status: **{}** (exit code {})\n- Playbook file: `{}`\n- Started by: {}\n- Started: {} UTC\n- Ended: {} UTC\n",
            status_word(self.status),
            self.exit_code,
            self.file,
            self.started_by,
            time(Some(self.started_at)),
            time(self.ended_at)
        ));
        if let Some(p) = &self.resumed_from {
            s.push_str(&format!("- Resumed from run: {p}\n"));
        }
        if let Some(m) = &self.message {
            s.push_str(&format!("- Outcome: {m}\n"));
        }
        s.push_str("\n## Parameters\n\n");
        if self.params.is_empty() {
            s.push_str("None.\n");
        }
        for (k, v) in &self.params {
            s.push_str(&format!("- `{k}` = `{v}`\n"));
        }
        s.push_str("\n## Timeline\n\n| Step | Kind | Title | Started (UTC) | Ended (UTC) | Time | Status | Exit | Error |\n|---|---|---|---|---|---|---|---|---|\n");
        for t in &self.timeline {
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {:?} | {} | {} |\n",
                t.number,
                t.kind,
                cell(opt(&t.title)),
                time(t.started_at),
                time(t.ended_at),
                t.duration_seconds
                    .map(|d| format!("{d:.1}s"))
                    .unwrap_or_else(|| "-".into()),
                t.status,
                t.exit_code
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "-".into()),
                cell(opt(&t.error))
            ));
        }
        for r in &self.replays {
            s.push_str(&format!(
                "\n## Replay (step {}): {}\n\n- Archive: {} → bus {}\n- Window: {} to {}\n- Rules: {}\n- Event types: {}\n- Sources: {}\n- Outcome: {}, final state {}{}\n",
                r.step,
                opt(&r.name),
                opt(&r.archive),
                opt(&r.bus),
                opt(&r.window_start),
                opt(&r.window_end),
                list(&r.rules),
                list(&r.event_types),
                list(&r.sources),
                opt(&r.outcome),
                opt(&r.final_state),
                r.state_reason.as_ref().map(|x| format!(" ({x})")).unwrap_or_default()
            ));
        }
        for d in &self.drains {
            s.push_str(&format!(
                "\n## {} (step {}){}\n\n- Queues: {}\n- Sent to: {}\n",
                if d.kind == "reemit" {
                    "Re-emit"
                } else {
                    "Drain"
                },
                d.step,
                if d.dry_run { " — dry run" } else { "" },
                list(&d.queues),
                opt(&d.to)
            ));
            let counts: Vec<String> = d
                .counts
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(k, n)| format!("{k} {n}"))
                .collect();
            s.push_str(&format!("- Totals: {}\n", list(&counts)));
            if let Some(b) = &d.stopped_because {
                s.push_str(&format!("- Stopped because: {b}\n"));
            }
            s.push_str("\n| Queue | Failed | Parked |\n|---|---|---|\n");
            for q in &d.per_queue {
                s.push_str(&format!("| {} | {} | {} |\n", q.queue, q.failed, q.parked));
            }
            if !d.failures.is_empty() {
                s.push_str("\nMessages not re-emitted:\n\n| Queue | Message | Key | Parked | Code | Reason |\n|---|---|---|---|---|---|\n");
                for f in &d.failures {
                    s.push_str(&format!(
                        "| {} | {} | {} | {} | {} | {} |\n",
                        f.queue,
                        f.message_id,
                        cell(f.dedup_key.as_deref().unwrap_or("-")),
                        if f.parked { "yes" } else { "no" },
                        f.code,
                        cell(&f.reason)
                    ));
                }
            }
        }
        if !self.verifications.is_empty() {
            s.push_str("\n## Verification\n\n");
            for v in &self.verifications {
                for c in &v.checks {
                    s.push_str(&format!(
                        "- step {}: {} {} ({})\n",
                        v.step,
                        if c.ok { "PASS" } else { "FAIL" },
                        c.check,
                        c.detail
                    ));
                }
            }
        }
        s.push_str("\n## Reproduce\n\nEach command runs the playbook again from that step, with this run's parameters and the outputs of the steps before it (the steps after it run too):\n\n");
        for t in &self.timeline {
            s.push_str(&format!(
                "- step {} ({}): `{}`\n",
                t.number, t.kind, t.reproduce
            ));
        }
        s
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "-".into()
    } else {
        items.join(", ")
    }
}

impl crate::output::Report for IncidentReport {
    fn human(&self) -> String {
        self.markdown()
    }
}

#[cfg(test)]
mod tests {
    use super::super::history::sample_record;
    use super::super::load::Value;
    use super::super::record::StepRecord;
    use super::*;
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
        assert!(failed_row.contains("Failed"), "{failed_row}");
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
            md.contains("| 1 | doctor | the doctor step | - | - | - | NotRun | - | - |"),
            "{md}"
        );
        assert!(md.contains(
            "- step 2 (replay): `nexus-replay playbook run outage --from-step 2 --resume nexus-bare`"
        ));
    }

    #[tokio::test]
    async fn a_real_run_with_a_poison_message_names_it_and_its_reason() {
        use super::super::test_world::{RECOVER, TestUi, run_it, world};
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
}
