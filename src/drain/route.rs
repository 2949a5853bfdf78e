//! `--to target`: which target of which rule a message goes back to, and exactly what that
//! target receives. A message names its rule (`RULE_ARN`) and target (`TARGET_ARN`); the
//! rule's targets are listed once per run (`ListTargetsByRule`), the one that failed is
//! picked (`delivery::pick`), and its input is rebuilt from the event as dead-lettered.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::classify::{Candidate, Class, Dest};
use super::event::{Envelope, META_FIELD, content_digest};
use super::select::Selection;
use super::state::Shared;
use crate::arn::{Arn, RuleArn};
use crate::delivery::kind::TargetKind;
use crate::delivery::names::{execution_name, log_stream_name};
use crate::delivery::pick::pick_target;
use crate::ports::PortError;
use crate::ports::bus::TargetInfo;
use crate::ports::queue::{QueueRef, ReceivedMessage};
use crate::ports::sink::PutEntry;
use crate::target::{RuleContext, TargetInput, TargetInputFields};

/// A rule's targets as listed, or why they could not be.
pub(super) type RuleTargets = Result<Arc<Vec<TargetInfo>>, PortError>;

/// How a message that cannot go to its target says so.
const USE_BUS: &str = "redrive with --to bus";

/// The ledger key of one event's delivery to one target: `"{dedup key} -> {target ARN}"`,
/// so the same event dead-lettered by two targets is claimed (and delivered) once per target.
pub(super) fn claim_key(dedup_key: &str, target_arn: &str) -> String {
    format!("{dedup_key} -> {target_arn}")
}

/// A message classified for a target redrive, before its target is read.
pub(super) struct Unrouted {
    pub(super) key: String,
    pub(super) digest: String,
    pub(super) duplicate_keys: Vec<String>,
    pub(super) redrive: u32,
    pub(super) event_type: Option<String>,
    pub(super) rule: RuleArn,
    pub(super) rule_arn: String,
    pub(super) target_arn: String,
    /// The event as the target first received it: no `replay-name`, no `nexus_replay`.
    pub(super) event: Value,
    pub(super) time: Option<DateTime<Utc>>,
}

/// A candidate's target and the call that delivers to it.
pub(super) struct Routed {
    pub(super) target_arn: String,
    /// `TargetKind::label`.
    pub(super) kind: &'static str,
    /// What the target receives (for a bus target, the event).
    pub(super) input: String,
    pub(super) call: DeliveryCall,
}

/// Everything one delivery call needs, worked out before the claim.
pub(super) enum DeliveryCall {
    Lambda {
        function: String,
    },
    Sqs {
        queue_url: String,
        group_id: Option<String>,
        deduplication_id: Option<String>,
    },
    Sns {
        topic_arn: String,
        group_id: Option<String>,
        deduplication_id: Option<String>,
    },
    StateMachine {
        state_machine_arn: String,
        execution: String,
    },
    Bus(PutEntry),
    Logs {
        log_group: String,
        stream: String,
        timestamp_ms: i64,
    },
}

/// A message this run cannot deliver: it stays, reported with a code and a reason.
pub(super) struct Unroutable {
    pub(super) code: &'static str,
    pub(super) reason: String,
}

fn unroutable(code: &'static str, reason: String) -> Unroutable {
    Unroutable { code, reason }
}

