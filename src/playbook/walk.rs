//! The TOML walk: each value read with its line, as the type its field or parameter
//! declares, every problem recorded rather than the first one returned.

use std::collections::{BTreeMap, HashSet};

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::checks::{check_field, check_literal};
use super::diagnostics::{Ctx, closest, unknown_key_hint};
use super::model::{Field, Param, Step, Value, split_list};
use super::schema::{KINDS, Kind, Ty};
use super::template;

type Entry<'i> = (
    &'i Spanned<std::borrow::Cow<'i, str>>,
    &'i Spanned<DeValue<'i>>,
);

pub(super) fn entries<'a, 'i>(t: &'a DeTable<'i>) -> Vec<Entry<'a>> {
    let mut v: Vec<_> = t.iter().collect();
    v.sort_by_key(|(k, _)| k.span().start);
    v
}

pub(super) fn get<'a, 'i>(t: &'a DeTable<'i>, key: &str) -> Option<&'a Spanned<DeValue<'i>>> {
    t.iter()
        .find(|(k, _)| k.get_ref().as_ref() == key)
        .map(|(_, v)| v)
}

pub(super) fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// Reads one TOML value as the given type.
pub(super) fn value(ctx: &mut Ctx, key: &str, v: &Spanned<DeValue>, ty: Ty) -> Option<Value> {
    let line = ctx.line(v.span());
    let wrong = |ctx: &mut Ctx| {
        ctx.err(
            line,
            format!(
                "`{key}` must be a {} but is a {}",
                ty.name(),
                v.get_ref().type_str()
            ),
            format!("write {key} = {}", ty.example()),
        );
        None
    };
    match (v.get_ref(), ty) {
        (DeValue::String(s), _) => Some(Value::Str(s.to_string())),
        (DeValue::Array(items), Ty::List) => {
            let mut out = Vec::new();
            for item in items.iter() {
                match item.get_ref() {
                    DeValue::String(s) => out.push(s.to_string()),
                    other => {
                        let l = ctx.line(item.span());
                        ctx.err(
                            l,
                            format!("`{key}` must list strings, not a {}", other.type_str()),
                            format!("quote each item: {key} = [\"a\", \"b\"]"),
                        );
                        return None;
                    }
                }
            }
            Some(Value::List(out))
        }
        (DeValue::Boolean(b), Ty::Bool) => Some(Value::Bool(*b)),
        (DeValue::Integer(i), Ty::Int | Ty::Number) => {
            match i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()) {
                Ok(n) if ty == Ty::Int => Some(Value::Int(n)),
                Ok(n) => Some(Value::Number(n as f64)),
                Err(_) => wrong(ctx),
            }
        }
        (DeValue::Float(f), Ty::Number) => match f.as_str().replace('_', "").parse::<f64>() {
            Ok(n) => Some(Value::Number(n)),
            Err(_) => wrong(ctx),
        },
        _ => wrong(ctx),
    }
}

