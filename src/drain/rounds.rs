//! The retry rounds every outgoing call of a batch goes through (PutEvents to a bus, or a
//! delivery to a rule's target): per-entry retry budgets, the shared throttling gate,
//! `--rate`, and a jittered backoff between rounds. What a call is comes from [`Calls`].

use async_trait::async_trait;

use super::state::Shared;
use super::throttle::backoff;
use crate::ports::PortError;

/// What became of one entry's send (a put, or a delivery).
#[derive(Debug, Clone)]
pub(super) enum Put {
    /// Accepted; the id the service gave it (event id, message id, execution ARN, ...).
    Accepted {
        event_id: String,
    },
    Failed {
        code: String,
        message: String,
    },
    /// The run stopped before it was sent (or sent again): its claim is given back and the
    /// message released, for a later run.
    NotSent,
}

/// Whether a rejected entry is worth another try, and on which budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Retry {
    /// The same entry would fail again.
    No,
    /// Throttled: `max_throttled_attempts`, paced by the shared gate.
    Throttled,
    /// A failure on the service's side: `max_put_attempts`, with a backoff.
    Failed,
}

/// One entry's answer within a call that went through.
#[derive(Debug, Clone)]
pub(super) enum Answer {
    Accepted(String),
    Rejected {
        code: String,
        message: String,
        retry: Retry,
    },
}

/// The calls that send a batch's entries, by index.
#[async_trait]
pub(super) trait Calls: Sync {
    /// Splits the pending entries into calls, in the order to make them.
    fn split(&self, pending: &[usize]) -> Vec<Vec<usize>>;
    /// Makes one call for these entries: one answer each, in order.
    async fn call(&self, idx: &[usize]) -> Result<Vec<Answer>, PortError>;
    /// The call's name for logs (`PutEvents`, `Invoke`, ...).
    fn name(&self, idx: &[usize]) -> &'static str;
}

/// Sends `n` entries through `calls`, retrying only retryable failures; one result per
/// entry. Budgets per entry: `max_put_attempts` for failures on the service's side, with a
/// jittered backoff between rounds; `max_throttled_attempts` for throttling, paced by the
/// shared gate. Once the run stops, no call is sent: what is still pending is `NotSent`.
pub(super) async fn send_all(sh: &Shared, n: usize, calls: &impl Calls) -> Vec<Put> {
    let mut results: Vec<Option<Put>> = vec![None; n];
    let mut failed = vec![0u32; n];
    let mut throttled = vec![0u32; n];
    let mut pending: Vec<usize> = (0..n).collect();
    let mut backoff_next = false;
    while !pending.is_empty() {
        if backoff_next {
            let worst = pending.iter().map(|&i| failed[i]).max().unwrap_or(1);
            tokio::select! {
                _ = tokio::time::sleep(backoff(worst.saturating_sub(1))) => {}
                _ = sh.stopped() => {}
            }
        }
        backoff_next = false;
        let mut again = Vec::new();
        // Counts one more try of entry `i`: Ok to go again, or the final error.
        let mut retry_entry =
            |i: usize, throttle: bool, code: String, msg: String| -> Result<(), Put> {
                let (used, budget) = if throttle {
                    throttled[i] += 1;
                    (throttled[i], sh.cfg.max_throttled_attempts)
                } else {
                    failed[i] += 1;
                    (failed[i], sh.cfg.max_put_attempts)
                };
                if used < budget {
                    Ok(())
                } else {
                    Err(Put::Failed {
                        code,
                        message: format!(
                            "{msg} (still failing after {} attempts, {} of them throttled)",
                            failed[i] + throttled[i],
                            throttled[i]
                        ),
                    })
                }
            };
        for idx in calls.split(&pending) {
            if !sh.wait_turn(idx.len()).await {
                for &i in &idx {
                    results[i] = Some(Put::NotSent);
                }
                continue;
            }
            match calls.call(&idx).await {
                Ok(answers) => {
                    let mut any_throttle = false;
                    for (&i, a) in idx.iter().zip(answers) {
                        match a {
                            Answer::Accepted(event_id) => {
                                results[i] = Some(Put::Accepted { event_id })
                            }
                            Answer::Rejected {
                                code,
                                message,
                                retry: Retry::No,
                            } => results[i] = Some(Put::Failed { code, message }),
                            Answer::Rejected {
                                code,
                                message,
                                retry,
                            } => {
                                let throttle = retry == Retry::Throttled;
                                any_throttle |= throttle;
                                backoff_next |= !throttle;
                                match retry_entry(i, throttle, code, message) {
                                    Ok(()) => again.push(i),
                                    Err(e) => results[i] = Some(e),
                                }
                            }
                        }
                    }
                    if any_throttle {
                        sh.throttled();
                    } else {
                        sh.unthrottled();
                    }
                }
                Err(e) if e.is_retryable() => {
                    let throttle = matches!(e, PortError::Throttled(_));
                    if throttle {
                        sh.throttled();
                    } else {
                        // The call may have been applied with its answer lost.
                        sh.lock().counts.possible_duplicates += idx.len() as u64;
                        backoff_next = true;
                    }
                    let call = calls.name(&idx);
                    tracing::warn!(error = %e, entries = idx.len(), "{call} failed; retrying");
                    for &i in &idx {
                        match retry_entry(i, throttle, "CallFailed".into(), e.to_string()) {
                            Ok(()) => again.push(i),
                            Err(err) => results[i] = Some(err),
                        }
                    }
                }
                Err(e) => {
                    for &i in &idx {
                        results[i] = Some(Put::Failed {
                            code: "CallFailed".into(),
                            message: e.to_string(),
                        });
                    }
                }
            }
        }
        again.sort_unstable();
        pending = again;
    }
    results
        .into_iter()
        .map(|r| r.expect("every entry answered"))
        .collect()
}
