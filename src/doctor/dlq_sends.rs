//! `InvocationsFailedToBeSentToDlq` above 0 in the last 24 hours: events EventBridge failed
//! to deliver and then failed to write to the rule's DLQ, now only in the archive (if
//! anywhere). A FAIL naming the rule.
//!
//! The command reads the metric through the metrics port ([`FromMetrics`]: one
//! `GetMetricData` sum per rule over the 24 hours).

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use super::report::{Check, DoctorReport, Status};
use crate::ports::PortError;
use crate::ports::bus::BusCatalogue;
use crate::ports::metrics::{MetricQuery, Metrics, Stat, rule_dimensions};
use crate::replay::rules::is_reserved;

/// The one metric this check reads.
#[async_trait]
pub trait DlqSendFailures: Send + Sync {
    /// The sum of `AWS/Events` `InvocationsFailedToBeSentToDlq` for the rule (dimensions
    /// `RuleName` and `EventBusName`; rules of the default bus have `RuleName` only) over
    /// `[since, until)`.
    async fn failed_to_dlq(
        &self,
        bus: &str,
        rule: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<f64, PortError>;
}

/// [`DlqSendFailures`] over the CloudWatch metrics port.
pub struct FromMetrics<'a>(pub &'a dyn Metrics);

#[async_trait]
impl DlqSendFailures for FromMetrics<'_> {
    async fn failed_to_dlq(
        &self,
        bus: &str,
        rule: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<f64, PortError> {
        let query = MetricQuery {
            id: "failed_to_dlq".into(),
            namespace: "AWS/Events".into(),
            metric: "InvocationsFailedToBeSentToDlq".into(),
            dimensions: rule_dimensions(bus, rule),
            stat: Stat::Sum,
        };
        // One point per hour: 24 points, well within a call's limits.
        let points = self.0.fetch(&[query], since, until, 3600).await?;
        Ok(points.values().flatten().map(|(_, v)| v).sum())
    }
}

