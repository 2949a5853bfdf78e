//! Test fixtures shared by the replay planning tests: the reference billing bus, its
//! rules and archive in the memory fake, and a plan request over them.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::plan::plan;
use super::request::PlanRequest;
use super::rules::{DEFAULT_TYPE_FIELDS, RuleChoice};
use crate::memory::eventbridge::MemoryEventBridge;
use crate::ports::bus::{ArchiveInfo, RuleInfo, TargetInfo};

pub const BUS: &str = "billing";

pub fn rule(name: &str, pattern: &str) -> RuleInfo {
    RuleInfo {
        name: name.into(),
        arn: format!("arn:aws:events:us-east-2:123456789012:rule/{BUS}/{name}"),
        state: "ENABLED".into(),
        event_pattern: Some(pattern.into()),
        schedule_expression: None,
        managed_by: None,
        description: None,
        targets: vec![TargetInfo {
            id: "t".into(),
            arn: "arn:aws:sqs:us-east-2:123456789012:q".into(),
            dlq_arn: None,
            retry_policy: None,
            ..TargetInfo::default()
        }],
    }
}

/// The four rules of the reference system plus the archive's managed rule.
pub fn billing_rules() -> Vec<RuleInfo> {
    let src = r#""source": ["stripe.webhook", {"prefix": "aws.partner/stripe.com"}]"#;
    let mut managed = rule(
        "Events-Archive-a",
        r#"{"replay-name": [{"exists": false}]}"#,
    );
    managed.managed_by = Some("prod.vhs.events.aws.internal".into());
    vec![
        rule(
            "subscription",
            &format!(
                r#"{{{src}, "detail": {{"type": [{{"prefix": "customer.subscription."}}]}}}}"#
            ),
        ),
        rule(
            "payment",
            &format!(
                r#"{{{src}, "detail": {{"type": ["invoice.payment_succeeded", "invoice.payment_failed"]}}}}"#
            ),
        ),
        rule(
            "customer",
            &format!(
                r#"{{{src}, "detail": {{"type": ["customer.created", "customer.updated"]}}}}"#
            ),
        ),
        rule("monitoring", &format!("{{{src}}}")),
        managed,
    ]
}

/// The archive's own rule as LocalStack makes it: no `ManagedBy`, only its target (the
/// archive's ARN) tells what it is.
pub fn unmarked_archive_rule(archive: &str) -> RuleInfo {
    let mut r = rule(
        &format!("Events-Archive-{archive}"),
        r#"{"replay-name": [{"exists": false}]}"#,
    );
    r.targets = vec![TargetInfo {
        id: format!("Events-Archive-{archive}"),
        arn: format!("arn:aws:events:us-east-2:123456789012:archive/{archive}"),
        ..TargetInfo::default()
    }];
    r
}

pub fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

pub fn fields() -> Vec<String> {
    s(DEFAULT_TYPE_FIELDS)
}

pub fn names(c: &[RuleChoice]) -> Vec<&str> {
    c.iter().map(|r| r.name.as_str()).collect()
}

pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 9, 8, 18, 0, 0).unwrap()
}

pub fn fake() -> MemoryEventBridge {
    let eb = MemoryEventBridge::new();
    let bus = eb.add_bus(BUS);
    for r in billing_rules() {
        eb.add_rule(BUS, r);
    }
    eb.add_archive(ArchiveInfo {
        name: "archive".into(),
        arn: "arn:aws:events:us-east-2:123456789012:archive/archive".into(),
        source_arn: bus.arn,
        state: "ENABLED".into(),
        state_reason: None,
        retention_days: Some(7),
        event_count: 10,
        size_bytes: 100,
        creation_time: Some(now() - Duration::days(30)),
        event_pattern: None,
    });
    eb
}

pub fn req(since: &str) -> PlanRequest {
    PlanRequest {
        bus: Some(BUS.into()),
        since: since.into(),
        event_types: s(&["customer.subscription.updated"]),
        started_by: "oncall@host".into(),
        ..PlanRequest::default()
    }
}

pub async fn err(eb: &MemoryEventBridge, r: PlanRequest) -> String {
    let e = plan(eb, eb, &r, now()).await.unwrap_err();
    assert_eq!(e.exit_code(), crate::exit_codes::USAGE, "{e}");
    e.to_string()
}
