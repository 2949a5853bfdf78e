//! What a playbook run talks to (its ports), who runs it (the prompts and the display), and
//! how it runs (options, the clock).

use std::path::PathBuf;
use std::sync::Arc;

use super::load::Step;
use super::record::StepRecord;
use crate::clock::SharedClock;
use crate::drain::engine::{DrainObserver, DrainPorts};
use crate::error::AppError;
use crate::interrupt::{Interrupt, Signal};
use crate::options::{DrainOptions, RedriveTo};
use crate::ports::bus::BusCatalogue;
use crate::ports::delivery::DeliveryPorts;
use crate::ports::ledger::Ledger;
use crate::ports::queue::Queue;
use crate::ports::replay::ReplayControl;
use crate::ports::sink::EventSink;
use crate::replay::journal::Journal;
use crate::replay::watch::WatchObserver;

/// Opens the ledger a step names (`None` = the default ledger).
pub type LedgerOpener =
    dyn Fn(Option<&str>) -> Result<Option<Arc<dyn Ledger>>, AppError> + Send + Sync;

/// Builds the calls that deliver to rule targets, when a step first needs them (a drain or
/// re-emit step with `to = "target"`): a playbook of bus redrives builds none.
pub type DeliveryOpener = dyn Fn() -> DeliveryPorts + Send + Sync;

/// Everything a playbook talks to.
pub struct Ports {
    pub cat: Arc<dyn BusCatalogue>,
    pub ctl: Arc<dyn ReplayControl>,
    pub queue: Arc<dyn Queue>,
    pub sink: Arc<dyn EventSink>,
    /// The temporary rule and queue of an archive export (a reconcile step's).
    pub capture: Arc<dyn crate::ports::capture::CaptureResources>,
    pub ledger: Box<LedgerOpener>,
    pub delivery: Box<DeliveryOpener>,
    /// CloudWatch metrics, for triage steps and doctor's dlq-sends check.
    pub metrics: Arc<dyn crate::ports::metrics::Metrics>,
    /// KMS key policies and IAM role trust policies, for a doctor step's delivery checks.
    pub keys: Arc<dyn crate::ports::keys::Keys>,
    pub roles: Arc<dyn crate::ports::roles::Roles>,
    pub journal: Journal,
    pub started_by: String,
}

impl Ports {
    /// The ports of a drain or re-emit step, with the ledger its `ledger` field names and,
    /// for `to = "target"`, the delivery calls (the rule catalogue reads the targets).
    pub(super) fn drain_ports(&self, options: &DrainOptions) -> Result<DrainPorts, AppError> {
        Ok(DrainPorts {
            queue: self.queue.clone(),
            sink: self.sink.clone(),
            ledger: (self.ledger)(options.ledger.as_deref())?,
            rules: Some(self.cat.clone()),
            delivery: (options.to == RedriveTo::Target).then(|| (self.delivery)()),
            clock: crate::clock::system(),
        })
    }

    /// The ports of a doctor step: every check the `doctor` command runs.
    pub(super) fn doctor_ports(&self) -> crate::commands::doctor::AllPorts<'_> {
        crate::commands::doctor::AllPorts {
            checks: crate::commands::doctor::DoctorPorts {
                cat: self.cat.as_ref(),
                queue: self.queue.as_ref(),
                keys: Some(self.keys.as_ref()),
                roles: Some(self.roles.as_ref()),
            },
            capture: self.capture.as_ref(),
            replays: self.ctl.as_ref(),
            metrics: self.metrics.as_ref(),
        }
    }
}

/// The person (or cron job) running the playbook, and the display.
pub trait Interact {
    /// Asks a yes/no question; an error when nobody can answer.
    fn confirm(&mut self, question: &str) -> Result<bool, AppError>;
    fn watch_observer(&mut self) -> Box<dyn WatchObserver>;
    fn drain_observer(&mut self) -> Arc<dyn DrainObserver>;
    /// Resolves with the signal when the user (Ctrl-C) or a scheduler (SIGTERM) interrupts.
    fn interrupt(&mut self) -> Interrupt;
    /// The signal received so far, if any: the run stops after the step in hand.
    fn signalled(&mut self) -> Option<Signal>;
    fn step_started(&mut self, step: &Step, total: usize);
    /// `human` is the step's own report.
    fn step_finished(&mut self, record: &StepRecord, human: &str);
}

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub sets: Vec<(String, String)>,
    pub yes: bool,
    /// 1-based; 1 runs everything.
    pub from_step: usize,
    /// The run to resume (default: the latest run of this playbook).
    pub resume: Option<String>,
    /// How `playbook run` was invoked for this playbook (NAME or path), for the resume hint.
    pub invoked_as: String,
    pub state_dir: PathBuf,
    pub run_id: String,
    /// The bus a `bus` parameter without a default takes (`--bus`, `NEXUS_REPLAY_BUS`, the
    /// config file).
    pub default_bus: Option<String>,
    /// Where the run record's times and the steps' "now" come from.
    pub clock: SharedClock,
}

impl Default for RunOptions {
    fn default() -> RunOptions {
        RunOptions {
            sets: Vec::new(),
            yes: false,
            from_step: 0,
            resume: None,
            invoked_as: String::new(),
            state_dir: PathBuf::new(),
            run_id: String::new(),
            default_bus: None,
            clock: crate::clock::system(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn delivery_calls_are_built_only_for_a_target_redrive() {
        let w = super::super::test_world::world(0, true);
        let built = Arc::new(AtomicUsize::new(0));
        let count = built.clone();
        let sqs = w.sqs.clone();
        let ports = Ports {
            delivery: Box::new(move || {
                count.fetch_add(1, Ordering::SeqCst);
                super::super::test_world::memory_delivery(&sqs)
            }),
            ..w.ports()
        };
        let bus = ports.drain_ports(&DrainOptions::default()).unwrap();
        assert!(bus.delivery.is_none());
        assert!(bus.rules.is_some());
        assert_eq!(built.load(Ordering::SeqCst), 0);
        let target = ports
            .drain_ports(&DrainOptions {
                to: RedriveTo::Target,
                ..DrainOptions::default()
            })
            .unwrap();
        assert!(target.delivery.is_some());
        assert!(
            target.rules.is_some(),
            "ListTargetsByRule reads the rule's targets"
        );
        assert_eq!(built.load(Ordering::SeqCst), 1);
    }
}
