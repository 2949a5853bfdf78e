//! SNS adapter for the topic-publisher port.

use async_trait::async_trait;
use aws_sdk_sns::Client;
use tracing::instrument;

use super::error::classify;
use crate::ports::PortError;
use crate::ports::delivery::{TopicMessage, TopicPublisher};

/// The SNS client behind the topic-publisher port.
#[derive(Debug, Clone)]
pub struct Sns {
    /// Without the SDK's retries: a publish resent after a lost answer reaches every
    /// subscriber twice unseen, and throttling waits at the engine's gate.
    client: Client,
}

impl Sns {
    pub fn new(client: Client) -> Sns {
        let client = Client::from_conf(
            client
                .config()
                .to_builder()
                .retry_config(aws_sdk_sns::config::retry::RetryConfig::disabled())
                .build(),
        );
        Sns { client }
    }
}

#[async_trait]
impl TopicPublisher for Sns {
    #[instrument(skip(self, message), level = "debug")]
    async fn publish(&self, topic_arn: &str, message: &TopicMessage) -> Result<String, PortError> {
        let out = self
            .client
            .publish()
            .topic_arn(topic_arn)
            .message(&message.message)
            .set_subject(message.subject.clone())
            .set_message_group_id(message.group_id.clone())
            .set_message_deduplication_id(message.deduplication_id.clone())
            .send()
            .await
            .map_err(|e| classify("Publish", e))?;
        Ok(out.message_id().unwrap_or_default().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sns::error::ErrorMetadata;
    use aws_sdk_sns::operation::publish::{PublishError, PublishOutput};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    const TOPIC: &str = "arn:aws:sns:us-east-2:123456789012:billing.fifo";

    fn message() -> TopicMessage {
        TopicMessage {
            message: r#"{"id":"evt_1"}"#.into(),
            subject: None,
            group_id: Some("billing".into()),
            deduplication_id: Some("evt_1".into()),
        }
    }

    fn error(code: &'static str) -> PublishError {
        PublishError::generic(ErrorMetadata::builder().code(code).message("m").build())
    }

    #[tokio::test]
    async fn publish_sends_the_message_and_fifo_fields() {
        let rule = mock!(Client::publish)
            .match_requests(|r| {
                r.topic_arn() == Some(TOPIC)
                    && r.message() == Some(r#"{"id":"evt_1"}"#)
                    && r.message_group_id() == Some("billing")
                    && r.message_deduplication_id() == Some("evt_1")
            })
            .then_output(|| PublishOutput::builder().message_id("m-1").build());
        let sns = Sns::new(mock_client!(aws_sdk_sns, [&rule]));
        assert_eq!(sns.publish(TOPIC, &message()).await.unwrap(), "m-1");
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn throttling_is_answered_at_once_without_the_sdk_retries() {
        let rule = mock!(Client::publish)
            .sequence()
            .error(|| error("Throttled"))
            .output(|| PublishOutput::builder().message_id("m-1").build())
            .build();
        let sns = Sns::new(mock_client!(
            aws_sdk_sns,
            RuleMode::Sequential,
            [&rule],
            |c| c.retry_config(
                aws_sdk_sns::config::retry::RetryConfig::standard()
                    .with_max_attempts(3)
                    .with_initial_backoff(std::time::Duration::from_millis(1))
            )
        ));
        let err = sns.publish(TOPIC, &message()).await.unwrap_err();
        assert!(matches!(err, PortError::Throttled(_)), "{err:?}");
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_deleted_topic_and_a_refused_key_are_classified() {
        for (code, want_not_found) in [("NotFound", true), ("KMSAccessDenied", false)] {
            let rule = mock!(Client::publish).then_error(move || error(code));
            let sns = Sns::new(mock_client!(aws_sdk_sns, [&rule]));
            let err = sns.publish(TOPIC, &message()).await.unwrap_err();
            assert_eq!(
                matches!(err, PortError::NotFound(_)),
                want_not_found,
                "{err:?}"
            );
            assert_eq!(
                matches!(err, PortError::Denied(_)),
                !want_not_found,
                "{err:?}"
            );
        }
    }
}
