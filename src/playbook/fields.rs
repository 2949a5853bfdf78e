//! A step's fields resolved against a scope: `${...}` references substituted, each value
//! read as its field's type and checked against its range.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use serde::de::DeserializeOwned;

use super::load::{Step, Ty, Value, split_list};
use super::model::text_of;
use super::template::{self, Ref};
use crate::error::AppError;

/// What the steps may reference: parameters and earlier outputs.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub params: BTreeMap<String, Value>,
    pub outputs: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
}

/// Resolves one step's fields against a scope.
pub(super) struct Fields<'a> {
    pub(super) step: &'a Step,
    pub(super) scope: &'a Scope,
    /// References to outputs not known yet (planning only).
    pub(super) pending: Vec<String>,
}

impl<'a> Fields<'a> {
    pub(super) fn new(step: &'a Step, scope: &'a Scope) -> Fields<'a> {
        Fields {
            step,
            scope,
            pending: Vec::new(),
        }
    }

    /// A field's problem. The step is named by whoever reports it (`step_error` when
    /// planning, the run record when running), so it is not named here again.
    pub(super) fn bad(&self, key: &str, msg: impl std::fmt::Display) -> AppError {
        AppError::Usage(format!("`{key}`: {msg}"))
    }

    pub(super) fn render(&mut self, s: &str) -> Result<String, AppError> {
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
    pub(super) fn value(&mut self, key: &str) -> Result<Option<Value>, AppError> {
        let v = self.typed(key)?;
        if let Some(v) = &v {
            super::ranges::check(key, v).map_err(|e| AppError::Usage(e.message))?;
        }
        Ok(v)
    }

    pub(super) fn typed(&mut self, key: &str) -> Result<Option<Value>, AppError> {
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

    /// The step's fields, each resolved and checked as [`Fields::value`] does, read into its
    /// command's request `T` under the same names, as the flags are (serde). A text field
    /// left empty (`"${unset}"`) is absent, as an unset flag is.
    pub(super) fn read<T: DeserializeOwned>(&mut self) -> Result<T, AppError> {
        use serde_json::json;
        let step = self.step;
        let mut map = serde_json::Map::new();
        for key in step.fields.keys() {
            let Some(v) = self.value(key)? else { continue };
            let v = match (step.kind.field_type(key).unwrap_or(Ty::String), v) {
                (Ty::List, Value::List(l)) => json!(l),
                (Ty::List, v) => json!(split_list(&v.to_string())),
                (Ty::String | Ty::Duration | Ty::When, v) => match v.to_string() {
                    s if s.is_empty() => continue,
                    s => json!(s),
                },
                (_, Value::Str(s)) => json!(s),
                (_, Value::List(l)) => json!(l),
                (_, Value::Bool(b)) => json!(b),
                (_, Value::Int(i)) => json!(i),
                (_, Value::Number(n)) => json!(n),
            };
            map.insert(key.clone(), v);
        }
        serde_json::from_value(serde_json::Value::Object(map))
            .map_err(|e| AppError::Usage(format!("the step's fields do not fit: {e}")))
    }

    pub(super) fn str(&mut self, key: &str) -> Result<Option<String>, AppError> {
        Ok(self
            .value(key)?
            .map(|v| v.to_string())
            .filter(|s| !s.is_empty()))
    }

    pub(super) fn list(&mut self, key: &str) -> Result<Vec<String>, AppError> {
        Ok(match self.value(key)? {
            Some(Value::List(l)) => l,
            Some(v) => split_list(&v.to_string()),
            None => Vec::new(),
        })
    }

    pub(super) fn bool(&mut self, key: &str) -> Result<Option<bool>, AppError> {
        Ok(match self.value(key)? {
            Some(Value::Bool(b)) => Some(b),
            _ => None,
        })
    }

    pub(super) fn int(&mut self, key: &str) -> Result<Option<u64>, AppError> {
        match self.value(key)? {
            Some(Value::Int(i)) if i >= 0 => Ok(Some(i as u64)),
            Some(Value::Int(i)) => Err(self.bad(key, format!("{i} is negative"))),
            _ => Ok(None),
        }
    }

    pub(super) fn dur(&mut self, key: &str) -> Result<Option<Duration>, AppError> {
        match self.str(key)? {
            Some(s) if self.pending.is_empty() => crate::window::parse_duration(key, &s)
                .map(Some)
                .map_err(|e| self.bad(key, e)),
            _ => Ok(None),
        }
    }
}
