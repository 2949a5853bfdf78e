//! `triage`: what an incident lost, where it went, and which recovery fits. For a window,
//! each rule's delivery metrics (`AWS/Events`), each DLQ's depth and oldest message, the
//! bus's archives and whether they cover the window, and per rule a verdict with the
//! commands to paste (`verdict`). Metric periods and batching: `period`.

pub mod period;
pub mod step;
#[cfg(test)]
mod tests;
pub mod verdict;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::discovery::{arn_name, dlqs_of, require_bus};
use crate::error::AppError;
use crate::ports::PortError;
use crate::ports::bus::{ArchiveInfo, BusCatalogue, RuleInfo};
use crate::ports::metrics::{MetricQuery, Metrics, Point, Stat, rule_dimensions};
use crate::ports::queue::{Queue, QueueDepth};
use crate::replay::archive::check_archive_window;
use crate::replay::rules::is_reserved;
use period::{Resolution, metrics_per_call, points_per_metric, resolution_for};
use verdict::{Verdict, verdict};

/// The `AWS/Events` metrics read per rule, in report order.
pub const RULE_METRICS: [&str; 7] = [
    "MatchedEvents",
    "Invocations",
    "FailedInvocations",
    "InvocationsSentToDlq",
    "InvocationsFailedToBeSentToDlq",
    "ThrottledRules",
    "RetryInvocationAttempts",
];

/// How far back the DLQs' `ApproximateAgeOfOldestMessage` is read (its latest value).
const DLQ_AGE_LOOKBACK_MINUTES: i64 = 60;

/// What to triage: the bus and the window (already read, as `start` reads it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriageRequest {
    pub bus: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// A rule's metric sums over the window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RuleMetrics {
    pub matched_events: u64,
    pub invocations: u64,
    pub failed_invocations: u64,
    pub invocations_sent_to_dlq: u64,
    pub invocations_failed_to_be_sent_to_dlq: u64,
    pub throttled_rules: u64,
    pub retry_invocation_attempts: u64,
}

impl RuleMetrics {
    fn set(&mut self, metric: &str, v: u64) {
        match metric {
            "MatchedEvents" => self.matched_events = v,
            "Invocations" => self.invocations = v,
            "FailedInvocations" => self.failed_invocations = v,
            "InvocationsSentToDlq" => self.invocations_sent_to_dlq = v,
            "InvocationsFailedToBeSentToDlq" => self.invocations_failed_to_be_sent_to_dlq = v,
            "ThrottledRules" => self.throttled_rules = v,
            _ => self.retry_invocation_attempts = v,
        }
    }
}

/// A target of a rule and its DLQ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetTriage {
    pub id: String,
    pub arn: String,
    pub dlq: Option<String>,
}

/// One rule: its metrics and verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleTriage {
    pub rule: String,
    pub state: String,
    pub targets: Vec<TargetTriage>,
    pub metrics: RuleMetrics,
    pub verdict: Verdict,
}

/// One DLQ now: its depth and the age of its oldest message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DlqTriage {
    pub name: String,
    pub arn: String,
    pub depth: Option<QueueDepth>,
    /// Latest `ApproximateAgeOfOldestMessage` of the last hour; None without data.
    pub oldest_message_age_seconds: Option<u64>,
    /// The rules whose targets send their failures here.
    pub rules: Vec<String>,
    pub error: Option<String>,
}

/// How much of the window an archive can replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Coverage {
    /// ENABLED, created before the window and keeping it.
    Full,
    /// ENABLED, but created inside the window: it holds the part after its creation.
    Partial,
    /// Not ENABLED, created after the window, or past its retention.
    None,
}

/// An archive of the bus and whether it covers the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArchiveCoverage {
    pub name: String,
    pub state: String,
    pub coverage: Coverage,
    pub note: Option<String>,
}

/// The counts of every rule together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub failed: u64,
    pub in_dlq: u64,
    pub lost: u64,
}

/// What `triage` found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TriageReport {
    pub bus: String,
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub resolution: Resolution,
    pub totals: Totals,
    pub rules: Vec<RuleTriage>,
    pub dlqs: Vec<DlqTriage>,
    pub archives: Vec<ArchiveCoverage>,
    pub warnings: Vec<String>,
}

/// Reads every metric of `queries` in calls within CloudWatch's limits.
async fn fetch_all(
    metrics: &dyn Metrics,
    queries: &[MetricQuery],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    period_seconds: i32,
) -> Result<BTreeMap<String, Vec<Point>>, AppError> {
    let per_call = metrics_per_call(points_per_metric(start, end, period_seconds));
    let mut out = BTreeMap::new();
    for batch in queries.chunks(per_call) {
        let answer = metrics
            .fetch(batch, start, end, period_seconds)
            .await
            .map_err(|e| match e {
                PortError::Denied(text) => PortError::Denied(format!(
                    "{text} (the credentials in use lack cloudwatch:GetMetricData)"
                )),
                other => other,
            })?;
        out.extend(answer);
    }
    Ok(out)
}

fn rule_queries(bus: &str, rules: &[RuleInfo]) -> Vec<MetricQuery> {
    let mut out = Vec::new();
    for (r, rule) in rules.iter().enumerate() {
        for (m, metric) in RULE_METRICS.iter().enumerate() {
            out.push(MetricQuery {
                id: format!("r{r}m{m}"),
                namespace: "AWS/Events".into(),
                metric: (*metric).into(),
                dimensions: rule_dimensions(bus, &rule.name),
                stat: Stat::Sum,
            });
        }
    }
    out
}

