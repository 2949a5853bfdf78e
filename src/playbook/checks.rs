//! Checks beyond each value's type: literal values within their ranges and formats, and
//! every `${...}` reference naming a parameter that fits or an output of an earlier step.

use std::collections::{BTreeSet, HashMap};

use chrono::Utc;

use super::diagnostics::Ctx;
use super::diagnostics::closest;
use super::model::{Param, Step, Value};
use super::schema::{Kind, Ty};
use super::template::{self, Ref};

/// Checks a literal (reference-free) value against its type.
pub(super) fn check_literal(ctx: &mut Ctx, line: usize, key: &str, ty: Ty, v: &Value) {
    let Value::Str(s) = v else { return };
    match ty {
        Ty::Duration => {
            if let Err(e) = crate::window::parse_duration(key, s) {
                ctx.err(line, e, format!("write {key} = \"30m\" or \"1h 30m\""));
            }
        }
        Ty::When => {
            if let Err(e) = crate::window::parse_when(key, s, Utc::now()) {
                ctx.err(
                    line,
                    format!("cannot read {key} {s:?} as a time"),
                    e.to_string()
                        .split_once(": use ")
                        .map(|(_, h)| format!("use {h}"))
                        .unwrap_or_default(),
                );
            }
        }
        Ty::Bool | Ty::Int | Ty::Number | Ty::List => ctx.err(
            line,
            format!("`{key}` must be a {}, not the text {s:?}", ty.name()),
            format!(
                "write {key} = {} (or a whole reference such as \"${{param}}\")",
                ty.example()
            ),
        ),
        Ty::String => {}
    }
}

/// Field-specific checks of literal values.
pub(super) fn check_field(ctx: &mut Ctx, line: usize, kind: Kind, key: &str, v: &Value) {
    let literal = |s: &str| template::refs(s).map(|r| r.is_empty()).unwrap_or(false);
    let written_out = match v {
        Value::Str(s) => literal(s),
        _ => true,
    };
    if written_out && let Err(e) = super::ranges::check(key, v) {
        ctx.err(line, e.message, e.help);
    }
    match (kind, key, v) {
        (Kind::Doctor, "allow", Value::List(items)) => {
            for i in items {
                if !matches!(i.as_str(), "pass" | "warn" | "fail") {
                    ctx.err(
                        line,
                        format!("doctor `allow` has {i:?}, which is not an outcome"),
                        "write allow = [\"pass\", \"warn\"] (outcomes: pass, warn, fail)",
                    );
                }
            }
        }
        (_, "dedup_key", Value::Str(s)) if literal(s) => {
            if let Err(e) = crate::drain::event::DedupSpec::parse(s) {
                ctx.err(line, e, "write dedup_key = \"detail.id\" or \"hash\"");
            }
        }
        (_, "pattern", Value::Str(s)) if literal(s) => {
            if let Err(e) = crate::pattern::Pattern::parse(s) {
                ctx.err(
                    line,
                    format!("`pattern` is not an EventBridge pattern: {e}"),
                    "write pattern = '{\"detail\": {\"type\": [\"invoice.payment_failed\"]}}'",
                );
            }
        }
        (_, "ledger", Value::Str(s)) if literal(s) => {
            if let Err(e) = crate::ledger::open::parse(Some(s), std::path::Path::new(".")) {
                ctx.err(
                    line,
                    e.to_string(),
                    "write ledger = \"sqlite\", \"sqlite:PATH\", \"dynamodb://TABLE\" or \"none\"",
                );
            }
        }
        (Kind::Notify, "when", Value::Str(s))
            if literal(s) && super::notify::When::parse(s).is_none() =>
        {
            ctx.err(
                line,
                format!("notify `when` is {s:?}, which is not a choice"),
                "write when = \"failure\" (the default) or \"always\"",
            );
        }
        (Kind::Replay, "name", Value::Str(s))
            if literal(s) && !crate::replay::plan::valid_replay_name(s) =>
        {
            ctx.err(
                line,
                format!("replay name {s:?} is not valid: 1-64 of A-Z a-z 0-9 . - _"),
                "leave `name` out to have one generated (names stay reserved for ~90 days)",
            );
        }
        _ => {}
    }
}

/// Where each parameter and step id is, so that each reference is checked without a search
/// through the steps (searching for every reference made validation quadratic).
struct Index<'a> {
    params: HashMap<&'a str, &'a Param>,
    /// Each step id's positions (0-based), ascending.
    ids: HashMap<&'a str, Vec<usize>>,
    /// (position, id) of every step with an id, in step order.
    in_order: Vec<(usize, &'a str)>,
}

