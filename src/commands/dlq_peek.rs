//! `dlq peek`: what is in a DLQ, grouped by rule, error code, event type and age, with a
//! few samples. Nothing is consumed.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::drain::browse::browse;
use crate::drain::event::parse;
use crate::error::{AppError, not_found_as};
use crate::ports::queue::Queue;

#[derive(Debug, Clone, Serialize)]
pub struct PeekReport {
    pub queue: String,
    pub approximate_depth: u64,
    pub looked_at: usize,
    pub by_rule: BTreeMap<String, usize>,
    pub by_error_code: BTreeMap<String, usize>,
    pub by_event_type: BTreeMap<String, usize>,
    pub by_age: BTreeMap<String, usize>,
    pub not_an_event: usize,
    pub samples: Vec<Value>,
}

fn age_bucket(age: chrono::Duration) -> &'static str {
    match age.num_minutes() {
        i64::MIN..60 => "a: < 1h",
        60..360 => "b: 1h-6h",
        360..1440 => "c: 6h-24h",
        1440..10080 => "d: 1d-7d",
        _ => "e: > 7d",
    }
}

pub async fn peek(
    queue: &dyn Queue,
    name: &str,
    max: usize,
    samples: usize,
    now: DateTime<Utc>,
) -> Result<PeekReport, AppError> {
    let q = queue.resolve(name).await.map_err(|e| {
        not_found_as(e, || {
            format!("queue {name:?} does not exist; check --queue and --region")
        })
    })?;
    let depth = queue.depth(&q.url).await?;
    let msgs = browse(queue, &q.url, max).await?;
    let mut r = PeekReport {
        queue: q.name.clone(),
        approximate_depth: depth.visible + depth.in_flight,
        looked_at: msgs.len(),
        by_rule: BTreeMap::new(),
        by_error_code: BTreeMap::new(),
        by_event_type: BTreeMap::new(),
        by_age: BTreeMap::new(),
        not_an_event: 0,
        samples: Vec::new(),
    };
    let bump = |m: &mut BTreeMap<String, usize>, k: String| *m.entry(k).or_default() += 1;
    for m in &msgs {
        let rule = m
            .attributes
            .get("RULE_ARN")
            .map(|a| match crate::arn::RuleArn::parse(a) {
                Ok(rule) => rule.name,
                Err(_) => format!("(not a rule ARN: {a})"),
            })
            .unwrap_or_else(|| "(no RULE_ARN)".into());
        bump(&mut r.by_rule, rule);
        bump(
            &mut r.by_error_code,
            m.attributes
                .get("ERROR_CODE")
                .cloned()
                .unwrap_or_else(|| "(none)".into()),
        );
        match parse(&m.body) {
            Ok(env) => {
                let t = env
                    .detail_field("type")
                    .and_then(Value::as_str)
                    .unwrap_or(&env.detail_type)
                    .to_string();
                bump(&mut r.by_event_type, t);
                if let Some(when) = env.time.or(m.sent_at) {
                    bump(&mut r.by_age, age_bucket(now - when)[3..].to_string());
                }
                if r.samples.len() < samples {
                    r.samples.push(serde_json::json!({
                        "message_id": m.message_id, "attributes": m.attributes, "event": env.value()
                    }));
                }
            }
            Err(_) => r.not_an_event += 1,
        }
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::sqs::MemoryQueue;

    #[tokio::test(start_paused = true)]
    async fn messages_are_grouped_by_the_rule_name_of_their_rule_arn() {
        let sqs = MemoryQueue::new();
        sqs.create("dlq");
        for arn in [
            "arn:aws:events:us-east-2:123456789012:rule/aws.partner/stripe.com/ed_1/subs",
            "arn:aws:events:us-east-2:123456789012:rule/billing/subs",
            "arn:aws:events:us-east-2:123456789012:rule/payments",
            "arn:aws:events:us-east-2:123456789012:rule//x",
        ] {
            let attrs = BTreeMap::from([("RULE_ARN".to_string(), arn.to_string())]);
            sqs.push("dlq", "{}", attrs);
        }
        sqs.push("dlq", "{}", BTreeMap::new());
        let r = peek(&sqs, "dlq", 10, 0, Utc::now()).await.unwrap();
        let by_rule: Vec<(&str, usize)> = r.by_rule.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        assert_eq!(
            by_rule,
            [
                ("(no RULE_ARN)", 1),
                (
                    "(not a rule ARN: arn:aws:events:us-east-2:123456789012:rule//x)",
                    1
                ),
                ("payments", 1),
                ("subs", 2),
            ]
        );
    }
}
