//! The outputs of a playbook's `triage` step: the totals, and the counts per rule, for later
//! steps (`${steps.ID.lost}`, `${steps.ID.rules}`) and the run's report.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::TriageReport;

/// `bus`, `failed`, `in_dlq`, `lost`, and `rules`: each rule's `failed`, `in_dlq`, `lost`.
pub fn outputs(r: &TriageReport) -> BTreeMap<String, Value> {
    let rules: serde_json::Map<String, Value> = r
        .rules
        .iter()
        .map(|x| {
            (
                x.rule.clone(),
                json!({
                    "failed": x.verdict.failed,
                    "in_dlq": x.verdict.in_dlq,
                    "lost": x.verdict.lost,
                }),
            )
        })
        .collect();
    BTreeMap::from([
        ("bus".to_string(), json!(r.bus)),
        ("failed".to_string(), json!(r.totals.failed)),
        ("in_dlq".to_string(), json!(r.totals.in_dlq)),
        ("lost".to_string(), json!(r.totals.lost)),
        ("rules".to_string(), Value::Object(rules)),
    ])
}
