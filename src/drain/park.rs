//! What becomes of a message the drain cannot re-emit (poison), cannot send this way
//! (left), or was told to skip.

use super::config::{PARK_REASON_ATTRIBUTE, PARK_SOURCE_ATTRIBUTE};
use super::outcome::Planned;
use super::state::{Shared, Tally};
use crate::ports::queue::{QueueRef, ReceivedMessage};

/// A dry run's row for a message it would not send: no destination, only why.
fn planned(
    q: &QueueRef,
    m: &ReceivedMessage,
    action: &str,
    key: Option<String>,
    reason: String,
) -> Planned {
    Planned {
        queue: q.name.clone(),
        message_id: m.message_id.clone(),
        action: action.into(),
        dedup_key: key,
        event_type: None,
        bus: None,
        rules: vec![],
        reason: Some(reason),
        target: None,
    }
}

impl Shared {
    /// A message not selected: held (released at the end), counted, and planned in a dry run.
    pub(super) fn skip(&self, q: &QueueRef, m: &ReceivedMessage, why: String) {
        self.hold(&q.url, m);
        let mut st = self.lock();
        st.counts.filtered += 1;
        if self.cfg.dry_run {
            st.planned.push(planned(q, m, "skip", None, why));
        }
    }

    /// A message this redrive cannot send (another could): it stays in the queue, never
    /// parked, and is reported with `code` (a dry run plans it as "leave").
    pub(super) fn leave(
        &self,
        q: &QueueRef,
        m: &ReceivedMessage,
        key: Option<String>,
        code: &str,
        reason: String,
        target_arn: Option<&str>,
    ) {
        self.hold(&q.url, m);
        if !self.cfg.dry_run {
            if let Some(arn) = target_arn {
                self.tally(arn, Tally::Failed);
            }
            self.fail(q, m, key, code, reason, false);
            return;
        }
        let mut st = self.lock();
        st.counts.failed += 1;
        st.planned.push(planned(q, m, "leave", key, reason));
    }

    /// A message that cannot be re-emitted: planned (dry run), parked on the park queue, or
    /// left in the queue and reported. Answers the message when it was parked, to delete.
    pub(super) async fn poison(
        &self,
        q: &QueueRef,
        m: ReceivedMessage,
        reason: String,
        key: Option<String>,
    ) -> Option<ReceivedMessage> {
        if self.cfg.dry_run {
            self.hold(&q.url, &m);
            let action = if self.cfg.park_queue.is_some() {
                "park"
            } else {
                "leave"
            };
            let mut st = self.lock();
            if self.cfg.park_queue.is_some() {
                st.counts.would_park += 1;
            } else {
                st.counts.failed += 1;
            }
            st.planned.push(planned(q, &m, action, key, reason));
            return None;
        }
        match &self.cfg.park_queue {
            Some(park) => {
                let mut attrs = m.attributes.clone();
                attrs.insert(PARK_REASON_ATTRIBUTE.into(), reason.clone());
                attrs.insert(PARK_SOURCE_ATTRIBUTE.into(), q.arn.clone());
                match self.ports.queue.send(&park.url, &m.body, &attrs).await {
                    Ok(_) => {
                        self.fail(q, &m, key, "PARKED", reason, true);
                        return Some(m);
                    }
                    Err(e) => {
                        self.hold(&q.url, &m);
                        self.fail(
                            q,
                            &m,
                            key,
                            "PARK_FAILED",
                            format!("{reason}; parking failed: {e}"),
                            false,
                        );
                    }
                }
            }
            None => {
                self.hold(&q.url, &m);
                self.fail(q, &m, key, "POISON", reason, false);
            }
        }
        None
    }
}
