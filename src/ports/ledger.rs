//! The dedup-ledger port: claim a dedup key before re-emitting, mark it done after, so a
//! rerun (or a second drainer) never puts the same event twice outside the crash window.
//!
//! Records carry the redrive generation: the first re-emit of an event is generation 1, and
//! an event that fails again after being re-emitted comes back carrying `redrive = 1`, so
//! its next re-emit is generation 2. A DONE record dedups claims of its own or an older
//! generation only; a newer generation is a new failure and may be claimed.
//!
//! Records also carry the digest of the content their claim re-emitted (see
//! `drain::event`'s module doc): a message whose key is DONE with another digest is not the
//! same event, so it is a conflict, not a duplicate (`LedgerRecord::content_differs`).
//! Records written before digests existed have none and count as matching; they are gone
//! after their TTL (7 days).

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::PortError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LedgerState {
    InProgress,
    Done,
}

impl LedgerState {
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerState::InProgress => "IN_PROGRESS",
            LedgerState::Done => "DONE",
        }
    }

    pub fn parse(s: &str) -> Option<LedgerState> {
        match s {
            "IN_PROGRESS" => Some(LedgerState::InProgress),
            "DONE" => Some(LedgerState::Done),
            _ => None,
        }
    }
}

/// One dedup key's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerRecord {
    pub key: String,
    pub state: LedgerState,
    /// An IN_PROGRESS claim older than this may be taken over.
    pub in_progress_expiry: DateTime<Utc>,
    /// The redrive generation of the claim.
    pub redrive: u32,
    /// The EventBridge event id PutEvents answered (DONE only).
    pub event_id: Option<String>,
    pub run_id: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// After this the record is forgotten (the TTL).
    pub expires_at: DateTime<Utc>,
    /// The digest of the content the claim re-emitted; none in records of older versions.
    pub digest: Option<String>,
}

impl LedgerRecord {
    /// Whether this record's content is not that of a message with `digest`: a record
    /// without a digest (older versions) matches any.
    pub fn content_differs(&self, digest: &str) -> bool {
        self.digest.as_deref().is_some_and(|d| d != digest)
    }
}

/// A claim to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub key: String,
    pub run_id: String,
    pub redrive: u32,
    pub now: DateTime<Utc>,
    /// How long the IN_PROGRESS claim protects the key.
    pub in_progress_for: Duration,
    /// How long the record is kept.
    pub ttl: Duration,
    /// The digest of the content to be re-emitted under the key.
    pub digest: String,
}

/// `now + d`, saturating at the latest time chrono can hold: a duration too long for the
/// calendar means "never", not a panic in the ledger thread or a claim that expired at once.
fn later(now: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

impl Claim {
    pub fn record(&self) -> LedgerRecord {
        LedgerRecord {
            key: self.key.clone(),
            state: LedgerState::InProgress,
            in_progress_expiry: later(self.now, self.in_progress_for),
            redrive: self.redrive,
            event_id: None,
            run_id: self.run_id.clone(),
            created_at: self.now,
            updated_at: self.now,
            expires_at: later(self.now, self.ttl),
            digest: Some(self.digest.clone()),
        }
    }

    /// Whether `existing` lets this claim through (the one rule every backend applies).
    pub fn may_replace(&self, existing: &LedgerRecord) -> bool {
        existing.expires_at < self.now
            || (existing.state == LedgerState::Done && existing.redrive < self.redrive)
            || (existing.state == LedgerState::InProgress && existing.in_progress_expiry < self.now)
    }
}

/// The answer to a claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ClaimOutcome {
    /// This run owns the key now.
    Claimed,
    /// Already re-emitted at this generation or a newer one: do not put again.
    Done(LedgerRecord),
    /// Another claim (another run, or another copy of the message) is in progress.
    Held(LedgerRecord),
}

impl ClaimOutcome {
    /// The answer when `existing` refuses a claim (`Claim::may_replace` was false).
    pub fn refused_by(existing: LedgerRecord) -> ClaimOutcome {
        match existing.state {
            LedgerState::Done => ClaimOutcome::Done(existing),
            LedgerState::InProgress => ClaimOutcome::Held(existing),
        }
    }
}

/// A key this run finished, with the event id PutEvents answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub key: String,
    pub event_id: String,
}

/// Counts by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LedgerStats {
    pub in_progress: u64,
    pub done: u64,
    /// Records past their TTL not yet removed.
    pub expired: u64,
}

/// Where dedup keys are claimed.
#[async_trait]
pub trait Ledger: Send + Sync {
    /// Claims each key, atomically per key; one outcome per claim, in order.
    async fn claim(&self, claims: &[Claim]) -> Result<Vec<ClaimOutcome>, PortError>;
    /// Marks keys DONE if `run_id` still owns their claim; false where it does not. A key
    /// already DONE by `run_id` with the same event id answers true: a retried call (its
    /// first answer lost) is not a lost claim.
    async fn mark_done(
        &self,
        run_id: &str,
        done: &[Finished],
        now: DateTime<Utc>,
    ) -> Result<Vec<bool>, PortError>;
    /// Drops this run's IN_PROGRESS claims (the put failed for sure), so a later run may retry.
    async fn release(&self, run_id: &str, keys: &[String]) -> Result<(), PortError>;
    async fn get(&self, key: &str) -> Result<Option<LedgerRecord>, PortError>;
    async fn stats(&self, now: DateTime<Utc>) -> Result<LedgerStats, PortError>;
    /// Removes expired records; answers how many.
    async fn prune(&self, now: DateTime<Utc>) -> Result<u64, PortError>;
    /// A name for logs and reports (`sqlite:/path`, `memory`).
    fn describe(&self) -> String;
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_claim_too_long_for_the_calendar_never_expires_and_never_panics() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let year = Duration::from_secs(365 * 86_400);
        // 300,000 years fits a chrono duration but not a date; 2^63 s fits neither.
        for long in [year * 300_000, Duration::from_secs(1 << 63), Duration::MAX] {
            let claim = Claim {
                key: "k".into(),
                run_id: "run-a".into(),
                redrive: 1,
                now,
                in_progress_for: long,
                ttl: long,
                digest: "sha256:x".into(),
            };
            let r = claim.record();
            assert_eq!(r.in_progress_expiry, DateTime::<Utc>::MAX_UTC);
            assert_eq!(r.expires_at, DateTime::<Utc>::MAX_UTC);
            let rival = Claim {
                run_id: "run-b".into(),
                now: now + chrono::Duration::days(3650),
                ..claim.clone()
            };
            assert!(!rival.may_replace(&r), "the claim still holds the key");
        }
    }

    #[test]
    fn a_record_without_a_digest_matches_any_content() {
        let claim = Claim {
            key: "evt_1".into(),
            run_id: "r".into(),
            redrive: 1,
            now: Utc::now(),
            in_progress_for: Duration::from_secs(60),
            ttl: Duration::from_secs(60),
            digest: "sha256-detail:aa".into(),
        };
        let mut r = claim.record();
        assert_eq!(r.digest.as_deref(), Some("sha256-detail:aa"));
        assert!(!r.content_differs("sha256-detail:aa"));
        assert!(r.content_differs("sha256-detail:bb"));
        // Written by a version before digests: nothing to compare, so not a conflict.
        r.digest = None;
        assert!(!r.content_differs("sha256-detail:bb"));
    }
}
