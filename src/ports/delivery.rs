//! The delivery ports: one narrow trait per call that hands an event to a rule's target
//! (Lambda, SQS, SNS, Step Functions, CloudWatch Logs), for redriving a DLQ message to the
//! target that failed instead of to the whole bus. EventBridge bus targets use
//! [`super::sink::EventSink`] with the target bus ARN as the entry's bus.
//!
//! Every call is made once per `deliver`: throttling and transient failures come back as
//! `PortError::Throttled` / `PortError::Transient`, and the engine retries them through
//! its shared backoff gate. A failure after the request was sent (a lost answer) may have
//! been applied, so a retry after it can deliver a second copy, as with PutEvents.

use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;

use super::PortError;

/// How a Lambda function is invoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum InvocationType {
    /// Synchronously: the answer says whether the function succeeded, so a function error
    /// keeps the message in the DLQ.
    RequestResponse,
    /// Queued by Lambda (as EventBridge itself invokes): accepted means queued, and a later
    /// failure is Lambda's to retry or dead-letter.
    Event,
}

/// What an invocation that reached the function answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum InvokeOutcome {
    /// The function ran and returned (RequestResponse, status 200) or the event was queued
    /// (Event, status 202).
    Accepted { status: i32 },
    /// The function ran and failed (`FunctionError` set): the message must stay.
    FunctionError {
        /// `Unhandled` or `Handled`, as Lambda reports it.
        kind: String,
        /// The error payload (`{"errorType": ..., "errorMessage": ...}`), cut to a readable length.
        detail: String,
    },
}

/// Bytes of a function's error payload kept in a report.
const FUNCTION_ERROR_DETAIL_MAX: usize = 512;

impl InvokeOutcome {
    /// The outcome of an invocation whose answer set `FunctionError` to `kind`, with the
    /// error payload it returned.
    pub fn function_error(kind: &str, payload: &[u8]) -> InvokeOutcome {
        let text = String::from_utf8_lossy(payload);
        let mut end = text.len().min(FUNCTION_ERROR_DETAIL_MAX);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        InvokeOutcome::FunctionError {
            kind: kind.to_string(),
            detail: text[..end].trim().to_string(),
        }
    }
}

/// Lambda `Invoke`. Throttling (429 `TooManyRequestsException`) is `PortError::Throttled`.
#[async_trait]
pub trait FunctionInvoker: Send + Sync {
    /// Invokes `function` (a name or ARN, possibly qualified) with `payload`.
    async fn invoke(
        &self,
        function: &str,
        payload: &[u8],
        invocation: InvocationType,
    ) -> Result<InvokeOutcome, PortError>;
}

/// One message of a `SendMessageBatch` call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutgoingMessage {
    /// Unique within the call.
    pub id: String,
    pub body: String,
    /// Required by FIFO queues (from the target's `SqsParameters`).
    pub group_id: Option<String>,
    /// For FIFO queues: SQS drops a second message with this id within 5 minutes.
    pub deduplication_id: Option<String>,
}

/// The result for one message, in request order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum SendOutcome {
    Accepted {
        message_id: String,
    },
    Rejected {
        code: String,
        message: String,
        /// The request was at fault (retrying the same entry will fail again).
        sender_fault: bool,
    },
}

impl SendOutcome {
    /// A failure on SQS's side is worth another try; one of the sender's is not.
    pub fn is_retryable(&self) -> bool {
        matches!(self, SendOutcome::Rejected { sender_fault, .. } if !sender_fault)
    }
}

/// SQS `SendMessageBatch`.
#[async_trait]
pub trait MessageBatchSender: Send + Sync {
    /// Sends 1..=10 messages to the queue at `queue_url`; one outcome per message, in order.
    async fn send_message_batch(
        &self,
        queue_url: &str,
        messages: &[OutgoingMessage],
    ) -> Result<Vec<SendOutcome>, PortError>;
}

/// One SNS message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopicMessage {
    pub message: String,
    /// The email subject (printable ASCII, at most 100 characters); None for deliveries.
    pub subject: Option<String>,
    /// FIFO topics only.
    pub group_id: Option<String>,
    /// FIFO topics only.
    pub deduplication_id: Option<String>,
}

/// SNS `Publish`.
#[async_trait]
pub trait TopicPublisher: Send + Sync {
    /// Publishes to `topic_arn`; answers the message id.
    async fn publish(&self, topic_arn: &str, message: &TopicMessage) -> Result<String, PortError>;
}

