//! The replay-control port: start, describe, list and cancel archive replays.

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::PortError;

/// A replay's lifecycle state as EventBridge reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayState {
    Starting,
    Running,
    Cancelling,
    Completed,
    Cancelled,
    Failed,
    /// A state this version does not know; shown as is, never treated as finished.
    Other(String),
}

impl ReplayState {
    pub fn parse(s: &str) -> ReplayState {
        match s {
            "STARTING" => ReplayState::Starting,
            "RUNNING" => ReplayState::Running,
            "CANCELLING" => ReplayState::Cancelling,
            "COMPLETED" => ReplayState::Completed,
            "CANCELLED" => ReplayState::Cancelled,
            "FAILED" => ReplayState::Failed,
            other => ReplayState::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            ReplayState::Starting => "STARTING",
            ReplayState::Running => "RUNNING",
            ReplayState::Cancelling => "CANCELLING",
            ReplayState::Completed => "COMPLETED",
            ReplayState::Cancelled => "CANCELLED",
            ReplayState::Failed => "FAILED",
            ReplayState::Other(s) => s,
        }
    }

    /// COMPLETED, CANCELLED or FAILED: nothing will change any more.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            ReplayState::Completed | ReplayState::Cancelled | ReplayState::Failed
        )
    }

    /// STARTING or RUNNING: counts against the limit and can be cancelled.
    pub fn is_active(&self) -> bool {
        matches!(self, ReplayState::Starting | ReplayState::Running)
    }
}

impl fmt::Display for ReplayState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ReplayState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// What to replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplayRequest {
    pub name: String,
    pub description: Option<String>,
    pub archive_arn: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub destination_bus_arn: String,
    /// Empty means every rule on the bus.
    pub filter_arns: Vec<String>,
}

/// What StartReplay answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplayStarted {
    pub arn: Option<String>,
    pub state: ReplayState,
    pub started_at: Option<DateTime<Utc>>,
}

/// A replay as DescribeReplay (or, with fewer fields, ListReplays) shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplayStatus {
    pub name: String,
    pub arn: Option<String>,
    pub description: Option<String>,
    pub state: ReplayState,
    pub state_reason: Option<String>,
    pub archive_arn: Option<String>,
    pub destination_arn: Option<String>,
    pub filter_arns: Vec<String>,
    pub event_start: Option<DateTime<Utc>>,
    pub event_end: Option<DateTime<Utc>>,
    pub event_last_replayed: Option<DateTime<Utc>>,
    pub replay_start: Option<DateTime<Utc>>,
    pub replay_end: Option<DateTime<Utc>>,
}

impl ReplayStatus {
    /// Fraction of the window replayed so far, from `EventLastReplayedTime`.
    pub fn progress(&self) -> Option<f64> {
        if self.state == ReplayState::Completed {
            return Some(1.0);
        }
        let (start, end, last) = (
            self.event_start?,
            self.event_end?,
            self.event_last_replayed?,
        );
        let total = (end - start).num_milliseconds();
        if total <= 0 {
            return None;
        }
        let done = (last - start).num_milliseconds();
        Some((done as f64 / total as f64).clamp(0.0, 1.0))
    }
}

/// ListReplays filters; AWS accepts at most one of them per call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayFilter {
    pub name_prefix: Option<String>,
    pub state: Option<ReplayState>,
    pub archive_arn: Option<String>,
}

/// Start, watch and cancel archive replays.
#[async_trait]
pub trait ReplayControl: Send + Sync {
    async fn start_replay(&self, request: &ReplayRequest) -> Result<ReplayStarted, PortError>;
    async fn describe_replay(&self, name: &str) -> Result<ReplayStatus, PortError>;
    /// Pages until `limit` replays are collected or the list ends.
    async fn list_replays(
        &self,
        filter: &ReplayFilter,
        limit: usize,
    ) -> Result<Vec<ReplayStatus>, PortError>;
    /// Asks for cancellation; answers the new state (CANCELLING).
    async fn cancel_replay(&self, name: &str) -> Result<ReplayState, PortError>;
}