/// One check per rule of `bus` whose targets have a DLQ, added to the report.
pub async fn add_dlq_send_checks(
    report: &mut DoctorReport,
    cat: &dyn BusCatalogue,
    metrics: &dyn DlqSendFailures,
    bus: &str,
    now: DateTime<Utc>,
) {
    let rules = match cat.list_rules(bus).await {
        Ok(r) => r,
        Err(_) => return, // doctor has already said why the rules cannot be read
    };
    let since = now - Duration::hours(24);
    let checked: Vec<_> = rules
        .iter()
        .filter(|r| !is_reserved(r) && r.targets.iter().any(|t| t.dlq_arn.is_some()))
        .collect();
    for (i, r) in checked.iter().enumerate() {
        let mut unreadable = false;
        let (status, message, hint) = match metrics.failed_to_dlq(bus, &r.name, since, now).await {
            Ok(n) if n > 0.0 => (
                Status::Fail,
                format!(
                    "{n} failed deliveries could not be written to the DLQ in the last 24 h: they are lost from the DLQ"
                ),
                Some(format!(
                    "fix the dlq-policy / dlq-encryption FAILs above, then see what to recover with `nexus-replay triage --bus {bus} --since 24h`"
                )),
            ),
            Ok(_) => (
                Status::Pass,
                "no failed DLQ writes in the last 24 h".to_string(),
                None,
            ),
            Err(e) => {
                unreadable = true;
                let hint = match e {
                    PortError::Denied(_) => "grant cloudwatch:GetMetricData (docs/iam/doctor.json)",
                    _ => "check the rule's InvocationsFailedToBeSentToDlq metric in CloudWatch",
                };
                // The same call for the next rules would fail the same way: one WARN says so.
                let rest = checked.len() - i - 1;
                let others = match rest {
                    0 => String::new(),
                    1 => "; not read for the 1 rule after it either".to_string(),
                    n => format!("; not read for the {n} rules after it either"),
                };
                (
                    Status::Warn,
                    format!("cannot read InvocationsFailedToBeSentToDlq: {e}{others}"),
                    Some(hint.to_string()),
                )
            }
        };
        report.push(Check {
            check: "dlq-sends".into(),
            status,
            subject: r.name.clone(),
            message,
            hint,
        });
        if unreadable {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::memory::eventbridge::MemoryEventBridge;
    use crate::ports::bus::{RuleInfo, TargetInfo};

    /// Failed DLQ writes per rule; a rule not listed answers AccessDenied.
    struct Metrics(BTreeMap<&'static str, f64>);

    #[async_trait]
    impl DlqSendFailures for Metrics {
        async fn failed_to_dlq(
            &self,
            _bus: &str,
            rule: &str,
            since: DateTime<Utc>,
            until: DateTime<Utc>,
        ) -> Result<f64, PortError> {
            assert_eq!(until - since, Duration::hours(24));
            self.0.get(rule).copied().ok_or_else(|| {
                PortError::Denied("GetMetricData: AccessDenied: not authorized".into())
            })
        }
    }

    fn rule(name: &str, dlq: bool) -> RuleInfo {
        RuleInfo {
            name: name.into(),
            arn: format!("arn:aws:events:us-east-2:123456789012:rule/billing/{name}"),
            state: "ENABLED".into(),
            event_pattern: None,
            schedule_expression: None,
            managed_by: None,
            description: None,
            targets: vec![TargetInfo {
                id: "t".into(),
                dlq_arn: dlq.then(|| "arn:aws:sqs:us-east-2:123456789012:d".into()),
                ..TargetInfo::default()
            }],
        }
    }

    #[tokio::test]
    async fn failed_dlq_writes_fail_the_rule_and_an_unreadable_metric_warns() {
        let eb = MemoryEventBridge::new();
        eb.add_bus("billing");
        for r in [
            rule("lost", true),
            rule("fine", true),
            rule("hidden", true),
            rule("nodlq", false),
        ] {
            eb.add_rule("billing", r);
        }
        let metrics = Metrics(BTreeMap::from([
            ("lost", 3.0),
            ("fine", 0.0),
            ("nodlq", 9.0),
        ]));
        let mut report = DoctorReport {
            bus: "billing".into(),
            checks: Vec::new(),
            pass: 0,
            warn: 0,
            fail: 0,
        };
        add_dlq_send_checks(&mut report, &eb, &metrics, "billing", Utc::now()).await;
        let by: BTreeMap<&str, &Check> = report
            .checks
            .iter()
            .map(|c| (c.subject.as_str(), c))
            .collect();
        assert_eq!(by.len(), 3, "a rule without a DLQ is not checked: {by:?}");
        assert_eq!(by["lost"].status, Status::Fail);
        assert!(
            by["lost"].message.starts_with("3 failed deliveries"),
            "{:?}",
            by["lost"]
        );
        assert!(
            by["lost"]
                .hint
                .as_deref()
                .unwrap()
                .contains("triage --bus billing")
        );
        assert_eq!(by["fine"].status, Status::Pass);
        assert_eq!(by["hidden"].status, Status::Warn);
        assert!(
            by["hidden"]
                .hint
                .as_deref()
                .unwrap()
                .contains("cloudwatch:GetMetricData")
        );
        assert_eq!((report.pass, report.warn, report.fail), (1, 1, 1));
    }

    #[tokio::test]
    async fn the_metric_is_summed_over_the_day_with_the_rule_and_bus_dimensions() {
        use crate::memory::metrics::MemoryMetrics;
        let now = Utc::now();
        let m = MemoryMetrics::new();
        let dims = [("RuleName", "subs"), ("EventBusName", "billing")];
        for (hours_ago, v) in [(1, 2.0), (20, 3.0), (30, 100.0)] {
            m.put(
                "AWS/Events",
                "InvocationsFailedToBeSentToDlq",
                &dims,
                now - Duration::hours(hours_ago),
                v,
            );
        }
        // The same rule name on another bus is another metric.
        m.put(
            "AWS/Events",
            "InvocationsFailedToBeSentToDlq",
            &[("RuleName", "subs"), ("EventBusName", "other")],
            now - Duration::hours(1),
            50.0,
        );
        let n = FromMetrics(&m)
            .failed_to_dlq("billing", "subs", now - Duration::hours(24), now)
            .await
            .unwrap();
        assert_eq!(n, 5.0, "the two points of the last 24 h, not the older one");
        // A default-bus rule's metric has RuleName only.
        m.put(
            "AWS/Events",
            "InvocationsFailedToBeSentToDlq",
            &[("RuleName", "legacy")],
            now - Duration::hours(2),
            7.0,
        );
        let n = FromMetrics(&m)
            .failed_to_dlq("default", "legacy", now - Duration::hours(24), now)
            .await
            .unwrap();
        assert_eq!(n, 7.0);
    }

    #[tokio::test]
    async fn a_metric_that_cannot_be_read_is_one_warning_not_one_per_rule() {
        let eb = MemoryEventBridge::new();
        eb.add_bus("billing");
        for name in ["a", "b", "c"] {
            eb.add_rule("billing", rule(name, true));
        }
        let mut report = DoctorReport {
            bus: "billing".into(),
            checks: Vec::new(),
            pass: 0,
            warn: 0,
            fail: 0,
        };
        add_dlq_send_checks(
            &mut report,
            &eb,
            &Metrics(BTreeMap::new()),
            "billing",
            Utc::now(),
        )
        .await;
        assert_eq!(report.checks.len(), 1, "{:?}", report.checks);
        assert_eq!(report.checks[0].status, Status::Warn);
        assert!(
            report.checks[0]
                .message
                .ends_with("not read for the 2 rules after it either"),
            "{:?}",
            report.checks[0]
        );
    }
}
