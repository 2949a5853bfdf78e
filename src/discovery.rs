//! Finding things from a bus: the bus itself (with a helpful error when missing) and the
//! dead-letter queues behind its rules' targets.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::{AppError, not_found_as};
use crate::ports::bus::{BusCatalogue, BusInfo, RuleInfo};

/// Describes the bus, turning "not found" into a one-line usage error.
pub async fn require_bus(cat: &dyn BusCatalogue, name: &str) -> Result<BusInfo, AppError> {
    require_bus_of(cat, name, "--bus").await
}

/// `require_bus` for the bus a flag other than `--bus` names.
pub async fn require_bus_of(
    cat: &dyn BusCatalogue,
    name: &str,
    flag: &str,
) -> Result<BusInfo, AppError> {
    cat.describe_bus(name).await.map_err(|e| {
        not_found_as(e, || {
            format!("event bus {name:?} does not exist in this account and region; check {flag}, --region and --profile")
        })
    })
}

/// A rule target that sends its failures to a DLQ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DlqFeed {
    pub rule: String,
    pub rule_arn: String,
    pub target_id: String,
    pub target_arn: String,
}

/// A DLQ and the targets that feed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiscoveredDlq {
    pub arn: String,
    pub feeds: Vec<DlqFeed>,
}

/// The DLQs configured on the rules' targets, one entry per queue, sorted by ARN.
pub fn dlqs_of(rules: &[RuleInfo]) -> Vec<DiscoveredDlq> {
    let mut by_arn: BTreeMap<String, Vec<DlqFeed>> = BTreeMap::new();
    for rule in rules {
        for t in &rule.targets {
            if let Some(dlq) = &t.dlq_arn {
                by_arn.entry(dlq.clone()).or_default().push(DlqFeed {
                    rule: rule.name.clone(),
                    rule_arn: rule.arn.clone(),
                    target_id: t.id.clone(),
                    target_arn: t.arn.clone(),
                });
            }
        }
    }
    by_arn
        .into_iter()
        .map(|(arn, feeds)| DiscoveredDlq { arn, feeds })
        .collect()
}

/// The last `:`-separated part of an ARN (a queue's name).
pub fn arn_name(arn: &str) -> &str {
    arn.rsplit([':', '/']).next().unwrap_or(arn)
}

/// Whether `name` matches the glob `pattern`: `*` any run of characters, `?` one.
pub fn glob_matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // reach[j]: the pattern read so far can match the first j characters of the name.
    let mut reach = vec![false; n.len() + 1];
    reach[0] = true;
    for c in &p {
        let mut next = vec![false; n.len() + 1];
        for j in 0..=n.len() {
            next[j] = match c {
                '*' => reach[j] || (j > 0 && next[j - 1]),
                '?' => j > 0 && reach[j - 1],
                c => j > 0 && reach[j - 1] && n[j - 1] == *c,
            };
        }
        reach = next;
    }
    reach[n.len()]
}

/// Whether a rule is the one `wanted` names: a glob on its name, its ARN, or `BUS/NAME`.
pub fn rule_named(wanted: &str, rule: &RuleInfo, bus: &str) -> bool {
    wanted == rule.arn
        || wanted == format!("{bus}/{}", rule.name)
        || glob_matches(wanted, &rule.name)
}

/// Which rules of a bus a drain (or a verify step) takes the DLQs of.
#[derive(Debug, Clone, Default)]
pub struct RuleScope<'a> {
    /// Globs on rule names (`*`, `?`), or exact names or ARNs; empty: every rule.
    pub rules: &'a [String],
    /// Rules whose pattern can match these event types; empty: every type.
    pub event_types: &'a [String],
    /// Rules whose pattern can match these sources; empty: every source.
    pub sources: &'a [String],
    /// Where the event type lives (empty: the defaults).
    pub type_fields: &'a [String],
}

impl RuleScope<'_> {
    fn narrows(&self) -> bool {
        !(self.rules.is_empty() && self.event_types.is_empty() && self.sources.is_empty())
    }
}

