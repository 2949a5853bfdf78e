//! Dry runs: the plan and blast radius, changing nothing.

use super::*;

#[tokio::test(start_paused = true)]
async fn dry_run_changes_nothing_and_shows_the_blast_radius() {
    let w = world(4);
    w.sqs.push("subs-dlq", "garbage", attrs());
    let mut cfg = w.cfg();
    cfg.dry_run = true;
    let rule = |name: &str, pattern: Value| RuleInfo {
        name: name.into(),
        arn: format!("arn:aws:events:us-east-2:123456789012:rule/billing/{name}"),
        state: "ENABLED".into(),
        event_pattern: Some(pattern.to_string()),
        schedule_expression: None,
        managed_by: None,
        description: None,
        targets: Vec::new(),
    };
    w.eb.add_bus("billing");
    w.eb.add_rule(
        "billing",
        rule(
            "subs",
            json!({"detail": {"type": [{"prefix": "customer.subscription."}]}}),
        ),
    );
    w.eb.add_rule(
        "billing",
        rule("payments", json!({"detail": {"type": ["invoice.paid"]}})),
    );
    let out = w.run(cfg).await;
    assert!(out.dry_run);
    assert_eq!(w.eb.put_calls(), 0);
    assert_eq!(w.left(), 5);
    assert_eq!(w.sqs.in_flight("subs-dlq"), 0, "every message released");
    assert!(w.ledger.records().is_empty());
    let emits: Vec<&Planned> = out
        .planned
        .iter()
        .filter(|p| p.action == "re-emit")
        .collect();
    assert_eq!(emits.len(), 4);
    assert!(
        emits
            .iter()
            .all(|p| p.rules == ["subs"] && p.reason.is_none())
    );
    assert!(out.planned.iter().any(|p| p.action == "leave"));
    // The bus's rules were listed once for the whole run, not per message.
    assert_eq!(w.eb.list_rules_calls(), 1);

    // A destination bus whose rules cannot be listed: said so, not an empty list.
    let mut cfg = w.cfg();
    cfg.dry_run = true;
    cfg.to_bus = Some("elsewhere".into());
    let out = w.run(cfg).await;
    let emit = out.planned.iter().find(|p| p.action == "re-emit").unwrap();
    assert!(emit.rules.is_empty());
    let why = emit.reason.as_deref().unwrap();
    assert!(why.starts_with("rules of bus elsewhere unknown: "), "{why}");
}

#[tokio::test(start_paused = true)]
async fn a_dry_run_counts_what_it_would_do_not_what_it_did() {
    let w = world(4);
    w.sqs.push("subs-dlq", "garbage", attrs());
    let park_q = w.sqs.create("parked");
    let mut cfg = w.cfg();
    cfg.dry_run = true;
    cfg.park_queue = Some(park_q);
    let out = w.run(cfg).await;
    let c = out.counts;
    assert_eq!((c.reemitted, c.parked), (0, 0), "nothing was done");
    assert_eq!((c.would_reemit, c.would_park), (4, 1));
    let json = serde_json::to_value(&out).unwrap();
    assert_eq!(json["counts"]["reemitted"], 0);
    assert_eq!(json["counts"]["would_reemit"], 4);
    assert!(
        out.stopped_because
            .starts_with("every message was looked at"),
        "{}",
        out.stopped_because
    );
    assert_eq!(w.left(), 5);
}

#[tokio::test(start_paused = true)]
async fn a_dry_run_shows_copies_and_conflicts_within_the_run() {
    let w = world(0);
    let updated = stripe("env-a", "evt_same", "customer.subscription.updated", 100);
    w.sqs.push("subs-dlq", &updated, attrs());
    w.sqs.push("subs-dlq", &updated, attrs());
    w.sqs.push(
        "subs-dlq",
        &stripe("env-b", "evt_same", "customer.subscription.deleted", 999),
        attrs(),
    );
    let mut cfg = w.cfg();
    cfg.dry_run = true;
    cfg.concurrency = 1;
    let out = w.run(cfg).await;
    let actions: Vec<&str> = out.planned.iter().map(|p| p.action.as_str()).collect();
    assert_eq!(actions, ["re-emit", "duplicate", "conflict"]);
    assert_eq!(
        (
            out.counts.would_reemit,
            out.counts.duplicates,
            out.counts.conflicts
        ),
        (1, 1, 1)
    );
    assert!(
        out.planned
            .iter()
            .all(|p| p.dedup_key.as_deref() == Some("evt_same"))
    );
    assert_eq!(w.left(), 3);
}
