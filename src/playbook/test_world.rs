//! The in-memory world the run, plan and verify tests run a playbook in: a bus with a rule,
//! its DLQ, a replay control, a ledger, and a scripted user.

use super::exec::*;
use super::load::load;
use crate::drain::tests::RULE_ARN;
use crate::drain::tests::attrs;
use crate::drain::tests::body;
use crate::error::AppError;
use crate::interrupt::Signal;
use crate::memory::eventbridge::MemoryEventBridge;
use crate::memory::ledger::MemoryLedger;
use crate::memory::sqs::MemoryQueue;
use crate::ports::bus::ArchiveInfo;
use crate::ports::bus::RuleInfo;
use crate::ports::bus::TargetInfo;
use crate::ports::replay::ReplayState;
use crate::ports::replay::ReplayStatus;
use crate::replay::journal::Journal;
use chrono::Duration;
use chrono::Utc;
use serde_json::json;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;

pub(super) struct World {
    pub(super) eb: MemoryEventBridge,
    pub(super) sqs: MemoryQueue,
    pub(super) ledger: MemoryLedger,
    pub(super) state: PathBuf,
    pub(super) metrics: Arc<crate::memory::metrics::MemoryMetrics>,
    pub(super) kms: crate::memory::kms::MemoryKms,
    pub(super) iam: crate::memory::iam::MemoryIam,
}

/// In-memory delivery calls; SQS targets are queues of `sqs`.
pub(super) fn memory_delivery(sqs: &MemoryQueue) -> crate::ports::delivery::DeliveryPorts {
    use crate::memory::{
        lambda::MemoryLambda, logs::MemoryLogs, sfn::MemoryStepFunctions, sns::MemorySns,
        sqs_send::MemoryMessageSender,
    };
    crate::ports::delivery::DeliveryPorts {
        lambda: Arc::new(MemoryLambda::new()),
        sqs: Arc::new(MemoryMessageSender::new(sqs.clone())),
        sns: Arc::new(MemorySns::new()),
        sfn: Arc::new(MemoryStepFunctions::new()),
        logs: Arc::new(MemoryLogs::new()),
    }
}

pub(super) fn push_dlq(sqs: &MemoryQueue, n: usize) {
    for i in 0..n {
        sqs.push("subs-dlq", &body(i), attrs());
    }
}

pub(super) fn world(dlq_messages: usize, target_dlq: bool) -> World {
    let eb = MemoryEventBridge::new();
    let bus = eb.add_bus("billing");
    let sqs = MemoryQueue::new();
    let dlq = sqs.create("subs-dlq");
    sqs.create("consumer");
    push_dlq(&sqs, dlq_messages);
    eb.add_rule(
        "billing",
        RuleInfo {
            name: "subscription-rule".into(),
            arn: RULE_ARN.into(),
            state: "ENABLED".into(),
            event_pattern: Some(
                json!({"detail": {"type": [{"prefix": "customer.subscription."}]}}).to_string(),
            ),
            schedule_expression: None,
            managed_by: None,
            description: None,
            targets: vec![TargetInfo {
                id: "lambda".into(),
                arn: "arn:aws:lambda:us-east-2:123456789012:function:subs".into(),
                dlq_arn: target_dlq.then(|| dlq.arn.clone()),
                retry_policy: None,
                ..TargetInfo::default()
            }],
        },
    );
    eb.add_archive(ArchiveInfo {
        name: "billing-archive".into(),
        arn: "arn:aws:events:us-east-2:123456789012:archive/billing-archive".into(),
        source_arn: bus.arn,
        state: "ENABLED".into(),
        state_reason: None,
        retention_days: Some(30),
        event_count: 100,
        size_bytes: 10_000,
        creation_time: Some(Utc::now() - Duration::days(3)),
        event_pattern: None,
    });
    eb.set_event_sources(Ok(Vec::new()));
    let state = std::env::temp_dir().join(format!("nr-pb-run-{}", crate::ids::random_hex(8)));
    World {
        eb,
        sqs,
        ledger: MemoryLedger::new(),
        state,
        metrics: Arc::default(),
        kms: Default::default(),
        iam: Default::default(),
    }
}

impl World {
    pub(super) fn ports(&self) -> Ports {
        let ledger: Arc<dyn crate::ports::ledger::Ledger> = Arc::new(self.ledger.clone());
        let sqs = self.sqs.clone();
        Ports {
            cat: Arc::new(self.eb.clone()),
            ctl: Arc::new(self.eb.clone()),
            queue: Arc::new(self.sqs.clone()),
            sink: Arc::new(self.eb.clone()),
            capture: Arc::new(crate::memory::capture::MemoryCapture::new(self.sqs.clone())),
            ledger: Box::new(move |_| Ok(Some(ledger.clone()))),
            delivery: Box::new(move || memory_delivery(&sqs)),
            metrics: self.metrics.clone(),
            keys: Arc::new(self.kms.clone()),
            roles: Arc::new(self.iam.clone()),
            journal: Journal::in_dir(&self.state),
            started_by: "test@host".into(),
        }
    }

