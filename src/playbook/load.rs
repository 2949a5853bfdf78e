//! Reading a playbook: TOML read with every value's line kept, checked against the step
//! kinds, so that each mistake is reported with its file, line and what to write instead.
//! Loading changes nothing and calls nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;

use chrono::Utc;
use serde::Serialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::template::{self, Ref};

/// One problem in a playbook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub file: String,
    pub line: usize,
    pub message: String,
    /// What to write instead.
    pub hint: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)?;
        if !self.hint.is_empty() {
            write!(f, "\n  fix: {}", self.hint)?;
        }
        Ok(())
    }
}

/// The type of a parameter or a step field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ty {
    /// Text.
    String,
    /// A list of text values (`--set k=a,b`).
    List,
    Bool,
    Int,
    /// A number (integer or decimal).
    Number,
    /// `30s`, `5m`, `1h 30m`.
    Duration,
    /// A time: a duration back from now (`2h`), `now`, or a UTC / RFC 3339 time.
    When,
}

impl Ty {
    fn parse(s: &str) -> Option<Ty> {
        Some(match s {
            "string" => Ty::String,
            "list" => Ty::List,
            "bool" => Ty::Bool,
            "int" => Ty::Int,
            "number" => Ty::Number,
            "duration" => Ty::Duration,
            "when" => Ty::When,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Ty::String => "string",
            Ty::List => "list",
            Ty::Bool => "bool",
            Ty::Int => "int",
            Ty::Number => "number",
            Ty::Duration => "duration",
            Ty::When => "when",
        }
    }

    fn example(self) -> &'static str {
        match self {
            Ty::String => "\"text\"",
            Ty::List => "[\"a\", \"b\"]",
            Ty::Bool => "true",
            Ty::Int => "100",
            Ty::Number => "50",
            Ty::Duration => "\"30m\"",
            Ty::When => "\"2h\" (back from now) or \"2025-09-08 14:00\"",
        }
    }

    /// Whether a parameter of type `param` may fill a field of this type as a whole.
    fn accepts(self, param: Ty) -> bool {
        match self {
            Ty::String => param != Ty::List,
            Ty::When => matches!(param, Ty::When | Ty::Duration | Ty::String),
            Ty::Duration => matches!(param, Ty::Duration | Ty::String),
            Ty::Number => matches!(param, Ty::Number | Ty::Int),
            other => other == param,
        }
    }
}

/// A value as written (strings may hold `${...}` references).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    Str(String),
    List(Vec<String>),
    Bool(bool),
    Int(i64),
    Number(f64),
}

impl Value {
    /// The strings a value holds (a string, or the items of a list), where references can be.
    pub fn strings(&self) -> Vec<&String> {
        match self {
            Value::Str(s) => vec![s],
            Value::List(l) => l.iter().collect(),
            _ => Vec::new(),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) => write!(f, "{s}"),
            Value::List(l) => write!(f, "{}", l.join(", ")),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Number(n) => write!(f, "{n}"),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Param {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: Ty,
    pub default: Option<Value>,
    pub help: String,
    #[serde(skip)]
    pub line: usize,
    /// The line of `default` (the table's line when there is none).
    #[serde(skip)]
    pub default_line: usize,
}

/// What a step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Doctor,
    Replay,
    Drain,
    Reemit,
    Verify,
    Confirm,
}

pub const KINDS: &str = "doctor, replay, drain, reemit, verify, confirm";

impl Kind {
    fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "doctor" => Kind::Doctor,
            "replay" => Kind::Replay,
            "drain" => Kind::Drain,
            "reemit" => Kind::Reemit,
            "verify" => Kind::Verify,
            "confirm" => Kind::Confirm,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Doctor => "doctor",
            Kind::Replay => "replay",
            Kind::Drain => "drain",
            Kind::Reemit => "reemit",
            Kind::Verify => "verify",
            Kind::Confirm => "confirm",
        }
    }

    /// The type of field `key` of this kind; None when the kind has no such field.
    pub fn field_type(self, key: &str) -> Option<Ty> {
        self.fields()
            .iter()
            .find(|(name, _)| *name == key)
            .map(|(_, t)| *t)
    }

    /// The fields this kind takes, besides `kind`, `id` and `title`.
    pub fn fields(self) -> &'static [(&'static str, Ty)] {
        use Ty::*;
        match self {
            Kind::Doctor => &[("bus", String), ("allow", List)],
            Kind::Replay => &[
                ("bus", String),
                ("archive", String),
                ("since", When),
                ("until", When),
                ("event_types", List),
                ("sources", List),
                ("rules", List),
                ("all_rules", Bool),
                ("include_catch_all", Bool),
                ("type_fields", List),
                ("name", String),
                ("description", String),
                ("wait", Bool),
                ("timeout", Duration),
                ("poll", Duration),
                ("cancel_on_interrupt", Bool),
            ],
            Kind::Drain => &[
                ("queues", List),
                ("bus", String),
                ("to_bus", String),
                ("event_types", List),
                ("sources", List),
                ("rules", List),
                ("error_codes", List),
                ("pattern", String),
                ("min_age", Duration),
                ("type_fields", List),
                ("max_messages", Int),
                ("max_duration", Duration),
                ("concurrency", Int),
                ("rate", Number),
                ("dedup_key", String),
                ("ledger", String),
                ("max_redrives", Int),
                ("park_queue", String),
                ("visibility_timeout", Duration),
                ("receive_wait", Duration),
                ("claim_timeout", Duration),
                ("size_limit", Int),
            ],
            Kind::Reemit => &[
                ("from", String),
                ("bus", String),
                ("dedup_key", String),
                ("ledger", String),
                ("max_redrives", Int),
                ("rate", Number),
                ("size_limit", Int),
            ],
            Kind::Verify => &[
                ("queues_empty", List),
                ("bus_dlqs_empty", String),
                ("replay_completed", String),
                ("unique_keys_in", String),
                ("unique_key", String),
                ("reemitted_by", String),
                ("max_messages", Int),
                ("within", Duration),
            ],
            Kind::Confirm => &[("message", String)],
        }
    }

    fn required(self) -> &'static [&'static str] {
        match self {
            Kind::Doctor => &["bus"],
            Kind::Replay => &["since"],
            Kind::Reemit => &["from"],
            Kind::Confirm => &["message"],
            Kind::Drain | Kind::Verify => &[],
        }
    }

    /// What later steps can reference as `${steps.ID.OUTPUT}`.
    pub fn outputs(self) -> &'static [&'static str] {
        match self {
            Kind::Doctor => &["bus", "pass", "warn", "fail"],
            Kind::Replay => &["name", "arn", "state", "start", "end", "archive", "bus"],
            Kind::Drain | Kind::Reemit => &[
                "run_id",
                "received",
                "reemitted",
                "duplicates",
                "failed",
                "parked",
                "deleted",
                "possible_duplicates",
            ],
            Kind::Verify => &["checks", "passed"],
            Kind::Confirm => &[],
        }
    }
}

