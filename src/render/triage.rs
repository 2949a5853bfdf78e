//! `triage`: the rules' delivery metrics, the DLQs, the archives, and a verdict per rule
//! with the commands to paste.

use crate::output::{Report, Table, time};
use crate::triage::{Coverage, TriageReport};

impl Report for TriageReport {
    fn human(&self) -> String {
        let mut s = format!(
            "Triage of bus {}, {} to {} ({})\n\n",
            self.bus,
            time(Some(self.since)),
            time(Some(self.until)),
            self.resolution.note
        );
        if self.rules.is_empty() {
            s.push_str("The bus has no rules of its own.\n");
            return s;
        }
        let mut t = Table::new([
            "RULE",
            "MATCHED",
            "INVOKED",
            "FAILED",
            "TO DLQ",
            "DLQ FAIL",
            "THROTTLED",
            "RETRIES",
        ]);
        for r in &self.rules {
            let m = &r.metrics;
            t.row([
                r.rule.clone(),
                m.matched_events.to_string(),
                m.invocations.to_string(),
                m.failed_invocations.to_string(),
                m.invocations_sent_to_dlq.to_string(),
                m.invocations_failed_to_be_sent_to_dlq.to_string(),
                m.throttled_rules.to_string(),
                m.retry_invocation_attempts.to_string(),
            ]);
        }
        s.push_str(&t.render());
        if !self.dlqs.is_empty() {
            s.push('\n');
            let mut t = Table::new(["DLQ", "VISIBLE~", "IN-FLIGHT~", "OLDEST", "RULES"]);
            for d in &self.dlqs {
                let (v, f) = match &d.depth {
                    Some(x) => (x.visible.to_string(), x.in_flight.to_string()),
                    None => ("?".into(), "?".into()),
                };
                let age = d
                    .oldest_message_age_seconds
                    .map(|a| crate::window::human_duration(chrono::Duration::seconds(a as i64)))
                    .unwrap_or_else(|| "-".into());
                t.row([d.name.clone(), v, f, age, d.rules.join(", ")]);
            }
            s.push_str(&t.render());
            for d in &self.dlqs {
                if let Some(e) = &d.error {
                    s.push_str(&format!("warning: {}: {e}\n", d.name));
                }
            }
        }
        s.push('\n');
        if self.archives.is_empty() {
            s.push_str(
                "Archives: none on this bus; what never reached a DLQ cannot be replayed.\n",
            );
        }
        for a in &self.archives {
            let cov = match a.coverage {
                Coverage::Full => "covers the window",
                Coverage::Partial => "covers part of the window",
                Coverage::None => "does not cover the window",
            };
            let note = a
                .note
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default();
            s.push_str(&format!("Archive {} {}: {cov}{note}\n", a.name, a.state));
        }
        s.push('\n');
        let mut quiet = Vec::new();
        for r in &self.rules {
            let v = &r.verdict;
            if v.failed == 0 && v.actions.is_empty() {
                quiet.push(r.rule.as_str());
                continue;
            }
            s.push_str(&format!(
                "{}: {} deliveries failed, {} in its DLQ, {} never reached a DLQ\n",
                r.rule, v.failed, v.in_dlq, v.lost
            ));
            for a in &v.actions {
                s.push_str(&format!("  {}\n", a.text));
                if let Some(c) = &a.command {
                    s.push_str(&format!("    {c}\n"));
                }
            }
        }
        if !quiet.is_empty() {
            s.push_str(&format!("No failed delivery: {}\n", quiet.join(", ")));
        }
        s.push_str(&format!(
            "\nIn all: {} failed, {} in DLQs, {} never reached a DLQ.\n",
            self.totals.failed, self.totals.in_dlq, self.totals.lost
        ));
        for w in &self.warnings {
            s.push_str(&format!("warning: {w}\n"));
        }
        s
    }
}