/// A started (or already started) Step Functions execution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExecutionStarted {
    pub execution_arn: String,
    /// An execution of this name and input existed already: an earlier start of the same
    /// delivery (whose answer was lost, or whose message was not deleted) went through.
    pub already_existed: bool,
}

/// Whether two execution inputs are the same: compared as JSON (Step Functions may answer
/// an input reformatted), else as text.
pub fn same_input(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<serde_json::Value>(a),
        serde_json::from_str::<serde_json::Value>(b),
    ) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// Step Functions `StartExecution`.
#[async_trait]
pub trait ExecutionStarter: Send + Sync {
    /// Starts `state_machine_arn` with `name` (see `crate::delivery::names::execution_name`)
    /// and `input`. An execution with this name and the same input counts as started;
    /// with another input it is `PortError::AlreadyExists`.
    async fn start_execution(
        &self,
        state_machine_arn: &str,
        name: &str,
        input: &str,
    ) -> Result<ExecutionStarted, PortError>;
}

/// One log event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogEvent {
    /// Milliseconds since the epoch.
    pub timestamp_ms: i64,
    pub message: String,
}

/// What became of one log event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogOutcome {
    Written,
    /// Kept out by CloudWatch Logs although the call succeeded (older than 14 days or than
    /// the log group): the same event will be refused again.
    TooOld,
    /// Kept out: more than 2 hours in the future.
    TooNew,
    /// Kept out: older than the log group's retention.
    Expired,
    /// Not written: its call failed. Only when the events span more than a day and so
    /// took several calls, of which an earlier one succeeded; the later ones are not made.
    Failed(PortError),
}

/// CloudWatch Logs `PutLogEvents`.
#[async_trait]
pub trait LogWriter: Send + Sync {
    /// Writes `events` (in any order, spanning any time) to `stream` of `log_group` (a
    /// name, not an ARN), creating the stream the first time; one outcome per event, in
    /// request order. An error is the first call's (see the module doc on lost answers).
    async fn put_log_events(
        &self,
        log_group: &str,
        stream: &str,
        events: &[LogEvent],
    ) -> Result<Vec<LogOutcome>, PortError>;
}

/// The delivery ports a redrive to targets works through, one per target type (bus targets
/// use the drain's `EventSink`).
#[derive(Clone)]
pub struct DeliveryPorts {
    pub lambda: Arc<dyn FunctionInvoker>,
    pub sqs: Arc<dyn MessageBatchSender>,
    pub sns: Arc<dyn TopicPublisher>,
    pub sfn: Arc<dyn ExecutionStarter>,
    pub logs: Arc<dyn LogWriter>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_function_error_keeps_a_readable_part_of_its_payload() {
        let payload = format!(
            r#"{{"errorType":"Error","errorMessage":"{}é"}}"#,
            "x".repeat(600)
        );
        let InvokeOutcome::FunctionError { kind, detail } =
            InvokeOutcome::function_error("Unhandled", payload.as_bytes())
        else {
            panic!()
        };
        assert_eq!(kind, "Unhandled");
        assert_eq!(detail.len(), FUNCTION_ERROR_DETAIL_MAX);
        assert!(detail.starts_with(r#"{"errorType":"Error""#));
        // Cut inside a multi-byte character: backs off to the boundary.
        let s = format!("{}é", "x".repeat(FUNCTION_ERROR_DETAIL_MAX - 1));
        let InvokeOutcome::FunctionError { detail, .. } =
            InvokeOutcome::function_error("Handled", s.as_bytes())
        else {
            panic!()
        };
        assert_eq!(detail.len(), FUNCTION_ERROR_DETAIL_MAX - 1);
    }

    #[test]
    fn inputs_are_compared_as_json() {
        assert!(same_input(r#"{"a":1,"b":[2]}"#, r#"{ "b": [2], "a": 1 }"#));
        assert!(!same_input(r#"{"a":1}"#, r#"{"a":2}"#));
        assert!(same_input("not json", "not json"));
        assert!(!same_input("not json", "not  json"));
    }

    #[test]
    fn only_failures_on_the_service_side_are_retried() {
        let rejected = |sender_fault| SendOutcome::Rejected {
            code: "c".into(),
            message: "m".into(),
            sender_fault,
        };
        assert!(rejected(false).is_retryable());
        assert!(!rejected(true).is_retryable());
        assert!(
            !SendOutcome::Accepted {
                message_id: "m".into()
            }
            .is_retryable()
        );
    }
}
