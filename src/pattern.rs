//! EventBridge event patterns, evaluated locally: full matching of an event, and
//! "may this pattern match an event of which only some fields are known?" for rule selection.
//!
//! Why our own matcher: replay planning has to ask whether a rule *could* match an event
//! when only its type and source are known. Full-event matchers (quamina) cannot answer
//! that, so both questions share this one compiled form.

use std::collections::BTreeSet;
use std::net::IpAddr;

use serde_json::{Map, Value};

/// Why a pattern was refused, with the JSON path of the offending part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid event pattern at {path}: {reason}")]
pub struct PatternError {
    pub path: String,
    pub reason: String,
}

/// A compiled event pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    root: Node,
}

#[derive(Debug, Clone, PartialEq)]
struct Node {
    fields: Vec<(String, Field)>,
    ors: Vec<Vec<Node>>,
}

#[derive(Debug, Clone, PartialEq)]
enum Field {
    Nested(Node),
    Leaf(Vec<Matcher>),
}

#[derive(Debug, Clone, PartialEq)]
enum Matcher {
    Exact(Value),
    Prefix { text: String, ignore_case: bool },
    Suffix { text: String, ignore_case: bool },
    EqualsIgnoreCase(String),
    AnythingBut(AnythingBut),
    Numeric(Vec<(NumOp, f64)>),
    Exists(bool),
    Wildcard(String),
    Cidr { net: u128, bits: u32, v4: bool },
}

