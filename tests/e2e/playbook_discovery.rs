//! Issue 16: the shipped playbooks on an account named unlike the sandbox. The test builds
//! its own topology on moto (bus, archive, rules, targets, DLQs with other names); every
//! shipped playbook validates and plans from the bus alone, the nightly drain runs with no
//! park queue, `park_queue = "create"` makes `<bus>-parked` once, and an archive that
//! cannot be picked for the bus fails the plan (exit 2) listing the archives.

use serde_json::Value;

use crate::drain::stripe_body;
use crate::playbook::SHIPPED;
use crate::support::{
    Cmd, DeadLetter, Moto, Run, TempDir, block_on, clients_on, put_dead_letters, queue_with_arn,
};

const BUS: &str = "acme-billing-bus";
const VAULT: &str = "acme-billing-vault";
const PARKED: &str = "acme-billing-bus-parked";

/// (rule, its event types, the target queue, the target's DLQ)
const RULES: [(&str, &[&str], &str, &str); 3] = [
    (
        "acme-subs-consumer",
        &[
            "customer.subscription.created",
            "customer.subscription.updated",
            "customer.subscription.deleted",
        ],
        "acme-subs-worker",
        "acme-subs-dead",
    ),
    (
        "acme-ledger-sync",
        &[
            "invoice.payment_succeeded",
            "invoice.payment_failed",
            "payment_intent.succeeded",
            "payment_intent.payment_failed",
            "charge.succeeded",
            "charge.failed",
        ],
        "acme-ledger-worker",
        "acme-ledger-dead",
    ),
    (
        "acme-crm-sync",
        &["customer.created", "customer.updated", "customer.deleted"],
        "acme-crm-worker",
        "acme-crm-dead",
    ),
];

/// moto with the acme topology: the bus, one archive of it, three rules each with a queue
/// target that dead-letters to its own DLQ.
struct Acme {
    moto: Moto,
    home: TempDir,
    sub_rule_arn: String,
}

impl Acme {
    fn new() -> Acme {
        let moto = Moto::start();
        let home = TempDir::new("acme");
        let (eb, sqs) = clients_on(&moto.endpoint);
        let sub_rule_arn = block_on(async {
            let bus_arn = eb
                .create_event_bus()
                .name(BUS)
                .send()
                .await
                .unwrap()
                .event_bus_arn()
                .unwrap()
                .to_string();
            eb.create_archive()
                .archive_name(VAULT)
                .event_source_arn(&bus_arn)
                .send()
                .await
                .unwrap();
            let mut arns = Vec::new();
            for (rule, types, worker, dead) in RULES {
                let pattern =
                    serde_json::json!({"detail": {"type": types}, "source": ["stripe.webhook"]});
                let arn = eb
                    .put_rule()
                    .name(rule)
                    .event_bus_name(BUS)
                    .event_pattern(pattern.to_string())
                    .send()
                    .await
                    .unwrap()
                    .rule_arn()
                    .unwrap()
                    .to_string();
                let (_, worker_arn) = queue_with_arn(&sqs, worker).await;
                let (_, dead_arn) = queue_with_arn(&sqs, dead).await;
                let target = aws_sdk_eventbridge::types::Target::builder()
                    .id("worker")
                    .arn(worker_arn)
                    .dead_letter_config(
                        aws_sdk_eventbridge::types::DeadLetterConfig::builder()
                            .arn(dead_arn)
                            .build(),
                    )
                    .build()
                    .unwrap();
                eb.put_targets()
                    .rule(rule)
                    .event_bus_name(BUS)
                    .targets(target)
                    .send()
                    .await
                    .unwrap();
                arns.push(arn);
            }
            arns.remove(0)
        });
        Acme {
            moto,
            home,
            sub_rule_arn,
        }
    }

    /// The binary with the bus from NEXUS_REPLAY_BUS.
    fn cmd(&self) -> Cmd {
        self.bare().env("NEXUS_REPLAY_BUS", BUS)
    }

    /// The binary with no default bus.
    fn bare(&self) -> Cmd {
        Cmd::new(Some(&self.moto.endpoint), self.home.path())
    }

    fn run(&self, args: &[&str]) -> Run {
        self.cmd().run(args)
    }

    fn url(&self, queue: &str) -> String {
        let (_, sqs) = clients_on(&self.moto.endpoint);
        block_on(async {
            sqs.get_queue_url()
                .queue_name(queue)
                .send()
                .await
                .map(|o| o.queue_url().unwrap_or_default().to_string())
                .unwrap_or_default()
        })
    }

    /// Dead letters of the subscription rule's target on its DLQ.
    fn dead_letters(&self, bodies: &[String]) {
        let (_, sqs) = clients_on(&self.moto.endpoint);
        let url = self.url("acme-subs-dead");
        let letters: Vec<DeadLetter> = bodies
            .iter()
            .map(|b| DeadLetter {
                body: b.clone(),
                rule_arn: self.sub_rule_arn.clone(),
                target_arn: "arn:aws:sqs:us-east-1:123456789012:acme-subs-worker".into(),
            })
            .collect();
        block_on(put_dead_letters(&sqs, &url, &letters));
    }

