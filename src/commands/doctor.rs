//! `doctor`: incident-readiness checks for a bus, each PASS/WARN/FAIL with a fix hint.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::commands::archives::retention;
use crate::commands::dlq_list::dlq_rows;
use crate::commands::rules::retry_text;
use crate::error::AppError;
use crate::ports::PortError;
use crate::ports::bus::BusCatalogue;
use crate::ports::queue::Queue;
use crate::replay::rules::is_reserved;

/// Prefix of Stripe's partner event sources.
pub const STRIPE_PARTNER_PREFIX: &str = "aws.partner/stripe.com";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Pass,
    Warn,
    Fail,
}

impl Status {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        }
    }
}

/// One check's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Stable identifier: bus, rule-enabled, target-dlq, target-retry, archive, dlq-depth,
    /// partner-sources.
    pub check: String,
    pub status: Status,
    pub subject: String,
    pub message: String,
    pub hint: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DoctorReport {
    pub bus: String,
    pub checks: Vec<Check>,
    pub pass: usize,
    pub warn: usize,
    pub fail: usize,
}

struct Checks(Vec<Check>);

impl Checks {
    fn add(
        &mut self,
        check: &str,
        status: Status,
        subject: &str,
        message: String,
        hint: Option<String>,
    ) {
        self.0.push(Check {
            check: check.into(),
            status,
            subject: subject.into(),
            message,
            hint,
        });
    }
}

