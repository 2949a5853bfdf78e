//! Maps SDK errors onto `PortError`, keeping the service's code and message.

use std::error::Error;

use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_eventbridge::config::http::HttpResponse;
use aws_sdk_eventbridge::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::ports::PortError;

/// Classifies an SDK error from the call named `what` (e.g. "DescribeReplay").
pub(crate) fn classify<E>(what: &str, err: SdkError<E, HttpResponse>) -> PortError
where
    E: ProvideErrorMetadata + Error + Send + Sync + 'static,
{
    if let Some(c) = credentials_error(&err) {
        let text = format!("{what}: cannot load AWS credentials: {}", chain(c));
        return match c {
            CredentialsError::ProviderTimedOut(_) => PortError::Transient(text),
            _ => PortError::Credentials(text),
        };
    }
    match &err {
        SdkError::ServiceError(se) if se.err().code().is_none() => {
            let status = se.raw().status().as_u16();
            let text = format!("{what}: HTTP {status} without an AWS error code");
            if status >= 500 {
                PortError::Transient(text)
            } else {
                PortError::Other(text)
            }
        }
        SdkError::ServiceError(se) => {
            let code = se.err().code().unwrap_or("Unknown");
            let msg = se.err().message().unwrap_or("no message");
            let text = format!("{what}: {code}: {msg}");
            match code {
                "ResourceNotFoundException"
                | "AWS.SimpleQueueService.NonExistentQueue"
                | "QueueDoesNotExist"
                | "NotFound"
                | "StateMachineDoesNotExist"
                | "ExecutionDoesNotExist" => PortError::NotFound(text),
                "ValidationException"
                | "InvalidParameterValue"
                | "InvalidEventPatternException"
                | "InvalidParameterCombination"
                | "MissingParameter"
                | "InvalidParameter"
                | "InvalidParameterException"
                | "InvalidParameterValueException"
                | "InvalidRequestContentException"
                | "RequestTooLargeException"
                | "InvalidArn"
                | "InvalidName"
                | "InvalidExecutionInput" => PortError::Invalid(text),
                "LimitExceededException"
                | "ExecutionLimitExceeded"
                | "ServiceQuotaExceededException" => PortError::LimitExceeded(text),
                "IllegalStatusException" => PortError::IllegalState(text),
                "ResourceAlreadyExistsException" | "ExecutionAlreadyExists" => {
                    PortError::AlreadyExists(text)
                }
                // Lambda answers 429 TooManyRequestsException (concurrency or rate), SNS
                // `Throttled`; KMS throttling behind an encrypted queue or topic is the same
                // signal to slow down.
                "ThrottlingException"
                | "Throttling"
                | "RequestThrottled"
                | "ProvisionedThroughputExceededException"
                | "TooManyRequestsException"
                | "EC2ThrottledException"
                | "Throttled"
                | "KMSThrottling"
                | "KmsThrottled"
                | "KmsThrottlingException" => PortError::Throttled(text),
                "AccessDeniedException"
                | "AccessDenied"
                | "UnauthorizedOperation"
                | "AuthorizationError"
                | "KMSAccessDenied"
                | "KMSAccessDeniedException"
                | "KmsAccessDeniedException" => PortError::Denied(text),
                "ExpiredTokenException"
                | "ExpiredToken"
                | "InvalidClientTokenId"
                | "UnrecognizedClientException"
                | "InvalidAccessKeyId"
                | "InvalidSignatureException"
                | "SignatureDoesNotMatch"
                | "IncompleteSignature"
                | "MissingAuthenticationToken" => PortError::Credentials(text),
                // Lambda's ServiceException is its 500; ResourceNotReadyException is a
                // function whose VPC connection is being re-established.
                "InternalException"
                | "InternalFailure"
                | "InternalError"
                | "ServiceUnavailable"
                | "ServiceUnavailableException"
                | "ServiceException"
                | "ResourceNotReadyException" => PortError::Transient(text),
                _ => PortError::Other(text),
            }
        }
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
            PortError::Transient(format!("{what}: {}", DisplayErrorContext(&err)))
        }
        // A connection that broke after the request may have been sent (reset, closed
        // before the answer): the call may have been applied. Only a request that could not
        // be built is not.
        SdkError::DispatchFailure(d) if !d.is_user() => {
            PortError::Transient(format!("{what}: {}", DisplayErrorContext(&err)))
        }
        _ => PortError::Other(format!("{what}: {}", DisplayErrorContext(&err))),
    }
}

/// The credentials error behind a failed call (the SDK reports one as a dispatch failure
/// wrapping the provider chain's error), if that is what it was.
fn credentials_error<'a>(err: &'a (dyn Error + 'static)) -> Option<&'a CredentialsError> {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if let Some(c) = e.downcast_ref::<CredentialsError>() {
            return Some(c);
        }
        cur = e.source();
    }
    None
}

