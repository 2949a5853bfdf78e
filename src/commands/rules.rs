//! `rules`: each rule of a bus with its state, pattern and targets (DLQ, retry policy).

use serde::Serialize;

use crate::discovery::require_bus;
use crate::error::AppError;
use crate::ports::bus::{BusCatalogue, RetryPolicy, RuleInfo};
use crate::replay::rules::is_reserved;

#[derive(Debug, Clone, Serialize)]
pub struct RulesReport {
    pub bus: String,
    pub rules: Vec<RuleInfo>,
    /// Rules never selected for a replay: managed by AWS services, or an archive's own
    /// rule (recognised by its target when, as on LocalStack, it lacks `ManagedBy`).
    pub managed_rules: Vec<RuleInfo>,
}

pub async fn rules(cat: &dyn BusCatalogue, bus: &str) -> Result<RulesReport, AppError> {
    let bus = require_bus(cat, bus).await?;
    let (managed, mut rules): (Vec<_>, Vec<_>) = cat
        .list_rules(&bus.name)
        .await?
        .into_iter()
        .partition(is_reserved);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::eventbridge::MemoryEventBridge;
    use crate::replay::fixtures::{rule, unmarked_archive_rule};

    /// LocalStack's archive rule lacks `ManagedBy`: its archive target puts it with the
    /// managed rules, apart from the bus's own.
    #[tokio::test]
    async fn an_archive_rule_without_managed_by_is_listed_with_the_managed_rules() {
        let eb = MemoryEventBridge::new();
        eb.add_bus("billing");
        eb.add_rule("billing", unmarked_archive_rule("a"));
        eb.add_rule("billing", rule("subscription", r#"{"source": ["stripe"]}"#));
        let report = rules(&eb, "billing").await.unwrap();
        let names = |v: &[RuleInfo]| v.iter().map(|r| r.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&report.rules), ["subscription"]);
        assert_eq!(names(&report.managed_rules), ["Events-Archive-a"]);
    }
}
