//! Reading a queue without consuming it: receive up to a limit (each message once), then
//! make everything visible again.

use std::collections::HashSet;
use std::time::Duration;

use crate::ports::PortError;
use crate::ports::queue::{BatchEntry, Queue, ReceivedMessage};

/// How long browsed messages stay invisible before they are released (or expire).
pub const BROWSE_VISIBILITY: Duration = Duration::from_secs(60);

/// Receives up to `max` distinct messages, then releases them all.
pub async fn browse(
    queue: &dyn Queue,
    url: &str,
    max: usize,
) -> Result<Vec<ReceivedMessage>, PortError> {
    let mut seen = HashSet::new();
    let mut out: Vec<ReceivedMessage> = Vec::new();
    let result = async {
        while out.len() < max {
            let want = (max - out.len()).min(10) as u8;
            let batch = queue
                .receive(url, want, Duration::from_secs(1), Some(BROWSE_VISIBILITY))
                .await?;
            if batch.is_empty() {
                break;
            }
            let mut fresh = 0;
            for m in batch {
                if seen.insert(m.message_id.clone()) {
                    fresh += 1;
                    out.push(m);
                }
            }
            if fresh == 0 {
                break;
            }
        }
        Ok::<(), PortError>(())
    }
    .await;
    release(queue, url, &out).await;
    result.map(|_| out)
}

/// Makes messages visible again (best effort: they reappear after their timeout anyway).
pub async fn release(queue: &dyn Queue, url: &str, msgs: &[ReceivedMessage]) {
    for chunk in msgs.chunks(10) {
        let entries = BatchEntry::for_handles(chunk.iter().map(|m| m.receipt_handle.as_str()));
        if let Err(e) = queue
            .change_visibility_batch(url, &entries, Duration::ZERO)
            .await
        {
            tracing::warn!(error = %e, "could not release browsed messages; they reappear within {}s", BROWSE_VISIBILITY.as_secs());
        }
    }
}
