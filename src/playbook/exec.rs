//! Planning and running a playbook: parameters are resolved, every step is planned
//! (exact windows, rules, queues) before anything changes, then the steps run in order and
//! the run stops at the first failed step. The run record (steps, timings, outputs, exit
//! codes) is kept in the state dir after every step, so `--from-step` can resume.
//!
//! A signal (Ctrl-C, SIGTERM) stops the run after the step in hand: a replay, drain or
//! re-emit step stops as its command would (a drain finishes its batch in hand), a doctor
//! or verify step is abandoned (it changes nothing), and the record says which signal.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::load::{Kind, Playbook, Step, Ty, Value, split_list};
use super::template::{self, Ref};
use crate::commands::drain::{DrainRequest, prepare};
use crate::discovery::{arn_name, dlqs_of, require_bus};
use crate::drain::engine::{DrainConfig, DrainObserver, DrainPorts};
use crate::drain::event::{DedupSpec, META_FIELD, dedup_key, parse as parse_event};
use crate::error::AppError;
use crate::exit_codes;
pub use crate::interrupt::Interrupt;
use crate::interrupt::Signal;
use crate::output::Report;
use crate::ports::bus::BusCatalogue;
use crate::ports::ledger::Ledger;
use crate::ports::queue::Queue;
use crate::ports::replay::{ReplayControl, ReplayState};
use crate::ports::sink::EventSink;
use crate::replay::journal::Journal;
use crate::replay::plan::PlanRequest;
use crate::replay::watch::{WatchObserver, WatchOptions};

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
    fn drain_ports(&self, ledger: Option<&str>) -> Result<DrainPorts, AppError> {
        Ok(DrainPorts {
            queue: self.queue.clone(),
            sink: self.sink.clone(),
            ledger: (self.ledger)(ledger)?,
            rules: Some(self.cat.clone()),
            clock: crate::clock::system(),
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

/// What the steps may reference: parameters and earlier outputs.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub params: BTreeMap<String, Value>,
    pub outputs: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
}

fn text_of(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Resolves one step's fields against a scope.
struct Fields<'a> {
    step: &'a Step,
    scope: &'a Scope,
    /// References to outputs not known yet (planning only).
    pending: Vec<String>,
}

impl<'a> Fields<'a> {
    fn new(step: &'a Step, scope: &'a Scope) -> Fields<'a> {
        Fields {
            step,
            scope,
            pending: Vec::new(),
        }
    }

    /// A field's problem. The step is named by whoever reports it (`step_error` when
    /// planning, the run record when running), so it is not named here again.
    fn bad(&self, key: &str, msg: impl std::fmt::Display) -> AppError {
        AppError::Usage(format!("`{key}`: {msg}"))
    }

    fn render(&mut self, s: &str) -> Result<String, AppError> {
        let scope = self.scope;
        let pending = &mut self.pending;
        template::render(s, &mut |r| match r {
            Ref::Param(p) => Ok(scope
                .params
                .get(p)
                .map(|v| v.to_string())
                .unwrap_or_default()),
            Ref::Output { step, field } => match scope.outputs.get(step).and_then(|o| o.get(field))
            {
                Some(v) => Ok(text_of(v)),
                None => {
                    pending.push(r.to_string());
                    Ok(format!("<steps.{step}.{field}>"))
                }
            },
        })
        .map_err(AppError::Usage)
    }

    /// The field as a typed value, references substituted, within the field's range (a
    /// `--set` value can be out of it).
    fn value(&mut self, key: &str) -> Result<Option<Value>, AppError> {
        let v = self.typed(key)?;
        if let Some(v) = &v {
            super::ranges::check(key, v).map_err(|e| AppError::Usage(e.message))?;
        }
        Ok(v)
    }

    fn typed(&mut self, key: &str) -> Result<Option<Value>, AppError> {
        let Some(field) = self.step.fields.get(key) else {
            return Ok(None);
        };
        let ty = self.step.kind.field_type(key).unwrap_or(Ty::String);
        let s = match &field.value {
            Value::List(items) => {
                let mut out = Vec::new();
                for i in items {
                    match template::whole(i) {
                        Some(Ref::Param(p))
                            if matches!(self.scope.params.get(&p), Some(Value::List(_))) =>
                        {
                            if let Some(Value::List(l)) = self.scope.params.get(&p) {
                                out.extend(l.iter().cloned());
                            }
                        }
                        _ => out.push(self.render(i)?),
                    }
                }
                return Ok(Some(Value::List(out)));
            }
            Value::Str(s) => s,
            other => return Ok(Some(other.clone())),
        };
        if let Some(Ref::Param(p)) = template::whole(s)
            && let Some(v) = self.scope.params.get(&p)
            && !matches!(v, Value::Str(_))
        {
            return Ok(Some(match (ty, v) {
                (Ty::Number, Value::Int(i)) => Value::Number(*i as f64),
                (_, v) => v.clone(),
            }));
        }
        let text = self.render(s)?;
        if !self.pending.is_empty() {
            return Ok(Some(Value::Str(text)));
        }
        Ok(Some(match ty {
            Ty::List => Value::List(split_list(&text)),
            Ty::Bool => match text.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => return Err(self.bad(key, format!("{text:?} is not true or false"))),
            },
            Ty::Int => Value::Int(
                text.parse()
                    .map_err(|_| self.bad(key, format!("{text:?} is not a whole number")))?,
            ),
            Ty::Number => Value::Number(
                text.parse()
                    .map_err(|_| self.bad(key, format!("{text:?} is not a number")))?,
            ),
            Ty::Duration => {
                crate::window::parse_duration(key, &text).map_err(|e| self.bad(key, e))?;
                Value::Str(text)
            }
            Ty::When => {
                crate::window::parse_when(key, &text, Utc::now()).map_err(|e| self.bad(key, e))?;
                Value::Str(text)
            }
            Ty::String => Value::Str(text),
        }))
    }

    fn str(&mut self, key: &str) -> Result<Option<String>, AppError> {
        Ok(self
            .value(key)?
            .map(|v| v.to_string())
            .filter(|s| !s.is_empty()))
    }

    fn list(&mut self, key: &str) -> Result<Vec<String>, AppError> {
        Ok(match self.value(key)? {
            Some(Value::List(l)) => l,
            Some(v) => split_list(&v.to_string()),
            None => Vec::new(),
        })
    }

    fn bool(&mut self, key: &str) -> Result<Option<bool>, AppError> {
        Ok(match self.value(key)? {
            Some(Value::Bool(b)) => Some(b),
            _ => None,
        })
    }

    fn int(&mut self, key: &str) -> Result<Option<u64>, AppError> {
        match self.value(key)? {
            Some(Value::Int(i)) if i >= 0 => Ok(Some(i as u64)),
            Some(Value::Int(i)) => Err(self.bad(key, format!("{i} is negative"))),
            _ => Ok(None),
        }
    }

    fn num(&mut self, key: &str) -> Result<Option<f64>, AppError> {
        Ok(match self.value(key)? {
            Some(Value::Number(n)) => Some(n),
            Some(Value::Int(i)) => Some(i as f64),
            _ => None,
        })
    }

    fn dur(&mut self, key: &str) -> Result<Option<Duration>, AppError> {
        match self.str(key)? {
            Some(s) if self.pending.is_empty() => crate::window::parse_duration(key, &s)
                .map(Some)
                .map_err(|e| self.bad(key, e)),
            _ => Ok(None),
        }
    }
}

