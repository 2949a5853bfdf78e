//! Classification of one received message: skip it (not selected), poison (cannot be
//! re-emitted), leave it (this redrive cannot send it: it stays, unparked), or emit it
//! under its dedup key, onto a bus or (`--to target`) towards its rule's target (`route`).

use chrono::{DateTime, Utc};

use super::config::Redrive;
use super::event::{
    Envelope, Origin, bus_of_rule_arn, content_digest, dedup_key, entry, parse, redrive_of,
};
use super::route::{Routed, Unrouted, unrouted};
use super::state::Shared;
use crate::ports::queue::{QueueRef, ReceivedMessage};
use crate::ports::sink::PutEntry;

/// How a poison reason says to name the destination (the flag differs by command).
pub(super) const NAME_THE_BUS: &str = "name the bus with --to-bus (reemit: --bus)";

/// A candidate for re-emission.
pub(super) struct Candidate {
    pub(super) msg: ReceivedMessage,
    pub(super) key: String,
    /// What the ledger claims: the dedup key on a bus, the dedup key and the target ARN
    /// for a target (`route::claim_key`).
    pub(super) ledger_key: String,
    pub(super) digest: String,
    /// Object keys the body has twice (warned about once the event is re-emitted).
    pub(super) duplicate_keys: Vec<String>,
    pub(super) redrive: u32,
    pub(super) dest: Dest,
    pub(super) event_type: Option<String>,
}

/// Where a candidate goes.
pub(super) enum Dest {
    /// PutEvents onto a bus.
    Bus(PutEntry),
    /// The rule's target that dead-lettered it.
    Target(Box<Routed>),
}

impl Candidate {
    /// The PutEvents entry of a bus redrive.
    pub(super) fn entry(&self) -> &PutEntry {
        match &self.dest {
            Dest::Bus(e) => e,
            Dest::Target(r) => panic!("a target candidate ({}) has no bus entry", r.target_arn),
        }
    }

    /// The target ARN of a target redrive.
    pub(super) fn target_arn(&self) -> Option<&str> {
        match &self.dest {
            Dest::Bus(_) => None,
            Dest::Target(r) => Some(&r.target_arn),
        }
    }
}

/// What `classify` decided for an emittable message (the message itself stays with the
/// caller, which moves it into the `Candidate`).
pub(super) struct Emit {
    pub(super) key: String,
    pub(super) digest: String,
    pub(super) duplicate_keys: Vec<String>,
    pub(super) redrive: u32,
    pub(super) entry: PutEntry,
    pub(super) event_type: Option<String>,
}

pub(super) enum Class {
    Poison {
        reason: String,
        key: Option<String>,
    },
    Skip(String),
    /// This redrive cannot send the message: it stays in the queue (never parked: another
    /// redrive can), reported with `code`.
    Leave {
        code: &'static str,
        reason: String,
        key: Option<String>,
        /// The target it names, for the per-target tallies.
        target_arn: Option<String>,
    },
    Emit(Box<Emit>),
    /// `--to target`: to be routed to the rule's target (`route`).
    Route(Box<Unrouted>),
}

/// Why bus mode does not put an event from `source` on `bus`, with its failure code: PutEvents
/// refuses an `aws.` source, and only a partner's event source puts events on a partner bus.
pub(super) fn bus_refusal(source: &str, bus: &str) -> Option<(&'static str, String)> {
    if source.starts_with("aws.") {
        return Some((
            "ReservedSource",
            format!(
                "the event's source {source:?} starts with \"aws.\", which PutEvents refuses (NotAuthorizedForSourceException): only AWS services and partner event sources send such events; redrive with --to target to deliver it to the rule's target that failed"
            ),
        ));
    }
    if bus.contains('/') {
        return Some((
            "PartnerBus",
            format!(
                "the destination bus {bus:?} is a partner event bus, on which only its partner's event source can put events; redrive with --to target to deliver it to the rule's target that failed"
            ),
        ));
    }
    None
}

impl Shared {
    pub(super) fn classify(&self, q: &QueueRef, m: &ReceivedMessage, now: DateTime<Utc>) -> Class {
        let mut env: Envelope = match parse(&m.body) {
            Ok(e) => e,
            Err(reason) => return Class::Poison { reason, key: None },
        };
        if let Some(why) = self
            .cfg
            .selection
            .rejects(&env, &m.attributes, m.sent_at, now)
        {
            return Class::Skip(why);
        }
        let key = match dedup_key(&env, &self.cfg.dedup) {
            Ok(k) => k,
            Err(reason) => return Class::Poison { reason, key: None },
        };
        let redrive = match redrive_of(&env) {
            Ok(r) if r <= self.cfg.max_redrives => r,
            Ok(r) => {
                return Class::Poison {
                    reason: format!(
                        "redriven {} times already, more than --max-redrives {}",
                        r - 1,
                        self.cfg.max_redrives
                    ),
                    key: Some(key),
                };
            }
            Err(why) => {
                return Class::Poison {
                    reason: format!(
                        "{why}: counted as over --max-redrives {}",
                        self.cfg.max_redrives
                    ),
                    key: Some(key),
                };
            }
        };
        if let Redrive::Target { .. } = self.cfg.redrive {
            return unrouted(q, m, env, key, redrive, &self.cfg.selection);
        }
        let rule_arn = m.attributes.get("RULE_ARN").cloned();
        let bus = match (&self.cfg.to_bus, &rule_arn) {
            (Some(b), _) => b.clone(),
            (None, Some(arn)) => match bus_of_rule_arn(arn, &q.arn) {
                Ok(b) => b,
                Err(why) => {
                    return Class::Poison {
                        reason: format!("no destination: {why}; {NAME_THE_BUS}"),
                        key: Some(key),
                    };
                }
            },
            (None, None) => {
                return Class::Poison {
                    reason: format!(
                        "no RULE_ARN attribute names the destination bus; {NAME_THE_BUS}"
                    ),
                    key: Some(key),
                };
            }
        };
        if let Some((code, reason)) = bus_refusal(&env.source, &bus) {
            return Class::Leave {
                code,
                reason,
                key: Some(key),
                target_arn: None,
            };
        }
        let origin = Origin {
            queue: q.name.clone(),
            rule_arn,
            error_code: m.attributes.get("ERROR_CODE").cloned(),
            run_id: self.cfg.run_id.clone(),
        };
        let event_type = self.cfg.selection.event_type(&env).map(str::to_string);
        let digest = content_digest(&env);
        let duplicate_keys = std::mem::take(&mut env.duplicate_keys);
        let e = entry(env, &key, redrive, &bus, &origin);
        if e.size() > self.cfg.size_limit {
            return Class::Poison {
                reason: format!(
                    "the entry is {} bytes, over the PutEvents limit of {} bytes",
                    e.size(),
                    self.cfg.size_limit
                ),
                key: Some(key),
            };
        }
        Class::Emit(Box::new(Emit {
            event_type,
            key,
            digest,
            duplicate_keys,
            redrive,
            entry: e,
        }))
    }
}
