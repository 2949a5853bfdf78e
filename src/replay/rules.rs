//! Rule selection: which rules of the bus a replay names in its FilterArns, read from each
//! rule's event pattern against the requested event types and sources.

use serde::Serialize;
use serde_json::Value;

use crate::pattern::{Known, Pattern};
use crate::ports::bus::RuleInfo;

/// Where the event type lives, tried in order per rule: Stripe-style `detail.type`, then
/// EventBridge's `detail-type`.
pub const DEFAULT_TYPE_FIELDS: &[&str] = &["detail.type", "detail-type"];

/// A rule considered by the plan, and why it was (not) chosen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleChoice {
    pub name: String,
    pub arn: String,
    pub reason: String,
    /// The rule's pattern also matches event types that were not asked for.
    pub also_matches_other_types: bool,
    pub disabled: bool,
}

/// The outcome of rule selection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Selection {
    pub selected: Vec<RuleChoice>,
    /// Rules whose patterns do not constrain the filtered fields at all.
    pub catch_all: Vec<RuleChoice>,
    pub not_matching: Vec<RuleChoice>,
    /// Managed rules (never selected).
    pub managed: Vec<String>,
}

/// The archive's own rule, which feeds the archive and can never receive a replay: it
/// targets `arn:...:archive/NAME`. AWS also marks it `ManagedBy`; LocalStack's
/// `Events-Archive-*` rules lack that mark, so the target is what tells.
pub fn is_archive_rule(r: &RuleInfo) -> bool {
    r.targets.iter().any(|t| t.arn.contains(":archive/"))
}

/// Never selected: managed by an AWS service, or the archive's own rule.
pub fn is_reserved(r: &RuleInfo) -> bool {
    r.is_managed() || is_archive_rule(r)
}

/// Which of the configured type fields this rule's pattern constrains first.
fn type_field_of<'a>(p: &Pattern, fields: &'a [String]) -> Option<&'a str> {
    fields.iter().map(String::as_str).find(|f| p.constrains(f))
}

fn known(type_field: Option<(&str, &str)>, source: Option<&str>) -> Known {
    let mut k = Known::new();
    if let Some((field, t)) = type_field {
        k = k.with(field, Value::String(t.to_string()));
    }
    if let Some(s) = source {
        k = k.with("source", Value::String(s.to_string()));
    }
    k
}

