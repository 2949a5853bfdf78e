//! Maps SDK errors onto `PortError`, keeping the service's code and message.

use std::error::Error;

use aws_sdk_eventbridge::config::http::HttpResponse;
use aws_sdk_eventbridge::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::ports::PortError;

/// Classifies an SDK error from the call named `what` (e.g. "DescribeReplay").
pub(crate) fn classify<E>(what: &str, err: SdkError<E, HttpResponse>) -> PortError
where
    E: ProvideErrorMetadata + Error + Send + Sync + 'static,
{
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
                | "QueueDoesNotExist" => PortError::NotFound(text),
                "ValidationException"
                | "InvalidParameterValue"
                | "InvalidEventPatternException"
                | "InvalidParameterCombination"
                | "MissingParameter" => PortError::Invalid(text),
                "LimitExceededException" => PortError::LimitExceeded(text),
                "IllegalStatusException" => PortError::IllegalState(text),
                "ResourceAlreadyExistsException" => PortError::AlreadyExists(text),
                "ThrottlingException"
                | "Throttling"
                | "RequestThrottled"
                | "ProvisionedThroughputExceededException" => PortError::Throttled(text),
                "InternalException" | "InternalFailure" | "InternalError"
                | "ServiceUnavailable" => PortError::Transient(text),
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
