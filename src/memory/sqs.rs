//! In-memory SQS for engine tests: visibility timeouts (on tokio's clock, so paused-time
//! tests work), a new receipt handle per receive, and hooks for duplicate deliveries,
//! expired receipt handles and per-entry delete failures.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use tokio::time::Instant;

use crate::ports::PortError;
use crate::ports::queue::{BatchEntry, BatchFailure, Queue, QueueDepth, QueueRef, ReceivedMessage};

#[derive(Debug, Clone)]
struct Msg {
    id: String,
    body: String,
    attributes: BTreeMap<String, String>,
    /// Receipt handles that still work (a duplicate delivery adds a second one).
    handles: Vec<String>,
    visible_at: Instant,
    /// The visibility was last set by a receive or an extension (not by a release, a
    /// duplicate delivery or a surviving delete): once `visible_at` passes, it lapsed while
    /// its consumer held it.
    held: bool,
    receive_count: u32,
    sent_at: chrono::DateTime<Utc>,
}

#[derive(Default)]
struct Q {
    url: String,
    arn: String,
    msgs: Vec<Msg>,
    attributes: BTreeMap<String, String>,
}

#[derive(Default)]
struct State {
    queues: BTreeMap<String, Q>,
    next_id: u64,
    duplicate_deliveries: usize,
    delete_entry_failures: usize,
    surviving_deletes: usize,
    receive_errors: VecDeque<PortError>,
    visibility_errors: VecDeque<PortError>,
    /// Every ChangeMessageVisibilityBatch: (queue url, receipt handles, timeout).
    visibility_calls: Vec<(String, Vec<String>, Duration)>,
    calls: BTreeMap<&'static str, usize>,
}

/// A fake SQS shared by clones.
#[derive(Clone, Default)]
pub struct MemoryQueue {
    state: Arc<Mutex<State>>,
}