pub(super) fn read_params(ctx: &mut Ctx, v: &Spanned<DeValue>) -> Vec<Param> {
    let mut params = Vec::new();
    let mut names = HashSet::new();
    let line = ctx.line(v.span());
    let DeValue::Array(items) = v.get_ref() else {
        ctx.err(
            line,
            "`params` must be an array of tables",
            "write each parameter as a [[params]] table with name, type, default and help",
        );
        return params;
    };
    for item in items.iter() {
        let pline = ctx.line(item.span());
        let DeValue::Table(t) = item.get_ref() else {
            ctx.err(
                pline,
                "a parameter must be a table",
                "write [[params]] then name = ..., type = ..., help = ...",
            );
            continue;
        };
        const KEYS: &[&str] = &["name", "type", "default", "help"];
        for (k, kv) in entries(t) {
            if !KEYS.contains(&k.get_ref().as_ref()) {
                let l = ctx.line(kv.span());
                ctx.err(
                    ctx.line(k.span()).min(l),
                    format!("unknown parameter key `{}`", k.get_ref()),
                    unknown_key_hint(k.get_ref(), KEYS),
                );
            }
        }
        let name = match get(t, "name").map(|n| (n.get_ref().as_str(), ctx.line(n.span()))) {
            Some((Some(n), l)) => {
                if !is_ident(n) || n == "steps" {
                    ctx.err(
                        l,
                        format!("parameter name {n:?} is not usable"),
                        "use lowercase letters, digits, - and _, starting with a letter (not `steps`)",
                    );
                }
                n.to_string()
            }
            Some((None, l)) => {
                ctx.err(
                    l,
                    "parameter `name` must be a string",
                    "write name = \"since\"",
                );
                continue;
            }
            None => {
                ctx.err(pline, "parameter without a `name`", "add name = \"since\"");
                continue;
            }
        };
        if !names.insert(name.clone()) {
            ctx.err(
                pline,
                format!("parameter `{name}` is declared twice"),
                "keep one [[params]] table per name",
            );
        }
        let ty = match get(t, "type") {
            Some(tv) => {
                let l = ctx.line(tv.span());
                match tv.get_ref().as_str().and_then(Ty::parse) {
                    Some(ty) => ty,
                    None => {
                        ctx.err(
                            l,
                            format!("parameter `{name}` has an unknown type"),
                            "write type = one of \"string\", \"list\", \"bool\", \"int\", \"number\", \"duration\", \"when\"",
                        );
                        Ty::String
                    }
                }
            }
            None => {
                ctx.err(
                    pline,
                    format!("parameter `{name}` has no `type`"),
                    "add type = \"string\" (or list, bool, int, number, duration, when)",
                );
                Ty::String
            }
        };
        let default_line = get(t, "default").map_or(pline, |d| ctx.line(d.span()));
        let default = get(t, "default").and_then(|d| {
            let l = ctx.line(d.span());
            let v = value(ctx, "default", d, ty)?;
            if let Value::Str(s) = &v {
                if !template::refs(s).map(|r| r.is_empty()).unwrap_or(false) {
                    ctx.err(
                        l,
                        format!("the default of `{name}` holds a reference"),
                        "defaults are plain values; use $$ for a literal $",
                    );
                    return None;
                }
                if ty == Ty::List {
                    return Some(Value::List(split_list(s)));
                }
                check_literal(ctx, l, "default", ty, &v);
            }
            Some(v)
        });
        let help = match get(t, "help").map(|h| h.get_ref().as_str()) {
            Some(Some(h)) => h.to_string(),
            _ => {
                ctx.err(
                    pline,
                    format!("parameter `{name}` has no `help` text"),
                    "add help = \"what it means and an example\" (the runbook shows it)",
                );
                String::new()
            }
        };
        params.push(Param {
            name,
            ty,
            default,
            help,
            line: pline,
            default_line,
        });
    }
    params
}

