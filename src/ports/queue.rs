//! The queue port: the SQS operations a DLQ drain needs, in SDK-neutral types.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::PortError;

/// A resolved queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueRef {
    pub name: String,
    pub url: String,
    pub arn: String,
}

/// Approximate message counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct QueueDepth {
    pub visible: u64,
    pub in_flight: u64,
    pub delayed: u64,
}

/// A received message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReceivedMessage {
    pub message_id: String,
    #[serde(skip)]
    pub receipt_handle: String,
    pub body: String,
    /// String message attributes (ERROR_CODE, RULE_ARN, ...).
    pub attributes: BTreeMap<String, String>,
    pub receive_count: u32,
    pub sent_at: Option<DateTime<Utc>>,
}

/// One entry of a batch call, by the caller's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchEntry {
    pub id: String,
    pub receipt_handle: String,
}

impl BatchEntry {
    /// Entries for up to 10 receipt handles, with their positions as ids.
    pub fn for_handles<'a>(handles: impl IntoIterator<Item = &'a str>) -> Vec<BatchEntry> {
        handles
            .into_iter()
            .enumerate()
            .map(|(i, h)| BatchEntry {
                id: i.to_string(),
                receipt_handle: h.to_string(),
            })
            .collect()
    }
}

/// A failed entry of a batch call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchFailure {
    pub id: String,
    pub code: String,
    pub message: Option<String>,
    pub sender_fault: bool,
}

/// SQS, as a DLQ drain sees it.
#[async_trait]
pub trait Queue: Send + Sync {
    /// Resolves a queue URL, ARN or name.
    async fn resolve(&self, queue: &str) -> Result<QueueRef, PortError>;
    async fn depth(&self, url: &str) -> Result<QueueDepth, PortError>;
    /// Receives up to `max` (1..=10) messages with all attributes.
    async fn receive(
        &self,
        url: &str,
        max: u8,
        wait: Duration,
        visibility: Option<Duration>,
    ) -> Result<Vec<ReceivedMessage>, PortError>;
    /// Deletes up to 10 messages; answers the entries that failed.
    async fn delete_batch(
        &self,
        url: &str,
        entries: &[BatchEntry],
    ) -> Result<Vec<BatchFailure>, PortError>;
    /// Sets the visibility timeout of up to 10 messages (0 releases them at once).
    async fn change_visibility_batch(
        &self,
        url: &str,
        entries: &[BatchEntry],
        timeout: Duration,
    ) -> Result<Vec<BatchFailure>, PortError>;
    /// Creates a standard queue (14 days' retention) or, when one of that name exists with
    /// the same attributes, answers it (CreateQueue is idempotent).
    async fn create_queue(&self, name: &str) -> Result<QueueRef, PortError>;
    /// Sends one message with string attributes; answers its message id.
    async fn send(
        &self,
        url: &str,
        body: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<String, PortError>;
    /// Queue attributes by name (`Policy`, `KmsMasterKeyId`, `SqsManagedSseEnabled`, ...);
    /// an attribute the queue does not have is absent from the answer. Queues that are not
    /// SQS queues (a file of messages) have none to read.
    async fn read_attributes(
        &self,
        url: &str,
        names: &[&str],
    ) -> Result<BTreeMap<String, String>, PortError> {
        let _ = names;
        Err(PortError::Invalid(format!(
            "{url} is not an SQS queue: it has no attributes"
        )))
    }
}
