//! `--to target` when things go wrong: a rule or target gone, a target type not supported,
//! a message without TARGET_ARN, a function error, throttling, and crashes at each step.

use super::*;
use crate::ports::delivery::InvocationType;

/// A case: its name, how it sets the world up, the failure code and parts of the reason.
type Case = (
    &'static str,
    Box<dyn Fn(&World)>,
    &'static str,
    &'static [&'static str],
);

/// The (code, reason) of the one failure of a run.
#[track_caller]
fn only_failure(out: &DrainOutcome) -> (String, String) {
    assert_eq!(out.failures.len(), 1, "{:?}", out.failures);
    let f = &out.failures[0];
    assert!(!f.parked);
    (f.code.clone(), f.reason.clone())
}

#[tokio::test(start_paused = true)]
async fn what_cannot_be_routed_stays_in_the_queue_with_its_reason_and_is_never_parked() {
    const KINESIS: &str = "arn:aws:kinesis:us-east-2:123456789012:stream/clicks";
    const FIFO: &str = "arn:aws:sqs:us-east-2:123456789012:orders.fifo";
    let cases: Vec<Case> = vec![
        (
            "rule gone",
            Box::new(|_: &World| {}),
            "RuleNotFound",
            &["rule", "no longer exists", "--to bus"],
        ),
        (
            "target gone",
            Box::new(|w: &World| add_rule(w, vec![target("other", KINESIS)])),
            "TargetNotFound",
            &["the rule has no target", FUNCTION_ARN],
        ),
        (
            "unsupported",
            Box::new(move |w: &World| {
                add_rule(w, vec![target("k", KINESIS)]);
                w.sqs.push("subs-dlq", &body(0), attrs_for(KINESIS));
            }),
            "UnsupportedTarget",
            &["kinesis stream", "--to bus"],
        ),
        (
            "fifo without a group",
            Box::new(move |w: &World| {
                w.sqs.create("orders.fifo");
                add_rule(w, vec![target("q", FIFO)]);
                w.sqs.push("subs-dlq", &body(0), attrs_for(FIFO));
            }),
            "NoMessageGroup",
            &["FIFO queue", "MessageGroupId"],
        ),
        (
            "a rule of another Region",
            Box::new(|w: &World| {
                let mut a = attrs();
                a.insert(
                    "RULE_ARN".into(),
                    "arn:aws:events:eu-west-1:123456789012:rule/billing/subscription-rule".into(),
                );
                w.sqs.push("subs-dlq", &body(0), a);
            }),
            "RuleArn",
            &["in eu-west-1", "redrive with --to bus"],
        ),
        (
            "two targets with the ARN, neither dead-lettering here",
            Box::new(|w: &World| {
                let mut a = target("a", FUNCTION_ARN);
                a.dlq_arn = None;
                let mut b = target("b", FUNCTION_ARN);
                b.dlq_arn = Some("arn:aws:sqs:us-east-2:123456789012:other-dlq".into());
                add_rule(w, vec![a, b]);
            }),
            "AmbiguousTarget",
            &["2 targets of the rule have the ARN", "(a, b)"],
        ),
        (
            "no TARGET_ARN",
            Box::new(|w: &World| {
                let mut a = attrs();
                a.remove("TARGET_ARN");
                w.sqs.push("subs-dlq", &body(0), a);
            }),
            "NoTarget",
            &["no TARGET_ARN attribute", "redrive with --to bus"],
        ),
    ];
    for (what, setup, code, parts) in cases {
        let w = world(0);
        let park = w.sqs.create("parked");
        setup(&w);
        if w.left() == 0 {
            w.sqs.push("subs-dlq", &body(0), attrs());
        }
        let mut cfg = w.target_cfg();
        cfg.park_queue = Some(park);
        let out = w.run(cfg).await;
        let (got, reason) = only_failure(&out);
        assert_eq!(got, code, "{what}: {reason}");
        for p in parts {
            assert!(reason.contains(p), "{what}: {p:?} in {reason}");
        }
        assert_eq!(w.left(), 1, "{what}: the message stays");
        assert!(w.sqs.messages("parked").is_empty(), "{what}: not parked");
        assert_eq!(w.sqs.in_flight("subs-dlq"), 0, "{what}: released");
        assert!(w.ledger.records().is_empty(), "{what}: nothing claimed");
        assert_eq!(out.counts.reemitted, 0);
        assert_eq!(exit_code_of(&out), crate::exit_codes::PARTIAL, "{what}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_function_error_keeps_the_message_and_is_not_retried() {
    let w = target_world(3, FUNCTION_ARN);
    w.lambda.add_function("f");
    w.lambda.set_function_fault(Box::new(|c| {
        c.payload
            .contains("\"evt_1\"")
            .then(|| "card declined".to_string())
    }));
    add_rule(&w, vec![target("fn", FUNCTION_ARN)]);
    let out = w.run(w.target_cfg()).await;
    assert_eq!(out.counts.reemitted, 2);
    let (code, reason) = only_failure(&out);
    assert_eq!(code, "FunctionError");
    assert!(reason.contains("card declined"), "{reason}");
    assert_eq!(w.lambda.function_errors().len(), 1, "not retried");
    assert_eq!(w.left(), 1);
    assert!(w.sqs.messages("subs-dlq")[0].0.contains("evt_1"));
    assert_eq!(out.targets[0].delivered, 2);
    assert_eq!(out.targets[0].failed, 1);
    // Its claim was given back: a later run tries again.
    assert!(!w.ledger_keys().iter().any(|k| k.starts_with("evt_1 ")));
}

#[tokio::test(start_paused = true)]
async fn a_function_error_of_an_async_invoke_is_lambdas_to_retry() {
    let w = target_world(1, FUNCTION_ARN);
    w.lambda.add_function("f");
    w.lambda
        .set_function_fault(Box::new(|_| Some("boom".to_string())));
    add_rule(&w, vec![target("fn", FUNCTION_ARN)]);
    let mut cfg = w.target_cfg();
    cfg.redrive = Redrive::Target {
        invocation: InvocationType::Event,
    };
    let out = w.run(cfg).await;
    assert_eq!(out.counts.reemitted, 1, "queued by Lambda");
    assert_eq!(w.left(), 0);
}

#[tokio::test(start_paused = true)]
async fn throttled_sqs_sends_wait_at_the_gate_and_lose_nothing() {
    let w = world(0);
    let q = w.sqs.create("orders");
    for i in 0..30 {
        w.sqs.push("subs-dlq", &body(i), attrs_for(&q.arn));
    }
    add_rule(&w, vec![target("q", &q.arn)]);
    w.sender.fail_next_calls(vec![
        PortError::Throttled("Rate exceeded".into()),
        PortError::Throttled("Rate exceeded".into()),
    ]);
    let n = Arc::new(AtomicUsize::new(0));
    let counter = n.clone();
    w.sender.set_entry_fault(Box::new(move |_| {
        // Some entries throttled, some failing on SQS's side, on their first attempts.
        let k = counter.fetch_add(1, Ordering::Relaxed);
        match k % 4 {
            0 if k < 30 => Some(("ThrottlingException".into(), false)),
            1 if k < 30 => Some(("InternalError".into(), false)),
            _ => None,
        }
    }));
    let started = tokio::time::Instant::now();
    let out = w.run(w.target_cfg()).await;
    assert_eq!(out.counts.reemitted, 30, "{:?}", out.failures);
    assert_eq!(
        out.counts.possible_duplicates, 0,
        "a throttled call was not applied"
    );
    assert_eq!(w.sqs.messages("orders").len(), 30, "each sent once");
    assert_eq!(w.left(), 0);
    assert!(
        started.elapsed() >= Duration::from_millis(100),
        "the gate made the pipelines wait"
    );
}

#[tokio::test(start_paused = true)]
async fn throttled_sends_past_their_budget_stay() {
    let w = world(0);
    let q = w.sqs.create("orders");
    w.sqs.push("subs-dlq", &body(0), attrs_for(&q.arn));
    add_rule(&w, vec![target("q", &q.arn)]);
    w.sender
        .set_entry_fault(Box::new(|_| Some(("ThrottlingException".into(), false))));
    let mut cfg = w.target_cfg();
    cfg.max_throttled_attempts = 3;
    let out = w.run(cfg).await;
    let (code, reason) = only_failure(&out);
    assert_eq!(code, "ThrottlingException");
    assert!(
        reason.contains("after 3 attempts, 3 of them throttled"),
        "{reason}"
    );
    assert_eq!(w.left(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_crash_at_any_step_delivers_again_only_after_the_delivery() {
    for at in [Step::AfterClaim, Step::AfterPut, Step::AfterDone] {
        let w = target_world(25, FUNCTION_ARN);
        w.lambda.add_function("f");
        add_rule(&w, vec![target("fn", FUNCTION_ARN)]);
        let mut cfg = w.target_cfg();
        cfg.concurrency = 1;
        let hooks = Arc::new(CrashOnce {
            at,
            done: AtomicUsize::new(0),
        });
        assert!(w.run_with(cfg.clone(), hooks).await.is_err(), "{at:?}");
        w.sqs.make_all_visible();
        w.clock.advance(
            chrono::Duration::from_std(cfg.claim_for).unwrap() + chrono::Duration::seconds(1),
        );
        let mut rerun = cfg.clone();
        rerun.run_id = format!("rerun-{at:?}");
        let out = w.run(rerun).await;
        assert_eq!(w.left(), 0, "{at:?}: nothing left in the DLQ");
        let ids: Vec<String> = w
            .lambda
            .invoked()
            .iter()
            .map(|c| {
                serde_json::from_str::<Value>(&c.payload).unwrap()["detail"]["id"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        let distinct: BTreeSet<String> = ids.iter().cloned().collect();
        assert_eq!(distinct, all_keys(25), "{at:?}: every event delivered");
        let extra = ids.len() - 25;
        match at {
            Step::AfterPut => assert_eq!(extra, 10, "{at:?}: exactly the crashed batch again"),
            _ => assert_eq!(extra, 0, "{at:?}: none delivered twice"),
        }
        if at == Step::AfterDone {
            assert_eq!(
                out.counts.duplicates, 10,
                "found done: deleted, not delivered"
            );
            assert_eq!(out.targets[0].duplicates, 10);
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_target_redrive_without_delivery_ports_is_refused_before_receiving() {
    let w = target_world(1, FUNCTION_ARN);
    let mut ports = w.ports(true);
    ports.delivery = None;
    let err = quiet_drain(w.target_cfg(), ports, Arc::new(NoHooks))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("--to target"), "{err}");
    assert_eq!(w.sqs.calls("receive"), 0);
    assert_eq!(w.left(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_throttled_function_is_invoked_again_after_the_gate() {
    let w = target_world(5, FUNCTION_ARN);
    w.lambda.add_function("f");
    add_rule(&w, vec![target("fn", FUNCTION_ARN)]);
    w.lambda.fail_next_calls(vec![
        PortError::Throttled("Invoke: TooManyRequestsException: Rate Exceeded.".into()),
        PortError::Throttled("Invoke: TooManyRequestsException: Rate Exceeded.".into()),
    ]);
    let out = w.run(w.target_cfg()).await;
    assert_eq!(out.counts.reemitted, 5, "{:?}", out.failures);
    assert_eq!(w.lambda.invoked().len(), 5, "each invoked once");
    assert_eq!(w.lambda.calls(), 7, "two throttled calls made again");
    assert_eq!(out.counts.possible_duplicates, 0);
    assert_eq!(w.left(), 0);
}
