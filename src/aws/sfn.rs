//! Step Functions adapter for the execution-starter port.

use async_trait::async_trait;
use aws_sdk_sfn::Client;
use tracing::instrument;

use super::error::classify;
use crate::ports::PortError;
use crate::ports::delivery::{ExecutionStarted, ExecutionStarter, same_input};

/// The Step Functions client behind the execution-starter port.
#[derive(Debug, Clone)]
pub struct StepFunctions {
    /// For DescribeExecution, a read that is safe to retry.
    client: Client,
    /// StartExecution without the SDK's retries: the engine retries (one layer, paced by
    /// its shared gate), and the execution name makes its retries idempotent.
    start_client: Client,
}

impl StepFunctions {
    pub fn new(client: Client) -> StepFunctions {
        let start_client = Client::from_conf(
            client
                .config()
                .to_builder()
                .retry_config(aws_sdk_sfn::config::retry::RetryConfig::disabled())
                .build(),
        );
        StepFunctions {
            client,
            start_client,
        }
    }

    /// Step Functions refuses a name in use when that execution has ended, or runs with
    /// another input; only the same input is this delivery's own earlier start.
    async fn existing(
        &self,
        state_machine_arn: &str,
        name: &str,
        input: &str,
    ) -> Result<ExecutionStarted, PortError> {
        let arn = execution_arn(state_machine_arn, name).ok_or_else(|| {
            PortError::Invalid(format!(
                "StartExecution: {state_machine_arn} is not a state machine ARN"
            ))
        })?;
        let out = self
            .client
            .describe_execution()
            .execution_arn(&arn)
            .send()
            .await
            .map_err(|e| classify("DescribeExecution", e))?;
        if same_input(out.input().unwrap_or_default(), input) {
            Ok(ExecutionStarted {
                execution_arn: arn,
                already_existed: true,
            })
        } else {
            Err(PortError::AlreadyExists(format!(
                "StartExecution: execution {name} of {state_machine_arn} exists with another input (not this event's delivery): the message stays"
            )))
        }
    }
}

/// `arn:P:states:R:A:stateMachine:SM[:qualifier]` + name → `arn:P:states:R:A:execution:SM:NAME`.
fn execution_arn(state_machine_arn: &str, name: &str) -> Option<String> {
    let (prefix, rest) = state_machine_arn.split_once(":stateMachine:")?;
    let machine = rest.split(':').next().filter(|m| !m.is_empty())?;
    Some(format!("{prefix}:execution:{machine}:{name}"))
}

