//! SQS adapter for the queue port.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry, Message,
    MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName,
};
use chrono::DateTime;
use tracing::instrument;

use super::error::classify;
use crate::ports::PortError;
use crate::ports::queue::{BatchEntry, BatchFailure, Queue, QueueDepth, QueueRef, ReceivedMessage};

/// The SQS client behind the queue port.
#[derive(Debug, Clone)]
pub struct Sqs {
    client: Client,
}

impl Sqs {
    pub fn new(client: Client) -> Sqs {
        Sqs { client }
    }

    async fn url_for_name(&self, name: &str, owner: Option<&str>) -> Result<String, PortError> {
        let out = self
            .client
            .get_queue_url()
            .queue_name(name)
            .set_queue_owner_aws_account_id(owner.map(str::to_string))
            .send()
            .await
            .map_err(|e| classify("GetQueueUrl", e))?;
        out.queue_url()
            .map(str::to_string)
            .ok_or_else(|| PortError::Other(format!("GetQueueUrl: no URL for queue {name}")))
    }

    pub(crate) async fn attributes(
        &self,
        url: &str,
        names: &[QueueAttributeName],
    ) -> Result<BTreeMap<String, String>, PortError> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(url)
            .set_attribute_names(Some(names.to_vec()))
            .send()
            .await
            .map_err(|e| classify("GetQueueAttributes", e))?;
        Ok(out
            .attributes()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.as_str().to_string(), v.clone()))
                    .collect()
            })
            .unwrap_or_default())
    }
}

/// The port's message, moved (not copied) out of the SDK's.
fn received(m: Message) -> ReceivedMessage {
    let attributes = m
        .message_attributes
        .map(|attrs| {
            attrs
                .into_iter()
                .filter_map(|(k, v)| v.string_value.map(|s| (k, s)))
                .collect()
        })
        .unwrap_or_default();
    let system = m.attributes.as_ref();
    let sys = |name: MessageSystemAttributeName| system.and_then(|a| a.get(&name));
    ReceivedMessage {
        receive_count: sys(MessageSystemAttributeName::ApproximateReceiveCount)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        sent_at: sys(MessageSystemAttributeName::SentTimestamp)
            .and_then(|v| v.parse::<i64>().ok())
            .and_then(DateTime::from_timestamp_millis),
        message_id: m.message_id.unwrap_or_default(),
        receipt_handle: m.receipt_handle.unwrap_or_default(),
        body: m.body.unwrap_or_default(),
        attributes,
    }
}

fn failures(failed: &[aws_sdk_sqs::types::BatchResultErrorEntry]) -> Vec<BatchFailure> {
    failed
        .iter()
        .map(|f| BatchFailure {
            id: f.id().to_string(),
            code: f.code().to_string(),
            message: f.message().map(str::to_string),
            sender_fault: f.sender_fault(),
        })
        .collect()
}

pub(super) fn build_err(what: &str, e: impl std::fmt::Display) -> PortError {
    PortError::Invalid(format!("{what}: {e}"))
}

#[async_trait]
impl Queue for Sqs {
    #[instrument(skip(self), level = "debug")]
    async fn resolve(&self, queue: &str) -> Result<QueueRef, PortError> {
        let url = if queue.starts_with("https://") || queue.starts_with("http://") {
            queue.to_string()
        } else if let Some(rest) = queue.strip_prefix("arn:") {
            // arn:PARTITION:sqs:REGION:ACCOUNT:NAME
            let parts: Vec<&str> = rest.split(':').collect();
            if parts.len() != 5 || parts[1] != "sqs" {
                return Err(PortError::Invalid(format!(
                    "{queue} is not an SQS queue ARN (arn:aws:sqs:REGION:ACCOUNT:NAME)"
                )));
            }
            self.url_for_name(parts[4], Some(parts[3])).await?
        } else {
            self.url_for_name(queue, None).await?
        };
        let attrs = self
            .attributes(&url, &[QueueAttributeName::QueueArn])
            .await?;
        let arn = attrs.get("QueueArn").cloned().unwrap_or_default();
        let name = url.rsplit('/').next().unwrap_or(&url).to_string();
        Ok(QueueRef { name, url, arn })
    }

