//! A dead-lettered event: parsing the DLQ body as an EventBridge envelope, choosing its
//! dedup key and content digest, and building the PutEvents entry that re-emits it with
//! `nexus_replay` metadata in its detail.
//!
//! **Dedup keys.** Two messages with one key are taken as copies of one event: one is
//! re-emitted, the others are deleted as duplicates. So a key must name an *event*:
//! - An earlier re-emit's key (`nexus_replay.dedup_key`) is kept.
//! - The default (`DedupSpec::Default`) is `detail.id` only where it is a Stripe event id:
//!   a string starting with `evt_`, or any string `detail.id` of an event from a Stripe
//!   source (`is_stripe_source`); the webhook and partner copies of one Stripe event share
//!   it. Otherwise the envelope `id`: `OrderCreated` and `OrderShipped` of one order may
//!   share `detail.id` and still be two events.
//! - `--dedup-key PATH` takes the value at PATH; `--dedup-key hash` the content's SHA-256.
//! - A blank value (empty, or only whitespace) is never a key. A blank inherited key falls
//!   through to the choice above, a blank `detail.id` to the envelope id; a blank value at
//!   an explicit PATH makes the message poison (it stays, or is parked).
//! - A key keeps its value's type. A string is used as it is (`evt_1`: ledger records and
//!   consumers already hold such keys); a number becomes `number:` + its JSON text
//!   (`number:1`) and a boolean `bool:true` / `bool:false`, so the number 1 and the string
//!   "1" are two keys. A string that itself starts with `number:`, `bool:` or `string:`
//!   gets `string:` in front, so no two values ever share a key.
//!
//! **Content digests.** Every claim records a digest of the event's content in the ledger,
//! and a message whose key is already re-emitted with another digest is a conflict, not a
//! duplicate (the engine leaves it in the queue). The digest is SHA-256 of the canonical
//! JSON that `hash` keys use (`canonical`: object keys sorted at every level, no spaces) of
//! `{"detail":…,"detail-type":…,"source":…}`, the detail without an earlier re-emit's
//! `nexus_replay` object, written `sha256:HEX` (the same text as the `hash` key). An event
//! that carries a Stripe event id (the one the default key takes) is digested on its
//! detail alone, the Stripe event object, written `sha256-detail:HEX`: the webhook and
//! partner copies of one Stripe event differ in source and detail-type, not in detail.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::arn::{Arn, RuleArn};
use crate::ports::sink::PutEntry;

/// The object added to a re-emitted event's `detail`.
pub const META_FIELD: &str = "nexus_replay";

/// A DLQ message body read as an EventBridge event. The detail is not copied out of the
/// body: `detail()` reads it in place, and `entry` moves it into the re-emitted event.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// The whole body, as received (its detail still holds any `nexus_replay` object).
    /// Private: only `parse` builds an envelope, so its detail is always an object.
    value: Value,
    pub id: Option<String>,
    pub source: String,
    pub detail_type: String,
    pub time: Option<DateTime<Utc>>,
    pub resources: Vec<String>,
    /// The `nexus_replay` object of an earlier re-emit, if any.
    pub meta: Option<Map<String, Value>>,
    /// Object keys that appeared more than once in the body (the last value was kept).
    pub duplicate_keys: Vec<String>,
}

impl Envelope {
    /// The whole body, as received.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The detail as received; `detail_field` skips an earlier `nexus_replay` object.
    fn detail(&self) -> &Map<String, Value> {
        match self.value.get("detail") {
            Some(Value::Object(d)) => d,
            // `parse` only builds envelopes whose detail is an object.
            _ => unreachable!("an Envelope's detail is an object"),
        }
    }

    /// A field of the detail (never the `nexus_replay` object of an earlier re-emit).
    pub fn detail_field(&self, name: &str) -> Option<&Value> {
        (name != META_FIELD)
            .then(|| self.detail().get(name))
            .flatten()
    }

    /// The Stripe event id in `detail.id`: a string that is not blank and starts with
    /// `evt_` or comes from a Stripe source.
    pub fn stripe_event_id(&self) -> Option<&str> {
        stripe_event_id_in(&self.source, self.detail())
    }
}

