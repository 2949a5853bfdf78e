//! The capture port on EventBridge and SQS: the temporary queue (with its sender policy
//! and tags), rule, target, their removal, and the listings `--cleanup` reads. Retries
//! are the SDK's (standard mode): every call here is safe to repeat, and the engine
//! treats a call whose answer was lost as possibly applied.

use async_trait::async_trait;
use aws_sdk_eventbridge::types::{
    PutTargetsResultEntry, RemoveTargetsResultEntry, RuleState, Tag, Target,
};
use aws_sdk_sqs::types::QueueAttributeName;
use chrono::DateTime;
use tracing::instrument;

use super::error::classify;
use super::eventbridge::EventBridge;
use super::sqs::Sqs;
use crate::ports::PortError;
use crate::ports::bus::BusCatalogue;
use crate::ports::capture::{
    CaptureResources, FoundQueue, FoundRule, NewQueue, NewRule, queue_arn_beside, send_policy,
};
use crate::ports::queue::QueueRef;

/// SQS's largest message: EventBridge events are at most 256 KB, and the envelope and
/// `replay-name` come on top, so the queue takes anything a rule can deliver.
const MAX_MESSAGE_BYTES: &str = "1048576";
/// The queue lives minutes; a day is plenty should a run be killed before it reads.
const RETENTION_SECONDS: &str = "86400";

/// The EventBridge and SQS clients behind the capture port.
#[derive(Debug, Clone)]
pub struct AwsCapture {
    events: aws_sdk_eventbridge::Client,
    sqs: aws_sdk_sqs::Client,
    /// The bus adapter, for its target listing.
    catalogue: EventBridge,
    /// The queue adapter, for its attribute reads.
    queues: Sqs,
}

impl AwsCapture {
    pub fn new(events: aws_sdk_eventbridge::Client, sqs: aws_sdk_sqs::Client) -> AwsCapture {
        AwsCapture {
            catalogue: EventBridge::new(events.clone()),
            queues: Sqs::new(sqs.clone()),
            events,
            sqs,
        }
    }
}

/// The first failed entry of a PutTargets or RemoveTargets answer, as a port error.
fn failed_entry(call: &str, code: Option<&str>, message: Option<&str>) -> PortError {
    let code = code.unwrap_or("Unknown");
    let text = format!("{call}: {code}: {}", message.unwrap_or("no message"));
    match code {
        "ConcurrentModificationException" | "InternalException" => PortError::Transient(text),
        "LimitExceededException" => PortError::LimitExceeded(text),
        "ResourceNotFoundException" => PortError::NotFound(text),
        "AccessDeniedException" => PortError::Denied(text),
        _ => PortError::Other(text),
    }
}

trait FailedEntry {
    fn code(&self) -> Option<&str>;
    fn message(&self) -> Option<&str>;
}

impl FailedEntry for PutTargetsResultEntry {
    fn code(&self) -> Option<&str> {
        self.error_code()
    }
    fn message(&self) -> Option<&str> {
        self.error_message()
    }
}

impl FailedEntry for RemoveTargetsResultEntry {
    fn code(&self) -> Option<&str> {
        self.error_code()
    }
    fn message(&self) -> Option<&str> {
        self.error_message()
    }
}

fn first_failure<E: FailedEntry>(call: &str, failed: &[E]) -> Result<(), PortError> {
    match failed.first() {
        None => Ok(()),
        Some(f) => Err(failed_entry(call, f.code(), f.message())),
    }
}

fn build_err(what: &str, e: impl std::fmt::Display) -> PortError {
    PortError::Invalid(format!("{what}: {e}"))
}

#[async_trait]
impl CaptureResources for AwsCapture {
    #[instrument(skip(self, queue), fields(queue = %queue.name), level = "debug")]
    async fn create_queue(&self, queue: &NewQueue) -> Result<QueueRef, PortError> {
        let arn =
            queue_arn_beside(&queue.sender_rule_arn, &queue.name).map_err(PortError::Invalid)?;
        let out = self
            .sqs
            .create_queue()
            .queue_name(&queue.name)
            .attributes(
                QueueAttributeName::Policy,
                send_policy(&arn, &queue.sender_rule_arn),
            )
            .attributes(QueueAttributeName::MaximumMessageSize, MAX_MESSAGE_BYTES)
            .attributes(
                QueueAttributeName::MessageRetentionPeriod,
                RETENTION_SECONDS,
            )
            .set_tags(Some(queue.tags.clone().into_iter().collect()))
            .send()
            .await
            .map_err(|e| classify("CreateQueue", e))?;
        let url = out
            .queue_url()
            .ok_or_else(|| {
                PortError::Other(format!("CreateQueue: no URL for queue {}", queue.name))
            })?
            .to_string();
        let attrs = self
            .queues
            .attributes(&url, &[QueueAttributeName::QueueArn])
            .await?;
        Ok(QueueRef {
            name: queue.name.clone(),
            arn: attrs.get("QueueArn").cloned().unwrap_or_default(),
            url,
        })
    }

