//! In-memory CloudWatch Logs for the log-writer port: log groups whose streams are made on
//! first use (counted), events kept or refused by age as CloudWatch Logs does, and hooks
//! for throttling and lost answers.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::faults::CallFaults;
use crate::ports::PortError;
use crate::ports::delivery::{LogEvent, LogOutcome, LogWriter};

/// CloudWatch Logs keeps no event older than this.
const MAX_AGE_MS: i64 = 14 * 24 * 3600 * 1000;
/// Nor one further in the future than this.
const MAX_AHEAD_MS: i64 = 2 * 3600 * 1000;

#[derive(Default)]
struct State {
    /// Group → stream → events.
    groups: BTreeMap<String, BTreeMap<String, Vec<LogEvent>>>,
    streams_created: usize,
    now: Option<DateTime<Utc>>,
    faults: CallFaults,
}

/// A fake CloudWatch Logs shared by clones.
#[derive(Clone, Default)]
pub struct MemoryLogs {
    state: Arc<Mutex<State>>,
}

impl MemoryLogs {
    pub fn new() -> MemoryLogs {
        MemoryLogs::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().expect("logs state"))
    }

    pub fn add_log_group(&self, name: &str) {
        self.with(|s| {
            s.groups.entry(name.into()).or_default();
        });
    }

    /// Ages are judged against this time instead of the clock.
    pub fn set_now(&self, now: DateTime<Utc>) {
        self.with(|s| s.now = Some(now));
    }

    /// The next calls fail with these errors (nothing written).
    pub fn fail_next_calls(&self, errors: Vec<PortError>) {
        self.with(|s| s.faults.fail_next(errors));
    }

    /// The next `n` calls write, but their answers are lost.
    pub fn lose_next_answers(&self, n: usize) {
        self.with(|s| s.faults.lose_next(n));
    }

    /// The events written to a stream, in the order written.
    pub fn events(&self, group: &str, stream: &str) -> Vec<LogEvent> {
        self.with(|s| {
            s.groups
                .get(group)
                .and_then(|g| g.get(stream))
                .cloned()
                .unwrap_or_default()
        })
    }

    /// How many streams were created.
    pub fn streams_created(&self) -> usize {
        self.with(|s| s.streams_created)
    }

    pub fn calls(&self) -> usize {
        self.with(|s| s.faults.calls())
    }
}

#[async_trait]
impl LogWriter for MemoryLogs {
    async fn put_log_events(
        &self,
        log_group: &str,
        stream: &str,
        events: &[LogEvent],
    ) -> Result<Vec<LogOutcome>, PortError> {
        self.with(|s| {
            s.faults.before()?;
            let now = s.now.unwrap_or_else(Utc::now).timestamp_millis();
            let group = s.groups.get_mut(log_group).ok_or_else(|| {
                PortError::NotFound(format!(
                    "CreateLogStream: ResourceNotFoundException: The specified log group does not exist: {log_group}"
                ))
            })?;
            if !group.contains_key(stream) {
                group.insert(stream.to_string(), Vec::new());
                s.streams_created += 1;
            }
            let written = s
                .groups
                .get_mut(log_group)
                .and_then(|g| g.get_mut(stream))
                .expect("stream made above");
            let outcomes = events
                .iter()
                .map(|e| {
                    if e.timestamp_ms < now - MAX_AGE_MS {
                        LogOutcome::TooOld
                    } else if e.timestamp_ms > now + MAX_AHEAD_MS {
                        LogOutcome::TooNew
                    } else {
                        written.push(e.clone());
                        LogOutcome::Written
                    }
                })
                .collect();
            s.faults.after("PutLogEvents")?;
            Ok(outcomes)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[tokio::test]
    async fn streams_are_made_once_and_old_or_future_events_are_refused() {
        let logs = MemoryLogs::new();
        logs.add_log_group("/aws/events/billing");
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
        logs.set_now(now);
        let at = |ms: i64| LogEvent {
            timestamp_ms: now.timestamp_millis() + ms,
            message: ms.to_string(),
        };
        let out = logs
            .put_log_events(
                "/aws/events/billing",
                "nexus-replay/r1",
                &[at(-MAX_AGE_MS - 1), at(0), at(MAX_AHEAD_MS + 1)],
            )
            .await
            .unwrap();
        assert_eq!(
            out,
            [LogOutcome::TooOld, LogOutcome::Written, LogOutcome::TooNew]
        );
        logs.lose_next_answers(1);
        assert!(
            logs.put_log_events("/aws/events/billing", "nexus-replay/r1", &[at(1)])
                .await
                .is_err()
        );
        assert_eq!(
            logs.events("/aws/events/billing", "nexus-replay/r1").len(),
            2
        );
        assert_eq!(logs.streams_created(), 1);
        assert!(matches!(
            logs.put_log_events("/aws/events/gone", "s", &[at(0)]).await,
            Err(PortError::NotFound(_))
        ));
    }
}
