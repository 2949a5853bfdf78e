//! A loaded playbook: its parameters and steps, each field's value as written (strings may
//! hold `${...}` references) with the line it came from.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::schema::{Kind, Ty};

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

/// `a, b,c` → [a, b, c]
pub fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

/// A JSON value as the text a reference to it stands for.
pub(crate) fn text_of(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Parameters as a run record keeps them (JSON).
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
