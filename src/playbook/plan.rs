//! Planning: every step resolved and checked against the account (exact windows, rules,
//! queues) before anything changes. Nothing here calls an API that writes.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::json;

use super::context::Ports;
use super::fields::{Fields, Scope};
use super::load::{Kind, Playbook, Step, Value};
use super::verify::verify_checks;
use crate::commands::drain::{DrainRequest, ParkPlan, Resolved, prepare_resolved};
use crate::discovery::{arn_name, require_bus};
use crate::drain::engine::{DrainConfig, Redrive};
use crate::error::AppError;
use crate::ports::delivery::InvocationType;
use crate::replay::archive::archive_is_auto;
use crate::replay::plan::PlanRequest;

/// One step, resolved and checked against the account (nothing changed).
#[derive(Debug, Clone, Serialize)]
pub struct StepPlan {
    pub number: usize,
    pub id: Option<String>,
    pub kind: Kind,
    pub title: Option<String>,
    /// Field values after substitution.
    pub fields: BTreeMap<String, String>,
    /// What the step will do, in exact terms (window, rules, queues, checks).
    pub details: Vec<String>,
    /// Outputs of earlier steps this one waits for (known only at run time).
    pub pending: Vec<String>,
    /// Skipped because of `--from-step`.
    pub skipped: bool,
    #[serde(skip)]
    pub(super) replay: Option<PlanRequest>,
}

/// The plan of a whole playbook.
#[derive(Debug, Clone, Serialize)]
pub struct PlaybookPlan {
    pub playbook: String,
    pub file: String,
    pub planned_at: DateTime<Utc>,
    pub params: BTreeMap<String, Value>,
    pub steps: Vec<StepPlan>,
}

pub(super) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub(super) fn replay_request(f: &mut Fields, started_by: &str) -> Result<PlanRequest, AppError> {
    let filter: crate::options::EventFilter = f.read()?;
    filter.validate()?;
    Ok(PlanRequest {
        archive: f.str("archive")?,
        bus: f.str("bus")?,
        since: f.str("since")?.unwrap_or_default(),
        until: f.str("until")?,
        event_types: filter.event_types,
        sources: filter.sources,
        rules: filter.rules,
        all_rules: f.bool("all_rules")?.unwrap_or(false),
        include_catch_all: f.bool("include_catch_all")?.unwrap_or(false),
        type_fields: filter.type_fields,
        name: f.str("name")?,
        description: f.str("description")?,
        started_by: started_by.to_string(),
    })
}

/// A drain step's request: its fields read as the `drain` flags are (serde).
pub(super) fn drain_request(f: &mut Fields) -> Result<DrainRequest, AppError> {
    f.read()
}

fn step_error(step: &Step, e: AppError) -> AppError {
    let msg = format!("step {}: {e}", step.label());
    match e {
        AppError::NotFound(_) => AppError::NotFound(msg),
        AppError::Usage(_) | AppError::Config(_) | AppError::ConfigFile(_) => AppError::Usage(msg),
        other => other,
    }
}

/// Plans every step from `from` (1-based): parameters substituted, windows made exact,
/// rules selected, queues resolved. Read-only.
pub async fn plan(
    pb: &Playbook,
    scope: &mut Scope,
    ports: &Ports,
    from: usize,
    now: DateTime<Utc>,
) -> Result<PlaybookPlan, AppError> {
    check_fields(pb, scope)?;
    let mut steps = Vec::new();
    for step in &pb.steps {
        let mut f = Fields::new(step, scope);
        let mut fields = BTreeMap::new();
        for key in step.fields.keys() {
            if let Some(v) = f.value(key).map_err(|e| step_error(step, e))? {
                fields.insert(key.clone(), v.to_string());
            }
        }
        let mut plan = StepPlan {
            number: step.number,
            id: step.id.clone(),
            kind: step.kind,
            title: step.title.clone(),
            fields,
            details: Vec::new(),
            pending: std::mem::take(&mut f.pending),
            skipped: step.number < from,
            replay: None,
        };
        if plan.skipped {
            plan.details.push(format!("skipped (--from-step {from})"));
            steps.push(plan);
            continue;
        }
        if plan.pending.is_empty() {
            let outputs = plan_step(step, scope, ports, now, &mut plan)
                .await
                .map_err(|e| step_error(step, e))?;
            if let (Some(id), Some(o)) = (&step.id, outputs) {
                scope.outputs.insert(id.clone(), o);
            }
        } else {
            plan.details.push(format!(
                "planned when it runs: it uses {}",
                plan.pending.join(", ")
            ));
        }
        steps.push(plan);
    }
    Ok(PlaybookPlan {
        playbook: pb.name.clone(),
        file: pb.file.clone(),
        planned_at: now,
        params: scope.params.clone(),
        steps,
    })
}

