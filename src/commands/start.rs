//! `start`: plan a replay, confirm, start it, record it in the journal, and track it to
//! the end with an exit code a script can trust.

use std::future::Future;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::clock::{Clock, SystemClock};
use crate::error::AppError;
use crate::exit_codes;
use crate::interrupt::Signal;
use crate::ports::PortError;
use crate::ports::bus::BusCatalogue;
use crate::ports::replay::{ReplayControl, ReplayState, ReplayStatus};
use crate::replay::adopt::adopt_lost_start;
use crate::replay::journal::{Journal, JournalEntry};
use crate::replay::plan::{ReplayPlan, plan};
use crate::replay::request::PlanRequest;
use crate::replay::watch::{WatchObserver, WatchOptions, WatchOutcome, watch};

/// Everything `start` needs besides the ports.
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    pub plan: PlanRequest,
    pub dry_run: bool,
    pub no_wait: bool,
    pub watch: WatchOptions,
}

/// How a `start` (or a watched `status`/`cancel`) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ending {
    DryRun,
    Declined,
    Started,
    Completed,
    Failed,
    Cancelled,
    TimedOut,
    /// Ctrl-C.
    Interrupted,
    /// SIGTERM (a scheduler stopping the process): handled as Ctrl-C, with its own exit code.
    Terminated,
}