/// Selects the rules whose patterns can match the requested types and sources.
pub fn select_rules(
    rules: &[RuleInfo],
    types: &[String],
    sources: &[String],
    explicit: &[String],
    type_fields: &[String],
    include_catch_all: bool,
) -> Result<Selection, String> {
    let mut sel = Selection::default();
    let choice = |r: &RuleInfo, reason: String, other: bool| RuleChoice {
        name: r.name.clone(),
        arn: r.arn.clone(),
        reason,
        also_matches_other_types: other,
        disabled: !r.is_enabled(),
    };
    for wanted in explicit {
        let rule = rules
            .iter()
            .find(|r| &r.name == wanted || &r.arn == wanted)
            .ok_or_else(|| {
                let names: Vec<&str> = rules
                    .iter()
                    .filter(|r| !is_reserved(r))
                    .map(|r| r.name.as_str())
                    .collect();
                format!(
                    "--rule {wanted}: no such rule on the bus; rules: {}",
                    names.join(", ")
                )
            })?;
        if is_reserved(rule) {
            return Err(format!(
                "--rule {wanted}: the rule is managed by {} and cannot receive a replay",
                rule.managed_by.as_deref().unwrap_or("AWS")
            ));
        }
        sel.selected
            .push(choice(rule, "named with --rule".into(), false));
    }
    let filtering = !types.is_empty() || !sources.is_empty();
    for r in rules {
        if is_reserved(r) {
            sel.managed.push(r.name.clone());
            continue;
        }
        if !filtering || sel.selected.iter().any(|s| s.arn == r.arn) {
            continue;
        }
        let Some(text) = &r.event_pattern else {
            sel.not_matching
                .push(choice(r, "no event pattern (scheduled rule)".into(), false));
            continue;
        };
        let pattern = match Pattern::parse(text) {
            Ok(p) => p,
            Err(e) => {
                sel.not_matching.push(choice(
                    r,
                    format!("pattern not evaluated locally ({e}); name it with --rule if needed"),
                    false,
                ));
                continue;
            }
        };
        let src_list: Vec<Option<&str>> = if sources.is_empty() {
            vec![None]
        } else {
            sources.iter().map(|s| Some(s.as_str())).collect()
        };
        let field = type_field_of(&pattern, type_fields);
        let constrains_sources = !sources.is_empty() && pattern.constrains("source");
        let catch_all = if types.is_empty() {
            !constrains_sources
        } else {
            field.is_none()
        };
        if catch_all {
            let ok = src_list.iter().any(|s| pattern.may_match(&known(None, *s)));
            let what = if types.is_empty() {
                "source"
            } else {
                "the event type"
            };
            if ok {
                let reason = format!(
                    "pattern does not constrain {what}, so it matches every event of the window it otherwise accepts"
                );
                if include_catch_all {
                    sel.selected.push(choice(
                        r,
                        format!("catch-all included with --include-catch-all: {reason}"),
                        true,
                    ));
                }
                sel.catch_all.push(choice(r, reason, true));
            } else {
                sel.not_matching.push(choice(
                    r,
                    "pattern cannot match the requested sources".into(),
                    false,
                ));
            }
            continue;
        }
        let matched: Vec<&String> = if types.is_empty() {
            Vec::new()
        } else {
            types
                .iter()
                .filter(|t| {
                    src_list
                        .iter()
                        .any(|s| pattern.may_match(&known(field.map(|f| (f, t.as_str())), *s)))
                })
                .collect()
        };
        let source_ok =
            types.is_empty() && src_list.iter().any(|s| pattern.may_match(&known(None, *s)));
        if !matched.is_empty() {
            let field = field.unwrap_or("detail-type");
            let other = match pattern.exact_values(field) {
                Some(values) => values.iter().any(|v| !types.contains(v)),
                None => true,
            };
            let list: Vec<&str> = matched.iter().map(|s| s.as_str()).collect();
            sel.selected.push(choice(
                r,
                format!("pattern can match {field} = {}", list.join(", ")),
                other,
            ));
        } else if source_ok {
            sel.selected.push(choice(
                r,
                format!("pattern can match source {}", sources.join(", ")),
                true,
            ));
        } else {
            sel.not_matching.push(choice(
                r,
                "pattern cannot match the requested types/sources".into(),
                false,
            ));
        }
    }
    if sel.selected.is_empty() {
        let mut msg = String::from("no rule on the bus can match");
        if !types.is_empty() {
            msg.push_str(&format!(" event types {}", types.join(", ")));
        }
        if !sources.is_empty() {
            msg.push_str(&format!(" from sources {}", sources.join(", ")));
        }
        if !sel.catch_all.is_empty() {
            let names: Vec<&str> = sel.catch_all.iter().map(|c| c.name.as_str()).collect();
            msg.push_str(&format!(
                "; catch-all rules {} would, with --include-catch-all",
                names.join(", ")
            ));
        }
        msg.push_str("; check the types with `nexus-replay rules`, or name rules with --rule");
        return Err(msg);
    }
    Ok(sel)
}

