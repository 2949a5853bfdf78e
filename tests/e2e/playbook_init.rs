//! Issue 16: `playbook init` writes a playbook set from a bus's live rules, on a topology
//! named unlike the sandbox's and on the sandbox itself; the files validate, plan with
//! only `--set since=…/until=…`, and the nightly drain runs; an existing file is not
//! overwritten without `--force`.
//!
//! The outage and cutover playbooks use the verify step's `rules` (issue 16's shared
//! syntax, from the discovery branch): the tests that validate or plan them pass once that
//! branch is merged.

use std::path::Path;

use chrono::Utc;
use serde_json::json;

use crate::support::{
    Cmd, DeadLetter, Moto, Run, Sandbox, TempDir, archived_bus_with, block_on, clients_on,
    put_dead_letters, queue_with_arn, report_settings,
};

const BUS: &str = "orders-prod-bus";
const ARCHIVE: &str = "orders-prod-archive";
const ACCOUNT: &str = "123456789012";

/// A bus named unlike the sandbox's: `ship-orders` takes the shop's orders, `billing-sync`
/// takes a partner source; each target is a queue with a DLQ holding `dead` messages.
struct Shop {
    moto: Moto,
    home: TempDir,
    dlqs: Vec<String>,
}

impl Shop {
    fn new(dead: usize) -> Shop {
        let moto = Moto::start();
        let home = TempDir::new("init");
        let (eb, sqs) = clients_on(&moto.endpoint);
        let hour_ago = Utc::now() - chrono::Duration::hours(1);
        let dlqs = block_on(async {
            archived_bus_with(&eb, BUS, ARCHIVE, &[(json!({"id": "o-1"}), hour_ago)]).await;
            let mut dlqs = Vec::new();
            for (rule, pattern, queue) in [
                (
                    "ship-orders",
                    r#"{"detail-type":["Order"],"source":["shop"]}"#,
                    "shipping-worker",
                ),
                (
                    "billing-sync",
                    r#"{"source":[{"prefix":"aws.partner/billing.example.com"}]}"#,
                    "billing-worker",
                ),
            ] {
                let (_, target_arn) = queue_with_arn(&sqs, queue).await;
                let (dlq_url, dlq_arn) = queue_with_arn(&sqs, &format!("{queue}-dead")).await;
                let rule_arn = eb
                    .put_rule()
                    .name(rule)
                    .event_bus_name(BUS)
                    .event_pattern(pattern)
                    .send()
                    .await
                    .unwrap()
                    .rule_arn()
                    .unwrap()
                    .to_string();
                eb.put_targets()
                    .rule(rule)
                    .event_bus_name(BUS)
                    .targets(
                        aws_sdk_eventbridge::types::Target::builder()
                            .id(queue)
                            .arn(&target_arn)
                            .dead_letter_config(
                                aws_sdk_eventbridge::types::DeadLetterConfig::builder()
                                    .arn(&dlq_arn)
                                    .build(),
                            )
                            .build()
                            .unwrap(),
                    )
                    .send()
                    .await
                    .unwrap();
                let letters: Vec<DeadLetter> = (0..dead)
                    .map(|i| DeadLetter {
                        body: order(&format!("{rule}-{i}"), hour_ago),
                        rule_arn: rule_arn.clone(),
                        target_arn: target_arn.clone(),
                    })
                    .collect();
                put_dead_letters(&sqs, &dlq_url, &letters).await;
                dlqs.push(dlq_url);
            }
            dlqs
        });
        Shop { moto, home, dlqs }
    }

    fn cmd(&self) -> Cmd {
        Cmd::new(Some(&self.moto.endpoint), self.home.path())
    }

    fn run(&self, args: &[&str]) -> Run {
        self.cmd().run(args)
    }

    fn depths(&self) -> Vec<usize> {
        let (_, sqs) = clients_on(&self.moto.endpoint);
        block_on(async {
            let mut out = Vec::new();
            for url in &self.dlqs {
                let a = sqs
                    .get_queue_attributes()
                    .queue_url(url)
                    .attribute_names(
                        aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages,
                    )
                    .send()
                    .await
                    .unwrap();
                out.push(
                    a.attributes()
                        .unwrap()
                        .values()
                        .next()
                        .unwrap()
                        .parse()
                        .unwrap(),
                );
            }
            out
        })
    }
}

/// A shop order event as EventBridge dead-letters it: an hour old, so the nightly drain's
/// `min_age` takes it.
fn order(id: &str, time: chrono::DateTime<Utc>) -> String {
    json!({
        "version": "0", "id": id, "detail-type": "Order", "source": "shop",
        "account": ACCOUNT, "time": time.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "region": "us-east-2", "resources": [], "detail": {"id": id}
    })
    .to_string()
}

