//! `rules`: each rule of a bus with its state, pattern and targets (DLQ, retry policy).

use serde::Serialize;

use crate::discovery::require_bus;
use crate::error::AppError;
use crate::output::Report;
use crate::ports::bus::{BusCatalogue, RetryPolicy, RuleInfo};

#[derive(Debug, Clone, Serialize)]
pub struct RulesReport {
    pub bus: String,
    pub rules: Vec<RuleInfo>,
    /// Rules managed by AWS services (such as an archive's own rule).
    pub managed_rules: Vec<RuleInfo>,
}

pub async fn rules(cat: &dyn BusCatalogue, bus: &str) -> Result<RulesReport, AppError> {
    let bus = require_bus(cat, bus).await?;
    let (managed, mut rules): (Vec<_>, Vec<_>) = cat
        .list_rules(&bus.name)
        .await?
        .into_iter()
        .partition(RuleInfo::is_managed);
    rules.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(RulesReport {
        bus: bus.name,
        rules,
        managed_rules: managed,
    })
}

/// "3 attempts, 1h max age", with AWS defaults spelled out when unset.
pub fn retry_text(p: Option<&RetryPolicy>) -> String {
    match p {
        None => "none set (AWS default: 185 attempts, 24h)".into(),
        Some(p) => format!(
            "{} attempts, max age {}",
            p.maximum_retry_attempts
                .map(|n| n.to_string())
                .unwrap_or_else(|| "185".into()),
            p.maximum_event_age_seconds
                .map(|s| humantime::format_duration(
                    std::time::Duration::from_secs(s.max(0) as u64)
                )
                .to_string())
                .unwrap_or_else(|| "24h".into())
        ),
    }
}

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
