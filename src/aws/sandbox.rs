//! The local sandbox: the billing topology of the reference system, created on an emulator
//! (moto) on loopback, with Stripe-shaped events on the bus and DLQ messages in the real
//! EventBridge dead-letter format. Refuses any endpoint that is not on loopback.

use std::collections::BTreeMap;

use aws_sdk_eventbridge::types::{DeadLetterConfig, PutEventsRequestEntry, RetryPolicy, Target};
use aws_sdk_sqs::types::{MessageAttributeValue, QueueAttributeName, SendMessageBatchRequestEntry};
use chrono::{Duration, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use super::error::classify;
use crate::ids::random_hex;
use crate::ports::PortError;

pub const BUS: &str = "ai-nexus-dev-stripe-event-bus";
pub const ARCHIVE: &str = "ai-nexus-dev-stripe-event-archive";
pub const PARTNER_SOURCE: &str = "aws.partner/stripe.com/ed_test_61SANDBOXnexusReplay";
pub const WEBHOOK_SOURCE: &str = "stripe.webhook";
/// Where drains park poison messages (the nightly playbook's default).
pub const PARK_QUEUE: &str = "ai-nexus-dev-stripe-parked";

/// One rule of the topology and its stand-in Lambda queue.
pub struct RuleSpec {
    pub rule: &'static str,
    pub target_id: &'static str,
    pub queue: &'static str,
    pub types: Option<&'static [&'static str]>,
    pub prefix: Option<&'static str>,
}

pub const SUBSCRIPTION_TYPES: &[&str] = &[
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
];
pub const PAYMENT_TYPES: &[&str] = &[
    "invoice.payment_succeeded",
    "invoice.payment_failed",
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "charge.succeeded",
    "charge.failed",
];
pub const CUSTOMER_TYPES: &[&str] = &["customer.created", "customer.updated", "customer.deleted"];
pub const OTHER_TYPES: &[&str] = &[
    "checkout.session.completed",
    "setup_intent.succeeded",
    "payment_method.attached",
    "payment_method.detached",
];

pub const RULES: &[RuleSpec] = &[
    RuleSpec {
        rule: "ai-nexus-dev-stripe-subscription_events-rule",
        target_id: "update-subscription-lambda",
        queue: "ai-nexus-dev-stripe-update-subscription",
        types: None,
        prefix: Some("customer.subscription."),
    },
    RuleSpec {
        rule: "ai-nexus-dev-stripe-payment_events-rule",
        target_id: "list-invoices-lambda",
        queue: "ai-nexus-dev-stripe-list-invoices",
        types: Some(PAYMENT_TYPES),
        prefix: None,
    },
    RuleSpec {
        rule: "ai-nexus-dev-stripe-customer_events-rule",
        target_id: "get-status-lambda",
        queue: "ai-nexus-dev-stripe-get-status",
        types: Some(CUSTOMER_TYPES),
        prefix: None,
    },
    RuleSpec {
        rule: "ai-nexus-dev-stripe-all_events_monitoring-rule",
        target_id: "monitoring-logs",
        queue: "ai-nexus-dev-stripe-monitoring-logs",
        types: None,
        prefix: None,
    },
];