impl<'a> Index<'a> {
    fn new(params: &'a [Param], steps: &'a [Step]) -> Index<'a> {
        let mut ids: HashMap<&str, Vec<usize>> = HashMap::new();
        let mut in_order = Vec::new();
        for (i, s) in steps.iter().enumerate() {
            if let Some(id) = s.id.as_deref() {
                ids.entry(id).or_default().push(i);
                in_order.push((i, id));
            }
        }
        Index {
            params: params.iter().map(|p| (p.name.as_str(), p)).collect(),
            ids,
            in_order,
        }
    }

    /// The first step with `id` before position `i`, and the first at or after it.
    fn around(&self, id: &str, i: usize) -> (Option<usize>, Option<usize>) {
        let Some(at) = self.ids.get(id) else {
            return (None, None);
        };
        let split = at.partition_point(|&j| j < i);
        (
            at.first().copied().filter(|&j| j < i),
            at.get(split).copied(),
        )
    }

    /// The ids of the (at most 10) nearest steps before position `i`, in step order.
    fn ids_before(&self, i: usize) -> Vec<&'a str> {
        let end = self.in_order.partition_point(|(j, _)| *j < i);
        self.in_order[end.saturating_sub(10)..end]
            .iter()
            .map(|(_, id)| *id)
            .collect()
    }
}

/// Checks every `${...}`: parameters exist and fit, step outputs come from earlier steps, and
/// a parameter's default fits the range of each field that takes it whole.
pub(super) fn check_refs(ctx: &mut Ctx, params: &[Param], steps: &[Step]) {
    let index = Index::new(params, steps);
    // A default that does not fit a field is reported once per field name, at the default.
    let mut defaults_reported: BTreeSet<(&str, &str)> = BTreeSet::new();
    for (i, step) in steps.iter().enumerate() {
        for (key, field) in &step.fields {
            let ty = step.kind.field_type(key).unwrap_or(Ty::String);
            for s in field.value.strings() {
                let whole = template::whole(s);
                for r in template::refs(s).unwrap_or_default() {
                    match &r {
                        Ref::Param(p) => match index.params.get(p.as_str()) {
                            None => {
                                let names: Vec<&str> =
                                    params.iter().map(|p| p.name.as_str()).collect();
                                ctx.err(
                                    field.line,
                                    format!("step {} (`{key}`): {r} names no parameter", step.number),
                                    match closest(p, names.iter().copied()) {
                                        Some(c) => format!("did you mean ${{{c}}}? or declare it in a [[params]] table"),
                                        None if names.is_empty() => "declare it in a [[params]] table".into(),
                                        None if names.len() > 20 => format!("declare it in a [[params]] table ({} are declared)", names.len()),
                                        None => format!("declare it in a [[params]] table; declared: {}", names.join(", ")),
                                    },
                                );
                            }
                            Some(param) => {
                                let in_list = matches!(field.value, Value::List(_));
                                let is_whole = whole.as_ref() == Some(&r) && !in_list;
                                let fits = if is_whole {
                                    ty.accepts(param.ty)
                                } else {
                                    param.ty != Ty::List
                                };
                                if !fits {
                                    ctx.err(
                                        field.line,
                                        format!(
                                            "step {} (`{key}` is a {}): parameter `{p}` is a {}",
                                            step.number,
                                            if in_list { "list of strings" } else { ty.name() },
                                            param.ty.name()
                                        ),
                                        format!("declare `{p}` with type = \"{}\" or use another parameter", if in_list { "string" } else { ty.name() }),
                                    );
                                } else if is_whole
                                    && let Some(d) = &param.default
                                    && let Err(e) = super::ranges::check(key, &as_field(ty, d))
                                    && defaults_reported.insert((param.name.as_str(), key.as_str()))
                                {
                                    ctx.err(
                                        param.default_line,
                                        format!(
                                            "the default of `{p}` is used as `{key}` by step {}: {}",
                                            step.number, e.message
                                        ),
                                        format!("change the default or pass --set {p}=VALUE; {}", e.help),
                                    );
                                }
                            }
                        },
                        Ref::Output {
                            step: sid,
                            field: out,
                        } => {
                            let (earlier, later) = index.around(sid, i);
                            match (earlier.map(|j| &steps[j]), later.map(|j| &steps[j])) {
                                (Some(src), _) if !src.kind.outputs().contains(&out.as_str()) => ctx.err(
                                    field.line,
                                    format!("step {} (`{key}`): {r}: a {} step has no output `{out}`", step.number, src.kind.name()),
                                    if src.kind.outputs().is_empty() {
                                        format!("{} steps have no outputs", src.kind.name())
                                    } else {
                                        format!("{} steps output: {}", src.kind.name(), src.kind.outputs().join(", "))
                                    },
                                ),
                                (Some(_), _) => {}
                                (None, Some(l)) => ctx.err(
                                    field.line,
                                    format!("step {} (`{key}`): {r} refers to step {}, which runs later", step.number, l.number),
                                    "a step can only use outputs of steps above it; reorder the steps",
                                ),
                                (None, None) => {
                                    let ids = index.ids_before(i);
                                    ctx.err(
                                        field.line,
                                        format!("step {} (`{key}`): {r}: no step has id `{sid}`", step.number),
                                        if ids.is_empty() {
                                            "give the earlier step an id, e.g. id = \"replay\"".into()
                                        } else {
                                            format!("earlier step ids: {}", ids.join(", "))
                                        },
                                    )
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A parameter's value as the field of type `ty` that takes it whole sees it.
fn as_field(ty: Ty, v: &Value) -> Value {
    match (ty, v) {
        (Ty::Number, Value::Int(i)) => Value::Number(*i as f64),
        (_, v) => v.clone(),
    }
}