fn files_of(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

const SHOP_FILES: [&str; 4] = [
    "billing-sync-outage.toml",
    "nightly-dlq-drain.toml",
    "partner-cutover.toml",
    "ship-orders-outage.toml",
];

/// Runs on main as it is: init, the refusal to overwrite, and the nightly drain
/// validated, planned and run on a topology the tests made.
#[test]
fn init_on_a_bus_unlike_the_sandbox_writes_a_nightly_drain_that_runs() {
    let shop = Shop::new(3);
    let init = shop.run(&["playbook", "init", "--bus", BUS]);
    init.code(0);
    report_settings().bind(|| insta::assert_snapshot!("init_shop", init.transcript()));
    let out = shop.home.path().join("playbooks-orders-prod-bus");
    assert_eq!(files_of(&out), SHOP_FILES);

    // Again: refused, nothing changed; --force writes.
    let nightly = out.join("nightly-dlq-drain.toml");
    std::fs::write(&nightly, "# mine\n").unwrap();
    let again = shop.run(&["playbook", "init", "--bus", BUS]);
    again.code(2);
    assert!(
        again.stderr.contains("nightly-dlq-drain.toml") && again.stderr.contains("--force"),
        "{}",
        again.stderr
    );
    assert_eq!(std::fs::read_to_string(&nightly).unwrap(), "# mine\n");
    let forced = shop.run(&[
        "playbook", "init", "--bus", BUS, "--force", "--output", "json",
    ]);
    forced.code(0);
    let doc = forced.json();
    assert_eq!(doc["files"].as_array().unwrap().len(), 4);
    assert_eq!(doc["bus"], BUS);

    let nightly = nightly.to_str().unwrap();
    shop.run(&["playbook", "validate", nightly]).code(0);
    let plan = shop.run(&["playbook", "plan", nightly]);
    plan.code(0);
    assert!(
        plan.stdout.contains("shipping-worker-dead"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("billing-worker-dead"),
        "{}",
        plan.stdout
    );
    assert_eq!(shop.depths(), [3, 3], "plan drains nothing");
    let run = shop.run(&["playbook", "run", nightly, "--yes", "--output", "json"]);
    run.code(0);
    let rec = run.json();
    assert_eq!(rec["status"], "succeeded");
    assert_eq!(rec["steps"][1]["outputs"]["reemitted"], 6, "{rec}");
    assert_eq!(shop.depths(), [0, 0]);
}

/// Needs the discovery branch (verify `rules`, drain by rules): every file validates and
/// the outage and cutover playbooks plan with only `--set since=…/until=…`.
#[test]
fn every_file_init_writes_for_a_bus_unlike_the_sandbox_validates_and_plans() {
    let shop = Shop::new(1);
    let out = shop.home.path().join("set");
    let out_s = out.to_str().unwrap();
    shop.run(&["playbook", "init", "--bus", BUS, "--out", out_s])
        .code(0);
    let paths: Vec<String> = SHOP_FILES
        .iter()
        .map(|f| out.join(f).to_str().unwrap().to_string())
        .collect();
    let mut args = vec!["playbook", "validate"];
    args.extend(paths.iter().map(String::as_str));
    let v = shop.run(&args);
    v.code(0);
    for (file, path) in SHOP_FILES.iter().zip(&paths) {
        let mut args = vec!["playbook", "plan", path.as_str()];
        if file.ends_with("-outage.toml") {
            // The archive is seconds old: a window that ends now.
            args.extend(["--set", "since=2h", "--set", "until=now"]);
        }
        let plan = shop.run(&args);
        plan.code(0);
        if *file == "ship-orders-outage.toml" {
            assert!(
                plan.stdout.contains("rules: ship-orders"),
                "{}",
                plan.stdout
            );
            assert!(
                plan.stdout.contains("shipping-worker-dead"),
                "{}",
                plan.stdout
            );
            assert!(
                !plan.stdout.contains("billing-worker-dead"),
                "{}",
                plan.stdout
            );
        }
        if *file == "partner-cutover.toml" {
            assert!(
                plan.stdout.contains("billing-worker-dead"),
                "{}",
                plan.stdout
            );
            assert!(
                !plan.stdout.contains("shipping-worker-dead"),
                "{}",
                plan.stdout
            );
        }
    }
    assert_eq!(shop.depths(), [1, 1], "plans drain nothing");
}

/// Needs the discovery branch: on the sandbox (bus from NEXUS_REPLAY_BUS), the set
/// validates, each outage playbook plans, and the subscription rule's outage runs.
#[test]
fn init_on_the_sandbox_writes_playbooks_that_validate_plan_and_run() {
    let sb = Sandbox::new(20, 2);
    let init = sb.run(&["playbook", "init", "--output", "json"]);
    init.code(0);
    let doc = init.json();
    let files: Vec<String> = doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect();
    let names: Vec<&str> = files
        .iter()
        .map(|p| p.rsplit('/').next().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "ai-nexus-dev-stripe-all_events_monitoring-rule-outage.toml",
            "ai-nexus-dev-stripe-customer_events-rule-outage.toml",
            "ai-nexus-dev-stripe-payment_events-rule-outage.toml",
            "ai-nexus-dev-stripe-subscription_events-rule-outage.toml",
            "nightly-dlq-drain.toml",
            "partner-cutover.toml",
        ]
    );
    let dir = sb
        .home
        .path()
        .join("playbooks-ai-nexus-dev-stripe-event-bus");
    let abs: Vec<String> = names
        .iter()
        .map(|n| dir.join(n).to_str().unwrap().to_string())
        .collect();
    let mut args = vec!["playbook", "validate"];
    args.extend(abs.iter().map(String::as_str));
    sb.run(&args).code(0);
    for path in &abs {
        let mut args = vec!["playbook", "plan", path.as_str()];
        if path.ends_with("-outage.toml") {
            args.extend(["--set", "until=now"]);
        }
        sb.run(&args).code(0);
    }
    let sub = &abs[3];
    let run = sb.run(&[
        "playbook",
        "run",
        sub,
        "--set",
        "until=now",
        "--yes",
        "--output",
        "json",
    ]);
    run.code(0);
    let rec = run.json();
    assert_eq!(rec["status"], "succeeded", "{rec}");
    let steps = rec["steps"].as_array().unwrap();
    assert_eq!(steps[1]["outputs"]["state"], "COMPLETED");
    assert_eq!(steps[3]["outputs"]["reemitted"], 2, "{rec}");
}