/// Reads `--set k=v` values against the declared parameters; `base` fills what is not set
/// (a resumed run's parameters), then defaults.
pub fn resolve_params(
    pb: &Playbook,
    sets: &[(String, String)],
    base: Option<&BTreeMap<String, Value>>,
) -> Result<BTreeMap<String, Value>, AppError> {
    let mut out = BTreeMap::new();
    for (k, v) in sets {
        let Some(p) = pb.param(k) else {
            let names: Vec<&str> = pb.params.iter().map(|p| p.name.as_str()).collect();
            return Err(AppError::usage(format!(
                "--set {k}=...: playbook {} has no parameter `{k}`; its parameters: {}",
                pb.name,
                if names.is_empty() {
                    "(none)".into()
                } else {
                    names.join(", ")
                }
            )));
        };
        let bad = |what: &str| {
            AppError::usage(format!(
                "--set {k}={v:?}: `{k}` is a {} ({what}); {}",
                p.ty.name(),
                p.help
            ))
        };
        let val = match p.ty {
            Ty::List => Value::List(split_list(v)),
            Ty::Bool => match v.as_str() {
                "true" | "yes" => Value::Bool(true),
                "false" | "no" => Value::Bool(false),
                _ => return Err(bad("write true or false")),
            },
            Ty::Int => Value::Int(v.parse().map_err(|_| bad("write a whole number"))?),
            Ty::Number => Value::Number(v.parse().map_err(|_| bad("write a number"))?),
            Ty::Duration => {
                crate::window::parse_duration(k, v)
                    .map_err(|e| AppError::Usage(format!("--set {e}")))?;
                Value::Str(v.clone())
            }
            Ty::When => {
                crate::window::parse_when(k, v, Utc::now())
                    .map_err(|e| AppError::Usage(format!("--set: {e}")))?;
                Value::Str(v.clone())
            }
            Ty::String => Value::Str(v.clone()),
        };
        out.insert(k.clone(), val);
    }
    for p in &pb.params {
        if out.contains_key(&p.name) {
            continue;
        }
        if let Some(v) = base.and_then(|b| b.get(&p.name)) {
            out.insert(p.name.clone(), v.clone());
        } else if let Some(d) = &p.default {
            out.insert(p.name.clone(), d.clone());
        } else {
            return Err(AppError::usage(format!(
                "playbook {} needs parameter `{}` ({}): pass --set {}=VALUE",
                pb.name, p.name, p.help, p.name
            )));
        }
    }
    Ok(out)
}

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
    replay: Option<PlanRequest>,
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

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn replay_request(f: &mut Fields, started_by: &str) -> Result<PlanRequest, AppError> {
    Ok(PlanRequest {
        archive: f.str("archive")?,
        bus: f.str("bus")?,
        since: f.str("since")?.unwrap_or_default(),
        until: f.str("until")?,
        event_types: f.list("event_types")?,
        sources: f.list("sources")?,
        rules: f.list("rules")?,
        all_rules: f.bool("all_rules")?.unwrap_or(false),
        include_catch_all: f.bool("include_catch_all")?.unwrap_or(false),
        type_fields: f.list("type_fields")?,
        name: f.str("name")?,
        description: f.str("description")?,
        started_by: started_by.to_string(),
    })
}

