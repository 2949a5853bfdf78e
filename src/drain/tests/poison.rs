//! Poison messages: parked or left with their reason, and what makes a message poison.

use super::*;

#[tokio::test(start_paused = true)]
async fn malformed_messages_are_parked_with_their_reason_or_left() {
    for park in [false, true] {
        let w = world(5);
        w.sqs.push("subs-dlq", "not json at all", attrs());
        w.sqs.push("subs-dlq", r#"{"hello": "world"}"#, attrs());
        let park_q = w.sqs.create("parked");
        let mut cfg = w.cfg();
        if park {
            cfg.park_queue = Some(park_q.clone());
        }
        let out = w.run(cfg).await;
        assert_eq!(out.counts.reemitted, 5);
        if park {
            assert_eq!(out.counts.parked, 2);
            assert_eq!(w.left(), 0);
            let parked = w.sqs.messages("parked");
            assert_eq!(parked.len(), 2);
            assert!(
                parked.iter().all(
                    |(_, a)| a.contains_key(PARK_REASON_ATTRIBUTE) && a["RULE_ARN"] == RULE_ARN
                )
            );
            assert!(parked[0].1[PARK_REASON_ATTRIBUTE].contains("not JSON"));
        } else {
            assert_eq!(out.counts.failed, 2);
            assert_eq!(w.left(), 2);
            assert!(out.failures.iter().all(|f| f.code == "POISON"));
        }
    }
}

#[tokio::test(start_paused = true)]
async fn too_many_redrives_and_oversized_entries_are_poison() {
    let w = world(0);
    let mut b: Value = serde_json::from_str(&body(1)).unwrap();
    b["detail"]["nexus_replay"] = json!({"dedup_key": "evt_1", "redrive": 3});
    w.sqs.push("subs-dlq", &b.to_string(), attrs());
    let mut big: Value = serde_json::from_str(&body(2)).unwrap();
    big["detail"]["blob"] = json!("x".repeat(300 * 1024));
    w.sqs.push("subs-dlq", &big.to_string(), attrs());
    let mut ok: Value = serde_json::from_str(&body(3)).unwrap();
    ok["detail"]["nexus_replay"] =
        json!({"dedup_key": "evt_3", "redrive": 2, "original_id": "first"});
    w.sqs.push("subs-dlq", &ok.to_string(), attrs());
    let out = w.run(w.cfg()).await;
    assert_eq!(out.counts.failed, 2);
    let reasons: Vec<&str> = out.failures.iter().map(|f| f.reason.as_str()).collect();
    assert!(
        reasons.iter().any(|r| r.contains("--max-redrives 3")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("over the PutEvents limit")),
        "{reasons:?}"
    );
    let put: Value = serde_json::from_str(&w.eb.accepted()[0].detail).unwrap();
    assert_eq!(put["nexus_replay"]["redrive"], 3);
    assert_eq!(put["nexus_replay"]["original_id"], "first");
}

#[tokio::test(start_paused = true)]
async fn a_redrive_count_that_does_not_fit_is_over_the_cap_not_a_first_redrive() {
    let w = world(0);
    let park_q = w.sqs.create("parked");
    let values = [
        json!(u64::MAX),
        json!(i64::MAX),
        json!(1u64 << 63),
        json!(-1),
        json!(1.5),
        json!("2"),
    ];
    for (i, redrive) in values.iter().enumerate() {
        let mut b: Value = serde_json::from_str(&body(i)).unwrap();
        b["detail"]["nexus_replay"] = json!({"dedup_key": format!("evt_{i}"), "redrive": redrive});
        w.sqs.push("subs-dlq", &b.to_string(), attrs());
    }
    let mut cfg = w.cfg();
    cfg.park_queue = Some(park_q);
    let out = w.run(cfg).await;
    assert_eq!(w.eb.put_calls(), 0, "nothing re-emitted");
    assert_eq!(out.counts.parked, 6, "{:?}", out.failures);
    assert_eq!(w.sqs.messages("parked").len(), 6);
    for f in &out.failures {
        assert!(
            f.reason.contains("is not a redrive count") && f.reason.contains("--max-redrives 3"),
            "{}",
            f.reason
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_rule_arn_that_does_not_parse_or_is_foreign_has_no_destination() {
    let w = world(0);
    let arns = [
        "arn:aws:events:us-east-2:123456789012:rule/",
        "arn:aws:events:us-east-2:123456789012:rule//x",
        "arn:aws:events:us-east-2:123456789012:rule/x/",
        "arn:aws:events:us-east-2:999999999999:rule/billing/subscription-rule",
        "arn:aws:events:eu-west-1:123456789012:rule/billing/subscription-rule",
        // Parsed with its slashes, but a partner bus takes no PutEvents (left, PartnerBus).
        "arn:aws:events:us-east-2:123456789012:rule/aws.partner/stripe.com/ed_1/subs",
        RULE_ARN,
    ];
    for (i, arn) in arns.iter().enumerate() {
        let mut a = attrs();
        a.insert("RULE_ARN".into(), arn.to_string());
        w.sqs.push("subs-dlq", &body(i), a);
    }
    let out = w.run(w.cfg()).await;
    let buses: BTreeSet<String> = w.eb.accepted().iter().map(|e| e.bus.clone()).collect();
    assert_eq!(buses, BTreeSet::from(["billing".into()]));
    assert_eq!(out.counts.reemitted, 1);
    assert_eq!(out.counts.failed, 6);
    assert_eq!(w.left(), 6, "left in the DLQ");
    let (partner, poison): (Vec<_>, Vec<_>) =
        out.failures.iter().partition(|f| f.code == "PartnerBus");
    assert_eq!(partner.len(), 1, "{:?}", out.failures);
    assert!(
        partner[0]
            .reason
            .contains("\"aws.partner/stripe.com/ed_1\" is a partner event bus"),
        "{}",
        partner[0].reason
    );
    assert!(poison.iter().all(|f| {
        f.code == "POISON"
            && f.reason.starts_with("no destination: RULE_ARN ")
            && f.reason
                .ends_with("name the bus with --to-bus (reemit: --bus)")
    }));
    let reasons: Vec<&str> = out.failures.iter().map(|f| f.reason.as_str()).collect();
    assert!(
        reasons.iter().any(|r| r.contains("account 999999999999")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("in eu-west-1")),
        "{reasons:?}"
    );
    assert_eq!(
        out.stopped_because,
        "only messages that cannot be re-emitted remain (5 poison, 1 failed)"
    );

    // --to-bus names the destination: the RULE_ARN is not needed then.
    let mut cfg = w.cfg();
    cfg.to_bus = Some("capture".into());
    let out = w.run(cfg).await;
    assert_eq!(out.counts.reemitted, 6);
    assert_eq!(w.left(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_queue_holding_only_poison_is_not_called_empty() {
    let w = world(3);
    w.sqs.push("subs-dlq", "not json", attrs());
    w.sqs.push("subs-dlq", "[]", attrs());
    let out = w.run(w.cfg()).await;
    assert_eq!(out.counts.reemitted, 3);
    assert_eq!(
        out.stopped_because,
        "only messages that cannot be re-emitted remain (2 poison)"
    );
    // Drained for real: then it is empty.
    let w = world(3);
    let out = w.run(w.cfg()).await;
    assert_eq!(out.stopped_because, "subs-dlq is empty");
}

#[tokio::test(start_paused = true)]
async fn duplicate_json_keys_are_re_emitted_last_value_wins_with_a_warning() {
    let w = world(1);
    let body = r#"{"id":"env-d","source":"stripe.webhook","detail-type":"Stripe Webhook Event",
        "detail":{"id":"evt_dup","type":"invoice.paid","amount":100,"amount":999}}"#;
    w.sqs.push("subs-dlq", body, attrs());
    let out = w.run(w.cfg()).await;
    assert_eq!(out.counts.reemitted, 2);
    assert_eq!(out.counts.warnings, 1);
    assert_eq!(out.warnings.len(), 1);
    let warning = &out.warnings[0];
    assert_eq!(warning.code, "DUPLICATE_JSON_KEYS");
    assert_eq!(warning.dedup_key.as_deref(), Some("evt_dup"));
    assert!(warning.reason.contains("\"amount\""), "{}", warning.reason);
    let put =
        w.eb.accepted()
            .into_iter()
            .find(|e| e.detail.contains("evt_dup"))
            .unwrap();
    let detail: Value = serde_json::from_str(&put.detail).unwrap();
    assert_eq!(
        detail["amount"], 999,
        "the last value, as EventBridge reads it"
    );
    assert_eq!(
        exit_code_of(&out),
        crate::exit_codes::SUCCESS,
        "a warning only"
    );
    // A dry run warns too.
    w.sqs.push("subs-dlq", body, attrs());
    let mut cfg = w.cfg();
    cfg.dry_run = true;
    let dry = w.run(cfg).await;
    assert_eq!(dry.warnings.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn poison_rows_carry_the_dedup_key_when_there_is_one() {
    for dry_run in [false, true] {
        let w = world(0);
        let mut redriven: Value = serde_json::from_str(&body(1)).unwrap();
        redriven["detail"]["nexus_replay"] = json!({"dedup_key": "evt_1", "redrive": 3});
        w.sqs.push("subs-dlq", &redriven.to_string(), attrs());
        let mut big: Value = serde_json::from_str(&body(2)).unwrap();
        big["detail"]["blob"] = json!("x".repeat(300 * 1024));
        w.sqs.push("subs-dlq", &big.to_string(), attrs());
        let mut no_rule = attrs();
        no_rule.remove("RULE_ARN");
        w.sqs.push("subs-dlq", &body(3), no_rule);
        w.sqs.push("subs-dlq", "not json", attrs());
        let mut cfg = w.cfg();
        cfg.dry_run = dry_run;
        let out = w.run(cfg.clone()).await;
        let keys: BTreeMap<Option<String>, String> = key_rows(&out).into_iter().collect();
        for key in ["evt_1", "evt_2", "evt_3"] {
            assert!(keys.contains_key(&Some(key.into())), "{dry_run}: {keys:?}");
        }
        assert!(keys[&None].contains("not JSON"), "{dry_run}: {keys:?}");
        // With an explicit path that is blank there is no key (the message is poison).
        let w = world(0);
        let blank_path = json!({"id": "env-4", "source": "s", "detail-type": "t",
                                "detail": {"id": "evt_4", "k": " "}});
        w.sqs.push("subs-dlq", &blank_path.to_string(), attrs());
        let mut cfg = w.cfg();
        cfg.dry_run = dry_run;
        cfg.dedup = crate::drain::event::DedupSpec::parse("detail.k").unwrap();
        let out = w.run(cfg).await;
        let rows = key_rows(&out);
        assert!(
            rows.iter()
                .any(|(k, r)| k.is_none() && r.contains("detail.k is blank")),
            "{dry_run}: {rows:?}"
        );
    }
}