/// The selection of `--all-rules`: no FilterArns; the managed rules are listed only.
pub fn every_rule(rules: &[RuleInfo]) -> Selection {
    Selection {
        managed: rules
            .iter()
            .filter(|r| is_reserved(r))
            .map(|r| r.name.clone())
            .collect(),
        ..Selection::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::fixtures::{billing_rules, fields, names, rule, s, unmarked_archive_rule};

    #[test]
    fn a_subscription_type_selects_only_the_subscription_rule() {
        let sel = select_rules(
            &billing_rules(),
            &s(&["customer.subscription.updated"]),
            &[],
            &[],
            &fields(),
            false,
        )
        .unwrap();
        assert_eq!(names(&sel.selected), ["subscription"]);
        assert!(
            sel.selected[0].also_matches_other_types,
            "a prefix pattern matches other subscription types"
        );
        assert_eq!(names(&sel.catch_all), ["monitoring"]);
        assert_eq!(names(&sel.not_matching), ["payment", "customer"]);
        assert_eq!(sel.managed, ["Events-Archive-a"]);
    }

    #[test]
    fn catch_alls_are_selected_only_when_asked() {
        let sel = select_rules(
            &billing_rules(),
            &s(&["customer.subscription.updated"]),
            &[],
            &[],
            &fields(),
            true,
        )
        .unwrap();
        assert_eq!(names(&sel.selected), ["subscription", "monitoring"]);
    }

    #[test]
    fn exact_patterns_report_whether_they_match_other_types() {
        let all = s(&["invoice.payment_succeeded", "invoice.payment_failed"]);
        let sel = select_rules(&billing_rules(), &all, &[], &[], &fields(), false).unwrap();
        assert_eq!(names(&sel.selected), ["payment"]);
        assert!(!sel.selected[0].also_matches_other_types);
        let one = s(&["invoice.payment_failed"]);
        let sel = select_rules(&billing_rules(), &one, &[], &[], &fields(), false).unwrap();
        assert!(sel.selected[0].also_matches_other_types);
    }

    #[test]
    fn sources_narrow_the_selection() {
        let t = s(&["customer.updated"]);
        let sel = select_rules(
            &billing_rules(),
            &t,
            &s(&["aws.partner/stripe.com/ed_1"]),
            &[],
            &fields(),
            false,
        )
        .unwrap();
        assert_eq!(names(&sel.selected), ["customer"]);
        let err = select_rules(
            &billing_rules(),
            &t,
            &s(&["other.source"]),
            &[],
            &fields(),
            true,
        )
        .unwrap_err();
        assert!(err.contains("no rule on the bus can match"), "{err}");
        let sel = select_rules(
            &billing_rules(),
            &[],
            &s(&["stripe.webhook"]),
            &[],
            &fields(),
            false,
        )
        .unwrap();
        assert_eq!(
            names(&sel.selected),
            ["subscription", "payment", "customer", "monitoring"]
        );
    }

    #[test]
    fn detail_type_is_used_when_the_pattern_filters_on_it() {
        let rules = vec![
            rule("by-detail-type", r#"{"detail-type": ["Order Placed"]}"#),
            rule("other", r#"{"detail-type": ["Order Shipped"]}"#),
        ];
        let sel = select_rules(&rules, &s(&["Order Placed"]), &[], &[], &fields(), false).unwrap();
        assert_eq!(names(&sel.selected), ["by-detail-type"]);
        assert!(sel.selected[0].reason.contains("detail-type"));
        // A custom type field.
        let rules = vec![rule("kind", r#"{"detail": {"kind": ["a"]}}"#)];
        let sel = select_rules(&rules, &s(&["a"]), &[], &[], &s(&["detail.kind"]), false).unwrap();
        assert_eq!(names(&sel.selected), ["kind"]);
    }

    #[test]
    fn no_matching_rule_is_an_error_that_mentions_catch_alls() {
        let err = select_rules(
            &billing_rules(),
            &s(&["charge.refunded"]),
            &[],
            &[],
            &fields(),
            false,
        )
        .unwrap_err();
        assert!(
            err.contains("charge.refunded") && err.contains("--include-catch-all"),
            "{err}"
        );
    }

    #[test]
    fn explicit_rules_are_added_and_checked() {
        let sel = select_rules(
            &billing_rules(),
            &s(&["customer.updated"]),
            &[],
            &s(&["payment"]),
            &fields(),
            false,
        )
        .unwrap();
        assert_eq!(names(&sel.selected), ["payment", "customer"]);
        let err =
            select_rules(&billing_rules(), &[], &[], &s(&["nope"]), &fields(), false).unwrap_err();
        assert!(err.contains("no such rule"), "{err}");
        let err = select_rules(
            &billing_rules(),
            &[],
            &[],
            &s(&["Events-Archive-a"]),
            &fields(),
            false,
        )
        .unwrap_err();
        assert!(err.contains("managed"), "{err}");
    }

    /// LocalStack's archive rule has no ManagedBy; its archive target marks it.
    #[test]
    fn an_archive_rule_without_managed_by_is_never_selected() {
        let mut rules = billing_rules();
        let archive_rule = rules.last_mut().unwrap();
        *archive_rule = unmarked_archive_rule("a");
        assert!(is_archive_rule(archive_rule) && !is_archive_rule(&rules[0]));
        let sel = select_rules(&rules, &[], &s(&["stripe.webhook"]), &[], &fields(), true).unwrap();
        assert!(!names(&sel.selected).contains(&"Events-Archive-a"));
        assert_eq!(sel.managed, ["Events-Archive-a"]);
        assert_eq!(every_rule(&rules).managed, ["Events-Archive-a"]);
        let err = select_rules(
            &rules,
            &[],
            &[],
            &s(&["Events-Archive-a"]),
            &fields(),
            false,
        )
        .unwrap_err();
        assert!(err.contains("managed"), "{err}");
    }
}
