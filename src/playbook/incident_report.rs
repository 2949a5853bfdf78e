//! The incident report of one playbook run, for the postmortem: its parameters, a timeline
//! of steps (times, outcomes, errors), each triage (what each rule failed, sent to its DLQ
//! and lost, and the commands that recover it), each replay (window, rules, final state), each drain
//! or re-emit (counts, failed and parked messages with their reasons), the verification
//! results, the notifications sent, and the command that runs each step again. Built from the run record alone
//! (the step reports it keeps are read as JSON), serialized as JSON or rendered as Markdown
//! (`incident_markdown`).
//!
//! What the record does not hold, and the report therefore cannot say:
//! - more than the first 200 failed or parked messages of a drain (`steps::FAILURES_KEPT`):
//!   the report says how many more there were;
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

use super::record::{RunRecord, RunStatus, StepRecord, StepStatus};
use super::run::shell_quote;

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
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub triages: Vec<TriageSection>,
    pub replays: Vec<ReplaySection>,
    pub drains: Vec<DrainSection>,
    pub verifications: Vec<VerifySection>,
    pub notifications: Vec<NotifySection>,
}

/// A notify step that ran: where it published, or why not.
#[derive(Debug, Clone, Serialize)]
pub struct NotifySection {
    pub step: usize,
    pub status: StepStatus,
    pub topic_arn: Option<String>,
    pub published: bool,
    pub message_id: Option<String>,
    pub error: Option<String>,
}

fn notify_section(s: &StepRecord) -> NotifySection {
    let out = |k: &str| s.outputs.get(k).and_then(Json::as_str).map(str::to_string);
    NotifySection {
        step: s.number,
        status: s.status,
        topic_arn: out("topic_arn"),
        published: s.outputs.get("published").and_then(Json::as_bool) == Some(true),
        message_id: out("message_id"),
        error: s.error.clone(),
    }
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

/// A triage step's counts (its outputs), with its window and each rule's recovery
/// commands when its report is kept.
#[derive(Debug, Clone, Serialize)]
pub struct TriageSection {
    pub step: usize,
    pub bus: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub failed: u64,
    pub in_dlq: u64,
    pub lost: u64,
    pub rules: Vec<TriageRule>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TriageRule {
    pub rule: String,
    pub failed: u64,
    pub in_dlq: u64,
    pub lost: u64,
    /// The commands its verdict gives (drain, start), ready to paste.
    pub commands: Vec<String>,
}

fn triage_section(s: &StepRecord) -> TriageSection {
    let count = |v: Option<&Json>, k: &str| v.and_then(|v| v.get(k)).and_then(Json::as_u64);
    let out = |k: &str| s.outputs.get(k).and_then(Json::as_u64).unwrap_or(0);
    let report = s.report.as_ref();
    let commands = |rule: &str| -> Vec<String> {
        report
            .and_then(|r| r.get("rules"))
            .and_then(Json::as_array)
            .and_then(|rs| rs.iter().find(|x| x["rule"] == rule))
            .and_then(|x| x["verdict"]["actions"].as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|x| x["command"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let rules = s
        .outputs
        .get("rules")
        .and_then(Json::as_object)
        .map(|m| {
            m.iter()
                .map(|(rule, c)| TriageRule {
                    rule: rule.clone(),
                    failed: count(Some(c), "failed").unwrap_or(0),
                    in_dlq: count(Some(c), "in_dlq").unwrap_or(0),
                    lost: count(Some(c), "lost").unwrap_or(0),
                    commands: commands(rule),
                })
                .collect()
        })
        .unwrap_or_default();
    TriageSection {
        step: s.number,
        bus: s
            .outputs
            .get("bus")
            .and_then(Json::as_str)
            .map(str::to_string),
        since: report.and_then(|r| text(r, &["since"])),
        until: report.and_then(|r| text(r, &["until"])),
        failed: out("failed"),
        in_dlq: out("in_dlq"),
        lost: out("lost"),
        rules,
    }
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
    /// Failed or parked messages beyond those the record keeps (`steps::FAILURES_KEPT`).
    pub failures_not_kept: u64,
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
        failures_not_kept: r
            .get("failures_not_kept")
            .and_then(Json::as_u64)
            .unwrap_or(0),
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
            shell_quote(r.invoked_as.as_deref().unwrap_or(&r.playbook)),
            s.number,
            r.run_id,
            if used_yes(r) { " --yes" } else { "" }
        ),
    }
}

/// The incident report of a run record.
pub fn incident_report(r: &RunRecord) -> IncidentReport {
    let mut triages = Vec::new();
    let mut replays = Vec::new();
    let mut drains = Vec::new();
    let mut verifications = Vec::new();
    let mut notifications = Vec::new();
    for s in &r.steps {
        if s.kind == "notify" && !matches!(s.status, StepStatus::NotRun | StepStatus::Resumed) {
            notifications.push(notify_section(s));
        }
        if s.kind == "triage" && s.outputs.contains_key("rules") {
            triages.push(triage_section(s));
        }
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
        triages,
        replays,
        drains,
        verifications,
        notifications,
    }
}