#[derive(Debug, Clone, PartialEq)]
enum AnythingBut {
    Values(Vec<Value>),
    Prefix(String),
    Suffix(String),
    EqualsIgnoreCase(Vec<String>),
    Wildcard(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum NumOp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

/// Which fields of a partial event are known. Paths are dotted (`detail.type`).
#[derive(Debug, Clone, Default)]
pub struct Known {
    event: Value,
    paths: BTreeSet<String>,
}

impl Known {
    pub fn new() -> Known {
        Known {
            event: Value::Object(Map::new()),
            paths: BTreeSet::new(),
        }
    }

    /// Declares `path` known with `value`.
    pub fn with(mut self, path: &str, value: Value) -> Known {
        let mut cur = &mut self.event;
        let parts: Vec<&str> = path.split('.').collect();
        for (i, part) in parts.iter().enumerate() {
            let obj = cur.as_object_mut().expect("known paths never cross a leaf");
            if i + 1 == parts.len() {
                obj.insert((*part).to_string(), value);
                break;
            }
            cur = obj
                .entry((*part).to_string())
                .or_insert_with(|| Value::Object(Map::new()));
        }
        self.paths.insert(path.to_string());
        self
    }
}

impl Pattern {
    /// Parses and validates a pattern given as JSON text.
    pub fn parse(text: &str) -> Result<Pattern, PatternError> {
        let value: Value = serde_json::from_str(text).map_err(|e| PatternError {
            path: "$".into(),
            reason: format!("not valid JSON ({e})"),
        })?;
        Pattern::from_value(&value)
    }

    pub fn from_value(value: &Value) -> Result<Pattern, PatternError> {
        let obj = value
            .as_object()
            .ok_or_else(|| err("$", "a pattern must be a JSON object"))?;
        Ok(Pattern {
            root: compile_node(obj, "$")?,
        })
    }

    /// True when the event matches.
    pub fn matches(&self, event: &Value) -> bool {
        eval_node(&self.root, Some(event), "", None)
    }

    /// True when some event with the known fields could match: conditions on fields that
    /// are not known count as satisfiable.
    pub fn may_match(&self, known: &Known) -> bool {
        eval_node(&self.root, Some(&known.event), "", Some(&known.paths))
    }

    /// True when any branch of the pattern puts a condition on the dotted `path`.
    pub fn constrains(&self, path: &str) -> bool {
        node_constrains(&self.root, "", path)
    }

    /// The exact strings the pattern allows at `path`, when every condition on it (in every
    /// branch) is a list of exact strings; None when any condition there is an operator.
    pub fn exact_values(&self, path: &str) -> Option<BTreeSet<String>> {
        let mut out = BTreeSet::new();
        collect_exact(&self.root, "", path, &mut out).then_some(out)
    }
}

fn collect_exact(node: &Node, prefix: &str, target: &str, out: &mut BTreeSet<String>) -> bool {
    let fields_ok = node.fields.iter().all(|(k, f)| {
        let path = join(prefix, k);
        match f {
            Field::Leaf(ms) if path == target => ms.iter().all(|m| match m {
                Matcher::Exact(Value::String(s)) => {
                    out.insert(s.clone());
                    true
                }
                _ => false,
            }),
            Field::Leaf(_) => true,
            Field::Nested(n) => collect_exact(n, &path, target, out),
        }
    });
    fields_ok
        && node
            .ors
            .iter()
            .flatten()
            .all(|n| collect_exact(n, prefix, target, out))
}

fn err(path: &str, reason: impl Into<String>) -> PatternError {
    PatternError {
        path: path.to_string(),
        reason: reason.into(),
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

fn compile_node(obj: &Map<String, Value>, path: &str) -> Result<Node, PatternError> {
    let mut node = Node {
        fields: Vec::new(),
        ors: Vec::new(),
    };
    if obj.is_empty() {
        return Err(err(path, "an object in a pattern must not be empty"));
    }
    for (key, value) in obj {
        let here = format!("{path}.{key}");
        if key == "$or" {
            let branches = value
                .as_array()
                .filter(|a| a.len() >= 2)
                .ok_or_else(|| err(&here, "$or takes an array of at least two patterns"))?;
            let mut compiled = Vec::new();
            for (i, b) in branches.iter().enumerate() {
                let bpath = format!("{here}[{i}]");
                let bobj = b
                    .as_object()
                    .ok_or_else(|| err(&bpath, "each $or branch must be an object"))?;
                compiled.push(compile_node(bobj, &bpath)?);
            }
            node.ors.push(compiled);
            continue;
        }
        let field = match value {
            Value::Object(o) => Field::Nested(compile_node(o, &here)?),
            Value::Array(a) => {
                if a.is_empty() {
                    return Err(err(&here, "a match list must not be empty"));
                }
                let mut ms = Vec::new();
                for (i, m) in a.iter().enumerate() {
                    ms.push(compile_matcher(m, &format!("{here}[{i}]"))?);
                }
                Field::Leaf(ms)
            }
            _ => {
                return Err(err(
                    &here,
                    "a leaf must be an array of values or operators, e.g. [\"value\"]",
                ));
            }
        };
        node.fields.push((key.clone(), field));
    }
    Ok(node)
}

fn single_op<'a>(
    obj: &'a Map<String, Value>,
    path: &str,
) -> Result<(&'a str, &'a Value), PatternError> {
    if obj.len() != 1 {
        return Err(err(path, "an operator object must have exactly one key"));
    }
    let (k, v) = obj.iter().next().expect("len checked");
    Ok((k.as_str(), v))
}

fn string_or_ignore_case(v: &Value, op: &str, path: &str) -> Result<(String, bool), PatternError> {
    match v {
        Value::String(s) => Ok((s.clone(), false)),
        Value::Object(o) => match single_op(o, path)? {
            ("equals-ignore-case", Value::String(s)) => Ok((s.clone(), true)),
            _ => Err(err(
                path,
                format!("{op} takes a string or {{\"equals-ignore-case\": \"...\"}}"),
            )),
        },
        _ => Err(err(path, format!("{op} takes a string"))),
    }
}

fn strings(v: &Value, op: &str, path: &str) -> Result<Vec<String>, PatternError> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(a) if !a.is_empty() => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| err(path, format!("{op} takes strings")))
            })
            .collect(),
        _ => Err(err(
            path,
            format!("{op} takes a string or a list of strings"),
        )),
    }
}

