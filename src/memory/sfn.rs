//! In-memory Step Functions for the execution-starter port: state machines that keep
//! their executions by name, answering a repeated name as Step Functions does, with hooks
//! for throttling and lost answers.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::faults::CallFaults;
use crate::ports::PortError;
use crate::ports::delivery::{ExecutionStarted, ExecutionStarter, same_input};

#[derive(Default)]
struct State {
    /// State machine ARN → execution name → input.
    machines: BTreeMap<String, BTreeMap<String, String>>,
    /// Executions started, in order: (state machine ARN, name, input).
    started: Vec<(String, String, String)>,
    faults: CallFaults,
}

/// A fake Step Functions shared by clones.
#[derive(Clone, Default)]
pub struct MemoryStepFunctions {
    state: Arc<Mutex<State>>,
}

impl MemoryStepFunctions {
    pub fn new() -> MemoryStepFunctions {
        MemoryStepFunctions::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().expect("sfn state"))
    }

    /// Adds a state machine; answers its ARN.
    pub fn add_state_machine(&self, name: &str) -> String {
        let arn = format!("arn:aws:states:us-east-2:123456789012:stateMachine:{name}");
        self.with(|s| s.machines.insert(arn.clone(), BTreeMap::new()));
        arn
    }

    /// The next calls fail with these errors (nothing started).
    pub fn fail_next_calls(&self, errors: Vec<PortError>) {
        self.with(|s| s.faults.fail_next(errors));
    }

    /// The next `n` starts go through, but their answers are lost.
    pub fn lose_next_answers(&self, n: usize) {
        self.with(|s| s.faults.lose_next(n));
    }

    /// Executions started, in order: (state machine ARN, name, input).
    pub fn started(&self) -> Vec<(String, String, String)> {
        self.with(|s| s.started.clone())
    }

    pub fn calls(&self) -> usize {
        self.with(|s| s.faults.calls())
    }
}

#[async_trait]
impl ExecutionStarter for MemoryStepFunctions {
    async fn start_execution(
        &self,
        state_machine_arn: &str,
        name: &str,
        input: &str,
    ) -> Result<ExecutionStarted, PortError> {
        self.with(|s| {
            s.faults.before()?;
            let executions = s.machines.get_mut(state_machine_arn).ok_or_else(|| {
                PortError::NotFound(format!(
                    "StartExecution: StateMachineDoesNotExist: State Machine Does Not Exist: '{state_machine_arn}'"
                ))
            })?;
            let execution_arn = format!(
                "{}:{name}",
                state_machine_arn.replacen(":stateMachine:", ":execution:", 1)
            );
            let already_existed = match executions.get(name) {
                Some(earlier) if same_input(earlier, input) => true,
                Some(_) => {
                    return Err(PortError::AlreadyExists(format!(
                        "StartExecution: execution {name} of {state_machine_arn} exists with another input (not this event's delivery): the message stays"
                    )));
                }
                None => {
                    executions.insert(name.to_string(), input.to_string());
                    s.started.push((
                        state_machine_arn.to_string(),
                        name.to_string(),
                        input.to_string(),
                    ));
                    false
                }
            };
            s.faults.after("StartExecution")?;
            Ok(ExecutionStarted {
                execution_arn,
                already_existed,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_retried_start_meets_its_first_execution() {
        let sfn = MemoryStepFunctions::new();
        let sm = sfn.add_state_machine("billing");
        sfn.lose_next_answers(1);
        assert!(
            sfn.start_execution(&sm, "n1", r#"{"a":1}"#)
                .await
                .unwrap_err()
                .is_retryable()
        );
        let again = sfn
            .start_execution(&sm, "n1", r#"{ "a": 1 }"#)
            .await
            .unwrap();
        assert!(again.already_existed);
        assert_eq!(
            again.execution_arn,
            "arn:aws:states:us-east-2:123456789012:execution:billing:n1"
        );
        assert!(matches!(
            sfn.start_execution(&sm, "n1", r#"{"a":2}"#).await,
            Err(PortError::AlreadyExists(_))
        ));
        sfn.fail_next_calls(vec![PortError::Throttled("Rate exceeded".into())]);
        assert!(matches!(
            sfn.start_execution(&sm, "n2", "{}").await,
            Err(PortError::Throttled(_))
        ));
        assert!(matches!(
            sfn.start_execution(
                "arn:aws:states:us-east-2:123456789012:stateMachine:gone",
                "n",
                "{}"
            )
            .await,
            Err(PortError::NotFound(_))
        ));
        assert_eq!(sfn.started().len(), 1);
        assert_eq!(sfn.calls(), 5);
    }
}
