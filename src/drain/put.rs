//! PutEvents for a batch of candidates, with per-entry retry budgets.

use super::classify::Candidate;
use super::pack::pack;
use super::state::Shared;
use super::throttle::backoff;
use crate::ports::PortError;
use crate::ports::sink::{PutEntry, PutOutcome};

/// What became of one candidate's put.
#[derive(Debug, Clone)]
pub(super) enum Put {
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

/// Puts every candidate, retrying only retryable failures. One result per candidate.
/// Budgets per entry: `max_put_attempts` for failures on the service's side, with a jittered
/// backoff between rounds; `max_throttled_attempts` for throttling, paced by the shared gate.
/// Once the run stops, no call is sent: what is still pending is `NotSent`.
pub(super) async fn put_all(sh: &Shared, cands: &[Candidate]) -> Vec<Put> {
    let n = cands.len();
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
        let entries: Vec<&PutEntry> = pending.iter().map(|&i| &cands[i].entry).collect();
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
        for call in pack(&entries, sh.cfg.size_limit) {
            let idx: Vec<usize> = call.iter().map(|&j| pending[j]).collect();
            if !sh.wait_turn(idx.len()).await {
                for &i in &idx {
                    results[i] = Some(Put::NotSent);
                }
                continue;
            }
            let batch: Vec<PutEntry> = idx.iter().map(|&i| cands[i].entry.clone()).collect();
            match sh.ports.sink.put_events(&batch).await {
                Ok(outcomes) => {
                    let mut any_throttle = false;
                    for (&i, o) in idx.iter().zip(outcomes) {
                        match o {
                            PutOutcome::Accepted { event_id } => {
                                results[i] = Some(Put::Accepted { event_id })
                            }
                            ref r @ PutOutcome::Rejected {
                                ref code,
                                ref message,
                            } => {
                                if r.is_retryable() {
                                    let throttle = code == "ThrottlingException";
                                    any_throttle |= throttle;
                                    backoff_next |= !throttle;
                                    match retry_entry(i, throttle, code.clone(), message.clone()) {
                                        Ok(()) => again.push(i),
                                        Err(e) => results[i] = Some(e),
                                    }
                                } else {
                                    results[i] = Some(Put::Failed {
                                        code: code.clone(),
                                        message: message.clone(),
                                    });
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
                    tracing::warn!(error = %e, entries = idx.len(), "PutEvents failed; retrying");
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
        .map(|r| r.expect("every candidate answered"))
        .collect()
}
