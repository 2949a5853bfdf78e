//! In-memory Lambda for the function-invoker port: functions that record what they were
//! invoked with, with hooks for throttling, lost answers and function errors.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::faults::CallFaults;
use crate::ports::PortError;
use crate::ports::delivery::{FunctionInvoker, InvocationType, InvokeOutcome};

/// One invocation that reached a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The function's name (a qualifier or ARN given to `invoke` is reduced to it).
    pub function: String,
    pub payload: String,
    pub invocation: InvocationType,
}

/// Decides whether a synchronous invocation fails in the function: Some(message) makes it
/// answer `FunctionError: Unhandled` with that error message.
pub type FunctionFault = Box<dyn FnMut(&Invocation) -> Option<String> + Send>;

#[derive(Default)]
struct State {
    functions: BTreeSet<String>,
    invoked: Vec<Invocation>,
    function_errors: Vec<Invocation>,
    fault: Option<FunctionFault>,
    faults: CallFaults,
}

/// A fake Lambda shared by clones.
#[derive(Clone, Default)]
pub struct MemoryLambda {
    state: Arc<Mutex<State>>,
}

/// `subs`, `subs:live`, `arn:...:function:subs[:live]` → `subs`.
fn function_name(function: &str) -> &str {
    let name = function
        .split_once(":function:")
        .map_or(function, |(_, rest)| rest);
    name.split(':').next().unwrap_or(name)
}

impl MemoryLambda {
    pub fn new() -> MemoryLambda {
        MemoryLambda::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().expect("lambda state"))
    }

    /// Adds a function; answers its ARN.
    pub fn add_function(&self, name: &str) -> String {
        self.with(|s| s.functions.insert(name.into()));
        format!("arn:aws:lambda:us-east-2:123456789012:function:{name}")
    }

    /// Deletes a function (invocations then answer NotFound).
    pub fn remove_function(&self, name: &str) {
        self.with(|s| s.functions.remove(name));
    }

    /// Function errors for synchronous invocations, decided per invocation.
    pub fn set_function_fault(&self, fault: FunctionFault) {
        self.with(|s| s.fault = Some(fault));
    }

    /// The next calls fail with these errors before reaching a function (for example
    /// `PortError::Throttled` for a 429).
    pub fn fail_next_calls(&self, errors: Vec<PortError>) {
        self.with(|s| s.faults.fail_next(errors));
    }

    /// The next `n` invocations run, but their answers are lost.
    pub fn lose_next_answers(&self, n: usize) {
        self.with(|s| s.faults.lose_next(n));
    }

    /// Invocations that ran without a function error (asynchronous ones included), in order.
    pub fn invoked(&self) -> Vec<Invocation> {
        self.with(|s| s.invoked.clone())
    }

    /// Invocations that ran and failed in the function.
    pub fn function_errors(&self) -> Vec<Invocation> {
        self.with(|s| s.function_errors.clone())
    }

    /// Every call made, failed ones included.
    pub fn calls(&self) -> usize {
        self.with(|s| s.faults.calls())
    }
}

#[async_trait]
impl FunctionInvoker for MemoryLambda {
    async fn invoke(
        &self,
        function: &str,
        payload: &[u8],
        invocation: InvocationType,
    ) -> Result<InvokeOutcome, PortError> {
        self.with(|s| {
            s.faults.before()?;
            let name = function_name(function);
            if !s.functions.contains(name) {
                return Err(PortError::NotFound(format!(
                    "Invoke: ResourceNotFoundException: Function not found: {function}"
                )));
            }
            let call = Invocation {
                function: name.to_string(),
                payload: String::from_utf8_lossy(payload).into_owned(),
                invocation,
            };
            // An asynchronous invocation is only queued: a failure in the function is
            // Lambda's to retry, not the caller's to see.
            let failure = match invocation {
                InvocationType::RequestResponse => s.fault.as_mut().and_then(|f| f(&call)),
                InvocationType::Event => None,
            };
            let outcome = match failure {
                Some(message) => {
                    s.function_errors.push(call);
                    InvokeOutcome::function_error(
                        "Unhandled",
                        serde_json::json!({"errorType": "Error", "errorMessage": message})
                            .to_string()
                            .as_bytes(),
                    )
                }
                None => {
                    s.invoked.push(call);
                    InvokeOutcome::Accepted {
                        status: match invocation {
                            InvocationType::RequestResponse => 200,
                            InvocationType::Event => 202,
                        },
                    }
                }
            };
            s.faults.after("Invoke")?;
            Ok(outcome)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn invocations_are_recorded_and_faults_injected() {
        let lambda = MemoryLambda::new();
        let arn = lambda.add_function("subs");
        lambda.set_function_fault(Box::new(|i| {
            i.payload
                .contains("bad")
                .then(|| "card_declined".to_string())
        }));
        lambda.fail_next_calls(vec![PortError::Throttled("Rate exceeded".into())]);
        let sync = InvocationType::RequestResponse;
        assert!(matches!(
            lambda.invoke(&arn, b"{}", sync).await,
            Err(PortError::Throttled(_))
        ));
        assert_eq!(
            lambda.invoke(&arn, b"{}", sync).await.unwrap(),
            InvokeOutcome::Accepted { status: 200 }
        );
        let failed = lambda.invoke("subs:live", b"bad", sync).await.unwrap();
        assert!(
            matches!(&failed, InvokeOutcome::FunctionError { kind, detail }
                if kind == "Unhandled" && detail.contains("card_declined")),
            "{failed:?}"
        );
        // Queued: the function's failure is not the caller's.
        assert_eq!(
            lambda
                .invoke(&arn, b"bad", InvocationType::Event)
                .await
                .unwrap(),
            InvokeOutcome::Accepted { status: 202 }
        );
        lambda.lose_next_answers(1);
        assert!(
            lambda
                .invoke(&arn, b"lost", sync)
                .await
                .unwrap_err()
                .is_retryable()
        );
        assert!(matches!(
            lambda.invoke("gone", b"{}", sync).await,
            Err(PortError::NotFound(_))
        ));
        let payloads: Vec<String> = lambda.invoked().into_iter().map(|i| i.payload).collect();
        assert_eq!(payloads, ["{}", "bad", "lost"]);
        assert_eq!(lambda.function_errors().len(), 1);
        assert_eq!(lambda.calls(), 6);
    }
}
