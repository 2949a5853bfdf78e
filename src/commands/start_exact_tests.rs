//! Tests of `start --exact`: the delivery lines, the refusals, and the whole run over the
//! in-memory fakes on tokio's paused clock.

use super::*;

const RULE_A: &str = "arn:aws:events:us-east-1:123456789012:rule/b/a";
const RULE_B: &str = "arn:aws:events:us-east-1:123456789012:rule/b/b";
const HOME: &str = "arn:aws:events:us-east-1:123456789012:event-bus/b";

fn rule(arn: &str, pattern: Option<&str>, targets: &[&str]) -> (ExactRule, Option<Pattern>) {
    (
        ExactRule {
            arn: arn.into(),
            targets: targets.iter().map(|t| t.to_string()).collect(),
        },
        pattern.map(|p| Pattern::parse(p).unwrap()),
    )
}

#[test]
fn each_event_goes_to_each_target_of_each_rule_whose_pattern_matches() {
    let rules = [
        rule(RULE_A, Some(r#"{"detail-type": ["X"]}"#), &["qa1", "qa2"]),
        rule(RULE_B, Some(r#"{"source": ["other"]}"#), &["qb"]),
    ];
    let event = r#"{"id":"e1","source":"shop","detail-type":"X","detail":{}}"#;
    let lines = deliveries(event, 0, &rules, HOME);
    let pairs: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| {
            (
                l.attributes["RULE_ARN"].as_str(),
                l.attributes["TARGET_ARN"].as_str(),
            )
        })
        .collect();
    assert_eq!(pairs, [(RULE_A, "qa1"), (RULE_A, "qa2")]);
    assert!(lines.iter().all(|l| l.body == event));
    assert_ne!(lines[0].message_id, lines[1].message_id);
    // A rule without a pattern takes every event; a line that is no JSON, nothing.
    let open = [rule(RULE_B, None, &["qb"])];
    assert_eq!(deliveries(event, 1, &open, HOME).len(), 1);
    assert!(deliveries("not json", 2, &open, HOME).is_empty());
}

#[test]
fn exact_without_a_type_or_an_id_and_with_all_rules_is_refused() {
    let mut req = ExactRequest::default();
    let e = check(&req).unwrap_err();
    assert_eq!(e.exit_code(), crate::exit_codes::USAGE);
    assert!(
        e.to_string().contains("--event-type TYPE or --id ID"),
        "{e}"
    );
    req.ids = vec!["evt_1".into()];
    assert!(check(&req).is_ok());
    req.plan.all_rules = true;
    assert!(check(&req).unwrap_err().to_string().contains("--all-rules"));
}

mod engine {
    use super::*;
    use crate::memory::capture::MemoryCapture;
    use crate::memory::ledger::MemoryLedger;
    use crate::memory::replayer::MemoryReplayer;
    use crate::memory::sqs::MemoryQueue;
    use crate::memory::{
        lambda::MemoryLambda, logs::MemoryLogs, sfn::MemoryStepFunctions, sns::MemorySns,
        sqs_send::MemoryMessageSender,
    };
    use chrono::TimeZone;
    use serde_json::{Value, json};
    use std::time::Duration;

    use crate::replay::fixtures::BUS;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 9, 8, 16, 0, 0).unwrap()
    }

    fn event(id: &str, kind: &str) -> Value {
        json!({
            "version": "0", "id": format!("env-{id}"), "detail-type": "Order", "source": "shop",
            "account": "123456789012", "region": "us-east-2", "resources": [],
            "time": (now() - chrono::Duration::minutes(90)).format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "detail": {"id": format!("evt_{id}"), "type": kind}
        })
    }

    struct World {
        eb: crate::memory::eventbridge::MemoryEventBridge,
        sqs: MemoryQueue,
        cap: MemoryCapture,
        rep: MemoryReplayer,
        ledger: MemoryLedger,
        dir: PathBuf,
    }

    /// The reference bus `billing`, its archive holding two `order.paid` events and one
    /// `order.refunded`; rule `paid` (order.paid) → queue qa, rule `shop` (every shop
    /// event: a catch-all `start` does not select) → queue qb.
    fn world() -> World {
        // The reference billing bus, its rules (none selected for order.paid) and archive.
        let eb = crate::replay::fixtures::fake();
        let sqs = MemoryQueue::new();
        for (rule, queue, pattern) in [
            ("paid", "qa", r#"{"detail": {"type": ["order.paid"]}}"#),
            ("shop", "qb", r#"{"source": ["shop"]}"#),
        ] {
            let q = sqs.create(queue);
            // The reference rule, targeting the queue.
            let mut r = crate::replay::fixtures::rule(rule, pattern);
            r.targets[0].arn = q.arn;
            eb.add_rule(BUS, r);
        }
        let cap = MemoryCapture::new(sqs.clone());
        let rep = MemoryReplayer::new(eb.clone(), cap.clone());
        rep.archive([
            event("p1", "order.paid"),
            event("p2", "order.paid"),
            event("r1", "order.refunded"),
        ]);
        let dir = std::env::temp_dir().join(format!("nr-exact-{}", crate::ids::random_hex(8)));
        World {
            eb,
            sqs,
            cap,
            rep,
            ledger: MemoryLedger::new(),
            dir,
        }
    }

    impl World {
        fn request(&self, dry_run: bool) -> ExactRequest {
            ExactRequest {
                plan: PlanRequest {
                    bus: Some(BUS.into()),
                    since: "3h".into(),
                    event_types: vec!["order.paid".into()],
                    started_by: "sre@host".into(),
                    ..PlanRequest::default()
                },
                dry_run,
                run_dir: self.dir.clone(),
                run_id: format!("exact-{}", crate::ids::random_hex(4)),
                settle: Some(Duration::from_secs(2)),
                ..ExactRequest::default()
            }
        }

        async fn run(
            &self,
            req: &ExactRequest,
            interrupt: Option<Signal>,
        ) -> Result<ExactReport, AppError> {
            let ports = ExportPorts {
                catalogue: &self.eb,
                replays: &self.rep,
                resources: &self.cap,
                queue: &self.sqs,
            };
            let drain = DrainPorts {
                queue: Arc::new(self.sqs.clone()),
                sink: Arc::new(self.eb.clone()),
                ledger: Some(Arc::new(self.ledger.clone())),
                rules: Some(Arc::new(self.eb.clone())),
                delivery: Some(crate::ports::delivery::DeliveryPorts {
                    sqs: Arc::new(MemoryMessageSender::new(self.sqs.clone())),
                    lambda: Arc::new(MemoryLambda::new()),
                    sns: Arc::new(MemorySns::new()),
                    sfn: Arc::new(MemoryStepFunctions::new()),
                    logs: Arc::new(MemoryLogs::new()),
                }),
                clock: crate::clock::system(),
            };
            start_exact(
                &ports,
                drain,
                req,
                &mut |_| Ok(true),
                &mut crate::archive::progress::Silent,
                Arc::new(QuietDrain),
                move || async move {
                    match interrupt {
                        Some(s) => s,
                        None => std::future::pending().await,
                    }
                },
                now(),
            )
            .await
        }

        fn detail_ids(&self, queue: &str) -> Vec<String> {
            let mut ids: Vec<String> = self
                .sqs
                .messages(queue)
                .iter()
                .map(|(b, _)| {
                    let v: Value = serde_json::from_str(b).unwrap();
                    v["detail"]["id"].as_str().unwrap().to_string()
                })
                .collect();
            ids.sort();
            ids
        }
    }

    #[tokio::test(start_paused = true)]
    async fn delivers_the_named_type_to_the_selected_rules_target_once() {
        let w = world();
        let dry = w.run(&w.request(true), None).await.unwrap();
        assert_eq!(dry.outcome, ExactEnding::DryRun);
        assert_eq!(dry.plan.events_per_type["order.paid"], 2);
        assert_eq!(dry.plan.samples.len(), 1, "{:?}", dry.plan.samples);
        assert!(dry.plan.samples[0].arn.ends_with(":qa"));
        assert!(w.sqs.messages("qa").is_empty());

        let report = w.run(&w.request(false), None).await.unwrap();
        assert_eq!(report.outcome, ExactEnding::Delivered);
        assert_eq!(report.exit_code(), crate::exit_codes::SUCCESS);
        assert_eq!(report.targets.len(), 1);
        assert_eq!(report.targets[0].delivered, 2);
        assert_eq!(w.detail_ids("qa"), ["evt_p1", "evt_p2"]);
        assert!(w.sqs.messages("qb").is_empty());
        assert!(w.cap.rules(BUS).is_empty() && w.cap.queues().is_empty());

        let again = w.run(&w.request(false), None).await.unwrap();
        assert_eq!(again.targets[0].delivered, 0);
        assert_eq!(again.targets[0].duplicates, 2);
        assert_eq!(w.sqs.messages("qa").len(), 2);
        let _ = std::fs::remove_dir_all(&w.dir);
    }

    #[tokio::test(start_paused = true)]
    async fn an_interrupted_export_delivers_nothing_and_exits_130() {
        let w = world();
        let report = w
            .run(&w.request(false), Some(Signal::Interrupt))
            .await
            .unwrap();
        assert_eq!(report.outcome, ExactEnding::ExportNotCompleted);
        assert_eq!(report.exit_code(), crate::exit_codes::INTERRUPTED);
        assert!(report.human().contains("nothing was delivered"));
        assert!(w.sqs.messages("qa").is_empty());
        assert!(w.cap.rules(BUS).is_empty() && w.cap.queues().is_empty());
        let _ = std::fs::remove_dir_all(&w.dir);
    }
}
