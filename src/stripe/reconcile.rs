//! Stripe's events of a window against what the bus received: pure, no I/O.
//!
//! The bus's side is an archive export (EventBridge events; an event carries a Stripe
//! event id when drain would key it by one: `detail.id` starting `evt_`, or any `detail.id`
//! of a Stripe source) and the keys the dedup ledger marks DONE (events an earlier
//! `--apply` or drain re-emitted, which the archive may not show yet: it lags ingestion).
//! Compared by Stripe event id:
//! - a Stripe event is *present* when the archive holds its id (at any time: a webhook
//!   copy can arrive after the window's end) or the ledger marks it DONE, else *missing*;
//! - an archive event is *extra* when Stripe does not list its id and it is in scope: its
//!   Stripe `created` (else its `time`) in the window and its type among those asked. An
//!   event outside the scope was simply not asked of Stripe, so it is counted apart.
//!
//! So `in_stripe = found_in_archive + done_in_ledger + missing.len()` and
//! `in_archive = found_in_archive + extra.len()`.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::client::STRIPE_VERSION;
use super::event::StripeEvent;
use super::query::{EventQuery, Window};
use crate::drain::event::stripe_event_id_in;

/// An event named in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventRef {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    /// Stripe's `created`; for an archive event without one, its EventBridge `time`.
    pub created: Option<DateTime<Utc>>,
    /// Live or test mode, where the event says (an extra event in the other mode than the
    /// key's points at a test-mode or other account's endpoint on the bus).
    pub livemode: Option<bool>,
}

/// Counts of one event type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TypeCounts {
    pub in_stripe: usize,
    pub in_archive: usize,
    pub missing: usize,
    pub extra: usize,
}

/// What a reconcile found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReconcileReport {
    pub window: Window,
    /// The types asked for; empty means every type.
    pub event_types: Vec<String>,
    /// The `Stripe-Version` the list was read with.
    pub stripe_version: &'static str,
    /// Events Stripe lists for the window and types.
    pub in_stripe: usize,
    /// Stripe event ids in the archive export: those Stripe lists, and the extra ones.
    pub in_archive: usize,
    /// Stripe's events the archive holds.
    pub found_in_archive: usize,
    /// Stripe's events the archive does not hold but the ledger marks DONE (re-emitted
    /// earlier, not archived yet).
    pub done_in_ledger: usize,
    /// Stripe's events the bus never received, oldest first.
    pub missing: Vec<EventRef>,
    /// Archive events in scope that Stripe does not list, oldest first.
    pub extra: Vec<EventRef>,
    pub by_type: BTreeMap<String, TypeCounts>,
    /// Archive events with a Stripe id outside the window or the types (not compared).
    pub archive_out_of_scope: usize,
    /// Archive events without a Stripe event id (not Stripe's, or not EventBridge events).
    pub archive_without_stripe_id: usize,
}

impl ReconcileReport {
    /// The missing events themselves (for re-emission), oldest first, from the list the
    /// report was made of.
    pub fn missing_events<'a>(&self, stripe: &'a [StripeEvent]) -> Vec<&'a StripeEvent> {
        let by_id: HashMap<&str, &StripeEvent> =
            stripe.iter().map(|e| (e.id.as_str(), e)).collect();
        self.missing
            .iter()
            .filter_map(|m| by_id.get(m.id.as_str()).copied())
            .collect()
    }
}

/// An archive event that carries a Stripe event id.
struct ArchiveEvent<'a> {
    id: &'a str,
    event_type: Option<&'a str>,
    created: Option<DateTime<Utc>>,
    livemode: Option<bool>,
}

/// Reads an exported event; None when it carries no Stripe event id.
fn archive_event(v: &Value) -> Option<ArchiveEvent<'_>> {
    let detail = v.get("detail")?.as_object()?;
    let source = v.get("source").and_then(Value::as_str).unwrap_or("");
    let id = stripe_event_id_in(source, detail)?;
    let created = detail
        .get("created")
        .and_then(Value::as_i64)
        .and_then(|s| DateTime::from_timestamp(s, 0))
        .or_else(|| {
            let t = v.get("time")?.as_str()?;
            Some(DateTime::parse_from_rfc3339(t).ok()?.with_timezone(&Utc))
        });
    Some(ArchiveEvent {
        id,
        event_type: detail.get("type").and_then(Value::as_str),
        created,
        livemode: detail.get("livemode").and_then(Value::as_bool),
    })
}

