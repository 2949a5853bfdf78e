//! The checks `doctor` has always made: rules enabled, each target's DLQ and retry policy,
//! the archive, the DLQs' depth and Stripe's partner event sources.

use chrono::{DateTime, Utc};

use super::report::{Checks, Status};
use crate::commands::archives::retention;
use crate::commands::dlq_list::dlq_rows;
use crate::commands::rules::retry_text;
use crate::error::AppError;
use crate::ports::PortError;
use crate::ports::bus::{BusCatalogue, BusInfo, EventSourceInfo, RuleInfo};
use crate::ports::queue::Queue;

/// Prefix of Stripe's partner event sources.
pub const STRIPE_PARTNER_PREFIX: &str = "aws.partner/stripe.com";

/// Each of the bus's own rules is enabled; each target has a DLQ and a retry policy.
pub(super) fn rules_and_targets(c: &mut Checks, bus: &BusInfo, own: &[&RuleInfo]) {
    if own.is_empty() {
        c.add(
            "rule-enabled",
            Status::Warn,
            &bus.name,
            "the bus has no rules: events are delivered nowhere".into(),
            Some("create rules for the consumers of this bus".into()),
        );
    }
    for r in own {
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
}

/// An enabled archive records the bus, with no pattern narrowing what it keeps.
pub(super) async fn archives(
    c: &mut Checks,
    cat: &dyn BusCatalogue,
    bus: &BusInfo,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
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
    Ok(())
}

/// Each DLQ can be read, and holds nothing.
pub(super) async fn dlq_depths(
    c: &mut Checks,
    cat: &dyn BusCatalogue,
    queues: &dyn Queue,
    bus: &BusInfo,
) -> Result<(), AppError> {
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
    Ok(())
}

/// Stripe's partner event sources and their state; answers those that are ACTIVE (each has
/// a partner bus of its name).
pub(super) async fn partner_sources(
    c: &mut Checks,
    cat: &dyn BusCatalogue,
) -> Vec<EventSourceInfo> {
    match cat.list_event_sources(STRIPE_PARTNER_PREFIX).await {
        Ok(sources) if sources.is_empty() => {
            c.add(
                "partner-sources",
                Status::Pass,
                STRIPE_PARTNER_PREFIX,
                "no Stripe partner event sources (webhook events only)".into(),
                None,
            );
            Vec::new()
        }
        Ok(sources) => {
            for s in &sources {
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
            sources
                .into_iter()
                .filter(|s| s.state == "ACTIVE")
                .collect()
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
            );
            Vec::new()
        }
    }
}