fn compile_matcher(m: &Value, path: &str) -> Result<Matcher, PatternError> {
    let obj = match m {
        Value::Object(o) => o,
        Value::Array(_) => return Err(err(path, "nested arrays are not allowed in a match list")),
        scalar => return Ok(Matcher::Exact(scalar.clone())),
    };
    let (op, arg) = single_op(obj, path)?;
    match op {
        "prefix" => {
            let (text, ignore_case) = string_or_ignore_case(arg, op, path)?;
            Ok(Matcher::Prefix { text, ignore_case })
        }
        "suffix" => {
            let (text, ignore_case) = string_or_ignore_case(arg, op, path)?;
            Ok(Matcher::Suffix { text, ignore_case })
        }
        "equals-ignore-case" => match arg {
            Value::String(s) => Ok(Matcher::EqualsIgnoreCase(s.clone())),
            _ => Err(err(path, "equals-ignore-case takes a string")),
        },
        "exists" => match arg {
            Value::Bool(b) => Ok(Matcher::Exists(*b)),
            _ => Err(err(path, "exists takes true or false")),
        },
        "wildcard" => match arg {
            Value::String(s) => Ok(Matcher::Wildcard(s.clone())),
            _ => Err(err(path, "wildcard takes a string")),
        },
        "numeric" => compile_numeric(arg, path),
        "cidr" => compile_cidr(arg, path),
        "anything-but" => compile_anything_but(arg, path),
        other => Err(err(
            path,
            format!(
                "unknown operator \"{other}\"; use prefix, suffix, equals-ignore-case, anything-but, numeric, exists, wildcard or cidr"
            ),
        )),
    }
}

fn compile_numeric(arg: &Value, path: &str) -> Result<Matcher, PatternError> {
    let items = arg
        .as_array()
        .filter(|a| !a.is_empty() && a.len() % 2 == 0 && a.len() <= 4)
        .ok_or_else(|| {
            err(
                path,
                "numeric takes [op, number] or [op, number, op, number]",
            )
        })?;
    let mut conds = Vec::new();
    for pair in items.chunks(2) {
        let op = match pair[0].as_str() {
            Some("=") => NumOp::Eq,
            Some("<") => NumOp::Lt,
            Some("<=") => NumOp::Le,
            Some(">") => NumOp::Gt,
            Some(">=") => NumOp::Ge,
            _ => return Err(err(path, "numeric operators are =, <, <=, > and >=")),
        };
        let n = pair[1]
            .as_f64()
            .ok_or_else(|| err(path, "numeric needs a number after each operator"))?;
        conds.push((op, n));
    }
    Ok(Matcher::Numeric(conds))
}

fn parse_ip(s: &str) -> Option<(u128, bool)> {
    match s.parse::<IpAddr>().ok()? {
        IpAddr::V4(a) => Some((u128::from(u32::from(a)), true)),
        IpAddr::V6(a) => Some((u128::from(a), false)),
    }
}

fn compile_cidr(arg: &Value, path: &str) -> Result<Matcher, PatternError> {
    let bad = || err(path, "cidr takes a network such as \"10.0.0.0/24\"");
    let s = arg.as_str().ok_or_else(bad)?;
    let (addr, bits) = s.split_once('/').ok_or_else(bad)?;
    let (net, v4) = parse_ip(addr).ok_or_else(bad)?;
    let bits: u32 = bits.parse().map_err(|_| bad())?;
    if bits > if v4 { 32 } else { 128 } {
        return Err(bad());
    }
    Ok(Matcher::Cidr { net, bits, v4 })
}

