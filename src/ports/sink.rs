//! The event-sink port: PutEvents with per-entry results.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::PortError;

/// Bytes PutEvents adds to an entry's size when `Time` is set.
const TIME_FIELD_BYTES: usize = 14;

/// One PutEvents entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PutEntry {
    pub bus: String,
    pub source: String,
    pub detail_type: String,
    pub detail: String,
    pub resources: Vec<String>,
    pub time: Option<DateTime<Utc>>,
}

impl PutEntry {
    /// The entry size by AWS's rule: UTF-8 bytes of Source, DetailType, Detail and each
    /// Resource, plus 14 when Time is set.
    pub fn size(&self) -> usize {
        self.source.len()
            + self.detail_type.len()
            + self.detail.len()
            + self.resources.iter().map(String::len).sum::<usize>()
            + if self.time.is_some() {
                TIME_FIELD_BYTES
            } else {
                0
            }
    }
}

/// The result for one entry, in request order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum PutOutcome {
    Accepted { event_id: String },
    Rejected { code: String, message: String },
}

impl PutOutcome {
    /// Only these per-entry codes are worth another try.
    pub fn is_retryable(&self) -> bool {
        matches!(self, PutOutcome::Rejected { code, .. }
            if code == "InternalFailure" || code == "ThrottlingException")
    }
}

/// Puts events on a bus.
#[async_trait]
pub trait EventSink: Send + Sync {
    /// Puts 1..=10 entries; the answer has one outcome per entry, in order.
    async fn put_events(&self, entries: &[PutEntry]) -> Result<Vec<PutOutcome>, PortError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_size_follows_the_aws_rule() {
        let mut e = PutEntry {
            bus: "ignored-bus-name".into(),
            source: "src".into(),
            detail_type: "dt".into(),
            detail: "{\"é\":1}".into(),
            resources: vec!["r1".into(), "r22".into()],
            time: None,
        };
        // 3 + 2 + 8 (é is two bytes) + 2 + 3; the bus name does not count.
        assert_eq!(e.size(), 18);
        e.time = Some(Utc::now());
        assert_eq!(e.size(), 32);
    }
}