/// Runs every check against the bus. A missing bus is an error (exit 2), not a FAIL.
pub async fn doctor(
    cat: &dyn BusCatalogue,
    queues: &dyn Queue,
    bus_name: &str,
    now: DateTime<Utc>,
) -> Result<DoctorReport, AppError> {
    let bus = crate::discovery::require_bus(cat, bus_name).await?;
    let mut c = Checks(Vec::new());
    c.add(
        "bus",
        Status::Pass,
        &bus.name,
        format!("exists ({})", bus.arn),
        None,
    );

    let rules = cat.list_rules(&bus.name).await?;
    let own: Vec<_> = rules.iter().filter(|r| !is_reserved(r)).collect();
    if own.is_empty() {
        c.add(
            "rule-enabled",
            Status::Warn,
            &bus.name,
            "the bus has no rules: events are delivered nowhere".into(),
            Some("create rules for the consumers of this bus".into()),
        );
    }
    for r in &own {
        if r.is_enabled() {
            c.add(
                "rule-enabled",
                Status::Pass,
                &r.name,
                "ENABLED".into(),
                None,
            );
        } else {
            c.add(
                "rule-enabled",
                Status::Warn,
                &r.name,
                format!("{}: matching events are not delivered", r.state),
                Some(format!(
                    "aws events enable-rule --name {} --event-bus-name {}",
                    r.name, bus.name
                )),
            );
        }
        for t in &r.targets {
            let subject = format!("{} / {}", r.name, t.id);
            match &t.dlq_arn {
                Some(d) => c.add("target-dlq", Status::Pass, &subject, format!("DLQ {d}"), None),
                None => c.add(
                    "target-dlq",
                    Status::Fail,
                    &subject,
                    "no dead-letter queue: events that exhaust retries are lost".into(),
                    Some(format!(
                        "create an SQS queue and set it with: aws events put-targets --rule {} --event-bus-name {} --targets 'Id={},Arn={},DeadLetterConfig={{Arn=QUEUE_ARN}}'",
                        r.name, bus.name, t.id, t.arn
                    )),
                ),
            }
            match &t.retry_policy {
                Some(p) => c.add(
                    "target-retry",
                    Status::Pass,
                    &subject,
                    format!("retry policy: {}", retry_text(Some(p))),
                    None,
                ),
                None => c.add(
                    "target-retry",
                    Status::Warn,
                    &subject,
                    format!("no retry policy: {}", retry_text(None)),
                    Some("set RetryPolicy={MaximumRetryAttempts=N,MaximumEventAgeInSeconds=S} on the target so failures reach the DLQ when you expect".into()),
                ),
            }
        }
    }

    let archives = cat.list_archives(Some(&bus.arn)).await?;
    let enabled: Vec<_> = archives.iter().filter(|a| a.is_enabled()).collect();
    if enabled.is_empty() {
        let (msg, hint) = if archives.is_empty() {
            (
                "no archive records this bus: nothing can be replayed".to_string(),
                format!(
                    "aws events create-archive --archive-name {}-archive --event-source-arn {} --retention-days 30",
                    bus.name, bus.arn
                ),
            )
        } else {
            let names: Vec<String> = archives
                .iter()
                .map(|a| format!("{} ({})", a.name, a.state))
                .collect();
            (
                format!("no archive of this bus is ENABLED: {}", names.join(", ")),
                "re-enable the archive or create a new one".to_string(),
            )
        };
        c.add("archive", Status::Fail, &bus.name, msg, Some(hint));
    }
    for a in enabled {
        let reach = crate::output::time(a.earliest_replayable(now));
        let mut message = format!(
            "ENABLED, retention {}, replayable from {reach}",
            retention(a.retention_days.unwrap_or(0))
        );
        let archive = cat.describe_archive(&a.name).await.ok();
        match archive.and_then(|x| x.event_pattern) {
            Some(p) => {
                message.push_str(&format!("; records only events matching {p}"));
                c.add(
                    "archive",
                    Status::Warn,
                    &a.name,
                    message,
                    Some("events outside the archive's pattern cannot be replayed".into()),
                );
            }
            None => c.add("archive", Status::Pass, &a.name, message, None),
        }
    }

    let dlqs = dlq_rows(cat, queues, &bus.name).await?;
    for d in &dlqs.dlqs {
        match (&d.depth, &d.error) {
            (Some(depth), _) if depth.visible + depth.in_flight == 0 => {
                c.add("dlq-depth", Status::Pass, &d.name, "empty".into(), None)
            }
            (Some(depth), _) => c.add(
                "dlq-depth",
                Status::Warn,
                &d.name,
                format!("~{} waiting, ~{} in flight", depth.visible, depth.in_flight),
                Some(format!("inspect with `nexus-replay dlq peek --queue {}`, then drain it with `nexus-replay drain --queue {}`", d.name, d.name)),
            ),
            (None, err) => c.add(
                "dlq-depth",
                Status::Fail,
                &d.name,
                format!("cannot read the DLQ: {}", err.as_deref().unwrap_or("unknown error")),
                Some("create the queue or fix the target's DeadLetterConfig; failed events are lost until then".into()),
            ),
        }
    }

    match cat.list_event_sources(STRIPE_PARTNER_PREFIX).await {
        Ok(sources) if sources.is_empty() => c.add(
            "partner-sources",
            Status::Pass,
            STRIPE_PARTNER_PREFIX,
            "no Stripe partner event sources (webhook events only)".into(),
            None,
        ),
        Ok(sources) => {
            for s in sources {
                let status = if s.state == "ACTIVE" {
                    Status::Pass
                } else {
                    Status::Warn
                };
                let hint = (s.state == "PENDING").then(|| {
                    format!("associate it: aws events create-event-bus --name {} --event-source-name {}", s.name, s.name)
                });
                c.add("partner-sources", status, &s.name, s.state.clone(), hint);
            }
        }
        Err(e) => {
            let hint = match e {
                PortError::Denied(_) => {
                    "grant events:ListEventSources, or check the sources in the console"
                }
                _ => {
                    "check the partner event sources in the console (EventBridge > Partner event sources)"
                }
            };
            c.add(
                "partner-sources",
                Status::Warn,
                STRIPE_PARTNER_PREFIX,
                format!("could not list partner event sources: {e}"),
                Some(hint.into()),
            )
        }
    }

    let count = |s| c.0.iter().filter(|x| x.status == s).count();
    Ok(DoctorReport {
        bus: bus.name,
        pass: count(Status::Pass),
        warn: count(Status::Warn),
        fail: count(Status::Fail),
        checks: c.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::eventbridge::MemoryEventBridge;
    use crate::memory::sqs::MemoryQueue;

    async fn partner_hint(answer: PortError) -> String {
        let eb = MemoryEventBridge::new();
        eb.add_bus("billing");
        eb.set_event_sources(Err(answer));
        let report = doctor(&eb, &MemoryQueue::new(), "billing", Utc::now())
            .await
            .unwrap();
        let check = report
            .checks
            .iter()
            .find(|c| c.check == "partner-sources")
            .unwrap();
        assert_eq!(check.status, Status::Warn);
        check.hint.clone().unwrap()
    }

    #[tokio::test]
    async fn the_partner_sources_hint_names_the_permission_only_when_it_was_refused() {
        let denied = partner_hint(PortError::Denied(
            "ListEventSources: AccessDeniedException: not authorized".into(),
        ))
        .await;
        assert!(
            denied.starts_with("grant events:ListEventSources"),
            "{denied}"
        );
        let broken = partner_hint(PortError::Transient(
            "ListEventSources: HTTP 500 without an AWS error code".into(),
        ))
        .await;
        assert!(!broken.contains("grant"), "{broken}");
        assert!(broken.contains("console"), "{broken}");
    }

    /// LocalStack's archive rule lacks `ManagedBy`: it is still not one of the bus's own
    /// rules, so it gets no DLQ or retry verdict and does not count as a rule.
    #[tokio::test]
    async fn an_archive_rule_without_managed_by_is_not_checked_as_a_rule() {
        use crate::replay::fixtures::unmarked_archive_rule;
        let eb = MemoryEventBridge::new();
        eb.add_bus("billing");
        eb.add_rule("billing", unmarked_archive_rule("a"));
        let report = doctor(&eb, &MemoryQueue::new(), "billing", Utc::now())
            .await
            .unwrap();
        assert!(
            !report
                .checks
                .iter()
                .any(|c| c.subject.starts_with("Events-Archive-a")),
            "{:?}",
            report.checks
        );
        let rules = report
            .checks
            .iter()
            .find(|c| c.check == "rule-enabled")
            .unwrap();
        assert_eq!(rules.status, Status::Warn);
        assert!(rules.message.contains("no rules"), "{}", rules.message);
    }

    /// A partner bus is named like its source, with slashes: every check and hint names the
    /// rule (the last segment of its ARN) and the whole bus.
    #[tokio::test]
    async fn a_partner_bus_is_checked_under_its_full_name() {
        const BUS: &str = "aws.partner/stripe.com/ed_XYZ";
        let eb = MemoryEventBridge::new();
        eb.add_bus(BUS);
        eb.add_rule(
            BUS,
            crate::ports::bus::RuleInfo {
                name: "RULE".into(),
                arn: format!("arn:aws:events:us-east-2:123456789012:rule/{BUS}/RULE"),
                state: "DISABLED".into(),
                event_pattern: Some(r#"{"source": [{"prefix": "aws.partner/stripe.com"}]}"#.into()),
                schedule_expression: None,
                managed_by: None,
                description: None,
                targets: vec![crate::ports::bus::TargetInfo {
                    id: "t".into(),
                    arn: "arn:aws:sqs:us-east-2:123456789012:q".into(),
                    ..Default::default()
                }],
            },
        );
        eb.set_event_sources(Ok(Vec::new()));
        let report = doctor(&eb, &MemoryQueue::new(), BUS, Utc::now())
            .await
            .unwrap();
        assert_eq!(report.bus, BUS);
        let check = |name: &str| {
            report
                .checks
                .iter()
                .find(|c| c.check == name)
                .unwrap_or_else(|| panic!("{name}: {:?}", report.checks))
        };
        let enabled = check("rule-enabled");
        assert_eq!(enabled.subject, "RULE");
        assert_eq!(
            enabled.hint.as_deref(),
            Some(
                "aws events enable-rule --name RULE --event-bus-name aws.partner/stripe.com/ed_XYZ"
            )
        );
        let dlq = check("target-dlq");
        assert_eq!(
            (dlq.subject.as_str(), dlq.status),
            ("RULE / t", Status::Fail)
        );
        assert!(
            dlq.hint
                .as_deref()
                .unwrap()
                .contains("--rule RULE --event-bus-name aws.partner/stripe.com/ed_XYZ"),
            "{:?}",
            dlq.hint
        );
    }
}
