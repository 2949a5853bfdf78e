//! `rules`: each rule of a bus with its state, pattern and targets (DLQ, retry policy).

use serde::Serialize;

use crate::discovery::require_bus;
use crate::error::AppError;
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
