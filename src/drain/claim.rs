//! The ledger steps of a batch: claim the keys before the put, then mark done what was
//! re-emitted and give back the claims of what was not.

use chrono::{DateTime, Utc};

use super::classify::Candidate;
use super::rounds::Put;
use super::state::{OwnCopy, Shared, Tally};
use crate::error::AppError;
use crate::ports::ledger::{Claim, ClaimOutcome, Finished};
use crate::ports::queue::{QueueRef, ReceivedMessage};

/// Claims the candidates' keys: answers the ones to put. A key found DONE with the same
/// content adds its message to `to_delete`; other keys leave their message held.
pub(super) async fn claim_all(
    sh: &Shared,
    q: &QueueRef,
    cands: Vec<Candidate>,
    now: DateTime<Utc>,
    to_delete: &mut Vec<ReceivedMessage>,
) -> Result<Vec<Candidate>, AppError> {
    let mut to_put = Vec::new();
    match &sh.ports.ledger {
        None => to_put = cands,
        Some(ledger) => {
            let claims: Vec<Claim> = cands
                .iter()
                .map(|c| Claim {
                    key: c.ledger_key.clone(),
                    run_id: sh.cfg.run_id.clone(),
                    redrive: c.redrive,
                    now,
                    in_progress_for: sh.cfg.claim_for,
                    ttl: sh.cfg.ledger_ttl,
                    digest: c.digest.clone(),
                })
                .collect();
            let outcomes = if claims.is_empty() {
                Vec::new()
            } else {
                match ledger.claim(&claims).await {
                    Ok(o) => o,
                    Err(e) => {
                        for c in &cands {
                            sh.hold(&q.url, &c.msg);
                        }
                        return Err(AppError::Port(e));
                    }
                }
            };
            for (c, o) in cands.into_iter().zip(outcomes) {
                match o {
                    ClaimOutcome::Claimed => to_put.push(c),
                    ClaimOutcome::Done(r) if r.content_differs(&c.digest) => {
                        sh.hold(&q.url, &c.msg);
                        sh.conflict(&q.name, &c.msg.message_id, &c.ledger_key, &r);
                    }
                    ClaimOutcome::Done(_) => {
                        if let Some(arn) = c.target_arn() {
                            sh.tally(arn, Tally::Duplicate);
                        }
                        sh.lock().counts.duplicates += 1;
                        to_delete.push(c.msg);
                    }
                    ClaimOutcome::Held(r) if r.run_id == sh.cfg.run_id => {
                        // Another copy of this event, claimed by this run: decided at the end,
                        // once that copy's re-emit is done (or not).
                        sh.hold(&q.url, &c.msg);
                        sh.lock().own_copies.push(OwnCopy {
                            queue: q.name.clone(),
                            message_id: c.msg.message_id.clone(),
                            key: c.ledger_key.clone(),
                            redrive: c.redrive,
                            digest: c.digest.clone(),
                        });
                    }
                    ClaimOutcome::Held(r) => {
                        sh.hold(&q.url, &c.msg);
                        sh.lock().counts.held_elsewhere += 1;
                        tracing::info!(key = %c.ledger_key, holder = %r.run_id, "key claimed by another run; left in the queue");
                    }
                }
            }
        }
    }
    Ok(to_put)
}

/// Marks done what was re-emitted and gives back the claims of what failed for sure or was
/// not sent; counts the re-emits and warns about their duplicate keys.
pub(super) async fn finish(sh: &Shared, q: &QueueRef, to_put: &[Candidate], results: &[Put]) {
    let mut done = Vec::new();
    let mut released = Vec::new();
    for (c, r) in to_put.iter().zip(results) {
        match r {
            Put::Accepted { event_id } => {
                if let Some(arn) = c.target_arn() {
                    sh.tally(arn, Tally::Delivered);
                }
                done.push(Finished {
                    key: c.ledger_key.clone(),
                    event_id: event_id.clone(),
                })
            }
            Put::Failed { code, message } => {
                if let Some(arn) = c.target_arn() {
                    sh.tally(arn, Tally::Failed);
                }
                released.push(c.ledger_key.clone());
                sh.hold(&q.url, &c.msg);
                sh.fail(q, &c.msg, Some(c.key.clone()), code, message.clone(), false);
            }
            Put::NotSent => {
                released.push(c.ledger_key.clone());
                sh.hold(&q.url, &c.msg);
            }
        }
    }
    if let Some(ledger) = &sh.ports.ledger {
        if !done.is_empty() {
            match ledger
                .mark_done(&sh.cfg.run_id, &done, sh.ports.clock.now())
                .await
            {
                Ok(owned) => {
                    let lost = owned.iter().filter(|o| !**o).count() as u64;
                    sh.lock().counts.possible_duplicates += lost;
                }
                Err(e) => {
                    // The events are on the bus; without DONE a later run may put them once
                    // more after the claim expires (the documented window). Delete anyway.
                    tracing::warn!(error = %e, "could not mark keys done in the ledger");
                    sh.lock().counts.possible_duplicates += done.len() as u64;
                }
            }
        }
        if !released.is_empty()
            && let Err(e) = ledger.release(&sh.cfg.run_id, &released).await
        {
            tracing::warn!(error = %e, "could not release the claims of events not re-emitted; they expire by themselves");
        }
    }
    sh.lock().counts.reemitted += done.len() as u64;
    for (c, _) in to_put
        .iter()
        .zip(results)
        .filter(|(_, r)| matches!(r, Put::Accepted { .. }))
    {
        if !c.duplicate_keys.is_empty() {
            sh.warn_duplicate_keys(q, &c.msg, &c.key, &c.duplicate_keys);
        }
    }
}