    /// Visible and in-flight messages of a queue.
    fn depth(&self, queue: &str) -> usize {
        let (_, sqs) = clients_on(&self.moto.endpoint);
        let url = self.url(queue);
        block_on(async {
            let a = sqs
                .get_queue_attributes()
                .queue_url(&url)
                .attribute_names(
                    aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages,
                )
                .attribute_names(
                    aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
                )
                .send()
                .await
                .unwrap();
            a.attributes()
                .unwrap()
                .values()
                .map(|v| v.parse::<usize>().unwrap())
                .sum()
        })
    }
}

fn details(plan: &Value) -> String {
    plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["details"].as_array().unwrap().clone())
        .map(|d| d.as_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_shipped_playbook_validates_and_plans_from_the_bus_alone() {
    let acme = Acme::new();
    let v = acme.run(&["playbook", "validate", "--output", "json"]);
    v.code(0);
    let files = v.json()["files"].as_array().unwrap().clone();
    assert_eq!(files.len(), SHIPPED.len());
    assert!(files.iter().all(|f| f["ok"] == true), "{files:?}");
    for name in SHIPPED {
        let mut args = vec!["playbook", "plan", name, "--output", "json"];
        if name.ends_with("-outage") {
            // The archive is seconds old: end the window now.
            args.extend(["--set", "since=2h", "--set", "until=now"]);
        }
        let plan = acme.run(&args);
        plan.code(0);
        let text = details(&plan.json());
        assert!(!text.contains("ai-nexus"), "{name}: {text}");
        if name == "stripe-webhook-outage" {
            // Found from the bus alone too: the archive export's archive is the bus's own.
            assert!(
                text.contains("list Stripe's events created 20"),
                "{name}: {text}"
            );
        } else if name.ends_with("-outage") {
            assert!(
                text.contains(&format!(
                    "from archive {VAULT} (auto: the bus's only ENABLED archive) to bus {BUS}"
                )),
                "{name}: {text}"
            );
        } else {
            assert!(
                text.contains("drain acme-crm-dead (DLQ of rule acme-crm-sync), acme-ledger-dead (DLQ of rule acme-ledger-sync), acme-subs-dead (DLQ of rule acme-subs-consumer)"),
                "{name}: {text}"
            );
        }
    }
    // The plans, as a person reads them.
    for (snap, args) in [
        (
            "discovery_plan_subscription_outage",
            &[
                "playbook",
                "plan",
                "subscription-outage",
                "--set",
                "until=now",
            ][..],
        ),
        (
            "discovery_plan_nightly_dlq_drain_park_create",
            &[
                "playbook",
                "plan",
                "nightly-dlq-drain",
                "--set",
                "park_queue=create",
            ][..],
        ),
    ] {
        let run = acme.run(args);
        crate::support::report_settings().bind(|| {
            insta::assert_snapshot!(
                snap,
                format!("$ nexus-replay {}\n{}", args.join(" "), run.transcript())
            );
        });
    }
    // Each outage playbook drains and checks only the DLQ of the rule that takes its types.
    for (name, rule, dlq) in [
        (
            "subscription-outage",
            "acme-subs-consumer",
            "acme-subs-dead",
        ),
        ("payment-outage", "acme-ledger-sync", "acme-ledger-dead"),
        ("customer-sync-outage", "acme-crm-sync", "acme-crm-dead"),
    ] {
        // The bus by --set this time, with no default bus at all.
        let plan = acme.bare().run(&[
            "playbook",
            "plan",
            name,
            "--set",
            &format!("bus={BUS}"),
            "--set",
            "until=now",
            "--output",
            "json",
        ]);
        plan.code(0);
        let text = details(&plan.json());
        assert!(text.contains(&format!("rules: {rule}\n")), "{name}: {text}");
        assert!(
            text.contains(&format!("drain {dlq} (DLQ of rule {rule})\n")),
            "{name}: {text}"
        );
        assert!(
            text.contains(&format!("check: queue {dlq} is empty")),
            "{name}: {text}"
        );
        assert_eq!(text.matches("check: queue").count(), 1, "{name}: {text}");
    }
    // No bus anywhere: exit 2, saying how to give one.
    let none = acme.bare().run(&["playbook", "plan", "nightly-dlq-drain"]);
    none.code(2);
    assert!(
        none.stderr.contains("needs parameter `bus`")
            && none
                .stderr
                .contains("set --set bus=NAME or NEXUS_REPLAY_BUS"),
        "{}",
        none.stderr
    );
    // A glob that matches no rule: exit 2 naming the rules there are.
    let nothing = acme.run(&[
        "playbook",
        "plan",
        "subscription-outage",
        "--set",
        "until=now",
        "--set",
        "rules=*refund*",
    ]);
    nothing.code(2);
    assert!(
        nothing
            .stderr
            .contains("its rules: acme-subs-consumer, acme-ledger-sync, acme-crm-sync"),
        "{}",
        nothing.stderr
    );
}

#[test]
fn nightly_dlq_drain_runs_without_a_park_queue_and_leaves_poison_in_its_dlq() {
    let acme = Acme::new();
    acme.dead_letters(&(0..3).map(stripe_body).collect::<Vec<_>>());
    let run = acme.run(&[
        "playbook",
        "run",
        "nightly-dlq-drain",
        "--yes",
        "--output",
        "json",
    ]);
    run.code(0);
    let rec = run.json();
    assert_eq!(rec["status"], "succeeded", "{rec}");
    assert_eq!(rec["steps"][1]["outputs"]["reemitted"], 3);
    assert!(rec["steps"][1]["report"].get("park_queue").is_none());
    assert_eq!(acme.depth("acme-subs-dead"), 0);
    assert!(acme.url(PARKED).is_empty(), "no park queue was made");

    // A poison message with no park queue: reported, left in its DLQ; the drain step
    // fails as the drain command does (exit 3, partial success).
    acme.dead_letters(&["this is not json".to_string()]);
    let run = acme.run(&[
        "playbook",
        "run",
        "nightly-dlq-drain",
        "--yes",
        "--output",
        "json",
    ]);
    run.code(3);
    let rec = run.json();
    assert_eq!(rec["failed_step"], 2, "{rec}");
    let drain = &rec["steps"][1]["report"];
    assert_eq!(drain["counts"]["failed"], 1, "{drain}");
    assert_eq!(drain["counts"]["parked"], 0, "{drain}");
    assert_eq!(drain["failures"][0]["queue"], "acme-subs-dead", "{drain}");
    assert_eq!(acme.depth("acme-subs-dead"), 1);
}

#[test]
fn park_queue_create_makes_the_bus_park_queue_once_and_reuses_it() {
    let acme = Acme::new();
    // The plan says so and creates nothing.
    let plan = acme.run(&[
        "playbook",
        "plan",
        "nightly-dlq-drain",
        "--set",
        "park_queue=create",
    ]);
    plan.code(0);
    assert!(
        plan.stdout.contains(&format!(
            "park poison messages in park queue {PARKED} (created when the step runs if missing)"
        )),
        "{}",
        plan.stdout
    );
    assert!(acme.url(PARKED).is_empty());
    for (round, created) in [(0, true), (1, false)] {
        acme.dead_letters(&[format!("not json {round}")]);
        let run = acme.run(&[
            "playbook",
            "run",
            "nightly-dlq-drain",
            "--set",
            "park_queue=create",
            "--yes",
            "--output",
            "json",
        ]);
        let rec = run.json();
        let drain = &rec["steps"][1]["report"];
        assert_eq!(
            drain["park_queue"],
            serde_json::json!({"queue": PARKED, "created": created}),
            "round {round}: {rec}"
        );
        assert_eq!(drain["counts"]["parked"], 1, "round {round}: {drain}");
        assert_eq!(acme.depth("acme-subs-dead"), 0);
    }
    assert_eq!(acme.depth(PARKED), 2);
    // The drain command says it too; `create` without a bus is refused.
    acme.dead_letters(&["not json 2".to_string()]);
    let cli = acme.run(&["drain", "--bus", BUS, "--park-queue", "create", "--yes"]);
    cli.code(3);
    assert!(
        cli.stdout.contains(&format!("park queue {PARKED} exists")),
        "{}\n{}",
        cli.stdout,
        cli.stderr
    );
    assert_eq!(acme.depth(PARKED), 3);
    let bad = acme.run(&[
        "drain",
        "--queue",
        "acme-subs-dead",
        "--park-queue",
        "create",
    ]);
    bad.code(2);
    assert!(bad.stderr.contains("needs --bus BUS"), "{}", bad.stderr);
}

#[test]
fn a_bus_with_two_enabled_archives_fails_the_plan_listing_them() {
    let acme = Acme::new();
    let (eb, _) = clients_on(&acme.moto.endpoint);
    block_on(async {
        let bus = eb.describe_event_bus().name(BUS).send().await.unwrap();
        eb.create_archive()
            .archive_name("acme-billing-vault-2")
            .event_source_arn(bus.arn().unwrap())
            .send()
            .await
            .unwrap();
    });
    let plan = acme.run(&[
        "playbook",
        "plan",
        "subscription-outage",
        "--set",
        "until=now",
    ]);
    plan.code(2);
    assert!(
        plan.stderr.contains(&format!(
            "bus {BUS} has 2 ENABLED archives, so none is picked for you: {VAULT} (ENABLED), acme-billing-vault-2 (ENABLED)"
        )),
        "{}",
        plan.stderr
    );
    // `start --bus` picks the same way.
    let start = acme.run(&[
        "start",
        "--since",
        "1h",
        "--until",
        "now",
        "--event-type",
        "customer.subscription.updated",
        "--dry-run",
    ]);
    start.code(2);
    assert!(
        start.stderr.contains("2 ENABLED archives"),
        "{}",
        start.stderr
    );
    // None ENABLED (only a DISABLED one) is covered with the memory fake: moto cannot
    // make a DISABLED archive.
}
