//! Engine tests of `archive export` over the in-memory fakes, on tokio's paused clock.

use std::future::pending;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};

use super::cleanup::{find_leftovers, remove_leftovers};
use super::collect::{SkipReason, Tally};
use super::export::{ExportOptions, ExportPorts, ExportRequest, export};
use super::filter::ExportFilter;
use super::names::{PREFIX, TARGET_ID};
use super::progress::{ExportObserver, Silent};
use super::report::{ExportOutcome, Removal, ResourceKind};
use crate::drain::event::DedupSpec;
use crate::exit_codes;
use crate::interrupt::Signal;
use crate::memory::capture::MemoryCapture;
use crate::memory::eventbridge::MemoryEventBridge;
use crate::memory::replayer::{MemoryReplayer, ReplayBehaviour};
use crate::memory::sqs::MemoryQueue;
use crate::ports::PortError;
use crate::ports::bus::ArchiveInfo;
use crate::ports::replay::{ReplayState, ReplayStatus};

const BUS: &str = "orders";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 9, 8, 16, 0, 0).unwrap()
}

fn at(minutes_before_now: i64) -> String {
    (now() - chrono::Duration::minutes(minutes_before_now))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn event(id: &str, minutes_before_now: i64, kind: &str) -> Value {
    json!({
        "version": "0", "id": id, "detail-type": "Order", "source": "shop",
        "account": "123456789012", "time": at(minutes_before_now), "region": "us-east-2",
        "resources": [], "detail": {"type": kind, "order": id}
    })
}

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let d = std::env::temp_dir().join(format!(
            "nexus-export-test-{}-{}",
            std::process::id(),
            crate::ids::random_hex(8)
        ));
        std::fs::create_dir_all(&d).unwrap();
        Scratch(d)
    }

    /// Files in the directory (the output and any temporary file).
    fn files(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct World {
    eb: MemoryEventBridge,
    sqs: MemoryQueue,
    cap: MemoryCapture,
    rep: MemoryReplayer,
    dir: Scratch,
}

impl World {
    /// Bus `orders` with archive `orders-archive` (7-day retention, created `created_ago`).
    fn new(created_ago: chrono::Duration) -> World {
        let eb = MemoryEventBridge::new();
        let bus = eb.add_bus(BUS);
        eb.add_archive(ArchiveInfo {
            name: "orders-archive".into(),
            arn: "arn:aws:events:us-east-2:123456789012:archive/orders-archive".into(),
            source_arn: bus.arn,
            state: "ENABLED".into(),
            state_reason: None,
            retention_days: Some(7),
            event_count: 0,
            size_bytes: 0,
            creation_time: Some(now() - created_ago),
            event_pattern: None,
        });
        let sqs = MemoryQueue::new();
        let cap = MemoryCapture::new(sqs.clone());
        let rep = MemoryReplayer::new(eb.clone(), cap.clone());
        World {
            eb,
            sqs,
            cap,
            rep,
            dir: Scratch::new(),
        }
    }

    fn ports(&self) -> ExportPorts<'_> {
        ExportPorts {
            catalogue: &self.eb,
            replays: &self.rep,
            resources: &self.cap,
            queue: &self.sqs,
        }
    }

    fn out(&self) -> PathBuf {
        self.dir.0.join("events.jsonl")
    }

    /// The window 14:00–15:00 of the archive, type `order.paid`.
    fn request(&self) -> ExportRequest {
        ExportRequest {
            archive: "orders-archive".into(),
            start: now() - chrono::Duration::minutes(120),
            end: Some(now() - chrono::Duration::minutes(60)),
            filter: ExportFilter {
                event_types: vec!["order.paid".into()],
                ..ExportFilter::default()
            },
            dedup: DedupSpec::Default,
            out: self.out(),
            started_by: "sre@host".into(),
            options: ExportOptions {
                settle: Duration::from_secs(5),
                receive_wait: Duration::from_secs(2),
                ..ExportOptions::default()
            },
        }
    }

    /// Nothing of an export is left: no rule, queue or temporary file.
    fn assert_clean(&self) {
        assert!(self.cap.rules(BUS).is_empty(), "{:?}", self.cap.rules(BUS));
        assert!(self.cap.queues().is_empty(), "{:?}", self.cap.queues());
        assert!(
            !self.dir.files().iter().any(|f| f.ends_with(".partial")),
            "{:?}",
            self.dir.files()
        );
    }

    fn lines(&self) -> Vec<Value> {
        std::fs::read_to_string(self.out())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn ids(lines: &[Value]) -> Vec<&str> {
    let mut v: Vec<&str> = lines.iter().map(|l| l["id"].as_str().unwrap()).collect();
    v.sort();
    v
}

#[derive(Default)]
struct Record {
    steps: Vec<String>,
    progress: Vec<Option<f64>>,
    captured: Vec<u64>,
    removing: bool,
}

impl ExportObserver for Record {
    fn step(&mut self, what: &str) {
        self.steps.push(what.to_string());
    }
    fn replay(&mut self, status: &ReplayStatus, _: Duration) {
        self.progress.push(status.progress());
    }
    fn captured(&mut self, tally: &Tally) {
        self.captured.push(tally.written);
    }
    fn removing(&mut self) {
        self.removing = true;
    }
}

async fn after(d: Duration, s: Signal) -> Signal {
    tokio::time::sleep(d).await;
    s
}

#[tokio::test(start_paused = true)]
async fn exports_the_window_and_type_once_each_and_removes_everything() {
    let w = World::new(chrono::Duration::days(30));
    w.rep.archive([
        event("e1", 100, "order.paid"),
        event("e2", 70, "order.paid"),
        event("e3", 90, "order.refunded"),
        event("e4", 30, "order.paid"),
    ]);
    w.rep.set_behaviour(ReplayBehaviour {
        copies: 2,
        ..ReplayBehaviour::default()
    });
    // Live traffic during the export never reaches the capture queue.
    let cap = w.cap.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(15)).await;
        assert_eq!(
            cap.deliver(BUS, &[], &event("live", 0, "order.paid"), true),
            0
        );
    });
    let mut rec = Record::default();
    let report = export(&w.ports(), &w.request(), now(), &mut rec, pending())
        .await
        .unwrap();
    assert_eq!(report.outcome, ExportOutcome::Completed);
    assert_eq!(report.exit_code(), exit_codes::SUCCESS);
    assert_eq!(report.file.as_deref(), Some(w.out().as_path()));
    let lines = w.lines();
    assert_eq!(ids(&lines), ["e1", "e2"]);
    assert!(lines.iter().all(|l| l.get("replay-name").is_none()));
    assert_eq!(lines[0]["detail"]["type"], "order.paid");
    assert_eq!(report.total, 2);
    assert_eq!(report.events_per_type["order.paid"], 2);
    assert_eq!(report.received, 4);
    assert_eq!(report.skipped[&SkipReason::Duplicate], 2);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);

    // The replay: the window asked, to the capture rule only.
    let started = w.eb.started();
    assert_eq!(started.len(), 1);
    let rule_arn = format!(
        "arn:aws:events:us-east-2:123456789012:rule/{BUS}/{}",
        report.replay_name
    );
    assert_eq!(started[0].filter_arns, [rule_arn]);
    assert_eq!(started[0].start, report.window.start);
    assert_eq!(started[0].end, now() - chrono::Duration::minutes(60));
    assert!(report.replay_name.starts_with(PREFIX));
    assert_eq!(report.replay.state, Some(ReplayState::Completed));
    assert!(!report.replay.cancelled);
    let pattern: Value = serde_json::from_str(&report.pattern).unwrap();
    assert_eq!(pattern["replay-name"], json!([report.replay_name]));

    // Created queue → rule → target; removed target → rule → queue.
    let calls = w.cap.calls();
    let ops: Vec<&str> = calls.iter().map(|c| c.split(' ').next().unwrap()).collect();
    assert_eq!(
        ops,
        [
            "CreateQueue",
            "PutRule",
            "PutTargets",
            "RemoveTargets",
            "DeleteRule",
            "DeleteQueue"
        ]
    );
    let kinds: Vec<(ResourceKind, &Removal)> = report
        .resources
        .iter()
        .map(|r| (r.kind, &r.removal))
        .collect();
    assert_eq!(
        kinds,
        [
            (ResourceKind::Target, &Removal::Removed),
            (ResourceKind::Rule, &Removal::Removed),
            (ResourceKind::Queue, &Removal::Removed),
        ]
    );
    w.assert_clean();
    assert_eq!(w.dir.files(), ["events.jsonl"]);

    assert!(
        rec.steps.iter().any(|s| s.starts_with("created rule")),
        "{:?}",
        rec.steps
    );
    assert!(
        rec.steps
            .iter()
            .any(|s| s == &format!("removed target {TARGET_ID}"))
    );
    assert_eq!(rec.progress.last(), Some(&Some(1.0)));
    assert_eq!(rec.captured.last(), Some(&2));
    assert!(rec.removing);
}

