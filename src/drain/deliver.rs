//! `--to target`: the delivery calls for a batch of routed candidates, one port per target
//! type, through the same retry rounds as PutEvents (`rounds`). SQS messages to one queue
//! and log events to one group share calls (up to 10); every other delivery is one call.
//! A pipeline makes its calls one after another, so `--concurrency` bounds the calls in
//! flight per queue: for a Lambda target, its concurrent invocations.

use async_trait::async_trait;

use super::classify::{Candidate, Dest};
use super::config::Redrive;
use super::put::answer_of;
use super::rounds::{Answer, Calls, Put, Retry, send_all};
use super::route::{DeliveryCall, Routed};
use super::state::Shared;
use crate::ports::PortError;
use crate::ports::delivery::{
    DeliveryPorts, InvocationType, InvokeOutcome, LogEvent, LogOutcome, OutgoingMessage,
    SendOutcome, TopicMessage,
};
use crate::ports::sink::PutEntry;

/// Entries per SendMessageBatch, PutEvents or PutLogEvents call.
const PER_CALL: usize = 10;

struct TargetCalls<'a> {
    sh: &'a Shared,
    ports: &'a DeliveryPorts,
    routed: Vec<&'a Routed>,
    invocation: InvocationType,
}

/// Which calls can carry several candidates: the same queue, bus or log group.
fn shared_call(call: &DeliveryCall) -> Option<(&'static str, &str)> {
    match call {
        DeliveryCall::Sqs { queue_url, .. } => Some(("sqs", queue_url)),
        DeliveryCall::Bus(e) => Some(("bus", &e.bus)),
        DeliveryCall::Logs { log_group, .. } => Some(("logs", log_group)),
        _ => None,
    }
}

/// A rejection whose code says throttling waits at the gate; others on the service's side
/// are retried with a backoff.
fn retry_of(code: &str, retryable: bool) -> Retry {
    match (
        retryable,
        code.contains("Throttl") || code.contains("TooManyRequests"),
    ) {
        (false, _) => Retry::No,
        (true, true) => Retry::Throttled,
        (true, false) => Retry::Failed,
    }
}

/// A per-entry failure carried as a port error (a log event whose later call failed).
fn answer_of_error(e: PortError) -> Answer {
    Answer::Rejected {
        code: "CallFailed".into(),
        retry: match &e {
            PortError::Throttled(_) => Retry::Throttled,
            PortError::Transient(_) => Retry::Failed,
            _ => Retry::No,
        },
        message: e.to_string(),
    }
}