/// The target-redrive classification of a selected message with its key and generation.
pub(super) fn unrouted(
    q: &QueueRef,
    m: &ReceivedMessage,
    mut env: Envelope,
    key: String,
    redrive: u32,
    selection: &Selection,
) -> Class {
    let attr = |name: &str| m.attributes.get(name).filter(|v| !v.trim().is_empty());
    let (Some(rule_arn), Some(target_arn)) = (attr("RULE_ARN"), attr("TARGET_ARN")) else {
        let missing: Vec<&str> = ["RULE_ARN", "TARGET_ARN"]
            .into_iter()
            .filter(|a| attr(a).is_none())
            .collect();
        return Class::Leave {
            code: "NoTarget",
            reason: format!(
                "no {} attribute names the rule target that dead-lettered the message; {USE_BUS}",
                missing.join(" or ")
            ),
            key: Some(key),
            target_arn: attr("TARGET_ARN").cloned(),
        };
    };
    let leave = |reason: String| Class::Leave {
        code: "RuleArn",
        reason: format!("{reason}; {USE_BUS}"),
        key: Some(key.clone()),
        target_arn: Some(target_arn.clone()),
    };
    let rule = match RuleArn::parse(rule_arn) {
        Ok(r) => r,
        Err(why) => return leave(format!("RULE_ARN {rule_arn:?} {why}")),
    };
    match Arn::parse(&q.arn) {
        Err(why) => {
            return leave(format!(
                "the queue's ARN {:?} {why}, so the account and Region of RULE_ARN {rule_arn:?} cannot be checked",
                q.arn
            ));
        }
        Ok(home) => {
            if let Some(why) = rule.foreign_to(&home) {
                return leave(format!("RULE_ARN {rule_arn:?} {why}"));
            }
        }
    }
    let event_type = selection.event_type(&env).map(str::to_string);
    let digest = content_digest(&env);
    let duplicate_keys = std::mem::take(&mut env.duplicate_keys);
    let mut event = env.value().clone();
    if let Some(obj) = event.as_object_mut() {
        obj.remove("replay-name");
        if let Some(Value::Object(detail)) = obj.get_mut("detail") {
            detail.remove(META_FIELD);
        }
    }
    Class::Route(Box::new(Unrouted {
        key,
        digest,
        duplicate_keys,
        redrive,
        event_type,
        rule,
        rule_arn: rule_arn.clone(),
        target_arn: target_arn.clone(),
        event,
        time: env.time,
    }))
}