/// A step's field as written, with its line.
#[derive(Debug, Clone, Serialize)]
pub struct Field {
    #[serde(skip)]
    pub line: usize,
    pub value: Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// 1-based position (what `--from-step` takes).
    pub number: usize,
    pub id: Option<String>,
    pub kind: Kind,
    pub title: Option<String>,
    #[serde(skip)]
    pub line: usize,
    pub fields: BTreeMap<String, Field>,
}

impl Step {
    /// `3 (drain "drain-subscription-dlq")`
    pub fn label(&self) -> String {
        match &self.id {
            Some(id) => format!("{} ({} {id:?})", self.number, self.kind.name()),
            None => format!("{} ({})", self.number, self.kind.name()),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Playbook {
    pub name: String,
    pub description: String,
    /// When to use it.
    pub when: String,
    pub params: Vec<Param>,
    pub steps: Vec<Step>,
    /// Where it was read from (a path, or `playbooks/NAME.toml (built in)`).
    pub file: String,
}

impl Playbook {
    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params.iter().find(|p| p.name == name)
    }
}

struct Ctx<'a> {
    file: &'a str,
    /// The byte offset where each line after the first starts: a span's line is found by
    /// binary search, so validation stays linear in the file's size (counting newlines
    /// from the top for every value made it quadratic).
    line_starts: Vec<usize>,
    diags: Vec<Diagnostic>,
}

impl<'a> Ctx<'a> {
    fn new(file: &'a str, src: &str) -> Ctx<'a> {
        Ctx {
            file,
            line_starts: src
                .bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1)
                .collect(),
            diags: Vec::new(),
        }
    }

    /// The 1-based line of a span's start.
    fn line(&self, span: std::ops::Range<usize>) -> usize {
        self.line_starts.partition_point(|&s| s <= span.start) + 1
    }

    fn err(&mut self, line: usize, message: impl Into<String>, hint: impl Into<String>) {
        self.diags.push(Diagnostic {
            file: self.file.to_string(),
            line,
            message: message.into(),
            hint: hint.into(),
        });
    }
}

type Entry<'i> = (
    &'i Spanned<std::borrow::Cow<'i, str>>,
    &'i Spanned<DeValue<'i>>,
);

fn entries<'a, 'i>(t: &'a DeTable<'i>) -> Vec<Entry<'a>> {
    let mut v: Vec<_> = t.iter().collect();
    v.sort_by_key(|(k, _)| k.span().start);
    v
}

fn get<'a, 'i>(t: &'a DeTable<'i>, key: &str) -> Option<&'a Spanned<DeValue<'i>>> {
    t.iter()
        .find(|(k, _)| k.get_ref().as_ref() == key)
        .map(|(_, v)| v)
}

/// The closest allowed name, for "did you mean".
fn closest<'a>(word: &str, allowed: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    allowed
        .into_iter()
        .map(|a| (edit_distance(word, a), a))
        .filter(|(d, a)| *d <= 2.max(a.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, a)| a)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

