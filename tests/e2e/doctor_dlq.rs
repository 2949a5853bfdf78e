//! Issue 18: `doctor` catches DLQs EventBridge cannot write to (no queue policy, the
//! AWS-managed key `alias/aws/sqs`, a customer key whose policy leaves EventBridge out) and
//! target roles it cannot assume, on moto's SQS, KMS and IAM; the healthy ones pass. And
//! rules whose failed deliveries could not be written to their DLQ (`dlq-sends`).

use aws_sdk_eventbridge::types::{DeadLetterConfig, Target};
use aws_sdk_sqs::types::QueueAttributeName;
use chrono::Utc;
use serde_json::{Value, json};

use crate::cloudwatch_shim::{CloudWatchShim, datum};
use crate::support::{Cmd, Moto, TempDir, block_on, client, queue_with_arn};

const BUS: &str = "dlq-bus";
const ACCOUNT: &str = "123456789012";

fn policy(statements: Value) -> String {
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

/// The queue policy letting EventBridge send for `rule_arn`.
fn sending(dlq_arn: &str, rule_arn: &str) -> String {
    policy(json!([{
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": dlq_arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}}
    }]))
}

/// A key policy for the account root, plus these statements.
fn key_policy(extra: Value) -> String {
    let mut all = vec![json!({
        "Sid": "Root", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")},
        "Action": "kms:*", "Resource": "*"
    })];
    all.extend(extra.as_array().unwrap().iter().cloned());
    policy(Value::Array(all))
}

fn trust(service: &str) -> String {
    policy(json!([{
        "Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"
    }]))
}

struct Setup {
    moto: Moto,
    home: TempDir,
    good_key: String,
}

/// Rule `dlqs` with five targets, each with its DLQ, and rule `roles` with three targets
/// that name a role.
fn setup() -> Setup {
    let moto = Moto::start();
    let home = TempDir::new("doctor-dlq");
    let eb = client!(aws_sdk_eventbridge, &moto.endpoint);
    let sqs = client!(aws_sdk_sqs, &moto.endpoint);
    let kms = client!(aws_sdk_kms, &moto.endpoint);
    let iam = client!(aws_sdk_iam, &moto.endpoint);
    let good_key = block_on(async {
        eb.create_event_bus().name(BUS).send().await.unwrap();
        let mut rule_arns = Vec::new();
        for rule in ["dlqs", "roles"] {
            rule_arns.push(shop_rule(&eb, BUS, rule).await);
        }
        let dlqs_rule = rule_arns[0].clone();

        let key = |events: bool| {
            let kms = kms.clone();
            async move {
                let extra = if events {
                    json!([{
                        "Sid": "Events", "Effect": "Allow",
                        "Principal": {"Service": "events.amazonaws.com"},
                        "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": "*"
                    }])
                } else {
                    json!([])
                };
                kms.create_key()
                    .policy(key_policy(extra))
                    .send()
                    .await
                    .unwrap()
                    .key_metadata()
                    .unwrap()
                    .arn()
                    .unwrap()
                    .to_string()
            }
        };
        let good_key = key(true).await;
        let bad_key = key(false).await;
        kms.create_alias()
            .alias_name("alias/dlq-good")
            .target_key_id(&good_key)
            .send()
            .await
            .unwrap();

        // (target id, policy?, KmsMasterKeyId)
        let dlqs: [(&str, bool, Option<&str>); 5] = [
            ("good", true, None),
            ("nopolicy", false, None),
            ("awskey", true, Some("alias/aws/sqs")),
            ("cmkgood", true, Some("alias/dlq-good")),
            ("cmkbad", true, Some(&bad_key)),
        ];
        let (_, target_arn) = queue_with_arn(&sqs, "dlq-target").await;
        let mut targets = Vec::new();
        for (id, with_policy, key) in dlqs {
            let (url, arn) = queue_with_arn(&sqs, &format!("{id}-dlq")).await;
            let mut set = sqs.set_queue_attributes().queue_url(&url);
            if with_policy {
                set = set.attributes(QueueAttributeName::Policy, sending(&arn, &dlqs_rule));
            }
            set = match key {
                Some(k) => set.attributes(QueueAttributeName::KmsMasterKeyId, k),
                None => set.attributes(QueueAttributeName::SqsManagedSseEnabled, "true"),
            };
            set.send().await.unwrap();
            targets.push(
                Target::builder()
                    .id(id)
                    .arn(&target_arn)
                    .dead_letter_config(DeadLetterConfig::builder().arn(arn).build())
                    .build()
                    .unwrap(),
            );
        }
        eb.put_targets()
            .rule("dlqs")
            .event_bus_name(BUS)
            .set_targets(Some(targets))
            .send()
            .await
            .unwrap();

        for (name, service) in [
            ("events-role", "events.amazonaws.com"),
            ("lambda-role", "lambda.amazonaws.com"),
        ] {
            iam.create_role()
                .role_name(name)
                .assume_role_policy_document(trust(service))
                .send()
                .await
                .unwrap();
        }
        let role_targets = ["events-role", "lambda-role", "missing-role"]
            .iter()
            .map(|role| {
                Target::builder()
                    .id(*role)
                    .arn(format!(
                        "arn:aws:states:us-east-2:{ACCOUNT}:stateMachine:sm"
                    ))
                    .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/{role}"))
                    .build()
                    .unwrap()
            })
            .collect();
        eb.put_targets()
            .rule("roles")
            .event_bus_name(BUS)
            .set_targets(Some(role_targets))
            .send()
            .await
            .unwrap();
        good_key
    });
    Setup {
        moto,
        home,
        good_key,
    }
}

#[test]
fn doctor_fails_each_dlq_and_role_eventbridge_cannot_use_and_passes_the_good_ones() {
    let s = setup();
    let cli = || Cmd::new(Some(&s.moto.endpoint), s.home.path());
    let run = cli().run(&["doctor", "--bus", BUS, "--output", "json"]);
    run.code(3);
    let doc = run.json();
    let checks = doc["checks"].as_array().unwrap();
    let of = |check: &str, subject: &str| {
        checks
            .iter()
            .find(|c| c["check"] == check && c["subject"] == subject)
            .unwrap_or_else(|| panic!("no {check} for {subject}: {doc:#}"))
            .clone()
    };
    let status = |check: &str, subject: &str| of(check, subject)["status"].clone();

    // Queue policies: only the DLQ without one fails, with the statement to add.
    for id in ["good", "awskey", "cmkgood", "cmkbad"] {
        assert_eq!(
            status("dlq-policy", &format!("dlqs / {id}")),
            "PASS",
            "{id}"
        );
    }
    let none = of("dlq-policy", "dlqs / nopolicy");
    assert_eq!(none["status"], "FAIL");
    assert!(
        none["message"]
            .as_str()
            .unwrap()
            .contains("no queue policy"),
        "{none}"
    );
    let hint = none["hint"].as_str().unwrap();
    assert!(
        hint.contains(r#""Principal":{"Service":"events.amazonaws.com"}"#)
            && hint.contains(&format!(
                "arn:aws:events:us-east-2:{ACCOUNT}:rule/{BUS}/dlqs"
            )),
        "{hint}"
    );

    // Encryption: SSE-SQS and the customer key with EventBridge in its policy pass.
    assert_eq!(status("dlq-encryption", "good-dlq"), "PASS");
    assert_eq!(status("dlq-encryption", "nopolicy-dlq"), "PASS");
    let good = of("dlq-encryption", "cmkgood-dlq");
    assert_eq!(good["status"], "PASS", "{good}");
    assert!(
        good["message"].as_str().unwrap().contains(&s.good_key),
        "{good}"
    );
    let aws = of("dlq-encryption", "awskey-dlq");
    assert_eq!(aws["status"], "FAIL");
    assert!(
        aws["message"].as_str().unwrap().contains("alias/aws/sqs"),
        "{aws}"
    );
    let bad = of("dlq-encryption", "cmkbad-dlq");
    assert_eq!(bad["status"], "FAIL", "{bad}");
    assert!(
        bad["message"]
            .as_str()
            .unwrap()
            .contains("kms:Decrypt, kms:GenerateDataKey"),
        "{bad}"
    );

    // Roles: the one trusting EventBridge passes, the others fail with the reason.
    assert_eq!(status("target-role", "roles / events-role"), "PASS");
    let lambda = of("target-role", "roles / lambda-role");
    assert_eq!(lambda["status"], "FAIL");
    assert!(
        lambda["message"]
            .as_str()
            .unwrap()
            .contains("does not let events.amazonaws.com sts:AssumeRole"),
        "{lambda}"
    );
    let missing = of("target-role", "roles / missing-role");
    assert_eq!(missing["status"], "FAIL");
    assert!(
        missing["message"]
            .as_str()
            .unwrap()
            .contains("does not exist"),
        "{missing}"
    );

    // The human report lists each failure with its fix.
    let human = cli().run(&["doctor", "--bus", BUS]);
    human.code(3);
    for needle in [
        "[FAIL] dlqs / nopolicy: add this statement to the queue policy of nopolicy-dlq",
        "[FAIL] awskey-dlq: use SQS-managed encryption",
        "[FAIL] cmkbad-dlq: add this statement to the key policy",
        "[FAIL] roles / lambda-role: add this statement to the trust policy of lambda-role",
    ] {
        assert!(human.stdout.contains(needle), "{needle}\n{}", human.stdout);
    }
}

/// The sandbox seeds each DLQ with the queue policy EventBridge needs: doctor passes them.
#[test]
fn the_sandbox_dlqs_let_eventbridge_send() {
    let sb = crate::support::Sandbox::new(0, 0);
    let doc = sb.run(&["doctor", "--output", "json"]).code(0).json();
    let checks = doc["checks"].as_array().unwrap();
    for kind in ["dlq-policy", "dlq-encryption"] {
        let of: Vec<&Value> = checks.iter().filter(|c| c["check"] == kind).collect();
        assert_eq!(of.len(), 4, "{kind}: {doc:#}");
        assert!(of.iter().all(|c| c["status"] == "PASS"), "{kind}: {doc:#}");
    }
}

/// Issue 18: `InvocationsFailedToBeSentToDlq` above 0 in the last 24 hours fails the rule.
/// Bus `sends-bus` has rules `leaky` and `tight`, each with a DLQ EventBridge can write to;
/// the metric (put through the CloudWatch shim, which moto's CloudWatch needs) is 3 for
/// `leaky` and 0 for `tight`. Without the shim the SDK cannot read moto's CloudWatch: the
/// check warns that it cannot tell, it does not fail.
#[test]
fn doctor_fails_a_rule_whose_failed_deliveries_could_not_reach_its_dlq() {
    const SENDS: &str = "sends-bus";
    let moto = Moto::start();
    let home = TempDir::new("doctor-dlq-sends");
    let shim = CloudWatchShim::start(&moto.endpoint);
    let eb = client!(aws_sdk_eventbridge, &moto.endpoint);
    let sqs = client!(aws_sdk_sqs, &moto.endpoint);
    let cw = client!(aws_sdk_cloudwatch, &shim.endpoint);
    block_on(async {
        eb.create_event_bus().name(SENDS).send().await.unwrap();
        let (_, target_arn) = queue_with_arn(&sqs, "sends-target").await;
        for rule in ["leaky", "tight"] {
            let rule_arn = shop_rule(&eb, SENDS, rule).await;
            let (url, dlq_arn) = queue_with_arn(&sqs, &format!("{rule}-dlq")).await;
            sqs.set_queue_attributes()
                .queue_url(&url)
                .attributes(QueueAttributeName::Policy, sending(&dlq_arn, &rule_arn))
                .send()
                .await
                .unwrap();
            eb.put_targets()
                .rule(rule)
                .event_bus_name(SENDS)
                .targets(
                    Target::builder()
                        .id("queue")
                        .arn(&target_arn)
                        .dead_letter_config(DeadLetterConfig::builder().arn(dlq_arn).build())
                        .build()
                        .unwrap(),
                )
                .send()
                .await
                .unwrap();
        }
        let at = Utc::now() - chrono::Duration::minutes(5);
        let data = [("leaky", 3.0), ("tight", 0.0)].map(|(rule, n)| {
            datum(
                "InvocationsFailedToBeSentToDlq",
                &[("RuleName", rule), ("EventBusName", SENDS)],
                at,
                n,
            )
        });
        cw.put_metric_data()
            .namespace("AWS/Events")
            .set_metric_data(Some(data.to_vec()))
            .send()
            .await
            .expect("PutMetricData AWS/Events");
    });
    let sends = |doc: &Value, rule: &str| {
        doc["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"] == "dlq-sends" && c["subject"] == rule)
            .unwrap_or_else(|| panic!("no dlq-sends for {rule}: {doc:#}"))
            .clone()
    };
    let args = ["doctor", "--bus", SENDS, "--output", "json"];

    let run = Cmd::new(None, home.path())
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("AWS_ENDPOINT_URL_CLOUDWATCH", &shim.endpoint)
        .run(&args);
    run.code(3);
    let doc = run.json();
    let leaky = sends(&doc, "leaky");
    assert_eq!(leaky["status"], "FAIL", "{leaky}");
    assert!(
        leaky["message"]
            .as_str()
            .unwrap()
            .starts_with("3 failed deliveries could not be written to the DLQ"),
        "{leaky}"
    );
    assert_eq!(sends(&doc, "tight")["status"], "PASS", "{doc:#}");

    // Plain moto: GetMetricData does not answer the SDK, so the check cannot tell. The
    // first rule's failure stands for both: one WARN, saying the next rule was not read.
    let doc = Cmd::new(Some(&moto.endpoint), home.path())
        .run(&args)
        .json();
    let all: Vec<&Value> = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["check"] == "dlq-sends")
        .collect();
    assert_eq!(all.len(), 1, "{doc:#}");
    assert_eq!(all[0]["status"], "WARN", "{doc:#}");
    let message = all[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("cannot read InvocationsFailedToBeSentToDlq")
            && message.ends_with("not read for the 1 rule after it either"),
        "{message}"
    );
}

/// Creates rule `name` on `bus` for events of source `shop`; answers its ARN.
async fn shop_rule(eb: &aws_sdk_eventbridge::Client, bus: &str, name: &str) -> String {
    eb.put_rule()
        .name(name)
        .event_bus_name(bus)
        .event_pattern(r#"{"source":["shop"]}"#)
        .send()
        .await
        .unwrap()
        .rule_arn()
        .unwrap()
        .to_string()
}