/// The DLQs of the rules a scope picks, the rules picked, and the picked rules' targets
/// that have no DLQ (a warning each).
#[derive(Debug, Clone, Default)]
pub struct ScopedDlqs {
    pub dlqs: Vec<DiscoveredDlq>,
    pub rules: Vec<String>,
    pub warnings: Vec<String>,
}

/// The rules of `bus` a scope picks (never the archive's or another managed rule), and the
/// DLQs behind their targets. No rule picked is a usage error naming the bus's rules.
pub fn scoped_dlqs(
    bus: &str,
    rules: &[RuleInfo],
    scope: &RuleScope,
) -> Result<ScopedDlqs, AppError> {
    use crate::replay::rules::{is_reserved, select_rules};
    let candidates: Vec<RuleInfo> = rules.iter().filter(|r| !is_reserved(r)).cloned().collect();
    let names = || {
        let n: Vec<&str> = candidates.iter().map(|r| r.name.as_str()).collect();
        if n.is_empty() {
            "(none)".to_string()
        } else {
            n.join(", ")
        }
    };
    let mut picked: Vec<&RuleInfo> = candidates
        .iter()
        .filter(|r| scope.rules.is_empty() || scope.rules.iter().any(|w| rule_named(w, r, bus)))
        .collect();
    if !scope.event_types.is_empty() || !scope.sources.is_empty() {
        let fields: Vec<String> = if scope.type_fields.is_empty() {
            crate::replay::rules::DEFAULT_TYPE_FIELDS
                .iter()
                .map(|s| s.to_string())
                .collect()
        } else {
            scope.type_fields.to_vec()
        };
        let owned: Vec<RuleInfo> = picked.iter().map(|r| (*r).clone()).collect();
        let by_type = select_rules(
            &owned,
            scope.event_types,
            scope.sources,
            &[],
            &fields,
            false,
        )
        .map(|s| s.selected)
        .unwrap_or_default();
        picked.retain(|r| by_type.iter().any(|s| s.arn == r.arn));
    }
    if picked.is_empty() {
        let mut asked = Vec::new();
        if !scope.rules.is_empty() {
            asked.push(format!("rules {}", scope.rules.join(", ")));
        }
        if !scope.event_types.is_empty() {
            asked.push(format!("event types {}", scope.event_types.join(", ")));
        }
        if !scope.sources.is_empty() {
            asked.push(format!("sources {}", scope.sources.join(", ")));
        }
        return Err(AppError::usage(if scope.narrows() {
            format!(
                "no rule on bus {bus} matches {}; its rules: {}",
                asked.join(" and "),
                names()
            )
        } else {
            format!("bus {bus} has no rule (besides its archives'), so no DLQ to drain")
        }));
    }
    let mut warnings = Vec::new();
    for r in &picked {
        for t in r.targets.iter().filter(|t| t.dlq_arn.is_none()) {
            warnings.push(format!(
                "rule {}: target {} ({}) has no dead-letter queue, so its failed events were dropped and cannot be drained",
                r.name,
                t.id,
                arn_name(&t.arn)
            ));
        }
    }
    let owned: Vec<RuleInfo> = picked.iter().map(|r| (*r).clone()).collect();
    Ok(ScopedDlqs {
        dlqs: dlqs_of(&owned),
        rules: picked.iter().map(|r| r.name.clone()).collect(),
        warnings,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::exit_codes;
    use crate::replay::fixtures::{BUS, billing_rules, s};

    /// The billing rules, each target with a DLQ `<rule>-dlq` but the customer rule's.
    pub(crate) fn rules_with_dlqs() -> Vec<RuleInfo> {
        let mut rules = billing_rules();
        for r in rules.iter_mut().filter(|r| r.name != "customer") {
            r.targets[0].dlq_arn =
                Some(format!("arn:aws:sqs:us-east-2:123456789012:{}-dlq", r.name));
        }
        rules
    }

    fn picked(scope: &RuleScope) -> (Vec<String>, Vec<String>) {
        let d = scoped_dlqs(BUS, &rules_with_dlqs(), scope).unwrap();
        (
            d.rules,
            d.dlqs
                .iter()
                .map(|q| arn_name(&q.arn).to_string())
                .collect(),
        )
    }

    #[test]
    fn globs_match_whole_names_with_star_and_question_mark() {
        for (glob, name) in [
            ("*", ""),
            ("*", "abc"),
            ("a*", "abc"),
            ("*c", "abc"),
            ("*b*", "abc"),
            ("a?c", "abc"),
            ("???", "abc"),
            ("a**c", "abc"),
            ("abc", "abc"),
        ] {
            assert!(glob_matches(glob, name), "{glob} {name}");
        }
        for (glob, name) in [
            ("a", "abc"),
            ("b*", "abc"),
            ("??", "abc"),
            ("a?", "a"),
            ("*d*", "abc"),
        ] {
            assert!(!glob_matches(glob, name), "{glob} {name}");
        }
    }

    #[test]
    fn every_rule_but_the_archives_when_nothing_narrows() {
        let (rules, dlqs) = picked(&RuleScope::default());
        assert_eq!(rules, ["subscription", "payment", "customer", "monitoring"]);
        assert_eq!(dlqs, ["monitoring-dlq", "payment-dlq", "subscription-dlq"]);
    }

    #[test]
    fn rules_are_picked_by_glob_exact_name_arn_or_bus_path() {
        for wanted in [
            "*sub*",
            "subscription",
            "sub?cription",
            "billing/subscription",
            "arn:aws:events:us-east-2:123456789012:rule/billing/subscription",
        ] {
            let w = s(&[wanted]);
            let (rules, dlqs) = picked(&RuleScope {
                rules: &w,
                ..RuleScope::default()
            });
            assert_eq!(
                (rules, dlqs),
                (s(&["subscription"]), s(&["subscription-dlq"])),
                "{wanted}"
            );
        }
        // The archive's managed rule is never picked, even by `*`.
        let all = s(&["*"]);
        let (rules, _) = picked(&RuleScope {
            rules: &all,
            ..RuleScope::default()
        });
        assert!(
            !rules.iter().any(|r| r.starts_with("Events-Archive")),
            "{rules:?}"
        );
    }

    #[test]
    fn event_types_pick_the_rules_whose_patterns_take_them_and_globs_narrow_them() {
        let t = s(&["invoice.payment_failed", "customer.subscription.updated"]);
        let (rules, dlqs) = picked(&RuleScope {
            event_types: &t,
            ..RuleScope::default()
        });
        // Not the catch-all monitoring rule: as a replay, only rules that name the types.
        assert_eq!(rules, ["subscription", "payment"]);
        assert_eq!(dlqs, ["payment-dlq", "subscription-dlq"]);
        let g = s(&["pay*"]);
        let (rules, _) = picked(&RuleScope {
            rules: &g,
            event_types: &t,
            ..RuleScope::default()
        });
        assert_eq!(rules, ["payment"]);
    }

    #[test]
    fn a_picked_target_without_a_dlq_is_a_warning_and_no_rule_picked_an_error_naming_them() {
        let t = s(&["customer.updated"]);
        let d = scoped_dlqs(
            BUS,
            &rules_with_dlqs(),
            &RuleScope {
                event_types: &t,
                ..RuleScope::default()
            },
        )
        .unwrap();
        assert_eq!(d.rules, ["customer"]);
        assert!(d.dlqs.is_empty());
        assert_eq!(
            d.warnings,
            [
                "rule customer: target t (q) has no dead-letter queue, so its failed events were dropped and cannot be drained"
            ]
        );
        let g = s(&["*nothing*"]);
        let e = scoped_dlqs(
            BUS,
            &rules_with_dlqs(),
            &RuleScope {
                rules: &g,
                event_types: &t,
                ..RuleScope::default()
            },
        )
        .unwrap_err();
        assert_eq!(e.exit_code(), exit_codes::USAGE);
        assert_eq!(
            e.to_string(),
            "no rule on bus billing matches rules *nothing* and event types customer.updated; its rules: subscription, payment, customer, monitoring"
        );
    }
}
