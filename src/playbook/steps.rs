//! Executing one step: the command behind its kind called with the step's resolved
//! fields, its report kept and its outputs named for later steps; a signal stops it or
//! abandons it, by kind.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use serde_json::json;

use super::context::{Interact, Ports, RunOptions};
use super::fields::{Fields, Scope};
use super::load::{Kind, Step};
use super::plan::{StepPlan, drain_request, replay_request, rfc3339};
use super::record::RunRecord;
use super::verify::{run_checks, verify_checks};
use crate::commands::drain::prepare;
use crate::error::AppError;
use crate::exit_codes;
use crate::interrupt::Signal;
use crate::output::Report;
use crate::replay::watch::WatchOptions;

fn outputs_of_report<R: Serialize>(report: &R) -> serde_json::Value {
    serde_json::to_value(report).unwrap_or(serde_json::Value::Null)
}

/// The result of executing one step.
pub(super) struct Done {
    pub(super) exit_code: u8,
    pub(super) outputs: BTreeMap<String, serde_json::Value>,
    pub(super) report: Option<serde_json::Value>,
    pub(super) human: String,
    pub(super) error: Option<String>,
    /// A signal cut the step short.
    pub(super) interrupted: bool,
}

impl Done {
    fn of<R: Report + Serialize>(r: &R, outputs: BTreeMap<String, serde_json::Value>) -> Done {
        Done {
            exit_code: r.exit_code(),
            outputs,
            report: Some(outputs_of_report(r)),
            human: r.human(),
            error: None,
            interrupted: false,
        }
    }

    /// A step abandoned on a signal.
    fn abandoned(sig: Signal) -> Done {
        Done {
            exit_code: sig.exit_code(),
            outputs: BTreeMap::new(),
            report: None,
            human: String::new(),
            error: Some(format!("interrupted by {sig}")),
            interrupted: true,
        }
    }
}

/// Executes a step while watching for a signal, answering the signal caught if any. A
/// replay, drain or re-emit step stops on it by itself (the signal reaches its engine too);
/// a doctor or verify step changes nothing and is abandoned. A confirm step is a prompt:
/// there a signal ends the process, as before any step.
pub(super) async fn execute_watched(
    step: &Step,
    planned: &StepPlan,
    scope: &Scope,
    run: &RunRecord,
    ports: &Ports,
    ui: &mut dyn Interact,
    opts: &RunOptions,
) -> (Result<Done, AppError>, Option<Signal>) {
    if step.kind == Kind::Confirm {
        return (
            execute(step, planned, scope, run, ports, ui, opts).await,
            None,
        );
    }
    let stops_itself = matches!(
        step.kind,
        Kind::Replay | Kind::Drain | Kind::Reemit | Kind::Reconcile
    );
    let mut stop = ui.interrupt();
    let work = execute(step, planned, scope, run, ports, ui, opts);
    tokio::pin!(work);
    let mut caught = None;
    loop {
        tokio::select! {
            r = &mut work => return (r, caught),
            sig = &mut stop, if caught.is_none() => {
                caught = Some(sig);
                if !stops_itself {
                    return (Ok(Done::abandoned(sig)), caught);
                }
            }
        }
    }
}

fn drain_outputs(r: &crate::commands::drain::DrainReport) -> BTreeMap<String, serde_json::Value> {
    let c = &r.outcome.counts;
    BTreeMap::from([
        ("run_id".to_string(), json!(r.outcome.run_id)),
        ("received".to_string(), json!(c.received)),
        ("reemitted".to_string(), json!(c.reemitted)),
        ("duplicates".to_string(), json!(c.duplicates)),
        ("failed".to_string(), json!(c.failed)),
        ("conflicts".to_string(), json!(c.conflicts)),
        ("parked".to_string(), json!(c.parked)),
        ("deleted".to_string(), json!(c.deleted)),
        (
            "possible_duplicates".to_string(),
            json!(c.possible_duplicates),
        ),
    ])
}

