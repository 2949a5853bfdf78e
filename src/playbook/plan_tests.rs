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
