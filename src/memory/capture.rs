//! In-memory capture resources: queues (in a [`MemoryQueue`], so the engine receives them
//! through the queue port) with tags and a sender policy, rules with patterns, targets and
//! tags, and per-call fault injection. [`MemoryCapture::deliver`] is the hook a fake
//! replay sends an event through: to each rule whose pattern matches, to each queue target
//! whose policy lets that rule send, as EventBridge would.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::sqs::MemoryQueue;
use crate::pattern::Pattern;
use crate::ports::PortError;
use crate::ports::capture::{CaptureResources, FoundQueue, FoundRule, NewQueue, NewRule};
use crate::ports::queue::QueueRef;

const ACCOUNT_REGION: &str = "us-east-2:123456789012";

#[derive(Debug, Clone)]
struct FakeRule {
    arn: String,
    pattern: String,
    description: Option<String>,
    tags: BTreeMap<String, String>,
    /// Target id → ARN.
    targets: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
struct FakeQueue {
    url: String,
    tags: BTreeMap<String, String>,
    /// The rule ARN its policy lets send.
    sender: String,
    created: DateTime<Utc>,
}

#[derive(Default)]
struct State {
    /// (bus, rule name) → rule.
    rules: BTreeMap<(String, String), FakeRule>,
    queues: BTreeMap<String, FakeQueue>,
    faults: BTreeMap<&'static str, VecDeque<PortError>>,
    lost_answers: BTreeMap<&'static str, usize>,
    calls: Vec<String>,
    rules_per_bus: Option<usize>,
    /// Deliveries a queue's policy refused.
    refused: usize,
}

/// A fake of the capture resources, shared by clones.
#[derive(Clone)]
pub struct MemoryCapture {
    queues: MemoryQueue,
    state: Arc<Mutex<State>>,
}

fn rule_arn(bus: &str, name: &str) -> String {
    let path = if bus == "default" {
        name.to_string()
    } else {
        format!("{bus}/{name}")
    };
    format!("arn:aws:events:{ACCOUNT_REGION}:rule/{path}")
}

fn rule_missing(bus: &str, rule: &str) -> PortError {
    PortError::NotFound(format!("Rule {rule} does not exist on EventBus {bus}."))
}

impl MemoryCapture {
    /// Creates its queues in `queues`.
    pub fn new(queues: MemoryQueue) -> MemoryCapture {
        MemoryCapture {
            queues,
            state: Arc::default(),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().expect("capture state"))
    }

    /// The next call of `op` (`CreateQueue`, `PutRule`, `PutTargets`, `ListTargetsByRule`,
    /// `RemoveTargets`, `DeleteRule`, `DeleteQueue`, `ListRules`, `ListQueues`) fails with
    /// `err`, applying nothing.
    pub fn fail_next(&self, op: &'static str, err: PortError) {
        self.with(|s| s.faults.entry(op).or_default().push_back(err));
    }

    /// The next call of `op` is applied, but its answer is lost (a transient error).
    pub fn lose_next_answer(&self, op: &'static str) {
        self.with(|s| *s.lost_answers.entry(op).or_default() += 1);
    }

    /// PutRule answers LimitExceeded once a bus has `n` rules.
    pub fn limit_rules_per_bus(&self, n: usize) {
        self.with(|s| s.rules_per_bus = Some(n));
    }

    /// Every call so far, as `Op name`, in order.
    pub fn calls(&self) -> Vec<String> {
        self.with(|s| s.calls.clone())
    }

    /// The names of the rules on `bus`.
    pub fn rules(&self, bus: &str) -> Vec<String> {
        self.with(|s| {
            s.rules
                .keys()
                .filter(|(b, _)| b == bus)
                .map(|(_, n)| n.clone())
                .collect()
        })
    }

    /// A rule's pattern, description, tags and targets (id → ARN).
    #[allow(clippy::type_complexity)]
    pub fn rule(
        &self,
        bus: &str,
        name: &str,
    ) -> Option<(
        String,
        Option<String>,
        BTreeMap<String, String>,
        BTreeMap<String, String>,
    )> {
        self.with(|s| {
            s.rules.get(&(bus.into(), name.into())).map(|r| {
                (
                    r.pattern.clone(),
                    r.description.clone(),
                    r.tags.clone(),
                    r.targets.clone(),
                )
            })
        })
    }

    /// The names of the queues created here and not deleted.
    pub fn queues(&self) -> Vec<String> {
        self.with(|s| s.queues.keys().cloned().collect())
    }

    /// A queue's tags and the rule ARN its policy lets send.
    pub fn queue(&self, name: &str) -> Option<(BTreeMap<String, String>, String)> {
        self.with(|s| {
            s.queues
                .get(name)
                .map(|q| (q.tags.clone(), q.sender.clone()))
        })
    }

    /// Adds a rule as if someone else made it (no targets).
    pub fn add_rule(&self, bus: &str, name: &str, pattern: &str, description: Option<&str>) {
        self.with(|s| {
            s.rules.insert(
                (bus.into(), name.into()),
                FakeRule {
                    arn: rule_arn(bus, name),
                    pattern: pattern.into(),
                    description: description.map(str::to_string),
                    tags: BTreeMap::new(),
                    targets: BTreeMap::new(),
                },
            )
        });
    }