    #[instrument(skip(self), level = "debug")]
    async fn create_queue(&self, name: &str) -> Result<QueueRef, PortError> {
        let out = self
            .client
            .create_queue()
            .queue_name(name)
            .attributes(QueueAttributeName::MessageRetentionPeriod, "1209600")
            .send()
            .await
            .map_err(|e| classify("CreateQueue", e))?;
        let url = out
            .queue_url()
            .ok_or_else(|| PortError::Other(format!("CreateQueue: no URL for queue {name}")))?;
        self.resolve(url).await
    }

    #[instrument(skip(self), fields(queue = %url), level = "debug")]
    async fn depth(&self, url: &str) -> Result<QueueDepth, PortError> {
        let attrs = self
            .attributes(
                url,
                &[
                    QueueAttributeName::ApproximateNumberOfMessages,
                    QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
                    QueueAttributeName::ApproximateNumberOfMessagesDelayed,
                ],
            )
            .await?;
        let n = |k: &str| attrs.get(k).and_then(|v| v.parse().ok()).unwrap_or(0);
        Ok(QueueDepth {
            visible: n("ApproximateNumberOfMessages"),
            in_flight: n("ApproximateNumberOfMessagesNotVisible"),
            delayed: n("ApproximateNumberOfMessagesDelayed"),
        })
    }

