//! Triage on the in-memory fakes: verdicts and their commands, periods, batching, refusal.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::verdict::ActionKind;
use super::*;
use crate::memory::eventbridge::MemoryEventBridge;
use crate::memory::metrics::MemoryMetrics;
use crate::memory::sqs::MemoryQueue;
use crate::ports::bus::TargetInfo;
use crate::replay::fixtures::{BUS, billing_rules, now};

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 9, 8, 14, 0, 0).unwrap()
}

fn end() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 9, 8, 16, 0, 0).unwrap()
}

struct World {
    eb: MemoryEventBridge,
    sqs: MemoryQueue,
    cw: MemoryMetrics,
}

/// The billing bus: `payment` and `subscription` send failures to DLQs, `customer` has
/// none; one archive created a day before the window.
fn world() -> World {
    let eb = MemoryEventBridge::new();
    let bus = eb.add_bus(BUS);
    let sqs = MemoryQueue::new();
    for mut r in billing_rules() {
        if r.name == "payment" || r.name == "subscription" {
            let q = format!("{}-dlq", r.name);
            sqs.create_with_arn(&q, &format!("arn:aws:sqs:us-east-2:123456789012:{q}"));
            r.targets = vec![TargetInfo {
                id: "t".into(),
                arn: "arn:aws:lambda:us-east-2:123456789012:function:f".into(),
                dlq_arn: Some(format!("arn:aws:sqs:us-east-2:123456789012:{q}")),
                ..TargetInfo::default()
            }];
        }
        eb.add_rule(BUS, r);
    }
    eb.add_archive(archive("billing-archive", &bus.arn, "ENABLED", 1));
    World {
        eb,
        sqs,
        cw: MemoryMetrics::new(),
    }
}

fn archive(name: &str, source: &str, state: &str, days_before: i64) -> ArchiveInfo {
    ArchiveInfo {
        name: name.into(),
        arn: format!("arn:aws:events:us-east-2:123456789012:archive/{name}"),
        source_arn: source.into(),
        state: state.into(),
        state_reason: None,
        retention_days: Some(0),
        event_count: 0,
        size_bytes: 0,
        creation_time: Some(start() - Duration::days(days_before)),
        event_pattern: None,
    }
}

impl World {
    fn put(&self, rule: &str, metric: &str, value: f64) {
        self.cw.put(
            "AWS/Events",
            metric,
            &[("RuleName", rule), ("EventBusName", BUS)],
            start() + Duration::minutes(30),
            value,
        );
    }

    async fn run(&self) -> Result<TriageReport, AppError> {
        let req = TriageRequest {
            bus: BUS.into(),
            start: start(),
            end: end(),
        };
        triage(&self.eb, &self.sqs, &self.cw, &req, now()).await
    }
}

fn rule<'a>(r: &'a TriageReport, name: &str) -> &'a RuleTriage {
    r.rules.iter().find(|x| x.rule == name).unwrap()
}

#[tokio::test]
async fn failures_in_a_dlq_get_a_drain_and_lost_ones_a_replay_of_the_window() {
    let w = world();
    w.put("payment", "MatchedEvents", 40.0);
    w.put("payment", "Invocations", 40.0);
    w.put("payment", "FailedInvocations", 5.0);
    w.put("payment", "InvocationsSentToDlq", 3.0);
    w.put("payment", "InvocationsFailedToBeSentToDlq", 2.0);
    w.put("customer", "FailedInvocations", 4.0);
    for _ in 0..3 {
        w.sqs.push("payment-dlq", "{}", Default::default());
    }
    w.cw.put(
        "AWS/SQS",
        "ApproximateAgeOfOldestMessage",
        &[("QueueName", "payment-dlq")],
        now() - Duration::minutes(5),
        420.0,
    );
    let r = w.run().await.unwrap();
    assert_eq!(r.resolution.period_seconds, 60);
    let p = rule(&r, "payment");
    assert_eq!(p.metrics.matched_events, 40);
    assert_eq!(
        (p.verdict.failed, p.verdict.in_dlq, p.verdict.lost),
        (5, 3, 2)
    );
    assert_eq!(p.verdict.dlq_messages_now, Some(3));
    let kinds: Vec<ActionKind> = p.verdict.actions.iter().map(|a| a.kind).collect();
    assert_eq!(kinds, [ActionKind::Drain, ActionKind::Replay]);
    // The billing rules match Stripe's partner source: the drain delivers to the target.
    assert_eq!(
        p.verdict.actions[0].command.as_deref(),
        Some("nexus-replay drain --bus billing --rule payment --to target")
    );
    assert_eq!(
        p.verdict.actions[1].command.as_deref(),
        Some(
            "nexus-replay start --bus billing --rule payment --since 2025-09-08T14:00:00Z --until 2025-09-08T16:00:00Z"
        )
    );
    // No DLQ at all: every failure is lost.
    let c = rule(&r, "customer");
    assert_eq!(
        (c.verdict.failed, c.verdict.in_dlq, c.verdict.lost),
        (4, 0, 4)
    );
    assert_eq!(c.verdict.actions.len(), 1);
    assert_eq!(c.verdict.actions[0].kind, ActionKind::Replay);
    assert!(rule(&r, "monitoring").verdict.actions.is_empty());
    assert_eq!((r.totals.failed, r.totals.in_dlq, r.totals.lost), (9, 3, 6));
    let d = r.dlqs.iter().find(|d| d.name == "payment-dlq").unwrap();
    assert_eq!(d.oldest_message_age_seconds, Some(420));
    assert_eq!(d.depth.unwrap().visible, 3);
    assert_eq!(r.archives[0].coverage, Coverage::Full);
    // The archive's own rule is not triaged.
    assert!(
        r.rules
            .iter()
            .all(|x| !x.rule.starts_with("Events-Archive"))
    );
}