#[tokio::test(start_paused = true)]
async fn the_queue_and_rule_are_tagged_and_only_the_rule_may_send() {
    let w = World::new(chrono::Duration::days(30));
    w.rep.archive([event("e1", 100, "order.paid")]);
    // A look at the fakes while the export runs (the replay runs for 60 s).
    let cap = w.cap.clone();
    let seen = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let queue = cap.queues().pop().unwrap();
        let rule = cap.rules(BUS).pop().unwrap();
        (
            cap.queue(&queue).unwrap(),
            cap.rule(BUS, &rule).unwrap(),
            rule,
        )
    });
    let report = export(&w.ports(), &w.request(), now(), &mut Silent, pending())
        .await
        .unwrap();
    let ((queue_tags, sender), (pattern, description, rule_tags, targets), rule) =
        seen.await.unwrap();
    assert_eq!(rule, report.replay_name);
    assert_eq!(
        sender,
        format!("arn:aws:events:us-east-2:123456789012:rule/{BUS}/{rule}")
    );
    for tags in [&queue_tags, &rule_tags] {
        assert_eq!(tags["nexus-replay:purpose"], "archive-export");
        assert_eq!(tags["nexus-replay:run-id"], report.run_id);
    }
    assert!(
        description
            .unwrap()
            .starts_with("nexus-replay archive export")
    );
    assert_eq!(pattern, report.pattern);
    assert_eq!(
        targets[TARGET_ID],
        format!("arn:aws:sqs:us-east-2:123456789012:{rule}")
    );
    assert_eq!(w.cap.refused(), 0);
}