    /// Adds a queue as if someone else made it, with these tags.
    pub fn add_queue(&self, name: &str, tags: BTreeMap<String, String>) {
        let q = self.queues.create(name);
        self.with(|s| {
            s.queues.insert(
                name.into(),
                FakeQueue {
                    url: q.url,
                    tags,
                    sender: String::new(),
                    created: Utc::now(),
                },
            )
        });
    }

    /// Deliveries a queue policy refused so far.
    pub fn refused(&self) -> usize {
        self.with(|s| s.refused)
    }

    /// Sends `event` as EventBridge would on `bus`: to every rule whose pattern matches
    /// (only those in `filter_arns` unless it is empty; every rule's pattern is ignored
    /// when `apply_patterns` is false), to each of its queue targets whose policy lets the
    /// rule send. Answers the number of messages sent.
    pub fn deliver(
        &self,
        bus: &str,
        filter_arns: &[String],
        event: &Value,
        apply_patterns: bool,
    ) -> usize {
        let body = event.to_string();
        let sends: Vec<String> = self.with(|s| {
            let mut sends = Vec::new();
            for ((b, _), rule) in &s.rules {
                if b != bus || !(filter_arns.is_empty() || filter_arns.contains(&rule.arn)) {
                    continue;
                }
                let matches = !apply_patterns
                    || Pattern::parse(&rule.pattern).is_ok_and(|p| p.matches(event));
                if !matches {
                    continue;
                }
                for target in rule.targets.values() {
                    let name = target.rsplit(':').next().unwrap_or_default();
                    match s.queues.get(name) {
                        Some(q) if q.sender == rule.arn => sends.push(name.to_string()),
                        _ => s.refused += 1,
                    }
                }
            }
            sends
        });
        for q in &sends {
            self.queues.push(q, &body, BTreeMap::new());
        }
        sends.len()
    }

    /// Counts a call; the injected error it fails with, if any.
    fn call(&self, op: &'static str, name: &str) -> Result<(), PortError> {
        self.with(|s| {
            s.calls.push(format!("{op} {name}"));
            s.faults
                .get_mut(op)
                .and_then(VecDeque::pop_front)
                .map_or(Ok(()), Err)
        })
    }

    /// After an applied call: the lost answer, if one is due.
    fn answered(&self, op: &'static str) -> Result<(), PortError> {
        self.with(|s| match s.lost_answers.get_mut(op) {
            Some(n) if *n > 0 => {
                *n -= 1;
                Err(PortError::Transient(format!(
                    "{op}: connection closed before the response (injected)"
                )))
            }
            _ => Ok(()),
        })
    }
}

#[async_trait]
impl CaptureResources for MemoryCapture {
    async fn create_queue(&self, queue: &NewQueue) -> Result<QueueRef, PortError> {
        self.call("CreateQueue", &queue.name)?;
        let q = self.queues.create(&queue.name);
        self.with(|s| {
            s.queues.insert(
                queue.name.clone(),
                FakeQueue {
                    url: q.url.clone(),
                    tags: queue.tags.clone(),
                    sender: queue.sender_rule_arn.clone(),
                    created: Utc::now(),
                },
            )
        });
        self.answered("CreateQueue")?;
        Ok(q)
    }

    async fn put_rule(&self, rule: &NewRule) -> Result<String, PortError> {
        self.call("PutRule", &rule.name)?;
        Pattern::parse(&rule.pattern).map_err(|e| {
            PortError::Invalid(format!("PutRule: InvalidEventPatternException: {e}"))
        })?;
        let arn = self.with(|s| {
            let key = (rule.bus.clone(), rule.name.clone());
            let on_bus = s.rules.keys().filter(|(b, _)| *b == rule.bus).count();
            if !s.rules.contains_key(&key) && s.rules_per_bus.is_some_and(|n| on_bus >= n) {
                return Err(PortError::LimitExceeded(
                    "PutRule: LimitExceededException: The requested resource exceeds the maximum number allowed.".into(),
                ));
            }
            let arn = rule_arn(&rule.bus, &rule.name);
            s.rules.insert(
                key,
                FakeRule {
                    arn: arn.clone(),
                    pattern: rule.pattern.clone(),
                    description: Some(rule.description.clone()),
                    tags: rule.tags.clone(),
                    targets: BTreeMap::new(),
                },
            );
            Ok(arn)
        })?;
        self.answered("PutRule")?;
        Ok(arn)
    }

    async fn put_queue_target(
        &self,
        bus: &str,
        rule: &str,
        target_id: &str,
        queue_arn: &str,
    ) -> Result<(), PortError> {
        self.call("PutTargets", rule)?;
        self.with(|s| {
            s.rules
                .get_mut(&(bus.into(), rule.into()))
                .ok_or_else(|| rule_missing(bus, rule))
                .map(|r| r.targets.insert(target_id.into(), queue_arn.into()))
        })?;
        self.answered("PutTargets")
    }

