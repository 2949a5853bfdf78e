//! Planning: values out of range refused before anything runs, each step named once.

use super::exec::*;
use super::load::load;
use super::load_tests::HEAD;
use super::test_world::*;
use chrono::Utc;

#[tokio::test]
async fn a_parameter_outside_its_fields_range_is_refused_before_anything_runs() {
    let w = world(3, true);
    let src = format!(
        "{HEAD}[[params]]\nname = \"n\"\ntype = \"int\"\ndefault = 4\nhelp = \"pipelines\"\n[[steps]]\nkind = \"drain\"\nqueues = [\"subs-dlq\"]\nconcurrency = \"${{n}}\"\n"
    );
    let pb = load("pb.toml", &src).unwrap();
    let mut opts = w.opts(1, true);
    opts.sets = vec![("n".into(), "30000".into())];
    let (mut scope, _) = prepare_run(&pb, &opts).unwrap();
    let e = plan(&pb, &mut scope, &w.ports(), 1, Utc::now())
        .await
        .unwrap_err();
    assert_eq!(e.exit_code(), crate::exit_codes::USAGE);
    let e = e.to_string();
    assert!(
        e.contains("`concurrency` must be between 1 and 256, not 30000"),
        "{e}"
    );
    assert_eq!(w.sqs.messages("subs-dlq").len(), 3);
}

#[tokio::test]
async fn plan_names_each_step_once_and_reports_every_value_out_of_range_at_once() {
    let w = world(0, true);
    let src = format!(
        "{HEAD}[[params]]\nname = \"c\"\ntype = \"int\"\ndefault = 4\nhelp = \"pipelines\"\n[[params]]\nname = \"r\"\ntype = \"number\"\ndefault = 5\nhelp = \"rate\"\n[[steps]]\nkind = \"drain\"\nqueues = [\"subs-dlq\"]\nconcurrency = \"${{c}}\"\n[[steps]]\nkind = \"drain\"\nqueues = [\"subs-dlq\"]\nrate = \"${{r}}\"\n"
    );
    let pb = load("pb.toml", &src).unwrap();
    let plan_with = |sets: &[(&str, &str)]| {
        let mut opts = w.opts(1, false);
        opts.sets = sets
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let (mut scope, _) = prepare_run(&pb, &opts).unwrap();
        let ports = w.ports();
        let pb = &pb;
        async move { plan(pb, &mut scope, &ports, 1, Utc::now()).await }
    };
    let e = plan_with(&[("c", "-1")]).await.unwrap_err();
    assert_eq!(e.exit_code(), crate::exit_codes::USAGE);
    assert_eq!(
        e.to_string(),
        "step 1 (drain): `concurrency` must be between 1 and 256, not -1"
    );
    let e = plan_with(&[("c", "0"), ("r", "-3")]).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "playbook t: 2 problems (nothing was called):\n  step 1 (drain): `concurrency` must be between 1 and 256, not 0\n  step 2 (drain): `rate` must be between 0.01 and 10000 events per second, not -3"
    );
    assert!(w.eb.accepted().is_empty());
    plan_with(&[]).await.unwrap();
}

#[tokio::test]
async fn a_drain_steps_redrive_is_planned_and_checked_after_set() {
    let w = world(2, true);
    let src = format!(
        "{HEAD}[[params]]\nname = \"to\"\ntype = \"string\"\ndefault = \"bus\"\nhelp = \"bus or target\"\n[[steps]]\nkind = \"drain\"\nqueues = [\"subs-dlq\"]\nto = \"${{to}}\"\n"
    );
    let pb = load("pb.toml", &src).unwrap();
    let plan_with = |to: &str| {
        let mut opts = w.opts(1, false);
        opts.sets = vec![("to".into(), to.into())];
        let (mut scope, _) = prepare_run(&pb, &opts).unwrap();
        let ports = w.ports();
        let pb = &pb;
        async move { plan(pb, &mut scope, &ports, 1, Utc::now()).await }
    };
    let e = plan_with("queue").await.unwrap_err();
    assert_eq!(e.exit_code(), crate::exit_codes::USAGE);
    assert_eq!(
        e.to_string(),
        "step 1 (drain): `to` must be one of \"bus\" or \"target\", not \"queue\""
    );
    let target = plan_with("target").await.unwrap();
    let details = target.steps[0].details.join("\n");
    assert!(
        details.contains("deliver each message only to the rule target that dead-lettered it"),
        "{details}"
    );
    let bus = plan_with("bus").await.unwrap();
    assert!(
        bus.steps[0]
            .details
            .contains(&"re-emit to the bus of each message's RULE_ARN".to_string()),
        "{:?}",
        bus.steps[0].details
    );
    // A bus to re-emit to and a target redrive: `validate` refuses them written out; set
    // through a parameter, `plan` refuses them, naming why.
    let both = load(
        "pb.toml",
        &format!(
            "{HEAD}[[params]]\nname = \"to\"\ntype = \"string\"\ndefault = \"bus\"\nhelp = \"bus or target\"\n[[steps]]\nkind = \"drain\"\nqueues = [\"subs-dlq\"]\nto = \"${{to}}\"\nto_bus = \"billing\"\n"
        ),
    )
    .unwrap();
    let mut opts = w.opts(1, false);
    opts.sets = vec![("to".into(), "target".into())];
    let (mut scope, _) = prepare_run(&both, &opts).unwrap();
    let e = plan(&both, &mut scope, &w.ports(), 1, Utc::now())
        .await
        .unwrap_err();
    assert_eq!(e.exit_code(), crate::exit_codes::USAGE);
    assert!(
        e.to_string().contains("--to-bus billing names a bus"),
        "{e}"
    );
    assert_eq!(w.sqs.messages("subs-dlq").len(), 2);
}