#[tokio::test(start_paused = true)]
async fn events_delivered_after_completed_are_captured_within_the_settle_period() {
    for (settle, captured) in [(30, 1), (5, 0)] {
        let w = World::new(chrono::Duration::days(30));
        w.rep.archive([event("late", 100, "order.paid")]);
        // COMPLETED at 10 s, delivered at 20 s.
        w.rep.set_behaviour(ReplayBehaviour {
            runs_for: Duration::from_secs(10),
            delivers_after: Duration::from_secs(20),
            ..ReplayBehaviour::default()
        });
        let mut req = w.request();
        req.options.settle = Duration::from_secs(settle);
        let begin = tokio::time::Instant::now();
        let report = export(&w.ports(), &req, now(), &mut Silent, pending())
            .await
            .unwrap();
        assert_eq!(report.total, captured, "settle {settle}s");
        assert_eq!(w.lines().len() as u64, captured);
        // COMPLETED is seen at 15 s (polls at 0, 1, 3, 7, 15); the queue must then stay
        // empty for the whole settle period, counted from the last message received.
        let took = begin.elapsed();
        let quiet_from = if captured == 1 { 20 } else { 15 };
        assert!(
            took >= Duration::from_secs(quiet_from + settle)
                && took <= Duration::from_secs(quiet_from + settle + 3),
            "settle {settle}s took {took:?}"
        );
        w.assert_clean();
    }
}

