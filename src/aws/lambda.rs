//! Lambda adapter for the function-invoker port.

use async_trait::async_trait;
use aws_sdk_lambda::Client;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType as AwsInvocationType;
use tracing::instrument;

use super::error::classify;
use crate::ports::PortError;
use crate::ports::delivery::{FunctionInvoker, InvocationType, InvokeOutcome};

/// The Lambda client behind the function-invoker port.
#[derive(Debug, Clone)]
pub struct Lambda {
    /// Without the SDK's retries: an invocation retried after a lost answer runs the
    /// function twice unseen, and a throttled one must wait at the engine's shared gate.
    client: Client,
}

impl Lambda {
    pub fn new(client: Client) -> Lambda {
        let client = Client::from_conf(
            client
                .config()
                .to_builder()
                .retry_config(aws_sdk_lambda::config::retry::RetryConfig::disabled())
                .build(),
        );
        Lambda { client }
    }
}

#[async_trait]
impl FunctionInvoker for Lambda {
    #[instrument(skip(self, payload), fields(bytes = payload.len()), level = "debug")]
    async fn invoke(
        &self,
        function: &str,
        payload: &[u8],
        invocation: InvocationType,
    ) -> Result<InvokeOutcome, PortError> {
        let out = self
            .client
            .invoke()
            .function_name(function)
            .invocation_type(match invocation {
                InvocationType::RequestResponse => AwsInvocationType::RequestResponse,
                InvocationType::Event => AwsInvocationType::Event,
            })
            .payload(Blob::new(payload))
            .send()
            .await
            .map_err(|e| classify("Invoke", e))?;
        Ok(match out.function_error() {
            Some(kind) => InvokeOutcome::function_error(
                kind,
                out.payload().map(Blob::as_ref).unwrap_or_default(),
            ),
            None => InvokeOutcome::Accepted {
                status: out.status_code(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_lambda::error::ErrorMetadata;
    use aws_sdk_lambda::operation::invoke::{InvokeError, InvokeOutput};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    const FN: &str = "arn:aws:lambda:us-east-2:123456789012:function:subs";

    fn error(code: &'static str) -> InvokeError {
        InvokeError::generic(ErrorMetadata::builder().code(code).message("m").build())
    }

    #[tokio::test]
    async fn a_synchronous_invocation_sends_the_payload_and_is_accepted() {
        let rule = mock!(Client::invoke)
            .match_requests(|r| {
                r.function_name() == Some(FN)
                    && r.invocation_type() == Some(&AwsInvocationType::RequestResponse)
                    && r.payload().map(Blob::as_ref) == Some(br#"{"id":"evt_1"}"#.as_slice())
            })
            .then_output(|| {
                InvokeOutput::builder()
                    .status_code(200)
                    .payload(Blob::new("null"))
                    .build()
            });
        let lambda = Lambda::new(mock_client!(aws_sdk_lambda, [&rule]));
        let out = lambda
            .invoke(FN, br#"{"id":"evt_1"}"#, InvocationType::RequestResponse)
            .await
            .unwrap();
        assert_eq!(out, InvokeOutcome::Accepted { status: 200 });
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn an_asynchronous_invocation_is_accepted_when_queued() {
        let rule = mock!(Client::invoke)
            .match_requests(|r| r.invocation_type() == Some(&AwsInvocationType::Event))
            .then_output(|| InvokeOutput::builder().status_code(202).build());
        let lambda = Lambda::new(mock_client!(aws_sdk_lambda, [&rule]));
        let out = lambda
            .invoke(FN, b"{}", InvocationType::Event)
            .await
            .unwrap();
        assert_eq!(out, InvokeOutcome::Accepted { status: 202 });
    }

    #[tokio::test]
    async fn a_function_error_is_its_own_outcome_with_the_error_payload() {
        let rule = mock!(Client::invoke).then_output(|| {
            InvokeOutput::builder()
                .status_code(200)
                .function_error("Unhandled")
                .payload(Blob::new(
                    r#"{"errorType":"Error","errorMessage":"card_declined"}"#,
                ))
                .build()
        });
        let lambda = Lambda::new(mock_client!(aws_sdk_lambda, [&rule]));
        let out = lambda
            .invoke(FN, b"{}", InvocationType::RequestResponse)
            .await
            .unwrap();
        assert_eq!(
            out,
            InvokeOutcome::FunctionError {
                kind: "Unhandled".into(),
                detail: r#"{"errorType":"Error","errorMessage":"card_declined"}"#.into(),
            }
        );
    }

    /// A 429 reaches the engine after one call, even from a client configured to retry:
    /// the engine's gate paces every pipeline instead.
    #[tokio::test]
    async fn throttling_is_answered_at_once_without_the_sdk_retries() {
        let rule = mock!(Client::invoke)
            .sequence()
            .error(|| error("TooManyRequestsException"))
            .output(|| InvokeOutput::builder().status_code(200).build())
            .build();
        let lambda = Lambda::new(mock_client!(
            aws_sdk_lambda,
            RuleMode::Sequential,
            [&rule],
            |c| c.retry_config(
                aws_sdk_lambda::config::retry::RetryConfig::standard()
                    .with_max_attempts(3)
                    .with_initial_backoff(std::time::Duration::from_millis(1))
            )
        ));
        let err = lambda
            .invoke(FN, b"{}", InvocationType::RequestResponse)
            .await
            .unwrap_err();
        assert!(matches!(err, PortError::Throttled(_)), "{err:?}");
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn other_failures_are_classified() {
        for (code, retryable) in [
            ("ResourceNotFoundException", false),
            ("ServiceException", true),
            ("AccessDeniedException", false),
        ] {
            let rule = mock!(Client::invoke).then_error(move || error(code));
            let lambda = Lambda::new(mock_client!(aws_sdk_lambda, [&rule]));
            let err = lambda
                .invoke(FN, b"{}", InvocationType::RequestResponse)
                .await
                .unwrap_err();
            assert_eq!(err.is_retryable(), retryable, "{code}: {err:?}");
            assert!(err.to_string().contains(code), "{err}");
        }
    }
}