/// A FIFO queue's or topic's deduplication id: hex SHA-256 of the ledger key (SQS and SNS
/// allow 128 characters).
fn deduplication_id(ledger_key: &str) -> String {
    Sha256::digest(ledger_key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Shared {
    /// The targets of a rule, listed once per run. A failure worth retrying is not kept, so
    /// a later batch lists them again.
    pub(super) async fn targets_of(&self, rule: &RuleArn) -> RuleTargets {
        let Some(cat) = &self.ports.rules else {
            return Err(PortError::Other(
                "no rule catalogue to read the rule's targets from".into(),
            ));
        };
        let id = rule.to_string();
        let mut known = self.rule_targets.lock().await;
        if let Some(t) = known.get(&id) {
            return t.clone();
        }
        let listed = cat.list_targets(&rule.bus, &rule.name).await.map(Arc::new);
        if !matches!(&listed, Err(e) if e.is_retryable()) {
            known.insert(id, listed.clone());
        }
        listed
    }

    /// The URL of a target queue, resolved once per run.
    async fn queue_url(&self, queue_arn: &str) -> Result<String, PortError> {
        let mut known = self.queue_urls.lock().await;
        if let Some(u) = known.get(queue_arn) {
            return u.clone();
        }
        let url = self.ports.queue.resolve(queue_arn).await.map(|q| q.url);
        if !matches!(&url, Err(e) if e.is_retryable()) {
            known.insert(queue_arn.to_string(), url.clone());
        }
        url
    }

    /// The candidate for delivering `u` to its target, or why it cannot be delivered.
    pub(super) async fn route(
        &self,
        q: &QueueRef,
        msg: ReceivedMessage,
        u: Unrouted,
    ) -> Result<Candidate, (ReceivedMessage, Unrouted, Unroutable)> {
        match self.routed(q, &u).await {
            Ok(routed) => Ok(Candidate {
                msg,
                ledger_key: claim_key(&u.key, &u.target_arn),
                key: u.key,
                digest: u.digest,
                duplicate_keys: u.duplicate_keys,
                redrive: u.redrive,
                dest: Dest::Target(Box::new(routed)),
                event_type: u.event_type,
            }),
            Err(why) => Err((msg, u, why)),
        }
    }

    async fn routed(&self, q: &QueueRef, u: &Unrouted) -> Result<Routed, Unroutable> {
        let targets = self.targets_of(&u.rule).await.map_err(|e| match e {
            PortError::NotFound(_) => unroutable(
                "RuleNotFound",
                format!(
                    "the rule {} no longer exists ({e}): restore it, or {USE_BUS}",
                    u.rule_arn
                ),
            ),
            e => unroutable(
                "ListTargetsFailed",
                format!("the targets of rule {} could not be read: {e}", u.rule_arn),
            ),
        })?;
        let target = pick_target(&targets, &u.target_arn, &q.arn).map_err(|e| {
            let code = match e {
                crate::delivery::pick::PickError::NoSuchTarget { .. } => "TargetNotFound",
                crate::delivery::pick::PickError::Ambiguous { .. } => "AmbiguousTarget",
            };
            unroutable(code, format!("rule {}: {e}", u.rule_arn))
        })?;
        let kind = TargetKind::of(&target.arn);
        let label = kind.label();
        let bad_input = |e: crate::target::InputError| {
            unroutable(
                "TargetInput",
                format!("target {} of rule {}: {e}", target.arn, u.rule_arn),
            )
        };
        let input = TargetInput::from_fields(&TargetInputFields::from(&target.input))
            .map_err(bad_input)?
            .render(
                &u.event,
                &RuleContext::new(u.rule_arn.clone(), u.rule.name.clone()),
            )
            .map_err(bad_input)?
            .text;
        let ledger_key = claim_key(&u.key, &target.arn);
        let fifo_group = |fifo: bool, what: &str| -> Result<Option<String>, Unroutable> {
            match (fifo, &target.sqs_message_group_id) {
                (false, _) => Ok(None),
                (true, Some(g)) => Ok(Some(g.clone())),
                (true, None) => Err(unroutable(
                    "NoMessageGroup",
                    format!(
                        "target {} is a FIFO {what} but names no message group (SqsParameters.MessageGroupId), so EventBridge could not have delivered to it either; set one on the target, or {USE_BUS}",
                        target.arn
                    ),
                )),
            }
        };
        let call = match kind {
            TargetKind::Lambda { function_arn } => DeliveryCall::Lambda {
                function: function_arn,
            },
            TargetKind::Sqs { queue_arn, fifo } => DeliveryCall::Sqs {
                group_id: fifo_group(fifo, "queue")?,
                deduplication_id: fifo.then(|| deduplication_id(&ledger_key)),
                queue_url: self.queue_url(&queue_arn).await.map_err(|e| {
                    unroutable(
                        "TargetNotFound",
                        format!("target queue {queue_arn} could not be found: {e}"),
                    )
                })?,
            },
            TargetKind::Sns { topic_arn, fifo } => DeliveryCall::Sns {
                group_id: fifo_group(fifo, "topic")?,
                deduplication_id: fifo.then(|| deduplication_id(&ledger_key)),
                topic_arn,
            },
            TargetKind::StateMachine { state_machine_arn } => DeliveryCall::StateMachine {
                state_machine_arn,
                execution: execution_name(&u.key, u.redrive),
            },
            TargetKind::EventBus { bus_arn } => DeliveryCall::Bus(bus_entry(u, bus_arn)),
            TargetKind::LogGroup { log_group } => DeliveryCall::Logs {
                log_group,
                stream: log_stream_name(&self.cfg.run_id),
                timestamp_ms: u
                    .time
                    .unwrap_or_else(|| self.ports.clock.now())
                    .timestamp_millis(),
            },
            TargetKind::Unsupported { what } => {
                return Err(unroutable(
                    "UnsupportedTarget",
                    format!(
                        "target {} is a {what}, which --to target cannot deliver to; {USE_BUS}",
                        target.arn
                    ),
                ));
            }
        };
        let input = match &call {
            // A bus receives the event itself (EventBridge does not transform it).
            DeliveryCall::Bus(_) => u.event.to_string(),
            _ => input,
        };
        Ok(Routed {
            target_arn: target.arn.clone(),
            kind: label,
            input,
            call,
        })
    }
}

/// The PutEvents entry that hands the event to another bus: its own source, detail-type,
/// detail, resources and time.
fn bus_entry(u: &Unrouted, bus_arn: String) -> PutEntry {
    let text = |k: &str| {
        u.event
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    PutEntry {
        bus: bus_arn,
        source: text("source"),
        detail_type: text("detail-type"),
        detail: u
            .event
            .get("detail")
            .cloned()
            .unwrap_or_default()
            .to_string(),
        resources: u
            .event
            .get("resources")
            .and_then(Value::as_array)
            .map(|r| {
                r.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        time: u.time,
    }
}