#[tokio::test(start_paused = true)]
async fn the_local_guards_drop_what_an_emulator_lets_through() {
    let w = World::new(chrono::Duration::days(30));
    w.rep.archive([
        event("in", 100, "order.paid"),
        event("early", 200, "order.paid"),
        event("late", 30, "order.paid"),
        event("other-type", 90, "order.refunded"),
        json!({"id": "no-time", "source": "shop", "detail-type": "Order", "detail": {"type": "order.paid"}}),
    ]);
    // moto: the whole archive, every rule's pattern ignored here as well.
    w.rep.set_behaviour(ReplayBehaviour {
        like_moto: true,
        ignore_patterns: true,
        ..ReplayBehaviour::default()
    });
    let report = export(&w.ports(), &w.request(), now(), &mut Silent, pending())
        .await
        .unwrap();
    assert_eq!(ids(&w.lines()), ["in"]);
    assert_eq!(report.skipped[&SkipReason::OutsideWindow], 2);
    assert_eq!(report.skipped[&SkipReason::Pattern], 1);
    assert_eq!(report.skipped[&SkipReason::NoTime], 1);
    assert_eq!(report.received, 5);
}

#[tokio::test(start_paused = true)]
async fn a_back_dated_event_older_than_the_archive_is_exported_with_a_warning() {
    // The archive was created an hour ago; a producer back-dated an event by two days.
    let w = World::new(chrono::Duration::hours(1));
    w.rep
        .archive([event("backdated", 2 * 24 * 60, "order.paid")]);
    let mut req = w.request();
    req.start = now() - chrono::Duration::days(3);
    let report = export(&w.ports(), &req, now(), &mut Silent, pending())
        .await
        .unwrap();
    assert_eq!(report.window.start, req.start, "the window is not moved");
    assert_eq!(w.eb.started()[0].start, req.start);
    assert_eq!(ids(&w.lines()), ["backdated"]);
    assert!(
        report.warnings[0].contains("before archive orders-archive was created")
            && report.warnings[0].contains("back-dated"),
        "{:?}",
        report.warnings
    );
}