    #[instrument(skip(self, rule), fields(rule = %rule.name, bus = %rule.bus), level = "debug")]
    async fn put_rule(&self, rule: &NewRule) -> Result<String, PortError> {
        let tags = rule
            .tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| build_err("PutRule", e))?;
        let out = self
            .events
            .put_rule()
            .name(&rule.name)
            .event_bus_name(&rule.bus)
            .event_pattern(&rule.pattern)
            .description(&rule.description)
            .state(RuleState::Enabled)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| classify("PutRule", e))?;
        out.rule_arn()
            .map(str::to_string)
            .ok_or_else(|| PortError::Other(format!("PutRule: no ARN for rule {}", rule.name)))
    }

    #[instrument(skip(self), level = "debug")]
    async fn put_queue_target(
        &self,
        bus: &str,
        rule: &str,
        target_id: &str,
        queue_arn: &str,
    ) -> Result<(), PortError> {
        let target = Target::builder()
            .id(target_id)
            .arn(queue_arn)
            .build()
            .map_err(|e| build_err("PutTargets", e))?;
        let out = self
            .events
            .put_targets()
            .rule(rule)
            .event_bus_name(bus)
            .targets(target)
            .send()
            .await
            .map_err(|e| classify("PutTargets", e))?;
        first_failure("PutTargets", out.failed_entries())
    }

    async fn target_ids(&self, bus: &str, rule: &str) -> Result<Vec<String>, PortError> {
        let targets = self.catalogue.list_targets(bus, rule).await?;
        Ok(targets.into_iter().map(|t| t.id).collect())
    }

    #[instrument(skip(self), level = "debug")]
    async fn remove_targets(&self, bus: &str, rule: &str, ids: &[String]) -> Result<(), PortError> {
        let out = self
            .events
            .remove_targets()
            .rule(rule)
            .event_bus_name(bus)
            .set_ids(Some(ids.to_vec()))
            .send()
            .await
            .map_err(|e| classify("RemoveTargets", e))?;
        first_failure("RemoveTargets", out.failed_entries())
    }

    #[instrument(skip(self), level = "debug")]
    async fn delete_rule(&self, bus: &str, rule: &str) -> Result<(), PortError> {
        self.events
            .delete_rule()
            .name(rule)
            .event_bus_name(bus)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify("DeleteRule", e))
    }

    #[instrument(skip(self), level = "debug")]
    async fn delete_queue(&self, url: &str) -> Result<(), PortError> {
        self.sqs
            .delete_queue()
            .queue_url(url)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify("DeleteQueue", e))
    }

    #[instrument(skip(self), level = "debug")]
    async fn rules_named(&self, bus: &str, prefix: &str) -> Result<Vec<FoundRule>, PortError> {
        let mut rules = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .events
                .list_rules()
                .event_bus_name(bus)
                .name_prefix(prefix)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| classify("ListRules", e))?;
            rules.extend(page.rules().iter().map(|r| FoundRule {
                bus: bus.to_string(),
                name: r.name().unwrap_or_default().to_string(),
                arn: r.arn().unwrap_or_default().to_string(),
                description: r.description().map(str::to_string),
                pattern: r.event_pattern().map(str::to_string),
            }));
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(rules);
            }
        }
    }

    #[instrument(skip(self), level = "debug")]
    async fn queues_named(&self, prefix: &str) -> Result<Vec<FoundQueue>, PortError> {
        let mut urls = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .sqs
                .list_queues()
                .queue_name_prefix(prefix)
                .max_results(1000)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| classify("ListQueues", e))?;
            urls.extend(page.queue_urls().iter().cloned());
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        let mut queues = Vec::with_capacity(urls.len());
        for url in urls {
            let tags = match self.sqs.list_queue_tags().queue_url(&url).send().await {
                Ok(out) => out
                    .tags()
                    .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default(),
                // Deleted since it was listed.
                Err(e) => match classify("ListQueueTags", e) {
                    PortError::NotFound(_) => continue,
                    other => return Err(other),
                },
            };
            let created = match self
                .queues
                .attributes(&url, &[QueueAttributeName::CreatedTimestamp])
                .await
            {
                Ok(attrs) => attrs
                    .get("CreatedTimestamp")
                    // Epoch seconds (moto adds a fraction).
                    .and_then(|s| s.parse::<f64>().ok())
                    .and_then(|s| DateTime::from_timestamp(s as i64, 0)),
                Err(PortError::NotFound(_)) => continue,
                Err(e) => return Err(e),
            };
            queues.push(FoundQueue {
                name: url.rsplit('/').next().unwrap_or(&url).to_string(),
                url,
                tags,
                created,
            });
        }
        Ok(queues)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_eventbridge::error::ErrorMetadata;
    use aws_sdk_eventbridge::operation::delete_rule::{DeleteRuleError, DeleteRuleOutput};
    use aws_sdk_eventbridge::operation::list_rules::ListRulesOutput;
    use aws_sdk_eventbridge::operation::list_targets_by_rule::ListTargetsByRuleOutput;
    use aws_sdk_eventbridge::operation::put_rule::{PutRuleError, PutRuleOutput};
    use aws_sdk_eventbridge::operation::put_targets::PutTargetsOutput;
    use aws_sdk_eventbridge::operation::remove_targets::RemoveTargetsOutput;
    use aws_sdk_eventbridge::types::Rule;
    use aws_sdk_sqs::operation::create_queue::CreateQueueOutput;
    use aws_sdk_sqs::operation::delete_queue::{DeleteQueueError, DeleteQueueOutput};
    use aws_sdk_sqs::operation::get_queue_attributes::GetQueueAttributesOutput;
    use aws_sdk_sqs::operation::list_queue_tags::ListQueueTagsOutput;
    use aws_sdk_sqs::operation::list_queues::ListQueuesOutput;
    use aws_smithy_mocks::{Rule as MockRule, RuleMode, mock, mock_client};
    use std::collections::BTreeMap;

    const RULE_ARN: &str = "arn:aws:events:us-east-2:123456789012:rule/orders/nexus-export-x";
    const QUEUE_URL: &str = "https://sqs.us-east-2.amazonaws.com/123456789012/nexus-export-x";
    const QUEUE_ARN: &str = "arn:aws:sqs:us-east-2:123456789012:nexus-export-x";

    fn events(rules: &[&MockRule]) -> aws_sdk_eventbridge::Client {
        mock_client!(aws_sdk_eventbridge, RuleMode::MatchAny, rules, |c| c
            .retry_config(
                aws_sdk_eventbridge::config::retry::RetryConfig::disabled()
            ))
    }

    fn sqs(rules: &[&MockRule]) -> aws_sdk_sqs::Client {
        mock_client!(aws_sdk_sqs, RuleMode::MatchAny, rules, |c| c
            .retry_config(aws_sdk_sqs::config::retry::RetryConfig::disabled()))
    }

    fn tags() -> BTreeMap<String, String> {
        BTreeMap::from([
            (
                "nexus-replay:purpose".to_string(),
                "archive-export".to_string(),
            ),
            ("nexus-replay:run-id".to_string(), "x".to_string()),
        ])
    }

    #[tokio::test]
    async fn the_queue_is_created_with_its_policy_size_and_tags() {
        let create = mock!(aws_sdk_sqs::Client::create_queue)
            .match_requests(|r| {
                let attrs = r.attributes().unwrap();
                let policy: serde_json::Value =
                    serde_json::from_str(&attrs[&QueueAttributeName::Policy]).unwrap();
                let s = &policy["Statement"][0];
                r.queue_name() == Some("nexus-export-x")
                    && s["Resource"] == QUEUE_ARN
                    && s["Condition"]["ArnEquals"]["aws:SourceArn"] == RULE_ARN
                    && s["Principal"]["Service"] == "events.amazonaws.com"
                    && attrs[&QueueAttributeName::MaximumMessageSize] == "1048576"
                    && r.tags().unwrap()["nexus-replay:purpose"] == "archive-export"
                    && r.tags().unwrap()["nexus-replay:run-id"] == "x"
            })
            .then_output(|| CreateQueueOutput::builder().queue_url(QUEUE_URL).build());
        let arn = mock!(aws_sdk_sqs::Client::get_queue_attributes)
            .match_requests(|r| {
                r.queue_url() == Some(QUEUE_URL)
                    && r.attribute_names() == [QueueAttributeName::QueueArn]
            })
            .then_output(|| {
                GetQueueAttributesOutput::builder()
                    .attributes(QueueAttributeName::QueueArn, QUEUE_ARN)
                    .build()
            });
        let cap = AwsCapture::new(events(&[]), sqs(&[&create, &arn]));
        let q = cap
            .create_queue(&NewQueue {
                name: "nexus-export-x".into(),
                tags: tags(),
                sender_rule_arn: RULE_ARN.into(),
            })
            .await
            .unwrap();
        assert_eq!(
            (q.name.as_str(), q.url.as_str(), q.arn.as_str()),
            ("nexus-export-x", QUEUE_URL, QUEUE_ARN)
        );
        assert_eq!((create.num_calls(), arn.num_calls()), (1, 1));
    }

    fn new_rule() -> NewRule {
        NewRule {
            bus: "orders".into(),
            name: "nexus-export-x".into(),
            pattern: r#"{"replay-name":["nexus-export-x"]}"#.into(),
            description: "nexus-replay archive export x".into(),
            tags: tags(),
        }
    }

    #[tokio::test]
    async fn the_rule_is_put_enabled_with_pattern_description_and_tags() {
        let put = mock!(aws_sdk_eventbridge::Client::put_rule)
            .match_requests(|r| {
                r.name() == Some("nexus-export-x")
                    && r.event_bus_name() == Some("orders")
                    && r.event_pattern() == Some(r#"{"replay-name":["nexus-export-x"]}"#)
                    && r.description() == Some("nexus-replay archive export x")
                    && r.state() == Some(&RuleState::Enabled)
                    && r.tags()
                        .iter()
                        .any(|t| t.key() == "nexus-replay:run-id" && t.value() == "x")
                    && r.tags().len() == 2
            })
            .then_output(|| PutRuleOutput::builder().rule_arn(RULE_ARN).build());
        let cap = AwsCapture::new(events(&[&put]), sqs(&[]));
        assert_eq!(cap.put_rule(&new_rule()).await.unwrap(), RULE_ARN);
    }

    #[tokio::test]
    async fn a_full_bus_is_a_limit() {
        let put = mock!(aws_sdk_eventbridge::Client::put_rule).then_error(|| {
            PutRuleError::generic(
                ErrorMetadata::builder()
                    .code("LimitExceededException")
                    .message("The requested resource exceeds the maximum number allowed.")
                    .build(),
            )
        });
        let cap = AwsCapture::new(events(&[&put]), sqs(&[]));
        let e = cap.put_rule(&new_rule()).await.unwrap_err();
        assert!(
            matches!(e, PortError::LimitExceeded(ref m) if m.starts_with("PutRule: LimitExceededException")),
            "{e:?}"
        );
    }

    #[tokio::test]
    async fn targets_are_put_and_removed_and_a_failed_entry_is_an_error() {
        let put = mock!(aws_sdk_eventbridge::Client::put_targets)
            .match_requests(|r| {
                r.rule() == Some("nexus-export-x")
                    && r.event_bus_name() == Some("orders")
                    && r.targets().len() == 1
                    && r.targets()[0].id() == "nexus-export"
                    && r.targets()[0].arn() == QUEUE_ARN
                    && r.targets()[0].input().is_none()
            })
            .then_output(|| PutTargetsOutput::builder().failed_entry_count(0).build());
        let remove = mock!(aws_sdk_eventbridge::Client::remove_targets)
            .match_requests(|r| r.rule() == Some("nexus-export-x") && r.ids() == ["nexus-export"])
            .then_output(|| {
                RemoveTargetsOutput::builder()
                    .failed_entry_count(1)
                    .failed_entries(
                        RemoveTargetsResultEntry::builder()
                            .target_id("nexus-export")
                            .error_code("ConcurrentModificationException")
                            .error_message("try again")
                            .build(),
                    )
                    .build()
            });
        let list = mock!(aws_sdk_eventbridge::Client::list_targets_by_rule)
            .match_requests(|r| {
                r.rule() == Some("nexus-export-x") && r.event_bus_name() == Some("orders")
            })
            .then_output(|| {
                ListTargetsByRuleOutput::builder()
                    .targets(
                        Target::builder()
                            .id("nexus-export")
                            .arn(QUEUE_ARN)
                            .build()
                            .unwrap(),
                    )
                    .build()
            });
        let cap = AwsCapture::new(events(&[&put, &remove, &list]), sqs(&[]));
        cap.put_queue_target("orders", "nexus-export-x", "nexus-export", QUEUE_ARN)
            .await
            .unwrap();
        assert_eq!(
            cap.target_ids("orders", "nexus-export-x").await.unwrap(),
            ["nexus-export"]
        );
        let e = cap
            .remove_targets("orders", "nexus-export-x", &["nexus-export".into()])
            .await
            .unwrap_err();
        assert_eq!(
            e,
            PortError::Transient(
                "RemoveTargets: ConcurrentModificationException: try again".into()
            )
        );
        assert!(e.is_retryable());
    }

    #[tokio::test]
    async fn deleting_what_is_gone_is_not_found() {
        let rule = mock!(aws_sdk_eventbridge::Client::delete_rule)
            .match_requests(|r| {
                r.name() == Some("nexus-export-x") && r.event_bus_name() == Some("orders")
            })
            .sequence()
            .output(|| DeleteRuleOutput::builder().build())
            .error(|| {
                DeleteRuleError::generic(
                    ErrorMetadata::builder()
                        .code("ResourceNotFoundException")
                        .message("Rule nexus-export-x does not exist.")
                        .build(),
                )
            })
            .build();
        let queue = mock!(aws_sdk_sqs::Client::delete_queue)
            .match_requests(|r| r.queue_url() == Some(QUEUE_URL))
            .sequence()
            .output(|| DeleteQueueOutput::builder().build())
            .error(|| {
                DeleteQueueError::generic(
                    aws_sdk_sqs::error::ErrorMetadata::builder()
                        .code("AWS.SimpleQueueService.NonExistentQueue")
                        .message("The specified queue does not exist.")
                        .build(),
                )
            })
            .build();
        let cap = AwsCapture::new(
            mock_client!(aws_sdk_eventbridge, RuleMode::Sequential, [&rule]),
            mock_client!(aws_sdk_sqs, RuleMode::Sequential, [&queue]),
        );
        cap.delete_rule("orders", "nexus-export-x").await.unwrap();
        assert!(matches!(
            cap.delete_rule("orders", "nexus-export-x").await,
            Err(PortError::NotFound(_))
        ));
        cap.delete_queue(QUEUE_URL).await.unwrap();
        assert!(matches!(
            cap.delete_queue(QUEUE_URL).await,
            Err(PortError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn leftovers_are_listed_by_name_prefix_through_every_page() {
        let first = mock!(aws_sdk_eventbridge::Client::list_rules)
            .match_requests(|r| {
                r.name_prefix() == Some("nexus-export-")
                    && r.event_bus_name() == Some("orders")
                    && r.next_token().is_none()
            })
            .then_output(|| {
                ListRulesOutput::builder()
                    .rules(
                        Rule::builder()
                            .name("nexus-export-a")
                            .arn("arn:a")
                            .description("nexus-replay archive export a")
                            .event_pattern(r#"{"replay-name":["nexus-export-a"]}"#)
                            .build(),
                    )
                    .next_token("p2")
                    .build()
            });
        let second = mock!(aws_sdk_eventbridge::Client::list_rules)
            .match_requests(|r| r.next_token() == Some("p2"))
            .then_output(|| {
                ListRulesOutput::builder()
                    .rules(Rule::builder().name("nexus-export-b").arn("arn:b").build())
                    .build()
            });
        let queues = mock!(aws_sdk_sqs::Client::list_queues)
            .match_requests(|r| r.queue_name_prefix() == Some("nexus-export-"))
            .then_output(|| ListQueuesOutput::builder().queue_urls(QUEUE_URL).build());
        let tags = mock!(aws_sdk_sqs::Client::list_queue_tags)
            .match_requests(|r| r.queue_url() == Some(QUEUE_URL))
            .then_output(|| {
                ListQueueTagsOutput::builder()
                    .tags("nexus-replay:purpose", "archive-export")
                    .build()
            });
        let created = mock!(aws_sdk_sqs::Client::get_queue_attributes)
            .match_requests(|r| r.attribute_names() == [QueueAttributeName::CreatedTimestamp])
            .then_output(|| {
                GetQueueAttributesOutput::builder()
                    .attributes(QueueAttributeName::CreatedTimestamp, "1757340000")
                    .build()
            });
        let cap = AwsCapture::new(events(&[&first, &second]), sqs(&[&queues, &tags, &created]));
        let rules = cap.rules_named("orders", "nexus-export-").await.unwrap();
        let names: Vec<&str> = rules.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["nexus-export-a", "nexus-export-b"]);
        assert_eq!(
            rules[0].description.as_deref(),
            Some("nexus-replay archive export a")
        );
        assert_eq!(rules[0].bus, "orders");
        let found = cap.queues_named("nexus-export-").await.unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].name, "nexus-export-x");
        assert_eq!(found[0].tags["nexus-replay:purpose"], "archive-export");
        assert_eq!(found[0].created, DateTime::from_timestamp(1_757_340_000, 0));
    }
}
