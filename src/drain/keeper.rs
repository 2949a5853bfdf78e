//! Keeps every message a drain holds invisible until it is deleted or released, whatever
//! it waits on (the rate gate, the throttling gate, backoff, the ledger, a prefetched batch,
//! the end of the run). A message whose visibility lapsed could be received and re-emitted
//! by another run with another ledger: a duplicate nobody would count.
//!
//! Each received message is tracked with its newest receipt handle (only that one can change
//! its visibility) and when its visibility was last set; a task extends, 10 per
//! `ChangeMessageVisibilityBatch`, those set more than half a timeout ago.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::ports::queue::{BatchEntry, Queue, ReceivedMessage};

struct Tracked {
    url: Arc<str>,
    handle: String,
    set_at: Instant,
}

/// The messages a run holds, by message id.
pub(crate) struct Keeper {
    visibility: Duration,
    held: Mutex<HashMap<String, Tracked>>,
    /// Interned queue URLs (one per drained queue, not one per message).
    urls: Mutex<Vec<Arc<str>>>,
    extended: AtomicU64,
}

impl Keeper {
    /// `visibility` is what each receive asked for and what an extension asks for again.
    pub(crate) fn new(visibility: Duration) -> Keeper {
        Keeper {
            visibility,
            held: Mutex::new(HashMap::new()),
            urls: Mutex::new(Vec::new()),
            extended: AtomicU64::new(0),
        }
    }

    /// How often the task looks for messages to extend: often enough that a message is
    /// extended between half and five eighths of its timeout.
    pub(crate) fn period(&self) -> Duration {
        (self.visibility / 8).max(Duration::from_millis(100))
    }

    fn url(&self, url: &str) -> Arc<str> {
        let mut urls = self.urls.lock().expect("keeper urls");
        if let Some(u) = urls.iter().find(|u| &***u == url) {
            return u.clone();
        }
        let u: Arc<str> = Arc::from(url);
        urls.push(u.clone());
        u
    }

    /// Messages just received from `url` (at `at`): their visibility was set then. A message
    /// received again keeps only its newest handle.
    pub(crate) fn track(&self, url: &str, msgs: &[ReceivedMessage], at: Instant) {
        if msgs.is_empty() {
            return;
        }
        let url = self.url(url);
        let mut held = self.held.lock().expect("keeper");
        for m in msgs {
            held.insert(
                m.message_id.clone(),
                Tracked {
                    url: url.clone(),
                    handle: m.receipt_handle.clone(),
                    set_at: at,
                },
            );
        }
    }

