//! The queue a `reemit --from FILE` drains: the messages of a `dlq export` file, one queue
//! per exported queue, kept in this process with the visibility rules of SQS (on tokio's
//! clock). Deleting from it only marks a message done: the file is read, never written, and
//! no real queue is touched.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::time::Instant;

use crate::ports::PortError;
use crate::ports::queue::{BatchEntry, BatchFailure, Queue, QueueDepth, QueueRef, ReceivedMessage};

/// A message of the file: visible from `visible_at`, held by the receipt `handle` of its
/// last receive.
struct Line {
    id: String,
    body: String,
    attributes: BTreeMap<String, String>,
    sent_at: DateTime<Utc>,
    receive_count: u32,
    visible_at: Instant,
    handle: Option<String>,
}

struct FileQ {
    queue: QueueRef,
    lines: Vec<Line>,
}

#[derive(Default)]
struct State {
    queues: Vec<FileQ>,
    /// Messages and receipts are numbered in the order they come.
    next: u64,
}

/// The messages of one export file, as queues a drain can work through.
pub struct FileQueue {
    source: String,
    state: Mutex<State>,
}

impl FileQueue {
    /// An empty set of queues read from `source` (the file, named in each queue's URL).
    pub fn new(source: &str) -> FileQueue {
        FileQueue {
            source: source.to_string(),
            state: Mutex::new(State::default()),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        // A panic elsewhere cannot leave the state half-changed: every change is one step.
        f(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Adds a queue standing for the exported one named `name` with ARN `arn` (empty when
    /// the export did not record it).
    pub fn add_queue(&self, name: &str, arn: &str) -> QueueRef {
        let queue = QueueRef {
            name: name.to_string(),
            url: format!("{}#{name}", self.source),
            arn: arn.to_string(),
        };
        self.with(|s| {
            s.queues.push(FileQ {
                queue: queue.clone(),
                lines: Vec::new(),
            })
        });
        queue
    }

    /// Adds a message to the queue named `name`, visible now.
    pub fn push(&self, name: &str, body: &str, attributes: BTreeMap<String, String>) {
        self.with(|s| {
            s.next += 1;
            let id = format!("m-{}", s.next);
            if let Some(q) = s.queues.iter_mut().find(|q| q.queue.name == name) {
                q.lines.push(Line {
                    id,
                    body: body.to_string(),
                    attributes,
                    sent_at: Utc::now(),
                    receive_count: 0,
                    visible_at: Instant::now(),
                    handle: None,
                });
            }
        })
    }
}

fn queue<'a>(s: &'a mut State, url: &str) -> Result<&'a mut FileQ, PortError> {
    s.queues
        .iter_mut()
        .find(|q| q.queue.url == url)
        .ok_or_else(|| PortError::NotFound(format!("no queue {url} in the file")))
}

/// Applies `f` to the message each entry's receipt handle holds; an entry whose handle
/// holds none fails as SQS would say.
fn each_held(
    q: &mut FileQ,
    entries: &[BatchEntry],
    mut f: impl FnMut(&mut Vec<Line>, usize),
) -> Vec<BatchFailure> {
    let mut failed = Vec::new();
    for e in entries {
        match q
            .lines
            .iter()
            .position(|l| l.handle.as_deref() == Some(e.receipt_handle.as_str()))
        {
            Some(i) => f(&mut q.lines, i),
            None => failed.push(BatchFailure {
                id: e.id.clone(),
                code: "ReceiptHandleIsInvalid".into(),
                message: Some("the receipt handle holds no message of the file".into()),
                sender_fault: true,
            }),
        }
    }
    failed
}

#[async_trait]
impl Queue for FileQueue {
    async fn resolve(&self, name: &str) -> Result<QueueRef, PortError> {
        self.with(|s| {
            s.queues
                .iter()
                .map(|q| &q.queue)
                .find(|q| q.name == name || q.url == name || (!q.arn.is_empty() && q.arn == name))
                .cloned()
                .ok_or_else(|| PortError::NotFound(format!("no queue {name} in the file")))
        })
    }

    async fn create_queue(&self, name: &str) -> Result<QueueRef, PortError> {
        Err(PortError::Invalid(format!(
            "cannot create queue {name}: the messages are read from a file, not from SQS"
        )))
    }

    async fn depth(&self, url: &str) -> Result<QueueDepth, PortError> {
        let now = Instant::now();
        self.with(|s| {
            let q = queue(s, url)?;
            let visible = q.lines.iter().filter(|l| l.visible_at <= now).count() as u64;
            Ok(QueueDepth {
                visible,
                in_flight: q.lines.len() as u64 - visible,
                delayed: 0,
            })
        })
    }

    async fn receive(
        &self,
        url: &str,
        max: u8,
        _wait: Duration,
        visibility: Option<Duration>,
    ) -> Result<Vec<ReceivedMessage>, PortError> {
        let now = Instant::now();
        let hold = visibility.unwrap_or(Duration::from_secs(30));
        self.with(|s| {
            let mut next = s.next;
            let q = queue(s, url)?;
            let mut out = Vec::new();
            for l in q
                .lines
                .iter_mut()
                .filter(|l| l.visible_at <= now)
                .take(usize::from(max))
            {
                next += 1;
                let handle = format!("rh-{}-{next}", l.id);
                l.handle = Some(handle.clone());
                l.receive_count += 1;
                l.visible_at = now + hold;
                out.push(ReceivedMessage {
                    message_id: l.id.clone(),
                    receipt_handle: handle,
                    body: l.body.clone(),
                    attributes: l.attributes.clone(),
                    receive_count: l.receive_count,
                    sent_at: Some(l.sent_at),
                });
            }
            s.next = next;
            Ok(out)
        })
    }

    async fn delete_batch(
        &self,
        url: &str,
        entries: &[BatchEntry],
    ) -> Result<Vec<BatchFailure>, PortError> {
        self.with(|s| {
            let q = queue(s, url)?;
            Ok(each_held(q, entries, |lines, i| {
                lines.remove(i);
            }))
        })
    }

    async fn change_visibility_batch(
        &self,
        url: &str,
        entries: &[BatchEntry],
        timeout: Duration,
    ) -> Result<Vec<BatchFailure>, PortError> {
        let now = Instant::now();
        self.with(|s| {
            let q = queue(s, url)?;
            Ok(each_held(q, entries, |lines, i| {
                lines[i].visible_at = now + timeout;
            }))
        })
    }

    async fn send(
        &self,
        url: &str,
        _body: &str,
        _attributes: &BTreeMap<String, String>,
    ) -> Result<String, PortError> {
        // reemit parks nothing: there is no park queue to send to.
        Err(PortError::Invalid(format!(
            "cannot send to {url}: a file's messages are only read"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(handle: &str) -> Vec<BatchEntry> {
        BatchEntry::for_handles([handle])
    }

    #[tokio::test(start_paused = true)]
    async fn messages_are_held_released_and_deleted_as_sqs_does() {
        let f = FileQueue::new("x.jsonl");
        let q = f.add_queue("dlq", "arn:aws:sqs:us-east-2:1:dlq");
        f.push("dlq", "a", BTreeMap::new());
        f.push("dlq", "b", BTreeMap::new());
        assert_eq!(f.resolve("arn:aws:sqs:us-east-2:1:dlq").await.unwrap(), q);
        assert!(f.resolve("other").await.is_err());

        let got = f
            .receive(&q.url, 10, Duration::ZERO, Some(Duration::from_secs(60)))
            .await
            .unwrap();
        assert_eq!(
            got.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(got[0].message_id, "m-1");
        let depth = f.depth(&q.url).await.unwrap();
        assert_eq!((depth.visible, depth.in_flight), (0, 2));
        assert!(
            f.receive(&q.url, 10, Duration::ZERO, None)
                .await
                .unwrap()
                .is_empty()
        );

        // Released: visible again, received a second time with a new handle.
        let failed = f
            .change_visibility_batch(&q.url, &one(&got[1].receipt_handle), Duration::ZERO)
            .await
            .unwrap();
        assert!(failed.is_empty());
        let again = f.receive(&q.url, 10, Duration::ZERO, None).await.unwrap();
        assert_eq!((again.len(), again[0].receive_count), (1, 2));
        assert_ne!(again[0].receipt_handle, got[1].receipt_handle);

        // An old handle deletes nothing; the current ones do.
        let stale = f
            .delete_batch(&q.url, &one(&got[1].receipt_handle))
            .await
            .unwrap();
        assert_eq!(stale[0].code, "ReceiptHandleIsInvalid");
        f.delete_batch(&q.url, &one(&got[0].receipt_handle))
            .await
            .unwrap();
        f.delete_batch(&q.url, &one(&again[0].receipt_handle))
            .await
            .unwrap();
        let depth = f.depth(&q.url).await.unwrap();
        assert_eq!((depth.visible, depth.in_flight), (0, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn a_lapsed_visibility_makes_a_message_visible_again_and_nothing_can_be_sent() {
        let f = FileQueue::new("x.jsonl");
        let q = f.add_queue("dlq", "");
        f.push("dlq", "a", BTreeMap::new());
        f.receive(&q.url, 1, Duration::ZERO, Some(Duration::from_secs(10)))
            .await
            .unwrap();
        tokio::time::advance(Duration::from_secs(11)).await;
        assert_eq!(f.depth(&q.url).await.unwrap().visible, 1);
        assert!(f.send(&q.url, "b", &BTreeMap::new()).await.is_err());
    }
}
