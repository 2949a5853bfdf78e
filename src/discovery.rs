//! Finding things from a bus: the bus itself (with a helpful error when missing) and the
//! dead-letter queues behind its rules' targets.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::{AppError, not_found_as};
use crate::ports::bus::{BusCatalogue, BusInfo, RuleInfo};

/// Describes the bus, turning "not found" into a one-line usage error.
pub async fn require_bus(cat: &dyn BusCatalogue, name: &str) -> Result<BusInfo, AppError> {
    require_bus_of(cat, name, "--bus").await
}

/// `require_bus` for the bus a flag other than `--bus` names.
pub async fn require_bus_of(
    cat: &dyn BusCatalogue,
    name: &str,
    flag: &str,
) -> Result<BusInfo, AppError> {
    cat.describe_bus(name).await.map_err(|e| {
        not_found_as(e, || {
            format!("event bus {name:?} does not exist in this account and region; check {flag}, --region and --profile")
        })
    })
}

/// A rule target that sends its failures to a DLQ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DlqFeed {
    pub rule: String,
    pub rule_arn: String,
    pub target_id: String,
    pub target_arn: String,
}

/// A DLQ and the targets that feed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiscoveredDlq {
    pub arn: String,
    pub feeds: Vec<DlqFeed>,
}

/// The DLQs configured on the rules' targets, one entry per queue, sorted by ARN.
pub fn dlqs_of(rules: &[RuleInfo]) -> Vec<DiscoveredDlq> {
    let mut by_arn: BTreeMap<String, Vec<DlqFeed>> = BTreeMap::new();
    for rule in rules {
        for t in &rule.targets {
            if let Some(dlq) = &t.dlq_arn {
                by_arn.entry(dlq.clone()).or_default().push(DlqFeed {
                    rule: rule.name.clone(),
                    rule_arn: rule.arn.clone(),
                    target_id: t.id.clone(),
                    target_arn: t.arn.clone(),
                });
            }
        }
    }
    by_arn
        .into_iter()
        .map(|(arn, feeds)| DiscoveredDlq { arn, feeds })
        .collect()
}

/// The last `:`-separated part of an ARN (a queue's name).
pub fn arn_name(arn: &str) -> &str {
    arn.rsplit([':', '/']).next().unwrap_or(arn)
}