/// The Stripe event id of an event with this source and detail (see
/// `Envelope::stripe_event_id`); also how `stripe reconcile` reads an archive export.
pub(crate) fn stripe_event_id_in<'a>(
    source: &str,
    detail: &'a Map<String, Value>,
) -> Option<&'a str> {
    let id = detail.get("id")?.as_str()?;
    (!blank(id) && (id.starts_with("evt_") || is_stripe_source(source))).then_some(id)
}

/// Stripe's event sources: the webhook source and Stripe's partner event sources.
pub fn is_stripe_source(source: &str) -> bool {
    source == "stripe.webhook" || source.starts_with("aws.partner/stripe.com")
}

/// Empty or only whitespace: never a dedup key.
fn blank(s: &str) -> bool {
    s.trim().is_empty()
}

/// Why a body cannot be re-emitted.
pub fn parse(body: &str) -> Result<Envelope, String> {
    let (value, duplicate_keys) = super::json_keys::parse_noting_duplicates(body)
        .map_err(|e| format!("body is not JSON ({e})"))?;
    let obj = value
        .as_object()
        .ok_or("body is JSON but not an object, so not an EventBridge event")?;
    let text = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_string);
    let source = text("source").ok_or("body is not an EventBridge event: no string \"source\"")?;
    let detail_type =
        text("detail-type").ok_or("body is not an EventBridge event: no string \"detail-type\"")?;
    let detail = obj
        .get("detail")
        .and_then(Value::as_object)
        .ok_or("body is not an EventBridge event: \"detail\" is missing or not an object")?;
    let meta = match detail.get(META_FIELD) {
        Some(Value::Object(m)) => Some(m.clone()),
        _ => None,
    };
    let time = match obj.get("time") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) => Some(
            DateTime::parse_from_rfc3339(t)
                .map_err(|_| format!("\"time\" {t:?} is not an RFC 3339 time"))?
                .with_timezone(&Utc),
        ),
        Some(_) => return Err("\"time\" is not a string".into()),
    };
    let resources = match obj.get("resources") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|r| {
                r.as_str()
                    .map(str::to_string)
                    .ok_or("\"resources\" holds a non-string")
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("\"resources\" is not a list".into()),
    };
    Ok(Envelope {
        id: text("id"),
        source,
        detail_type,
        time,
        resources,
        meta,
        duplicate_keys,
        value,
    })
}

/// How the dedup key is chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DedupSpec {
    /// `detail.id` when it is a Stripe event id (`Envelope::stripe_event_id`), else the
    /// envelope `id`.
    Default,
    /// A dotted path into the envelope (`detail.data.object.id`).
    Path(Vec<String>),
    /// SHA-256 of canonical source, detail-type and detail.
    Hash,
}

impl DedupSpec {
    pub fn parse(s: &str) -> Result<DedupSpec, String> {
        match s {
            "" => Err("--dedup-key needs a dotted path (detail.id) or hash".into()),
            "hash" => Ok(DedupSpec::Hash),
            "default" => Ok(DedupSpec::Default),
            path => {
                let parts: Vec<String> = path.split('.').map(str::to_string).collect();
                if parts.iter().any(String::is_empty) {
                    return Err(format!(
                        "--dedup-key {path:?}: empty segment in the dotted path"
                    ));
                }
                Ok(DedupSpec::Path(parts))
            }
        }
    }
}

fn lookup<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(v, |cur, seg| cur.get(seg))
}

/// What a value found at a dedup-key path gives.
enum Found {
    Key(String),
    Blank,
    NotAScalar,
}

/// A JSON value as a dedup key, its type kept (see the module doc).
fn key_of(v: &Value) -> Found {
    match v {
        Value::String(s) if blank(s) => Found::Blank,
        Value::String(s) => Found::Key(string_key(s)),
        Value::Number(n) => Found::Key(format!("number:{n}")),
        Value::Bool(b) => Found::Key(format!("bool:{b}")),
        _ => Found::NotAScalar,
    }
}

/// A string as a key: itself, unless it looks like a typed key (or an escaped string).
fn string_key(s: &str) -> String {
    if ["number:", "bool:", "string:"]
        .iter()
        .any(|p| s.starts_with(p))
    {
        format!("string:{s}")
    } else {
        s.to_string()
    }
}