fn drain_request(f: &mut Fields) -> Result<DrainRequest, AppError> {
    Ok(DrainRequest {
        queues: f.list("queues")?,
        bus: f.str("bus")?,
        to_bus: f.str("to_bus")?,
        event_types: f.list("event_types")?,
        sources: f.list("sources")?,
        rules: f.list("rules")?,
        error_codes: f.list("error_codes")?,
        pattern: f.str("pattern")?,
        min_age: f.dur("min_age")?,
        type_fields: f.list("type_fields")?,
        max_messages: f.int("max_messages")?,
        max_duration: f.dur("max_duration")?,
        concurrency: f.int("concurrency")?.map(|c| c as usize),
        rate: f.num("rate")?,
        dedup_key: f.str("dedup_key")?,
        max_redrives: f.int("max_redrives")?.map(|n| n as u32).unwrap_or(3),
        park_queue: f.str("park_queue")?,
        dry_run: false,
        size_limit: f.int("size_limit")?.map(|n| n as usize),
        visibility: f.dur("visibility_timeout")?,
        receive_wait: f.dur("receive_wait")?,
        claim_timeout: f.dur("claim_timeout")?,
    })
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
        Kind::Replay => {
            let req = replay_request(&mut f, &ports.started_by)?;
            let p = crate::replay::plan::plan(ports.cat.as_ref(), ports.ctl.as_ref(), &req, now)
                .await?;
            out.details.push(format!(
                "replay {} from archive {} to bus {}",
                p.name, p.archive, p.bus
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
            let cfg = prepare(
                ports.cat.as_ref(),
                ports.queue.as_ref(),
                &req,
                "plan".into(),
            )
            .await?;
            describe_drain(&cfg, &req, out);
            Ok(None)
        }
        Kind::Reemit => {
            let from = PathBuf::from(f.str("from")?.unwrap_or_default());
            let n = crate::commands::dlq_export::read(&from)?.len();
            out.details.push(format!(
                "re-emit {n} message(s) from {}{}",
                from.display(),
                match f.str("bus")? {
                    Some(b) => format!(" to bus {b}"),
                    None => " to the bus of each message's rule".into(),
                }
            ));
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
        Kind::Confirm => {
            out.details.push(format!(
                "ask: {} (skipped with --yes)",
                f.str("message")?.unwrap_or_default()
            ));
            Ok(None)
        }
    }
}

fn describe_drain(cfg: &DrainConfig, req: &DrainRequest, out: &mut StepPlan) {
    let names: Vec<&str> = cfg.queues.iter().map(|q| q.name.as_str()).collect();
    out.details.push(format!("drain {}", names.join(", ")));
    out.details.push(match &req.to_bus {
        Some(b) => format!("re-emit to bus {b}"),
        None => "re-emit to the bus of each message's RULE_ARN".into(),
    });
    let mut only = Vec::new();
    for (what, v) in [
        ("event types", &req.event_types),
        ("sources", &req.sources),
        ("rules", &req.rules),
        ("error codes", &req.error_codes),
    ] {
        if !v.is_empty() {
            only.push(format!("{what} {}", v.join(", ")));
        }
    }
    if let Some(a) = req.min_age {
        only.push(format!("at least {} old", humantime::format_duration(a)));
    }
    if !only.is_empty() {
        out.details.push(format!("only {}", only.join("; ")));
    }
    if let Some(p) = &cfg.park_queue {
        out.details
            .push(format!("park poison messages in {}", p.name));
    }
    if let Some(d) = req.max_duration {
        out.details
            .push(format!("stop after {}", humantime::format_duration(d)));
    }
}

/// A verify check, resolved.
#[derive(Debug, Clone)]
enum Check {
    QueueEmpty {
        name: String,
        url: String,
    },
    ReplayCompleted(String),
    UniqueKeys {
        name: String,
        url: String,
        key: DedupSpec,
        key_text: String,
        reemitted_by: Option<String>,
        max: usize,
    },
}

impl Check {
    fn describe(&self) -> String {
        match self {
            Check::QueueEmpty { name, .. } => format!("queue {name} is empty"),
            Check::ReplayCompleted(n) => format!("replay {n} is COMPLETED"),
            Check::UniqueKeys {
                name,
                key_text,
                reemitted_by,
                ..
            } => format!(
                "each {key_text} appears at most once in {name}{}",
                reemitted_by
                    .as_ref()
                    .map(|r| format!(" among events re-emitted by {r}"))
                    .unwrap_or_default()
            ),
        }
    }
}

async fn verify_checks(f: &mut Fields<'_>, ports: &Ports) -> Result<Vec<Check>, AppError> {
    let q = ports.queue.as_ref();
    let resolve = |name: String| async move {
        q.resolve(&name).await.map_err(|e| {
            crate::error::not_found_as(e, || {
                format!("queue {name:?} does not exist in this account and region")
            })
        })
    };
    let mut checks = Vec::new();
    for name in f.list("queues_empty")? {
        let r = resolve(name).await?;
        checks.push(Check::QueueEmpty {
            name: r.name,
            url: r.url,
        });
    }
    if let Some(bus) = f.str("bus_dlqs_empty")? {
        let b = require_bus(ports.cat.as_ref(), &bus).await?;
        let rules = ports.cat.list_rules(&b.name).await?;
        for d in dlqs_of(&rules) {
            let r = resolve(d.arn).await?;
            checks.push(Check::QueueEmpty {
                name: r.name,
                url: r.url,
            });
        }
    }
    if let Some(n) = f.str("replay_completed")? {
        checks.push(Check::ReplayCompleted(n));
    }
    if let Some(name) = f.str("unique_keys_in")? {
        let r = resolve(name).await?;
        let key_text = f.str("unique_key")?.unwrap_or_else(|| "dedup key".into());
        let key = match f.str("unique_key")? {
            Some(k) => DedupSpec::parse(&k).map_err(AppError::Usage)?,
            None => DedupSpec::Default,
        };
        checks.push(Check::UniqueKeys {
            name: r.name,
            url: r.url,
            key,
            key_text,
            reemitted_by: f.str("reemitted_by")?,
            max: f.int("max_messages")?.unwrap_or(10_000) as usize,
        });
    }
    Ok(checks)
}

/// A verify check's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub check: String,
    pub ok: bool,
    pub detail: String,
}

async fn run_check(c: &Check, ports: &Ports) -> Result<CheckResult, AppError> {
    let (ok, detail) = match c {
        Check::QueueEmpty { url, .. } => {
            let d = ports.queue.depth(url).await?;
            (
                d.visible + d.in_flight + d.delayed == 0,
                format!(
                    "~{} visible, ~{} in flight, ~{} delayed",
                    d.visible, d.in_flight, d.delayed
                ),
            )
        }
        Check::ReplayCompleted(name) => {
            let s = crate::commands::status::describe(ports.ctl.as_ref(), name).await?;
            (
                s.state == ReplayState::Completed,
                match &s.state_reason {
                    Some(r) => format!("{}: {r}", s.state),
                    None => s.state.to_string(),
                },
            )
        }
        Check::UniqueKeys {
            url,
            key,
            reemitted_by,
            max,
            ..
        } => {
            let msgs = crate::drain::browse::browse(ports.queue.as_ref(), url, *max).await?;
            let mut counts: BTreeMap<String, u32> = BTreeMap::new();
            let mut unreadable = 0;
            for m in &msgs {
                let Ok(env) = parse_event(&m.body) else {
                    unreadable += 1;
                    continue;
                };
                if let Some(run) = reemitted_by {
                    let by = env
                        .meta
                        .as_ref()
                        .and_then(|m| m.get("run_id"))
                        .and_then(|r| r.as_str());
                    if by != Some(run.as_str()) {
                        continue;
                    }
                }
                match dedup_key(&env, key) {
                    Ok(k) => *counts.entry(k).or_default() += 1,
                    Err(_) => unreadable += 1,
                }
            }
            let dups: Vec<String> = counts
                .iter()
                .filter(|(_, n)| **n > 1)
                .map(|(k, n)| format!("{k} x{n}"))
                .collect();
            let mut detail = format!(
                "{} message(s) read, {} key(s), {} seen more than once",
                msgs.len(),
                counts.len(),
                dups.len()
            );
            if unreadable > 0 {
                detail.push_str(&format!(
                    ", {unreadable} without a key ({META_FIELD} events only count when readable)"
                ));
            }
            if !dups.is_empty() {
                let shown: Vec<&str> = dups.iter().take(5).map(String::as_str).collect();
                detail.push_str(&format!(": {}", shown.join(", ")));
            }
            (dups.is_empty(), detail)
        }
    };
    Ok(CheckResult {
        check: c.describe(),
        ok,
        detail,
    })
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Ok,
    Failed,
    /// Cut short by a signal (Ctrl-C, SIGTERM).
    Interrupted,
    /// A confirm step under --yes.
    Skipped,
    /// Before --from-step; its outputs came from the resumed run.
    Resumed,
    NotRun,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepRecord {
    pub number: usize,
    pub id: Option<String>,
    pub kind: String,
    pub title: Option<String>,
    pub status: StepStatus,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_seconds: Option<f64>,
    pub exit_code: Option<u8>,
    #[serde(default)]
    pub outputs: BTreeMap<String, serde_json::Value>,
    pub error: Option<String>,
    /// The step's own report (as its command prints with --output json).
    pub report: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Succeeded,
    Failed,
    Declined,
    /// Stopped by a signal (Ctrl-C, SIGTERM); `message` says which and where.
    Interrupted,
}

/// A playbook run, as written to the state dir.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    pub run_id: String,
    pub playbook: String,
    pub file: String,
    pub params: BTreeMap<String, Value>,
    pub from_step: usize,
    /// The run whose outputs were reused for steps before `from_step`.
    pub resumed_from: Option<String>,
    pub started_by: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub status: RunStatus,
    pub exit_code: u8,
    pub failed_step: Option<usize>,
    pub message: Option<String>,
    /// The command that resumes a failed run.
    pub resume: Option<String>,
    pub steps: Vec<StepRecord>,
    #[serde(skip)]
    pub path: PathBuf,
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        Ok(match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) => Value::Str(s),
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Number(n.as_f64().unwrap_or_default()),
            },
            serde_json::Value::Array(a) => Value::List(a.iter().map(text_of).collect()),
            other => Value::Str(other.to_string()),
        })
    }
}

