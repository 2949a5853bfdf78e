//! Receiving the capture queue while the replay runs, and after it COMPLETED until the
//! queue has stayed empty for the settle period: EventBridge delivers replayed events
//! after it counts them replayed, so the replay's state alone would cut the capture short.

use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::error::AppError;
use crate::ports::PortError;
use crate::ports::queue::{BatchEntry, Queue, ReceivedMessage};

/// Where the replay is, as the receiver needs to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Running,
    /// COMPLETED, seen at this instant.
    Completed(Instant),
    /// Ended otherwise (FAILED, CANCELLED, timed out, or the watch failed): stop at once.
    Stopped,
}

/// How the queue is read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReceiveOptions {
    pub settle: Duration,
    /// The long-poll wait of one receive (at most 20 s).
    pub wait: Duration,
    /// How long a received message stays invisible (it is deleted at once).
    pub visibility: Duration,
}

/// An empty receive takes at least this long, so an endpoint that answers at once (an
/// emulator, a fake) is not polled in a busy loop.
const MIN_IDLE: Duration = Duration::from_secs(1);
/// Failed receives in a row before the export gives up.
const MAX_CONSECUTIVE_ERRORS: u32 = 10;

/// Resolves when the phase changes. The watch sends its last phase and ends, dropping the
/// sender: that phase is final, so this never resolves again.
async fn changed(phase: &mut watch::Receiver<Phase>) {
    if phase.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Resolves when the phase becomes Stopped.
async fn stopped(phase: &mut watch::Receiver<Phase>) {
    while *phase.borrow_and_update() != Phase::Stopped {
        changed(phase).await;
    }
}

/// Receives until settled (true) or stopped (false); each batch goes to `take` before
/// it is deleted.
pub(crate) async fn receive_until_settled(
    queue: &dyn Queue,
    url: &str,
    mut phase: watch::Receiver<Phase>,
    opts: ReceiveOptions,
    take: &mut (dyn FnMut(&[ReceivedMessage]) -> Result<(), AppError> + Send),
) -> Result<bool, AppError> {
    let mut last_message = Instant::now();
    let mut errors = 0u32;
    loop {
        let now = Instant::now();
        let mut wait = opts.wait;
        match *phase.borrow() {
            Phase::Stopped => return Ok(false),
            Phase::Completed(at) => {
                let quiet_since = at.max(last_message);
                if now >= quiet_since + opts.settle {
                    return Ok(true);
                }
                wait = wait.min(quiet_since + opts.settle - now);
            }
            Phase::Running => {}
        }
        let wait = wait.max(MIN_IDLE);
        // A receive in flight is dropped only when the export stops anyway: dropping one
        // that got messages would hide them for the visibility timeout.
        let answer = tokio::select! {
            a = queue.receive(url, 10, wait, Some(opts.visibility)) => a,
            _ = stopped(&mut phase) => return Ok(false),
        };
        match answer {
            Ok(batch) if !batch.is_empty() => {
                errors = 0;
                take(&batch)?;
                delete(queue, url, &batch).await;
                last_message = Instant::now();
                continue;
            }
            Ok(_) => errors = 0,
            Err(e) if e.is_retryable() => {
                errors += 1;
                tracing::warn!(queue = url, error = %e, attempt = errors, "ReceiveMessage failed; still capturing");
                if errors >= MAX_CONSECUTIVE_ERRORS {
                    return Err(AppError::Port(PortError::Transient(format!(
                        "gave up reading the capture queue after {errors} failed ReceiveMessage calls in a row (last: {e})"
                    ))));
                }
            }
            Err(e) => return Err(AppError::Port(e)),
        }
        tokio::select! {
            _ = tokio::time::sleep_until(now + wait) => {}
            _ = changed(&mut phase) => {}
        }
    }
}

/// Deletes what was taken. A failure only means the message comes back (and is then a
/// duplicate): the queue is deleted at the end anyway.
async fn delete(queue: &dyn Queue, url: &str, batch: &[ReceivedMessage]) {
    let entries = BatchEntry::for_handles(batch.iter().map(|m| m.receipt_handle.as_str()));
    match queue.delete_batch(url, &entries).await {
        Ok(failed) if !failed.is_empty() => {
            tracing::debug!(
                queue = url,
                failed = failed.len(),
                "some captured messages were not deleted; their copies will be dropped as duplicates"
            )
        }
        Ok(_) => {}
        Err(e) => {
            tracing::debug!(queue = url, error = %e, "DeleteMessageBatch failed; the copies will be dropped as duplicates")
        }
    }
}
