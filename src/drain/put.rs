//! PutEvents for a batch of entries: packed calls whose answers go through the shared
//! retry rounds (`rounds`). Also how a bus target is delivered to.

use async_trait::async_trait;

use super::pack::pack;
use super::rounds::{Answer, Calls, Put, Retry, send_all};
use super::state::Shared;
use crate::ports::PortError;
use crate::ports::sink::{PutEntry, PutOutcome};

/// PutEvents calls for `entries` (any buses), at most 10 entries and the size limit each.
pub(super) struct PutCalls<'a> {
    pub(super) sh: &'a Shared,
    pub(super) entries: Vec<&'a PutEntry>,
}

/// An entry's PutEvents answer; a throttled entry waits at the shared gate.
pub(super) fn answer_of(o: PutOutcome) -> Answer {
    match o {
        PutOutcome::Accepted { event_id } => Answer::Accepted(event_id),
        ref r @ PutOutcome::Rejected {
            ref code,
            ref message,
        } => Answer::Rejected {
            retry: match (r.is_retryable(), code == "ThrottlingException") {
                (false, _) => Retry::No,
                (true, true) => Retry::Throttled,
                (true, false) => Retry::Failed,
            },
            code: code.clone(),
            message: message.clone(),
        },
    }
}

#[async_trait]
impl Calls for PutCalls<'_> {
    fn split(&self, pending: &[usize]) -> Vec<Vec<usize>> {
        let entries: Vec<&PutEntry> = pending.iter().map(|&i| self.entries[i]).collect();
        pack(&entries, self.sh.cfg.size_limit)
            .into_iter()
            .map(|call| call.iter().map(|&j| pending[j]).collect())
            .collect()
    }

    async fn call(&self, idx: &[usize]) -> Result<Vec<Answer>, PortError> {
        let batch: Vec<PutEntry> = idx.iter().map(|&i| self.entries[i].clone()).collect();
        let outcomes = self.sh.ports.sink.put_events(&batch).await?;
        Ok(outcomes.into_iter().map(answer_of).collect())
    }

    fn name(&self, _: &[usize]) -> &'static str {
        "PutEvents"
    }
}

/// Puts every entry, retrying only retryable failures. One result per entry.
pub(super) async fn put_all(sh: &Shared, entries: Vec<&PutEntry>) -> Vec<Put> {
    let n = entries.len();
    send_all(sh, n, &PutCalls { sh, entries }).await
}
