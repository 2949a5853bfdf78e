//! Engine tests over the in-memory fakes: failures AWS produces and emulators do not. This
//! file holds the world they run in; each child module tests one concern.

mod crash;
mod dedup;
mod dry_run;
mod ending;
mod poison;
mod put;
mod refusals;
mod target;
mod target_faults;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use super::engine::*;
use crate::clock::ManualClock;
use crate::interrupt::Signal;
use crate::memory::eventbridge::MemoryEventBridge;
use crate::memory::lambda::MemoryLambda;
use crate::memory::latent::Latent;
use crate::memory::ledger::MemoryLedger;
use crate::memory::logs::MemoryLogs;
use crate::memory::sfn::MemoryStepFunctions;
use crate::memory::sns::MemorySns;
use crate::memory::sqs::MemoryQueue;
use crate::memory::sqs_send::MemoryMessageSender;
use crate::ports::PortError;
use crate::ports::bus::RuleInfo;
use crate::ports::delivery::DeliveryPorts;
use crate::ports::queue::QueueRef;

pub(crate) const RULE_ARN: &str =
    "arn:aws:events:us-east-2:123456789012:rule/billing/subscription-rule";

pub(crate) fn body(i: usize) -> String {
    json!({
        "version": "0", "id": format!("env-{i}"), "detail-type": "Stripe Webhook Event",
        "source": "stripe.webhook", "account": "123456789012", "time": "2025-09-08T14:00:00Z",
        "region": "us-east-2", "resources": [],
        "detail": {"id": format!("evt_{i}"), "type": "customer.subscription.updated"}
    })
    .to_string()
}

pub(crate) fn attrs() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("RULE_ARN".into(), RULE_ARN.into()),
        (
            "TARGET_ARN".into(),
            "arn:aws:lambda:us-east-2:123456789012:function:f".into(),
        ),
        ("ERROR_CODE".into(), "ERROR_FROM_TARGET".into()),
        ("RETRY_ATTEMPTS".into(), "185".into()),
    ])
}

struct World {
    sqs: MemoryQueue,
    eb: MemoryEventBridge,
    ledger: MemoryLedger,
    dlq: QueueRef,
    clock: Arc<ManualClock>,
    /// The delivery fakes (`--to target`); SQS sends land in `sqs`.
    lambda: MemoryLambda,
    sender: MemoryMessageSender,
    sns: MemorySns,
    sfn: MemoryStepFunctions,
    logs: MemoryLogs,
}

fn world(n: usize) -> World {
    let sqs = MemoryQueue::new();
    let dlq = sqs.create("subs-dlq");
    for i in 0..n {
        sqs.push("subs-dlq", &body(i), attrs());
    }
    World {
        sender: MemoryMessageSender::new(sqs.clone()),
        sqs,
        eb: MemoryEventBridge::new(),
        ledger: MemoryLedger::new(),
        dlq,
        clock: ManualClock::at(chrono::Utc::now()),
        lambda: MemoryLambda::new(),
        sns: MemorySns::new(),
        sfn: MemoryStepFunctions::new(),
        logs: MemoryLogs::new(),
    }
}

impl World {
    fn cfg(&self) -> DrainConfig {
        let mut c = DrainConfig::new(
            vec![self.dlq.clone()],
            format!("run-{}", crate::ids::random_hex(6)),
        );
        c.receive_wait = Duration::ZERO;
        c
    }

    fn ports(&self, with_ledger: bool) -> DrainPorts {
        DrainPorts {
            queue: Arc::new(self.sqs.clone()),
            sink: Arc::new(self.eb.clone()),
            ledger: with_ledger
                .then(|| Arc::new(self.ledger.clone()) as Arc<dyn crate::ports::ledger::Ledger>),
            rules: Some(Arc::new(self.eb.clone())),
            delivery: Some(DeliveryPorts {
                lambda: Arc::new(self.lambda.clone()),
                sqs: Arc::new(self.sender.clone()),
                sns: Arc::new(self.sns.clone()),
                sfn: Arc::new(self.sfn.clone()),
                logs: Arc::new(self.logs.clone()),
            }),
            clock: self.clock.clone(),
        }
    }

    async fn run(&self, cfg: DrainConfig) -> DrainOutcome {
        self.run_with(cfg, Arc::new(NoHooks)).await.unwrap()
    }

    async fn run_with(
        &self,
        cfg: DrainConfig,
        hooks: Arc<dyn Hooks>,
    ) -> Result<DrainOutcome, crate::error::AppError> {
        quiet_drain(cfg, self.ports(true), hooks).await
    }

    /// Dedup keys of every accepted put, with repeats.
    fn put_keys(&self) -> Vec<String> {
        self.eb
            .accepted()
            .iter()
            .map(|e| {
                let d: Value = serde_json::from_str(&e.detail).unwrap();
                d["nexus_replay"]["dedup_key"].as_str().unwrap().to_string()
            })
            .collect()
    }

