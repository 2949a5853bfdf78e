//! Planning and running a playbook: parameters are resolved, every step is planned
//! (exact windows, rules, queues) before anything changes, then the steps run in order and
//! the run stops at the first failed step (only the `notify` steps after it still run, see
//! `notify`). The run record (steps, timings, outputs, exit codes, the process running it)
//! is kept in the state dir after every step, so `--from-step` can resume and
//! `playbook runs` (`history`) and `playbook report` (`incident_report`) can read it.
//!
//! A signal (Ctrl-C, SIGTERM) stops the run after the step in hand: a replay, drain or
//! re-emit step stops as its command would (a drain finishes its batch in hand), a doctor
//! or verify step is abandoned (it changes nothing), and the record says which signal.
//!
//! The parts live beside it: `fields`, `params`, `plan`, `verify`, `record`, `resume`,
//! `steps` and `run`; this module names what the rest of the crate uses.

pub use super::context::{DeliveryOpener, Interact, LedgerOpener, Ports, RunOptions};
pub use super::fields::Scope;
pub use super::params::resolve_params;
pub use super::plan::{PlaybookPlan, StepPlan, plan};
pub use super::record::{RunRecord, RunStatus, StepRecord, StepStatus, hostname, runs_dir};
pub use super::resume::prepare_run;
pub use super::run::run;
pub use super::verify::{CheckResult, VerifyReport};
pub use crate::interrupt::Interrupt;
