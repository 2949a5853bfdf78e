//! The run loop: the planned steps in order, the record saved after each, the run stopped
//! at the first failed step or after the step in hand on a signal, with the command that
//! resumes it; the notify steps after the step it stopped at still run, so that on-call
//! hears of it, without changing its exit code.

use super::context::{Interact, Ports, RunOptions};
use super::fields::Scope;
use super::load::{Kind, Playbook, Step};
use super::notify::published;
use super::plan::PlaybookPlan;
use super::record::{RunRecord, RunStatus, StepRecord, StepStatus, runs_dir};
use super::steps::{Done, execute, execute_watched};
use crate::error::AppError;
use crate::exit_codes;

/// A word for a command line to paste: as is when safe, else in single quotes.
pub(crate) fn shell_quote(s: &str) -> String {
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
        invoked_as: Some(opts.invoked_as.clone()).filter(|s| !s.is_empty()),
        params: scope.params.clone(),
        from_step: from,
        resumed_from: previous.map(|p| p.run_id.clone()),
        started_by: ports.started_by.clone(),
        pid: Some(std::process::id()),
        host: Some(super::record::hostname()),
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
    let mut stopped_at = None;
    for (step, planned) in pb
        .steps
        .iter()
        .zip(&plan.steps)
        .filter(|(s, _)| s.number >= from)
    {
        ui.step_started(step, total);
        let started_at = opts.clock.now();
        let clock = std::time::Instant::now();
        let (result, caught) =
            execute_watched(step, planned, &scope, &record, ports, ui, opts).await;
        let rec = &mut record.steps[step.number - 1];
        let human = file_result(rec, step, result, opts, started_at, clock);
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
            stopped_at = Some(step.number);
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
            stopped_at = Some(step.number);
            break;
        }
        record.save()?;
    }
    if let Some(stopped) = stopped_at {
        record.save()?;
        notify_after_stop(pb, plan, stopped, &mut record, &scope, ports, ui, opts).await?;
    }
    if record.status == RunStatus::Running {
        record.status = RunStatus::Succeeded;
    }
    record.ended_at = Some(opts.clock.now());
    record.save()?;
    Ok(record)
}

/// Files a step's result in its record; answers the step's own report text.
fn file_result(
    rec: &mut StepRecord,
    step: &Step,
    result: Result<Done, AppError>,
    opts: &RunOptions,
    started_at: chrono::DateTime<chrono::Utc>,
    clock: std::time::Instant,
) -> String {
    rec.started_at = Some(started_at);
    rec.ended_at = Some(opts.clock.now());
    rec.duration_seconds = Some((clock.elapsed().as_secs_f64() * 10.0).round() / 10.0);
    match result {
        Ok(done) => {
            rec.exit_code = Some(done.exit_code);
            rec.status = if done.exit_code != exit_codes::SUCCESS {
                StepStatus::Failed
            } else if (step.kind == Kind::Confirm && opts.yes)
                || (step.kind == Kind::Notify && !published(&done.outputs))
            {
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
    }
}

/// After a run stopped at step `stopped` (failed, declined or interrupted), runs the notify
/// steps after it, so that on-call hears of it. A signal received does not cut them short,
/// and one that fails to publish is recorded (and logged) without changing the run's exit
/// code.
#[allow(clippy::too_many_arguments)]
async fn notify_after_stop(
    pb: &Playbook,
    plan: &PlaybookPlan,
    stopped: usize,
    record: &mut RunRecord,
    scope: &Scope,
    ports: &Ports,
    ui: &mut dyn Interact,
    opts: &RunOptions,
) -> Result<(), AppError> {
    let total = pb.steps.len();
    for (step, planned) in pb
        .steps
        .iter()
        .zip(&plan.steps)
        .filter(|(s, _)| s.number > stopped && s.kind == Kind::Notify)
    {
        ui.step_started(step, total);
        let started_at = opts.clock.now();
        let clock = std::time::Instant::now();
        let result = execute(step, planned, scope, record, ports, ui, opts).await;
        let rec = &mut record.steps[step.number - 1];
        let human = file_result(rec, step, result, opts, started_at, clock);
        let rec = rec.clone();
        ui.step_finished(&rec, &human);
        record.save()?;
    }
    Ok(())
}