/// Executes a step; `run` is the run's record as it stands (a notify step publishes it).
pub(super) async fn execute(
    step: &Step,
    planned: &StepPlan,
    scope: &Scope,
    run: &RunRecord,
    ports: &Ports,
    ui: &mut dyn Interact,
    opts: &RunOptions,
) -> Result<Done, AppError> {
    let mut f = Fields::new(step, scope);
    match step.kind {
        Kind::Doctor => {
            let bus = f.str("bus")?.unwrap_or_default();
            let allow = f.list("allow")?;
            let allow: Vec<String> = if allow.is_empty() {
                vec!["pass".into(), "warn".into()]
            } else {
                allow
            };
            let r = crate::commands::doctor::doctor(&ports.doctor_ports(), &bus, opts.clock.now())
                .await?;
            let outputs = BTreeMap::from([
                ("bus".to_string(), json!(r.bus)),
                ("pass".to_string(), json!(r.pass)),
                ("warn".to_string(), json!(r.warn)),
                ("fail".to_string(), json!(r.fail)),
            ]);
            let mut done = Done::of(&r, outputs);
            let seen = [("pass", r.pass), ("warn", r.warn), ("fail", r.fail)];
            let bad: Vec<String> = seen
                .iter()
                .filter(|(s, n)| *n > 0 && !allow.iter().any(|a| a == s))
                .map(|(s, n)| format!("{n} {}", s.to_uppercase()))
                .collect();
            done.exit_code = if bad.is_empty() {
                exit_codes::SUCCESS
            } else {
                done.error = Some(format!(
                    "doctor found {} (allowed: {})",
                    bad.join(", "),
                    allow.join(", ")
                ));
                exit_codes::PARTIAL
            };
            Ok(done)
        }
        Kind::Triage => {
            let r = crate::commands::triage::triage(
                ports.cat.as_ref(),
                ports.queue.as_ref(),
                ports.metrics.as_ref(),
                &f.str("bus")?.unwrap_or_default(),
                &f.str("since")?.unwrap_or_default(),
                f.str("until")?.as_deref(),
                opts.clock.now(),
            )
            .await?;
            Ok(Done::of(&r, crate::triage::step::outputs(&r)))
        }
        Kind::Replay => {
            let req = match &planned.replay {
                Some(r) => r.clone(),
                None => replay_request(&mut f, &ports.started_by)?,
            };
            let wait = f.bool("wait")?.unwrap_or(true);
            let w: crate::options::WaitOptions = f.read()?;
            w.validate()?;
            let start = crate::commands::start::StartOptions {
                plan: req,
                dry_run: false,
                no_wait: !wait,
                watch: WatchOptions {
                    poll: w.poll,
                    timeout: w.timeout,
                    cancel_on_interrupt: f.bool("cancel_on_interrupt")?.unwrap_or(false),
                },
            };
            let mut observer = ui.watch_observer();
            let interrupt = ui.interrupt();
            let r = crate::commands::start::start(
                ports.cat.as_ref(),
                ports.ctl.as_ref(),
                &ports.journal,
                &start,
                &mut |_| Ok(true),
                observer.as_mut(),
                interrupt,
                opts.clock.now(),
            )
            .await?;
            let outputs = BTreeMap::from([
                ("name".to_string(), json!(r.name)),
                ("arn".to_string(), json!(r.arn)),
                (
                    "state".to_string(),
                    json!(r.final_state.as_ref().map(|s| s.to_string())),
                ),
                ("start".to_string(), json!(rfc3339(r.window.start))),
                ("end".to_string(), json!(rfc3339(r.window.end))),
                ("archive".to_string(), json!(r.archive)),
                ("bus".to_string(), json!(r.bus)),
            ]);
            let mut done = Done::of(&r, outputs);
            if matches!(
                r.outcome,
                crate::commands::start::Ending::Interrupted
                    | crate::commands::start::Ending::Terminated
            ) {
                done.interrupted = true;
                done.error = Some(r.next.join("; "));
            } else if done.exit_code != exit_codes::SUCCESS {
                done.error = Some(format!(
                    "replay {} ended {:?}{}",
                    r.name,
                    r.outcome,
                    r.state_reason
                        .as_ref()
                        .map(|s| format!(": {s}"))
                        .unwrap_or_default()
                ));
            }
            Ok(done)
        }
        Kind::Drain => {
            let req = drain_request(&mut f)?;
            let run_id = format!("{}-s{}", opts.run_id, step.number);
            let cfg = prepare(ports.cat.as_ref(), ports.queue.as_ref(), &req, run_id).await?;
            let dports = ports.drain_ports(&req.options)?;
            let r = crate::commands::drain::run(cfg, dports, ui.drain_observer(), ui.interrupt())
                .await?;
            Ok(drain_done(&r))
        }
        Kind::Reemit => {
            let req: crate::commands::reemit::ReemitRequest = f.read()?;
            let cfg =
                crate::commands::reemit::config(&req, format!("{}-s{}", opts.run_id, step.number))?;
            let dports = ports.drain_ports(&req.options)?;
            let r = crate::commands::reemit::reemit(
                &req.from,
                cfg,
                dports,
                ui.drain_observer(),
                ui.interrupt(),
            )
            .await?;
            Ok(drain_done(&r))
        }
        Kind::Reconcile => {
            let run_id = format!("{}-s{}", opts.run_id, step.number);
            let (r, outputs, error) =
                super::reconcile::execute(&mut f, ports, ui, run_id, opts.clock.now()).await?;
            let mut done = Done::of(&r, outputs);
            done.exit_code = if error.is_some() {
                exit_codes::PARTIAL
            } else {
                exit_codes::SUCCESS
            };
            done.error = error;
            Ok(done)
        }
        Kind::Verify => {
            let checks = verify_checks(&mut f, ports).await?;
            let within = f.dur("within")?.unwrap_or(Duration::ZERO);
            let report = run_checks(&checks, within, ports).await?;
            let passed = report.checks.iter().filter(|c| c.ok).count();
            let outputs = BTreeMap::from([
                ("checks".to_string(), json!(report.checks.len())),
                ("passed".to_string(), json!(passed)),
            ]);
            let mut done = Done::of(&report, outputs);
            if done.exit_code != exit_codes::SUCCESS {
                let failed: Vec<String> = report
                    .checks
                    .iter()
                    .filter(|c| !c.ok)
                    .map(|c| format!("{} ({})", c.check, c.detail))
                    .collect();
                done.error = Some(format!("check failed: {}", failed.join("; ")));
            }
            Ok(done)
        }
        Kind::Notify => {
            let sns = (ports.delivery)().sns;
            super::notify::execute(&mut f, run, step.number, ports.cat.as_ref(), sns.as_ref()).await
        }
        Kind::Confirm => {
            let message = f.str("message")?.unwrap_or_default();
            if opts.yes {
                return Ok(Done {
                    exit_code: exit_codes::SUCCESS,
                    outputs: BTreeMap::new(),
                    report: None,
                    human: String::new(),
                    error: None,
                    interrupted: false,
                });
            }
            let yes = ui.confirm(&message)?;
            Ok(Done {
                exit_code: if yes {
                    exit_codes::SUCCESS
                } else {
                    exit_codes::FAILURE
                },
                outputs: BTreeMap::new(),
                report: Some(json!({ "question": message, "answer": yes })),
                human: String::new(),
                error: (!yes).then(|| "not confirmed: the run stops here".to_string()),
                interrupted: false,
            })
        }
    }
}