/// Compares Stripe's events for `query` with the archive export and the ledger's DONE keys.
pub fn reconcile(
    query: &EventQuery,
    stripe: &[StripeEvent],
    archive: &[Value],
    ledger_done: &[String],
) -> ReconcileReport {
    let window = query.window();
    let types = query.types();
    let done: HashSet<&str> = ledger_done.iter().map(String::as_str).collect();
    let listed: HashSet<&str> = stripe.iter().map(|e| e.id.as_str()).collect();

    let mut archived: HashSet<&str> = HashSet::new();
    let mut extra: HashMap<&str, EventRef> = HashMap::new();
    let mut out_of_scope: HashSet<&str> = HashSet::new();
    let mut without_id = 0;
    for v in archive {
        let Some(a) = archive_event(v) else {
            without_id += 1;
            continue;
        };
        archived.insert(a.id);
        if listed.contains(a.id) {
            continue;
        }
        let in_scope = a.created.is_none_or(|c| window.contains(c))
            && a.event_type.map_or(types.is_all(), |t| types.matches(t));
        if !in_scope {
            out_of_scope.insert(a.id);
            continue;
        }
        // The webhook and partner copies of one event are one extra event.
        extra.entry(a.id).or_insert_with(|| EventRef {
            id: a.id.to_string(),
            event_type: a.event_type.unwrap_or("(no type)").to_string(),
            created: a.created,
            livemode: a.livemode,
        });
    }

    let mut by_type: BTreeMap<String, TypeCounts> = BTreeMap::new();
    let mut missing = Vec::new();
    let (mut found_in_archive, mut done_in_ledger) = (0, 0);
    let mut counted = HashSet::new();
    for e in stripe {
        if !counted.insert(e.id.as_str()) {
            continue;
        }
        let counts = by_type.entry(e.event_type.clone()).or_default();
        counts.in_stripe += 1;
        if archived.contains(e.id.as_str()) {
            found_in_archive += 1;
            counts.in_archive += 1;
        } else if done.contains(e.id.as_str()) {
            done_in_ledger += 1;
        } else {
            counts.missing += 1;
            missing.push(EventRef {
                id: e.id.clone(),
                event_type: e.event_type.clone(),
                created: Some(e.created),
                livemode: Some(e.livemode),
            });
        }
    }
    let mut extra: Vec<EventRef> = extra.into_values().collect();
    for x in &extra {
        let counts = by_type.entry(x.event_type.clone()).or_default();
        counts.in_archive += 1;
        counts.extra += 1;
    }
    let oldest_first = |a: &EventRef, b: &EventRef| (a.created, &a.id).cmp(&(b.created, &b.id));
    missing.sort_by(oldest_first);
    extra.sort_by(oldest_first);

    ReconcileReport {
        window,
        event_types: types.listed(),
        stripe_version: STRIPE_VERSION,
        in_stripe: counted.len(),
        in_archive: found_in_archive + extra.len(),
        found_in_archive,
        done_in_ledger,
        missing,
        extra,
        by_type,
        archive_out_of_scope: out_of_scope.len(),
        archive_without_stripe_id: without_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap()
    }

    fn start() -> DateTime<Utc> {
        now() - Duration::hours(6)
    }

    fn end() -> DateTime<Utc> {
        now() - Duration::hours(1)
    }

    fn query(types: &[&str]) -> EventQuery {
        let types: Vec<String> = types.iter().map(|s| s.to_string()).collect();
        EventQuery::new(start(), end(), &types, now()).unwrap()
    }

    fn at(minutes_after_start: i64) -> i64 {
        (start() + Duration::minutes(minutes_after_start)).timestamp()
    }

    fn stripe(id: &str, t: &str, created: i64) -> StripeEvent {
        serde_json::from_value(
            json!({"id": id, "object": "event", "type": t, "created": created,
            "livemode": true, "data": {"object": {"id": "obj"}}}),
        )
        .unwrap()
    }

    /// An archived webhook copy.
    fn webhook(id: &str, t: &str, created: i64) -> Value {
        json!({"id": format!("eb-{id}"), "source": "stripe.webhook", "detail-type": "Stripe Webhook Event",
            "time": "2026-12-01T09:00:00Z",
            "detail": {"id": id, "object": "event", "type": t, "created": created, "livemode": true}})
    }

    /// An archived partner copy.
    fn partner(id: &str, t: &str, created: i64) -> Value {
        let mut v = webhook(id, t, created);
        v["source"] = json!("aws.partner/stripe.com/ed_1");
        v["detail-type"] = json!("Stripe Event");
        v
    }

    #[test]
    fn missing_and_extra_events_are_found_exactly() {
        let stripe_side = [
            stripe("evt_c", "invoice.paid", at(30)),
            stripe("evt_b", "invoice.payment_failed", at(20)),
            stripe("evt_a", "invoice.paid", at(10)),
            stripe("evt_d", "customer.subscription.updated", at(5)),
        ];
        let archive = [
            webhook("evt_a", "invoice.paid", at(10)),
            partner("evt_a", "invoice.paid", at(10)), // two copies, one event
            webhook("evt_d", "customer.subscription.updated", at(5)),
            // Another account or test mode: Stripe (this key) does not know it.
            json!({"source": "stripe.webhook", "detail-type": "Stripe Webhook Event",
                "detail": {"id": "evt_other", "type": "invoice.paid", "created": at(15), "livemode": false}}),
            // Not Stripe's.
            json!({"source": "orders", "detail-type": "OrderCreated", "detail": {"id": "ord_1"}}),
        ];
        let r = reconcile(&query(&[]), &stripe_side, &archive, &[]);
        assert_eq!(r.in_stripe, 4);
        assert_eq!(r.found_in_archive, 2);
        assert_eq!(r.in_archive, 3);
        assert_eq!(r.done_in_ledger, 0);
        let ids = |v: &[EventRef]| v.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
        // Oldest first: the order to re-emit them in.
        assert_eq!(ids(&r.missing), ["evt_b", "evt_c"]);
        assert_eq!(r.missing[0].event_type, "invoice.payment_failed");
        assert_eq!(r.missing[0].created.unwrap().timestamp(), at(20));
        assert_eq!(ids(&r.extra), ["evt_other"]);
        assert_eq!(r.extra[0].livemode, Some(false));
        assert_eq!(r.archive_without_stripe_id, 1);
        assert_eq!(r.archive_out_of_scope, 0);
        let counts = |t: &str| r.by_type[t].clone();
        assert_eq!(
            counts("invoice.paid"),
            TypeCounts {
                in_stripe: 2,
                in_archive: 2,
                missing: 1,
                extra: 1
            }
        );
        assert_eq!(
            counts("invoice.payment_failed"),
            TypeCounts {
                in_stripe: 1,
                in_archive: 0,
                missing: 1,
                extra: 0
            }
        );
        assert_eq!(
            counts("customer.subscription.updated"),
            TypeCounts {
                in_stripe: 1,
                in_archive: 1,
                missing: 0,
                extra: 0
            }
        );
        let missing: Vec<&str> = r
            .missing_events(&stripe_side)
            .iter()
            .map(|e| e.id.as_str())
            .collect();
        assert_eq!(missing, ["evt_b", "evt_c"]);
    }

    #[test]
    fn ledger_done_keys_count_as_present() {
        let stripe_side = [
            stripe("evt_a", "invoice.paid", at(10)),
            stripe("evt_b", "invoice.paid", at(20)),
        ];
        let done = ["evt_b".to_string(), "evt_unrelated".to_string()];
        let r = reconcile(&query(&[]), &stripe_side, &[], &done);
        assert_eq!(r.done_in_ledger, 1);
        assert_eq!(r.missing.len(), 1);
        assert_eq!(r.missing[0].id, "evt_a");
        // A DONE key Stripe does not list is not an archive event: not extra.
        assert!(r.extra.is_empty());
        assert_eq!(r.by_type["invoice.paid"].missing, 1);
    }

    #[test]
    fn archive_events_outside_the_window_or_types_are_not_extra() {
        let stripe_side = [stripe("evt_late", "invoice.paid", at(299))];
        let before = (start() - Duration::seconds(1)).timestamp();
        let archive = [
            webhook("evt_early", "invoice.paid", before),
            webhook("evt_other_type", "charge.failed", at(10)),
            // Created in the window, delivered after it: Stripe lists it, so it is found
            // whatever its time.
            {
                let mut v = webhook("evt_late", "invoice.paid", at(299));
                v["time"] = json!("2026-12-01T11:30:00Z");
                v
            },
            // No `created`: the EventBridge time (in the window) decides.
            json!({"source": "stripe.webhook", "detail-type": "Stripe Webhook Event",
                "time": (start() + Duration::minutes(3)).to_rfc3339(),
                "detail": {"id": "evt_untimed", "type": "invoice.paid"}}),
        ];
        let r = reconcile(&query(&["invoice.*"]), &stripe_side, &archive, &[]);
        assert!(r.missing.is_empty());
        assert_eq!(r.found_in_archive, 1);
        assert_eq!(r.archive_out_of_scope, 2);
        assert_eq!(r.extra.len(), 1);
        assert_eq!(r.extra[0].id, "evt_untimed");
        assert_eq!(r.event_types, ["invoice.*"]);
    }

    #[test]
    fn the_report_serializes_with_the_documented_fields() {
        let stripe_side = [stripe("evt_a", "invoice.paid", at(10))];
        let r = reconcile(&query(&["invoice.paid"]), &stripe_side, &[], &[]);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["in_stripe"], 1);
        assert_eq!(v["in_archive"], 0);
        assert_eq!(v["stripe_version"], STRIPE_VERSION);
        assert_eq!(
            v["missing"][0],
            json!({"id": "evt_a", "type": "invoice.paid",
                "created": (start() + Duration::minutes(10)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "livemode": true})
        );
        assert_eq!(v["window"]["start"], json!(start()));
        assert_eq!(
            v["by_type"]["invoice.paid"],
            json!({"in_stripe": 1, "in_archive": 0, "missing": 1, "extra": 0})
        );
    }
}
