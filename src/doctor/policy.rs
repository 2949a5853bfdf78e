//! Reading IAM-style policy documents (queue policies, key policies, role trust policies) to
//! answer one question: may this service principal make this call on this resource, in this
//! request context? An explicit Deny that applies wins; otherwise an Allow must apply.
//!
//! The condition operators are evaluated as IAM does for the string, ARN, `Bool` and `Null`
//! families (with `IfExists` and the `ForAnyValue:`/`ForAllValues:` set prefixes, which act as
//! the plain operator on the single-valued keys read here). A key absent from the context
//! makes a positive operator false and a negated one (`...Not...`) true. An operator outside
//! those families cannot be decided: such an Allow does not count, such a Deny does.

use serde_json::Value;

/// The call to decide.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The service principal, e.g. `events.amazonaws.com`.
    pub service: &'a str,
    /// The action, e.g. `sqs:SendMessage`.
    pub action: &'a str,
    /// The resource ARN; None where the policy's resource is implied (trust policies).
    pub resource: Option<&'a str>,
    /// Condition keys and their values (`aws:SourceArn`, `aws:SourceAccount`, ...).
    pub context: &'a [(&'a str, &'a str)],
}

/// What the policy answers for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// An Allow statement applies (its Sid, or its position from 1).
    Allowed(String),
    /// A Deny statement applies.
    Denied(String),
    /// No statement applies.
    NotAllowed,
}

/// A policy that is not a JSON policy document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the policy is not a JSON policy document: {0}")]
pub struct BadPolicy(pub String);

/// Decides `req` against the policy text. IAM trust policies come URL-encoded from
/// `GetRole`; such text is decoded first.
pub fn decide(policy: &str, req: &Request) -> Result<Decision, BadPolicy> {
    let doc: Value = match serde_json::from_str(policy) {
        Ok(v) => v,
        Err(first) => serde_json::from_str(&percent_decode(policy))
            .map_err(|_| BadPolicy(first.to_string()))?,
    };
    let statements = match doc.get("Statement") {
        Some(Value::Array(s)) => s.clone(),
        Some(s @ Value::Object(_)) => vec![s.clone()],
        _ => return Err(BadPolicy("no Statement".into())),
    };
    let mut allowed = None;
    for (i, st) in statements.iter().enumerate() {
        let name = st
            .get("Sid")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(|s| format!("statement {s}"))
            .unwrap_or_else(|| format!("statement #{}", i + 1));
        let deny = match st.get("Effect").and_then(Value::as_str) {
            Some("Allow") => false,
            Some("Deny") => true,
            other => return Err(BadPolicy(format!("{name} has Effect {other:?}"))),
        };
        if !statement_matches(st, req) {
            continue;
        }
        match conditions(st.get("Condition"), req.context) {
            Some(true) => {}
            Some(false) => continue,
            // Undecidable: an Allow is not counted on, a Deny is.
            None if deny => {}
            None => continue,
        }
        if deny {
            return Ok(Decision::Denied(name));
        }
        allowed.get_or_insert(name);
    }
    Ok(allowed.map_or(Decision::NotAllowed, Decision::Allowed))
}

/// `Principal`/`NotPrincipal`, `Action`/`NotAction` and `Resource`/`NotResource`.
fn statement_matches(st: &Value, req: &Request) -> bool {
    let principal = match (st.get("Principal"), st.get("NotPrincipal")) {
        (Some(p), _) => principal_matches(p, req.service),
        (None, Some(p)) => !principal_matches(p, req.service),
        (None, None) => false,
    };
    let action = match (st.get("Action"), st.get("NotAction")) {
        (Some(a), _) => {
            strings(a).any(|p| glob(&p.to_ascii_lowercase(), &req.action.to_ascii_lowercase()))
        }
        (None, Some(a)) => {
            !strings(a).any(|p| glob(&p.to_ascii_lowercase(), &req.action.to_ascii_lowercase()))
        }
        (None, None) => false,
    };
    let resource = match (req.resource, st.get("Resource"), st.get("NotResource")) {
        (None, _, _) | (Some(_), None, None) => true,
        (Some(r), Some(p), _) => strings(p).any(|p| glob(p, r)),
        (Some(r), None, Some(p)) => !strings(p).any(|p| glob(p, r)),
    };
    principal && action && resource
}

