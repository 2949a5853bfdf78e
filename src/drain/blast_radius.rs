//! A dry run's plan: which rules of the destination bus would receive each event (its
//! blast radius), or, `--to target`, the one target and the input it would receive.

use std::sync::Arc;

use super::classify::{Candidate, Dest};
use super::event::{as_delivered, parse};
use super::outcome::{Planned, PlannedTarget};
use super::state::{BusRules, Shared};
use crate::pattern::Pattern;
use crate::ports::queue::QueueRef;

impl Shared {
    /// The rules of the bus that have an event pattern, listed on first use.
    pub(super) async fn rules_of(&self, bus: &str) -> BusRules {
        let mut known = self.blast.lock().await;
        if let Some(r) = known.get(bus) {
            return r.clone();
        }
        let listed = match &self.ports.rules {
            None => Err("no rule catalogue to read them from".to_string()),
            Some(cat) => cat.list_rules(bus).await.map_err(|e| e.to_string()),
        };
        let rules = listed.map(|rules| {
            Arc::new(
                rules
                    .into_iter()
                    .filter_map(|r| {
                        let p = Pattern::parse(r.event_pattern.as_deref()?).ok()?;
                        Some((r.name, p))
                    })
                    .collect::<Vec<_>>(),
            )
        });
        known.insert(bus.to_string(), rules.clone());
        rules
    }

    /// The rules of the destination bus whose patterns match the re-emitted event, or why
    /// they are not known.
    pub(super) async fn blast_radius(&self, c: &Candidate) -> Result<Vec<String>, String> {
        let rules = self
            .rules_of(&c.entry().bus)
            .await
            .map_err(|e| format!("rules of bus {} unknown: {e}", c.entry().bus))?;
        let env = parse(&c.msg.body).ok();
        let field = |name: &str| {
            env.as_ref()
                .and_then(|e| e.value().get(name))
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string()
        };
        let delivered = as_delivered(c.entry(), &field("account"), &field("region"));
        Ok(rules
            .iter()
            .filter(|(_, p)| p.matches(&delivered))
            .map(|(n, _)| n.clone())
            .collect())
    }
}

/// Characters of a target's input a dry run shows.
const PREVIEW_CHARS: usize = 200;

/// The start of `text`, at most `PREVIEW_CHARS` characters, marked when cut.
fn preview(text: &str) -> String {
    match text.char_indices().nth(PREVIEW_CHARS) {
        None => text.to_string(),
        Some((end, _)) => format!("{}…", &text[..end]),
    }
}

/// A dry run's plan for the candidates of one batch: each is held (released at the end) and
/// planned with the rules it would reach, or the target it would be delivered to; nothing
/// is claimed, put or delivered.
pub(super) async fn plan(sh: &Shared, q: &QueueRef, cands: Vec<Candidate>) {
    for c in cands {
        let (rules, reason, bus, target) = match &c.dest {
            Dest::Bus(e) => match sh.blast_radius(&c).await {
                Ok(rules) => (rules, None, Some(e.bus.clone()), None),
                Err(why) => (Vec::new(), Some(why), Some(e.bus.clone()), None),
            },
            Dest::Target(r) => (
                Vec::new(),
                None,
                None,
                Some(PlannedTarget {
                    arn: r.target_arn.clone(),
                    kind: r.kind.to_string(),
                    input_preview: preview(&r.input),
                }),
            ),
        };
        let first_action = if target.is_some() {
            "deliver"
        } else {
            "re-emit"
        };
        sh.hold(&q.url, &c.msg);
        let mut st = sh.lock();
        // A key an earlier message of this dry run takes: the real run would put it once
        // and delete this copy, or leave it as a conflict (the ledger is not read here).
        let (action, reason) = match st.dry_keys.get(&c.ledger_key) {
            None => {
                st.dry_keys.insert(c.ledger_key.clone(), c.digest.clone());
                st.counts.would_reemit += 1;
                (first_action, reason)
            }
            Some(d) if *d == c.digest => {
                st.counts.duplicates += 1;
                ("duplicate", Some("another message of this run has the same key and content: deleted without a put".into()))
            }
            Some(_) => {
                st.counts.conflicts += 1;
                (
                    "conflict",
                    Some(format!(
                        "key {}: another message of this run has the same key and other content: this one would stay in the queue",
                        c.ledger_key
                    )),
                )
            }
        };
        st.planned.push(Planned {
            queue: q.name.clone(),
            message_id: c.msg.message_id.clone(),
            action: action.into(),
            dedup_key: Some(c.key.clone()),
            event_type: c.event_type.clone(),
            bus,
            rules,
            reason,
            target,
        });
        drop(st);
        if action == first_action && !c.duplicate_keys.is_empty() {
            sh.warn_duplicate_keys(q, &c.msg, &c.key, &c.duplicate_keys);
        }
    }
}
