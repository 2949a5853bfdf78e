//! What an export captures, as one EventBridge pattern: the user's filter (event types in
//! their type fields, sources, event ids, a pattern of their own) joined with
//! `"replay-name": ["<this replay>"]`, so the temporary rule never matches live traffic.
//! The same compiled pattern is applied again locally to every captured event.
//!
//! Joining is an AND: fields of both sides are merged, and two `$or` lists become one
//! `$or` of every pair of branches. A field both sides constrain cannot be merged (within
//! a field EventBridge ORs the values), so that is refused with its path, and a user
//! pattern may not mention `replay-name` at all: the guard is the export's alone.

use serde_json::{Map, Value, json};

use crate::pattern::Pattern;

/// The event field a replay adds, holding the replay's name.
pub const REPLAY_NAME: &str = "replay-name";

/// The user's filter, as plain values. Empty lists filter nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportFilter {
    pub event_types: Vec<String>,
    /// Where the type lives, as dotted paths (`detail.type`, `detail-type`); an event
    /// matches when any of them holds a requested type. Empty: the replay default.
    pub type_fields: Vec<String>,
    pub sources: Vec<String>,
    /// An EventBridge pattern (JSON text).
    pub pattern: Option<String>,
    /// Event ids: the envelope `id`, or a `detail.id` (a Stripe event id).
    pub ids: Vec<String>,
}

/// The capture rule's pattern, as sent and as compiled for the local guard.
#[derive(Debug, Clone)]
pub struct CapturePattern {
    pub text: String,
    pub compiled: Pattern,
}

/// `{"a": {"b": values}}` for the dotted path `a.b`.
fn at_path(path: &str, values: &[String]) -> Result<Map<String, Value>, String> {
    let mut parts: Vec<&str> = path.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(format!(
            "type field {path:?} has an empty segment; write a dotted path such as detail.type"
        ));
    }
    let leaf = parts.pop().unwrap_or_default();
    let mut node = Map::from_iter([(leaf.to_string(), json!(values))]);
    while let Some(p) = parts.pop() {
        node = Map::from_iter([(p.to_string(), Value::Object(node))]);
    }
    Ok(node)
}

/// One condition, or `$or` of several (a single branch is the condition itself).
fn any_of(branches: Vec<Map<String, Value>>) -> Map<String, Value> {
    match <[_; 1]>::try_from(branches) {
        Ok([one]) => one,
        Err(many) => Map::from_iter([(
            "$or".to_string(),
            Value::Array(many.into_iter().map(Value::Object).collect()),
        )]),
    }
}