    pub(super) fn complete(&self, name: &str) {
        self.eb.script_describe(
            name,
            vec![Ok(ReplayStatus {
                name: name.into(),
                arn: None,
                description: None,
                state: ReplayState::Completed,
                state_reason: None,
                archive_arn: None,
                destination_arn: None,
                filter_arns: Vec::new(),
                event_start: None,
                event_end: None,
                event_last_replayed: None,
                replay_start: Some(Utc::now()),
                replay_end: Some(Utc::now()),
            })],
        );
    }

    pub(super) fn opts(&self, from: usize, yes: bool) -> RunOptions {
        RunOptions {
            sets: Vec::new(),
            yes,
            from_step: from,
            resume: None,
            invoked_as: "recover".into(),
            state_dir: self.state.clone(),
            run_id: format!("run-{}", crate::ids::random_hex(4)),
            ..RunOptions::default()
        }
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.state);
    }
}

#[derive(Default)]
pub(super) struct TestUi {
    pub(super) answers: VecDeque<bool>,
    pub(super) asked: Vec<String>,
    pub(super) started: Vec<usize>,
    /// A signal arriving at this (tokio) time.
    pub(super) signal: Option<(tokio::time::Instant, Signal)>,
}

impl Interact for TestUi {
    fn confirm(&mut self, question: &str) -> Result<bool, AppError> {
        self.asked.push(question.to_string());
        self.answers
            .pop_front()
            .ok_or_else(|| AppError::usage("nobody to ask"))
    }
    fn watch_observer(&mut self) -> Box<dyn crate::replay::watch::WatchObserver> {
        Box::new(crate::replay::watch::Quiet)
    }
    fn drain_observer(&mut self) -> Arc<dyn crate::drain::engine::DrainObserver> {
        Arc::new(crate::drain::engine::QuietDrain)
    }
    fn interrupt(&mut self) -> Interrupt {
        match self.signal {
            Some((at, sig)) => Box::pin(async move {
                tokio::time::sleep_until(at).await;
                sig
            }),
            None => Box::pin(std::future::pending()),
        }
    }
    fn signalled(&mut self) -> Option<Signal> {
        self.signal
            .filter(|(at, _)| *at <= tokio::time::Instant::now())
            .map(|(_, sig)| sig)
    }
    fn step_started(&mut self, step: &super::load::Step, _: usize) {
        self.started.push(step.number);
    }
    fn step_finished(&mut self, _: &StepRecord, _: &str) {}
}

pub(super) const RECOVER: &str = r#"name = "recover"
description = "replay, confirm, drain, verify"
when = "tests"

[[params]]
name = "since"
type = "when"
default = "2h"
help = "start"

[[steps]]
id = "doctor"
kind = "doctor"
bus = "billing"
allow = ["pass", "warn", "fail"]

[[steps]]
id = "replay"
kind = "replay"
bus = "billing"
since = "${since}"
event_types = ["customer.subscription.updated"]
name = "fixed-replay"
poll = "1s"

[[steps]]
kind = "confirm"
message = "Drain after ${steps.replay.name}?"

[[steps]]
id = "drain"
kind = "drain"
queues = ["subs-dlq"]
receive_wait = "0s"

[[steps]]
kind = "verify"
replay_completed = "${steps.replay.name}"
queues_empty = ["subs-dlq"]
"#;

pub(super) async fn run_it(
    w: &World,
    src: &str,
    opts: &RunOptions,
    ui: &mut TestUi,
) -> Result<RunRecord, AppError> {
    let pb = load("recover.toml", src).unwrap();
    let ports = w.ports();
    let (scope, previous) = prepare_run(&pb, opts)?;
    let plan = plan(&pb, &mut scope.clone(), &ports, opts.from_step, Utc::now()).await?;
    run(&pb, &plan, scope, previous.as_ref(), &ports, ui, opts).await
}

pub(super) const SLOW_DRAIN: &str = r#"name = "slow"
description = "a rate-limited drain, then a check"
when = "tests"

[[steps]]
id = "drain"
kind = "drain"
queues = ["subs-dlq"]
receive_wait = "0s"
rate = 2

[[steps]]
kind = "verify"
queues_empty = ["subs-dlq"]
"#;