/// Resolves every field of every step against the parameters and reports all that do not
/// fit at once, before anything is called.
fn check_fields(pb: &Playbook, scope: &Scope) -> Result<(), AppError> {
    let mut problems = Vec::new();
    for step in &pb.steps {
        let mut f = Fields::new(step, scope);
        for key in step.fields.keys() {
            if let Err(e) = f.value(key) {
                problems.push(step_error(step, e).to_string());
            }
        }
    }
    match problems.len() {
        0 => Ok(()),
        1 => Err(AppError::Usage(problems.remove(0))),
        n => Err(AppError::Usage(format!(
            "playbook {}: {n} problems (nothing was called):\n  {}",
            pb.name,
            problems.join("\n  ")
        ))),
    }
}

/// Plans one step; answers the outputs known before it runs.
async fn plan_step(
    step: &Step,
    scope: &Scope,
    ports: &Ports,
    now: DateTime<Utc>,
    out: &mut StepPlan,
) -> Result<Option<BTreeMap<String, serde_json::Value>>, AppError> {
    let mut f = Fields::new(step, scope);
    match step.kind {
        Kind::Doctor => {
            let bus = f.str("bus")?.unwrap_or_default();
            let b = require_bus(ports.cat.as_ref(), &bus).await?;
            let allow = f.list("allow")?;
            out.details.push(format!(
                "check bus {} (allowed outcomes: {})",
                b.name,
                if allow.is_empty() {
                    "pass, warn".into()
                } else {
                    allow.join(", ")
                }
            ));
            Ok(None)
        }
        Kind::Triage => {
            let b = require_bus(ports.cat.as_ref(), &f.str("bus")?.unwrap_or_default()).await?;
            let since = f.str("since")?.unwrap_or_default();
            let w = crate::replay::window::window(&since, f.str("until")?.as_deref(), now)?;
            out.details.push(format!(
                "triage bus {} from {} to {}: delivery metrics, DLQs and archives (reads only)",
                b.name,
                crate::output::time(Some(w.start)),
                crate::output::time(Some(w.end))
            ));
            Ok(None)
        }
        Kind::Replay => {
            let req = replay_request(&mut f, &ports.started_by)?;
            let p = crate::replay::plan::plan(ports.cat.as_ref(), ports.ctl.as_ref(), &req, now)
                .await?;
            out.details.push(format!(
                "replay {} from archive {}{} to bus {}",
                p.name,
                p.archive,
                if archive_is_auto(req.archive.as_deref()) {
                    " (auto: the bus's only ENABLED archive)"
                } else {
                    ""
                },
                p.bus
            ));
            out.details.push(format!(
                "window {} .. {} ({})",
                rfc3339(p.start),
                rfc3339(p.end),
                crate::window::human_duration(p.end - p.start)
            ));
            if p.filter_arns.is_empty() {
                out.details
                    .push("rules: every rule on the bus (no FilterArns)".into());
            } else {
                let names: Vec<&str> = p.filter_arns.iter().map(|a| arn_name(a)).collect();
                out.details.push(format!("rules: {}", names.join(", ")));
            }
            for w in &p.warnings {
                out.details.push(format!("warning: {w}"));
            }
            if f.bool("wait")? != Some(false) {
                out.details.push("then wait until it ends".into());
            }
            // Run exactly what was planned and confirmed: the window and the name.
            let exact = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::AutoSi, true);
            out.replay = Some(PlanRequest {
                since: exact(p.start),
                until: Some(exact(p.end)),
                name: Some(p.name.clone()),
                ..req
            });
            Ok(Some(BTreeMap::from([
                ("name".to_string(), json!(p.name)),
                ("start".to_string(), json!(rfc3339(p.start))),
                ("end".to_string(), json!(rfc3339(p.end))),
                ("archive".to_string(), json!(p.archive)),
                ("bus".to_string(), json!(p.bus)),
            ])))
        }
        Kind::Drain => {
            let req = drain_request(&mut f)?;
            let (cfg, resolved) = prepare_resolved(
                ports.cat.as_ref(),
                ports.queue.as_ref(),
                &req,
                "plan".into(),
            )
            .await?;
            describe_drain(&cfg, &req, &resolved, out);
            Ok(None)
        }
        Kind::Reemit => {
            let req: crate::commands::reemit::ReemitRequest = f.read()?;
            req.options.validate()?;
            let n = crate::commands::dlq_export::read(&req.from)?.len();
            out.details.push(format!(
                "re-emit {n} message(s) from {}{}",
                req.from.display(),
                match req.bus {
                    Some(b) => format!(" to bus {b}"),
                    None => " to the bus of each message's rule".into(),
                }
            ));
            Ok(None)
        }
        Kind::Reconcile => {
            out.details
                .extend(super::reconcile::describe(&mut f, ports, now).await?);
            Ok(None)
        }
        Kind::Verify => {
            for c in verify_checks(&mut f, ports).await? {
                out.details.push(format!("check: {}", c.describe()));
            }
            if let Some(w) = f.dur("within")? {
                out.details.push(format!(
                    "retry failing checks for up to {}",
                    humantime::format_duration(w)
                ));
            }
            Ok(None)
        }
        Kind::Notify => {
            super::notify::plan(&mut f, ports.cat.as_ref(), out).await?;
            Ok(None)
        }
        Kind::Confirm => {
            out.details.push(format!(
                "ask: {} (skipped with --yes)",
                f.str("message")?.unwrap_or_default()
            ));
            Ok(None)
        }
    }
}