#[tokio::test(start_paused = true)]
async fn bad_input_and_limits_found_before_creating_change_nothing() {
    let w = World::new(chrono::Duration::days(30));
    // Beyond the 7-day retention.
    let mut req = w.request();
    req.start = now() - chrono::Duration::days(8);
    let e = export(&w.ports(), &req, now(), &mut Silent, pending())
        .await
        .unwrap_err();
    assert_eq!(e.exit_code(), exit_codes::USAGE);
    assert!(e.to_string().contains("retention horizon"), "{e}");
    // A pattern that would let live events through.
    let mut req = w.request();
    req.filter.pattern = Some(r#"{"replay-name": [{"exists": false}]}"#.into());
    let e = export(&w.ports(), &req, now(), &mut Silent, pending())
        .await
        .unwrap_err();
    assert_eq!(e.exit_code(), exit_codes::USAGE);
    assert!(
        e.to_string().contains("may not match on replay-name"),
        "{e}"
    );
    // An output file that cannot be written.
    let mut req = w.request();
    req.out = w.dir.0.join("no/such/dir/out.jsonl");
    let e = export(&w.ports(), &req, now(), &mut Silent, pending())
        .await
        .unwrap_err();
    assert_eq!(e.exit_code(), exit_codes::USAGE);
    assert!(e.to_string().contains("--out"), "{e}");
    // 10 replays active already: listed.
    for i in 0..10 {
        w.eb.add_replay(ReplayStatus {
            name: format!("busy-{i}"),
            arn: None,
            description: None,
            state: ReplayState::Running,
            state_reason: None,
            archive_arn: None,
            destination_arn: None,
            filter_arns: vec![],
            event_start: None,
            event_end: None,
            event_last_replayed: None,
            replay_start: None,
            replay_end: None,
        });
    }
    let e = export(&w.ports(), &w.request(), now(), &mut Silent, pending())
        .await
        .unwrap_err();
    assert_eq!(e.exit_code(), exit_codes::USAGE);
    assert!(
        e.to_string().contains("10 replays are already active")
            && e.to_string().contains("busy-9 (RUNNING)"),
        "{e}"
    );
    assert!(w.cap.calls().is_empty(), "{:?}", w.cap.calls());
    assert!(w.eb.started().is_empty());
    assert!(w.dir.files().is_empty(), "{:?}", w.dir.files());
}

#[tokio::test(start_paused = true)]
async fn a_failure_mid_way_removes_what_was_created() {
    let w = World::new(chrono::Duration::days(30));
    w.cap.fail_next(
        "PutTargets",
        PortError::Denied("PutTargets: AccessDeniedException: no".into()),
    );
    let e = export(&w.ports(), &w.request(), now(), &mut Silent, pending())
        .await
        .unwrap_err();
    assert_eq!(e.exit_code(), exit_codes::FAILURE);
    assert!(e.to_string().contains("AccessDeniedException"), "{e}");
    // The target was refused, so only the rule and the queue are there to remove.
    let kinds: Vec<ResourceKind> = e.resources.iter().map(|r| r.kind).collect();
    assert_eq!(kinds, [ResourceKind::Rule, ResourceKind::Queue]);
    assert!(e.resources.iter().all(|r| r.removal == Removal::Removed));
    assert!(e.replay.is_none());
    assert!(w.eb.started().is_empty());
    w.assert_clean();
    assert!(w.dir.files().is_empty());
}

#[tokio::test(start_paused = true)]
async fn resources_whose_answers_were_lost_are_found_and_removed() {
    let w = World::new(chrono::Duration::days(30));
    // CreateQueue and PutRule applied, their answers lost: the export fails at the queue,
    // then finds it by name and deletes it.
    w.cap.lose_next_answer("CreateQueue");
    let e = export(&w.ports(), &w.request(), now(), &mut Silent, pending())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("connection closed"), "{e}");
    assert_eq!(e.resources.len(), 1);
    assert_eq!(e.resources[0].removal, Removal::Removed);
    w.assert_clean();

    w.cap.lose_next_answer("PutRule");
    let e = export(&w.ports(), &w.request(), now(), &mut Silent, pending())
        .await
        .unwrap_err();
    let kinds: Vec<(ResourceKind, &Removal)> =
        e.resources.iter().map(|r| (r.kind, &r.removal)).collect();
    assert_eq!(
        kinds,
        [
            (ResourceKind::Rule, &Removal::Removed),
            (ResourceKind::Queue, &Removal::Removed)
        ]
    );
    w.assert_clean();

    // A StartReplay that may have started: the replay is cancelled if it exists.
    w.eb.fail_next_start(PortError::Transient("StartReplay: HTTP 500".into()));
    let e = export(&w.ports(), &w.request(), now(), &mut Silent, pending())
        .await
        .unwrap_err();
    assert_eq!(e.resources.len(), 3);
    assert!(e.replay.is_none(), "it never started: {:?}", e.replay);
    w.assert_clean();
}

/// StartReplay applied, its answer lost, the retry refused as existing: the replay of
/// this run's own name, archive and window is adopted and the export goes on.
#[tokio::test(start_paused = true)]
async fn a_start_whose_answer_was_lost_adopts_the_replay_it_created() {
    let w = World::new(chrono::Duration::days(30));
    w.rep.archive([
        event("e1", 100, "order.paid"),
        event("e2", 70, "order.paid"),
    ]);
    w.eb.lose_next_start_answer();
    let report = export(&w.ports(), &w.request(), now(), &mut Silent, pending())
        .await
        .unwrap();
    assert_eq!(report.outcome, ExportOutcome::Completed);
    assert_eq!(ids(&w.lines()), ["e1", "e2"]);
    assert_eq!(w.eb.started().len(), 1, "nothing is started again");
    assert_eq!(report.replay.state, Some(ReplayState::Completed));
    w.assert_clean();
}