/// What to create.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    pub endpoint_url: String,
    pub region: String,
    pub events: usize,
    pub dlq_messages: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct SandboxRule {
    pub name: String,
    pub arn: String,
    pub target_queue_url: String,
    pub dlq_url: String,
    pub dlq_arn: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SandboxReport {
    pub endpoint_url: String,
    pub region: String,
    pub bus: String,
    pub bus_arn: String,
    pub archive: String,
    pub rules: Vec<SandboxRule>,
    pub park_queue: String,
    pub events_put: usize,
    pub dlq_messages: usize,
}

impl crate::output::Report for SandboxReport {
    fn human(&self) -> String {
        let mut s = format!(
            "Sandbox ready at {} ({})\n  bus:     {}\n  archive: {}\n  events:  {} Stripe-shaped events put on the bus\n  DLQs:    {} messages in EventBridge DLQ format per DLQ\n",
            self.endpoint_url,
            self.region,
            self.bus,
            self.archive,
            self.events_put,
            self.dlq_messages
        );
        for r in &self.rules {
            s.push_str(&format!("  rule {}\n    dlq {}\n", r.name, r.dlq_url));
        }
        s.push_str(&format!("  park queue {}\n", self.park_queue));
        s
    }
}

/// True for http(s)://127.x, localhost or [::1] endpoints.
pub fn is_loopback(url: &str) -> bool {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .unwrap_or("");
    let host = if let Some(v6) = rest.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        rest.split([':', '/']).next().unwrap_or("")
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn pattern(spec: &RuleSpec) -> Value {
    let source = json!([WEBHOOK_SOURCE, {"prefix": "aws.partner/stripe.com"}]);
    // Keys in sorted order, so the text is the same whether or not serde_json preserves
    // insertion order (a feature another crate of the build may turn on).
    match (spec.types, spec.prefix) {
        (Some(types), _) => json!({"detail": {"type": types}, "source": source}),
        (None, Some(p)) => json!({"detail": {"type": [{"prefix": p}]}, "source": source}),
        (None, None) => json!({"source": source}),
    }
}

/// A Stripe event object of the given type.
pub fn stripe_event(event_type: &str, id: &str, created: i64, n: usize) -> Value {
    let customer = format!("cus_{:0>14}", n % 37);
    let object = match event_type
        .rsplit_once('.')
        .map(|(f, _)| f)
        .unwrap_or(event_type)
    {
        "customer.subscription" => json!({
            "id": format!("sub_{}", random_hex(14)), "object": "subscription", "customer": customer,
            "status": if event_type.ends_with("deleted") { "canceled" } else { "active" },
            "current_period_end": created + 30 * 86400,
            "items": {"object": "list", "data": [{"price": {"id": "price_pro_monthly", "unit_amount": 4900}}]}
        }),
        "invoice" => json!({
            "id": format!("in_{}", random_hex(14)), "object": "invoice", "customer": customer,
            "amount_due": 4900, "currency": "usd",
            "status": if event_type.ends_with("failed") { "open" } else { "paid" }
        }),
        "payment_intent" | "charge" => json!({
            "id": format!("pi_{}", random_hex(14)), "object": event_type.split('.').next(),
            "customer": customer, "amount": 4900, "currency": "usd",
            "status": if event_type.ends_with("failed") { "requires_payment_method" } else { "succeeded" }
        }),
        "customer" => json!({
            "id": customer, "object": "customer", "email": format!("user{}@example.com", n % 37)
        }),
        _ => json!({"id": format!("obj_{}", random_hex(14)), "customer": customer}),
    };
    json!({
        "id": id, "object": "event", "api_version": "2024-06-20", "created": created,
        "livemode": false, "pending_webhooks": 1, "type": event_type,
        "request": {"id": format!("req_{}", random_hex(14)), "idempotency_key": null},
        "data": {"object": object}
    })
}

fn all_types() -> Vec<&'static str> {
    SUBSCRIPTION_TYPES
        .iter()
        .chain(PAYMENT_TYPES)
        .chain(CUSTOMER_TYPES)
        .chain(OTHER_TYPES)
        .copied()
        .collect()
}

fn string_attr(v: &str) -> Result<MessageAttributeValue, PortError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(v)
        .build()
        .map_err(|e| PortError::Invalid(e.to_string()))
}

/// A DLQ message body: the full event envelope as EventBridge delivered it.
pub fn dlq_envelope(
    region: &str,
    account: &str,
    source: &str,
    detail_type: &str,
    time: chrono::DateTime<Utc>,
    detail: &Value,
) -> Value {
    json!({
        "version": "0",
        "id": format!("{}-{}-{}-{}-{}", random_hex(8), random_hex(4), random_hex(4), random_hex(4), random_hex(12)),
        "detail-type": detail_type,
        "source": source,
        "account": account,
        "time": time.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "region": region,
        "resources": [],
        "detail": detail
    })
}

