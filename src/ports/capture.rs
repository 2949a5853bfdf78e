//! The capture port: the temporary resources an archive export creates to see what a
//! replay re-delivers (an SQS queue only one rule may send to, and a rule on the archive's
//! bus with that queue as its target), their removal, and the listing of what a killed
//! run left behind.
//!
//! The queue's policy is written here, SDK-free, so the adapter and the fake grant exactly
//! the same thing: `sqs:SendMessage` to `events.amazonaws.com` when `aws:SourceArn` is the
//! one rule. The rule's ARN is known before the rule exists (it is the bus's ARN with
//! `rule/` instead of `event-bus/`), so the queue is created with its policy in one call.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use super::PortError;
use super::queue::QueueRef;
use crate::arn::Arn;

/// A queue to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewQueue {
    pub name: String,
    pub tags: BTreeMap<String, String>,
    /// The only rule allowed to send to the queue.
    pub sender_rule_arn: String,
}

/// A rule to create (PutRule) on a bus, ENABLED, without targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRule {
    pub bus: String,
    pub name: String,
    pub pattern: String,
    pub description: String,
    pub tags: BTreeMap<String, String>,
}

/// A rule found by name prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FoundRule {
    pub bus: String,
    pub name: String,
    pub arn: String,
    pub description: Option<String>,
    pub pattern: Option<String>,
}

/// A queue found by name prefix, with what tells whose it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FoundQueue {
    pub name: String,
    pub url: String,
    pub tags: BTreeMap<String, String>,
    pub created: Option<DateTime<Utc>>,
}

/// Creating, removing and finding the resources of a capture.
#[async_trait]
pub trait CaptureResources: Send + Sync {
    /// Creates a standard queue with the tags and the policy of [`send_policy`]; answers
    /// its URL and ARN.
    async fn create_queue(&self, queue: &NewQueue) -> Result<QueueRef, PortError>;
    /// Creates the rule (ENABLED, tagged); answers its ARN.
    async fn put_rule(&self, rule: &NewRule) -> Result<String, PortError>;
    /// Makes the queue with ARN `queue_arn` the rule's target `target_id`, receiving the
    /// matched event as it is.
    async fn put_queue_target(
        &self,
        bus: &str,
        rule: &str,
        target_id: &str,
        queue_arn: &str,
    ) -> Result<(), PortError>;
    /// The ids of the rule's targets.
    async fn target_ids(&self, bus: &str, rule: &str) -> Result<Vec<String>, PortError>;
    /// Removes these targets from the rule.
    async fn remove_targets(&self, bus: &str, rule: &str, ids: &[String]) -> Result<(), PortError>;
    async fn delete_rule(&self, bus: &str, rule: &str) -> Result<(), PortError>;
    async fn delete_queue(&self, url: &str) -> Result<(), PortError>;
    /// The rules on `bus` whose names start with `prefix`.
    async fn rules_named(&self, bus: &str, prefix: &str) -> Result<Vec<FoundRule>, PortError>;
    /// The queues whose names start with `prefix`, with their tags and creation time.
    async fn queues_named(&self, prefix: &str) -> Result<Vec<FoundQueue>, PortError>;
}

/// The ARN rule `name` has on the bus with ARN `bus_arn`
/// (`arn:P:events:R:A:event-bus/BUS` → `arn:P:events:R:A:rule/BUS/NAME`; the default
/// bus's rules are `rule/NAME`).
pub fn rule_arn_on(bus_arn: &str, name: &str) -> Result<String, String> {
    let arn = Arn::parse(bus_arn).map_err(|e| format!("bus ARN {bus_arn} {e}"))?;
    let bus = arn
        .resource
        .strip_prefix("event-bus/")
        .filter(|b| !b.is_empty())
        .ok_or_else(|| format!("{bus_arn} is not an event bus ARN (…:event-bus/NAME)"))?;
    let path = if bus == "default" {
        name.to_string()
    } else {
        format!("{bus}/{name}")
    };
    Ok(format!(
        "arn:{}:events:{}:{}:rule/{path}",
        arn.partition, arn.region, arn.account
    ))
}

/// The ARN of queue `name` in the account and Region of the ARN `beside` (a rule's).
pub fn queue_arn_beside(beside: &str, name: &str) -> Result<String, String> {
    let arn = Arn::parse(beside).map_err(|e| format!("{beside} {e}"))?;
    Ok(format!(
        "arn:{}:sqs:{}:{}:{name}",
        arn.partition, arn.region, arn.account
    ))
}

/// The queue policy: only EventBridge, and only on behalf of the rule `rule_arn`, may
/// send to the queue `queue_arn`.
pub fn send_policy(queue_arn: &str, rule_arn: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Id": "nexus-replay-capture",
        "Statement": [{
            "Sid": "OnlyTheCaptureRule",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
        }],
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rules_arn_follows_from_its_bus() {
        assert_eq!(
            rule_arn_on(
                "arn:aws:events:us-east-2:123456789012:event-bus/orders",
                "r"
            )
            .unwrap(),
            "arn:aws:events:us-east-2:123456789012:rule/orders/r"
        );
        assert_eq!(
            rule_arn_on(
                "arn:aws:events:us-east-2:123456789012:event-bus/default",
                "r"
            )
            .unwrap(),
            "arn:aws:events:us-east-2:123456789012:rule/r"
        );
        assert_eq!(
            rule_arn_on(
                "arn:aws-cn:events:cn-north-1:123456789012:event-bus/aws.partner/stripe.com/ed_1",
                "r"
            )
            .unwrap(),
            "arn:aws-cn:events:cn-north-1:123456789012:rule/aws.partner/stripe.com/ed_1/r"
        );
        assert!(rule_arn_on("arn:aws:sqs:us-east-2:123456789012:q", "r").is_err());
        assert!(rule_arn_on("orders", "r").is_err());
    }

    #[test]
    fn the_policy_lets_only_the_rule_send() {
        let rule = "arn:aws:events:us-east-2:123456789012:rule/b/r";
        let queue = queue_arn_beside(rule, "q").unwrap();
        assert_eq!(queue, "arn:aws:sqs:us-east-2:123456789012:q");
        let p: serde_json::Value = serde_json::from_str(&send_policy(&queue, rule)).unwrap();
        let s = &p["Statement"][0];
        assert_eq!(s["Effect"], "Allow");
        assert_eq!(s["Principal"]["Service"], "events.amazonaws.com");
        assert_eq!(s["Action"], "sqs:SendMessage");
        assert_eq!(s["Resource"], queue);
        assert_eq!(s["Condition"]["ArnEquals"]["aws:SourceArn"], rule);
        assert_eq!(p["Statement"].as_array().unwrap().len(), 1);
    }
}