impl MemoryQueue {
    pub fn new() -> MemoryQueue {
        MemoryQueue::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().expect("queue state"))
    }

    /// Creates a queue named `name`; answers its ref.
    pub fn create(&self, name: &str) -> QueueRef {
        self.create_with_arn(name, &format!("arn:aws:sqs:us-east-2:123456789012:{name}"))
    }

    /// Creates a queue standing for the one with ARN `arn` (empty when unknown).
    pub fn create_with_arn(&self, name: &str, arn: &str) -> QueueRef {
        let q = QueueRef {
            name: name.into(),
            url: format!("https://sqs.us-east-2.amazonaws.com/123456789012/{name}"),
            arn: arn.into(),
        };
        self.with(|s| {
            s.queues.insert(
                name.into(),
                Q {
                    url: q.url.clone(),
                    arn: q.arn.clone(),
                    msgs: Vec::new(),
                    attributes: BTreeMap::new(),
                },
            )
        });
        q
    }

    /// Sets a queue attribute (`Policy`, `KmsMasterKeyId`, ...).
    pub fn set_attribute(&self, queue: &str, name: &str, value: &str) {
        self.with(|s| {
            let q = s.queues.get_mut(queue).expect("queue exists");
            q.attributes.insert(name.into(), value.into());
        });
    }

    /// Adds a message (visible now).
    pub fn push(&self, queue: &str, body: &str, attributes: BTreeMap<String, String>) -> String {
        self.with(|s| {
            s.next_id += 1;
            let id = format!("m-{}", s.next_id);
            let q = s.queues.get_mut(queue).expect("queue exists");
            q.msgs.push(Msg {
                id: id.clone(),
                body: body.into(),
                attributes,
                handles: Vec::new(),
                visible_at: Instant::now(),
                held: false,
                receive_count: 0,
                sent_at: Utc::now(),
            });
            id
        })
    }

    /// Bodies and attributes of every message still in the queue.
    pub fn messages(&self, queue: &str) -> Vec<(String, BTreeMap<String, String>)> {
        self.with(|s| {
            s.queues[queue]
                .msgs
                .iter()
                .map(|m| (m.body.clone(), m.attributes.clone()))
                .collect()
        })
    }

    /// Messages in the queue whose visibility has not expired.
    pub fn in_flight(&self, queue: &str) -> usize {
        let now = Instant::now();
        self.with(|s| {
            s.queues[queue]
                .msgs
                .iter()
                .filter(|m| m.visible_at > now)
                .count()
        })
    }

    /// (visible, in flight) now, without counting a call.
    pub fn depth_now(&self, queue: &str) -> (usize, usize) {
        let now = Instant::now();
        self.with(|s| {
            let msgs = &s.queues[queue].msgs;
            let visible = msgs.iter().filter(|m| m.visible_at <= now).count();
            (visible, msgs.len() - visible)
        })
    }

    /// Messages whose visibility timeout ran out while a consumer held them (received or
    /// extended, then neither deleted nor released): another consumer can receive them now.
    pub fn lapsed_now(&self, queue: &str) -> usize {
        let now = Instant::now();
        self.with(|s| {
            s.queues[queue]
                .msgs
                .iter()
                .filter(|m| m.held && m.visible_at <= now)
                .count()
        })
    }

    /// Makes every message visible now, as after a crash and the visibility timeout.
    pub fn make_all_visible(&self) {
        let now = Instant::now();
        self.with(|s| {
            for q in s.queues.values_mut() {
                for m in &mut q.msgs {
                    m.visible_at = now;
                }
            }
        });
    }

    /// The next `n` received messages are also left visible, so SQS delivers them again.
    pub fn duplicate_next_deliveries(&self, n: usize) {
        self.with(|s| s.duplicate_deliveries += n);
    }

    /// Every receipt handle handed out so far stops working (another receive happened).
    pub fn expire_receipt_handles(&self) {
        self.with(|s| {
            for q in s.queues.values_mut() {
                for m in &mut q.msgs {
                    m.handles.clear();
                }
            }
        });
    }

    /// The next `n` delete entries fail with an internal error.
    pub fn fail_next_delete_entries(&self, n: usize) {
        self.with(|s| s.delete_entry_failures += n);
    }

    /// The next `n` deletes succeed but leave a copy that is delivered again, as when an SQS
    /// server holding a copy was unavailable during the delete (standard queues deliver at
    /// least once).
    pub fn survive_next_deletes(&self, n: usize) {
        self.with(|s| s.surviving_deletes += n);
    }

    pub fn fail_next_receives(&self, errors: Vec<PortError>) {
        self.with(|s| s.receive_errors.extend(errors));
    }

    /// The next ChangeMessageVisibilityBatch calls fail with these errors.
    pub fn fail_next_visibility_changes(&self, errors: Vec<PortError>) {
        self.with(|s| s.visibility_errors.extend(errors));
    }

    /// Every ChangeMessageVisibilityBatch call so far: (queue url, receipt handles, timeout).
    pub fn visibility_calls(&self) -> Vec<(String, Vec<String>, Duration)> {
        self.with(|s| s.visibility_calls.clone())
    }

    /// Deletes a whole queue (as if someone removed it mid-run).
    pub fn delete_queue(&self, name: &str) {
        self.with(|s| s.queues.remove(name));
    }

    /// How many calls of an operation were made ("receive", "delete", "visibility", "send").
    pub fn calls(&self, op: &str) -> usize {
        self.with(|s| s.calls.get(op).copied().unwrap_or(0))
    }
}

fn find<'a>(s: &'a mut State, url: &str) -> Result<&'a mut Q, PortError> {
    s.queues
        .values_mut()
        .find(|q| q.url == url)
        .ok_or_else(|| PortError::NotFound(format!("The specified queue does not exist: {url}")))
}

#[async_trait]
impl Queue for MemoryQueue {
    async fn resolve(&self, queue: &str) -> Result<QueueRef, PortError> {
        self.with(|s| {
            s.queues
                .iter()
                .find(|(name, q)| *name == queue || q.url == queue || q.arn == queue)
                .map(|(name, q)| QueueRef {
                    name: name.clone(),
                    url: q.url.clone(),
                    arn: q.arn.clone(),
                })
                .ok_or_else(|| {
                    PortError::NotFound(format!("The specified queue does not exist: {queue}"))
                })
        })
    }

    async fn create_queue(&self, name: &str) -> Result<QueueRef, PortError> {
        match self.resolve(name).await {
            Ok(q) => Ok(q),
            Err(_) => Ok(self.create(name)),
        }
    }

