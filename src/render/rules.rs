//! `rules`: each rule of a bus with its pattern, targets, DLQs and retry policy.

use crate::commands::rules::{RulesReport, retry_text};
use crate::output::Report;
use crate::ports::bus::RuleInfo;

fn rule_block(r: &RuleInfo, out: &mut String) {
    out.push_str(&format!("{}  {}\n", r.name, r.state));
    if let Some(p) = &r.event_pattern {
        out.push_str(&format!("  pattern: {p}\n"));
    }
    if let Some(s) = &r.schedule_expression {
        out.push_str(&format!("  schedule: {s}\n"));
    }
    if let Some(m) = &r.managed_by {
        out.push_str(&format!("  managed by: {m}\n"));
    }
    if r.targets.is_empty() {
        out.push_str("  (no targets)\n");
    }
    for t in &r.targets {
        out.push_str(&format!("  target {}: {}\n", t.id, t.arn));
        match &t.dlq_arn {
            Some(d) => out.push_str(&format!("    dlq:   {d}\n")),
            None => {
                out.push_str("    dlq:   WARNING none: events that exhaust retries are dropped\n")
            }
        }
        out.push_str(&format!(
            "    retry: {}\n",
            retry_text(t.retry_policy.as_ref())
        ));
        if t.transforms_input() {
            out.push_str(
                "    note:  the target transforms its input; DLQ bodies may not be full events\n",
            );
        }
    }
}

impl Report for RulesReport {
    fn human(&self) -> String {
        let mut out = format!("Bus {}: {} rules\n\n", self.bus, self.rules.len());
        for r in &self.rules {
            rule_block(r, &mut out);
            out.push('\n');
        }
        if !self.managed_rules.is_empty() {
            out.push_str("Managed rules (created by AWS services; never selected for replay):\n");
            for r in &self.managed_rules {
                rule_block(r, &mut out);
            }
        }
        out
    }
}
