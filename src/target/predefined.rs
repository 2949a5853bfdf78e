//! The variables EventBridge defines for every input template without an `InputPathsMap`
//! entry: the rule's ARN and name, the ingestion time, and the event itself in two shapes.
//!
//! `aws.events.event` is the event without `detail`. Its shape is not on the user guide
//! page; it follows what EventBridge delivered in LocalStack's AWS-validated snapshot
//! (`test_input_transformer_predefined_variables`): `detail-type` renamed `detailType`,
//! `time` set to the ingestion time, members in the order id, account, detailType, time,
//! source, region, resources, version. Other top-level members (such as `replay-name`) are
//! kept after those, in event order: that part is a guess.

use serde_json::{Map, Value};

use super::input::RuleContext;

pub(crate) const RULE_ARN: &str = "aws.events.rule-arn";
pub(crate) const RULE_NAME: &str = "aws.events.rule-name";
pub(crate) const INGESTION_TIME: &str = "aws.events.event.ingestion-time";
pub(crate) const EVENT: &str = "aws.events.event";
pub(crate) const EVENT_JSON: &str = "aws.events.event.json";

/// Every predefined name; they are reserved, so no `InputPathsMap` key may take one.
pub(crate) const ALL: [&str; 5] = [RULE_ARN, RULE_NAME, INGESTION_TIME, EVENT, EVENT_JSON];

pub(crate) fn is_predefined(name: &str) -> bool {
    ALL.contains(&name)
}

/// The variables whose JSON is inserted unescaped, so the user guide allows them only as
/// the value of a JSON field, never inside a quoted string.
pub(crate) fn is_event_object(name: &str) -> bool {
    name == EVENT || name == EVENT_JSON
}

/// The value of a predefined variable for `event`; `None` when the event lacks what it
/// needs (an ingestion time without `time` in the event or the context).
pub(crate) fn value(name: &str, event: &Value, ctx: &RuleContext) -> Option<Value> {
    match name {
        RULE_ARN => Some(Value::String(ctx.rule_arn.clone())),
        RULE_NAME => Some(Value::String(ctx.rule_name.clone())),
        INGESTION_TIME => ingestion_time(event, ctx).map(Value::String),
        EVENT => Some(event_without_detail(event, ctx)),
        EVENT_JSON => Some(event.clone()),
        _ => None,
    }
}

/// When EventBridge received the event. A dead-lettered message does not carry it, so
/// unless the caller knows better the event's own `time` stands in: for events from AWS
/// services and for most PutEvents callers the two differ by well under a second, while a
/// producer that sets `Time` itself can make them differ arbitrarily.
fn ingestion_time(event: &Value, ctx: &RuleContext) -> Option<String> {
    ctx.ingestion_time.clone().or_else(|| {
        event
            .get("time")
            .and_then(Value::as_str)
            .map(str::to_string)
    })
}

fn event_without_detail(event: &Value, ctx: &RuleContext) -> Value {
    const ORDER: [&str; 8] = [
        "id",
        "account",
        "detail-type",
        "time",
        "source",
        "region",
        "resources",
        "version",
    ];
    let Some(fields) = event.as_object() else {
        return Value::Object(Map::new());
    };
    let renamed = |key: &str| match key {
        "detail-type" => "detailType".to_string(),
        other => other.to_string(),
    };
    let mut out = Map::new();
    for key in ORDER {
        let value = match key {
            "time" => ingestion_time(event, ctx).map(Value::String),
            _ => fields.get(key).cloned(),
        };
        if let Some(value) = value {
            out.insert(renamed(key), value);
        }
    }
    for (key, value) in fields {
        if key != "detail" && !ORDER.contains(&key.as_str()) {
            out.insert(key.clone(), value.clone());
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ctx() -> RuleContext {
        RuleContext::new(
            "arn:aws:events:us-east-1:123456789012:rule/billing/paid",
            "paid",
        )
    }

    fn event() -> Value {
        json!({
            "version": "0",
            "id": "e-1",
            "detail-type": "Invoice Paid",
            "source": "aws.partner/stripe.com/ed_1",
            "account": "123456789012",
            "time": "2025-09-08T14:00:00Z",
            "region": "us-east-1",
            "resources": [],
            "replay-name": "r-1",
            "detail": {"id": "evt_1"}
        })
    }

    #[test]
    fn the_rule_variables_come_from_the_context() {
        assert_eq!(
            value(RULE_ARN, &event(), &ctx()),
            Some(json!(ctx().rule_arn))
        );
        assert_eq!(value(RULE_NAME, &event(), &ctx()), Some(json!("paid")));
    }

    #[test]
    fn ingestion_time_is_the_event_time_unless_the_context_knows_better() {
        assert_eq!(
            value(INGESTION_TIME, &event(), &ctx()),
            Some(json!("2025-09-08T14:00:00Z"))
        );
        let known = ctx().with_ingestion_time("2025-09-08T14:00:01.250Z");
        assert_eq!(
            value(INGESTION_TIME, &event(), &known),
            Some(json!("2025-09-08T14:00:01.250Z"))
        );
        assert_eq!(value(INGESTION_TIME, &json!({"id": "e"}), &ctx()), None);
    }

    #[test]
    fn the_event_variable_drops_detail_and_renames_detail_type() {
        let got = value(EVENT, &event(), &ctx()).unwrap();
        assert_eq!(
            got,
            json!({
                "id": "e-1",
                "account": "123456789012",
                "detailType": "Invoice Paid",
                "time": "2025-09-08T14:00:00Z",
                "source": "aws.partner/stripe.com/ed_1",
                "region": "us-east-1",
                "resources": [],
                "version": "0",
                "replay-name": "r-1"
            })
        );
        let known = ctx().with_ingestion_time("2025-09-08T14:00:01Z");
        assert_eq!(
            value(EVENT, &event(), &known).unwrap()["time"],
            json!("2025-09-08T14:00:01Z")
        );
    }

    #[test]
    fn the_event_json_variable_is_the_whole_event() {
        assert_eq!(value(EVENT_JSON, &event(), &ctx()), Some(event()));
    }

    #[test]
    fn names_are_reserved_and_classified() {
        assert!(ALL.iter().all(|n| is_predefined(n)));
        assert!(!is_predefined("aws.events.event.id"));
        assert!(is_event_object(EVENT) && is_event_object(EVENT_JSON));
        assert!(!is_event_object(RULE_ARN));
    }
}
