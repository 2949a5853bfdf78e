//! Tracking a replay until it ends: poll DescribeReplay (1 s backing off to 10 s), ride
//! out transient errors, stop at a timeout or on interrupt (optionally cancelling first).

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::error::AppError;
use crate::interrupt::Signal;
use crate::ports::PortError;
use crate::ports::replay::{ReplayControl, ReplayState, ReplayStatus};

/// First poll interval; doubles up to [`MAX_POLL`].
pub const INITIAL_POLL: Duration = Duration::from_secs(1);
pub const MAX_POLL: Duration = Duration::from_secs(10);
/// Consecutive transient failures tolerated before giving up on watching.
pub const MAX_CONSECUTIVE_ERRORS: u32 = 30;

#[derive(Debug, Clone, Default)]
pub struct WatchOptions {
    /// A fixed poll interval instead of the 1 s → 10 s backoff.
    pub poll: Option<Duration>,
    /// Stop watching after this long (the replay goes on).
    pub timeout: Option<Duration>,
    /// On interrupt (Ctrl-C or SIGTERM), cancel the replay before returning.
    pub cancel_on_interrupt: bool,
}

/// How watching ended.
#[derive(Debug, Clone, PartialEq)]
pub enum WatchOutcome {
    /// The replay reached COMPLETED, FAILED or CANCELLED.
    Finished(ReplayStatus),
    /// The timeout passed first; the last status seen, if any.
    TimedOut(Option<ReplayStatus>),
    /// Ctrl-C or SIGTERM; with the answer to CancelReplay when cancellation was asked for.
    Interrupted {
        last: Option<ReplayStatus>,
        cancel: Option<Result<ReplayState, PortError>>,
        signal: Signal,
    },
}

/// Receives what the watch sees, for progress display.
pub trait WatchObserver: Send {
    fn status(&mut self, status: &ReplayStatus, elapsed: Duration);
    fn transient_error(&mut self, error: &PortError, consecutive: u32);
    fn finish(&mut self);
}

/// An observer that shows nothing.
pub struct Quiet;

impl WatchObserver for Quiet {
    fn status(&mut self, _: &ReplayStatus, _: Duration) {}
    fn transient_error(&mut self, _: &PortError, _: u32) {}
    fn finish(&mut self) {}
}

/// Polls until the replay ends, the timeout passes, or `interrupt` resolves.
pub async fn watch<I>(
    ctl: &dyn ReplayControl,
    name: &str,
    opts: &WatchOptions,
    observer: &mut dyn WatchObserver,
    interrupt: I,
) -> Result<WatchOutcome, AppError>
where
    I: Future<Output = Signal>,
{
    let started = Instant::now();
    let deadline = opts.timeout.map(|t| started + t);
    let mut delay = INITIAL_POLL;
    let mut last: Option<ReplayStatus> = None;
    let mut errors = 0u32;
    tokio::pin!(interrupt);
    loop {
        let answer = tokio::select! {
            a = ctl.describe_replay(name) => a,
            signal = &mut interrupt => {
                observer.finish();
                return Ok(interrupted(ctl, name, opts, last, signal).await);
            }
        };
        match answer {
            Ok(status) => {
                errors = 0;
                observer.status(&status, started.elapsed());
                if status.state.is_terminal() {
                    observer.finish();
                    return Ok(WatchOutcome::Finished(status));
                }
                last = Some(status);
            }
            Err(e) if e.is_retryable() => {
                errors += 1;
                observer.transient_error(&e, errors);
                tracing::warn!(replay = name, error = %e, attempt = errors, "DescribeReplay failed; still watching");
                if errors >= MAX_CONSECUTIVE_ERRORS {
                    observer.finish();
                    return Err(AppError::Port(PortError::Transient(format!(
                        "gave up watching replay {name} after {errors} failed DescribeReplay calls in a row (last: {e}); the replay goes on server-side: follow it with `nexus-replay status {name} --watch`"
                    ))));
                }
            }
            Err(e) => {
                observer.finish();
                return Err(AppError::Port(e));
            }
        }
        let wait = opts.poll.unwrap_or(delay);
        delay = (delay * 2).min(MAX_POLL);
        let mut wake = Instant::now() + wait;
        if let Some(d) = deadline {
            wake = wake.min(d);
        }
        tokio::select! {
            _ = tokio::time::sleep_until(wake) => {}
            signal = &mut interrupt => {
                observer.finish();
                return Ok(interrupted(ctl, name, opts, last, signal).await);
            }
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            observer.finish();
            return Ok(WatchOutcome::TimedOut(last));
        }
    }
}

