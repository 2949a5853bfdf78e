//! SQS adapter for the message-batch-sender port (delivery to SQS queue targets).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use tracing::instrument;

use super::error::classify;
use super::sqs::build_err;
use crate::ports::PortError;
use crate::ports::delivery::{MessageBatchSender, OutgoingMessage, SendOutcome};

/// The SQS client behind the message-batch-sender port.
#[derive(Debug, Clone)]
pub struct SqsSender {
    /// Without the SDK's retries: a batch resent after a lost answer lands twice unseen
    /// (standard queues do not deduplicate), and throttling waits at the engine's gate.
    client: Client,
}

impl SqsSender {
    pub fn new(client: Client) -> SqsSender {
        let client = Client::from_conf(
            client
                .config()
                .to_builder()
                .retry_config(aws_sdk_sqs::config::retry::RetryConfig::disabled())
                .build(),
        );
        SqsSender { client }
    }
}

#[async_trait]
impl MessageBatchSender for SqsSender {
    #[instrument(skip(self, messages), fields(queue = %queue_url, count = messages.len()), level = "debug")]
    async fn send_message_batch(
        &self,
        queue_url: &str,
        messages: &[OutgoingMessage],
    ) -> Result<Vec<SendOutcome>, PortError> {
        let request = messages
            .iter()
            .map(|m| {
                SendMessageBatchRequestEntry::builder()
                    .id(&m.id)
                    .message_body(&m.body)
                    .set_message_group_id(m.group_id.clone())
                    .set_message_deduplication_id(m.deduplication_id.clone())
                    .build()
                    .map_err(|e| build_err("SendMessageBatch", e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let out = self
            .client
            .send_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(request))
            .send()
            .await
            .map_err(|e| classify("SendMessageBatch", e))?;
        let mut by_id: HashMap<&str, SendOutcome> = HashMap::new();
        for s in out.successful() {
            by_id.insert(
                s.id(),
                SendOutcome::Accepted {
                    message_id: s.message_id().to_string(),
                },
            );
        }
        for f in out.failed() {
            by_id.insert(
                f.id(),
                SendOutcome::Rejected {
                    code: f.code().to_string(),
                    message: f.message().unwrap_or_default().to_string(),
                    sender_fault: f.sender_fault(),
                },
            );
        }
        messages
            .iter()
            .map(|m| {
                by_id.remove(m.id.as_str()).ok_or_else(|| {
                    PortError::Other(format!(
                        "SendMessageBatch: the answer has no result for entry {}",
                        m.id
                    ))
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sqs::error::ErrorMetadata;
    use aws_sdk_sqs::operation::send_message_batch::{
        SendMessageBatchError, SendMessageBatchOutput,
    };
    use aws_sdk_sqs::types::{BatchResultErrorEntry, SendMessageBatchResultEntry};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    const URL: &str = "https://sqs.us-east-2.amazonaws.com/123456789012/orders.fifo";

    fn message(id: &str) -> OutgoingMessage {
        OutgoingMessage {
            id: id.into(),
            body: format!(r#"{{"n":{id}}}"#),
            group_id: Some("billing".into()),
            deduplication_id: Some(format!("evt_{id}")),
        }
    }

    fn sent(id: &str) -> SendMessageBatchResultEntry {
        SendMessageBatchResultEntry::builder()
            .id(id)
            .message_id(format!("mid-{id}"))
            .md5_of_message_body("x")
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn fifo_fields_are_sent_and_results_come_back_in_request_order() {
        let rule = mock!(Client::send_message_batch)
            .match_requests(|r| {
                r.queue_url() == Some(URL)
                    && r.entries().len() == 2
                    && r.entries()[0].message_group_id() == Some("billing")
                    && r.entries()[0].message_deduplication_id() == Some("evt_0")
                    && r.entries()[1].message_body() == r#"{"n":1}"#
            })
            .then_output(|| {
                // SQS lists successes in its own order.
                SendMessageBatchOutput::builder()
                    .successful(sent("1"))
                    .successful(sent("0"))
                    .set_failed(Some(vec![]))
                    .build()
                    .unwrap()
            });
        let sqs = SqsSender::new(mock_client!(aws_sdk_sqs, [&rule]));
        let out = sqs
            .send_message_batch(URL, &[message("0"), message("1")])
            .await
            .unwrap();
        assert_eq!(
            out,
            [
                SendOutcome::Accepted {
                    message_id: "mid-0".into()
                },
                SendOutcome::Accepted {
                    message_id: "mid-1".into()
                }
            ]
        );
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_failed_entry_is_reported_in_its_slot() {
        let rule = mock!(Client::send_message_batch).then_output(|| {
            SendMessageBatchOutput::builder()
                .successful(sent("0"))
                .failed(
                    BatchResultErrorEntry::builder()
                        .id("1")
                        .code("InternalError")
                        .message("try again")
                        .sender_fault(false)
                        .build()
                        .unwrap(),
                )
                .successful(sent("2"))
                .build()
                .unwrap()
        });
        let sqs = SqsSender::new(mock_client!(aws_sdk_sqs, [&rule]));
        let out = sqs
            .send_message_batch(URL, &[message("0"), message("1"), message("2")])
            .await
            .unwrap();
        assert_eq!(
            out[1],
            SendOutcome::Rejected {
                code: "InternalError".into(),
                message: "try again".into(),
                sender_fault: false
            }
        );
        assert!(out[1].is_retryable());
        assert!(matches!(out[2], SendOutcome::Accepted { .. }));
    }

    #[tokio::test]
    async fn an_answer_missing_an_entry_is_an_error_not_a_success() {
        let rule = mock!(Client::send_message_batch).then_output(|| {
            SendMessageBatchOutput::builder()
                .successful(sent("0"))
                .set_failed(Some(vec![]))
                .build()
                .unwrap()
        });
        let sqs = SqsSender::new(mock_client!(aws_sdk_sqs, [&rule]));
        let err = sqs
            .send_message_batch(URL, &[message("0"), message("1")])
            .await
            .unwrap_err();
        assert!(err.to_string().contains("entry 1"), "{err}");
    }

    #[tokio::test]
    async fn throttling_is_answered_at_once_without_the_sdk_retries() {
        let rule = mock!(Client::send_message_batch)
            .sequence()
            .error(|| {
                SendMessageBatchError::generic(
                    ErrorMetadata::builder()
                        .code("RequestThrottled")
                        .message("slow down")
                        .build(),
                )
            })
            .output(|| {
                SendMessageBatchOutput::builder()
                    .set_successful(Some(vec![]))
                    .set_failed(Some(vec![]))
                    .build()
                    .unwrap()
            })
            .build();
        let sqs = SqsSender::new(mock_client!(
            aws_sdk_sqs,
            RuleMode::Sequential,
            [&rule],
            |c| c.retry_config(
                aws_sdk_sqs::config::retry::RetryConfig::standard()
                    .with_max_attempts(3)
                    .with_initial_backoff(std::time::Duration::from_millis(1))
            )
        ));
        let err = sqs
            .send_message_batch(URL, &[message("0")])
            .await
            .unwrap_err();
        assert!(matches!(err, PortError::Throttled(_)), "{err:?}");
        assert_eq!(rule.num_calls(), 1);
    }
}
