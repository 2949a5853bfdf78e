//! In-memory SQS sending for the message-batch-sender port: messages land in a
//! [`MemoryQueue`] (so a test can drain a DLQ into a target queue and read it), FIFO
//! queues drop a repeated deduplication id for 5 minutes (on tokio's clock), and per-entry
//! failures, throttling and lost answers can be injected.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use super::faults::CallFaults;
use super::sqs::MemoryQueue;
use crate::ports::PortError;
use crate::ports::delivery::{MessageBatchSender, OutgoingMessage, SendOutcome};
use crate::ports::queue::Queue;

/// SQS's deduplication interval for FIFO queues.
const DEDUP_INTERVAL: Duration = Duration::from_secs(300);

/// Decides an entry's fate: None sends it, Some((code, sender_fault)) fails it.
pub type SendFault = Box<dyn FnMut(&OutgoingMessage) -> Option<(String, bool)> + Send>;

/// One message sent, as the fake received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    pub queue_url: String,
    pub message: OutgoingMessage,
    pub message_id: String,
}

#[derive(Default)]
struct State {
    sent: Vec<SentMessage>,
    /// (queue URL, deduplication id) → (message id, when).
    dedup: HashMap<(String, String), (String, Instant)>,
    entry_fault: Option<SendFault>,
    faults: CallFaults,
    next_id: u64,
}

/// A fake SendMessageBatch into the queues of a [`MemoryQueue`]; shared by clones.
#[derive(Clone)]
pub struct MemoryMessageSender {
    queues: MemoryQueue,
    state: Arc<Mutex<State>>,
}

impl MemoryMessageSender {
    /// Sends into the queues of `queues` (create the target queues there).
    pub fn new(queues: MemoryQueue) -> MemoryMessageSender {
        MemoryMessageSender {
            queues,
            state: Arc::default(),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().expect("sender state"))
    }

    /// Per-entry fault injection.
    pub fn set_entry_fault(&self, fault: SendFault) {
        self.with(|s| s.entry_fault = Some(fault));
    }

    /// The next calls fail whole with these errors (nothing sent).
    pub fn fail_next_calls(&self, errors: Vec<PortError>) {
        self.with(|s| s.faults.fail_next(errors));
    }

    /// The next `n` calls send, but their answers are lost.
    pub fn lose_next_answers(&self, n: usize) {
        self.with(|s| s.faults.lose_next(n));
    }

    /// Every message that entered a queue, in order (FIFO duplicates dropped by SQS are
    /// not here).
    pub fn sent(&self) -> Vec<SentMessage> {
        self.with(|s| s.sent.clone())
    }

    pub fn calls(&self) -> usize {
        self.with(|s| s.faults.calls())
    }
}

#[async_trait]
impl MessageBatchSender for MemoryMessageSender {
    async fn send_message_batch(
        &self,
        queue_url: &str,
        messages: &[OutgoingMessage],
    ) -> Result<Vec<SendOutcome>, PortError> {
        self.with(|s| s.faults.before())?;
        let queue = self.queues.resolve(queue_url).await?;
        let fifo = queue.name.ends_with(".fifo");
        if fifo && messages.iter().any(|m| m.group_id.is_none()) {
            // As moto answers (the whole call, not the entry).
            return Err(PortError::Invalid(
                "SendMessageBatch: MissingParameter: The request must contain the parameter MessageGroupId."
                    .into(),
            ));
        }
        let now = Instant::now();
        let mut accepted = Vec::new();
        let outcomes = self.with(|s| {
            messages
                .iter()
                .map(|m| {
                    if let Some((code, sender_fault)) = s.entry_fault.as_mut().and_then(|f| f(m)) {
                        return SendOutcome::Rejected {
                            message: format!("injected {code}"),
                            code,
                            sender_fault,
                        };
                    }
                    let key = m
                        .deduplication_id
                        .as_ref()
                        .filter(|_| fifo)
                        .map(|d| (queue_url.to_string(), d.clone()));
                    if let Some(key) = &key
                        && let Some((id, at)) = s.dedup.get(key)
                        && now.duration_since(*at) < DEDUP_INTERVAL
                    {
                        return SendOutcome::Accepted {
                            message_id: id.clone(),
                        };
                    }
                    s.next_id += 1;
                    let message_id = format!("sent-{}", s.next_id);
                    if let Some(key) = key {
                        s.dedup.insert(key, (message_id.clone(), now));
                    }
                    s.sent.push(SentMessage {
                        queue_url: queue_url.to_string(),
                        message: m.clone(),
                        message_id: message_id.clone(),
                    });
                    accepted.push(m.body.clone());
                    SendOutcome::Accepted { message_id }
                })
                .collect()
        });
        for body in accepted {
            self.queues.push(&queue.name, &body, BTreeMap::new());
        }
        self.with(|s| s.faults.after("SendMessageBatch"))?;
        Ok(outcomes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: &str, body: &str, dedup: Option<&str>) -> OutgoingMessage {
        OutgoingMessage {
            id: id.into(),
            body: body.into(),
            group_id: Some("g".into()),
            deduplication_id: dedup.map(str::to_string),
        }
    }

    #[tokio::test]
    async fn messages_land_in_the_target_queue_and_entries_can_fail() {
        let queues = MemoryQueue::new();
        let target = queues.create("orders");
        let sender = MemoryMessageSender::new(queues.clone());
        sender.set_entry_fault(Box::new(|m| {
            (m.body == "b").then(|| ("InternalError".to_string(), false))
        }));
        let out = sender
            .send_message_batch(
                &target.url,
                &[message("0", "a", None), message("1", "b", None)],
            )
            .await
            .unwrap();
        assert!(matches!(out[0], SendOutcome::Accepted { .. }));
        assert!(out[1].is_retryable());
        let bodies: Vec<String> = queues
            .messages("orders")
            .into_iter()
            .map(|(b, _)| b)
            .collect();
        assert_eq!(bodies, ["a"]);
        sender.fail_next_calls(vec![PortError::Throttled("slow".into())]);
        assert!(matches!(
            sender
                .send_message_batch(&target.url, &[message("0", "c", None)])
                .await,
            Err(PortError::Throttled(_))
        ));
        assert!(matches!(
            sender
                .send_message_batch("https://nowhere/q", &[message("0", "c", None)])
                .await,
            Err(PortError::NotFound(_))
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn a_fifo_queue_drops_a_repeated_deduplication_id_for_five_minutes() {
        let queues = MemoryQueue::new();
        let target = queues.create("orders.fifo");
        let sender = MemoryMessageSender::new(queues.clone());
        sender.lose_next_answers(1);
        let first = [message("0", "a", Some("evt_1"))];
        assert!(
            sender
                .send_message_batch(&target.url, &first)
                .await
                .unwrap_err()
                .is_retryable()
        );
        // The retry after the lost answer: accepted, not delivered twice.
        let again = sender
            .send_message_batch(&target.url, &first)
            .await
            .unwrap();
        assert_eq!(
            again,
            [SendOutcome::Accepted {
                message_id: "sent-1".into()
            }]
        );
        assert_eq!(queues.messages("orders.fifo").len(), 1);
        tokio::time::advance(DEDUP_INTERVAL).await;
        sender
            .send_message_batch(&target.url, &first)
            .await
            .unwrap();
        assert_eq!(queues.messages("orders.fifo").len(), 2);
        let no_group = OutgoingMessage {
            group_id: None,
            ..first[0].clone()
        };
        assert!(matches!(
            sender.send_message_batch(&target.url, &[no_group]).await,
            Err(PortError::Invalid(_))
        ));
    }
}
