//! A fake replay that delivers: [`MemoryReplayer`] wraps a [`MemoryEventBridge`] (which
//! records StartReplay requests, injects start errors and answers ListReplays) and adds an
//! archive of events. StartReplay schedules the window's events for delivery through
//! [`MemoryCapture::deliver`] (with `replay-name` added) after a delay on tokio's clock;
//! DescribeReplay answers RUNNING for a set time, then the set ending. It can also behave
//! like moto (the whole archive, every rule, at once) or deliver each event twice.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::capture::MemoryCapture;
use super::eventbridge::MemoryEventBridge;
use crate::ports::PortError;
use crate::ports::replay::{
    ReplayControl, ReplayFilter, ReplayRequest, ReplayStarted, ReplayState, ReplayStatus,
};

/// How the fake replays.
#[derive(Debug, Clone)]
pub struct ReplayBehaviour {
    /// How long a replay stays RUNNING.
    pub runs_for: Duration,
    /// When, after the start, its events reach the rules (may be after it ended).
    pub delivers_after: Duration,
    /// How a replay ends: COMPLETED, or FAILED with a reason.
    pub ends: ReplayState,
    /// Replay the whole archive to every rule, as moto does (window and FilterArns ignored).
    pub like_moto: bool,
    /// Ignore rule patterns (every selected rule gets every event).
    pub ignore_patterns: bool,
    /// Copies of each event delivered (EventBridge delivers at least once).
    pub copies: usize,
}

impl Default for ReplayBehaviour {
    fn default() -> ReplayBehaviour {
        ReplayBehaviour {
            runs_for: Duration::from_secs(60),
            delivers_after: Duration::from_secs(10),
            ends: ReplayState::Completed,
            like_moto: false,
            ignore_patterns: false,
            copies: 1,
        }
    }
}

struct Run {
    started: Instant,
    cancelled: bool,
    delivery: JoinHandle<()>,
}

#[derive(Default)]
struct State {
    archive: Vec<Value>,
    behaviour: ReplayBehaviour,
    runs: BTreeMap<String, Run>,
}

/// Replay control over an archive of events; shared by clones.
#[derive(Clone)]
pub struct MemoryReplayer {
    eb: MemoryEventBridge,
    capture: MemoryCapture,
    state: Arc<Mutex<State>>,
}

fn event_time(e: &Value) -> Option<DateTime<Utc>> {
    e.get("time")
        .and_then(Value::as_str)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

impl MemoryReplayer {
    pub fn new(eb: MemoryEventBridge, capture: MemoryCapture) -> MemoryReplayer {
        MemoryReplayer {
            eb,
            capture,
            state: Arc::default(),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().expect("replayer state"))
    }

    /// Adds events (EventBridge envelopes with an RFC 3339 `time`) to the archive.
    pub fn archive(&self, events: impl IntoIterator<Item = Value>) {
        self.with(|s| s.archive.extend(events));
    }

    pub fn set_behaviour(&self, behaviour: ReplayBehaviour) {
        self.with(|s| s.behaviour = behaviour);
    }

    /// The replay's status now, written back to the EventBridge fake so ListReplays and
    /// CancelReplay agree with it.
    fn current(&self, mut status: ReplayStatus) -> ReplayStatus {
        let b = self.with(|s| s.behaviour.clone());
        let run = self.with(|s| s.runs.get(&status.name).map(|r| (r.started, r.cancelled)));
        let Some((started, cancelled)) = run else {
            return status;
        };
        let elapsed = started.elapsed();
        status.state = if cancelled {
            ReplayState::Cancelled
        } else if elapsed < b.runs_for {
            ReplayState::Running
        } else {
            b.ends.clone()
        };
        if status.state == ReplayState::Failed {
            status.state_reason = Some("injected failure".into());
        }
        if let (Some(start), Some(end)) = (status.event_start, status.event_end) {
            let done = (elapsed.as_secs_f64() / b.runs_for.as_secs_f64().max(1e-9)).min(1.0);
            let span = (end - start).num_milliseconds() as f64;
            status.event_last_replayed =
                Some(start + chrono::Duration::milliseconds((span * done) as i64));
        }
        self.eb.add_replay(status.clone());
        status
    }
}

#[async_trait]
impl ReplayControl for MemoryReplayer {
    /// A start whose answer the EventBridge fake loses was applied all the same: it
    /// delivers, and the lost answer's error is returned.
    async fn start_replay(&self, request: &ReplayRequest) -> Result<ReplayStarted, PortError> {
        let applied_before = self.eb.started().len();
        let answer = self.eb.start_replay(request).await;
        if answer.is_err() && self.eb.started().len() == applied_before {
            return answer;
        }
        let (b, archive) = self.with(|s| (s.behaviour.clone(), s.archive.clone()));
        let bus = request
            .destination_bus_arn
            .split_once(":event-bus/")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        let events: Vec<Value> = archive
            .into_iter()
            .filter(|e| {
                b.like_moto || event_time(e).is_some_and(|t| request.start <= t && t < request.end)
            })
            .map(|mut e| {
                e["replay-name"] = json!(request.name);
                e
            })
            .collect();
        let filters = if b.like_moto {
            Vec::new()
        } else {
            request.filter_arns.clone()
        };
        let capture = self.capture.clone();
        let delivery = tokio::spawn(async move {
            tokio::time::sleep(b.delivers_after).await;
            for e in &events {
                for _ in 0..b.copies {
                    capture.deliver(&bus, &filters, e, !b.ignore_patterns);
                }
            }
        });
        self.with(|s| {
            s.runs.insert(
                request.name.clone(),
                Run {
                    started: Instant::now(),
                    cancelled: false,
                    delivery,
                },
            )
        });
        answer
    }

    async fn describe_replay(&self, name: &str) -> Result<ReplayStatus, PortError> {
        let status = self.eb.describe_replay(name).await?;
        Ok(self.current(status))
    }

    async fn list_replays(
        &self,
        filter: &ReplayFilter,
        limit: usize,
    ) -> Result<Vec<ReplayStatus>, PortError> {
        self.eb.list_replays(filter, limit).await
    }

    async fn cancel_replay(&self, name: &str) -> Result<ReplayState, PortError> {
        if let Ok(status) = self.eb.describe_replay(name).await {
            self.current(status);
        }
        let state = self.eb.cancel_replay(name).await?;
        self.with(|s| {
            if let Some(run) = s.runs.get_mut(name) {
                run.cancelled = true;
                run.delivery.abort();
            }
        });
        Ok(state)
    }
}