/// The dedup key: an earlier re-emit's key is kept; otherwise by `spec`. A blank value is
/// never a key (see the module doc).
pub fn dedup_key(env: &Envelope, spec: &DedupSpec) -> Result<String, String> {
    if let Some(k) = env
        .meta
        .as_ref()
        .and_then(|m| m.get("dedup_key"))
        .and_then(Value::as_str)
        .filter(|k| !blank(k))
    {
        return Ok(k.to_string());
    }
    match spec {
        DedupSpec::Default => env
            .stripe_event_id()
            .or(env.id.as_deref().filter(|id| !blank(id)))
            .map(string_key)
            .ok_or_else(|| "no dedup key: the event has no Stripe event id in detail.id and no envelope id (or a blank one); use --dedup-key PATH or hash".into()),
        DedupSpec::Path(path) => {
            let found = match path.split_first() {
                Some((first, rest)) if first == "detail" => rest
                    .split_first()
                    .and_then(|(field, rest)| lookup(env.detail_field(field)?, rest)),
                _ => lookup(&env.value, path),
            };
            let shown = path.join(".");
            match found.map(key_of) {
                Some(Found::Key(k)) => Ok(k),
                Some(Found::Blank) => Err(format!(
                    "no dedup key: {shown} is blank (empty or only whitespace), and a blank value is never a key; pick another --dedup-key (or hash)"
                )),
                _ => Err(format!(
                    "no dedup key: {shown} is missing or not a string, number or boolean"
                )),
            }
        }
        DedupSpec::Hash => Ok(hash_key(env)),
    }
}

/// JSON text with object keys sorted at every level (serde_json may keep insertion order).
fn canonical(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Object(m) => canonical_object(m.iter(), out),
        Value::Array(a) => {
            out.push(b'[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                canonical(x, out);
            }
            out.push(b']');
        }
        scalar => json_into(scalar, out),
    }
}

/// Compact JSON of a scalar or a string (writing to memory cannot fail).
fn json_into<T: Serialize + ?Sized>(v: &T, out: &mut Vec<u8>) {
    serde_json::to_writer(out, v).expect("JSON of a plain value, written to memory");
}

fn canonical_object<'a>(fields: impl Iterator<Item = (&'a String, &'a Value)>, out: &mut Vec<u8>) {
    let mut fields: Vec<_> = fields.collect();
    fields.sort_by_key(|(k, _)| *k);
    out.push(b'{');
    for (i, (k, v)) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json_into(k.as_str(), out);
        out.push(b':');
        canonical(v, out);
    }
    out.push(b'}');
}

/// The detail as received, without an earlier re-emit's `nexus_replay` object, as canonical
/// JSON.
fn canonical_detail(env: &Envelope, out: &mut Vec<u8>) {
    canonical_object(
        env.detail()
            .iter()
            .filter(|(k, _)| k.as_str() != META_FIELD),
        out,
    );
}

