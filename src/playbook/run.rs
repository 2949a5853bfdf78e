//! The run loop: the planned steps in order, the record saved after each, the run stopped
//! at the first failed step or after the step in hand on a signal, with the command that
//! resumes it.

use std::path::PathBuf;
use std::sync::Arc;

use super::fields::Scope;
use super::load::{Kind, Playbook, Step};
use super::plan::PlaybookPlan;
use super::record::{RunRecord, RunStatus, StepRecord, StepStatus, runs_dir};
use super::steps::execute_watched;
use crate::clock::SharedClock;
use crate::drain::engine::{DrainObserver, DrainPorts};
use crate::error::AppError;
use crate::exit_codes;
use crate::interrupt::Interrupt;
use crate::interrupt::Signal;
use crate::ports::bus::BusCatalogue;
use crate::ports::ledger::Ledger;
use crate::ports::queue::Queue;
use crate::ports::replay::ReplayControl;
use crate::ports::sink::EventSink;
use crate::replay::journal::Journal;
use crate::replay::watch::WatchObserver;

/// Opens the ledger a step names (`None` = the default ledger).
pub type LedgerOpener =
    dyn Fn(Option<&str>) -> Result<Option<Arc<dyn Ledger>>, AppError> + Send + Sync;

/// Everything a playbook talks to.
pub struct Ports {
    pub cat: Arc<dyn BusCatalogue>,
    pub ctl: Arc<dyn ReplayControl>,
    pub queue: Arc<dyn Queue>,
    pub sink: Arc<dyn EventSink>,
    pub ledger: Box<LedgerOpener>,
    pub journal: Journal,
    pub started_by: String,
}

impl Ports {
    /// The ports of a drain or re-emit step, with the ledger its `ledger` field names.
    pub(super) fn drain_ports(&self, ledger: Option<&str>) -> Result<DrainPorts, AppError> {
        Ok(DrainPorts {
            queue: self.queue.clone(),
            sink: self.sink.clone(),
            ledger: (self.ledger)(ledger)?,
            rules: Some(self.cat.clone()),
        })
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
            clock: crate::clock::system(),
        }
    }
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Runs the steps of a planned playbook, recording after each.
pub async fn run(
    pb: &Playbook,
    plan: &PlaybookPlan,
    mut scope: Scope,
    previous: Option<&RunRecord>,
    ports: &Ports,
    ui: &mut dyn Interact,
    opts: &RunOptions,
) -> Result<RunRecord, AppError> {
    let from = opts.from_step.max(1);
    let mut record = RunRecord {
        run_id: opts.run_id.clone(),
        playbook: pb.name.clone(),
        file: pb.file.clone(),
        params: scope.params.clone(),
        from_step: from,
        resumed_from: previous.map(|p| p.run_id.clone()),
        started_by: ports.started_by.clone(),
        started_at: opts.clock.now(),
        ended_at: None,
        status: RunStatus::Running,
        exit_code: exit_codes::SUCCESS,
        failed_step: None,
        message: None,
        resume: None,
        steps: pb
            .steps
            .iter()
            .map(|s| StepRecord {
                number: s.number,
                id: s.id.clone(),
                kind: s.kind.name().into(),
                title: s.title.clone(),
                status: if s.number < from {
                    StepStatus::Resumed
                } else {
                    StepStatus::NotRun
                },
                started_at: None,
                ended_at: None,
                duration_seconds: None,
                exit_code: None,
                outputs: s
                    .id
                    .as_ref()
                    .filter(|_| s.number < from)
                    .and_then(|id| scope.outputs.get(id).cloned())
                    .unwrap_or_default(),
                error: None,
                report: None,
            })
            .collect(),
        path: runs_dir(&opts.state_dir).join(format!("{}.json", opts.run_id)),
    };
    record.save()?;
    let total = pb.steps.len();
    for (step, planned) in pb
        .steps
        .iter()
        .zip(&plan.steps)
        .filter(|(s, _)| s.number >= from)
    {
        ui.step_started(step, total);
        let started_at = opts.clock.now();
        let clock = std::time::Instant::now();
        let (result, caught) = execute_watched(step, planned, &scope, ports, ui, opts).await;
        let rec = &mut record.steps[step.number - 1];
        rec.started_at = Some(started_at);
        rec.ended_at = Some(opts.clock.now());
        rec.duration_seconds = Some((clock.elapsed().as_secs_f64() * 10.0).round() / 10.0);
        let human = match result {
            Ok(done) => {
                rec.exit_code = Some(done.exit_code);
                rec.status = if done.exit_code != exit_codes::SUCCESS {
                    StepStatus::Failed
                } else if step.kind == Kind::Confirm && opts.yes {
                    StepStatus::Skipped
                } else {
                    StepStatus::Ok
                };
                if done.interrupted {
                    rec.status = StepStatus::Interrupted;
                }
                rec.outputs = done.outputs;
                rec.report = done.report;
                rec.error = done.error;
                done.human
            }
            Err(e) => {
                rec.exit_code = Some(e.exit_code());
                rec.status = StepStatus::Failed;
                rec.error = Some(e.with_hint());
                String::new()
            }
        };
        if let Some(id) = &step.id {
            scope.outputs.insert(id.clone(), rec.outputs.clone());
        }
        let rec = rec.clone();
        ui.step_finished(&rec, &human);
        if rec.status == StepStatus::Failed {
            let code = rec.exit_code.unwrap_or(exit_codes::FAILURE);
            record.status = if step.kind == Kind::Confirm {
                RunStatus::Declined
            } else {
                RunStatus::Failed
            };
            record.exit_code = code;
            record.failed_step = Some(step.number);
            record.message = Some(format!(
                "step {} failed: {}",
                step.label(),
                rec.error.clone().unwrap_or_default()
            ));
            let mut resume = format!(
                "nexus-replay playbook run {} --from-step {} --resume {}",
                shell_quote(&opts.invoked_as),
                step.number,
                record.run_id
            );
            if opts.yes {
                resume.push_str(" --yes");
            }
            record.resume = Some(resume);
            break;
        }
        let signal = caught.or_else(|| ui.signalled());
        let last = step.number == total;
        if let Some(sig) = signal
            && (rec.status == StepStatus::Interrupted || !last)
        {
            let cut_short = rec.status == StepStatus::Interrupted;
            record.status = RunStatus::Interrupted;
            record.exit_code = sig.exit_code();
            record.failed_step = cut_short.then_some(step.number);
            record.message = Some(if cut_short {
                format!("interrupted by {sig} during step {}", step.label())
            } else {
                format!(
                    "stopped by {sig} after step {}; the steps after it did not run",
                    step.label()
                )
            });
            let mut resume = format!(
                "nexus-replay playbook run {} --from-step {} --resume {}",
                shell_quote(&opts.invoked_as),
                if cut_short {
                    step.number
                } else {
                    step.number + 1
                },
                record.run_id
            );
            if opts.yes {
                resume.push_str(" --yes");
            }
            record.resume = Some(resume);
            break;
        }
        record.save()?;
    }
    if record.status == RunStatus::Running {
        record.status = RunStatus::Succeeded;
    }
    record.ended_at = Some(opts.clock.now());
    record.save()?;
    Ok(record)
}
