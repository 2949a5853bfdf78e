//! One pipeline over one queue: receive, classify (and, `--to target`, route), claim, put
//! or deliver, mark done, delete.

use std::sync::Arc;

use tokio::time::Instant;

use super::blast_radius::plan;
use super::claim::{claim_all, finish};
use super::classify::{Candidate, Class, Dest, Emit};
use super::config::{Redrive, Step};
use super::delete::delete_processed;
use super::deliver::deliver_all;
use super::put::put_all;
use super::rounds::Put;
use super::state::{Shared, crashed};
use crate::error::AppError;
use crate::ports::PortError;
use crate::ports::queue::{QueueRef, ReceivedMessage};

/// Classifies, claims, puts and marks done one received batch. Answers the messages to
/// delete: re-emitted, found done, or parked.
pub(super) async fn process(
    sh: &Shared,
    q: &QueueRef,
    msgs: Vec<ReceivedMessage>,
) -> Result<Vec<ReceivedMessage>, AppError> {
    let now = sh.ports.clock.now();
    let mut cands = Vec::new();
    let mut to_route = Vec::new();
    let mut to_delete: Vec<ReceivedMessage> = Vec::new();
    for m in msgs {
        match sh.classify(q, &m, now) {
            Class::Skip(why) => sh.skip(q, &m, why),
            Class::Leave {
                code,
                reason,
                key,
                target_arn,
            } => sh.leave(q, &m, key, code, reason, target_arn.as_deref()),
            Class::Route(u) => to_route.push((m, u)),
            Class::Poison { reason, key } => {
                if let Some(parked) = sh.poison(q, m, reason, key).await {
                    to_delete.push(parked);
                }
            }
            Class::Emit(e) => {
                let Emit {
                    key,
                    digest,
                    duplicate_keys,
                    redrive,
                    entry,
                    event_type,
                } = *e;
                cands.push(Candidate {
                    msg: m,
                    ledger_key: key.clone(),
                    key,
                    digest,
                    duplicate_keys,
                    redrive,
                    dest: Dest::Bus(entry),
                    event_type,
                });
            }
        }
    }
    // `--to target`: read each message's target (once per rule) and build its input.
    for (m, u) in to_route {
        match sh.route(q, m, *u).await {
            Ok(c) => cands.push(c),
            Err((m, u, why)) => sh.leave(
                q,
                &m,
                Some(u.key),
                why.code,
                why.reason,
                Some(&u.target_arn),
            ),
        }
    }

    if sh.cfg.dry_run {
        plan(sh, q, cands).await;
        return Ok(Vec::new());
    }

    // Stopping: nothing new is claimed; the candidates are released at the end.
    if sh.stopping() {
        for c in &cands {
            sh.hold(&q.url, &c.msg);
        }
        return Ok(to_delete);
    }

    // Claim.
    let to_put = claim_all(sh, q, cands, now, &mut to_delete).await?;
    if sh.hooks.crash_at(Step::AfterClaim) {
        return Err(crashed(Step::AfterClaim));
    }

    // Put, or deliver.
    let results = match sh.cfg.redrive {
        Redrive::Bus => put_all(sh, to_put.iter().map(Candidate::entry).collect()).await,
        Redrive::Target { .. } => deliver_all(sh, &to_put).await,
    };
    if sh.hooks.crash_at(Step::AfterPut) {
        return Err(crashed(Step::AfterPut));
    }

    // Mark done, or release the claim of what failed for sure.
    finish(sh, q, &to_put, &results).await;
    if sh.hooks.crash_at(Step::AfterDone) {
        return Err(crashed(Step::AfterDone));
    }

    // What was re-emitted, found done, or parked is deleted by the caller.
    to_delete.extend(
        to_put
            .into_iter()
            .zip(&results)
            .filter(|(_, r)| matches!(r, Put::Accepted { .. }))
            .map(|(c, _)| c.msg),
    );
    Ok(to_delete)
}

/// Receives a batch; from here until it is deleted or released, every message in it is
/// kept invisible (`Keeper`).
pub(super) async fn receive(sh: &Shared, q: &QueueRef) -> Result<Vec<ReceivedMessage>, AppError> {
    let want = match sh.cfg.max_messages {
        Some(max) => (max.saturating_sub(sh.lock().counts.received)).clamp(1, 10) as u8,
        None => 10,
    };
    // Retried by the SDK only (`aws::retry`).
    let msgs = sh
        .ports
        .queue
        .receive(&q.url, want, sh.cfg.receive_wait, Some(sh.cfg.visibility))
        .await
        .map_err(|e| match e {
            PortError::NotFound(m) => AppError::Port(PortError::NotFound(format!(
                "{m}: queue {} disappeared during the drain",
                q.name
            ))),
            other => AppError::Port(other),
        })?;
    sh.keeper.track(&q.url, &msgs, Instant::now());
    Ok(msgs)
}

/// One pipeline over one queue. Its calls overlap: while batch i is claimed and put, the
/// messages of batch i-1 are deleted and batch i+1 is received, so a pipeline waits about one
/// round trip per batch instead of three. Prefetching is off under `--max-messages` (the
/// count decides how many to receive).
pub(super) async fn worker(sh: Arc<Shared>, q: QueueRef) -> Result<(), AppError> {
    let mut prefetched: Option<Vec<ReceivedMessage>> = None;
    let mut deletes: Vec<ReceivedMessage> = Vec::new();
    let outcome = loop {
        if let Some(reason) = sh.stop_reason() {
            if let Some(msgs) = prefetched.take() {
                for m in &msgs {
                    sh.hold(&q.url, m);
                }
            }
            sh.note_stop(reason);
            break Ok(());
        }
        let msgs = match prefetched.take() {
            Some(batch) => batch,
            None => match receive(&sh, &q).await {
                Ok(msgs) => msgs,
                Err(e) => break Err(e),
            },
        };
        if msgs.is_empty() {
            sh.found_empty(&q);
            break Ok(());
        }
        let fresh = sh.admit(&q, msgs);
        if fresh.is_empty() {
            sh.note_stop(format!(
                "{}: only messages already seen in this run",
                q.name
            ));
            break Ok(());
        }
        let prefetch = sh.cfg.max_messages.is_none();
        let (processed, deleted, next) = tokio::join!(
            process(&sh, &q, fresh),
            delete_processed(&sh, &q, std::mem::take(&mut deletes)),
            async {
                if prefetch {
                    Some(receive(&sh, &q).await)
                } else {
                    None
                }
            },
        );
        let counts = sh.lock().counts;
        sh.observer.progress(&counts);
        let failed = match (processed, deleted) {
            (Ok(d), Ok(())) => {
                deletes = d;
                None
            }
            (Err(e), _) | (Ok(_), Err(e)) => Some(e),
        };
        match next {
            Some(Ok(batch)) if failed.is_some() => {
                for m in &batch {
                    sh.hold(&q.url, m);
                }
            }
            Some(Ok(batch)) => prefetched = Some(batch),
            Some(Err(e)) if failed.is_none() => break Err(e),
            _ => {}
        }
        if let Some(e) = failed {
            return Err(e);
        }
    };
    // What the last batch re-emitted is deleted whatever ended the loop.
    let deleted = delete_processed(&sh, &q, deletes).await;
    outcome.and(deleted)
}