    /// Messages deleted: nothing to keep any more.
    pub(crate) fn forget<'a>(&self, ids: impl IntoIterator<Item = &'a str>) {
        let mut held = self.held.lock().expect("keeper");
        for id in ids {
            held.remove(id);
        }
    }

    /// Extensions made so far.
    pub(crate) fn extended(&self) -> u64 {
        self.extended.load(Ordering::Relaxed)
    }

    /// Extends every message whose visibility was set half a timeout ago or more. A call or
    /// entry that fails for the service's sake is retried on the next tick; an entry SQS
    /// refuses for its handle (deleted elsewhere, or no longer in flight) is dropped with a
    /// warning, as no retry of that handle can succeed.
    pub(crate) async fn tick(&self, queue: &dyn Queue) {
        let now = Instant::now();
        let due_before = now.checked_sub(self.visibility / 2).unwrap_or(now);
        let mut due: BTreeMap<Arc<str>, Vec<(String, String)>> = BTreeMap::new();
        for (id, t) in self.held.lock().expect("keeper").iter() {
            if t.set_at <= due_before {
                due.entry(t.url.clone())
                    .or_default()
                    .push((id.clone(), t.handle.clone()));
            }
        }
        for (url, items) in due {
            let mut extended = 0u64;
            for chunk in items.chunks(10) {
                let entries = BatchEntry::for_handles(chunk.iter().map(|(_, h)| h.as_str()));
                let failed = match queue
                    .change_visibility_batch(&url, &entries, self.visibility)
                    .await
                {
                    Ok(failed) => failed,
                    Err(e) => {
                        tracing::warn!(queue = %url, error = %e, messages = chunk.len(), "could not extend the visibility of held messages; retrying on the next tick");
                        continue;
                    }
                };
                let at = Instant::now();
                let mut held = self.held.lock().expect("keeper");
                for (e, (id, handle)) in entries.iter().zip(chunk) {
                    let Some(f) = failed.iter().find(|f| f.id == e.id) else {
                        // Only if the handle is still the newest: a receive in between set
                        // the visibility itself, and its time stands.
                        if let Some(t) = held.get_mut(id)
                            && t.handle == *handle
                        {
                            t.set_at = at;
                        }
                        extended += 1;
                        continue;
                    };
                    if f.sender_fault {
                        if held.get(id).is_some_and(|t| t.handle == *handle) {
                            held.remove(id);
                        }
                        tracing::warn!(queue = %url, message = %id, code = %f.code, "could not extend the visibility of a held message: another consumer may receive it");
                    } else {
                        tracing::warn!(queue = %url, message = %id, code = %f.code, "could not extend the visibility of a held message; retrying on the next tick");
                    }
                }
            }
            if extended > 0 {
                self.extended.fetch_add(extended, Ordering::Relaxed);
                tracing::debug!(queue = %url, extended, "extended the visibility of held messages");
            }
        }
    }

    /// Ticks every `period` until `done` is notified; a tick in progress is finished first,
    /// so no extension lands after the caller goes on to release the messages.
    pub(crate) async fn run(&self, queue: &dyn Queue, done: &tokio::sync::Notify) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.period()) => self.tick(queue).await,
                _ = done.notified() => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::sqs::MemoryQueue;
    use crate::ports::PortError;
    use std::collections::BTreeMap as Map;

    async fn receive(q: &MemoryQueue, url: &str, n: u8) -> Vec<ReceivedMessage> {
        q.receive(url, n, Duration::ZERO, Some(Duration::from_secs(120)))
            .await
            .unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn extends_what_was_set_half_a_timeout_ago_ten_per_call() {
        let q = MemoryQueue::new();
        let r = q.create("dlq");
        for i in 0..25 {
            q.push("dlq", &format!("m{i}"), Map::new());
        }
        let k = Keeper::new(Duration::from_secs(120));
        let first = receive(&q, &r.url, 10).await;
        k.track(&r.url, &first, Instant::now());
        tokio::time::advance(Duration::from_secs(30)).await;
        let mut later = receive(&q, &r.url, 10).await;
        later.extend(receive(&q, &r.url, 5).await);
        k.track(&r.url, &later, Instant::now());
        // 59 s after the first receive nothing is due.
        tokio::time::advance(Duration::from_secs(29)).await;
        k.tick(&q).await;
        assert_eq!(q.calls("visibility"), 0);
        // At 60 s the first ten are: one call.
        tokio::time::advance(Duration::from_secs(1)).await;
        k.tick(&q).await;
        assert_eq!((q.calls("visibility"), k.extended()), (1, 10));
        // At 90 s the other fifteen: two calls, and the first ten are not due again.
        tokio::time::advance(Duration::from_secs(30)).await;
        k.tick(&q).await;
        assert_eq!((q.calls("visibility"), k.extended()), (3, 25));
        assert!(
            q.visibility_calls()
                .iter()
                .all(|(_, h, t)| h.len() <= 10 && *t == Duration::from_secs(120))
        );
        // At 170 s, long after their first 120 s, every message is still held.
        tokio::time::advance(Duration::from_secs(80)).await;
        assert_eq!(q.depth_now("dlq"), (0, 25));
    }

    #[tokio::test(start_paused = true)]
    async fn a_message_received_again_is_extended_with_its_newest_handle() {
        let q = MemoryQueue::new();
        let r = q.create("dlq");
        q.push("dlq", "m", Map::new());
        let k = Keeper::new(Duration::from_secs(120));
        let old = receive(&q, &r.url, 1).await;
        k.track(&r.url, &old, Instant::now());
        // Delivered again (its visibility lapsed, or SQS delivered a copy): a new handle.
        tokio::time::advance(Duration::from_secs(20)).await;
        q.make_all_visible();
        let new = receive(&q, &r.url, 1).await;
        k.track(&r.url, &new, Instant::now());
        assert_ne!(old[0].receipt_handle, new[0].receipt_handle);
        // Due 60 s after the newest receive, not after the first.
        tokio::time::advance(Duration::from_secs(50)).await;
        k.tick(&q).await;
        assert_eq!(q.calls("visibility"), 0);
        tokio::time::advance(Duration::from_secs(10)).await;
        k.tick(&q).await;
        let calls = q.visibility_calls();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].1, [new[0].receipt_handle.clone()]);
    }

    #[tokio::test(start_paused = true)]
    async fn forgotten_messages_are_not_extended_and_failures_are_retried_next_tick() {
        let q = MemoryQueue::new();
        let r = q.create("dlq");
        for i in 0..3 {
            q.push("dlq", &format!("m{i}"), Map::new());
        }
        let k = Keeper::new(Duration::from_secs(20));
        let msgs = receive(&q, &r.url, 3).await;
        k.track(&r.url, &msgs, Instant::now());
        k.forget([msgs[0].message_id.as_str()]);
        tokio::time::advance(Duration::from_secs(10)).await;
        q.fail_next_visibility_changes(vec![PortError::Transient("503".into())]);
        k.tick(&q).await;
        assert_eq!(k.extended(), 0, "the call failed");
        k.tick(&q).await;
        assert_eq!(
            k.extended(),
            2,
            "retried on the next tick; the forgotten one left out"
        );
        // A handle SQS refuses is dropped: no retry can succeed.
        q.expire_receipt_handles();
        tokio::time::advance(Duration::from_secs(10)).await;
        k.tick(&q).await;
        tokio::time::advance(Duration::from_secs(10)).await;
        let calls = q.calls("visibility");
        k.tick(&q).await;
        assert_eq!(q.calls("visibility"), calls, "nothing left to extend");
    }

    #[tokio::test(start_paused = true)]
    async fn run_ticks_until_told_to_stop() {
        let q = MemoryQueue::new();
        let r = q.create("dlq");
        q.push("dlq", "m", Map::new());
        let k = Arc::new(Keeper::new(Duration::from_secs(16)));
        let msgs = receive(&q, &r.url, 1).await;
        k.track(&r.url, &msgs, Instant::now());
        let done = Arc::new(tokio::sync::Notify::new());
        let task = tokio::spawn({
            let (k, q, done) = (k.clone(), q.clone(), done.clone());
            async move { k.run(&q, &done).await }
        });
        tokio::time::sleep(Duration::from_secs(100)).await;
        // Every 8 s (a period of 2 s, due after 8 s): 12 extensions in 100 s, never lapsed.
        assert_eq!(k.extended(), 12);
        assert_eq!(q.depth_now("dlq"), (0, 1));
        done.notify_one();
        task.await.unwrap();
        tokio::time::sleep(Duration::from_secs(100)).await;
        assert_eq!(k.extended(), 12);
        assert_eq!(
            q.depth_now("dlq"),
            (1, 0),
            "visible again once nobody keeps it"
        );
    }
}