#[tokio::test]
async fn without_a_covering_archive_the_lost_events_point_to_stripe_reconcile() {
    // One archive created after the window, one disabled.
    let w2 = World {
        eb: MemoryEventBridge::new(),
        sqs: MemoryQueue::new(),
        cw: MemoryMetrics::new(),
    };
    let bus = w2.eb.add_bus(BUS);
    for r in billing_rules() {
        w2.eb.add_rule(BUS, r);
    }
    w2.eb.add_archive(archive("late", &bus.arn, "ENABLED", -1));
    w2.eb.add_archive(archive("off", &bus.arn, "DISABLED", 5));
    w2.put("customer", "FailedInvocations", 2.0);
    let r = w2.run().await.unwrap();
    let c = rule(&r, "customer");
    assert_eq!(c.verdict.actions[0].kind, ActionKind::Reconcile);
    assert!(c.verdict.actions[0].command.is_none());
    assert!(
        c.verdict.actions[0]
            .text
            .contains("no archive covers this: see `nexus-replay stripe reconcile`")
    );
    assert!(r.archives.iter().all(|a| a.coverage == Coverage::None));
}

#[tokio::test]
async fn with_several_archives_the_replay_names_the_covering_one_and_names_are_quoted() {
    let eb = MemoryEventBridge::new();
    let bus = eb.add_bus(BUS);
    let mut r = crate::replay::fixtures::rule("it's", r#"{"source": ["shop"]}"#);
    r.targets[0].dlq_arn = Some("arn:aws:sqs:us-east-2:123456789012:shop-dlq".into());
    eb.add_rule(BUS, r);
    eb.add_archive(archive("a-off", &bus.arn, "DISABLED", 5));
    eb.add_archive(archive("a-on", &bus.arn, "ENABLED", 5));
    let sqs = MemoryQueue::new();
    sqs.create_with_arn("shop-dlq", "arn:aws:sqs:us-east-2:123456789012:shop-dlq");
    sqs.push("shop-dlq", "{}", Default::default());
    let w = World {
        eb,
        sqs,
        cw: MemoryMetrics::new(),
    };
    w.put("it's", "FailedInvocations", 3.0);
    w.put("it's", "InvocationsSentToDlq", 1.0);
    let r = w.run().await.unwrap();
    let v = &r.rules[0].verdict;
    assert_eq!(
        v.actions[0].command.as_deref(),
        Some(r"nexus-replay drain --bus billing --rule 'it'\''s'")
    );
    assert_eq!(
        v.actions[1].command.as_deref(),
        Some(
            r"nexus-replay start --bus billing --archive a-on --rule 'it'\''s' --since 2025-09-08T14:00:00Z --until 2025-09-08T16:00:00Z"
        )
    );
}

#[tokio::test]
async fn a_dlq_emptied_since_gets_no_drain_command() {
    let w = world();
    w.put("subscription", "FailedInvocations", 2.0);
    w.put("subscription", "InvocationsSentToDlq", 2.0);
    let r = w.run().await.unwrap();
    let v = &rule(&r, "subscription").verdict;
    assert_eq!(v.lost, 0);
    assert_eq!(v.actions.len(), 1);
    assert!(v.actions[0].command.is_none());
    assert!(v.actions[0].text.contains("empty now"));
}

#[tokio::test]
async fn many_rules_are_read_in_calls_within_the_limits() {
    let eb = MemoryEventBridge::new();
    eb.add_bus(BUS);
    for i in 0..80 {
        eb.add_rule(
            BUS,
            crate::replay::fixtures::rule(&format!("r{i}"), r#"{"source": ["x"]}"#),
        );
    }
    let w = World {
        eb,
        sqs: MemoryQueue::new(),
        cw: MemoryMetrics::new(),
    };
    w.put("r79", "FailedInvocations", 1.0);
    let r = w.run().await.unwrap();
    // 80 rules x 7 metrics = 560: two calls of at most 500.
    let calls = w.cw.calls();
    assert_eq!(
        calls.iter().map(|c| c.queries).collect::<Vec<_>>(),
        [500, 60]
    );
    assert_eq!(rule(&r, "r79").verdict.failed, 1);
}

#[tokio::test]
async fn an_old_window_is_read_at_a_coarser_period_and_batched_by_data_points() {
    let w = world();
    let req = TriageRequest {
        bus: BUS.into(),
        start: now() - Duration::days(30),
        end: now() - Duration::days(1),
    };
    let r = triage(&w.eb, &w.sqs, &w.cw, &req, now()).await.unwrap();
    assert_eq!(r.resolution.period_seconds, 300);
    assert!(r.resolution.note.starts_with("5-minute data"));
    // 29 days at 5 minutes: 8,352 points a metric, 12 metrics a call for 4 rules x 7.
    let calls = w.cw.calls();
    let rule_calls: Vec<usize> = calls
        .iter()
        .filter(|c| c.period_seconds == 300)
        .map(|c| c.queries)
        .collect();
    assert_eq!(rule_calls, [12, 12, 4]);
}

#[tokio::test]
async fn a_refused_get_metric_data_is_an_error_naming_the_permission() {
    let w = world();
    w.cw.deny("not authorized");
    let e = w.run().await.unwrap_err();
    assert_eq!(e.exit_code(), crate::exit_codes::FAILURE);
    assert!(
        e.to_string().contains("lack cloudwatch:GetMetricData"),
        "{e}"
    );
    assert!(e.with_hint().contains("docs/iam/"), "{}", e.with_hint());
}
