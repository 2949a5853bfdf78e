//! Bus mode refuses what PutEvents cannot take: an `aws.` source (a partner event) and a
//! partner bus. The message stays, never parked, with a hint to redrive with `--to target`.

use super::*;

fn partner_body(i: usize) -> String {
    let mut b: Value = serde_json::from_str(&body(i)).unwrap();
    b["source"] = json!("aws.partner/stripe.com/ed_1");
    b["detail-type"] = json!("customer.subscription.updated");
    b.to_string()
}

#[tokio::test(start_paused = true)]
async fn a_partner_source_or_a_partner_bus_stays_in_the_queue_with_a_hint() {
    let w = world(1);
    let park = w.sqs.create("parked");
    w.sqs.push("subs-dlq", &partner_body(2), attrs());
    let mut a = attrs();
    a.insert(
        "RULE_ARN".into(),
        "arn:aws:events:us-east-2:123456789012:rule/aws.partner/stripe.com/ed_1/subs".into(),
    );
    w.sqs.push("subs-dlq", &body(3), a);
    let mut cfg = w.cfg();
    cfg.park_queue = Some(park);
    let out = w.run(cfg).await;
    assert_eq!(out.counts.reemitted, 1);
    assert_eq!(w.put_keys(), ["evt_0"], "only the custom event is put");
    assert_eq!(out.counts.failed, 2);
    assert_eq!(
        out.counts.parked, 0,
        "not parked: --to target can deliver them"
    );
    assert!(w.sqs.messages("parked").is_empty());
    assert_eq!(w.left(), 2);
    let mut codes: Vec<(&str, Option<&str>)> = out
        .failures
        .iter()
        .map(|f| (f.code.as_str(), f.dedup_key.as_deref()))
        .collect();
    codes.sort();
    assert_eq!(
        codes,
        [
            ("PartnerBus", Some("evt_3")),
            ("ReservedSource", Some("evt_2"))
        ]
    );
    for f in &out.failures {
        assert!(f.reason.contains("--to target"), "{}", f.reason);
        assert!(!f.parked);
    }
    let reserved = out
        .failures
        .iter()
        .find(|f| f.code == "ReservedSource")
        .unwrap();
    assert!(
        reserved.reason.contains("\"aws.partner/stripe.com/ed_1\"")
            && reserved.reason.contains("NotAuthorizedForSourceException"),
        "{}",
        reserved.reason
    );
    assert_eq!(exit_code_of(&out), crate::exit_codes::PARTIAL);
}

#[tokio::test(start_paused = true)]
async fn a_named_partner_bus_is_refused_too_and_a_dry_run_plans_leave() {
    let w = world(1);
    w.sqs.push("subs-dlq", &partner_body(1), attrs());
    let mut cfg = w.cfg();
    cfg.to_bus = Some("aws.partner/stripe.com/ed_1".into());
    cfg.dry_run = true;
    let out = w.run(cfg.clone()).await;
    assert_eq!(out.planned.len(), 2);
    assert!(
        out.planned.iter().all(|p| p.action == "leave"),
        "{:?}",
        out.planned
    );
    assert!(
        out.planned
            .iter()
            .all(|p| p.reason.as_deref().unwrap().contains("--to target"))
    );
    assert_eq!(out.counts.would_reemit, 0);
    cfg.dry_run = false;
    let out = w.run(cfg).await;
    assert_eq!(w.eb.put_calls(), 0);
    assert_eq!(out.counts.failed, 2);
    assert_eq!(w.left(), 2);
}