/// `"*"`, `{"AWS": "*"}` (everyone) or `{"Service": ...}` naming the service.
fn principal_matches(p: &Value, service: &str) -> bool {
    match p {
        Value::String(s) => s == "*",
        Value::Object(m) => {
            m.get("AWS").is_some_and(|a| strings(a).any(|s| s == "*"))
                || m.get("Service")
                    .is_some_and(|s| strings(s).any(|s| s.eq_ignore_ascii_case(service)))
        }
        _ => false,
    }
}

/// A string or a list of strings (anything else: none).
fn strings(v: &Value) -> impl Iterator<Item = &str> {
    let list: Vec<&str> = match v {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    list.into_iter()
}

/// Every condition block holds (Some(true)), one does not (Some(false)), or one cannot be
/// decided (None).
fn conditions(block: Option<&Value>, context: &[(&str, &str)]) -> Option<bool> {
    let Some(Value::Object(ops)) = block else {
        return Some(block.is_none_or(Value::is_null));
    };
    let mut undecided = false;
    for (op, keys) in ops {
        let Value::Object(keys) = keys else {
            return Some(false);
        };
        for (key, wanted) in keys {
            let actual = context
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| *v);
            let wanted: Vec<String> = match wanted {
                Value::Array(a) => a.iter().map(scalar).collect(),
                v => vec![scalar(v)],
            };
            match condition(op, actual, &wanted) {
                Some(true) => {}
                Some(false) => return Some(false),
                None => undecided = true,
            }
        }
    }
    if undecided { None } else { Some(true) }
}

/// A condition value as text (`true`, `123` and `"x"` alike).
fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One operator on one key.
fn condition(op: &str, actual: Option<&str>, wanted: &[String]) -> Option<bool> {
    let op = op
        .strip_prefix("ForAnyValue:")
        .or_else(|| op.strip_prefix("ForAllValues:"))
        .unwrap_or(op);
    let (base, if_exists) = match op.strip_suffix("IfExists") {
        Some(b) => (b, true),
        None => (op, false),
    };
    if base == "Null" {
        let absent = actual.is_none();
        return Some(
            wanted
                .iter()
                .any(|w| w.eq_ignore_ascii_case(&absent.to_string())),
        );
    }
    let negated = base.contains("Not");
    let Some(actual) = actual else {
        return Some(if_exists || negated);
    };
    let any = |f: &dyn Fn(&str) -> bool| wanted.iter().any(|w| f(w));
    let positive = match base.replace("Not", "").as_str() {
        "StringEquals" => any(&|w| w == actual),
        "StringEqualsIgnoreCase" => any(&|w| w.eq_ignore_ascii_case(actual)),
        "StringLike" | "ArnLike" | "ArnEquals" => any(&|w| glob(w, actual)),
        "Bool" => any(&|w| w.eq_ignore_ascii_case(actual)),
        _ => return None,
    };
    Some(positive != negated)
}

/// `*` matches any run of characters, `?` any one character.
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // reach[j]: the pattern read so far can match t[..j].
    let mut reach = vec![false; t.len() + 1];
    reach[0] = true;
    for c in &p {
        let mut next = vec![false; t.len() + 1];
        for j in 0..=t.len() {
            if *c == '*' {
                next[j] = reach[j] || (j > 0 && next[j - 1]);
            } else if j > 0 && reach[j - 1] && (*c == '?' || *c == t[j - 1]) {
                next[j] = true;
            }
        }
        reach = next;
    }
    reach[t.len()]
}

/// `%XX` escapes decoded (IAM's URL-encoded documents); anything else kept.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
