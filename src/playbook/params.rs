//! `--set NAME=VALUE`: each value read as its parameter's declared type; a resumed run's
//! values, then the defaults, fill what is not set.

use std::collections::BTreeMap;

use chrono::Utc;

use super::load::{Playbook, Ty, Value, split_list};
use crate::error::AppError;

/// Reads `--set k=v` values against the declared parameters; `base` fills what is not set
/// (a resumed run's parameters), then defaults.
pub fn resolve_params(
    pb: &Playbook,
    sets: &[(String, String)],
    base: Option<&BTreeMap<String, Value>>,
) -> Result<BTreeMap<String, Value>, AppError> {
    resolve_params_with_bus(pb, sets, base, None)
}

/// The parameter that takes the default bus when it declares no default of its own.
pub const BUS_PARAM: &str = "bus";

/// [`resolve_params`], where a `bus` parameter without a default takes `default_bus` (from
/// `--bus`, `NEXUS_REPLAY_BUS` or the config file).
pub fn resolve_params_with_bus(
    pb: &Playbook,
    sets: &[(String, String)],
    base: Option<&BTreeMap<String, Value>>,
    default_bus: Option<&str>,
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
        } else if p.name == BUS_PARAM && p.ty == Ty::String {
            let Some(bus) = default_bus else {
                return Err(AppError::usage(format!(
                    "playbook {} needs parameter `{BUS_PARAM}` ({}): set --set bus=NAME or NEXUS_REPLAY_BUS (or --bus NAME, or bus = \"...\" in nexus-replay.toml)",
                    pb.name, p.help
                )));
            };
            out.insert(p.name.clone(), Value::Str(bus.to_string()));
        } else {
            return Err(AppError::usage(format!(
                "playbook {} needs parameter `{}` ({}): pass --set {}=VALUE",
                pb.name, p.name, p.help, p.name
            )));
        }
    }
    Ok(out)
}