fn unknown_key_hint(key: &str, allowed: &[&str]) -> String {
    match closest(key, allowed.iter().copied()) {
        Some(c) => format!("did you mean `{c}`? allowed here: {}", allowed.join(", ")),
        None => format!("allowed here: {}", allowed.join(", ")),
    }
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// Reads one TOML value as the given type.
fn value(ctx: &mut Ctx, key: &str, v: &Spanned<DeValue>, ty: Ty) -> Option<Value> {
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

/// Checks a literal (reference-free) value against its type.
fn check_literal(ctx: &mut Ctx, line: usize, key: &str, ty: Ty, v: &Value) {
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
fn check_field(ctx: &mut Ctx, line: usize, kind: Kind, key: &str, v: &Value) {
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

fn read_params(ctx: &mut Ctx, v: &Spanned<DeValue>) -> Vec<Param> {
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

/// `a, b,c` → [a, b, c]
pub fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

fn read_step(ctx: &mut Ctx, number: usize, item: &Spanned<DeValue>) -> Option<Step> {
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
fn check_refs(ctx: &mut Ctx, params: &[Param], steps: &[Step]) {
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

/// Reads and checks a playbook. All problems are returned, in line order.
pub fn load(file: &str, src: &str) -> Result<Playbook, Vec<Diagnostic>> {
    let mut ctx = Ctx::new(file, src);
    let doc = match DeTable::parse(src) {
        Ok(d) => d,
        Err(e) => {
            let line = e.span().map(|s| ctx.line(s)).unwrap_or(1);
            let msg = e.message().trim().to_string();
            ctx.err(
                line,
                format!("TOML syntax error: {msg}"),
                "fix the TOML syntax (strings in double quotes, one key = value per line, [[steps]] tables)",
            );
            return Err(ctx.diags);
        }
    };
    let root = doc.get_ref();
    const KEYS: &[&str] = &["name", "description", "when", "params", "steps"];
    for (k, _) in entries(root) {
        if !KEYS.contains(&k.get_ref().as_ref()) {
            let l = ctx.line(k.span());
            let hint = unknown_key_hint(k.get_ref(), KEYS);
            ctx.err(l, format!("unknown top-level key `{}`", k.get_ref()), hint);
        }
    }
    let mut top = |key: &str, example: &str| -> String {
        match get(root, key) {
            Some(v) => match v.get_ref().as_str() {
                Some(s) if !s.trim().is_empty() => s.to_string(),
                _ => {
                    let l = ctx.line(v.span());
                    ctx.err(
                        l,
                        format!("`{key}` must be non-empty text"),
                        format!("write {key} = {example}"),
                    );
                    String::new()
                }
            },
            None => {
                ctx.err(
                    1,
                    format!("the playbook has no `{key}`"),
                    format!("add {key} = {example} at the top"),
                );
                String::new()
            }
        }
    };
    let name = top("name", "\"subscription-outage\"");
    let description = top("description", "\"what it recovers\"");
    let when = top("when", "\"the symptom that calls for it\"");
    if !name.is_empty() && !is_ident(&name) {
        let l = get(root, "name").map(|v| ctx.line(v.span())).unwrap_or(1);
        ctx.err(
            l,
            format!("playbook name {name:?} is not usable as a command argument"),
            "use lowercase letters, digits and -, e.g. name = \"subscription-outage\"",
        );
    }
    let params = get(root, "params")
        .map(|v| read_params(&mut ctx, v))
        .unwrap_or_default();
    let mut steps = Vec::new();
    match get(root, "steps") {
        Some(v) => match v.get_ref() {
            DeValue::Array(items) if !items.is_empty() => {
                for (i, item) in items.iter().enumerate() {
                    if let Some(s) = read_step(&mut ctx, i + 1, item) {
                        steps.push(s);
                    }
                }
            }
            _ => {
                let l = ctx.line(v.span());
                ctx.err(
                    l,
                    "`steps` must be a non-empty array of tables",
                    "write each step as a [[steps]] table with a kind",
                );
            }
        },
        None => ctx.err(
            1,
            "the playbook has no steps",
            "add [[steps]] tables, e.g. [[steps]] kind = \"doctor\" bus = \"${bus}\"",
        ),
    }
    let mut seen = BTreeSet::new();
    for s in &steps {
        if let Some(id) = &s.id
            && !seen.insert(id.clone())
        {
            ctx.err(
                s.line,
                format!("step {}: id `{id}` is used by an earlier step", s.number),
                "give every step a different id",
            );
        }
    }
    check_refs(&mut ctx, &params, &steps);
    if ctx.diags.is_empty() {
        Ok(Playbook {
            name,
            description,
            when,
            params,
            steps,
            file: file.to_string(),
        })
    } else {
        ctx.diags.sort_by_key(|d| d.line);
        Err(ctx.diags)
    }
}