/// Builds the topology. Fails on a non-loopback endpoint.
pub async fn seed(
    eb: &aws_sdk_eventbridge::Client,
    sqs: &aws_sdk_sqs::Client,
    opts: &SandboxOptions,
) -> Result<SandboxReport, PortError> {
    if !is_loopback(&opts.endpoint_url) {
        return Err(PortError::Invalid(format!(
            "the sandbox only seeds an emulator on loopback, not {}",
            opts.endpoint_url
        )));
    }
    let bus_arn = eb
        .create_event_bus()
        .name(BUS)
        .send()
        .await
        .map_err(|e| classify("CreateEventBus", e))?
        .event_bus_arn()
        .unwrap_or_default()
        .to_string();
    let account = bus_arn
        .split(':')
        .nth(4)
        .unwrap_or("123456789012")
        .to_string();
    eb.create_archive()
        .archive_name(ARCHIVE)
        .event_source_arn(&bus_arn)
        .retention_days(30)
        .description("Stripe billing events, all of them")
        .send()
        .await
        .map_err(|e| classify("CreateArchive", e))?;

    let mut rules = Vec::new();
    for spec in RULES {
        let (target_url, target_arn) = create_queue(sqs, spec.queue).await?;
        let _ = target_url;
        let (dlq_url, dlq_arn) = create_queue(sqs, &format!("{}-dlq", spec.queue)).await?;
        let arn = eb
            .put_rule()
            .name(spec.rule)
            .event_bus_name(BUS)
            .event_pattern(pattern(spec).to_string())
            .description(format!("Stripe events for {}", spec.target_id))
            .send()
            .await
            .map_err(|e| classify("PutRule", e))?
            .rule_arn()
            .unwrap_or_default()
            .to_string();
        allow_dead_letters(sqs, &dlq_url, &dlq_arn, &arn).await?;
        let target = Target::builder()
            .id(spec.target_id)
            .arn(&target_arn)
            .dead_letter_config(DeadLetterConfig::builder().arn(&dlq_arn).build())
            .retry_policy(
                RetryPolicy::builder()
                    .maximum_retry_attempts(8)
                    .maximum_event_age_in_seconds(3600)
                    .build(),
            )
            .build()
            .map_err(|e| PortError::Invalid(e.to_string()))?;
        eb.put_targets()
            .rule(spec.rule)
            .event_bus_name(BUS)
            .targets(target)
            .send()
            .await
            .map_err(|e| classify("PutTargets", e))?;
        rules.push(SandboxRule {
            name: spec.rule.to_string(),
            arn,
            target_queue_url: sqs_url(sqs, spec.queue).await?,
            dlq_url,
            dlq_arn,
        });
    }

    create_queue(sqs, PARK_QUEUE).await?;
    put_events(eb, opts.events).await?;
    for (spec, rule) in RULES.iter().zip(&rules) {
        seed_dlq(sqs, spec, rule, opts, &account).await?;
    }
    Ok(SandboxReport {
        endpoint_url: opts.endpoint_url.clone(),
        region: opts.region.clone(),
        bus: BUS.into(),
        bus_arn,
        archive: ARCHIVE.into(),
        rules,
        park_queue: PARK_QUEUE.into(),
        events_put: opts.events,
        dlq_messages: opts.dlq_messages,
    })
}

/// The DLQ's queue policy lets EventBridge send the rule's failed events (as `doctor` checks).
async fn allow_dead_letters(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    dlq_arn: &str,
    rule_arn: &str,
) -> Result<(), PortError> {
    let statement: Value = serde_json::from_str(&crate::doctor::queue_statement(dlq_arn, rule_arn))
        .map_err(|e| PortError::Other(e.to_string()))?;
    let policy = json!({"Version": "2012-10-17", "Statement": [statement]});
    sqs.set_queue_attributes()
        .queue_url(url)
        .attributes(QueueAttributeName::Policy, policy.to_string())
        .send()
        .await
        .map_err(|e| classify("SetQueueAttributes", e))?;
    Ok(())
}

async fn sqs_url(sqs: &aws_sdk_sqs::Client, name: &str) -> Result<String, PortError> {
    Ok(sqs
        .get_queue_url()
        .queue_name(name)
        .send()
        .await
        .map_err(|e| classify("GetQueueUrl", e))?
        .queue_url()
        .unwrap_or_default()
        .to_string())
}

/// Creates a queue and answers (url, arn).
pub async fn create_queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
) -> Result<(String, String), PortError> {
    let url = sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .map_err(|e| classify("CreateQueue", e))?
        .queue_url()
        .unwrap_or_default()
        .to_string();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| classify("GetQueueAttributes", e))?
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .unwrap_or_default();
    Ok((url, arn))
}

async fn put_events(eb: &aws_sdk_eventbridge::Client, count: usize) -> Result<(), PortError> {
    let types = all_types();
    let now = Utc::now();
    let mut entries = Vec::new();
    for n in 0..count {
        let event_type = types[n % types.len()];
        // Every fifth event arrives through the partner source too, with the same Stripe id.
        let partner = n % 5 == 4;
        let created = (now - Duration::minutes(((count - n) % 110) as i64)).timestamp();
        let id = format!("evt_{}", random_hex(24));
        let detail = stripe_event(event_type, &id, created, n);
        let (source, detail_type) = if partner {
            (PARTNER_SOURCE, "Stripe Event")
        } else {
            (WEBHOOK_SOURCE, "Stripe Webhook Event")
        };
        entries.push(
            PutEventsRequestEntry::builder()
                .event_bus_name(BUS)
                .source(source)
                .detail_type(detail_type)
                .detail(detail.to_string())
                .build(),
        );
        if entries.len() == 10 || n + 1 == count {
            let out = eb
                .put_events()
                .set_entries(Some(std::mem::take(&mut entries)))
                .send()
                .await
                .map_err(|e| classify("PutEvents", e))?;
            if out.failed_entry_count() > 0 {
                return Err(PortError::Other(format!(
                    "PutEvents: {} entries failed while seeding",
                    out.failed_entry_count()
                )));
            }
        }
    }
    Ok(())
}