/// Issue 16: a playbook naming only the bus; the archive, the rules' DLQs and the park
/// queue are found from it when planned, and shown; nothing is created.
const FROM_THE_BUS: &str = "name = \"t\"\ndescription = \"d\"\nwhen = \"w\"\n[[params]]\nname = \"bus\"\ntype = \"string\"\nhelp = \"the bus\"\n[[params]]\nname = \"rules\"\ntype = \"list\"\ndefault = \"\"\nhelp = \"globs\"\n[[steps]]\nkind = \"replay\"\nbus = \"${bus}\"\nsince = \"2h\"\nuntil = \"1h\"\nevent_types = [\"customer.subscription.updated\"]\n[[steps]]\nkind = \"drain\"\nbus = \"${bus}\"\nrules = \"${rules}\"\nevent_types = [\"customer.subscription.updated\"]\npark_queue = \"create\"\n[[steps]]\nkind = \"verify\"\nbus_dlqs_empty = \"${bus}\"\nrules = \"${rules}\"\n";

#[tokio::test]
async fn a_playbook_naming_only_the_bus_plans_what_it_finds_from_it() {
    let w = world(1, true);
    let pb = load("pb.toml", FROM_THE_BUS).unwrap();
    let mut opts = w.opts(1, false);
    opts.default_bus = Some("billing".into());
    let (mut scope, _) = prepare_run(&pb, &opts).unwrap();
    let p = plan(&pb, &mut scope, &w.ports(), 1, Utc::now())
        .await
        .unwrap();
    let details: Vec<&str> = p
        .steps
        .iter()
        .flat_map(|s| s.details.iter().map(String::as_str))
        .collect();
    let has = |want: &str| {
        assert!(
            details.iter().any(|d| d.contains(want)),
            "{want:?} not in {details:#?}"
        )
    };
    has("from archive billing-archive (auto: the bus's only ENABLED archive) to bus billing");
    has("drain subs-dlq (DLQ of rule subscription-rule)");
    has(
        "park poison messages in park queue billing-parked (created when the step runs if missing)",
    );
    has("check: queue subs-dlq is empty");
    assert!(
        crate::ports::queue::Queue::resolve(&w.sqs, "billing-parked")
            .await
            .is_err(),
        "planning creates nothing"
    );
    // A glob that matches no rule: exit 2 naming the bus's rules.
    opts.sets = vec![("rules".into(), "*payment*".into())];
    let (mut scope, _) = prepare_run(&pb, &opts).unwrap();
    let e = plan(&pb, &mut scope, &w.ports(), 1, Utc::now())
        .await
        .unwrap_err();
    assert_eq!(e.exit_code(), crate::exit_codes::USAGE);
    assert!(
        e.to_string().contains("its rules: subscription-rule"),
        "{e}"
    );
}

#[tokio::test]
async fn a_bus_parameter_without_a_default_takes_the_default_bus_or_says_how_to_set_one() {
    let w = world(0, true);
    let pb = load("pb.toml", FROM_THE_BUS).unwrap();
    let mut opts = w.opts(1, false);
    let e = prepare_run(&pb, &opts).unwrap_err();
    assert_eq!(e.exit_code(), crate::exit_codes::USAGE);
    assert!(
        e.to_string()
            .contains("needs parameter `bus` (the bus): set --set bus=NAME or NEXUS_REPLAY_BUS"),
        "{e}"
    );
    opts.default_bus = Some("billing".into());
    let (scope, _) = prepare_run(&pb, &opts).unwrap();
    assert_eq!(
        scope.params["bus"],
        super::load::Value::Str("billing".into())
    );
    // --set wins over the default bus.
    opts.sets = vec![("bus".into(), "other".into())];
    let (scope, _) = prepare_run(&pb, &opts).unwrap();
    assert_eq!(scope.params["bus"], super::load::Value::Str("other".into()));
}

#[tokio::test]
async fn a_drain_without_a_park_queue_says_poison_stays_and_a_dlq_less_target_is_a_warning() {
    let w = world(0, false);
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
                dlq_arn: Some(w.sqs.create("pay-dlq").arn),
                ..Default::default()
            }],
        },
    );
    let src = format!("{HEAD}[[steps]]\nkind = \"drain\"\nbus = \"billing\"\n");
    let pb = load("pb.toml", &src).unwrap();
    let (mut scope, _) = prepare_run(&pb, &w.opts(1, false)).unwrap();
    let p = plan(&pb, &mut scope, &w.ports(), 1, Utc::now())
        .await
        .unwrap();
    assert_eq!(
        p.steps[0].details[..2],
        [
            "drain pay-dlq (DLQ of rule payment-rule)".to_string(),
            "warning: rule subscription-rule: target lambda (subs) has no dead-letter queue, so its failed events were dropped and cannot be drained".to_string(),
        ]
    );
    assert!(
        p.steps[0].details.contains(
            &"no park queue: poison messages stay in their DLQ and are reported".to_string()
        ),
        "{:#?}",
        p.steps[0].details
    );
}