    #[instrument(skip(self), fields(queue = %url), level = "debug")]
    async fn receive(
        &self,
        url: &str,
        max: u8,
        wait: Duration,
        visibility: Option<Duration>,
    ) -> Result<Vec<ReceivedMessage>, PortError> {
        let out = self
            .client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(i32::from(max.clamp(1, 10)))
            .wait_time_seconds(wait.as_secs().min(20) as i32)
            .set_visibility_timeout(visibility.map(|v| v.as_secs() as i32))
            .message_attribute_names("All")
            // Only the two system attributes the port carries (All would add five more to
            // every message of every answer).
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .send()
            .await
            .map_err(|e| classify("ReceiveMessage", e))?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(received)
            .collect())
    }

    #[instrument(skip(self, entries), fields(queue = %url, count = entries.len()), level = "debug")]
    async fn delete_batch(
        &self,
        url: &str,
        entries: &[BatchEntry],
    ) -> Result<Vec<BatchFailure>, PortError> {
        let request = entries
            .iter()
            .map(|e| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(&e.id)
                    .receipt_handle(&e.receipt_handle)
                    .build()
                    .map_err(|err| build_err("DeleteMessageBatch", err))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let out = self
            .client
            .delete_message_batch()
            .queue_url(url)
            .set_entries(Some(request))
            .send()
            .await
            .map_err(|e| classify("DeleteMessageBatch", e))?;
        Ok(failures(out.failed()))
    }

    #[instrument(skip(self, entries), fields(queue = %url, count = entries.len()), level = "debug")]
    async fn change_visibility_batch(
        &self,
        url: &str,
        entries: &[BatchEntry],
        timeout: Duration,
    ) -> Result<Vec<BatchFailure>, PortError> {
        let request = entries
            .iter()
            .map(|e| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(&e.id)
                    .receipt_handle(&e.receipt_handle)
                    .visibility_timeout(timeout.as_secs() as i32)
                    .build()
                    .map_err(|err| build_err("ChangeMessageVisibilityBatch", err))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let out = self
            .client
            .change_message_visibility_batch()
            .queue_url(url)
            .set_entries(Some(request))
            .send()
            .await
            .map_err(|e| classify("ChangeMessageVisibilityBatch", e))?;
        Ok(failures(out.failed()))
    }

    #[instrument(skip(self, body, attributes), fields(queue = %url), level = "debug")]
    async fn send(
        &self,
        url: &str,
        body: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<String, PortError> {
        let mut call = self.client.send_message().queue_url(url).message_body(body);
        for (k, v) in attributes {
            let value = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(v)
                .build()
                .map_err(|e| build_err("SendMessage", e))?;
            call = call.message_attributes(k, value);
        }
        let out = call.send().await.map_err(|e| classify("SendMessage", e))?;
        Ok(out.message_id().unwrap_or_default().to_string())
    }

    #[instrument(skip(self), fields(queue = %url), level = "debug")]
    async fn read_attributes(
        &self,
        url: &str,
        names: &[&str],
    ) -> Result<BTreeMap<String, String>, PortError> {
        let names: Vec<QueueAttributeName> =
            names.iter().map(|n| QueueAttributeName::from(*n)).collect();
        self.attributes(url, &names).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sqs::operation::delete_message_batch::DeleteMessageBatchOutput;
    use aws_sdk_sqs::operation::receive_message::ReceiveMessageOutput;
    use aws_sdk_sqs::types::BatchResultErrorEntry;
    use aws_smithy_mocks::{mock, mock_client};

    #[tokio::test]
    async fn receive_asks_for_all_attributes_and_maps_them() {
        let rule = mock!(Client::receive_message)
            .match_requests(|r| {
                r.message_attribute_names() == ["All"]
                    && r.message_system_attribute_names()
                        == [
                            MessageSystemAttributeName::ApproximateReceiveCount,
                            MessageSystemAttributeName::SentTimestamp,
                        ]
                    && r.max_number_of_messages() == Some(10)
                    && r.wait_time_seconds() == Some(20)
            })
            .then_output(|| {
                ReceiveMessageOutput::builder()
                    .messages(
                        Message::builder()
                            .message_id("m1")
                            .receipt_handle("rh1")
                            .body("{}")
                            .message_attributes(
                                "ERROR_CODE",
                                MessageAttributeValue::builder()
                                    .data_type("String")
                                    .string_value("ERROR_FROM_TARGET")
                                    .build()
                                    .unwrap(),
                            )
                            .attributes(MessageSystemAttributeName::ApproximateReceiveCount, "3")
                            .attributes(MessageSystemAttributeName::SentTimestamp, "1757340000000")
                            .build(),
                    )
                    .build()
            });
        let sqs = Sqs::new(mock_client!(aws_sdk_sqs, [&rule]));
        let msgs = sqs
            .receive("https://q", 10, Duration::from_secs(25), None)
            .await
            .unwrap();
        assert_eq!(rule.num_calls(), 1);
        assert_eq!(msgs[0].attributes["ERROR_CODE"], "ERROR_FROM_TARGET");
        assert_eq!(msgs[0].receive_count, 3);
        assert_eq!(msgs[0].sent_at.unwrap().timestamp(), 1757340000);
    }

    #[tokio::test]
    async fn delete_batch_reports_per_entry_failures() {
        let rule = mock!(Client::delete_message_batch).then_output(|| {
            DeleteMessageBatchOutput::builder()
                .failed(
                    BatchResultErrorEntry::builder()
                        .id("1")
                        .code("ReceiptHandleIsInvalid")
                        .sender_fault(true)
                        .build()
                        .unwrap(),
                )
                .set_successful(Some(vec![]))
                .build()
                .unwrap()
        });
        let sqs = Sqs::new(mock_client!(aws_sdk_sqs, [&rule]));
        let entries = [
            BatchEntry {
                id: "0".into(),
                receipt_handle: "a".into(),
            },
            BatchEntry {
                id: "1".into(),
                receipt_handle: "b".into(),
            },
        ];
        let failed = sqs.delete_batch("https://q", &entries).await.unwrap();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].id, "1");
        assert_eq!(failed[0].code, "ReceiptHandleIsInvalid");
    }
}