#[async_trait]
impl Calls for TargetCalls<'_> {
    fn split(&self, pending: &[usize]) -> Vec<Vec<usize>> {
        let mut calls: Vec<Vec<usize>> = Vec::new();
        // Open calls per (type, queue/bus/group): the index of the call in `calls`.
        let mut open: Vec<((&str, &str), usize)> = Vec::new();
        for &i in pending {
            let Some(shared) = shared_call(&self.routed[i].call) else {
                calls.push(vec![i]);
                continue;
            };
            match open
                .iter()
                .find(|(k, c)| *k == shared && calls[*c].len() < PER_CALL)
            {
                Some(&(_, c)) => calls[c].push(i),
                None => {
                    open.push((shared, calls.len()));
                    calls.push(vec![i]);
                }
            }
        }
        calls
    }

    async fn call(&self, idx: &[usize]) -> Result<Vec<Answer>, PortError> {
        let first = self.routed[idx[0]];
        let p = self.ports;
        match &first.call {
            DeliveryCall::Lambda { function } => {
                let answer = match p
                    .lambda
                    .invoke(function, first.input.as_bytes(), self.invocation)
                    .await?
                {
                    InvokeOutcome::Accepted { status } => {
                        Answer::Accepted(format!("{function} (status {status})"))
                    }
                    InvokeOutcome::FunctionError { kind, detail } => Answer::Rejected {
                        code: "FunctionError".into(),
                        message: format!(
                            "the function {function} failed ({kind}): {detail}; the message stays"
                        ),
                        retry: Retry::No,
                    },
                };
                Ok(vec![answer])
            }
            DeliveryCall::Sqs { queue_url, .. } => {
                let messages: Vec<OutgoingMessage> = idx
                    .iter()
                    .enumerate()
                    .map(|(n, &i)| {
                        let r = self.routed[i];
                        let DeliveryCall::Sqs {
                            group_id,
                            deduplication_id,
                            ..
                        } = &r.call
                        else {
                            unreachable!("split groups SQS deliveries by queue")
                        };
                        OutgoingMessage {
                            id: n.to_string(),
                            body: r.input.clone(),
                            group_id: group_id.clone(),
                            deduplication_id: deduplication_id.clone(),
                        }
                    })
                    .collect();
                let outcomes = p.sqs.send_message_batch(queue_url, &messages).await?;
                Ok(outcomes
                    .into_iter()
                    .map(|o| match o {
                        SendOutcome::Accepted { message_id } => Answer::Accepted(message_id),
                        ref r @ SendOutcome::Rejected {
                            ref code,
                            ref message,
                            ..
                        } => Answer::Rejected {
                            retry: retry_of(code, r.is_retryable()),
                            code: code.clone(),
                            message: message.clone(),
                        },
                    })
                    .collect())
            }
            DeliveryCall::Sns {
                topic_arn,
                group_id,
                deduplication_id,
            } => {
                let message = TopicMessage {
                    message: first.input.clone(),
                    subject: None,
                    group_id: group_id.clone(),
                    deduplication_id: deduplication_id.clone(),
                };
                Ok(vec![Answer::Accepted(
                    p.sns.publish(topic_arn, &message).await?,
                )])
            }
            DeliveryCall::StateMachine {
                state_machine_arn,
                execution,
            } => {
                // An execution of this name with this input is an earlier start of this very
                // delivery: delivered.
                let started = p
                    .sfn
                    .start_execution(state_machine_arn, execution, &first.input)
                    .await?;
                Ok(vec![Answer::Accepted(started.execution_arn)])
            }
            DeliveryCall::Bus(_) => {
                let batch: Vec<PutEntry> = idx
                    .iter()
                    .map(|&i| match &self.routed[i].call {
                        DeliveryCall::Bus(e) => e.clone(),
                        _ => unreachable!("split groups bus deliveries by bus"),
                    })
                    .collect();
                let outcomes = self.sh.ports.sink.put_events(&batch).await?;
                Ok(outcomes.into_iter().map(answer_of).collect())
            }
            DeliveryCall::Logs {
                log_group, stream, ..
            } => {
                let events: Vec<LogEvent> = idx
                    .iter()
                    .map(|&i| {
                        let r = self.routed[i];
                        let DeliveryCall::Logs { timestamp_ms, .. } = &r.call else {
                            unreachable!("split groups log deliveries by group")
                        };
                        LogEvent {
                            timestamp_ms: *timestamp_ms,
                            message: r.input.clone(),
                        }
                    })
                    .collect();
                let outcomes = p.logs.put_log_events(log_group, stream, &events).await?;
                Ok(outcomes
                    .into_iter()
                    .map(|o| match o {
                        LogOutcome::Written => Answer::Accepted(format!("{log_group}/{stream}")),
                        LogOutcome::Failed(e) => answer_of_error(e),
                        refused => Answer::Rejected {
                            code: "LogEventRejected".into(),
                            message: format!(
                                "CloudWatch Logs kept the event out of {log_group} ({refused:?}: its time is outside what the group accepts)"
                            ),
                            retry: Retry::No,
                        },
                    })
                    .collect())
            }
        }
    }

    fn name(&self, idx: &[usize]) -> &'static str {
        match &self.routed[idx[0]].call {
            DeliveryCall::Lambda { .. } => "Invoke",
            DeliveryCall::Sqs { .. } => "SendMessageBatch",
            DeliveryCall::Sns { .. } => "Publish",
            DeliveryCall::StateMachine { .. } => "StartExecution",
            DeliveryCall::Bus(_) => "PutEvents",
            DeliveryCall::Logs { .. } => "PutLogEvents",
        }
    }
}

/// Delivers every candidate to its target, retrying only retryable failures. One result
/// per candidate.
pub(super) async fn deliver_all(sh: &Shared, cands: &[Candidate]) -> Vec<Put> {
    let (Some(ports), Redrive::Target { invocation }) = (&sh.ports.delivery, sh.cfg.redrive) else {
        return cands
            .iter()
            .map(|_| Put::Failed {
                code: "NoDeliveryPorts".into(),
                message: "this run has no delivery ports for --to target".into(),
            })
            .collect();
    };
    let routed: Vec<&Routed> = cands
        .iter()
        .map(|c| match &c.dest {
            Dest::Target(r) => &**r,
            Dest::Bus(_) => unreachable!("a target redrive routes every candidate"),
        })
        .collect();
    let n = routed.len();
    send_all(
        sh,
        n,
        &TargetCalls {
            sh,
            ports,
            routed,
            invocation,
        },
    )
    .await
}