fn compile_anything_but(arg: &Value, path: &str) -> Result<Matcher, PatternError> {
    let ab = match arg {
        Value::String(_) | Value::Number(_) => AnythingBut::Values(vec![arg.clone()]),
        Value::Array(a) if !a.is_empty() => {
            if a.iter().all(|x| x.is_string() || x.is_number()) {
                AnythingBut::Values(a.clone())
            } else {
                return Err(err(path, "anything-but lists hold strings or numbers"));
            }
        }
        Value::Object(o) => match single_op(o, path)? {
            ("prefix", Value::String(s)) => AnythingBut::Prefix(s.clone()),
            ("suffix", Value::String(s)) => AnythingBut::Suffix(s.clone()),
            ("equals-ignore-case", v) => {
                AnythingBut::EqualsIgnoreCase(strings(v, "equals-ignore-case", path)?)
            }
            ("wildcard", v) => AnythingBut::Wildcard(strings(v, "wildcard", path)?),
            _ => {
                return Err(err(
                    path,
                    "anything-but takes a value, a list, or prefix/suffix/equals-ignore-case/wildcard",
                ));
            }
        },
        _ => return Err(err(path, "anything-but takes a value or a non-empty list")),
    };
    Ok(Matcher::AnythingBut(ab))
}

fn node_constrains(node: &Node, prefix: &str, target: &str) -> bool {
    node.fields.iter().any(|(k, f)| {
        let path = join(prefix, k);
        match f {
            Field::Leaf(_) => path == target,
            Field::Nested(n) => node_constrains(n, &path, target),
        }
    }) || node
        .ors
        .iter()
        .flatten()
        .any(|n| node_constrains(n, prefix, target))
}

fn eval_node(
    node: &Node,
    value: Option<&Value>,
    prefix: &str,
    known: Option<&BTreeSet<String>>,
) -> bool {
    let fields_ok = node.fields.iter().all(|(key, field)| {
        let child = value.and_then(|v| v.as_object()).and_then(|o| o.get(key));
        let path = join(prefix, key);
        match field {
            Field::Nested(n) => match child {
                Some(Value::Array(items)) if !items.is_empty() => items
                    .iter()
                    .any(|item| eval_node(n, Some(item), &path, known)),
                Some(v @ Value::Object(_)) => eval_node(n, Some(v), &path, known),
                _ => eval_node(n, None, &path, known),
            },
            Field::Leaf(ms) => eval_leaf(ms, child, &path, known),
        }
    });
    fields_ok
        && node
            .ors
            .iter()
            .all(|branches| branches.iter().any(|b| eval_node(b, value, prefix, known)))
}

fn eval_leaf(
    ms: &[Matcher],
    child: Option<&Value>,
    path: &str,
    known: Option<&BTreeSet<String>>,
) -> bool {
    if let Some(paths) = known
        && !paths.contains(path)
    {
        return true;
    }
    let values: Vec<&Value> = match child {
        None | Some(Value::Object(_)) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .filter(|v| !v.is_object() && !v.is_array())
            .collect(),
        Some(v) => vec![v],
    };
    ms.iter().any(|m| match m {
        Matcher::Exists(want) => *want != values.is_empty(),
        _ => values.iter().any(|v| matcher_matches(m, v)),
    })
}