/// The folder of run records.
pub fn runs_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("playbook-runs")
}

impl RunRecord {
    /// Writes the record atomically (temp file, then rename).
    pub fn save(&self) -> Result<(), AppError> {
        let io = |e: std::io::Error| {
            AppError::Io(format!(
                "cannot write the run record {}: {e}",
                self.path.display()
            ))
        };
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let tmp = self.path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(self).map_err(|e| AppError::Io(e.to_string()))?;
        std::fs::write(&tmp, text).map_err(io)?;
        std::fs::rename(&tmp, &self.path).map_err(io)
    }

    /// A run record by id, or the latest of a playbook.
    pub fn find(
        state_dir: &Path,
        playbook: &str,
        run_id: Option<&str>,
    ) -> Result<Option<RunRecord>, AppError> {
        let dir = runs_dir(state_dir);
        let mut found: Option<RunRecord> = None;
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(None);
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.extension().is_none_or(|x| x != "json") {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let Ok(mut r) = serde_json::from_str::<RunRecord>(&text) else {
                tracing::warn!("skipping unreadable run record {}", path.display());
                continue;
            };
            r.path = path;
            let wanted = match run_id {
                Some(id) => r.run_id == id,
                None => r.playbook == playbook,
            };
            if wanted && found.as_ref().is_none_or(|f| f.started_at < r.started_at) {
                found = Some(r);
            }
        }
        if found.is_none()
            && let Some(id) = run_id
        {
            return Err(AppError::NotFound(format!(
                "no run record {id} in {}",
                dir.display()
            )));
        }
        Ok(found)
    }
}