/// How many of the messages a drain or re-emit step could not re-emit its record keeps
/// (the first ones, with the count of the rest): a run that fails on a whole queue keeps a
/// record of a readable size, and the incident report lists what it keeps.
pub(super) const FAILURES_KEPT: usize = 200;

/// Cuts a drain report's `failures` to [`FAILURES_KEPT`], counting the rest in
/// `failures_not_kept`.
fn bound_failures(report: &mut serde_json::Value) {
    let Some(all) = report.get_mut("failures").and_then(|f| f.as_array_mut()) else {
        return;
    };
    let cut = all.len().saturating_sub(FAILURES_KEPT);
    all.truncate(FAILURES_KEPT);
    if cut > 0 {
        report["failures_not_kept"] = json!(cut);
    }
}

fn drain_done(r: &crate::commands::drain::DrainReport) -> Done {
    let mut done = Done::of(r, drain_outputs(r));
    if let Some(report) = done.report.as_mut() {
        bound_failures(report);
    }
    let c = &r.outcome.counts;
    if let Some(sig) = r.outcome.signal {
        done.interrupted = true;
        done.error = Some(format!(
            "interrupted by {sig}: the PutEvents calls already sent were finished, the rest released"
        ));
    } else if done.exit_code != exit_codes::SUCCESS {
        done.error = Some(if c.failed > 0 || c.parked > 0 {
            format!(
                "{} message(s) failed, {} were parked and {} conflict with a key already re-emitted (see the step report)",
                c.failed, c.parked, c.conflicts
            )
        } else {
            r.outcome.stopped_because.clone()
        });
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drain_record_keeps_the_first_failures_and_counts_the_rest() {
        let failure = |i: usize| json!({"queue": "q", "message_id": format!("m-{i}")});
        let mut report = json!({
            "failures": (0..FAILURES_KEPT + 7).map(failure).collect::<Vec<_>>()
        });
        bound_failures(&mut report);
        let kept = report["failures"].as_array().unwrap();
        assert_eq!(kept.len(), FAILURES_KEPT);
        assert_eq!(kept[0]["message_id"], "m-0");
        assert_eq!(report["failures_not_kept"], 7);
        let mut small = json!({"failures": [failure(0)]});
        bound_failures(&mut small);
        assert_eq!(small["failures"].as_array().unwrap().len(), 1);
        assert!(small.get("failures_not_kept").is_none());
    }
}
