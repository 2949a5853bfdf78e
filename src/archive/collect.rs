//! What becomes of each captured message. The temporary rule already selects by replay and
//! filter, and the replay by window; both are applied again here, because an emulator (or a
//! replay's one-minute buckets) may deliver more: a message must be an event of this
//! replay, with a `time` inside the window, matching the capture pattern. It is written
//! without `replay-name`, once per dedup key (`drain::event`'s keys: a Stripe event id in
//! `detail.id`, else the envelope id, or `--dedup-key`). Two events under one key with
//! different content are both kept and reported: dropping either could lose an event.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::check::Window;
use super::filter::REPLAY_NAME;
use crate::drain::event::{DedupSpec, content_digest, dedup_key, parse};
use crate::pattern::Pattern;

/// Events larger than this could not be put on a bus again by PutEvents.
pub const PUT_EVENTS_MAX_BYTES: usize = 256 * 1024;

/// Why a captured message was not written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// Not a JSON object.
    NotJson,
    /// Its `replay-name` is not this export's replay (or it has none).
    OtherReplay,
    /// No readable `time`.
    NoTime,
    /// Its `time` is outside the window.
    OutsideWindow,
    /// It does not match the capture pattern.
    Pattern,
    /// A copy of an event already written (same dedup key and content).
    Duplicate,
}

/// The counts of a capture.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub received: u64,
    pub written: u64,
    pub per_type: BTreeMap<String, u64>,
    pub skipped: BTreeMap<SkipReason, u64>,
    /// Dedup keys met with two different contents (both written).
    pub conflicts: Vec<String>,
    /// Events written that are larger than PutEvents accepts.
    pub over_put_events_size: u64,
}

/// What to do with one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Write this line (the event without `replay-name`).
    Write(String),
    Skip(SkipReason),
}

/// Judges captured messages one by one, remembering the keys already written.
#[derive(Debug)]
pub struct Collector {
    pattern: Pattern,
    replay: String,
    window: Window,
    dedup: DedupSpec,
    type_fields: Vec<String>,
    /// Dedup key → content digest of the event written under it.
    seen: HashMap<String, String>,
    pub tally: Tally,
}

/// The value at a dotted path.
fn at<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |cur, seg| cur.get(seg))
}

/// The content digest of a body that is not an envelope (no detail object): its text.
fn raw_digest(v: &Value) -> String {
    format!("raw:{v}")
}

impl Collector {
    pub fn new(
        pattern: Pattern,
        replay: &str,
        window: Window,
        dedup: DedupSpec,
        type_fields: Vec<String>,
    ) -> Collector {
        Collector {
            pattern,
            replay: replay.to_string(),
            window,
            dedup,
            type_fields,
            seen: HashMap::new(),
            tally: Tally::default(),
        }
    }

    fn skip(&mut self, reason: SkipReason) -> Verdict {
        *self.tally.skipped.entry(reason).or_default() += 1;
        Verdict::Skip(reason)
    }

    /// The event's type: the first type field holding a string.
    fn type_of(&self, event: &Value) -> String {
        self.type_fields
            .iter()
            .find_map(|f| at(event, f).and_then(Value::as_str))
            .unwrap_or("(no type)")
            .to_string()
    }

    /// The dedup key and content digest of a body.
    fn identity(&self, body: &str, event: &Value) -> (String, String) {
        match parse(body) {
            Ok(env) => match dedup_key(&env, &self.dedup) {
                Ok(key) => (key, content_digest(&env)),
                Err(_) => (format!("body:{event}"), content_digest(&env)),
            },
            Err(_) => {
                let key = event
                    .get("id")
                    .and_then(Value::as_str)
                    .map_or_else(|| format!("body:{event}"), str::to_string);
                (key, raw_digest(event))
            }
        }
    }