/// How to run.
#[derive(Debug, Clone, Default)]
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
}

/// The scope and record a run starts from: parameters (resumed ones reused), outputs of the
/// steps before `from_step`.
pub fn prepare_run(
    pb: &Playbook,
    opts: &RunOptions,
) -> Result<(Scope, Option<RunRecord>), AppError> {
    let from = opts.from_step.max(1);
    if from > pb.steps.len() {
        return Err(AppError::usage(format!(
            "--from-step {from}: playbook {} has {} steps",
            pb.name,
            pb.steps.len()
        )));
    }
    let previous = if from > 1 || opts.resume.is_some() {
        RunRecord::find(&opts.state_dir, &pb.name, opts.resume.as_deref())?
    } else {
        None
    };
    if let Some(p) = &previous
        && p.playbook != pb.name
    {
        return Err(AppError::usage(format!(
            "run {} is of playbook {}, not {}",
            p.run_id, p.playbook, pb.name
        )));
    }
    let params = resolve_params(pb, &opts.sets, previous.as_ref().map(|p| &p.params))?;
    let mut scope = Scope {
        params,
        outputs: BTreeMap::new(),
    };
    for s in pb.steps.iter().filter(|s| s.number < from) {
        if let (Some(id), Some(rec)) = (
            &s.id,
            previous
                .as_ref()
                .and_then(|p| p.steps.iter().find(|r| r.number == s.number)),
        ) && !rec.outputs.is_empty()
        {
            scope.outputs.insert(id.clone(), rec.outputs.clone());
        }
    }
    // Steps that run must not wait for outputs nobody will produce.
    for s in pb.steps.iter().filter(|s| s.number >= from) {
        for f in s.fields.values() {
            for r in f
                .value
                .strings()
                .into_iter()
                .flat_map(|x| template::refs(x).unwrap_or_default())
            {
                if let Ref::Output { step, field } = &r
                    && let Some(src) = pb.steps.iter().find(|x| x.id.as_deref() == Some(step))
                    && src.number < from
                    && !scope
                        .outputs
                        .get(step)
                        .is_some_and(|o| o.contains_key(field))
                {
                    return Err(AppError::usage(format!(
                        "step {} uses {r} from step {}, which --from-step {from} skips, and {}; run with --from-step {} or earlier",
                        s.label(),
                        src.number,
                        match &previous {
                            Some(p) => format!("run {} did not record it", p.run_id),
                            None => format!("no earlier run of {} is recorded", pb.name),
                        },
                        src.number
                    )));
                }
            }
        }
    }
    Ok((scope, previous))
}