#[tokio::test(start_paused = true)]
async fn an_interrupt_removes_everything_cancels_the_replay_and_leaves_no_file() {
    for signal in [Signal::Interrupt, Signal::Terminate] {
        let w = World::new(chrono::Duration::days(30));
        w.rep.archive([event("e1", 100, "order.paid")]);
        w.rep.set_behaviour(ReplayBehaviour {
            runs_for: Duration::from_secs(600),
            delivers_after: Duration::from_secs(5),
            ..ReplayBehaviour::default()
        });
        let report = export(
            &w.ports(),
            &w.request(),
            now(),
            &mut Silent,
            after(Duration::from_secs(30), signal),
        )
        .await
        .unwrap();
        assert_eq!(report.outcome, ExportOutcome::Interrupted);
        assert_eq!(report.signal, Some(signal));
        assert_eq!(report.exit_code(), signal.exit_code());
        assert_eq!(report.total, 1, "captured before the interrupt");
        assert!(report.file.is_none());
        assert!(report.replay.cancelled);
        assert_eq!(w.eb.cancelled(), std::slice::from_ref(&report.replay_name));
        assert!(
            report
                .resources
                .iter()
                .all(|r| r.removal == Removal::Removed)
        );
        assert_eq!(report.resources.len(), 3);
        w.assert_clean();
        assert!(w.dir.files().is_empty(), "{:?}", w.dir.files());
    }
    assert_eq!(Signal::Interrupt.exit_code(), 130);
    assert_eq!(Signal::Terminate.exit_code(), 143);
}

#[tokio::test(start_paused = true)]
async fn an_interrupt_while_creating_removes_what_the_cut_call_may_have_made() {
    let w = World::new(chrono::Duration::days(30));
    // Ctrl-C before anything: nothing is created.
    let report = export(
        &w.ports(),
        &w.request(),
        now(),
        &mut Silent,
        std::future::ready(Signal::Interrupt),
    )
    .await
    .unwrap();
    assert_eq!(report.exit_code(), exit_codes::INTERRUPTED);
    assert!(report.resources.is_empty());
    assert!(w.cap.calls().is_empty());
    assert!(w.dir.files().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_removal_that_fails_is_reported_with_the_command_that_removes_it() {
    let w = World::new(chrono::Duration::days(30));
    w.rep.archive([event("e1", 100, "order.paid")]);
    w.cap.fail_next(
        "RemoveTargets",
        PortError::Throttled("RemoveTargets: ThrottlingException: Rate exceeded".into()),
    );
    let report = export(&w.ports(), &w.request(), now(), &mut Silent, pending())
        .await
        .unwrap();
    assert_eq!(report.outcome, ExportOutcome::Completed);
    assert_eq!(report.exit_code(), exit_codes::PARTIAL);
    assert!(report.file.is_some(), "the export itself is complete");
    let left: Vec<(ResourceKind, String)> = report
        .leftovers()
        .map(|r| match &r.removal {
            Removal::Failed { remove_with, .. } => (r.kind, remove_with.clone()),
            _ => unreachable!(),
        })
        .collect();
    let rule = &report.replay_name;
    assert_eq!(
        left,
        [
            (
                ResourceKind::Target,
                format!(
                    "aws events remove-targets --event-bus-name {BUS} --rule {rule} --ids {TARGET_ID}"
                )
            ),
            (
                ResourceKind::Rule,
                format!("aws events delete-rule --event-bus-name {BUS} --name {rule}")
            ),
        ]
    );
    // The queue goes anyway: the rule's target then points at nothing.
    assert!(w.cap.queues().is_empty());
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("could not remove target")
                && w.contains(&format!(
                    "nexus-replay archive export --cleanup --bus {BUS}"
                ))),
        "{:?}",
        report.warnings
    );
}

