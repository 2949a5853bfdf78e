//! Deleting the messages a batch re-emitted, found done, or parked.

use super::config::Step;
use super::state::{Shared, crashed};
use super::throttle::backoff;
use crate::error::AppError;
use crate::ports::queue::{BatchEntry, QueueRef, ReceivedMessage};

/// The message a batch entry (made by `BatchEntry::for_handles`) stands for.
pub(super) fn msg_of<'a>(
    chunk: &[&'a ReceivedMessage],
    e: &BatchEntry,
) -> Option<&'a ReceivedMessage> {
    e.id.parse::<usize>()
        .ok()
        .and_then(|i| chunk.get(i))
        .copied()
}

/// Deletes messages in batches of 10, retrying entries that failed for the service's sake. A
/// failed call is not retried here: the SDK already retried it (`aws::retry`).
pub(super) async fn delete_all(sh: &Shared, q: &QueueRef, msgs: &[&ReceivedMessage]) {
    for chunk in msgs.chunks(10) {
        let mut entries = BatchEntry::for_handles(chunk.iter().map(|m| m.receipt_handle.as_str()));
        let mut attempt = 0;
        while !entries.is_empty() {
            match sh.ports.queue.delete_batch(&q.url, &entries).await {
                Ok(failed) => {
                    sh.deleted(
                        entries
                            .iter()
                            .filter(|e| !failed.iter().any(|f| f.id == e.id))
                            .filter_map(|e| msg_of(chunk, e))
                            .map(|m| m.message_id.as_str()),
                    );
                    let mut again = Vec::new();
                    for f in failed {
                        let e = entries.iter().find(|e| e.id == f.id).cloned();
                        if f.sender_fault || attempt >= 3 {
                            sh.lock().counts.delete_failed += 1;
                            tracing::warn!(queue = %q.name, code = %f.code, "could not delete a re-emitted message; the ledger dedups it on the next run");
                            // Visible again at the end, so the next run finds it at once.
                            if let Some(m) = e.and_then(|e| msg_of(chunk, &e)) {
                                sh.hold(&q.url, m);
                            }
                        } else if let Some(e) = e {
                            again.push(e);
                        }
                    }
                    entries = again;
                }
                Err(e) => {
                    tracing::warn!(queue = %q.name, error = %e, "DeleteMessageBatch failed");
                    sh.lock().counts.delete_failed += entries.len() as u64;
                    for m in entries.iter().filter_map(|e| msg_of(chunk, e)) {
                        sh.hold(&q.url, m);
                    }
                    entries.clear();
                }
            }
            if !entries.is_empty() {
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
            }
        }
    }
}

/// Deletes a processed batch's messages; then the `AfterDelete` crash point.
pub(super) async fn delete_processed(
    sh: &Shared,
    q: &QueueRef,
    msgs: Vec<ReceivedMessage>,
) -> Result<(), AppError> {
    if msgs.is_empty() {
        return Ok(());
    }
    let refs: Vec<&ReceivedMessage> = msgs.iter().collect();
    delete_all(sh, q, &refs).await;
    if sh.hooks.crash_at(Step::AfterDelete) {
        return Err(crashed(Step::AfterDelete));
    }
    Ok(())
}