fn outputs_of_report<R: Serialize>(report: &R) -> serde_json::Value {
    serde_json::to_value(report).unwrap_or(serde_json::Value::Null)
}

/// The result of executing one step.
struct Done {
    exit_code: u8,
    outputs: BTreeMap<String, serde_json::Value>,
    report: Option<serde_json::Value>,
    human: String,
    error: Option<String>,
    /// A signal cut the step short.
    interrupted: bool,
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
async fn execute_watched(
    step: &Step,
    planned: &StepPlan,
    scope: &Scope,
    ports: &Ports,
    ui: &mut dyn Interact,
    opts: &RunOptions,
) -> (Result<Done, AppError>, Option<Signal>) {
    if step.kind == Kind::Confirm {
        return (execute(step, planned, scope, ports, ui, opts).await, None);
    }
    let stops_itself = matches!(step.kind, Kind::Replay | Kind::Drain | Kind::Reemit);
    let mut stop = ui.interrupt();
    let work = execute(step, planned, scope, ports, ui, opts);
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

/// The verify step's report.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub checks: Vec<CheckResult>,
    pub attempts: u32,
}

impl Report for VerifyReport {
    fn human(&self) -> String {
        let mut s = String::new();
        for c in &self.checks {
            s.push_str(&format!(
                "  {} {} ({})\n",
                if c.ok { "PASS" } else { "FAIL" },
                c.check,
                c.detail
            ));
        }
        s
    }