#[tokio::test(start_paused = true)]
async fn each_limit_says_which_it_is_and_everything_is_removed() {
    // Rules per bus.
    let w = World::new(chrono::Duration::days(30));
    w.cap.limit_rules_per_bus(0);
    let e = export(&w.ports(), &w.request(), now(), &mut Silent, pending())
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("Maximum number of rules per event bus"),
        "{e}"
    );
    assert_eq!(e.resources.len(), 1, "the queue: {:?}", e.resources);
    w.assert_clean();

    // 10 active replays, met at StartReplay (another tool started one meanwhile).
    let w = World::new(chrono::Duration::days(30));
    w.eb.fail_next_start(PortError::LimitExceeded(
        "StartReplay: LimitExceededException: The requested resource exceeds the maximum number allowed.".into(),
    ));
    let e = export(&w.ports(), &w.request(), now(), &mut Silent, pending())
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("already has 10 active replays"),
        "{e}"
    );
    assert!(e.resources.iter().all(|r| r.removal == Removal::Removed));
    w.assert_clean();
}

#[tokio::test(start_paused = true)]
async fn a_failed_replay_or_a_timeout_writes_no_file() {
    let w = World::new(chrono::Duration::days(30));
    w.rep.archive([event("e1", 100, "order.paid")]);
    w.rep.set_behaviour(ReplayBehaviour {
        ends: ReplayState::Failed,
        ..ReplayBehaviour::default()
    });
    let report = export(&w.ports(), &w.request(), now(), &mut Silent, pending())
        .await
        .unwrap();
    assert_eq!(report.outcome, ExportOutcome::ReplayFailed);
    assert_eq!(report.exit_code(), exit_codes::REPLAY_NOT_COMPLETED);
    assert_eq!(
        report.replay.state_reason.as_deref(),
        Some("injected failure")
    );
    assert!(!report.replay.cancelled);
    assert!(report.file.is_none());
    w.assert_clean();
    assert!(w.dir.files().is_empty());

    let w = World::new(chrono::Duration::days(30));
    w.rep.set_behaviour(ReplayBehaviour {
        runs_for: Duration::from_secs(3600),
        ..ReplayBehaviour::default()
    });
    let mut req = w.request();
    req.options.timeout = Some(Duration::from_secs(60));
    let report = export(&w.ports(), &req, now(), &mut Silent, pending())
        .await
        .unwrap();
    assert_eq!(report.outcome, ExportOutcome::TimedOut);
    assert_eq!(report.exit_code(), exit_codes::TIMED_OUT);
    assert!(
        report.replay.cancelled,
        "a replay to a removed rule is of no use"
    );
    w.assert_clean();
}

/// Runs an export and "kills" it after `after`: the future is dropped, so nothing of its
/// end (removal, file) runs, as with SIGKILL.
async fn killed_export(w: &World, after: Duration) {
    let req = w.request();
    let ports = w.ports();
    let mut silent = Silent;
    tokio::select! {
        r = export(&ports, &req, now(), &mut silent, pending()) => panic!("finished: {:?}", r.map(|r| r.outcome)),
        _ = tokio::time::sleep(after) => {}
    }
}

