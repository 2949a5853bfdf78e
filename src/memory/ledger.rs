//! In-memory dedup ledger, with the same claim rule as the real backends and a switch to
//! fail calls.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::ports::PortError;
use crate::ports::ledger::{
    Claim, ClaimOutcome, Finished, Ledger, LedgerRecord, LedgerState, LedgerStats,
};

#[derive(Default)]
struct State {
    records: BTreeMap<String, LedgerRecord>,
    fail_next: Vec<PortError>,
}

/// A ledger in memory, shared by clones (so two "drainers" can share it).
#[derive(Clone, Default)]
pub struct MemoryLedger {
    state: Arc<Mutex<State>>,
}

impl MemoryLedger {
    pub fn new() -> MemoryLedger {
        MemoryLedger::default()
    }

    /// The next calls fail with these errors.
    pub fn fail_next(&self, errors: Vec<PortError>) {
        self.state.lock().expect("ledger").fail_next.extend(errors);
    }

    pub fn records(&self) -> Vec<LedgerRecord> {
        self.state
            .lock()
            .expect("ledger")
            .records
            .values()
            .cloned()
            .collect()
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> Result<T, PortError>) -> Result<T, PortError> {
        let mut s = self.state.lock().expect("ledger");
        if !s.fail_next.is_empty() {
            return Err(s.fail_next.remove(0));
        }
        f(&mut s)
    }
}

#[async_trait]
impl Ledger for MemoryLedger {
    async fn claim(&self, claims: &[Claim]) -> Result<Vec<ClaimOutcome>, PortError> {
        self.with(|s| {
            Ok(claims
                .iter()
                .map(|c| match s.records.get(&c.key) {
                    Some(existing) if !c.may_replace(existing) => {
                        ClaimOutcome::refused_by(existing.clone())
                    }
                    _ => {
                        s.records.insert(c.key.clone(), c.record());
                        ClaimOutcome::Claimed
                    }
                })
                .collect())
        })
    }

    async fn mark_done(
        &self,
        run_id: &str,
        done: &[Finished],
        now: DateTime<Utc>,
    ) -> Result<Vec<bool>, PortError> {
        self.with(|s| {
            Ok(done
                .iter()
                .map(|f| match s.records.get_mut(&f.key) {
                    Some(r) if r.run_id == run_id && r.state == LedgerState::InProgress => {
                        r.state = LedgerState::Done;
                        r.event_id = Some(f.event_id.clone());
                        r.updated_at = now;
                        true
                    }
                    Some(r) if r.run_id == run_id && r.state == LedgerState::Done => {
                        r.event_id.as_deref() == Some(f.event_id.as_str())
                    }
                    _ => false,
                })
                .collect())
        })
    }

    async fn release(&self, run_id: &str, keys: &[String]) -> Result<(), PortError> {
        self.with(|s| {
            for k in keys {
                if s.records
                    .get(k)
                    .is_some_and(|r| r.run_id == run_id && r.state == LedgerState::InProgress)
                {
                    s.records.remove(k);
                }
            }
            Ok(())
        })
    }

    async fn get(&self, key: &str) -> Result<Option<LedgerRecord>, PortError> {
        self.with(|s| Ok(s.records.get(key).cloned()))
    }

    async fn stats(&self, now: DateTime<Utc>) -> Result<LedgerStats, PortError> {
        self.with(|s| {
            let mut st = LedgerStats::default();
            for r in s.records.values() {
                if r.expires_at < now {
                    st.expired += 1;
                } else if r.state == LedgerState::Done {
                    st.done += 1;
                } else {
                    st.in_progress += 1;
                }
            }
            Ok(st)
        })
    }

    async fn prune(&self, now: DateTime<Utc>) -> Result<u64, PortError> {
        self.with(|s| {
            let before = s.records.len();
            s.records.retain(|_, r| r.expires_at >= now);
            Ok((before - s.records.len()) as u64)
        })
    }

    fn describe(&self) -> String {
        "memory".into()
    }
}
