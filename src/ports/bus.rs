//! The bus catalogue port: read-only facts about a bus, its rules and targets, its
//! archives and partner event sources.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::PortError;

/// An event bus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BusInfo {
    pub name: String,
    pub arn: String,
}

/// A target's retry policy as configured (None fields fall back to AWS defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RetryPolicy {
    pub maximum_retry_attempts: Option<i32>,
    pub maximum_event_age_seconds: Option<i32>,
}

/// What a target receives: the matched event, or what its input settings make of it
/// (AWS allows at most one of `Input`, `InputPath` and `InputTransformer`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetInputSpec {
    /// The matched event itself.
    #[default]
    Event,
    /// `Input`: this constant JSON text instead of the event.
    Input(String),
    /// `InputPath`: the part of the event this JSON path selects.
    InputPath(String),
    /// `InputTransformer`: variables read from the event by JSON path, put into a template.
    InputTransformer {
        input_paths_map: BTreeMap<String, String>,
        input_template: String,
    },
}

impl From<&TargetInputSpec> for crate::target::TargetInputFields {
    /// The one conversion from the catalogue's view of a target's input to the fields
    /// `TargetInput::from_fields` checks.
    fn from(spec: &TargetInputSpec) -> Self {
        use crate::target::{TargetInputFields, TransformerFields};
        match spec {
            TargetInputSpec::Event => TargetInputFields::default(),
            TargetInputSpec::Input(text) => TargetInputFields {
                input: Some(text.clone()),
                ..TargetInputFields::default()
            },
            TargetInputSpec::InputPath(path) => TargetInputFields {
                input_path: Some(path.clone()),
                ..TargetInputFields::default()
            },
            TargetInputSpec::InputTransformer {
                input_paths_map,
                input_template,
            } => TargetInputFields {
                input_transformer: Some(TransformerFields {
                    input_paths_map: input_paths_map.clone(),
                    input_template: input_template.clone(),
                }),
                ..TargetInputFields::default()
            },
        }
    }
}

/// One target of a rule, with what redriving to it needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetInfo {
    pub id: String,
    pub arn: String,
    pub dlq_arn: Option<String>,
    pub retry_policy: Option<RetryPolicy>,
    pub input: TargetInputSpec,
    /// `SqsParameters.MessageGroupId`, for FIFO queue targets.
    pub sqs_message_group_id: Option<String>,
    /// The role EventBridge assumes to deliver (cross-account buses, Step Functions, ...).
    pub role_arn: Option<String>,
}

impl TargetInfo {
    /// The target reshapes the event (input, input path or transformer), so DLQ bodies
    /// may not be the original envelope.
    pub fn transforms_input(&self) -> bool {
        self.input != TargetInputSpec::Event
    }
}

// By hand, so `rules --output json` keeps its `transforms_input` field now that it is
// derived from the input mode.
impl Serialize for TargetInfo {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("TargetInfo", 8)?;
        s.serialize_field("id", &self.id)?;
        s.serialize_field("arn", &self.arn)?;
        s.serialize_field("dlq_arn", &self.dlq_arn)?;
        s.serialize_field("retry_policy", &self.retry_policy)?;
        s.serialize_field("transforms_input", &self.transforms_input())?;
        s.serialize_field("input", &self.input)?;
        s.serialize_field("sqs_message_group_id", &self.sqs_message_group_id)?;
        s.serialize_field("role_arn", &self.role_arn)?;
        s.end()
    }
}

/// A rule with its targets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleInfo {
    pub name: String,
    pub arn: String,
    pub state: String,
    pub event_pattern: Option<String>,
    pub schedule_expression: Option<String>,
    pub managed_by: Option<String>,
    pub description: Option<String>,
    pub targets: Vec<TargetInfo>,
}

impl RuleInfo {
    pub fn is_enabled(&self) -> bool {
        self.state == "ENABLED"
    }
    pub fn is_managed(&self) -> bool {
        self.managed_by.is_some()
    }
}

/// An event archive.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArchiveInfo {
    pub name: String,
    pub arn: String,
    pub source_arn: String,
    pub state: String,
    pub state_reason: Option<String>,
    /// 0 or None means events are kept forever.
    pub retention_days: Option<i32>,
    pub event_count: i64,
    pub size_bytes: i64,
    pub creation_time: Option<DateTime<Utc>>,
    pub event_pattern: Option<String>,
}

impl ArchiveInfo {
    /// The earliest event time a replay can still find: the later of the creation time and
    /// now minus the retention.
    pub fn earliest_replayable(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let by_retention = match self.retention_days {
            Some(days) if days > 0 => Some(now - Duration::days(i64::from(days))),
            _ => None,
        };
        match (self.creation_time, by_retention) {
            (Some(c), Some(r)) => Some(c.max(r)),
            (c, r) => c.or(r),
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.state == "ENABLED"
    }

    /// The name of the bus the archive records, from its source ARN.
    pub fn source_bus_name(&self) -> &str {
        self.source_arn
            .rsplit_once('/')
            .map(|(_, n)| n)
            .unwrap_or(&self.source_arn)
    }
}

/// A partner event source (for example Stripe's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventSourceInfo {
    pub name: String,
    pub arn: Option<String>,
    pub state: String,
    pub created_by: Option<String>,
}

/// Read-only facts about a bus.
#[async_trait]
pub trait BusCatalogue: Send + Sync {
    /// The bus, or `PortError::NotFound`.
    async fn describe_bus(&self, name: &str) -> Result<BusInfo, PortError>;
    /// Every rule on the bus with its targets.
    async fn list_rules(&self, bus: &str) -> Result<Vec<RuleInfo>, PortError>;
    /// One rule's targets (a DLQ message names its rule), or `PortError::NotFound` when the
    /// rule is gone.
    async fn list_targets(&self, bus: &str, rule: &str) -> Result<Vec<TargetInfo>, PortError>;
    /// Archives, optionally only those recording the bus with this ARN.
    async fn list_archives(&self, source_arn: Option<&str>) -> Result<Vec<ArchiveInfo>, PortError>;
    /// One archive by name, or `PortError::NotFound`.
    async fn describe_archive(&self, name: &str) -> Result<ArchiveInfo, PortError>;
    /// Event sources whose name starts with `prefix`.
    async fn list_event_sources(&self, prefix: &str) -> Result<Vec<EventSourceInfo>, PortError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_keeps_transforms_input_and_names_the_input_mode() {
        let t = TargetInfo {
            id: "t".into(),
            arn: "arn:aws:lambda:us-east-2:1:function:f".into(),
            input: TargetInputSpec::InputTransformer {
                input_paths_map: BTreeMap::from([("id".into(), "$.detail.id".into())]),
                input_template: r#"{"id": <id>}"#.into(),
            },
            ..TargetInfo::default()
        };
        let json = serde_json::to_value(&t).unwrap();
        assert_eq!(json["transforms_input"], true);
        assert_eq!(
            json["input"]["input_transformer"]["input_paths_map"]["id"],
            "$.detail.id"
        );
        let plain = serde_json::to_value(TargetInfo::default()).unwrap();
        assert_eq!(plain["transforms_input"], false);
        assert_eq!(plain["input"], "event");
    }
}