#[tokio::test(start_paused = true)]
async fn cleanup_finds_and_removes_what_a_killed_export_left() {
    let w = World::new(chrono::Duration::days(30));
    w.rep.set_behaviour(ReplayBehaviour {
        runs_for: Duration::from_secs(120),
        ..ReplayBehaviour::default()
    });
    killed_export(&w, Duration::from_secs(30)).await;
    assert_eq!(w.cap.rules(BUS).len(), 1);
    assert_eq!(w.cap.queues().len(), 1);
    // Someone else's resources with the prefix are not an export's.
    w.cap.add_rule(
        BUS,
        "nexus-export-20250101T000000Z-00000000",
        r#"{"source": ["x"]}"#,
        Some("mine"),
    );
    w.cap
        .add_queue("nexus-export-20250101T000000Z-00000000", Default::default());
    let buses = vec![BUS.to_string()];

    // While its replay runs, the export may be alive: listed, not removed.
    let found = find_leftovers(&w.cap, &w.rep, &buses).await.unwrap();
    assert_eq!(found.runs.len(), 1);
    assert!(found.runs[0].in_use);
    assert_eq!(found.runs[0].replay_state, Some(ReplayState::Running));
    assert_eq!(found.not_ours.len(), 2, "{:?}", found.not_ours);
    assert!(found.is_empty());
    let report = remove_leftovers(&w.cap, &found).await;
    assert!(report.resources.is_empty());
    assert_eq!(report.kept, [found.runs[0].run_id.clone()]);

    // Once it ended: finding changes nothing, removing removes the target first.
    tokio::time::sleep(Duration::from_secs(120)).await;
    let before = w.cap.calls().len();
    let found = find_leftovers(&w.cap, &w.rep, &buses).await.unwrap();
    assert!(!found.runs[0].in_use);
    let run = &found.runs[0];
    assert_eq!((run.rules.len(), run.queues.len()), (1, 1));
    assert_eq!(w.cap.rules(BUS).len(), 2, "finding removes nothing");
    let report = remove_leftovers(&w.cap, &found).await;
    assert_eq!(report.exit_code(), exit_codes::SUCCESS);
    let ops: Vec<String> = w.cap.calls()[before..]
        .iter()
        .map(|c| c.split(' ').next().unwrap().to_string())
        .filter(|op| !op.starts_with("List"))
        .collect();
    assert_eq!(ops, ["RemoveTargets", "DeleteRule", "DeleteQueue"]);
    let kinds: Vec<ResourceKind> = report.resources.iter().map(|r| r.kind).collect();
    assert_eq!(
        kinds,
        [
            ResourceKind::Target,
            ResourceKind::Rule,
            ResourceKind::Queue
        ]
    );
    assert_eq!(w.cap.rules(BUS), ["nexus-export-20250101T000000Z-00000000"]);
    assert_eq!(w.cap.queues(), ["nexus-export-20250101T000000Z-00000000"]);
    // A second run finds nothing left.
    let found = find_leftovers(&w.cap, &w.rep, &buses).await.unwrap();
    assert!(found.runs.is_empty());
}

#[tokio::test(start_paused = true)]
async fn the_file_is_replaced_only_by_a_completed_export() {
    let w = World::new(chrono::Duration::days(30));
    std::fs::write(w.out(), "earlier export\n").unwrap();
    w.rep.set_behaviour(ReplayBehaviour {
        runs_for: Duration::from_secs(600),
        ..ReplayBehaviour::default()
    });
    export(
        &w.ports(),
        &w.request(),
        now(),
        &mut Silent,
        after(Duration::from_secs(20), Signal::Interrupt),
    )
    .await
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(w.out()).unwrap(),
        "earlier export\n"
    );
    assert_eq!(w.dir.files(), ["events.jsonl"]);
}

#[tokio::test(start_paused = true)]
async fn receive_errors_are_ridden_out_unless_they_say_the_queue_is_unusable() {
    let w = World::new(chrono::Duration::days(30));
    w.rep.archive([event("e1", 100, "order.paid")]);
    w.sqs.fail_next_receives(vec![
        PortError::Throttled("ReceiveMessage: Throttling".into()),
        PortError::Transient("ReceiveMessage: HTTP 500".into()),
    ]);
    let report = export(&w.ports(), &w.request(), now(), &mut Silent, pending())
        .await
        .unwrap();
    assert_eq!(report.total, 1);

    let w = World::new(chrono::Duration::days(30));
    w.sqs.fail_next_receives(vec![PortError::Denied(
        "ReceiveMessage: AccessDenied: no".into(),
    )]);
    let e = export(&w.ports(), &w.request(), now(), &mut Silent, pending())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("AccessDenied"), "{e}");
    let replay = e.replay.expect("the replay was started");
    assert!(replay.cancelled, "{replay:?}");
    assert_eq!(e.resources.len(), 3);
    w.assert_clean();
}