    async fn target_ids(&self, bus: &str, rule: &str) -> Result<Vec<String>, PortError> {
        self.call("ListTargetsByRule", rule)?;
        self.with(|s| {
            s.rules
                .get(&(bus.into(), rule.into()))
                .map(|r| r.targets.keys().cloned().collect())
                .ok_or_else(|| rule_missing(bus, rule))
        })
    }

    async fn remove_targets(&self, bus: &str, rule: &str, ids: &[String]) -> Result<(), PortError> {
        self.call("RemoveTargets", rule)?;
        self.with(|s| {
            let r = s
                .rules
                .get_mut(&(bus.into(), rule.into()))
                .ok_or_else(|| rule_missing(bus, rule))?;
            for id in ids {
                r.targets.remove(id);
            }
            Ok(())
        })?;
        self.answered("RemoveTargets")
    }

    async fn delete_rule(&self, bus: &str, rule: &str) -> Result<(), PortError> {
        self.call("DeleteRule", rule)?;
        self.with(|s| {
            let key = (bus.to_string(), rule.to_string());
            match s.rules.get(&key) {
                None => Err(rule_missing(bus, rule)),
                Some(r) if !r.targets.is_empty() => Err(PortError::Invalid(
                    "DeleteRule: ValidationException: Rule can't be deleted since it has targets."
                        .into(),
                )),
                Some(_) => {
                    s.rules.remove(&key);
                    Ok(())
                }
            }
        })?;
        self.answered("DeleteRule")
    }

    async fn delete_queue(&self, url: &str) -> Result<(), PortError> {
        self.call("DeleteQueue", url)?;
        let name = self.with(|s| {
            let name = s
                .queues
                .iter()
                .find(|(_, q)| q.url == url)
                .map(|(n, _)| n.clone());
            if let Some(n) = &name {
                s.queues.remove(n);
            }
            name
        });
        let Some(name) = name else {
            return Err(PortError::NotFound(format!(
                "DeleteQueue: AWS.SimpleQueueService.NonExistentQueue: The specified queue does not exist: {url}"
            )));
        };
        self.queues.delete_queue(&name);
        self.answered("DeleteQueue")
    }

    async fn rules_named(&self, bus: &str, prefix: &str) -> Result<Vec<FoundRule>, PortError> {
        self.call("ListRules", prefix)?;
        Ok(self.with(|s| {
            s.rules
                .iter()
                .filter(|((b, n), _)| b == bus && n.starts_with(prefix))
                .map(|((b, n), r)| FoundRule {
                    bus: b.clone(),
                    name: n.clone(),
                    arn: r.arn.clone(),
                    description: r.description.clone(),
                    pattern: Some(r.pattern.clone()),
                })
                .collect()
        }))
    }

    async fn queues_named(&self, prefix: &str) -> Result<Vec<FoundQueue>, PortError> {
        self.call("ListQueues", prefix)?;
        Ok(self.with(|s| {
            s.queues
                .iter()
                .filter(|(n, _)| n.starts_with(prefix))
                .map(|(n, q)| FoundQueue {
                    name: n.clone(),
                    url: q.url.clone(),
                    tags: q.tags.clone(),
                    created: Some(q.created),
                })
                .collect()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::queue::Queue;
    use serde_json::json;

    #[tokio::test]
    async fn a_queue_receives_only_from_the_rule_its_policy_names() {
        let sqs = MemoryQueue::new();
        let cap = MemoryCapture::new(sqs.clone());
        let rule = rule_arn("b", "r");
        let q = cap
            .create_queue(&NewQueue {
                name: "q".into(),
                tags: BTreeMap::new(),
                sender_rule_arn: rule.clone(),
            })
            .await
            .unwrap();
        for name in ["r", "other"] {
            let arn = cap
                .put_rule(&NewRule {
                    bus: "b".into(),
                    name: name.into(),
                    pattern: r#"{"source": ["s"]}"#.into(),
                    description: String::new(),
                    tags: BTreeMap::new(),
                })
                .await
                .unwrap();
            assert_eq!(arn, rule_arn("b", name));
            cap.put_queue_target("b", name, "t", &q.arn).await.unwrap();
        }
        assert_eq!(cap.deliver("b", &[], &json!({"source": "s"}), true), 1);
        assert_eq!(cap.refused(), 1, "the other rule may not send");
        assert_eq!(cap.deliver("b", &[], &json!({"source": "x"}), true), 0);
        assert_eq!(
            cap.deliver(
                "b",
                &[rule_arn("b", "other")],
                &json!({"source": "s"}),
                true
            ),
            0
        );
        assert_eq!(sqs.messages("q").len(), 1);
        assert_eq!(sqs.resolve("q").await.unwrap().url, q.url);
        // A rule with targets cannot be deleted; without, it can.
        assert!(cap.delete_rule("b", "r").await.is_err());
        cap.remove_targets("b", "r", &["t".into()]).await.unwrap();
        cap.delete_rule("b", "r").await.unwrap();
        assert!(matches!(
            cap.delete_rule("b", "r").await,
            Err(PortError::NotFound(_))
        ));
        cap.delete_queue(&q.url).await.unwrap();
        assert!(sqs.resolve("q").await.is_err());
    }
}
