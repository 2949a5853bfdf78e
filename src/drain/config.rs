//! What a drain run is given: its configuration, its ports and the test hooks.

use std::sync::Arc;
use std::time::Duration;

use super::event::DedupSpec;
use super::select::Selection;
use crate::clock::SharedClock;
use crate::ports::bus::BusCatalogue;
use crate::ports::delivery::{DeliveryPorts, InvocationType};
use crate::ports::ledger::Ledger;
use crate::ports::queue::{Queue, QueueRef};
use crate::ports::sink::EventSink;

/// Message attribute naming why a message was parked.
pub const PARK_REASON_ATTRIBUTE: &str = "NEXUS_REPLAY_PARK_REASON";
/// Message attribute naming the queue a parked message came from.
pub const PARK_SOURCE_ATTRIBUTE: &str = "NEXUS_REPLAY_SOURCE_QUEUE";

/// Everything a drain run needs besides the ports.
#[derive(Debug, Clone)]
pub struct DrainConfig {
    pub queues: Vec<QueueRef>,
    /// Where each message goes: back onto a bus (PutEvents), or to the rule target that
    /// dead-lettered it.
    pub redrive: Redrive,
    pub to_bus: Option<String>,
    pub selection: Selection,
    pub dedup: DedupSpec,
    pub max_messages: Option<u64>,
    pub max_duration: Option<Duration>,
    pub concurrency: usize,
    /// Events per second, across all workers.
    pub rate: Option<f64>,
    pub max_redrives: u32,
    pub park_queue: Option<QueueRef>,
    /// A park queue to create (if missing) when the run starts (`park_queue = "create"`).
    pub park_create: Option<String>,
    pub dry_run: bool,
    pub size_limit: usize,
    /// Visibility timeout asked for on receive (and when extending).
    pub visibility: Duration,
    /// Long-poll wait per receive.
    pub receive_wait: Duration,
    pub run_id: String,
    /// How long an IN_PROGRESS claim protects a key.
    pub claim_for: Duration,
    pub ledger_ttl: Duration,
    /// PutEvents attempts per entry that fail for the service's sake (InternalFailure, a
    /// lost or 5xx answer).
    pub max_put_attempts: u32,
    /// PutEvents attempts per entry that are throttled; throttling also slows every
    /// pipeline down (a shared gate), so this budget is spent slowly.
    pub max_throttled_attempts: u32,
}

impl DrainConfig {
    /// Defaults for everything but the queues and run id.
    pub fn new(queues: Vec<QueueRef>, run_id: String) -> DrainConfig {
        DrainConfig {
            queues,
            redrive: Redrive::Bus,
            to_bus: None,
            selection: Selection::default(),
            dedup: DedupSpec::Default,
            max_messages: None,
            max_duration: None,
            concurrency: DEFAULT_CONCURRENCY,
            rate: None,
            max_redrives: crate::options::DEFAULT_MAX_REDRIVES,
            park_queue: None,
            park_create: None,
            dry_run: false,
            size_limit: super::pack::DEFAULT_SIZE_LIMIT,
            visibility: Duration::from_secs(120),
            receive_wait: Duration::from_secs(2),
            run_id,
            claim_for: Duration::from_secs(300),
            ledger_ttl: crate::limits::LEDGER_TTL,
            max_put_attempts: 6,
            max_throttled_attempts: 30,
        }
    }
}

/// Where a drain sends each message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Redrive {
    /// PutEvents onto the bus (`--to-bus`, else the bus of the message's `RULE_ARN`): every
    /// rule that matches receives the event again.
    #[default]
    Bus,
    /// To the one target (`TARGET_ARN`) of the rule (`RULE_ARN`) that dead-lettered the
    /// message, with the input that target is configured to receive.
    Target { invocation: InvocationType },
}

/// Pipelines per queue, chosen from docs/benchmarks.md: at 20 ms per call 32 pipelines (each
/// overlapping its receive, put and delete) reach 80-85% of what the emulator serves to 64
/// bare SDK loops, in under 40 MB; 8 reach about half, 16 about three quarters. That is up to
/// a few thousand events/s, which the targets behind the rules must absorb too: `--rate`
/// caps it, and a lower `--concurrency` trades speed for a gentler drain.
pub const DEFAULT_CONCURRENCY: usize = 32;

/// Pipelines per queue for `--to target` when `--concurrency` is not given. A target is
/// often a fragile consumer (a function with reserved concurrency, a service behind a
/// queue), so this starts lower than `DEFAULT_CONCURRENCY`: a pipeline makes one delivery
/// call at a time, so this is also the most calls in flight to the targets of one queue
/// (for a function, its concurrent invocations). Chosen from the wire bench
/// (docs/benchmarks.md, SQS target at 20 ms per call): throughput about doubles per doubling
/// up to 8 and flattens after, so 8 gets about three quarters of the best measured at a
/// quarter of the calls in flight of 32. The options layer picks it when
/// `--to target` is given without `--concurrency`; `DrainConfig::concurrency` keeps its
/// meaning.
pub const DEFAULT_TARGET_CONCURRENCY: usize = 8;

/// The steps of the per-message sequence, for crash tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    AfterClaim,
    AfterPut,
    AfterDone,
    AfterDelete,
}

/// Test seam: lets a test kill the run at a step (no cleanup, like a process death).
pub trait Hooks: Send + Sync {
    fn crash_at(&self, _step: Step) -> bool {
        false
    }
}

/// No hooks (production).
pub struct NoHooks;
impl Hooks for NoHooks {}

/// The ports a drain works through.
#[derive(Clone)]
pub struct DrainPorts {
    pub queue: Arc<dyn Queue>,
    pub sink: Arc<dyn EventSink>,
    pub ledger: Option<Arc<dyn Ledger>>,
    /// Where a dry run reads the rules of each destination bus it meets (the blast radius);
    /// without it, a dry run cannot say which rules would receive an event.
    pub rules: Option<Arc<dyn BusCatalogue>>,
    /// The calls that deliver to a rule's target (`Redrive::Target`); a target redrive
    /// needs them and `rules` (ListTargetsByRule).
    pub delivery: Option<DeliveryPorts>,
    /// The wall clock: claims are stamped and compared with it, and `--since`/`--until`
    /// select on it. Tests move a `ManualClock` instead of sleeping.
    pub clock: SharedClock,
}