fn num_eq(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

fn value_equals(pattern: &Value, v: &Value) -> bool {
    match (pattern, v) {
        (Value::Number(_), Value::Number(_)) => num_eq(pattern, v),
        _ => pattern == v,
    }
}

fn fold_starts(s: &str, p: &str) -> bool {
    s.to_lowercase().starts_with(&p.to_lowercase())
}

fn fold_ends(s: &str, p: &str) -> bool {
    s.to_lowercase().ends_with(&p.to_lowercase())
}

fn matcher_matches(m: &Matcher, v: &Value) -> bool {
    let s = v.as_str();
    match m {
        Matcher::Exact(p) => value_equals(p, v),
        Matcher::Prefix { text, ignore_case } => s.is_some_and(|s| {
            if *ignore_case {
                fold_starts(s, text)
            } else {
                s.starts_with(text.as_str())
            }
        }),
        Matcher::Suffix { text, ignore_case } => s.is_some_and(|s| {
            if *ignore_case {
                fold_ends(s, text)
            } else {
                s.ends_with(text.as_str())
            }
        }),
        Matcher::EqualsIgnoreCase(p) => s.is_some_and(|s| s.to_lowercase() == p.to_lowercase()),
        Matcher::Wildcard(p) => s.is_some_and(|s| wildcard_match(p, s)),
        Matcher::Numeric(conds) => v.as_f64().is_some_and(|x| {
            conds.iter().all(|(op, n)| match op {
                NumOp::Eq => x == *n,
                NumOp::Lt => x < *n,
                NumOp::Le => x <= *n,
                NumOp::Gt => x > *n,
                NumOp::Ge => x >= *n,
            })
        }),
        Matcher::Cidr { net, bits, v4 } => s.and_then(parse_ip).is_some_and(|(ip, is_v4)| {
            let width = if *v4 { 32 } else { 128 };
            if is_v4 != *v4 {
                return false;
            }
            if *bits == 0 {
                return true;
            }
            let shift = width - bits;
            (ip >> shift) == (net >> shift)
        }),
        Matcher::Exists(_) => unreachable!("exists is decided per leaf"),
        Matcher::AnythingBut(ab) => match ab {
            AnythingBut::Values(vals) => !vals.iter().any(|p| value_equals(p, v)),
            AnythingBut::Prefix(p) => s.is_some_and(|s| !s.starts_with(p.as_str())),
            AnythingBut::Suffix(p) => s.is_some_and(|s| !s.ends_with(p.as_str())),
            AnythingBut::EqualsIgnoreCase(ps) => {
                s.is_some_and(|s| !ps.iter().any(|p| p.to_lowercase() == s.to_lowercase()))
            }
            AnythingBut::Wildcard(ps) => {
                s.is_some_and(|s| !ps.iter().any(|p| wildcard_match(p, s)))
            }
        },
    }
}

/// `*` matches any run of characters; `\*` and `\\` are literal.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    #[derive(PartialEq)]
    enum Tok {
        Star,
        Ch(char),
    }
    let mut toks = Vec::new();
    let mut it = pattern.chars();
    while let Some(c) = it.next() {
        match c {
            '\\' => toks.push(Tok::Ch(it.next().unwrap_or('\\'))),
            '*' => toks.push(Tok::Star),
            c => toks.push(Tok::Ch(c)),
        }
    }
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut backtrack: Option<(usize, usize)> = None;
    while ti < t.len() {
        match toks.get(pi) {
            Some(Tok::Star) => {
                backtrack = Some((pi, ti));
                pi += 1;
            }
            Some(Tok::Ch(c)) if *c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match backtrack {
                Some((bp, bt)) => {
                    pi = bp + 1;
                    ti = bt + 1;
                    backtrack = Some((bp, bt + 1));
                }
                None => return false,
            },
        }
    }
    toks[pi..].iter().all(|t| *t == Tok::Star)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(pattern: Value, event: Value) -> bool {
        Pattern::from_value(&pattern).unwrap().matches(&event)
    }

    /// Cases from the EventBridge user guide's "Content filtering" and "Comparison
    /// operators" pages: (pattern, event, expected).
    #[test]
    fn aws_documented_cases() {
        let ec2 = json!({
            "source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification",
            "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-02ebd4584a2ebd341"],
            "detail": {"state": "running", "instance-id": "i-02ebd4584a2ebd341",
                       "c-count": 5, "d-count": 3, "x-limit": 301.8,
                       "source-ip": "10.0.0.123", "filename": "image.png",
                       "location": "us-east-1", "eventVersion": "1.08"}
        });
        let cases: Vec<(Value, bool)> = vec![
            (json!({"source": ["aws.ec2"]}), true),
            (json!({"source": ["aws.s3"]}), false),
            (json!({"source": ["aws.s3", "aws.ec2"]}), true),
            (json!({"detail": {"state": ["running"]}}), true),
            (json!({"detail": {"state": ["stopped"]}}), false),
            (json!({"detail": {"state": [{"prefix": "run"}]}}), true),
            (
                json!({"detail": {"state": [{"prefix": {"equals-ignore-case": "RUN"}}]}}),
                true,
            ),
            (json!({"detail": {"filename": [{"suffix": ".png"}]}}), true),
            (
                json!({"detail": {"filename": [{"suffix": {"equals-ignore-case": ".PNG"}}]}}),
                true,
            ),
            (
                json!({"detail": {"state": [{"equals-ignore-case": "RUNNING"}]}}),
                true,
            ),
            (
                json!({"detail": {"state": [{"anything-but": "initializing"}]}}),
                true,
            ),
            (
                json!({"detail": {"state": [{"anything-but": ["stopped", "running"]}]}}),
                false,
            ),
            (
                json!({"detail": {"state": [{"anything-but": {"prefix": "init"}}]}}),
                true,
            ),
            (
                json!({"detail": {"state": [{"anything-but": {"prefix": "run"}}]}}),
                false,
            ),
            (
                json!({"detail": {"filename": [{"anything-but": {"suffix": ".txt"}}]}}),
                true,
            ),
            (
                json!({"detail": {"state": [{"anything-but": {"equals-ignore-case": ["RUNNING"]}}]}}),
                false,
            ),
            (
                json!({"detail": {"filename": [{"anything-but": {"wildcard": "*.txt"}}]}}),
                true,
            ),
            (
                json!({"detail": {"c-count": [{"numeric": [">", 0, "<=", 5]}]}}),
                true,
            ),
            (
                json!({"detail": {"d-count": [{"numeric": ["<", 10]}]}}),
                true,
            ),
            (
                json!({"detail": {"x-limit": [{"numeric": ["=", 301.8]}]}}),
                true,
            ),
            (
                json!({"detail": {"x-limit": [{"numeric": [">", 400]}]}}),
                false,
            ),
            (
                json!({"detail": {"source-ip": [{"cidr": "10.0.0.0/24"}]}}),
                true,
            ),
            (
                json!({"detail": {"source-ip": [{"cidr": "10.0.1.0/24"}]}}),
                false,
            ),
            (json!({"detail": {"state": [{"exists": true}]}}), true),
            (json!({"detail": {"nope": [{"exists": false}]}}), true),
            (json!({"detail": {"state": [{"exists": false}]}}), false),
            (json!({"detail": {"nope": [{"exists": true}]}}), false),
            (
                json!({"detail": {"location": [{"wildcard": "us-*-1"}]}}),
                true,
            ),
            (
                json!({"detail": {"location": [{"wildcard": "eu-*"}]}}),
                false,
            ),
            (
                json!({"detail": {"eventVersion": [{"wildcard": "1.0*"}]}}),
                true,
            ),
            (
                json!({"resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-02ebd4584a2ebd341"]}),
                true,
            ),
            (
                json!({"source": ["aws.ec2"], "$or": [{"detail": {"c-count": [{"numeric": [">", 10]}]}},
                                                    {"detail": {"d-count": [{"numeric": ["<", 5]}]}}]}),
                true,
            ),
            (
                json!({"$or": [{"detail": {"c-count": [{"numeric": [">", 10]}]}},
                            {"detail": {"d-count": [{"numeric": [">", 5]}]}}]}),
                false,
            ),
            (
                json!({"source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"],
                    "detail": {"state": ["running"]}}),
                true,
            ),
            // Missing fields match nothing but exists:false, not even anything-but.
            (json!({"detail": {"nope": [{"anything-but": "x"}]}}), false),
            (json!({"detail": {"nope": [{"prefix": ""}]}}), false),
        ];
        for (i, (pattern, want)) in cases.into_iter().enumerate() {
            assert_eq!(m(pattern.clone(), ec2.clone()), want, "case {i}: {pattern}");
        }
    }

    #[test]
    fn array_values_match_when_any_element_matches() {
        let ev = json!({"detail": {"tags": ["a", "b"], "items": [{"k": "x"}, {"k": "y"}]}});
        assert!(m(json!({"detail": {"tags": ["b"]}}), ev.clone()));
        assert!(!m(json!({"detail": {"tags": ["c"]}}), ev.clone()));
        assert!(m(json!({"detail": {"items": {"k": ["y"]}}}), ev.clone()));
        assert!(!m(json!({"detail": {"items": {"k": ["z"]}}}), ev));
    }

    #[test]
    fn null_and_empty_string_are_values() {
        assert!(m(
            json!({"detail": {"a": [null]}}),
            json!({"detail": {"a": null}})
        ));
        assert!(m(
            json!({"detail": {"a": [""]}}),
            json!({"detail": {"a": ""}})
        ));
        assert!(!m(json!({"detail": {"a": [""]}}), json!({"detail": {}})));
    }

    #[test]
    fn wildcard_escapes_and_backtracking() {
        assert!(wildcard_match("a*b*c", "aXXbYYc"));
        assert!(wildcard_match("*", ""));
        assert!(!wildcard_match("a*b", "aXXc"));
        assert!(wildcard_match(r"a\*b", "a*b"));
        assert!(!wildcard_match(r"a\*b", "aXb"));
        assert!(wildcard_match("*.png", "dir/x.png"));
    }

    #[test]
    fn invalid_patterns_name_the_place() {
        let bad = [
            (r#"{"source": "aws.ec2"}"#, "$.source"),
            (r#"{"source": []}"#, "$.source"),
            (
                r#"{"detail": {"n": [{"numeric": [">"]}]}}"#,
                "$.detail.n[0]",
            ),
            (r#"{"detail": {"n": [{"bogus": 1}]}}"#, "$.detail.n[0]"),
            (r#"{"$or": [{"a": ["x"]}]}"#, "$.$or"),
            (r#"{"a": [{"cidr": "10.0.0.0/33"}]}"#, "$.a[0]"),
            (r#"[1]"#, "$"),
            (r#"{"a": ["#, "$"),
        ];
        for (text, path) in bad {
            let e = Pattern::parse(text).unwrap_err();
            assert_eq!(e.path, path, "{text}: {e}");
        }
    }

    #[test]
    fn may_match_treats_unknown_fields_as_satisfiable() {
        let p = Pattern::parse(
            r#"{"source": ["stripe.webhook", {"prefix": "aws.partner/stripe.com"}],
                "detail": {"type": [{"prefix": "customer.subscription."}],
                           "data": {"object": {"status": ["active"]}}}}"#,
        )
        .unwrap();
        let k = |t: &str| Known::new().with("detail.type", json!(t));
        assert!(p.may_match(&k("customer.subscription.updated")));
        assert!(!p.may_match(&k("invoice.payment_failed")));
        assert!(
            p.may_match(
                &k("customer.subscription.updated")
                    .with("source", json!("aws.partner/stripe.com/ed_1"))
            )
        );
        assert!(!p.may_match(&k("customer.subscription.updated").with("source", json!("other"))));
        assert!(p.constrains("detail.type"));
        assert!(p.constrains("source"));
        assert!(!p.constrains("detail-type"));
    }

    #[test]
    fn exact_values_only_when_all_conditions_are_exact() {
        let p = Pattern::parse(r#"{"detail": {"type": ["a", "b"]}}"#).unwrap();
        assert_eq!(p.exact_values("detail.type").unwrap().len(), 2);
        let p = Pattern::parse(r#"{"detail": {"type": ["a", {"prefix": "b"}]}}"#).unwrap();
        assert!(p.exact_values("detail.type").is_none());
    }

    #[test]
    fn constrains_looks_into_or_branches() {
        let p = Pattern::parse(r#"{"$or": [{"detail-type": ["A"]}, {"detail": {"type": ["B"]}}]}"#)
            .unwrap();
        assert!(p.constrains("detail-type"));
        assert!(p.constrains("detail.type"));
        assert!(!p.constrains("source"));
        let k = Known::new().with("detail.type", json!("B"));
        assert!(p.may_match(&k));
    }
}