    fn exit_code(&self) -> u8 {
        if self.checks.iter().all(|c| c.ok) {
            exit_codes::SUCCESS
        } else {
            exit_codes::PARTIAL
        }
    }
}

async fn execute(
    step: &Step,
    planned: &StepPlan,
    scope: &Scope,
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
            let r = crate::commands::doctor::doctor(
                ports.cat.as_ref(),
                ports.queue.as_ref(),
                &bus,
                Utc::now(),
            )
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
        Kind::Replay => {
            let req = match &planned.replay {
                Some(r) => r.clone(),
                None => replay_request(&mut f, &ports.started_by)?,
            };
            let wait = f.bool("wait")?.unwrap_or(true);
            let opts = crate::commands::start::StartOptions {
                plan: req,
                dry_run: false,
                no_wait: !wait,
                watch: WatchOptions {
                    poll: f.dur("poll")?,
                    timeout: f.dur("timeout")?,
                    cancel_on_interrupt: f.bool("cancel_on_interrupt")?.unwrap_or(false),
                },
            };
            let mut observer = ui.watch_observer();
            let interrupt = ui.interrupt();
            let r = crate::commands::start::start(
                ports.cat.as_ref(),
                ports.ctl.as_ref(),
                &ports.journal,
                &opts,
                &mut |_| Ok(true),
                observer.as_mut(),
                interrupt,
                Utc::now(),
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
            let dports = ports.drain_ports(f.str("ledger")?.as_deref())?;
            let r = crate::commands::drain::run(cfg, dports, ui.drain_observer(), ui.interrupt())
                .await?;
            Ok(drain_done(&r))
        }
        Kind::Reemit => {
            let from = PathBuf::from(f.str("from")?.unwrap_or_default());
            let req = crate::commands::reemit::ReemitRequest {
                bus: f.str("bus")?,
                dedup_key: f.str("dedup_key")?,
                max_redrives: f.int("max_redrives")?.map(|n| n as u32).unwrap_or(3),
                rate: f.num("rate")?,
                size_limit: f.int("size_limit")?.map(|n| n as usize),
                dry_run: false,
            };
            let cfg =
                crate::commands::reemit::config(&req, format!("{}-s{}", opts.run_id, step.number))?;
            let dports = ports.drain_ports(f.str("ledger")?.as_deref())?;
            let r = crate::commands::reemit::reemit(
                &from,
                cfg,
                dports,
                ui.drain_observer(),
                ui.interrupt(),
            )
            .await?;
            Ok(drain_done(&r))
        }
        Kind::Verify => {
            let checks = verify_checks(&mut f, ports).await?;
            let within = f.dur("within")?.unwrap_or(Duration::ZERO);
            let started = tokio::time::Instant::now();
            let mut attempts = 0;
            let report = loop {
                attempts += 1;
                let mut results = Vec::new();
                for c in &checks {
                    results.push(run_check(c, ports).await?);
                }
                let report = VerifyReport {
                    checks: results,
                    attempts,
                };
                let left = within.saturating_sub(started.elapsed());
                if report.exit_code() == exit_codes::SUCCESS || left.is_zero() {
                    break report;
                }
                tracing::info!(
                    "verify: {} check(s) not passing yet; checking again (up to {} more)",
                    report.checks.iter().filter(|c| !c.ok).count(),
                    humantime::format_duration(Duration::from_secs(left.as_secs()))
                );
                tokio::time::sleep(left.min(Duration::from_secs(5))).await;
            };
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

fn drain_done(r: &crate::commands::drain::DrainReport) -> Done {
    let mut done = Done::of(r, drain_outputs(r));
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
        started_at: Utc::now(),
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
        let started_at = Utc::now();
        let clock = std::time::Instant::now();
        let (result, caught) = execute_watched(step, planned, &scope, ports, ui, opts).await;
        let rec = &mut record.steps[step.number - 1];
        rec.started_at = Some(started_at);
        rec.ended_at = Some(Utc::now());
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
    record.ended_at = Some(Utc::now());
    record.save()?;
    Ok(record)
}
