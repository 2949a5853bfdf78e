//! The incident report rendered as Markdown, for the postmortem document: a summary, the
//! parameters, the timeline table, a section per triage (a table of rules: failed, in DLQ,
//! lost, the commands that recover them), per replay and per drain (with the messages
//! not re-emitted and why), the verification verdicts, and the reproduce commands.

use chrono::{DateTime, Utc};

use super::history::status_word;
use super::incident_report::IncidentReport;

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

/// A Markdown table; every cell escaped.
fn table<const N: usize>(
    headers: [&str; N],
    rows: impl IntoIterator<Item = [String; N]>,
) -> String {
    let mut s = format!("| {} |\n|{}\n", headers.join(" | "), "---|".repeat(N));
    for r in rows {
        let cells: Vec<String> = r.iter().map(|c| cell(c)).collect();
        s.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    s
}

/// A status as its JSON reads (`failed`, `not_run`).
fn word<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|j| j.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn or_dash<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_else(|| "-".into())
}

impl IncidentReport {
    /// The report as Markdown.
    pub fn markdown(&self) -> String {
        let mut s = self.summary();
        s.push_str("\n## Parameters\n\n");
        if self.params.is_empty() {
            s.push_str("None.\n");
        }
        for (k, v) in &self.params {
            s.push_str(&format!("- `{k}` = `{v}`\n"));
        }
        s.push_str("\n## Timeline\n\n");
        s.push_str(&table(
            [
                "Step",
                "Kind",
                "Title",
                "Started (UTC)",
                "Ended (UTC)",
                "Time",
                "Status",
                "Exit",
                "Error",
            ],
            self.timeline.iter().map(|t| {
                [
                    t.number.to_string(),
                    t.kind.clone(),
                    opt(&t.title).to_string(),
                    time(t.started_at),
                    time(t.ended_at),
                    or_dash(t.duration_seconds.map(|d| format!("{d:.1}s"))),
                    word(&t.status),
                    or_dash(t.exit_code),
                    opt(&t.error).to_string(),
                ]
            }),
        ));
        self.triages(&mut s);
        self.replays_and_drains(&mut s);
        if !self.verifications.is_empty() {
            s.push_str("\n## Verification\n\n");
            for v in &self.verifications {
                for c in &v.checks {
                    let verdict = if c.ok { "PASS" } else { "FAIL" };
                    s.push_str(&format!(
                        "- step {}: {verdict} {} ({})\n",
                        v.step, c.check, c.detail
                    ));
                }
            }
        }
        if !self.notifications.is_empty() {
            s.push_str("\n## Notifications\n\n");
            for n in &self.notifications {
                let topic = opt(&n.topic_arn);
                s.push_str(&match (&n.error, n.published) {
                    (Some(e), _) => format!("- step {}: NOT published: {e}\n", n.step),
                    (None, true) => format!(
                        "- step {}: published to {topic} (message {})\n",
                        n.step,
                        opt(&n.message_id)
                    ),
                    (None, false) => format!(
                        "- step {}: nothing published (the run had not failed)\n",
                        n.step
                    ),
                });
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

    fn summary(&self) -> String {
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
        s
    }

    fn triages(&self, s: &mut String) {
        for t in &self.triages {
            s.push_str(&format!(
                "\n## Triage (step {}): bus {}\n\n- Window: {} to {}\n- Failed deliveries: {}, in DLQs: {}, lost (never reached a DLQ): {}\n\n",
                t.step,
                opt(&t.bus),
                opt(&t.since),
                opt(&t.until),
                t.failed,
                t.in_dlq,
                t.lost
            ));
            s.push_str(&table(
                ["Rule", "Failed", "In DLQ", "Lost", "Recover with"],
                t.rules.iter().map(|r| {
                    let commands: Vec<String> =
                        r.commands.iter().map(|c| format!("`{c}`")).collect();
                    [
                        r.rule.clone(),
                        r.failed.to_string(),
                        r.in_dlq.to_string(),
                        r.lost.to_string(),
                        list(&commands),
                    ]
                }),
            ));
        }
    }

    fn replays_and_drains(&self, s: &mut String) {
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
            let title = if d.kind == "reemit" {
                "Re-emit"
            } else {
                "Drain"
            };
            let dry = if d.dry_run { " — dry run" } else { "" };
            s.push_str(&format!(
                "\n## {title} (step {}){dry}\n\n- Queues: {}\n- Sent to: {}\n",
                d.step,
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
            s.push('\n');
            s.push_str(&table(
                ["Queue", "Failed", "Parked"],
                d.per_queue
                    .iter()
                    .map(|q| [q.queue.clone(), q.failed.to_string(), q.parked.to_string()]),
            ));
            if !d.failures.is_empty() {
                s.push_str("\nMessages not re-emitted:\n\n");
                s.push_str(&table(
                    ["Queue", "Message", "Key", "Parked", "Code", "Reason"],
                    d.failures.iter().map(|f| {
                        [
                            f.queue.clone(),
                            f.message_id.clone(),
                            or_dash(f.dedup_key.as_ref()),
                            (if f.parked { "yes" } else { "no" }).to_string(),
                            f.code.clone(),
                            f.reason.clone(),
                        ]
                    }),
                ));
            }
            if d.failures_not_kept > 0 {
                s.push_str(&format!(
                    "\n… and {} more message(s) not re-emitted, beyond those the run record keeps; the per-queue counts above cover only the messages listed, `dlq peek` shows what is still in a queue.\n",
                    d.failures_not_kept
                ));
            }
        }
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
