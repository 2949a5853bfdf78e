//! A rule's verdict: how many deliveries failed, how many are in its DLQ (drain them), how
//! many never reached a DLQ (replay the window from an archive, or reconcile with Stripe
//! when no archive covers it), with the commands to paste.

use chrono::SecondsFormat;
use serde::Serialize;
use serde_json::Value;

use super::{ArchiveCoverage, Coverage, DlqTriage, RuleMetrics, TriageRequest};
use crate::playbook::shell_quote;
use crate::ports::bus::RuleInfo;

/// What to do about part of a rule's failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Re-deliver what is in the rule's DLQs.
    Drain,
    /// Replay the window from an archive to the rule.
    Replay,
    /// No archive covers the window: compare with the producer's own record.
    Reconcile,
}

/// One recovery step, with its command when there is one to run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Action {
    pub kind: ActionKind,
    /// How many events it is about.
    pub count: u64,
    pub text: String,
    pub command: Option<String>,
}

/// What happened to a rule's deliveries in the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// `FailedInvocations`.
    pub failed: u64,
    /// `InvocationsSentToDlq`.
    pub in_dlq: u64,
    /// Failed and never in a DLQ: `FailedInvocations - InvocationsSentToDlq`, or
    /// `InvocationsFailedToBeSentToDlq` when larger.
    pub lost: u64,
    /// Messages in the rule's DLQs now (visible and in flight); None without a readable DLQ.
    pub dlq_messages_now: Option<u64>,
    pub actions: Vec<Action>,
}

/// True when the rule's events come from a partner event source (`aws.partner/...`), which
/// PutEvents cannot re-emit: a drain delivers them to the target (`--to target`).
pub fn partner_source(bus: &str, rule: &RuleInfo) -> bool {
    if bus.starts_with("aws.partner/") {
        return true;
    }
    let Some(pattern) = rule
        .event_pattern
        .as_deref()
        .and_then(|p| serde_json::from_str::<Value>(p).ok())
    else {
        return false;
    };
    let partner = |v: &Value| match v {
        Value::String(s) => s.starts_with("aws.partner/"),
        Value::Object(o) => o
            .get("prefix")
            .and_then(Value::as_str)
            .is_some_and(|p| p.starts_with("aws.partner")),
        _ => false,
    };
    match pattern.get("source") {
        Some(Value::Array(items)) => items.iter().any(partner),
        _ => false,
    }
}

/// A command line, each word shell-quoted where it needs it.
fn command(words: &[&str]) -> String {
    words
        .iter()
        .map(|w| shell_quote(w))
        .collect::<Vec<_>>()
        .join(" ")
}

pub(super) fn verdict(
    bus: &str,
    rule: &RuleInfo,
    m: &RuleMetrics,
    dlqs: &[DlqTriage],
    archives: &[ArchiveCoverage],
    req: &TriageRequest,
) -> Verdict {
    let failed = m.failed_invocations;
    let in_dlq = m.invocations_sent_to_dlq;
    let lost = failed
        .saturating_sub(in_dlq)
        .max(m.invocations_failed_to_be_sent_to_dlq);
    let own: Vec<&DlqTriage> = dlqs
        .iter()
        .filter(|d| d.rules.iter().any(|r| r == &rule.name))
        .collect();
    let now: Option<u64> = own
        .iter()
        .filter_map(|d| d.depth.map(|x| x.visible + x.in_flight))
        .reduce(|a, b| a + b);
    let mut actions = Vec::new();
    if in_dlq > 0 || now.is_some_and(|n| n > 0) {
        let names: Vec<&str> = own.iter().map(|d| d.name.as_str()).collect();
        if now == Some(0) {
            actions.push(Action {
                kind: ActionKind::Drain,
                count: in_dlq,
                text: format!(
                    "{in_dlq} went to its DLQ ({}), empty now: already drained, or expired by the queue's retention",
                    names.join(", ")
                ),
                command: None,
            });
        } else {
            let mut words = vec!["nexus-replay", "drain", "--bus", bus, "--rule", &rule.name];
            if partner_source(bus, rule) {
                words.extend(["--to", "target"]);
            }
            let held = now.map_or("?".to_string(), |n| n.to_string());
            let text = if in_dlq > 0 {
                format!(
                    "{in_dlq} went to its DLQ ({}, {held} messages now): drain them",
                    names.join(", ")
                )
            } else {
                format!(
                    "none went to its DLQ in the window, but it holds {held} messages ({}): drain them",
                    names.join(", ")
                )
            };
            actions.push(Action {
                kind: ActionKind::Drain,
                count: in_dlq,
                text,
                command: Some(command(&words)),
            });
        }
    }
    if lost > 0 {
        let pick = archives
            .iter()
            .find(|a| a.coverage == Coverage::Full)
            .or_else(|| archives.iter().find(|a| a.coverage == Coverage::Partial));
        match pick {
            Some(a) => {
                let since = req.start.to_rfc3339_opts(SecondsFormat::AutoSi, true);
                let until = req.end.to_rfc3339_opts(SecondsFormat::AutoSi, true);
                let mut words = vec!["nexus-replay", "start", "--bus", bus];
                if archives.len() > 1 {
                    words.extend(["--archive", a.name.as_str()]);
                }
                words.extend(["--rule", &rule.name, "--since", &since, "--until", &until]);
                let partial = if a.coverage == Coverage::Partial {
                    format!(" ({})", a.note.as_deref().unwrap_or("partly"))
                } else {
                    String::new()
                };
                actions.push(Action {
                    kind: ActionKind::Replay,
                    count: lost,
                    text: format!(
                        "{lost} never reached a DLQ: replay the window to this rule from archive {}{partial}",
                        a.name
                    ),
                    command: Some(command(&words)),
                });
            }
            None => actions.push(Action {
                kind: ActionKind::Reconcile,
                count: lost,
                text: format!(
                    "{lost} never reached a DLQ, and no archive covers this: see `nexus-replay stripe reconcile`"
                ),
                command: None,
            }),
        }
    }
    Verdict {
        failed,
        in_dlq,
        lost,
        dlq_messages_now: now,
        actions,
    }
}