/// An error and its sources, as one line per cause joined by ": " (the SDK's own context
/// display adds a debug dump that nobody should read at 3 a.m.; a hyper error's top level
/// says only "client error (Connect)").
pub(crate) fn chain(err: &(dyn Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        out.push_str(": ");
        out.push_str(&e.to_string());
        cur = e.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_credential_types::credential_fn::provide_credentials_fn;
    use aws_sdk_eventbridge::Client;
    use aws_sdk_eventbridge::config::{BehaviorVersion, Region};
    use aws_sdk_eventbridge::error::ErrorMetadata;
    use aws_sdk_eventbridge::operation::describe_event_bus::DescribeEventBusError;
    use aws_smithy_mocks::{mock, mock_client};

    async fn answered(code: &'static str) -> PortError {
        let rule = mock!(Client::describe_event_bus).then_error(move || {
            DescribeEventBusError::generic(
                ErrorMetadata::builder()
                    .code(code)
                    .message("not for you")
                    .build(),
            )
        });
        describe_bus(&mock_client!(aws_sdk_eventbridge, [&rule])).await
    }

    /// The error a DescribeEventBus call through `client` fails with, classified.
    async fn describe_bus(client: &Client) -> PortError {
        let err = client
            .describe_event_bus()
            .name("b")
            .send()
            .await
            .unwrap_err();
        classify("DescribeEventBus", err)
    }

    #[tokio::test]
    async fn refused_permissions_and_rejected_credentials_get_their_own_kind_and_a_hint() {
        for code in ["AccessDeniedException", "AccessDenied"] {
            let e = answered(code).await;
            assert!(matches!(e, PortError::Denied(_)), "{code}: {e:?}");
            assert!(e.hint().unwrap().contains("docs/iam/"));
            assert!(!e.is_retryable());
        }
        for code in ["ExpiredTokenException", "UnrecognizedClientException"] {
            let e = answered(code).await;
            assert!(matches!(e, PortError::Credentials(_)), "{code}: {e:?}");
            assert!(e.hint().unwrap().contains("--profile"));
            assert!(!e.is_retryable());
        }
        assert!(answered("SomethingElse").await.hint().is_none());
    }

    #[tokio::test]
    async fn the_delivery_services_codes_are_classified() {
        for (code, want) in [
            ("TooManyRequestsException", "throttled"),
            ("Throttled", "throttled"),
            ("KmsThrottlingException", "throttled"),
            ("ServiceException", "transient"),
            ("ServiceUnavailableException", "transient"),
            ("NotFound", "not found"),
            ("StateMachineDoesNotExist", "not found"),
            ("InvalidParameterException", "invalid"),
            ("RequestTooLargeException", "invalid"),
            ("ExecutionAlreadyExists", "exists"),
            ("ExecutionLimitExceeded", "limit"),
            ("KMSAccessDenied", "denied"),
        ] {
            let got = match answered(code).await {
                PortError::Throttled(_) => "throttled",
                PortError::Transient(_) => "transient",
                PortError::NotFound(_) => "not found",
                PortError::Invalid(_) => "invalid",
                PortError::AlreadyExists(_) => "exists",
                PortError::LimitExceeded(_) => "limit",
                PortError::Denied(_) => "denied",
                other => panic!("{code}: {other:?}"),
            };
            assert_eq!(got, want, "{code}");
        }
    }

    /// A client whose credentials provider answers `fail`; the call never reaches the
    /// (closed) endpoint.
    async fn without_credentials(fail: fn() -> CredentialsError) -> PortError {
        let conf = aws_sdk_eventbridge::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-2"))
            .endpoint_url("http://127.0.0.1:9")
            .credentials_provider(provide_credentials_fn(move || async move { Err(fail()) }))
            .build();
        describe_bus(&Client::from_conf(conf)).await
    }

    #[tokio::test]
    async fn missing_credentials_are_one_readable_line_per_cause_and_not_retried() {
        let e =
            without_credentials(|| CredentialsError::not_loaded("no credentials found in chain"))
                .await;
        let PortError::Credentials(text) = &e else {
            panic!("{e:?}")
        };
        assert_eq!(
            text,
            "DescribeEventBus: cannot load AWS credentials: the credential provider was not enabled: no credentials found in chain"
        );
        assert!(!e.is_retryable());
        // A provider that timed out (IMDS, say) may answer next time.
        let e = without_credentials(|| {
            CredentialsError::provider_timed_out(std::time::Duration::from_secs(5))
        })
        .await;
        assert!(
            matches!(e, PortError::Transient(_)) && e.is_retryable(),
            "{e:?}"
        );
    }
}