    async fn depth(&self, url: &str) -> Result<QueueDepth, PortError> {
        let now = Instant::now();
        self.with(|s| {
            let q = find(s, url)?;
            let visible = q.msgs.iter().filter(|m| m.visible_at <= now).count() as u64;
            Ok(QueueDepth {
                visible,
                in_flight: q.msgs.len() as u64 - visible,
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
        self.with(|s| {
            *s.calls.entry("receive").or_default() += 1;
            if let Some(e) = s.receive_errors.pop_front() {
                return Err(e);
            }
            let mut dup = s.duplicate_deliveries;
            let mut next_id = s.next_id;
            let q = find(s, url)?;
            let mut out = Vec::new();
            for m in q
                .msgs
                .iter_mut()
                .filter(|m| m.visible_at <= now)
                .take(max as usize)
            {
                next_id += 1;
                let handle = format!("rh-{}-{next_id}", m.id);
                m.handles.push(handle.clone());
                m.receive_count += 1;
                if dup > 0 {
                    dup -= 1;
                    m.held = false;
                } else {
                    m.visible_at = now + visibility.unwrap_or(Duration::from_secs(30));
                    m.held = true;
                }
                out.push(ReceivedMessage {
                    message_id: m.id.clone(),
                    receipt_handle: handle,
                    body: m.body.clone(),
                    attributes: m.attributes.clone(),
                    receive_count: m.receive_count,
                    sent_at: Some(m.sent_at),
                });
            }
            s.duplicate_deliveries = dup;
            s.next_id = next_id;
            Ok(out)
        })
    }

    async fn delete_batch(
        &self,
        url: &str,
        entries: &[BatchEntry],
    ) -> Result<Vec<BatchFailure>, PortError> {
        self.with(|s| {
            *s.calls.entry("delete").or_default() += 1;
            let mut injected = s.delete_entry_failures;
            let mut surviving = s.surviving_deletes;
            let now = Instant::now();
            let q = find(s, url)?;
            let mut failed = Vec::new();
            for e in entries {
                if injected > 0 {
                    injected -= 1;
                    failed.push(BatchFailure {
                        id: e.id.clone(),
                        code: "InternalError".into(),
                        message: Some("injected".into()),
                        sender_fault: false,
                    });
                    continue;
                }
                match q
                    .msgs
                    .iter()
                    .position(|m| m.handles.contains(&e.receipt_handle))
                {
                    Some(i) if surviving > 0 => {
                        surviving -= 1;
                        let m = &mut q.msgs[i];
                        m.handles.clear();
                        m.visible_at = now;
                        m.held = false;
                    }
                    Some(i) => {
                        q.msgs.remove(i);
                    }
                    None => failed.push(BatchFailure {
                        id: e.id.clone(),
                        code: "ReceiptHandleIsInvalid".into(),
                        message: Some("The receipt handle has expired.".into()),
                        sender_fault: true,
                    }),
                }
            }
            s.delete_entry_failures = injected;
            s.surviving_deletes = surviving;
            Ok(failed)
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
            *s.calls.entry("visibility").or_default() += 1;
            s.visibility_calls.push((
                url.to_string(),
                entries.iter().map(|e| e.receipt_handle.clone()).collect(),
                timeout,
            ));
            if let Some(e) = s.visibility_errors.pop_front() {
                return Err(e);
            }
            let q = find(s, url)?;
            let mut failed = Vec::new();
            for e in entries {
                match q
                    .msgs
                    .iter_mut()
                    .find(|m| m.handles.contains(&e.receipt_handle))
                {
                    Some(m) => {
                        m.visible_at = now + timeout;
                        m.held = !timeout.is_zero();
                    }
                    None => failed.push(BatchFailure {
                        id: e.id.clone(),
                        code: "ReceiptHandleIsInvalid".into(),
                        message: None,
                        sender_fault: true,
                    }),
                }
            }
            Ok(failed)
        })
    }

    async fn send(
        &self,
        url: &str,
        body: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<String, PortError> {
        let name = self.with(|s| {
            *s.calls.entry("send").or_default() += 1;
            s.queues
                .iter()
                .find(|(_, q)| q.url == url)
                .map(|(n, _)| n.clone())
                .ok_or_else(|| {
                    PortError::NotFound(format!("The specified queue does not exist: {url}"))
                })
        })?;
        Ok(self.push(&name, body, attributes.clone()))
    }

    async fn read_attributes(
        &self,
        url: &str,
        names: &[&str],
    ) -> Result<BTreeMap<String, String>, PortError> {
        self.with(|s| {
            let q = find(s, url)?;
            Ok(q.attributes
                .iter()
                .filter(|(k, _)| names.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect())
        })
    }
}