impl Ending {
    pub fn exit_code(self) -> u8 {
        match self {
            Ending::DryRun | Ending::Declined | Ending::Started | Ending::Completed => {
                exit_codes::SUCCESS
            }
            Ending::Failed | Ending::Cancelled => exit_codes::REPLAY_NOT_COMPLETED,
            Ending::TimedOut => exit_codes::TIMED_OUT,
            Ending::Interrupted => exit_codes::INTERRUPTED,
            Ending::Terminated => exit_codes::TERMINATED,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct StartReport {
    pub name: String,
    pub arn: Option<String>,
    pub archive: String,
    pub bus: String,
    pub window: Window,
    pub filter_arns: Vec<String>,
    pub outcome: Ending,
    pub final_state: Option<ReplayState>,
    pub state_reason: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_seconds: Option<i64>,
    pub progress: Option<f64>,
    /// What the user may want to do next.
    pub next: Vec<String>,
    pub plan: ReplayPlan,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// The start asked for: always `start` now (the window is never moved).
    pub requested_start: DateTime<Utc>,
}

/// Maps a watch outcome onto the ending, the last status, and follow-up hints.
pub fn conclude(name: &str, outcome: &WatchOutcome) -> (Ending, Option<ReplayStatus>, Vec<String>) {
    let follow = format!("follow it with: nexus-replay status {name} --watch");
    let cancel_hint = format!("cancel it with: nexus-replay cancel {name}");
    match outcome {
        WatchOutcome::Finished(s) => {
            let ending = match s.state {
                ReplayState::Completed => Ending::Completed,
                ReplayState::Cancelled => Ending::Cancelled,
                _ => Ending::Failed,
            };
            (ending, Some(s.clone()), Vec::new())
        }
        WatchOutcome::TimedOut(last) => (
            Ending::TimedOut,
            last.clone(),
            vec![
                "the replay continues server-side".into(),
                follow,
                cancel_hint,
            ],
        ),
        WatchOutcome::Interrupted {
            last,
            cancel,
            signal,
        } => {
            let ending = match signal {
                Signal::Interrupt => Ending::Interrupted,
                Signal::Terminate => Ending::Terminated,
            };
            let next = match cancel {
                None => vec![
                    format!("stopped watching ({signal}); the replay continues server-side"),
                    cancel_hint,
                    follow,
                ],
                Some(Ok(state)) => vec![
                    format!(
                        "stopped watching ({signal}); cancellation requested: the replay is {state}"
                    ),
                    follow,
                ],
                Some(Err(e)) => vec![
                    format!(
                        "stopped watching ({signal}); cancelling failed ({e}); the replay may still be running"
                    ),
                    cancel_hint,
                ],
            };
            (ending, last.clone(), next)
        }
    }
}

/// Plans (at the clock's now), confirms, starts and (unless `no_wait`) tracks a replay;
/// the start and end times the replay does not report are read from `clock` too.
#[allow(clippy::too_many_arguments)]
pub async fn start_with_clock<I: Future<Output = Signal>>(
    cat: &dyn BusCatalogue,
    ctl: &dyn ReplayControl,
    journal: &Journal,
    opts: &StartOptions,
    confirm: &mut dyn FnMut(&ReplayPlan) -> Result<bool, AppError>,
    observer: &mut dyn WatchObserver,
    interrupt: I,
    clock: &dyn Clock,
) -> Result<StartReport, AppError> {
    let now = clock.now();
    run(
        cat, ctl, journal, opts, confirm, observer, interrupt, now, clock,
    )
    .await
}

/// [`start_with_clock`] planned at `now`, later times read from the system clock: the
/// entry point of callers that hold no clock yet (the CLI and playbook steps).
#[allow(clippy::too_many_arguments)]
pub async fn start<I: Future<Output = Signal>>(
    cat: &dyn BusCatalogue,
    ctl: &dyn ReplayControl,
    journal: &Journal,
    opts: &StartOptions,
    confirm: &mut dyn FnMut(&ReplayPlan) -> Result<bool, AppError>,
    observer: &mut dyn WatchObserver,
    interrupt: I,
    now: DateTime<Utc>,
) -> Result<StartReport, AppError> {
    run(
        cat,
        ctl,
        journal,
        opts,
        confirm,
        observer,
        interrupt,
        now,
        &SystemClock,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn run<I: Future<Output = Signal>>(
    cat: &dyn BusCatalogue,
    ctl: &dyn ReplayControl,
    journal: &Journal,
    opts: &StartOptions,
    confirm: &mut dyn FnMut(&ReplayPlan) -> Result<bool, AppError>,
    observer: &mut dyn WatchObserver,
    interrupt: I,
    now: DateTime<Utc>,
    clock: &dyn Clock,
) -> Result<StartReport, AppError> {
    let plan = plan(cat, ctl, &opts.plan, now).await?;
    let mut report = StartReport {
        name: plan.name.clone(),
        arn: None,
        archive: plan.archive.clone(),
        bus: plan.bus.clone(),
        window: Window {
            start: plan.start,
            end: plan.end,
            requested_start: plan.requested_start,
        },
        filter_arns: plan.filter_arns.clone(),
        outcome: Ending::DryRun,
        final_state: None,
        state_reason: None,
        started_at: None,
        ended_at: None,
        duration_seconds: None,
        progress: None,
        next: Vec::new(),
        plan: plan.clone(),
    };
    if opts.dry_run {
        report
            .next
            .push("nothing was started; run again without --dry-run to start it".into());
        return Ok(report);
    }
    if !confirm(&plan)? {
        report.outcome = Ending::Declined;
        report
            .next
            .push("not confirmed; nothing was started".into());
        return Ok(report);
    }
    let request = plan.request();
    let started = match ctl.start_replay(&request).await {
        // Only a generated name can be ours from a retried call; a chosen one may be old.
        Err(refused @ PortError::AlreadyExists(_)) if opts.plan.name.is_none() => {
            adopt_lost_start(ctl, &request, refused).await
        }
        answer => answer,
    }
    .map_err(|e| match e {
        PortError::LimitExceeded(m) => AppError::Usage(format!(
            "{m}; 10 replays are active in this account and Region: list them with `nexus-replay list --state RUNNING`"
        )),
        PortError::AlreadyExists(m) => AppError::Usage(format!(
            "{m}; replay names stay reserved for about 90 days: pick another --name or omit it"
        )),
        other => AppError::Port(other),
    })?;
    tracing::info!(replay = %plan.name, state = %started.state, "replay started");
    report.arn = started.arn.clone();
    report.started_at = started.started_at.or(Some(clock.now()));
    report.outcome = Ending::Started;
    report.final_state = Some(started.state.clone());
    let entry = JournalEntry {
        name: plan.name.clone(),
        arn: started.arn.clone(),
        archive: plan.archive.clone(),
        bus: plan.bus.clone(),
        start: plan.start,
        end: plan.end,
        filter_arns: plan.filter_arns.clone(),
        started_at: report.started_at.unwrap_or(now),
        started_by: opts.plan.started_by.clone(),
    };
    if let Err(e) = journal.record(entry) {
        tracing::warn!(
            "could not record the replay in {}: {e}",
            journal.path().display()
        );
    }
    if opts.no_wait {
        report.next.push(format!(
            "follow it with: nexus-replay status {} --watch",
            plan.name
        ));
        return Ok(report);
    }
    let outcome = watch(ctl, &plan.name, &opts.watch, observer, interrupt).await?;
    let (ending, last, next) = conclude(&plan.name, &outcome);
    report.outcome = ending;
    report.next = next;
    if let Some(s) = last {
        report.final_state = Some(s.state.clone());
        report.state_reason = s.state_reason.clone();
        report.progress = s.progress();
        report.ended_at = s.replay_end;
        if let Some(start) = s.replay_start.or(report.started_at) {
            report.started_at = Some(start);
        }
    }
    if !matches!(
        ending,
        Ending::TimedOut | Ending::Interrupted | Ending::Terminated
    ) {
        let end = report.ended_at.unwrap_or_else(|| clock.now());
        report.ended_at = Some(end);
    }
    report.duration_seconds = match (report.started_at, report.ended_at) {
        (Some(s), Some(e)) => Some((e - s).num_seconds().max(0)),
        _ => None,
    };
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::memory::eventbridge::MemoryEventBridge;
    use crate::output::Report;
    use crate::ports::bus::{ArchiveInfo, RuleInfo};
    use crate::replay::watch::Quiet;
    use chrono::{Duration, TimeZone};
    use std::future::pending;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 9, 8, 18, 0, 0).unwrap()
    }

    fn setup() -> (MemoryEventBridge, Journal, std::path::PathBuf) {
        let eb = MemoryEventBridge::new();
        let bus = eb.add_bus("b");
        eb.add_rule(
            "b",
            RuleInfo {
                name: "subs".into(),
                arn: "arn:aws:events:us-east-2:123456789012:rule/b/subs".into(),
                state: "ENABLED".into(),
                event_pattern: Some(
                    r#"{"detail": {"type": [{"prefix": "customer.subscription."}]}}"#.into(),
                ),
                schedule_expression: None,
                managed_by: None,
                description: None,
                targets: vec![],
            },
        );
        eb.add_archive(ArchiveInfo {
            name: "a".into(),
            arn: "arn:aws:events:us-east-2:123456789012:archive/a".into(),
            source_arn: bus.arn,
            state: "ENABLED".into(),
            state_reason: None,
            retention_days: Some(0),
            event_count: 0,
            size_bytes: 0,
            creation_time: Some(now() - Duration::days(3)),
            event_pattern: None,
        });
        let dir = std::env::temp_dir().join(format!("nr-start-{}", crate::ids::random_hex(8)));
        (eb, Journal::in_dir(&dir), dir)
    }

    fn opts(name: &str) -> StartOptions {
        StartOptions {
            plan: PlanRequest {
                bus: Some("b".into()),
                since: "2h".into(),
                event_types: vec!["customer.subscription.updated".into()],
                name: Some(name.into()),
                started_by: "me@host".into(),
                ..PlanRequest::default()
            },
            ..StartOptions::default()
        }
    }

    fn finished(eb: &MemoryEventBridge, name: &str, state: ReplayState, reason: Option<&str>) {
        eb.script_describe(
            name,
            vec![Ok(ReplayStatus {
                name: name.into(),
                arn: None,
                description: None,
                state,
                state_reason: reason.map(str::to_string),
                archive_arn: None,
                destination_arn: None,
                filter_arns: vec![],
                event_start: None,
                event_end: None,
                event_last_replayed: None,
                replay_start: Some(now()),
                replay_end: Some(now() + Duration::seconds(90)),
            })],
        );
    }

    async fn run(
        eb: &MemoryEventBridge,
        journal: &Journal,
        o: &StartOptions,
    ) -> Result<StartReport, AppError> {
        start(
            eb,
            eb,
            journal,
            o,
            &mut |_| Ok(true),
            &mut Quiet,
            pending(),
            now(),
        )
        .await
    }

    #[tokio::test(start_paused = true)]
    async fn completed_exits_0_and_is_journaled() {
        let (eb, journal, dir) = setup();
        finished(&eb, "r1", ReplayState::Completed, None);
        let report = run(&eb, &journal, &opts("r1")).await.unwrap();
        assert_eq!(report.outcome, Ending::Completed);
        assert_eq!(report.exit_code(), 0);
        assert_eq!(report.duration_seconds, Some(90));
        assert_eq!(
            eb.started()[0].filter_arns,
            ["arn:aws:events:us-east-2:123456789012:rule/b/subs"]
        );
        assert_eq!(journal.last().unwrap().unwrap().name, "r1");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn failed_and_cancelled_exit_4_with_the_reason() {
        for (state, reason) in [
            (ReplayState::Failed, Some("boom")),
            (ReplayState::Cancelled, None),
        ] {
            let (eb, journal, _dir) = setup();
            finished(&eb, "r1", state.clone(), reason);
            let report = run(&eb, &journal, &opts("r1")).await.unwrap();
            assert_eq!(report.exit_code(), exit_codes::REPLAY_NOT_COMPLETED);
            assert_eq!(report.final_state, Some(state));
            assert_eq!(report.state_reason.as_deref(), reason);
            if let Some(r) = reason {
                assert!(report.human().contains(r));
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn timeout_exits_5_and_says_how_to_follow() {
        let (eb, journal, _dir) = setup();
        finished(&eb, "r1", ReplayState::Running, None);
        let mut o = opts("r1");
        o.watch.timeout = Some(std::time::Duration::from_secs(60));
        let report = run(&eb, &journal, &o).await.unwrap();
        assert_eq!(report.exit_code(), exit_codes::TIMED_OUT);
        let text = report.human();
        assert!(
            text.contains("continues server-side")
                && text.contains("nexus-replay status r1 --watch"),
            "{text}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn ctrl_c_exits_130_sigterm_143_and_both_cancel_on_request() {
        for (signal, code, ending) in [
            (Signal::Interrupt, exit_codes::INTERRUPTED, "interrupted"),
            (Signal::Terminate, exit_codes::TERMINATED, "terminated"),
        ] {
            let (eb, journal, _dir) = setup();
            finished(&eb, "r1", ReplayState::Running, None);
            let mut o = opts("r1");
            o.watch.cancel_on_interrupt = true;
            let report = start(
                &eb,
                &eb,
                &journal,
                &o,
                &mut |_| Ok(true),
                &mut Quiet,
                async move {
                    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                    signal
                },
                now(),
            )
            .await
            .unwrap();
            assert_eq!(report.exit_code(), code, "{signal}");
            assert_eq!(eb.cancelled(), ["r1"], "{signal}");
            assert_eq!(serde_json::to_value(report.outcome).unwrap(), ending);
            let text = report.human();
            assert!(
                text.contains(&format!(
                    "stopped watching ({signal}); cancellation requested"
                )),
                "{text}"
            );
        }
    }

    #[tokio::test]
    async fn dry_run_and_declined_start_nothing() {
        let (eb, journal, _dir) = setup();
        let mut o = opts("r1");
        o.dry_run = true;
        let report = run(&eb, &journal, &o).await.unwrap();
        assert_eq!(report.outcome, Ending::DryRun);
        let declined = start(
            &eb,
            &eb,
            &journal,
            &opts("r2"),
            &mut |_| Ok(false),
            &mut Quiet,
            pending(),
            now(),
        )
        .await
        .unwrap();
        assert_eq!(declined.outcome, Ending::Declined);
        assert!(eb.started().is_empty());
        assert!(journal.last().unwrap().is_none());
    }

    #[tokio::test]
    async fn no_wait_returns_after_starting() {
        let (eb, journal, _dir) = setup();
        let mut o = opts("r1");
        o.no_wait = true;
        let report = run(&eb, &journal, &o).await.unwrap();
        assert_eq!(report.outcome, Ending::Started);
        assert_eq!(report.exit_code(), 0);
        assert_eq!(eb.describe_calls(), 0);
    }

    #[tokio::test]
    async fn limit_exceeded_and_taken_names_are_usage_errors() {
        let (eb, journal, _dir) = setup();
        eb.fail_next_start(crate::ports::PortError::LimitExceeded(
            "The requested resource exceeds the maximum number allowed.".into(),
        ));
        let e = run(&eb, &journal, &opts("r1")).await.unwrap_err();
        assert_eq!(e.exit_code(), exit_codes::USAGE);
        assert!(
            e.to_string().contains("nexus-replay list --state RUNNING"),
            "{e}"
        );
        eb.fail_next_start(crate::ports::PortError::AlreadyExists(
            "Replay r1 already exists.".into(),
        ));
        let e = run(&eb, &journal, &opts("r1")).await.unwrap_err();
        assert!(e.to_string().contains("90 days"), "{e}");
    }

    #[tokio::test]
    async fn a_start_whose_answer_was_lost_adopts_the_replay_it_created() {
        let (eb, journal, _dir) = setup();
        eb.lose_next_start_answer();
        let mut o = opts("unused");
        o.plan.name = None;
        o.no_wait = true;
        let report = run(&eb, &journal, &o).await.unwrap();
        assert_eq!(report.outcome, Ending::Started);
        assert!(
            report.name.starts_with("nexus-20250908T1600-"),
            "{}",
            report.name
        );
        assert_eq!(eb.started().len(), 1);
        assert_eq!(
            report.arn,
            Some(format!(
                "arn:aws:events:us-east-2:123456789012:replay/{}",
                report.name
            ))
        );
        assert_eq!(journal.last().unwrap().unwrap().name, report.name);
        // A name the user chose may be an older replay: never adopted.
        eb.lose_next_start_answer();
        let e = run(&eb, &journal, &opts("r1")).await.unwrap_err();
        assert!(e.to_string().contains("90 days"), "{e}");
    }

    #[tokio::test(start_paused = true)]
    async fn times_the_replay_does_not_report_are_read_from_the_clock() {
        let (eb, journal, _dir) = setup();
        eb.set_clock(ManualClock::at(now()));
        eb.script_describe(
            "r1",
            vec![Ok(ReplayStatus {
                name: "r1".into(),
                arn: None,
                description: None,
                state: ReplayState::Completed,
                state_reason: None,
                archive_arn: None,
                destination_arn: None,
                filter_arns: vec![],
                event_start: None,
                event_end: None,
                event_last_replayed: None,
                replay_start: None,
                replay_end: None,
            })],
        );
        let later = ManualClock::at(now() + Duration::seconds(90));
        let report = start_with_clock(
            &eb,
            &eb,
            &journal,
            &opts("r1"),
            &mut |_| Ok(true),
            &mut Quiet,
            pending(),
            later.as_ref(),
        )
        .await
        .unwrap();
        assert_eq!(report.started_at, Some(now()));
        assert_eq!(report.ended_at, Some(now() + Duration::seconds(90)));
        assert_eq!(report.duration_seconds, Some(90));
        assert_eq!(
            report.window.end,
            now() + Duration::seconds(90) - Duration::minutes(10)
        );
    }
}
