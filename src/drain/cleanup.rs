//! The end of a run: settle this run's own duplicate copies, release what it holds, and
//! count what it left in the queues.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use super::state::{Shared, empty_reason};
use crate::ports::ledger::LedgerState;
use crate::ports::queue::BatchEntry;

/// Deletes the extra copies of keys this run re-emitted (a duplicate, no second put); copies
/// whose key did not end DONE stay for a later run, and copies of other content (a conflict)
/// stay too.
pub(super) async fn settle_own_copies(sh: &Shared) {
    let copies = std::mem::take(&mut sh.lock().own_copies);
    let Some(ledger) = &sh.ports.ledger else {
        return;
    };
    let mut by_queue: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for copy in copies {
        let done = match ledger.get(&copy.key).await {
            Ok(Some(r)) if r.state == LedgerState::Done && r.redrive >= copy.redrive => Some(r),
            _ => None,
        };
        let held = sh.lock().held.get(&copy.message_id).cloned();
        match (done, held) {
            (Some(r), Some(_)) if r.content_differs(&copy.digest) => {
                sh.conflict(&copy.queue, &copy.message_id, &copy.key, &r);
            }
            (Some(_), Some((url, handle))) => by_queue
                .entry(url)
                .or_default()
                .push((copy.message_id, handle)),
            _ => sh.lock().counts.held_elsewhere += 1,
        }
    }
    for (url, items) in by_queue {
        for chunk in items.chunks(10) {
            let entries = BatchEntry::for_handles(chunk.iter().map(|(_, h)| h.as_str()));
            let failed = match sh.ports.queue.delete_batch(&url, &entries).await {
                Ok(f) => f.into_iter().map(|f| f.id).collect::<HashSet<_>>(),
                Err(e) => {
                    tracing::warn!(error = %e, "could not delete duplicate copies; the ledger dedups them next run");
                    entries.iter().map(|e| e.id.clone()).collect()
                }
            };
            let mut gone = Vec::new();
            {
                let mut st = sh.lock();
                for (e, (id, _)) in entries.iter().zip(chunk) {
                    if failed.contains(&e.id) {
                        st.counts.delete_failed += 1;
                    } else {
                        st.held.remove(id);
                        st.counts.duplicates += 1;
                        gone.push(id.as_str());
                    }
                }
            }
            sh.deleted(gone);
        }
    }
}

/// Makes held messages visible again.
pub(super) async fn release_held(sh: &Shared) {
    let held: Vec<(String, String)> = sh.lock().held.drain().map(|(_, v)| v).collect();
    let mut by_queue: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (url, handle) in held {
        by_queue.entry(url).or_default().push(handle);
    }
    for (url, handles) in by_queue {
        for chunk in handles.chunks(10) {
            let entries = BatchEntry::for_handles(chunk.iter().map(String::as_str));
            match sh
                .ports
                .queue
                .change_visibility_batch(&url, &entries, Duration::ZERO)
                .await
            {
                Ok(failed) => sh.lock().counts.released += (entries.len() - failed.len()) as u64,
                Err(e) => {
                    tracing::warn!(error = %e, "could not release messages; they reappear after their visibility timeout")
                }
            }
        }
    }
}

/// Messages still in the drained queues (visible, in flight or delayed), so the summary can
/// say what the run left; None when a queue cannot be asked.
pub(super) async fn left_in_queues(sh: &Shared) -> Option<u64> {
    let mut left = 0;
    for q in &sh.cfg.queues {
        match sh.ports.queue.depth(&q.url).await {
            Ok(d) => left += d.visible + d.in_flight + d.delayed,
            Err(e) => {
                tracing::debug!(queue = %q.name, error = %e, "could not count what is left");
                return None;
            }
        }
    }
    Some(left)
}

/// A queue that answered empty may still hold messages in flight: a stopped or killed
/// run's (back after their visibility timeout) or another run's. One GetQueueAttributes per
/// such queue, after this run released what it held; approximate, as SQS's counts are.
pub(super) async fn check_in_flight(sh: &Shared) {
    let empty = sh.lock().found_empty.clone();
    for q in empty {
        let n = match sh.ports.queue.depth(&q.url).await {
            Ok(d) => d.in_flight,
            Err(e) => {
                tracing::warn!(queue = %q.name, error = %e, "could not check the queue for messages still in flight");
                continue;
            }
        };
        if n == 0 {
            continue;
        }
        let mut st = sh.lock();
        st.counts.in_flight += n;
        let was = empty_reason(&q);
        let now = format!(
            "{} is empty but {n} message(s) are still in flight: another run holds them, or a stopped run left them and they come back after their visibility timeout; run again then",
            q.name
        );
        match st.stop_reasons.iter_mut().find(|r| **r == was) {
            Some(r) => *r = now,
            None => st.stop_reasons.push(now),
        }
    }
}
