//! CloudWatch Logs adapter for the log-writer port.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use aws_sdk_cloudwatchlogs::Client;
use aws_sdk_cloudwatchlogs::operation::put_log_events::PutLogEventsOutput;
use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use tracing::instrument;

use super::error::classify;
use crate::ports::PortError;
use crate::ports::delivery::{LogEvent, LogOutcome, LogWriter};

/// PutLogEvents refuses a batch whose events span 24 hours or more.
const MAX_SPAN_MS: i64 = 24 * 3600 * 1000 - 1;

/// The CloudWatch Logs client behind the log-writer port.
#[derive(Debug, Clone)]
pub struct Logs {
    /// For CreateLogStream, safe to retry (an existing stream is fine).
    client: Client,
    /// PutLogEvents without the SDK's retries: a batch resent after a lost answer is
    /// written twice unseen, and throttling waits at the engine's gate.
    put_client: Client,
    /// (group, stream) pairs known to exist, so each stream is created once per process.
    streams: Arc<Mutex<HashSet<(String, String)>>>,
}

impl Logs {
    pub fn new(client: Client) -> Logs {
        let put_client = Client::from_conf(
            client
                .config()
                .to_builder()
                .retry_config(aws_sdk_cloudwatchlogs::config::retry::RetryConfig::disabled())
                .build(),
        );
        Logs {
            client,
            put_client,
            streams: Arc::default(),
        }
    }

    fn known(&self, group: &str, stream: &str) -> bool {
        let streams = self.streams.lock().expect("log streams");
        streams.contains(&(group.to_string(), stream.to_string()))
    }

    fn set_known(&self, group: &str, stream: &str, known: bool) {
        let mut streams = self.streams.lock().expect("log streams");
        let key = (group.to_string(), stream.to_string());
        if known {
            streams.insert(key);
        } else {
            streams.remove(&key);
        }
    }