#[async_trait]
impl ExecutionStarter for StepFunctions {
    #[instrument(skip(self, input), level = "debug")]
    async fn start_execution(
        &self,
        state_machine_arn: &str,
        name: &str,
        input: &str,
    ) -> Result<ExecutionStarted, PortError> {
        let sent = self
            .start_client
            .start_execution()
            .state_machine_arn(state_machine_arn)
            .name(name)
            .input(input)
            .send()
            .await;
        match sent {
            Ok(out) => Ok(ExecutionStarted {
                execution_arn: out.execution_arn().to_string(),
                already_existed: false,
            }),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_execution_already_exists()) =>
            {
                self.existing(state_machine_arn, name, input).await
            }
            Err(e) => Err(classify("StartExecution", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sfn::error::ErrorMetadata;
    use aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput;
    use aws_sdk_sfn::operation::start_execution::{StartExecutionError, StartExecutionOutput};
    use aws_sdk_sfn::primitives::DateTime;
    use aws_sdk_sfn::types::ExecutionStatus;
    use aws_sdk_sfn::types::error::ExecutionAlreadyExists;
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};

    const SM: &str = "arn:aws:states:us-east-2:123456789012:stateMachine:billing";
    const EXEC: &str = "arn:aws:states:us-east-2:123456789012:execution:billing:nexus-evt_1-0a";

    fn started() -> StartExecutionOutput {
        StartExecutionOutput::builder()
            .execution_arn(EXEC)
            .start_date(DateTime::from_secs(0))
            .build()
            .unwrap()
    }

    fn already_exists() -> StartExecutionError {
        StartExecutionError::ExecutionAlreadyExists(
            ExecutionAlreadyExists::builder()
                .message(format!("Execution Already Exists: '{EXEC}'"))
                .meta(
                    ErrorMetadata::builder()
                        .code("ExecutionAlreadyExists")
                        .build(),
                )
                .build(),
        )
    }

    fn described(input: &'static str) -> DescribeExecutionOutput {
        DescribeExecutionOutput::builder()
            .execution_arn(EXEC)
            .state_machine_arn(SM)
            .status(ExecutionStatus::Succeeded)
            .start_date(DateTime::from_secs(0))
            .input(input)
            .build()
            .unwrap()
    }

    async fn start_evt_1(sfn: &StepFunctions) -> Result<ExecutionStarted, PortError> {
        sfn.start_execution(SM, "nexus-evt_1-0a", r#"{"id":"evt_1"}"#)
            .await
    }

    fn with_describe(start: &Rule, describe: &Rule) -> StepFunctions {
        StepFunctions::new(mock_client!(
            aws_sdk_sfn,
            RuleMode::MatchAny,
            [start, describe]
        ))
    }

    #[test]
    fn the_execution_arn_follows_from_the_state_machine_and_name() {
        assert_eq!(execution_arn(SM, "nexus-evt_1-0a").as_deref(), Some(EXEC));
        assert_eq!(
            execution_arn(&format!("{SM}:live"), "n").as_deref(),
            Some("arn:aws:states:us-east-2:123456789012:execution:billing:n")
        );
        assert_eq!(execution_arn("arn:aws:sqs:us-east-2:1:q", "n"), None);
    }

    #[tokio::test]
    async fn start_sends_name_and_input() {
        let rule = mock!(Client::start_execution)
            .match_requests(|r| {
                r.state_machine_arn() == Some(SM)
                    && r.name() == Some("nexus-evt_1-0a")
                    && r.input() == Some(r#"{"id":"evt_1"}"#)
            })
            .then_output(started);
        let sfn = StepFunctions::new(mock_client!(aws_sdk_sfn, [&rule]));
        let out = start_evt_1(&sfn).await.unwrap();
        assert_eq!(
            out,
            ExecutionStarted {
                execution_arn: EXEC.into(),
                already_existed: false
            }
        );
    }

    /// A retried start whose first answer was lost (and whose execution has ended since)
    /// is this delivery's own: accepted, nothing started twice.
    #[tokio::test]
    async fn an_existing_execution_with_the_same_input_counts_as_started() {
        let start = mock!(Client::start_execution).then_error(already_exists);
        let describe = mock!(Client::describe_execution)
            .match_requests(|r| r.execution_arn() == Some(EXEC))
            .then_output(|| described(r#"{ "id": "evt_1" }"#));
        let sfn = with_describe(&start, &describe);
        let out = start_evt_1(&sfn).await.unwrap();
        assert_eq!(
            out,
            ExecutionStarted {
                execution_arn: EXEC.into(),
                already_existed: true
            }
        );
        assert_eq!((start.num_calls(), describe.num_calls()), (1, 1));
    }

    #[tokio::test]
    async fn an_existing_execution_with_another_input_is_refused() {
        let start = mock!(Client::start_execution).then_error(already_exists);
        let describe =
            mock!(Client::describe_execution).then_output(|| described(r#"{"id":"evt_2"}"#));
        let sfn = with_describe(&start, &describe);
        let err = start_evt_1(&sfn).await.unwrap_err();
        assert!(matches!(err, PortError::AlreadyExists(_)), "{err:?}");
        assert!(err.to_string().contains("another input"), "{err}");
    }

    #[tokio::test]
    async fn throttling_is_answered_at_once_without_the_sdk_retries() {
        let rule = mock!(Client::start_execution)
            .sequence()
            .error(|| {
                StartExecutionError::generic(
                    ErrorMetadata::builder()
                        .code("ThrottlingException")
                        .message("Rate exceeded")
                        .build(),
                )
            })
            .output(started)
            .build();
        let sfn = StepFunctions::new(mock_client!(
            aws_sdk_sfn,
            RuleMode::Sequential,
            [&rule],
            |c| c.retry_config(
                aws_sdk_sfn::config::retry::RetryConfig::standard()
                    .with_max_attempts(3)
                    .with_initial_backoff(std::time::Duration::from_millis(1))
            )
        ));
        let err = sfn.start_execution(SM, "n", "{}").await.unwrap_err();
        assert!(matches!(err, PortError::Throttled(_)), "{err:?}");
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_deleted_state_machine_is_not_found() {
        let rule = mock!(Client::start_execution).then_error(|| {
            StartExecutionError::generic(
                ErrorMetadata::builder()
                    .code("StateMachineDoesNotExist")
                    .message("State Machine Does Not Exist")
                    .build(),
            )
        });
        let sfn = StepFunctions::new(mock_client!(aws_sdk_sfn, [&rule]));
        let err = sfn.start_execution(SM, "n", "{}").await.unwrap_err();
        assert!(matches!(err, PortError::NotFound(_)), "{err:?}");
    }
}
