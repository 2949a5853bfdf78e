//! Verify steps: retried within their window, and the unique-keys check.

use super::test_world::*;
use serde_json::json;
use std::collections::BTreeMap;

#[tokio::test(start_paused = true)]
async fn verify_retries_within_its_window_then_fails_with_the_counts() {
    let w = world(2, true);
    let src = "name = \"v\"\ndescription = \"d\"\nwhen = \"w\"\n[[steps]]\nkind = \"verify\"\nqueues_empty = [\"subs-dlq\"]\nwithin = \"30s\"\n";
    let mut ui = TestUi::default();
    let rec = run_it(&w, src, &w.opts(1, true), &mut ui).await.unwrap();
    assert_eq!(rec.exit_code, crate::exit_codes::PARTIAL);
    let report = rec.steps[0].report.clone().unwrap();
    assert!(report["attempts"].as_u64().unwrap() >= 6, "{report}");
    let err = rec.steps[0].error.clone().unwrap();
    assert!(err.contains("queue subs-dlq is empty (~2 visible"), "{err}");
}

#[tokio::test]
async fn unique_keys_check_finds_a_key_delivered_twice_and_leaves_the_queue_as_it_was() {
    let w = world(0, true);
    let meta = |key: &str, run: &str| {
        json!({"version": "0", "id": "x", "detail-type": "t", "source": "s", "time": "2025-09-08T14:00:00Z",
               "region": "us-east-2", "resources": [],
               "detail": {"id": key, "nexus_replay": {"dedup_key": key, "run_id": run}}})
        .to_string()
    };
    for (k, run) in [
        ("evt_1", "r1"),
        ("evt_2", "r1"),
        ("evt_1", "other"),
        ("evt_3", "r1"),
    ] {
        w.sqs.push("consumer", &meta(k, run), BTreeMap::new());
    }
    let src = "name = \"u\"\ndescription = \"d\"\nwhen = \"w\"\n[[params]]\nname = \"run\"\ntype = \"string\"\ndefault = \"r1\"\nhelp = \"h\"\n[[steps]]\nkind = \"verify\"\nunique_keys_in = \"consumer\"\nunique_key = \"detail.id\"\nreemitted_by = \"${run}\"\n";
    let mut ui = TestUi::default();
    let rec = run_it(&w, src, &w.opts(1, true), &mut ui).await.unwrap();
    assert_eq!(rec.exit_code, 0, "only r1's events count: {rec:#?}");
    w.sqs
        .push("consumer", &meta("evt_2", "r1"), BTreeMap::new());
    let rec = run_it(&w, src, &w.opts(1, true), &mut ui).await.unwrap();
    assert_eq!(rec.exit_code, crate::exit_codes::PARTIAL);
    assert!(
        rec.steps[0].error.as_deref().unwrap().contains("evt_2 x2"),
        "{rec:#?}"
    );
    assert_eq!(w.sqs.messages("consumer").len(), 5);
    assert_eq!(w.sqs.in_flight("consumer"), 0);
}

/// `rules` narrows `bus_dlqs_empty` to the DLQs of the rules it names (globs).
#[tokio::test]
async fn bus_dlqs_empty_with_rules_checks_only_those_rules_dlqs() {
    let w = world(0, true);
    let pay = w.sqs.create("pay-dlq");
    w.sqs.push("pay-dlq", "{}", BTreeMap::new());
    w.eb.add_rule(
        "billing",
        crate::ports::bus::RuleInfo {
            name: "payment-rule".into(),
            arn: "arn:aws:events:us-east-2:123456789012:rule/billing/payment-rule".into(),
            state: "ENABLED".into(),
            event_pattern: Some(r#"{"detail": {"type": ["invoice.paid"]}}"#.into()),
            schedule_expression: None,
            managed_by: None,
            description: None,
            targets: vec![crate::ports::bus::TargetInfo {
                id: "pay".into(),
                arn: "arn:aws:lambda:us-east-2:123456789012:function:pay".into(),
                dlq_arn: Some(pay.arn),
                ..Default::default()
            }],
        },
    );
    let verify = |extra: &str| {
        format!(
            "name = \"v\"\ndescription = \"d\"\nwhen = \"w\"\n[[steps]]\nkind = \"verify\"\nbus_dlqs_empty = \"billing\"\n{extra}"
        )
    };
    let mut ui = TestUi::default();
    for (extra, code) in [
        ("", crate::exit_codes::PARTIAL),
        ("rules = [\"sub*\"]\n", 0),
        ("event_types = [\"customer.subscription.updated\"]\n", 0),
        ("rules = [\"pay*\"]\n", crate::exit_codes::PARTIAL),
    ] {
        let rec = run_it(&w, &verify(extra), &w.opts(1, true), &mut ui)
            .await
            .unwrap();
        assert_eq!(rec.exit_code, code, "{extra}: {rec:#?}");
    }
    // `rules` without the bus to look in is refused when the playbook is read.
    let src = "name = \"v\"\ndescription = \"d\"\nwhen = \"w\"\n[[steps]]\nkind = \"verify\"\nqueues_empty = [\"subs-dlq\"]\nrules = [\"sub*\"]\n";
    let e = super::load::load("v.toml", src).unwrap_err();
    assert!(
        e.iter().any(|d| d.line == 7
            && d.message == "step 1 (verify): `rules` only applies to bus_dlqs_empty"),
        "{e:?}"
    );
}