    /// Judges one message body.
    pub fn judge(&mut self, body: &str) -> Verdict {
        self.tally.received += 1;
        let mut event = match serde_json::from_str::<Value>(body) {
            Ok(v @ Value::Object(_)) => v,
            _ => return self.skip(SkipReason::NotJson),
        };
        if event.get(REPLAY_NAME).and_then(Value::as_str) != Some(self.replay.as_str()) {
            return self.skip(SkipReason::OtherReplay);
        }
        let time = event
            .get("time")
            .and_then(Value::as_str)
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc));
        match time {
            None => return self.skip(SkipReason::NoTime),
            Some(t) if !self.window.contains(t) => return self.skip(SkipReason::OutsideWindow),
            Some(_) => {}
        }
        if !self.pattern.matches(&event) {
            return self.skip(SkipReason::Pattern);
        }
        if let Value::Object(o) = &mut event {
            o.remove(REPLAY_NAME);
        }
        let (key, digest) = self.identity(body, &event);
        match self.seen.get(&key) {
            Some(d) if *d == digest => return self.skip(SkipReason::Duplicate),
            Some(_) => self.tally.conflicts.push(key),
            None => {
                self.seen.insert(key, digest);
            }
        }
        let line = event.to_string();
        if line.len() > PUT_EVENTS_MAX_BYTES {
            self.tally.over_put_events_size += 1;
        }
        *self.tally.per_type.entry(self.type_of(&event)).or_default() += 1;
        self.tally.written += 1;
        Verdict::Write(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn collector(pattern: &str) -> Collector {
        let start = Utc.with_ymd_and_hms(2025, 9, 8, 14, 0, 0).unwrap();
        Collector::new(
            Pattern::parse(pattern).unwrap(),
            "r",
            Window {
                start,
                end: start + chrono::Duration::hours(2),
            },
            DedupSpec::Default,
            vec!["detail.type".into(), "detail-type".into()],
        )
    }

    fn body(id: &str, time: &str, kind: &str) -> String {
        json!({
            "version": "0", "id": id, "source": "shop", "detail-type": "Order",
            "time": time, "replay-name": "r", "account": "123456789012",
            "detail": {"type": kind, "n": 1}
        })
        .to_string()
    }

    #[test]
    fn an_event_is_written_without_replay_name_and_counted_by_type() {
        let mut c = collector(r#"{"replay-name": ["r"]}"#);
        let Verdict::Write(line) = c.judge(&body("e1", "2025-09-08T14:30:00Z", "order.paid"))
        else {
            panic!()
        };
        let v: Value = serde_json::from_str(&line).unwrap();
        assert!(v.get(REPLAY_NAME).is_none(), "{line}");
        assert_eq!(v["id"], "e1");
        assert_eq!(v["detail"]["n"], 1);
        assert_eq!(c.tally.per_type["order.paid"], 1);
        assert_eq!((c.tally.received, c.tally.written), (1, 1));
    }

    #[test]
    fn the_window_is_start_inclusive_end_exclusive_on_the_event_time() {
        let mut c = collector(r#"{"replay-name": ["r"]}"#);
        for (t, written) in [
            ("2025-09-08T14:00:00Z", true),
            ("2025-09-08T13:59:59Z", false),
            ("2025-09-08T16:00:00Z", false),
            ("2025-09-08T17:00:00+02:00", true),
        ] {
            let v = c.judge(&body(t, t, "k"));
            assert_eq!(matches!(v, Verdict::Write(_)), written, "{t}");
        }
        assert_eq!(c.tally.skipped[&SkipReason::OutsideWindow], 2);
        assert!(matches!(
            c.judge(&body("x", "yesterday", "k")),
            Verdict::Skip(SkipReason::NoTime)
        ));
    }

    #[test]
    fn other_replays_garbage_and_pattern_misses_are_skipped_by_reason() {
        let mut c = collector(r#"{"replay-name": ["r"], "detail": {"type": ["order.paid"]}}"#);
        let t = "2025-09-08T14:30:00Z";
        assert_eq!(c.judge("not json"), Verdict::Skip(SkipReason::NotJson));
        assert_eq!(c.judge("[1]"), Verdict::Skip(SkipReason::NotJson));
        let live = body("e", t, "order.paid").replace(r#""replay-name":"r","#, "");
        assert_eq!(c.judge(&live), Verdict::Skip(SkipReason::OtherReplay));
        let other =
            body("e", t, "order.paid").replace(r#""replay-name":"r""#, r#""replay-name":"x""#);
        assert_eq!(c.judge(&other), Verdict::Skip(SkipReason::OtherReplay));
        assert_eq!(
            c.judge(&body("e", t, "order.refunded")),
            Verdict::Skip(SkipReason::Pattern)
        );
        assert!(matches!(
            c.judge(&body("e", t, "order.paid")),
            Verdict::Write(_)
        ));
        assert_eq!(c.tally.received, 6);
        assert_eq!(c.tally.skipped.values().sum::<u64>(), 5);
    }

    #[test]
    fn copies_are_written_once_and_a_conflict_is_kept_and_reported() {
        let mut c = collector(r#"{"replay-name": ["r"]}"#);
        let t = "2025-09-08T14:30:00Z";
        assert!(matches!(c.judge(&body("e1", t, "k")), Verdict::Write(_)));
        assert_eq!(
            c.judge(&body("e1", t, "k")),
            Verdict::Skip(SkipReason::Duplicate)
        );
        // The webhook and partner copies of one Stripe event share its id and detail.
        let stripe = |source: &str, dt: &str| {
            json!({"id": crate::ids::random_hex(8), "source": source, "detail-type": dt, "time": t,
                   "replay-name": "r", "detail": {"id": "evt_1", "type": "invoice.paid"}})
            .to_string()
        };
        assert!(matches!(
            c.judge(&stripe("stripe.webhook", "invoice.paid")),
            Verdict::Write(_)
        ));
        assert_eq!(
            c.judge(&stripe("aws.partner/stripe.com/ed_1", "Stripe Event")),
            Verdict::Skip(SkipReason::Duplicate)
        );
        // Same envelope id, other content: both kept.
        let changed = body("e1", t, "k").replace(r#""n":1"#, r#""n":2"#);
        assert!(matches!(c.judge(&changed), Verdict::Write(_)));
        assert_eq!(c.tally.conflicts, ["e1"]);
        assert_eq!(c.tally.written, 3);
        assert_eq!(c.tally.skipped[&SkipReason::Duplicate], 2);
    }
}