    fn distinct_keys(&self) -> BTreeSet<String> {
        self.put_keys().into_iter().collect()
    }

    fn left(&self) -> usize {
        self.sqs.messages("subs-dlq").len()
    }

    /// Every one of the `n` keys was put exactly once and the DLQ is empty.
    #[track_caller]
    fn assert_each_key_put_once(&self, n: usize) {
        assert_eq!(self.put_keys().len(), n, "no key put twice");
        assert_eq!(self.distinct_keys(), all_keys(n));
        assert_eq!(self.left(), 0);
    }
}

/// A drain without progress output or interruption.
async fn quiet_drain(
    cfg: DrainConfig,
    ports: DrainPorts,
    hooks: Arc<dyn Hooks>,
) -> Result<DrainOutcome, crate::error::AppError> {
    drain(
        cfg,
        ports,
        hooks,
        Arc::new(QuietDrain),
        std::future::pending(),
    )
    .await
}

fn all_keys(n: usize) -> BTreeSet<String> {
    (0..n).map(|i| format!("evt_{i}")).collect()
}

struct CrashOnce {
    at: Step,
    done: AtomicUsize,
}

impl Hooks for CrashOnce {
    fn crash_at(&self, step: Step) -> bool {
        step == self.at && self.done.fetch_add(1, Ordering::Relaxed) == 0
    }
}

/// A Stripe-shaped body with the given envelope id, Stripe id, type and amount.
fn stripe(env_id: &str, evt: &str, kind: &str, amount: i64) -> String {
    json!({
        "version": "0", "id": env_id, "detail-type": "Stripe Webhook Event",
        "source": "stripe.webhook", "time": "2025-09-08T14:00:00Z", "resources": [],
        "detail": {"id": evt, "type": kind, "data": {"object": {"amount": amount}}}
    })
    .to_string()
}

fn exit_code_of(out: &DrainOutcome) -> u8 {
    use crate::output::Report;
    crate::commands::drain::DrainReport {
        queues: vec!["subs-dlq".into()],
        ledger: "memory".into(),
        duration_seconds: 0.0,
        from_file: None,
        park_queue: None,
        outcome: out.clone(),
    }
    .exit_code()
}

/// The (dedup key, reason) of each row a run reports about a message it did not re-emit:
/// the planned rows of a dry run, the failures of a real one.
fn key_rows(out: &DrainOutcome) -> Vec<(Option<String>, String)> {
    if out.dry_run {
        out.planned
            .iter()
            .map(|p| (p.dedup_key.clone(), p.reason.clone().unwrap_or_default()))
            .collect()
    } else {
        out.failures
            .iter()
            .map(|f| (f.dedup_key.clone(), f.reason.clone()))
            .collect()
    }
}

/// The function the default `attrs()` name as TARGET_ARN.
pub(crate) const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-2:123456789012:function:f";

/// A target of `subscription-rule` with this id and ARN, dead-lettering to `subs-dlq`.
fn target(id: &str, arn: &str) -> crate::ports::bus::TargetInfo {
    crate::ports::bus::TargetInfo {
        id: id.into(),
        arn: arn.into(),
        dlq_arn: Some("arn:aws:sqs:us-east-2:123456789012:subs-dlq".into()),
        ..Default::default()
    }
}

/// `subscription-rule` on bus `billing` (the rule of `RULE_ARN`) with these targets.
fn add_rule(w: &World, targets: Vec<crate::ports::bus::TargetInfo>) {
    w.eb.add_rule(
        "billing",
        RuleInfo {
            name: "subscription-rule".into(),
            arn: RULE_ARN.into(),
            state: "ENABLED".into(),
            event_pattern: None,
            schedule_expression: None,
            managed_by: None,
            description: None,
            targets,
        },
    );
}

/// `attrs()` naming `target_arn` as the target that dead-lettered the message.
fn attrs_for(target_arn: &str) -> BTreeMap<String, String> {
    let mut a = attrs();
    a.insert("TARGET_ARN".into(), target_arn.into());
    a
}

/// A world whose `n` messages were dead-lettered by the target `target_arn`.
fn target_world(n: usize, target_arn: &str) -> World {
    let w = world(0);
    for i in 0..n {
        w.sqs.push("subs-dlq", &body(i), attrs_for(target_arn));
    }
    w
}

impl World {
    /// `--to target`, functions invoked synchronously.
    fn target_cfg(&self) -> DrainConfig {
        let mut c = self.cfg();
        c.redrive = Redrive::Target {
            invocation: crate::ports::delivery::InvocationType::RequestResponse,
        };
        c
    }

    /// The ledger's keys, sorted.
    fn ledger_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.ledger.records().into_iter().map(|r| r.key).collect();
        keys.sort();
        keys
    }
}

/// The event `body(i)` as its target first received it, as JSON.
fn event(i: usize) -> Value {
    serde_json::from_str(&body(i)).unwrap()
}