pub(super) fn read_step(ctx: &mut Ctx, number: usize, item: &Spanned<DeValue>) -> Option<Step> {
    let line = ctx.line(item.span());
    let DeValue::Table(t) = item.get_ref() else {
        ctx.err(
            line,
            "a step must be a table",
            "write each step as a [[steps]] table",
        );
        return None;
    };
    let kind = match get(t, "kind") {
        Some(k) => {
            let l = ctx.line(k.span());
            match k.get_ref().as_str() {
                Some(s) => match Kind::parse(s) {
                    Some(kind) => kind,
                    None => {
                        let kinds: Vec<&str> = KINDS.split(", ").collect();
                        ctx.err(
                            l,
                            format!("step {number}: unknown step kind {s:?}"),
                            match closest(s, kinds.iter().copied()) {
                                Some(c) => format!("did you mean kind = \"{c}\"? kinds: {KINDS}"),
                                None => format!("write kind = one of {KINDS}"),
                            },
                        );
                        return None;
                    }
                },
                None => {
                    ctx.err(
                        l,
                        format!("step {number}: `kind` must be a string"),
                        format!("write kind = one of {KINDS}"),
                    );
                    return None;
                }
            }
        }
        None => {
            ctx.err(
                line,
                format!("step {number} has no `kind`"),
                format!("add kind = one of {KINDS}"),
            );
            return None;
        }
    };
    let text = |ctx: &mut Ctx, key: &str| -> Option<String> {
        let v = get(t, key)?;
        match v.get_ref().as_str() {
            Some(s) => Some(s.to_string()),
            None => {
                let l = ctx.line(v.span());
                ctx.err(
                    l,
                    format!("step {number}: `{key}` must be a string"),
                    format!("write {key} = \"...\""),
                );
                None
            }
        }
    };
    let id = text(ctx, "id");
    if let Some(i) = &id
        && !is_ident(i)
    {
        let l = get(t, "id").map(|v| ctx.line(v.span())).unwrap_or(line);
        ctx.err(
            l,
            format!("step id {i:?} is not usable in references"),
            "use lowercase letters, digits, - and _, starting with a letter, e.g. id = \"replay\"",
        );
    }
    let title = text(ctx, "title");
    let mut allowed: Vec<&str> = vec!["kind", "id", "title"];
    allowed.extend(kind.fields().iter().map(|(k, _)| *k));
    let mut fields = BTreeMap::new();
    for (k, v) in entries(t) {
        let key: &str = k.get_ref();
        if matches!(key, "kind" | "id" | "title") {
            continue;
        }
        let l = ctx.line(k.span());
        let Some(ty) = kind.field_type(key) else {
            ctx.err(
                l,
                format!("step {number} ({}): unknown field `{key}`", kind.name()),
                unknown_key_hint(key, &allowed),
            );
            continue;
        };
        if let Some(val) = value(ctx, key, v, ty) {
            let vl = ctx.line(v.span());
            match &val {
                Value::Str(s) => match template::refs(s) {
                    Err(e) => ctx.err(vl, format!("step {number}: {e}"), ""),
                    Ok(r) if r.is_empty() => check_literal(ctx, vl, key, ty, &val),
                    Ok(_) => {}
                },
                Value::List(items) => {
                    for i in items {
                        if let Err(e) = template::refs(i) {
                            ctx.err(vl, format!("step {number}: {e}"), "");
                        }
                    }
                }
                _ => {}
            }
            check_field(ctx, vl, kind, key, &val);
            fields.insert(
                key.to_string(),
                Field {
                    line: vl,
                    value: val,
                },
            );
        }
    }
    for req in kind.required() {
        if !fields.contains_key(*req) {
            let ty = kind.field_type(req).unwrap_or(Ty::String);
            ctx.err(
                line,
                format!("step {number} ({}) needs `{req}`", kind.name()),
                format!("add {req} = {}", ty.example()),
            );
        }
    }
    // A bus to re-emit to and a target redrive cannot both be meant (as the flags).
    let bus_field = match kind {
        Kind::Drain => Some("to_bus"),
        Kind::Reemit => Some("bus"),
        _ => None,
    };
    if let (Some(to), Some((name, bus))) = (
        fields.get("to"),
        bus_field.and_then(|b| fields.get(b).map(|f| (b, f))),
    ) && matches!(&to.value, Value::Str(s) if s == "target")
    {
        ctx.err(
            bus.line,
            format!(
                "step {number} ({}): `{name}` names a bus to re-emit to, but to = \"target\" delivers each message to the rule target that dead-lettered it",
                kind.name()
            ),
            format!("drop `{name}`, or drop to = \"target\" to re-emit to the bus"),
        );
    }
    match kind {
        Kind::Drain if !fields.contains_key("queues") && !fields.contains_key("bus") => ctx.err(
            line,
            format!("step {number} (drain) names no queue"),
            "add queues = [\"my-dlq\"] or bus = \"${bus}\" (every DLQ of the bus)",
        ),
        Kind::Verify => {
            let checks = [
                "queues_empty",
                "bus_dlqs_empty",
                "replay_completed",
                "unique_keys_in",
            ];
            if !checks.iter().any(|c| fields.contains_key(*c)) {
                ctx.err(
                    line,
                    format!("step {number} (verify) checks nothing"),
                    format!("add at least one of: {}", checks.join(", ")),
                );
            }
            if !fields.contains_key("bus_dlqs_empty") {
                for dep in ["rules", "event_types"] {
                    if let Some(f) = fields.get(dep) {
                        ctx.err(
                            f.line,
                            format!(
                                "step {number} (verify): `{dep}` only applies to bus_dlqs_empty"
                            ),
                            "add bus_dlqs_empty = \"${bus}\" or remove it",
                        );
                    }
                }
            }
            if !fields.contains_key("unique_keys_in") {
                for dep in ["unique_key", "reemitted_by"] {
                    if let Some(f) = fields.get(dep) {
                        ctx.err(
                            f.line,
                            format!(
                                "step {number} (verify): `{dep}` only applies to unique_keys_in"
                            ),
                            "add unique_keys_in = \"QUEUE\" or remove it",
                        );
                    }
                }
            }
        }
        _ => {}
    }
    Some(Step {
        number,
        id,
        kind,
        title,
        line,
        fields,
    })
}