async fn seed_dlq(
    sqs: &aws_sdk_sqs::Client,
    spec: &RuleSpec,
    rule: &SandboxRule,
    opts: &SandboxOptions,
    account: &str,
) -> Result<(), PortError> {
    let types: Vec<&str> = match (spec.types, spec.prefix) {
        (Some(t), _) => t.to_vec(),
        (None, Some(_)) => SUBSCRIPTION_TYPES.to_vec(),
        (None, None) => all_types(),
    };
    let target_arn = format!("arn:aws:sqs:{}:{account}:{}", opts.region, spec.queue);
    let now = Utc::now();
    let mut batch = Vec::new();
    for n in 0..opts.dlq_messages {
        let event_type = types[n % types.len()];
        let time = now - Duration::minutes(30 + (n % 90) as i64);
        let id = format!("evt_{}", random_hex(24));
        let detail = stripe_event(event_type, &id, time.timestamp(), n);
        let body = dlq_envelope(
            &opts.region,
            account,
            WEBHOOK_SOURCE,
            "Stripe Webhook Event",
            time,
            &detail,
        );
        let mut attrs = BTreeMap::new();
        attrs.insert("RULE_ARN", rule.arn.clone());
        attrs.insert("TARGET_ARN", target_arn.clone());
        attrs.insert("ERROR_CODE", "ERROR_FROM_TARGET".to_string());
        attrs.insert(
            "ERROR_MESSAGE",
            "Lambda function returned an error: Task timed out after 30.00 seconds".to_string(),
        );
        attrs.insert("RETRY_ATTEMPTS", "8".to_string());
        attrs.insert(
            "EXHAUSTED_RETRY_CONDITION",
            "MaximumRetryAttempts".to_string(),
        );
        let mut entry = SendMessageBatchRequestEntry::builder()
            .id(n.to_string())
            .message_body(body.to_string());
        for (k, v) in attrs {
            entry = entry.message_attributes(k, string_attr(&v)?);
        }
        batch.push(
            entry
                .build()
                .map_err(|e| PortError::Invalid(e.to_string()))?,
        );
        if batch.len() == 10 || n + 1 == opts.dlq_messages {
            let out = sqs
                .send_message_batch()
                .queue_url(&rule.dlq_url)
                .set_entries(Some(std::mem::take(&mut batch)))
                .send()
                .await
                .map_err(|e| classify("SendMessageBatch", e))?;
            if !out.failed().is_empty() {
                return Err(PortError::Other(format!(
                    "SendMessageBatch: {} messages failed while seeding",
                    out.failed().len()
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_endpoints_are_seeded() {
        assert!(is_loopback("http://127.0.0.1:5000"));
        assert!(is_loopback("http://localhost:5000/"));
        assert!(is_loopback("http://[::1]:5000"));
        assert!(!is_loopback("https://events.us-east-2.amazonaws.com"));
        assert!(!is_loopback("http://10.0.0.1:5000"));
        assert!(!is_loopback("http://127.0.0.1.evil.example"));
    }

    #[test]
    fn rule_patterns_match_their_types_only() {
        use crate::pattern::Pattern;
        let sub = Pattern::from_value(&pattern(&RULES[0])).unwrap();
        let ev =
            |t: &str, src: &str| json!({"source": src, "detail": stripe_event(t, "evt_1", 0, 1)});
        assert!(sub.matches(&ev("customer.subscription.updated", WEBHOOK_SOURCE)));
        assert!(sub.matches(&ev("customer.subscription.updated", PARTNER_SOURCE)));
        assert!(!sub.matches(&ev("customer.updated", WEBHOOK_SOURCE)));
        let pay = Pattern::from_value(&pattern(&RULES[1])).unwrap();
        assert!(pay.matches(&ev("charge.failed", WEBHOOK_SOURCE)));
        assert!(!pay.matches(&ev("charge.failed", "other")));
    }
}