fn archive_coverage(a: &ArchiveInfo, req: &TriageRequest, now: DateTime<Utc>) -> ArchiveCoverage {
    let (coverage, note) = if !a.is_enabled() {
        (
            Coverage::None,
            Some(format!("{}: it cannot replay", a.state)),
        )
    } else if let Err(e) = check_archive_window(a, req.start, req.end, now, &mut Vec::new()) {
        (Coverage::None, Some(e.to_string()))
    } else {
        match a.creation_time {
            Some(c) if c >= req.end => (
                Coverage::None,
                Some(format!(
                    "created {}, after the window",
                    crate::output::time(Some(c))
                )),
            ),
            Some(c) if c > req.start => (
                Coverage::Partial,
                Some(format!(
                    "created {}, inside the window: it holds what came after",
                    crate::output::time(Some(c))
                )),
            ),
            _ => (Coverage::Full, None),
        }
    };
    ArchiveCoverage {
        name: a.name.clone(),
        state: a.state.clone(),
        coverage,
        note,
    }
}

/// Triages a bus over a window: metrics, DLQs, archives and a verdict per rule.
pub async fn triage(
    cat: &dyn BusCatalogue,
    queues: &dyn Queue,
    metrics: &dyn Metrics,
    req: &TriageRequest,
    now: DateTime<Utc>,
) -> Result<TriageReport, AppError> {
    let bus = require_bus(cat, &req.bus).await?;
    let rules: Vec<RuleInfo> = cat
        .list_rules(&bus.name)
        .await?
        .into_iter()
        .filter(|r| !is_reserved(r))
        .collect();
    let resolution = resolution_for(req.start, now);
    let mut warnings = Vec::new();
    if now - req.start > Duration::days(455) {
        warnings
            .push("CloudWatch keeps metrics 455 days: the counts miss what is older".to_string());
    }
    let sums = fetch_all(
        metrics,
        &rule_queries(&bus.name, &rules),
        req.start,
        req.end,
        resolution.period_seconds,
    )
    .await?;

    // DLQs: depth from SQS, age of the oldest message from CloudWatch.
    let discovered = dlqs_of(&rules);
    let age_queries: Vec<MetricQuery> = discovered
        .iter()
        .enumerate()
        .map(|(i, d)| MetricQuery {
            id: format!("q{i}"),
            namespace: "AWS/SQS".into(),
            metric: "ApproximateAgeOfOldestMessage".into(),
            dimensions: vec![("QueueName".into(), arn_name(&d.arn).to_string())],
            stat: Stat::Maximum,
        })
        .collect();
    let ages = if age_queries.is_empty() {
        BTreeMap::new()
    } else {
        fetch_all(
            metrics,
            &age_queries,
            now - Duration::minutes(DLQ_AGE_LOOKBACK_MINUTES),
            now,
            60,
        )
        .await?
    };
    let mut dlqs = Vec::new();
    for (i, d) in discovered.iter().enumerate() {
        let (depth, error) = match queues.resolve(&d.arn).await {
            Ok(q) => match queues.depth(&q.url).await {
                Ok(depth) => (Some(depth), None),
                Err(e) => (None, Some(e.to_string())),
            },
            Err(e) => (None, Some(e.to_string())),
        };
        let mut rules_fed: Vec<String> = d.feeds.iter().map(|f| f.rule.clone()).collect();
        rules_fed.sort();
        rules_fed.dedup();
        dlqs.push(DlqTriage {
            name: arn_name(&d.arn).to_string(),
            arn: d.arn.clone(),
            depth,
            oldest_message_age_seconds: ages
                .get(&format!("q{i}"))
                .and_then(|s| s.last())
                .map(|(_, v)| v.max(0.0).round() as u64),
            rules: rules_fed,
            error,
        });
    }

    let all_archives = cat.list_archives(Some(&bus.arn)).await?;
    let archives: Vec<ArchiveCoverage> = all_archives
        .iter()
        .map(|a| archive_coverage(a, req, now))
        .collect();

    let mut out_rules = Vec::new();
    let mut totals = Totals::default();
    for (r, rule) in rules.iter().enumerate() {
        let mut m = RuleMetrics::default();
        for (k, metric) in RULE_METRICS.iter().enumerate() {
            let total: f64 = sums
                .get(&format!("r{r}m{k}"))
                .map(|s| s.iter().map(|(_, v)| v).sum())
                .unwrap_or(0.0);
            m.set(metric, total.max(0.0).round() as u64);
        }
        let v = verdict(&bus.name, rule, &m, &dlqs, &archives, req);
        totals.failed += v.failed;
        totals.in_dlq += v.in_dlq;
        totals.lost += v.lost;
        out_rules.push(RuleTriage {
            rule: rule.name.clone(),
            state: rule.state.clone(),
            targets: rule
                .targets
                .iter()
                .map(|t| TargetTriage {
                    id: t.id.clone(),
                    arn: t.arn.clone(),
                    dlq: t.dlq_arn.as_deref().map(|d| arn_name(d).to_string()),
                })
                .collect(),
            metrics: m,
            verdict: v,
        });
    }
    Ok(TriageReport {
        bus: bus.name,
        since: req.start,
        until: req.end,
        resolution,
        totals,
        rules: out_rules,
        dlqs,
        archives,
        warnings,
    })
}
