//! Stripe's event object and the list page `GET /v1/events` answers. An event keeps the
//! whole object as Stripe sent it, because a re-emitted event must carry exactly that (the
//! webhook handler put the object itself in `detail`); the typed fields are read from it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

/// One Stripe event (`"object": "event"`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "Map<String, Value>")]
pub struct StripeEvent {
    pub id: String,
    /// `type`, e.g. `customer.subscription.updated`.
    pub event_type: String,
    /// When Stripe created the event.
    pub created: DateTime<Utc>,
    pub livemode: bool,
    /// The whole object as Stripe sent it, `id`, `type`, `created` and `data` included.
    object: Map<String, Value>,
}

impl StripeEvent {
    /// The whole event object, for re-emission.
    pub fn object(&self) -> &Map<String, Value> {
        &self.object
    }

    /// `data`: the object the event is about (`data.object`) and `previous_attributes`.
    pub fn data(&self) -> &Value {
        self.object.get("data").unwrap_or(&Value::Null)
    }

    /// Consumes the event, giving the whole object.
    pub fn into_object(self) -> Map<String, Value> {
        self.object
    }
}

impl TryFrom<Map<String, Value>> for StripeEvent {
    type Error = String;

    fn try_from(object: Map<String, Value>) -> Result<StripeEvent, String> {
        let text = |k: &str| match object.get(k) {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
            _ => Err(format!("an event has no string \"{k}\"")),
        };
        let id = text("id")?;
        let event_type = text("type").map_err(|e| format!("{e} (event {id})"))?;
        let created = object
            .get("created")
            .and_then(Value::as_i64)
            .and_then(|s| DateTime::from_timestamp(s, 0))
            .ok_or_else(|| format!("event {id} has no \"created\" time in epoch seconds"))?;
        let livemode = object
            .get("livemode")
            .and_then(Value::as_bool)
            .ok_or_else(|| format!("event {id} has no boolean \"livemode\""))?;
        Ok(StripeEvent {
            id,
            event_type,
            created,
            livemode,
            object,
        })
    }
}

impl Serialize for StripeEvent {
    /// As Stripe sent it.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.object.serialize(s)
    }
}

/// One page of `GET /v1/events`: newest first; `has_more` says another page follows
/// (asked for with `starting_after` = the last id of this one).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct EventPage {
    pub data: Vec<StripeEvent>,
    pub has_more: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_event_keeps_the_whole_object() {
        let raw = json!({"id": "evt_1", "object": "event", "type": "invoice.paid", "created": 1_764_000_000,
            "livemode": true, "api_version": "2024-06-20", "pending_webhooks": 0,
            "data": {"object": {"id": "in_1", "amount_due": 4900}}});
        let e: StripeEvent = serde_json::from_value(raw.clone()).unwrap();
        assert_eq!(e.id, "evt_1");
        assert_eq!(e.event_type, "invoice.paid");
        assert_eq!(e.created.timestamp(), 1_764_000_000);
        assert!(e.livemode);
        assert_eq!(e.data()["object"]["id"], "in_1");
        assert_eq!(serde_json::to_value(&e).unwrap(), raw);
        assert_eq!(Value::Object(e.into_object()), raw);
    }

    #[test]
    fn an_event_without_its_typed_fields_says_which() {
        for (raw, why) in [
            (
                json!({"type": "x", "created": 1, "livemode": false}),
                "\"id\"",
            ),
            (
                json!({"id": "evt_1", "created": 1, "livemode": false}),
                "\"type\" (event evt_1)",
            ),
            (
                json!({"id": "evt_1", "type": "x", "created": "yesterday", "livemode": false}),
                "\"created\"",
            ),
            (
                json!({"id": "evt_1", "type": "x", "created": 1}),
                "\"livemode\"",
            ),
        ] {
            let e = serde_json::from_value::<StripeEvent>(raw).unwrap_err();
            assert!(e.to_string().contains(why), "{e}");
        }
    }
}