async fn interrupted(
    ctl: &dyn ReplayControl,
    name: &str,
    opts: &WatchOptions,
    last: Option<ReplayStatus>,
    signal: Signal,
) -> WatchOutcome {
    let cancel = if opts.cancel_on_interrupt {
        Some(ctl.cancel_replay(name).await)
    } else {
        None
    };
    WatchOutcome::Interrupted {
        last,
        cancel,
        signal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::eventbridge::MemoryEventBridge;
    use chrono::{TimeZone, Utc};
    use std::future::pending;

    fn status(state: ReplayState, minutes_done: Option<i64>) -> ReplayStatus {
        let start = Utc.with_ymd_and_hms(2025, 9, 8, 14, 0, 0).unwrap();
        ReplayStatus {
            name: "r".into(),
            arn: None,
            description: None,
            state,
            state_reason: None,
            archive_arn: None,
            destination_arn: None,
            filter_arns: vec![],
            event_start: Some(start),
            event_end: Some(start + chrono::Duration::minutes(120)),
            event_last_replayed: minutes_done.map(|m| start + chrono::Duration::minutes(m)),
            replay_start: None,
            replay_end: None,
        }
    }

    #[derive(Default)]
    struct Record {
        seen: Vec<(String, Option<f64>, Duration)>,
        errors: u32,
        finished: bool,
    }

    impl WatchObserver for Record {
        fn status(&mut self, s: &ReplayStatus, elapsed: Duration) {
            self.seen.push((s.state.to_string(), s.progress(), elapsed));
        }
        fn transient_error(&mut self, _: &PortError, _: u32) {
            self.errors += 1;
        }
        fn finish(&mut self) {
            self.finished = true;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn follows_starting_running_completed_with_backoff() {
        let eb = MemoryEventBridge::new();
        eb.script_describe(
            "r",
            vec![
                Ok(status(ReplayState::Starting, None)),
                Ok(status(ReplayState::Running, Some(30))),
                Ok(status(ReplayState::Running, Some(90))),
                Ok(status(ReplayState::Completed, Some(120))),
            ],
        );
        let mut rec = Record::default();
        let out = watch(&eb, "r", &WatchOptions::default(), &mut rec, pending())
            .await
            .unwrap();
        assert!(matches!(out, WatchOutcome::Finished(ref s) if s.state == ReplayState::Completed));
        let progress: Vec<Option<f64>> = rec.seen.iter().map(|s| s.1).collect();
        assert_eq!(progress, [None, Some(0.25), Some(0.75), Some(1.0)]);
        // Polls at 0, 1, 3 (1+2) and 7 (1+2+4) seconds.
        let secs: Vec<u64> = rec.seen.iter().map(|s| s.2.as_secs()).collect();
        assert_eq!(secs, [0, 1, 3, 7]);
        assert!(rec.finished);
    }

    #[tokio::test(start_paused = true)]
    async fn failed_reports_the_state_reason() {
        let eb = MemoryEventBridge::new();
        let mut failed = status(ReplayState::Failed, Some(10));
        failed.state_reason = Some("Destination bus was deleted".into());
        eb.script_describe(
            "r",
            vec![Ok(status(ReplayState::Running, Some(5))), Ok(failed)],
        );
        let out = watch(&eb, "r", &WatchOptions::default(), &mut Quiet, pending())
            .await
            .unwrap();
        match out {
            WatchOutcome::Finished(s) => {
                assert_eq!(s.state, ReplayState::Failed);
                assert_eq!(
                    s.state_reason.as_deref(),
                    Some("Destination bus was deleted")
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn cancelled_is_a_finish() {
        let eb = MemoryEventBridge::new();
        eb.script_describe(
            "r",
            vec![
                Ok(status(ReplayState::Cancelling, Some(5))),
                Ok(status(ReplayState::Cancelled, Some(5))),
            ],
        );
        let out = watch(&eb, "r", &WatchOptions::default(), &mut Quiet, pending())
            .await
            .unwrap();
        assert!(matches!(out, WatchOutcome::Finished(ref s) if s.state == ReplayState::Cancelled));
    }

    #[tokio::test(start_paused = true)]
    async fn transient_errors_and_throttling_do_not_end_the_watch() {
        let eb = MemoryEventBridge::new();
        eb.script_describe(
            "r",
            vec![
                Ok(status(ReplayState::Running, Some(10))),
                Err(PortError::Throttled("Rate exceeded".into())),
                Err(PortError::Transient("connection reset".into())),
                Err(PortError::Throttled("Rate exceeded".into())),
                Ok(status(ReplayState::Completed, Some(120))),
            ],
        );
        let mut rec = Record::default();
        let out = watch(&eb, "r", &WatchOptions::default(), &mut rec, pending())
            .await
            .unwrap();
        assert!(matches!(out, WatchOutcome::Finished(ref s) if s.state == ReplayState::Completed));
        assert_eq!(rec.errors, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_non_retryable_error_ends_the_watch() {
        let eb = MemoryEventBridge::new();
        eb.script_describe(
            "r",
            vec![Err(PortError::NotFound("Replay r does not exist.".into()))],
        );
        let err = watch(&eb, "r", &WatchOptions::default(), &mut Quiet, pending())
            .await
            .unwrap_err();
        assert_eq!(err.exit_code(), crate::exit_codes::FAILURE);
    }

    #[tokio::test(start_paused = true)]
    async fn timeout_returns_the_last_status() {
        let eb = MemoryEventBridge::new();
        eb.script_describe("r", vec![Ok(status(ReplayState::Running, Some(60)))]);
        let opts = WatchOptions {
            timeout: Some(Duration::from_secs(25)),
            ..Default::default()
        };
        let begin = Instant::now();
        let out = watch(&eb, "r", &opts, &mut Quiet, pending()).await.unwrap();
        assert_eq!(begin.elapsed(), Duration::from_secs(25));
        match out {
            WatchOutcome::TimedOut(Some(s)) => assert_eq!(s.progress(), Some(0.5)),
            other => panic!("{other:?}"),
        }
        // 0, 1, 3, 7, 15 s; the next (25 s) is the deadline itself.
        assert_eq!(eb.describe_calls(), 5);
    }

    #[tokio::test(start_paused = true)]
    async fn fixed_poll_interval_is_honoured() {
        let eb = MemoryEventBridge::new();
        eb.script_describe("r", vec![Ok(status(ReplayState::Running, Some(60)))]);
        let opts = WatchOptions {
            poll: Some(Duration::from_secs(5)),
            timeout: Some(Duration::from_secs(21)),
            ..Default::default()
        };
        watch(&eb, "r", &opts, &mut Quiet, pending()).await.unwrap();
        assert_eq!(eb.describe_calls(), 5); // 0, 5, 10, 15, 20
    }

    #[tokio::test(start_paused = true)]
    async fn interrupt_cancels_only_when_asked() {
        for (cancel_on_interrupt, sent) in [
            (false, Signal::Interrupt),
            (true, Signal::Interrupt),
            (true, Signal::Terminate),
        ] {
            let eb = MemoryEventBridge::new();
            eb.add_replay(status(ReplayState::Running, Some(10)));
            let opts = WatchOptions {
                cancel_on_interrupt,
                ..Default::default()
            };
            let interrupt = async move {
                tokio::time::sleep(Duration::from_secs(4)).await;
                sent
            };
            let out = watch(&eb, "r", &opts, &mut Quiet, interrupt).await.unwrap();
            match out {
                WatchOutcome::Interrupted {
                    last,
                    cancel,
                    signal,
                } => {
                    assert!(last.is_some());
                    assert_eq!(cancel.is_some(), cancel_on_interrupt);
                    assert_eq!(signal, sent, "the watch says which signal stopped it");
                }
                other => panic!("{other:?}"),
            }
            assert_eq!(eb.cancelled().len(), usize::from(cancel_on_interrupt));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn persistent_transient_errors_give_up_eventually() {
        let eb = MemoryEventBridge::new();
        eb.script_describe("r", vec![Err(PortError::Transient("down".into()))]);
        let err = watch(&eb, "r", &WatchOptions::default(), &mut Quiet, pending())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("goes on server-side"), "{err}");
        assert_eq!(eb.describe_calls(), MAX_CONSECUTIVE_ERRORS as usize);
    }
}