/// `a` AND `b` as one pattern object (see the module doc); `path` names where, for errors.
fn and(
    mut a: Map<String, Value>,
    mut b: Map<String, Value>,
    path: &str,
) -> Result<Map<String, Value>, String> {
    let ors = (a.remove("$or"), b.remove("$or"));
    for (key, vb) in b {
        let here = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        let merged = match a.remove(&key) {
            None => vb,
            Some(Value::Object(x)) if vb.is_object() => {
                let Value::Object(y) = vb else { unreachable!() };
                Value::Object(and(x, y, &here)?)
            }
            Some(_) => {
                return Err(format!(
                    "{here} is constrained twice (by the pattern and by another filter); put the condition in one place"
                ));
            }
        };
        a.insert(key, merged);
    }
    let branches = |v: Value| -> Vec<Map<String, Value>> {
        match v {
            Value::Array(bs) => bs
                .into_iter()
                .filter_map(|b| match b {
                    Value::Object(o) => Some(o),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    };
    let or = match ors {
        (None, None) => None,
        (Some(x), None) | (None, Some(x)) => Some(x),
        (Some(x), Some(y)) => {
            let (xs, ys) = (branches(x), branches(y));
            let mut product = Vec::with_capacity(xs.len() * ys.len());
            for bx in &xs {
                for by in &ys {
                    product.push(Value::Object(and(bx.clone(), by.clone(), path)?));
                }
            }
            Some(Value::Array(product))
        }
    };
    if let Some(or) = or {
        a.insert("$or".into(), or);
    }
    Ok(a)
}

/// Whether a pattern object (or any of its top-level `$or` branches) names `replay-name`.
fn mentions_replay_name(obj: &Map<String, Value>) -> bool {
    obj.contains_key(REPLAY_NAME)
        || obj.get("$or").and_then(Value::as_array).is_some_and(|bs| {
            bs.iter()
                .filter_map(Value::as_object)
                .any(mentions_replay_name)
        })
}

/// The pattern of the capture rule for `replay`: the filter AND the replay guard. The
/// error is a usage message.
pub fn capture_pattern(
    filter: &ExportFilter,
    type_fields: &[String],
    replay: &str,
) -> Result<CapturePattern, String> {
    let mut pattern = Map::from_iter([(REPLAY_NAME.to_string(), json!([replay]))]);
    if !filter.event_types.is_empty() {
        let by_field = type_fields
            .iter()
            .map(|f| at_path(f, &filter.event_types))
            .collect::<Result<Vec<_>, _>>()?;
        pattern = and(pattern, any_of(by_field), "")?;
    }
    if !filter.sources.is_empty() {
        pattern = and(pattern, at_path("source", &filter.sources)?, "")?;
    }
    if !filter.ids.is_empty() {
        let by_id = vec![
            at_path("id", &filter.ids)?,
            at_path("detail.id", &filter.ids)?,
        ];
        pattern = and(pattern, any_of(by_id), "")?;
    }
    if let Some(text) = &filter.pattern {
        Pattern::parse(text).map_err(|e| format!("--pattern: {e}"))?;
        let Ok(Value::Object(user)) = serde_json::from_str::<Value>(text) else {
            unreachable!("Pattern::parse accepted only a JSON object")
        };
        if mentions_replay_name(&user) {
            return Err(format!(
                "--pattern may not match on {REPLAY_NAME}: the export sets it to its own replay, so the temporary rule never forwards live events"
            ));
        }
        pattern = and(pattern, user, "").map_err(|e| format!("--pattern: {e}"))?;
    }
    let value = Value::Object(pattern);
    let compiled = Pattern::from_value(&value)
        .map_err(|e| format!("the combined capture pattern is invalid: {e}"))?;
    Ok(CapturePattern {
        text: value.to_string(),
        compiled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> Vec<String> {
        vec!["detail.type".into(), "detail-type".into()]
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn event(replay: Option<&str>, detail_type: &str, kind: &str) -> Value {
        let mut e = json!({
            "id": "e-1", "source": "stripe.webhook", "detail-type": detail_type,
            "time": "2025-09-08T14:00:00Z", "detail": {"id": "evt_1", "type": kind}
        });
        if let Some(r) = replay {
            e[REPLAY_NAME] = json!(r);
        }
        e
    }

    #[test]
    fn no_filter_captures_only_this_replay() {
        let p = capture_pattern(&ExportFilter::default(), &fields(), "nexus-export-x").unwrap();
        assert_eq!(p.text, r#"{"replay-name":["nexus-export-x"]}"#);
        assert!(p.compiled.matches(&event(Some("nexus-export-x"), "t", "k")));
        assert!(!p.compiled.matches(&event(None, "t", "k")), "live traffic");
        assert!(!p.compiled.matches(&event(Some("other"), "t", "k")));
    }

    #[test]
    fn types_match_in_any_type_field_and_sources_and_ids_narrow() {
        let filter = ExportFilter {
            event_types: s(&["invoice.paid"]),
            sources: s(&["stripe.webhook"]),
            ids: s(&["evt_1"]),
            ..ExportFilter::default()
        };
        let p = capture_pattern(&filter, &fields(), "r").unwrap();
        let v: Value = serde_json::from_str(&p.text).unwrap();
        assert_eq!(v[REPLAY_NAME], json!(["r"]));
        assert_eq!(v["source"], json!(["stripe.webhook"]));
        assert_eq!(v["$or"].as_array().unwrap().len(), 4, "{v}");
        let m = |e: &Value| p.compiled.matches(e);
        assert!(m(&event(Some("r"), "x", "invoice.paid")));
        assert!(m(&event(Some("r"), "invoice.paid", "x")));
        assert!(!m(&event(Some("r"), "x", "invoice.created")));
        assert!(!m(&event(None, "invoice.paid", "invoice.paid")));
        let mut other_id = event(Some("r"), "x", "invoice.paid");
        other_id["detail"]["id"] = json!("evt_2");
        assert!(!m(&other_id));
        other_id["id"] = json!("evt_1");
        assert!(m(&other_id), "the envelope id matches too");
    }

    #[test]
    fn a_single_type_field_needs_no_or() {
        let filter = ExportFilter {
            event_types: s(&["a", "b"]),
            ..ExportFilter::default()
        };
        let p = capture_pattern(&filter, &s(&["detail-type"]), "r").unwrap();
        let v: Value = serde_json::from_str(&p.text).unwrap();
        assert_eq!(v, json!({"detail-type": ["a", "b"], "replay-name": ["r"]}));
    }

    #[test]
    fn a_user_pattern_is_joined_and_its_or_multiplies() {
        let filter = ExportFilter {
            event_types: s(&["invoice.paid"]),
            pattern: Some(
                r#"{"detail": {"amount": [{"numeric": [">", 100]}]}, "$or": [{"source": ["a"]}, {"source": ["b"]}]}"#
                    .into(),
            ),
            ..ExportFilter::default()
        };
        let p = capture_pattern(&filter, &fields(), "r").unwrap();
        let v: Value = serde_json::from_str(&p.text).unwrap();
        assert_eq!(v["detail"]["amount"], json!([{"numeric": [">", 100]}]));
        assert_eq!(v["$or"].as_array().unwrap().len(), 4);
        let mut e = event(Some("r"), "x", "invoice.paid");
        e["source"] = json!("b");
        e["detail"]["amount"] = json!(150);
        assert!(p.compiled.matches(&e));
        e["detail"]["amount"] = json!(50);
        assert!(!p.compiled.matches(&e));
    }

    #[test]
    fn the_guard_cannot_be_removed_or_loosened() {
        for bad in [
            r#"{"replay-name": [{"exists": false}]}"#,
            r#"{"$or": [{"replay-name": [{"exists": true}]}, {"source": ["x"]}]}"#,
        ] {
            let filter = ExportFilter {
                pattern: Some(bad.into()),
                ..ExportFilter::default()
            };
            let e = capture_pattern(&filter, &fields(), "r").unwrap_err();
            assert!(e.contains("may not match on replay-name"), "{bad}: {e}");
        }
    }

    #[test]
    fn conflicts_and_bad_patterns_are_usage_errors_naming_the_place() {
        let filter = ExportFilter {
            sources: s(&["a"]),
            pattern: Some(r#"{"source": ["b"]}"#.into()),
            ..ExportFilter::default()
        };
        let e = capture_pattern(&filter, &fields(), "r").unwrap_err();
        assert!(e.contains("source is constrained twice"), "{e}");
        let filter = ExportFilter {
            pattern: Some(r#"{"source": "b"}"#.into()),
            ..ExportFilter::default()
        };
        let e = capture_pattern(&filter, &fields(), "r").unwrap_err();
        assert!(
            e.starts_with("--pattern: invalid event pattern at $.source"),
            "{e}"
        );
        let filter = ExportFilter {
            event_types: s(&["t"]),
            ..ExportFilter::default()
        };
        assert!(capture_pattern(&filter, &s(&["detail..type"]), "r").is_err());
    }
}
