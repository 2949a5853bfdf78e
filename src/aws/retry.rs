//! One retry layer per AWS call: who retries what, and how many times.
//!
//! - SQS (receive, delete, change visibility, park send) and DynamoDB (the ledger) are retried
//!   by the SDK's standard mode only (exponential backoff with jitter, throttling and 5xx):
//!   [`SQS_ATTEMPTS`] and [`DYNAMODB_ATTEMPTS`] calls at most (more if the profile asks for
//!   more). The drain engine does not retry these calls again on top.
//! - PutEvents is retried by the drain engine only (per entry, with the shared throttling
//!   gate): its client has the SDK retries disabled (`aws/eventbridge.rs`), because a retry
//!   must resend only the failed entries and count a lost answer as a possible duplicate.
//! - What a call answers as a per-entry failure (a `DeleteMessageBatch` entry failed for the
//!   service's sake) is not an SDK error, so the engine retries those entries itself.
//! - The SQLite ledger waits on a locked database through its busy timeout, nothing else.

use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;

/// Calls per SQS operation: a DLQ drain rides out a few seconds of throttling or 5xx.
pub const SQS_ATTEMPTS: u32 = 6;

/// Calls per DynamoDB operation: the ledger is on every message's path, so it rides out
/// longer throttling (provisioned tables) than the SDK's default of three.
pub const DYNAMODB_ATTEMPTS: u32 = 8;

/// The standard retry of `config` (the profile's, or the SDK default) with at least
/// `attempts` calls.
pub fn at_least(config: &SdkConfig, attempts: u32) -> RetryConfig {
    let retry = config
        .retry_config()
        .cloned()
        .unwrap_or_else(RetryConfig::standard);
    if retry.max_attempts() < attempts {
        retry.with_max_attempts(attempts)
    } else {
        retry
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    use super::*;
    use crate::ports::ledger::{Claim, Ledger};
    use crate::ports::queue::Queue;

    /// The SDK config the clients are built from, with no backoff to wait for.
    fn quick(attempts: u32) -> RetryConfig {
        at_least(&SdkConfig::builder().build(), attempts)
            .with_initial_backoff(Duration::from_millis(1))
    }

    #[test]
    fn the_profile_may_ask_for_more_attempts_never_fewer() {
        let few = SdkConfig::builder()
            .retry_config(RetryConfig::standard().with_max_attempts(2))
            .build();
        assert_eq!(at_least(&few, SQS_ATTEMPTS).max_attempts(), SQS_ATTEMPTS);
        let many = SdkConfig::builder()
            .retry_config(RetryConfig::standard().with_max_attempts(20))
            .build();
        assert_eq!(at_least(&many, SQS_ATTEMPTS).max_attempts(), 20);
    }

    #[tokio::test]
    async fn a_throttled_receive_is_sent_exactly_sqs_attempts_times() {
        use aws_sdk_sqs::Client;
        let rule = mock!(Client::receive_message)
            .sequence()
            .http_status(
                400,
                Some(r#"{"__type":"com.amazonaws.sqs#ThrottlingException","message":"Rate exceeded"}"#.into()),
            )
            .times(SQS_ATTEMPTS as usize + 5)
            .build();
        let client = mock_client!(aws_sdk_sqs, RuleMode::Sequential, [&rule], |c| c
            .retry_config(quick(SQS_ATTEMPTS)));
        let sqs = super::super::sqs::Sqs::new(client);
        let err = sqs
            .receive("https://q", 10, Duration::ZERO, None)
            .await
            .unwrap_err();
        assert!(err.is_retryable(), "{err:?}");
        assert_eq!(rule.num_calls(), SQS_ATTEMPTS as usize);
    }

    #[tokio::test]
    async fn a_throttled_claim_is_sent_exactly_dynamodb_attempts_times() {
        use aws_sdk_dynamodb::Client;
        let rule = mock!(Client::put_item)
            .sequence()
            .http_status(
                400,
                Some(r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"}"#.into()),
            )
            .times(DYNAMODB_ATTEMPTS as usize + 5)
            .build();
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&rule], |c| c
            .retry_config(quick(DYNAMODB_ATTEMPTS)));
        let ledger = super::super::dynamodb::DynamoLedger::new(client, "ledger");
        let claim = Claim {
            key: "evt_1".into(),
            run_id: "run-a".into(),
            redrive: 1,
            now: chrono::Utc::now(),
            in_progress_for: Duration::from_secs(300),
            ttl: Duration::from_secs(86_400),
            digest: "sha256:aa".into(),
        };
        let err = ledger.claim(&[claim]).await.unwrap_err();
        assert!(err.is_retryable(), "{err:?}");
        assert_eq!(rule.num_calls(), DYNAMODB_ATTEMPTS as usize);
    }
}
