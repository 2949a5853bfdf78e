//! A missing Stripe event, re-emitted in the shape the webhook handler puts on the bus:
//! source `stripe.webhook`, detail-type `Stripe Webhook Event`, the Stripe event object as
//! `detail`, `Time` = its `created`.
//!
//! The event goes through drain's own envelope code (`drain::event`): the dedup key is
//! the one drain gives the webhook copy of the event (its Stripe id), the content digest is
//! the one drain records for it, and the `nexus_replay` metadata is written by drain's
//! `entry`, so the fields never drift apart: `dedup_key`, `original_id` (null: the event
//! never had an EventBridge id), `original_time` (`created`), `queue` ([`STRIPE_ORIGIN`]:
//! it came from Stripe's API, not a DLQ), `rule_arn` and `error_code` (null), `redrive` 1
//! and `run_id`. A later drain that meets a DLQ copy of the same event finds its key DONE
//! with the same digest: a duplicate, not a conflict.

use chrono::SecondsFormat;
use serde_json::{Value, json};

use super::event::StripeEvent;
use crate::drain::event::{self as drain_event, DedupSpec, Origin};
use crate::ports::sink::PutEntry;

/// The webhook handler's event source.
pub const WEBHOOK_SOURCE: &str = "stripe.webhook";
/// The webhook handler's detail-type.
pub const WEBHOOK_DETAIL_TYPE: &str = "Stripe Webhook Event";
/// `nexus_replay.queue` of an event re-emitted from Stripe's API.
pub const STRIPE_ORIGIN: &str = "stripe";

/// A re-emit, ready for the ledger and PutEvents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reemit {
    /// The dedup key the ledger claims: the Stripe event id.
    pub key: String,
    /// The content digest the claim records (`sha256-detail:…`, as drain's).
    pub digest: String,
    pub entry: PutEntry,
}

/// The EventBridge event the webhook handler makes of `event` (no id: the bus gives one),
/// before any `nexus_replay` metadata: what `stripe reconcile --apply` hands the re-emit
/// engine, which adds the metadata and the dedup key as [`reemit`] does.
pub fn envelope(event: &StripeEvent) -> Value {
    json!({
        "source": WEBHOOK_SOURCE,
        "detail-type": WEBHOOK_DETAIL_TYPE,
        "time": event.created.to_rfc3339_opts(SecondsFormat::Secs, true),
        "detail": Value::Object(event.object().clone()),
    })
}

/// The re-emit of `event` onto `bus`, for run `run_id`.
pub fn reemit(event: &StripeEvent, bus: &str, run_id: &str) -> Reemit {
    let body = envelope(event);
    // Built here from an object with an RFC 3339 time: drain's parser takes it, and a
    // Stripe event id (`id` is a non-blank string of a Stripe source) is its default key.
    let env = drain_event::parse(&body.to_string()).expect("a webhook envelope built here");
    let key = drain_event::dedup_key(&env, &DedupSpec::Default)
        .expect("a Stripe event has a non-blank id, its default dedup key");
    let digest = drain_event::content_digest(&env);
    let origin = Origin {
        queue: STRIPE_ORIGIN.to_string(),
        rule_arn: None,
        error_code: None,
        run_id: run_id.to_string(),
    };
    let entry = drain_event::entry(env, &key, 1, bus, &origin);
    Reemit { key, digest, entry }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drain::event::META_FIELD;

    fn stripe_event() -> StripeEvent {
        serde_json::from_value(json!({
            "id": "evt_1Missing", "object": "event", "type": "invoice.payment_failed",
            "created": 1_764_579_600, "livemode": true, "api_version": "2024-06-20",
            "data": {"object": {"id": "in_1", "object": "invoice", "amount_due": 4900}}
        }))
        .unwrap()
    }

    #[test]
    fn the_entry_has_the_webhook_shape_with_drains_metadata() {
        let ev = stripe_event();
        let r = reemit(&ev, "billing-bus", "run-7");
        assert_eq!(r.key, "evt_1Missing");
        assert!(r.digest.starts_with("sha256-detail:"), "{}", r.digest);
        let e = &r.entry;
        assert_eq!(e.bus, "billing-bus");
        assert_eq!(e.source, "stripe.webhook");
        assert_eq!(e.detail_type, "Stripe Webhook Event");
        assert_eq!(e.time, Some(ev.created));
        assert_eq!(e.time.unwrap().timestamp(), 1_764_579_600);
        assert!(e.resources.is_empty());
        let mut detail: Value = serde_json::from_str(&e.detail).unwrap();
        let meta = detail.as_object_mut().unwrap().remove(META_FIELD).unwrap();
        // The detail is the Stripe event object, whole and unchanged.
        assert_eq!(detail, Value::Object(ev.object().clone()));
        assert_eq!(
            meta,
            json!({
                "dedup_key": "evt_1Missing",
                "original_id": null,
                "original_time": "2025-12-01T09:00:00+00:00",
                "queue": "stripe",
                "rule_arn": null,
                "error_code": null,
                "redrive": 1,
                "run_id": "run-7",
            })
        );
    }

    #[test]
    fn drain_reads_the_reemit_back_with_the_same_key_and_digest() {
        // A re-emitted event that later lands in a DLQ is drained under the same key, as
        // a duplicate of this re-emit (same digest), at the next redrive generation.
        let r = reemit(&stripe_event(), "billing-bus", "run-7");
        let body = json!({
            "id": "eb-1", "source": r.entry.source, "detail-type": r.entry.detail_type,
            "time": r.entry.time.unwrap().to_rfc3339(),
            "detail": serde_json::from_str::<Value>(&r.entry.detail).unwrap(),
        });
        let env = drain_event::parse(&body.to_string()).unwrap();
        assert_eq!(
            drain_event::dedup_key(&env, &DedupSpec::Default).unwrap(),
            r.key
        );
        assert_eq!(drain_event::content_digest(&env), r.digest);
        assert_eq!(drain_event::redrive_of(&env).unwrap(), 2);
    }
}