    async fn ensure_stream(&self, group: &str, stream: &str) -> Result<(), PortError> {
        if self.known(group, stream) {
            return Ok(());
        }
        let created = self
            .client
            .create_log_stream()
            .log_group_name(group)
            .log_stream_name(stream)
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_resource_already_exists_exception()) => {}
            Err(e) => return Err(classify("CreateLogStream", e)),
        }
        self.set_known(group, stream, true);
        Ok(())
    }

    /// One PutLogEvents call for `batch` (chronological, spanning under a day). A stream
    /// found missing (deleted since this process made it) is made again, once.
    async fn put(
        &self,
        group: &str,
        stream: &str,
        batch: &[&LogEvent],
    ) -> Result<PutLogEventsOutput, PortError> {
        self.ensure_stream(group, stream).await?;
        let request = batch
            .iter()
            .map(|e| {
                InputLogEvent::builder()
                    .timestamp(e.timestamp_ms)
                    .message(&e.message)
                    .build()
                    .map_err(|err| PortError::Invalid(format!("PutLogEvents: {err}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let send = |request: Vec<InputLogEvent>| {
            self.put_client
                .put_log_events()
                .log_group_name(group)
                .log_stream_name(stream)
                .set_log_events(Some(request))
                .send()
        };
        match send(request.clone()).await {
            Ok(out) => Ok(out),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_resource_not_found_exception()) =>
            {
                // Not applied: the stream (or the group) is missing. If the group is gone,
                // creating the stream says so.
                self.set_known(group, stream, false);
                self.ensure_stream(group, stream).await?;
                send(request).await.map_err(|e| classify("PutLogEvents", e))
            }
            Err(e) => Err(classify("PutLogEvents", e)),
        }
    }
}

/// Runs of `order` (indices into `events`, sorted by time) that each span under a day.
fn day_runs(events: &[LogEvent], order: &[usize]) -> Vec<std::ops::Range<usize>> {
    let mut runs = Vec::new();
    let mut start = 0;
    for pos in 1..order.len() {
        if events[order[pos]].timestamp_ms - events[order[start]].timestamp_ms > MAX_SPAN_MS {
            runs.push(start..pos);
            start = pos;
        }
    }
    if !order.is_empty() {
        runs.push(start..order.len());
    }
    runs
}

/// The outcome of the event at `pos` in a call's batch. The docs call the too-old and
/// expired end indices both "the last event" and "exclusive"; reading them as inclusive
/// errs towards keeping a message (a log line written twice) rather than deleting one that
/// was never written.
fn outcome(out: &PutLogEventsOutput, pos: usize) -> LogOutcome {
    let Some(info) = out.rejected_log_events_info() else {
        return LogOutcome::Written;
    };
    let pos = pos as i64;
    let at_or_after = |i: Option<i32>| i.is_some_and(|i| pos >= i64::from(i));
    let at_or_before = |i: Option<i32>| i.is_some_and(|i| pos <= i64::from(i));
    if at_or_after(info.too_new_log_event_start_index()) {
        LogOutcome::TooNew
    } else if at_or_before(info.expired_log_event_end_index()) {
        LogOutcome::Expired
    } else if at_or_before(info.too_old_log_event_end_index()) {
        LogOutcome::TooOld
    } else {
        LogOutcome::Written
    }
}

#[async_trait]
impl LogWriter for Logs {
    #[instrument(skip(self, events), fields(count = events.len()), level = "debug")]
    async fn put_log_events(
        &self,
        log_group: &str,
        stream: &str,
        events: &[LogEvent],
    ) -> Result<Vec<LogOutcome>, PortError> {
        let mut order: Vec<usize> = (0..events.len()).collect();
        order.sort_by_key(|&i| events[i].timestamp_ms);
        let mut outcomes = vec![LogOutcome::Written; events.len()];
        let mut failed: Option<PortError> = None;
        for (n, run) in day_runs(events, &order).into_iter().enumerate() {
            let indices = &order[run];
            if let Some(e) = &failed {
                for &i in indices {
                    outcomes[i] = LogOutcome::Failed(e.clone());
                }
                continue;
            }
            let batch: Vec<&LogEvent> = indices.iter().map(|&i| &events[i]).collect();
            match self.put(log_group, stream, &batch).await {
                Ok(out) => {
                    for (pos, &i) in indices.iter().enumerate() {
                        outcomes[i] = outcome(&out, pos);
                    }
                }
                Err(e) if n == 0 => return Err(e),
                Err(e) => {
                    for &i in indices {
                        outcomes[i] = LogOutcome::Failed(e.clone());
                    }
                    failed = Some(e);
                }
            }
        }
        Ok(outcomes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudwatchlogs::error::ErrorMetadata;
    use aws_sdk_cloudwatchlogs::operation::create_log_stream::{
        CreateLogStreamError, CreateLogStreamOutput,
    };
    use aws_sdk_cloudwatchlogs::operation::put_log_events::PutLogEventsError;
    use aws_sdk_cloudwatchlogs::types::RejectedLogEventsInfo;
    use aws_sdk_cloudwatchlogs::types::error::{
        ResourceAlreadyExistsException, ResourceNotFoundException,
    };
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};

    const GROUP: &str = "/aws/events/billing";
    const STREAM: &str = "nexus-replay/run-1";
    const DAY: i64 = 24 * 3600 * 1000;

    fn event(timestamp_ms: i64, message: &str) -> LogEvent {
        LogEvent {
            timestamp_ms,
            message: message.into(),
        }
    }

    fn not_found() -> ResourceNotFoundException {
        ResourceNotFoundException::builder()
            .message("The specified log stream does not exist.")
            .meta(
                ErrorMetadata::builder()
                    .code("ResourceNotFoundException")
                    .build(),
            )
            .build()
    }

    /// The adapter over mocks that answer any of their calls, in any order.
    fn logs(rules: &[&Rule]) -> Logs {
        Logs::new(mock_client!(
            aws_sdk_cloudwatchlogs,
            RuleMode::MatchAny,
            rules.iter().copied()
        ))
    }

    fn create_ok() -> Rule {
        mock!(Client::create_log_stream)
            .match_requests(|r| {
                r.log_group_name() == Some(GROUP) && r.log_stream_name() == Some(STREAM)
            })
            .then_output(|| CreateLogStreamOutput::builder().build())
    }

    #[tokio::test]
    async fn the_stream_is_created_once_and_events_are_written() {
        let create = create_ok();
        let put = mock!(Client::put_log_events)
            .match_requests(|r| {
                r.log_group_name() == Some(GROUP)
                    && r.log_stream_name() == Some(STREAM)
                    && r.log_events().len() == 1
            })
            .then_output(|| PutLogEventsOutput::builder().build());
        let logs = logs(&[&create, &put]);
        for n in 0..3 {
            let out = logs
                .put_log_events(GROUP, STREAM, &[event(1_000 + n, "e")])
                .await
                .unwrap();
            assert_eq!(out, [LogOutcome::Written]);
        }
        assert_eq!((create.num_calls(), put.num_calls()), (1, 3));
    }

    #[tokio::test]
    async fn a_stream_that_exists_already_is_used() {
        let create = mock!(Client::create_log_stream).then_error(|| {
            CreateLogStreamError::ResourceAlreadyExistsException(
                ResourceAlreadyExistsException::builder()
                    .meta(
                        ErrorMetadata::builder()
                            .code("ResourceAlreadyExistsException")
                            .build(),
                    )
                    .build(),
            )
        });
        let put =
            mock!(Client::put_log_events).then_output(|| PutLogEventsOutput::builder().build());
        let logs = logs(&[&create, &put]);
        let out = logs.put_log_events(GROUP, STREAM, &[event(1, "e")]).await;
        assert_eq!(out.unwrap(), [LogOutcome::Written]);
        assert_eq!((create.num_calls(), put.num_calls()), (1, 1));
    }

    /// The stream was deleted after this process made it: made again once, then written.
    #[tokio::test]
    async fn a_missing_stream_is_created_again_once() {
        let create = create_ok();
        let put = mock!(Client::put_log_events)
            .sequence()
            .output(|| PutLogEventsOutput::builder().build())
            .error(|| PutLogEventsError::ResourceNotFoundException(not_found()))
            .output(|| PutLogEventsOutput::builder().build())
            .build();
        let logs = logs(&[&create, &put]);
        logs.put_log_events(GROUP, STREAM, &[event(1, "a")])
            .await
            .unwrap();
        let out = logs
            .put_log_events(GROUP, STREAM, &[event(2, "b")])
            .await
            .unwrap();
        assert_eq!(out, [LogOutcome::Written]);
        assert_eq!((create.num_calls(), put.num_calls()), (2, 3));
    }

    #[tokio::test]
    async fn a_missing_log_group_is_not_found() {
        let create = mock!(Client::create_log_stream).then_error(|| {
            CreateLogStreamError::ResourceNotFoundException(
                ResourceNotFoundException::builder()
                    .message("The specified log group does not exist.")
                    .meta(
                        ErrorMetadata::builder()
                            .code("ResourceNotFoundException")
                            .message("The specified log group does not exist.")
                            .build(),
                    )
                    .build(),
            )
        });
        let logs = Logs::new(mock_client!(aws_sdk_cloudwatchlogs, [&create]));
        let err = logs
            .put_log_events(GROUP, STREAM, &[event(1, "e")])
            .await
            .unwrap_err();
        assert!(
            matches!(err, PortError::NotFound(ref m) if m.contains("log group")),
            "{err:?}"
        );
    }

    /// Events are sent in time order, and the answer's rejected ranges (indices into the
    /// sorted batch) come back to the events in request order.
    #[tokio::test]
    async fn rejected_events_are_reported_in_request_order() {
        let create = create_ok();
        let put = mock!(Client::put_log_events)
            .match_requests(|r| {
                r.log_events()
                    .iter()
                    .map(|e| e.message())
                    .collect::<Vec<_>>()
                    == ["old", "ok", "future"]
            })
            .then_output(|| {
                PutLogEventsOutput::builder()
                    .rejected_log_events_info(
                        RejectedLogEventsInfo::builder()
                            .too_old_log_event_end_index(0)
                            .too_new_log_event_start_index(2)
                            .build(),
                    )
                    .build()
            });
        let logs = logs(&[&create, &put]);
        let out = logs
            .put_log_events(
                GROUP,
                STREAM,
                &[
                    event(3_000, "future"),
                    event(1_000, "old"),
                    event(2_000, "ok"),
                ],
            )
            .await
            .unwrap();
        assert_eq!(
            out,
            [LogOutcome::TooNew, LogOutcome::TooOld, LogOutcome::Written]
        );
    }

    /// Events three days apart take one call per day-long run; a failed later call fails
    /// its own events only, and no call is made after it.
    #[tokio::test]
    async fn events_spanning_days_are_split_and_a_later_failure_is_per_event() {
        let create = create_ok();
        let put = mock!(Client::put_log_events)
            .sequence()
            .output(|| PutLogEventsOutput::builder().build())
            .error(|| {
                PutLogEventsError::generic(
                    ErrorMetadata::builder()
                        .code("ThrottlingException")
                        .message("Rate exceeded")
                        .build(),
                )
            })
            .output(|| PutLogEventsOutput::builder().build())
            .build();
        let logs = logs(&[&create, &put]);
        let out = logs
            .put_log_events(
                GROUP,
                STREAM,
                &[
                    event(2 * DAY, "c"),
                    event(0, "a"),
                    event(DAY, "b"),
                    event(1, "a2"),
                ],
            )
            .await
            .unwrap();
        assert_eq!(out[1], LogOutcome::Written);
        assert_eq!(out[3], LogOutcome::Written);
        assert!(
            matches!(&out[2], LogOutcome::Failed(PortError::Throttled(_))),
            "{out:?}"
        );
        assert!(
            matches!(&out[0], LogOutcome::Failed(PortError::Throttled(_))),
            "{out:?}"
        );
        assert_eq!(put.num_calls(), 2);
    }

    #[tokio::test]
    async fn a_first_call_that_fails_is_the_answer_and_is_sent_once() {
        let create = create_ok();
        let put = mock!(Client::put_log_events)
            .sequence()
            .http_status(503, None)
            .output(|| PutLogEventsOutput::builder().build())
            .build();
        let logs = Logs::new(mock_client!(
            aws_sdk_cloudwatchlogs,
            RuleMode::MatchAny,
            [&create, &put],
            |c| c.retry_config(
                aws_sdk_cloudwatchlogs::config::retry::RetryConfig::standard()
                    .with_max_attempts(3)
                    .with_initial_backoff(std::time::Duration::from_millis(1))
            )
        ));
        let err = logs
            .put_log_events(GROUP, STREAM, &[event(1, "e")])
            .await
            .unwrap_err();
        assert!(err.is_retryable(), "{err:?}");
        assert_eq!(put.num_calls(), 1);
    }

    #[test]
    fn runs_split_where_a_day_has_passed() {
        let events = [
            event(0, "a"),
            event(DAY - 1, "b"),
            event(DAY, "c"),
            event(DAY + 5, "d"),
        ];
        assert_eq!(day_runs(&events, &[0, 1, 2, 3]), [0..2, 2..4]);
        assert!(day_runs(&events, &[]).is_empty());
    }
}
