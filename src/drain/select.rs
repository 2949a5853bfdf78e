//! Which DLQ messages a drain takes: event type, source, rule, error code, an EventBridge
//! pattern, and a minimum age. Unselected messages are left in the queue untouched.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::event::Envelope;
use crate::arn::RuleArn;
use crate::discovery::glob_matches;
use crate::pattern::Pattern;

/// The drain's filters; empty lists select everything.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub event_types: Vec<String>,
    pub sources: Vec<String>,
    /// Rule names or globs on them (`*`, `?`), `BUS/NAME`, or ARNs, compared with the
    /// RULE_ARN attribute.
    pub rules: Vec<String>,
    pub error_codes: Vec<String>,
    pub pattern: Option<Pattern>,
    /// Only events at least this old (by event time, else the time SQS got the message).
    pub min_age: Option<Duration>,
    /// Where the event type lives, tried in order.
    pub type_fields: Vec<String>,
}

fn field<'a>(v: &'a serde_json::Value, dotted: &str) -> Option<&'a str> {
    dotted
        .split('.')
        .try_fold(v, |cur, seg| cur.get(seg))?
        .as_str()
}

impl Selection {
    /// The event's type: the first type field it has.
    pub fn event_type<'a>(&self, env: &'a Envelope) -> Option<&'a str> {
        let fields: Vec<&str> = if self.type_fields.is_empty() {
            crate::replay::plan::DEFAULT_TYPE_FIELDS.to_vec()
        } else {
            self.type_fields.iter().map(String::as_str).collect()
        };
        fields.iter().find_map(|f| field(env.value(), f))
    }

    /// None when selected, else why not.
    pub fn rejects(
        &self,
        env: &Envelope,
        attributes: &BTreeMap<String, String>,
        sent_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Option<String> {
        if !self.event_types.is_empty() {
            let t = self.event_type(env);
            if !t.is_some_and(|t| self.event_types.iter().any(|w| w == t)) {
                return Some(format!("event type {} not selected", t.unwrap_or("(none)")));
            }
        }
        if !self.sources.is_empty() && !self.sources.contains(&env.source) {
            return Some(format!("source {} not selected", env.source));
        }
        if !self.rules.is_empty() {
            let arn = attributes.get("RULE_ARN").map(String::as_str).unwrap_or("");
            let rule = RuleArn::parse(arn).ok();
            let hit = self.rules.iter().any(|r| {
                r == arn
                    || rule
                        .as_ref()
                        .is_some_and(|rule| r == &rule.path() || glob_matches(r, &rule.name))
            });
            if !hit {
                return Some(format!(
                    "rule {} not selected",
                    if arn.is_empty() { "(none)" } else { arn }
                ));
            }
        }
        if !self.error_codes.is_empty() {
            let code = attributes
                .get("ERROR_CODE")
                .map(String::as_str)
                .unwrap_or("");
            if !self.error_codes.iter().any(|c| c == code) {
                return Some(format!(
                    "error code {} not selected",
                    if code.is_empty() { "(none)" } else { code }
                ));
            }
        }
        if let Some(p) = &self.pattern
            && !p.matches(env.value())
        {
            return Some("does not match --pattern".into());
        }
        if let Some(min) = self.min_age {
            let when = env.time.or(sent_at);
            let old_enough = when.is_some_and(|t| {
                now.signed_duration_since(t)
                    .to_std()
                    .is_ok_and(|age| age >= min)
            });
            if !old_enough {
                return Some(format!(
                    "younger than --min-age {}",
                    humantime::format_duration(min)
                ));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drain::event::parse;
    use chrono::TimeZone;

    fn env() -> Envelope {
        parse(r#"{"id":"e","source":"stripe.webhook","detail-type":"Stripe Webhook Event","time":"2025-09-08T14:00:00Z",
                  "detail":{"id":"evt_1","type":"invoice.payment_failed","amount":10}}"#).unwrap()
    }

    fn attrs() -> BTreeMap<String, String> {
        BTreeMap::from([
            (
                "RULE_ARN".to_string(),
                "arn:aws:events:us-east-2:123456789012:rule/aws.partner/stripe.com/ed_1/payment-rule"
                    .to_string(),
            ),
            ("ERROR_CODE".to_string(), "ERROR_FROM_TARGET".to_string()),
        ])
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 9, 8, 15, 0, 0).unwrap()
    }

    fn check(s: Selection) -> Option<String> {
        s.rejects(&env(), &attrs(), None, now())
    }

    #[test]
    fn everything_is_selected_without_filters() {
        assert_eq!(check(Selection::default()), None);
    }

    #[test]
    fn each_filter_selects_and_rejects() {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            check(Selection {
                event_types: v(&["invoice.payment_failed"]),
                ..Default::default()
            }),
            None
        );
        assert!(
            check(Selection {
                event_types: v(&["charge.failed"]),
                ..Default::default()
            })
            .unwrap()
            .contains("invoice.payment_failed")
        );
        assert_eq!(
            check(Selection {
                event_types: v(&["Stripe Webhook Event"]),
                type_fields: v(&["detail-type"]),
                ..Default::default()
            }),
            None
        );
        assert_eq!(
            check(Selection {
                sources: v(&["stripe.webhook"]),
                ..Default::default()
            }),
            None
        );
        assert!(
            check(Selection {
                sources: v(&["other"]),
                ..Default::default()
            })
            .is_some()
        );
        assert_eq!(
            check(Selection {
                rules: v(&["payment-rule"]),
                ..Default::default()
            }),
            None
        );
        for by in [
            "arn:aws:events:us-east-2:123456789012:rule/aws.partner/stripe.com/ed_1/payment-rule",
            "aws.partner/stripe.com/ed_1/payment-rule",
        ] {
            assert_eq!(
                check(Selection {
                    rules: v(&[by]),
                    ..Default::default()
                }),
                None,
                "{by}"
            );
        }
        // Globs on the rule's name.
        for glob in ["pay*", "*ment-rule", "payment-rul?", "*"] {
            assert_eq!(
                check(Selection {
                    rules: v(&[glob]),
                    ..Default::default()
                }),
                None,
                "{glob}"
            );
        }
        for not in ["*subscription*", "pay?", "ed_1/*"] {
            assert!(
                check(Selection {
                    rules: v(&[not]),
                    ..Default::default()
                })
                .is_some(),
                "{not}"
            );
        }
        // Parts of the bus name or of the rule name are not the rule.
        for not in ["rule", "ed_1/payment-rule", "stripe.com", "aws.partner"] {
            assert!(
                check(Selection {
                    rules: v(&[not]),
                    ..Default::default()
                })
                .is_some(),
                "{not}"
            );
        }
        assert_eq!(
            check(Selection {
                error_codes: v(&["ERROR_FROM_TARGET"]),
                ..Default::default()
            }),
            None
        );
        assert!(
            check(Selection {
                error_codes: v(&["THROTTLING"]),
                ..Default::default()
            })
            .is_some()
        );
        let p = Pattern::parse(r#"{"detail": {"amount": [{"numeric": [">", 5]}]}}"#).unwrap();
        assert_eq!(
            check(Selection {
                pattern: Some(p),
                ..Default::default()
            }),
            None
        );
        let p = Pattern::parse(r#"{"detail": {"amount": [{"numeric": [">", 50]}]}}"#).unwrap();
        assert!(
            check(Selection {
                pattern: Some(p),
                ..Default::default()
            })
            .is_some()
        );
        assert_eq!(
            check(Selection {
                min_age: Some(Duration::from_secs(3600)),
                ..Default::default()
            }),
            None
        );
        assert!(
            check(Selection {
                min_age: Some(Duration::from_secs(3601)),
                ..Default::default()
            })
            .unwrap()
            .contains("--min-age")
        );
    }
}