/// `prefix` + lowercase hex of the SHA-256 of `text`.
fn sha256_text(prefix: &str, text: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(prefix.len() + 64);
    out.push_str(prefix);
    for b in Sha256::digest(text) {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// `sha256:` + hex of canonical JSON (sorted keys) of source, detail-type and detail.
pub fn hash_key(env: &Envelope) -> String {
    // {"detail":…,"detail-type":…,"source":…}, keys in order, the detail without an
    // earlier `nexus_replay` object.
    let mut text = Vec::with_capacity(1024);
    text.extend_from_slice(b"{\"detail\":");
    canonical_detail(env, &mut text);
    text.extend_from_slice(b",\"detail-type\":");
    json_into(env.detail_type.as_str(), &mut text);
    text.extend_from_slice(b",\"source\":");
    json_into(env.source.as_str(), &mut text);
    text.push(b'}');
    sha256_text("sha256:", &text)
}

/// The digest of the event's content that its ledger claim records (see the module doc):
/// the `hash` key, or for an event with a Stripe event id `sha256-detail:` + hex of its
/// canonical detail alone.
pub fn content_digest(env: &Envelope) -> String {
    if env.stripe_event_id().is_none() {
        return hash_key(env);
    }
    let mut text = Vec::with_capacity(1024);
    canonical_detail(env, &mut text);
    sha256_text("sha256-detail:", &text)
}

/// The redrive generation this re-emit will be: one more than the event carries, 1 for an
/// event never re-emitted. A `redrive` that is not a count this tool could have written (not
/// a whole number, negative, a string, or so large that one more does not fit) says why: the
/// caller treats it as over `--max-redrives`, because wrapping it round would skip the cap.
pub fn redrive_of(env: &Envelope) -> Result<u32, String> {
    let Some(v) = env.meta.as_ref().and_then(|m| m.get("redrive")) else {
        return Ok(1);
    };
    v.as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .and_then(|n| n.checked_add(1))
        .ok_or_else(|| {
            format!(
                "{META_FIELD}.redrive {v} is not a redrive count (a whole number below {})",
                u32::MAX
            )
        })
}

/// Where a re-emit came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Origin {
    pub queue: String,
    pub rule_arn: Option<String>,
    pub error_code: Option<String>,
    pub run_id: String,
}

/// The bus to re-emit a message to, from its `RULE_ARN` (`…:rule/BUS/NAME`, or
/// `…:rule/NAME` for `default`), read from the queue with ARN `queue_arn`; or why there is
/// none. A rule ARN that does not parse, or that names another account or Region than the
/// queue's, has no destination here: a same-named bus in this account is not the rule's.
pub fn bus_of_rule_arn(arn: &str, queue_arn: &str) -> Result<String, String> {
    let rule = RuleArn::parse(arn).map_err(|e| format!("RULE_ARN {arn:?} {e}"))?;
    let home = Arn::parse(queue_arn).map_err(|e| {
        format!(
            "the queue's ARN {queue_arn:?} {e}, so the account and Region of RULE_ARN {arn:?} cannot be checked"
        )
    })?;
    match rule.foreign_to(&home) {
        Some(why) => Err(format!("RULE_ARN {arn:?} {why}")),
        None => Ok(rule.bus),
    }
}

/// The re-emit entry: source, detail-type, resources and the original time are kept; the
/// detail gains `nexus_replay` (replacing an earlier one). Consumes the envelope, so the
/// detail moves into the entry instead of being copied.
pub fn entry(mut env: Envelope, key: &str, redrive: u32, bus: &str, origin: &Origin) -> PutEntry {
    let first = |field: &str, fallback: Value| {
        env.meta
            .as_ref()
            .and_then(|m| m.get(field))
            .cloned()
            .unwrap_or(fallback)
    };
    let meta = json!({
        "dedup_key": key,
        "original_id": first("original_id", env.id.clone().map(Value::String).unwrap_or(Value::Null)),
        "original_time": first("original_time", env.time.map(|t| Value::String(t.to_rfc3339())).unwrap_or(Value::Null)),
        "queue": origin.queue,
        "rule_arn": origin.rule_arn,
        "error_code": origin.error_code,
        "redrive": redrive,
        "run_id": origin.run_id,
    });
    let mut detail = match env.value.get_mut("detail").map(Value::take) {
        Some(Value::Object(d)) => d,
        _ => unreachable!("an Envelope's detail is an object"),
    };
    detail.insert(META_FIELD.into(), meta);
    PutEntry {
        bus: bus.to_string(),
        source: env.source,
        detail_type: env.detail_type,
        detail: Value::Object(detail).to_string(),
        resources: env.resources,
        time: env.time,
    }
}

/// The event as a rule on the destination bus would see it (for the dry-run blast radius).
pub fn as_delivered(entry: &PutEntry, account: &str, region: &str) -> Value {
    json!({
        "version": "0",
        "account": account,
        "region": region,
        "source": entry.source,
        "detail-type": entry.detail_type,
        "resources": entry.resources,
        "time": entry.time.map(|t| t.to_rfc3339()),
        "detail": serde_json::from_str::<Value>(&entry.detail).unwrap_or(Value::Null),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = r#"{"version":"0","id":"env-1","detail-type":"Stripe Webhook Event","source":"stripe.webhook",
        "account":"123456789012","time":"2025-09-08T14:05:00Z","region":"us-east-2","resources":["arn:r"],
        "detail":{"id":"evt_123","type":"customer.subscription.updated","data":{"object":{"id":"sub_9","n":7}}}}"#;

    fn origin() -> Origin {
        Origin {
            queue: "q-dlq".into(),
            rule_arn: Some("arn:aws:events:us-east-2:123456789012:rule/bus-a/r1".into()),
            error_code: Some("ERROR_FROM_TARGET".into()),
            run_id: "run-1".into(),
        }
    }

    #[test]
    fn parses_an_envelope() {
        let e = parse(BODY).unwrap();
        assert_eq!(e.source, "stripe.webhook");
        assert_eq!(e.detail_type, "Stripe Webhook Event");
        assert_eq!(e.id.as_deref(), Some("env-1"));
        assert_eq!(e.resources, ["arn:r"]);
        assert_eq!(e.time.unwrap().to_rfc3339(), "2025-09-08T14:05:00+00:00");
        assert!(e.meta.is_none());
    }

    #[test]
    fn malformed_bodies_say_why() {
        for (body, why) in [
            ("not json", "not JSON"),
            ("[1,2]", "not an object"),
            (r#"{"detail-type":"x","detail":{}}"#, "\"source\""),
            (r#"{"source":"s","detail":{}}"#, "\"detail-type\""),
            (
                r#"{"source":"s","detail-type":"x","detail":"str"}"#,
                "\"detail\"",
            ),
            (
                r#"{"source":"s","detail-type":"x","detail":{},"time":"yesterday"}"#,
                "RFC 3339",
            ),
            (
                r#"{"source":"s","detail-type":"x","detail":{},"resources":[1]}"#,
                "non-string",
            ),
        ] {
            let e = parse(body).unwrap_err();
            assert!(e.contains(why), "{body}: {e}");
        }
    }

    #[test]
    fn dedup_keys() {
        let e = parse(BODY).unwrap();
        assert_eq!(dedup_key(&e, &DedupSpec::Default).unwrap(), "evt_123");
        let no_detail_id =
            parse(r#"{"id":"env-2","source":"s","detail-type":"x","detail":{"n":1}}"#).unwrap();
        assert_eq!(
            dedup_key(&no_detail_id, &DedupSpec::Default).unwrap(),
            "env-2"
        );
        let path = DedupSpec::parse("detail.data.object.id").unwrap();
        assert_eq!(dedup_key(&e, &path).unwrap(), "sub_9");
        assert_eq!(
            dedup_key(&e, &DedupSpec::parse("detail.data.object.n").unwrap()).unwrap(),
            "number:7"
        );
        assert!(
            dedup_key(&e, &DedupSpec::parse("detail.nope").unwrap())
                .unwrap_err()
                .contains("detail.nope")
        );
        let h = dedup_key(&e, &DedupSpec::Hash).unwrap();
        assert!(h.starts_with("sha256:") && h.len() == 71);
        // Key order and the envelope id do not change the hash.
        let reordered = parse(r#"{"id":"other","source":"stripe.webhook","detail-type":"Stripe Webhook Event",
            "detail":{"type":"customer.subscription.updated","data":{"object":{"n":7,"id":"sub_9"}},"id":"evt_123"}}"#).unwrap();
        assert_eq!(hash_key(&reordered), h);
        // Ledger records outlive versions of the tool, so the hash is pinned: SHA-256 of
        // {"detail":{…sorted…},"detail-type":…,"source":…} with no spaces, and an earlier
        // re-emit's `nexus_replay` object is not part of it.
        assert_eq!(
            h,
            "sha256:d00cdc1fcbc234f55d43020b162ae2ff03d39f0f3b05d937868d9172e3cd39f4"
        );
        let mut with_meta: Value = serde_json::from_str(BODY).unwrap();
        with_meta["detail"][META_FIELD] = json!({"run_id": "run-0", "redrive": 1});
        assert_eq!(hash_key(&parse(&with_meta.to_string()).unwrap()), h);
        // The meta object is not a path into the detail either.
        assert!(
            dedup_key(
                &parse(&with_meta.to_string()).unwrap(),
                &DedupSpec::parse("detail.nexus_replay.run_id").unwrap()
            )
            .is_err()
        );
        assert!(DedupSpec::parse("a..b").is_err());
    }

    /// An event with `detail` and envelope fields as given.
    fn event(id: Option<&str>, source: &str, detail_type: &str, detail: Value) -> Envelope {
        let mut v = json!({"source": source, "detail-type": detail_type, "detail": detail});
        if let Some(id) = id {
            v["id"] = json!(id);
        }
        parse(&v.to_string()).unwrap()
    }

    fn default_key(e: &Envelope) -> Result<String, String> {
        dedup_key(e, &DedupSpec::Default)
    }

    #[test]
    fn a_blank_value_is_never_a_key() {
        // Issue 19: three events with an empty detail.id were taken as one.
        for blank in ["", " ", "\t\n "] {
            let e = event(Some("env-empty-0"), "app", "Order", json!({"id": blank}));
            assert_eq!(default_key(&e).unwrap(), "env-empty-0", "{blank:?}");
            // The same from a Stripe source: the envelope id, not the blank detail.id.
            let e = event(Some("env-s"), "stripe.webhook", "E", json!({"id": blank}));
            assert_eq!(default_key(&e).unwrap(), "env-s", "{blank:?}");
            // An inherited blank key falls through to the normal choice.
            let e = event(
                Some("env-1"),
                "stripe.webhook",
                "E",
                json!({"id": "evt_1", "nexus_replay": {"dedup_key": blank, "redrive": 1}}),
            );
            assert_eq!(default_key(&e).unwrap(), "evt_1", "{blank:?}");
            // A blank envelope id is no key either.
            let e = event(Some(blank), "app", "Order", json!({"id": "order-1"}));
            let err = default_key(&e).unwrap_err();
            assert!(err.contains("no dedup key"), "{err}");
            // An explicit path that yields a blank: poison, saying so.
            let e = event(
                Some("env-1"),
                "app",
                "Order",
                json!({"id": "evt_1", "empty": blank}),
            );
            let err = dedup_key(&e, &DedupSpec::parse("detail.empty").unwrap()).unwrap_err();
            assert!(err.contains("detail.empty is blank"), "{err}");
        }
    }

    #[test]
    fn the_default_key_is_detail_id_only_where_it_names_a_stripe_event() {
        let created = event(
            Some("env-a"),
            "shop",
            "OrderCreated",
            json!({"id": "order-1"}),
        );
        let shipped = event(
            Some("env-b"),
            "shop",
            "OrderShipped",
            json!({"id": "order-1"}),
        );
        assert_eq!(default_key(&created).unwrap(), "env-a");
        assert_eq!(default_key(&shipped).unwrap(), "env-b");
        // evt_… from any source is a Stripe event id.
        let e = event(Some("env-c"), "shop", "X", json!({"id": "evt_9"}));
        assert_eq!(default_key(&e).unwrap(), "evt_9");
        // From a Stripe source, detail.id whatever its form; a number is not an id.
        for source in [
            "stripe.webhook",
            "aws.partner/stripe.com",
            "aws.partner/stripe.com/ed_61Sx",
        ] {
            let e = event(Some("env-d"), source, "Stripe Event", json!({"id": "abc"}));
            assert_eq!(default_key(&e).unwrap(), "abc", "{source}");
            let e = event(Some("env-d"), source, "Stripe Event", json!({"id": 5}));
            assert_eq!(default_key(&e).unwrap(), "env-d", "{source}");
        }
        for source in [
            "stripe.webhooks",
            "aws.partner/stripe.co",
            "my.stripe.webhook",
        ] {
            assert!(!is_stripe_source(source), "{source}");
        }
        // No detail.id and no envelope id: no key, with what to do.
        let e = event(None, "shop", "X", json!({}));
        assert!(default_key(&e).unwrap_err().contains("--dedup-key"));
    }

    #[test]
    fn keys_keep_the_type_of_their_value() {
        let spec = DedupSpec::parse("detail.n").unwrap();
        let key = |n: Value| dedup_key(&event(Some("e"), "s", "t", json!({ "n": n })), &spec);
        assert_eq!(key(json!(1)).unwrap(), "number:1");
        assert_eq!(key(json!("1")).unwrap(), "1");
        assert_eq!(key(json!(-2.5)).unwrap(), "number:-2.5");
        assert_eq!(key(json!(true)).unwrap(), "bool:true");
        assert_eq!(key(json!("true")).unwrap(), "true");
        // A string that looks typed is escaped, so it never meets the typed value.
        assert_eq!(key(json!("number:1")).unwrap(), "string:number:1");
        assert_eq!(key(json!("bool:true")).unwrap(), "string:bool:true");
        assert_eq!(key(json!("string:x")).unwrap(), "string:string:x");
        for not_scalar in [json!(null), json!([1]), json!({"a": 1})] {
            assert!(
                key(not_scalar)
                    .unwrap_err()
                    .contains("not a string, number or boolean")
            );
        }
        // Strings stay as they are: the keys ledgers and consumers already hold.
        assert_eq!(key(json!("evt_1")).unwrap(), "evt_1");
    }

    #[test]
    fn content_digests() {
        let detail = json!({"id": "evt_same", "type": "customer.subscription.updated",
                            "data": {"object": {"amount": 100}}});
        let webhook = event(
            Some("a"),
            "stripe.webhook",
            "Stripe Webhook Event",
            detail.clone(),
        );
        let partner = event(
            Some("b"),
            "aws.partner/stripe.com/ed_1",
            "Stripe Event",
            detail.clone(),
        );
        // One Stripe event through both sources: one digest, of the detail alone.
        let d = content_digest(&webhook);
        assert_eq!(d, content_digest(&partner));
        assert!(d.starts_with("sha256-detail:") && d.len() == 14 + 64, "{d}");
        // Pinned, as ledger records outlive versions of the tool: SHA-256 of the canonical
        // detail (keys sorted, no spaces).
        assert_eq!(
            d,
            "sha256-detail:".to_string()
                + &sha256_text("", br#"{"data":{"object":{"amount":100}},"id":"evt_same","type":"customer.subscription.updated"}"#)
        );
        // Another Stripe event with the same id: another digest.
        let mut deleted = detail.clone();
        deleted["type"] = json!("customer.subscription.deleted");
        deleted["data"]["object"]["amount"] = json!(999);
        assert_ne!(
            d,
            content_digest(&event(
                Some("c"),
                "stripe.webhook",
                "Stripe Webhook Event",
                deleted
            ))
        );
        // An earlier re-emit's metadata is not content.
        let mut again = detail.clone();
        again[META_FIELD] = json!({"dedup_key": "evt_same", "run_id": "r", "redrive": 1});
        assert_eq!(
            d,
            content_digest(&event(Some("z"), "stripe.webhook", "X", again))
        );
        // Other events: source, detail-type and detail, the same text as the `hash` key.
        let created = event(Some("a"), "shop", "OrderCreated", json!({"id": "order-1"}));
        let shipped = event(Some("a"), "shop", "OrderShipped", json!({"id": "order-1"}));
        let from_elsewhere = event(Some("a"), "other", "OrderCreated", json!({"id": "order-1"}));
        assert_eq!(content_digest(&created), hash_key(&created));
        assert!(content_digest(&created).starts_with("sha256:"));
        assert_ne!(content_digest(&created), content_digest(&shipped));
        assert_ne!(content_digest(&created), content_digest(&from_elsewhere));
        // The envelope id is not content.
        let other_id = event(Some("zz"), "shop", "OrderCreated", json!({"id": "order-1"}));
        assert_eq!(content_digest(&created), content_digest(&other_id));
    }

    #[test]
    fn duplicate_json_keys_are_noted_and_the_last_value_kept() {
        let e =
            parse(r#"{"id":"e","source":"s","detail-type":"t","detail":{"amount":1,"amount":2}}"#)
                .unwrap();
        assert_eq!(e.duplicate_keys, ["amount"]);
        assert_eq!(e.detail_field("amount"), Some(&json!(2)));
        assert!(parse(BODY).unwrap().duplicate_keys.is_empty());
    }

    #[test]
    fn the_entry_keeps_the_event_and_adds_metadata() {
        let e = parse(BODY).unwrap();
        let entry = entry(e.clone(), "evt_123", 1, "bus-a", &origin());
        assert_eq!(entry.bus, "bus-a");
        assert_eq!(entry.source, "stripe.webhook");
        assert_eq!(entry.resources, ["arn:r"]);
        assert_eq!(entry.time, e.time);
        let detail: Value = serde_json::from_str(&entry.detail).unwrap();
        assert_eq!(detail["id"], "evt_123");
        let m = &detail[META_FIELD];
        assert_eq!(m["dedup_key"], "evt_123");
        assert_eq!(m["original_id"], "env-1");
        assert_eq!(m["original_time"], "2025-09-08T14:05:00+00:00");
        assert_eq!(m["queue"], "q-dlq");
        assert_eq!(
            m["rule_arn"],
            "arn:aws:events:us-east-2:123456789012:rule/bus-a/r1"
        );
        assert_eq!(m["error_code"], "ERROR_FROM_TARGET");
        assert_eq!(m["redrive"], 1);
        assert_eq!(m["run_id"], "run-1");
    }

    #[test]
    fn a_second_redrive_keeps_key_and_origin_and_counts_up() {
        let e = parse(BODY).unwrap();
        let first = entry(e, "evt_123", 1, "bus-a", &origin());
        // The re-emitted event failed again and came back through the DLQ.
        let mut again: Value = serde_json::from_str(BODY).unwrap();
        again["id"] = json!("env-2");
        again["detail"] = serde_json::from_str(&first.detail).unwrap();
        let e2 = parse(&again.to_string()).unwrap();
        assert_eq!(redrive_of(&e2), Ok(2));
        assert_eq!(dedup_key(&e2, &DedupSpec::Hash).unwrap(), "evt_123");
        let second = entry(e2, "evt_123", 2, "bus-a", &origin());
        let d: Value = serde_json::from_str(&second.detail).unwrap();
        assert_eq!(d[META_FIELD]["redrive"], 2);
        assert_eq!(d[META_FIELD]["original_id"], "env-1");
        assert!(d[META_FIELD].get(META_FIELD).is_none());
    }

    #[test]
    fn rule_arns_name_their_bus() {
        let home = "arn:aws:sqs:us-east-2:123456789012:q-dlq";
        let bus = |arn: &str| bus_of_rule_arn(arn, home);
        assert_eq!(
            bus("arn:aws:events:us-east-2:123456789012:rule/my-bus/r").as_deref(),
            Ok("my-bus")
        );
        assert_eq!(
            bus("arn:aws:events:us-east-2:123456789012:rule/r").as_deref(),
            Ok("default")
        );
        assert_eq!(
            bus("arn:aws:events:us-east-2:123456789012:rule/aws.partner/stripe.com/ed_XYZ/RULE")
                .as_deref(),
            Ok("aws.partner/stripe.com/ed_XYZ")
        );
        for (arn, why) in [
            (
                "arn:aws:sqs:us-east-2:123456789012:q",
                "not an EventBridge ARN",
            ),
            (
                "arn:aws:events:us-east-2:123456789012:rule/",
                "invalid segment",
            ),
            (
                "arn:aws:events:us-east-2:123456789012:rule//x",
                "invalid segment",
            ),
            (
                "arn:aws:events:us-east-2:123456789012:rule/x/",
                "invalid segment",
            ),
            ("rule/x", "not an ARN"),
            (
                "arn:aws:events:us-east-2:999999999999:rule/b/r",
                "account 999999999999",
            ),
            (
                "arn:aws:events:eu-west-1:123456789012:rule/b/r",
                "in eu-west-1",
            ),
        ] {
            let e = bus(arn).expect_err(arn);
            assert!(e.starts_with("RULE_ARN ") && e.contains(why), "{arn}: {e}");
        }
        // A queue whose ARN is unknown (an export written before ARNs were recorded).
        let e = bus_of_rule_arn("arn:aws:events:us-east-2:123456789012:rule/r", "").unwrap_err();
        assert!(e.contains("cannot be checked"), "{e}");
    }

    #[test]
    fn a_redrive_that_does_not_fit_is_refused_not_wrapped() {
        let with = |redrive: Value| {
            let mut b: Value = serde_json::from_str(BODY).unwrap();
            b["detail"][META_FIELD] = json!({"dedup_key": "evt_123", "redrive": redrive});
            redrive_of(&parse(&b.to_string()).unwrap())
        };
        assert_eq!(redrive_of(&parse(BODY).unwrap()), Ok(1));
        assert_eq!(with(json!(0)), Ok(1));
        assert_eq!(with(json!(3)), Ok(4));
        assert_eq!(with(json!(u32::MAX - 1)), Ok(u32::MAX));
        for bad in [
            json!(u64::MAX),
            json!(i64::MAX),
            json!(1u64 << 63),
            json!(u32::MAX),
            json!(u64::from(u32::MAX) + 1),
            json!(-1),
            json!(1.5),
            json!(2.0),
            json!("2"),
            json!(null),
            json!([1]),
        ] {
            let e = with(bad.clone()).expect_err(&bad.to_string());
            assert!(e.contains("not a redrive count"), "{bad}: {e}");
        }
    }
}