fn describe_drain(cfg: &DrainConfig, req: &DrainRequest, resolved: &Resolved, out: &mut StepPlan) {
    let names: Vec<String> = resolved
        .queues
        .iter()
        .map(|(q, rules)| match rules.as_slice() {
            [] => q.name.clone(),
            [one] => format!("{} (DLQ of rule {one})", q.name),
            many => format!("{} (DLQ of rules {})", q.name, many.join(", ")),
        })
        .collect();
    out.details.push(format!("drain {}", names.join(", ")));
    for w in &resolved.warnings {
        out.details.push(format!("warning: {w}"));
    }
    out.details.push(match (&req.to_bus, cfg.redrive) {
        (_, Redrive::Target { invocation }) => format!(
            "deliver each message only to the rule target that dead-lettered it (RULE_ARN, TARGET_ARN), with that target's input{}",
            match invocation {
                InvocationType::RequestResponse => "",
                InvocationType::Event => "; Lambda targets invoked asynchronously (Event)",
            }
        ),
        (Some(b), Redrive::Bus) => format!("re-emit to bus {b}"),
        (None, Redrive::Bus) => "re-emit to the bus of each message's RULE_ARN".into(),
    });
    let mut only = Vec::new();
    for (what, v) in [
        ("event types", &req.filter.events.event_types),
        ("sources", &req.filter.events.sources),
        ("rules", &req.filter.events.rules),
        ("error codes", &req.filter.error_codes),
    ] {
        if !v.is_empty() {
            only.push(format!("{what} {}", v.join(", ")));
        }
    }
    if let Some(a) = req.filter.min_age {
        only.push(format!("at least {} old", humantime::format_duration(a)));
    }
    if !only.is_empty() {
        out.details.push(format!("only {}", only.join("; ")));
    }
    out.details.push(match &resolved.park {
        ParkPlan::Queue(p) => format!("park poison messages in {}", p.name),
        ParkPlan::Create(p) => format!(
            "park poison messages in park queue {p} (created when the step runs if missing)"
        ),
        ParkPlan::None => {
            "no park queue: poison messages stay in their DLQ and are reported".into()
        }
    });
    if let Some(d) = req.queue.max_duration {
        out.details
            .push(format!("stop after {}", humantime::format_duration(d)));
    }
}
