//! What a drain run reports: running counts, failures, warnings, a dry run's plan, and the
//! observer that sees the counts as they change.

use serde::Serialize;

use crate::interrupt::Signal;

/// Running totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub received: u64,
    pub reemitted: u64,
    /// A dry run's re-emits and parks: planned, not done (`reemitted` and `parked` stay 0).
    pub would_reemit: u64,
    pub would_park: u64,
    pub duplicates: u64,
    pub filtered: u64,
    pub parked: u64,
    pub failed: u64,
    /// Keys another run (or another copy of the message) had claimed; left in the queue.
    pub held_elsewhere: u64,
    pub deleted: u64,
    pub delete_failed: u64,
    /// Entries re-sent after an ambiguous PutEvents failure, or whose claim was lost.
    pub possible_duplicates: u64,
    /// Messages whose key was already re-emitted with other content: left in the queue.
    pub conflicts: u64,
    /// Messages re-emitted with a warning (see `DrainOutcome::warnings`).
    pub warnings: u64,
    /// Messages made visible again at the end.
    pub released: u64,
    /// Approximate messages visible when the run started.
    pub total_estimate: u64,
    /// Approximate messages still in flight (invisible) in queues this run found empty, at
    /// its end: held by another run, or left by a stopped one until their visibility
    /// timeout. Not drained, so the run is partial.
    pub in_flight: u64,
}

/// A message that was not re-emitted and stays in (or was parked from) the queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub queue: String,
    pub message_id: String,
    pub dedup_key: Option<String>,
    pub code: String,
    pub reason: String,
    pub parked: bool,
}

/// A message re-emitted (or, in a dry run, to be) with something the user should know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub queue: String,
    pub message_id: String,
    pub dedup_key: Option<String>,
    /// `DUPLICATE_JSON_KEYS`: an object in the body has a key twice; the last value is
    /// re-emitted, as EventBridge itself reads such JSON, and the earlier ones are lost.
    pub code: String,
    pub reason: String,
}

/// What a dry run would do with one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Planned {
    pub queue: String,
    pub message_id: String,
    /// re-emit, park, leave (poison without a park queue), skip (not selected), or, for a
    /// key an earlier message of this dry run takes, duplicate (same content) or conflict.
    pub action: String,
    pub dedup_key: Option<String>,
    pub event_type: Option<String>,
    pub bus: Option<String>,
    /// Rules on the destination bus whose patterns match the re-emitted event.
    pub rules: Vec<String>,
    pub reason: Option<String>,
    /// `--to target`: the target's ARN, its kind (`TargetKind::label`) and the start of the
    /// input it would receive (None in bus mode, or when the target could not be read).
    pub target: Option<PlannedTarget>,
}

/// Where a `--to target` dry run would deliver one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedTarget {
    pub arn: String,
    pub kind: String,
    /// The transformed input, cut to a readable length.
    pub input_preview: String,
}

/// What a `--to target` run did per target (empty in bus mode).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TargetTally {
    pub target_arn: String,
    /// `TargetKind::label`: lambda, sqs, sns, stepfunctions, bus, logs, unsupported.
    pub kind: String,
    pub delivered: u64,
    /// Found done in the ledger (delivered by an earlier run): deleted, not delivered again.
    pub duplicates: u64,
    /// Left in the queue (see `DrainOutcome::failures`).
    pub failed: u64,
}

/// How a run ended.
#[derive(Debug, Clone, Serialize)]
pub struct DrainOutcome {
    pub run_id: String,
    pub dry_run: bool,
    /// Where the run sent messages: `bus` (PutEvents) or `target` (`--to target`).
    pub to: &'static str,
    pub counts: Counts,
    pub failures: Vec<Failure>,
    pub warnings: Vec<Warning>,
    pub planned: Vec<Planned>,
    /// `--to target`: per target, in ARN order.
    pub targets: Vec<TargetTally>,
    pub stopped_because: String,
    pub interrupted: bool,
    /// The signal that interrupted the run (SIGINT or SIGTERM).
    pub signal: Option<Signal>,
}

/// Sees counts as they change (progress display).
pub trait DrainObserver: Send + Sync {
    fn progress(&self, counts: &Counts);
    fn finish(&self);
}

/// Shows nothing.
pub struct QuietDrain;
impl DrainObserver for QuietDrain {
    fn progress(&self, _: &Counts) {}
    fn finish(&self) {}
}
