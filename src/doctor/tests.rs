//! `doctor` on in-memory fakes: the checks it has always made, and one test per verdict of
//! the delivery checks (queue policy, encryption, target role, partner buses).

use chrono::Utc;
use serde_json::json;

use super::*;
use crate::memory::eventbridge::MemoryEventBridge;
use crate::memory::iam::MemoryIam;
use crate::memory::kms::MemoryKms;
use crate::memory::sqs::MemoryQueue;
use crate::ports::PortError;
use crate::ports::bus::{EventSourceInfo, RuleInfo, TargetInfo};
use crate::ports::keys::KeyManager;

async fn run_basic(eb: &MemoryEventBridge, bus: &str) -> DoctorReport {
    without_keys_or_roles(eb, &MemoryQueue::new(), bus).await
}

/// The checks without a KMS or IAM port: customer keys and target roles are not read.
async fn without_keys_or_roles(
    eb: &MemoryEventBridge,
    sqs: &MemoryQueue,
    bus: &str,
) -> DoctorReport {
    let ports = DoctorPorts {
        cat: eb,
        queue: sqs,
        keys: None,
        roles: None,
    };
    doctor(&ports, bus, Utc::now()).await.unwrap()
}

async fn partner_hint(answer: PortError) -> String {
    let eb = MemoryEventBridge::new();
    eb.add_bus("billing");
    eb.set_event_sources(Err(answer));
    let report = run_basic(&eb, "billing").await;
    let check = report
        .checks
        .iter()
        .find(|c| c.check == "partner-sources")
        .unwrap();
    assert_eq!(check.status, Status::Warn);
    check.hint.clone().unwrap()
}
#[tokio::test]
async fn the_partner_sources_hint_names_the_permission_only_when_it_was_refused() {
    let denied = partner_hint(PortError::Denied(
        "ListEventSources: AccessDeniedException: not authorized".into(),
    ))
    .await;
    assert!(
        denied.starts_with("grant events:ListEventSources"),
        "{denied}"
    );
    let broken = partner_hint(PortError::Transient(
        "ListEventSources: HTTP 500 without an AWS error code".into(),
    ))
    .await;
    assert!(!broken.contains("grant"), "{broken}");
    assert!(broken.contains("console"), "{broken}");
}

/// LocalStack's archive rule lacks `ManagedBy`: it is still not one of the bus's own
/// rules, so it gets no DLQ or retry verdict and does not count as a rule.
#[tokio::test]
async fn an_archive_rule_without_managed_by_is_not_checked_as_a_rule() {
    use crate::replay::fixtures::unmarked_archive_rule;
    let eb = MemoryEventBridge::new();
    eb.add_bus("billing");
    eb.add_rule("billing", unmarked_archive_rule("a"));
    let report = run_basic(&eb, "billing").await;
    assert!(
        !report
            .checks
            .iter()
            .any(|c| c.subject.starts_with("Events-Archive-a")),
        "{:?}",
        report.checks
    );
    let rules = report
        .checks
        .iter()
        .find(|c| c.check == "rule-enabled")
        .unwrap();
    assert_eq!(rules.status, Status::Warn);
    assert!(rules.message.contains("no rules"), "{}", rules.message);
}

/// A partner bus is named like its source, with slashes: every check and hint names the
/// rule (the last segment of its ARN) and the whole bus.
#[tokio::test]
async fn a_partner_bus_is_checked_under_its_full_name() {
    const BUS: &str = "aws.partner/stripe.com/ed_XYZ";
    let eb = MemoryEventBridge::new();
    eb.add_bus(BUS);
    eb.add_rule(
        BUS,
        crate::ports::bus::RuleInfo {
            name: "RULE".into(),
            arn: format!("arn:aws:events:us-east-2:123456789012:rule/{BUS}/RULE"),
            state: "DISABLED".into(),
            event_pattern: Some(r#"{"source": [{"prefix": "aws.partner/stripe.com"}]}"#.into()),
            schedule_expression: None,
            managed_by: None,
            description: None,
            targets: vec![crate::ports::bus::TargetInfo {
                id: "t".into(),
                arn: "arn:aws:sqs:us-east-2:123456789012:q".into(),
                ..Default::default()
            }],
        },
    );
    eb.set_event_sources(Ok(Vec::new()));
    let report = run_basic(&eb, BUS).await;
    assert_eq!(report.bus, BUS);
    let check = |name: &str| {
        report
            .checks
            .iter()
            .find(|c| c.check == name)
            .unwrap_or_else(|| panic!("{name}: {:?}", report.checks))
    };
    let enabled = check("rule-enabled");
    assert_eq!(enabled.subject, "RULE");
    assert_eq!(
        enabled.hint.as_deref(),
        Some("aws events enable-rule --name RULE --event-bus-name aws.partner/stripe.com/ed_XYZ")
    );
    let dlq = check("target-dlq");
    assert_eq!(
        (dlq.subject.as_str(), dlq.status),
        ("RULE / t", Status::Fail)
    );
    assert!(
        dlq.hint
            .as_deref()
            .unwrap()
            .contains("--rule RULE --event-bus-name aws.partner/stripe.com/ed_XYZ"),
        "{:?}",
        dlq.hint
    );
}

const RULE_ARN: &str = "arn:aws:events:us-east-2:123456789012:rule/billing/subs";

/// A bus `billing` with rule `subs` and the fakes behind every delivery check.
struct World {
    eb: MemoryEventBridge,
    sqs: MemoryQueue,
    kms: MemoryKms,
    iam: MemoryIam,
}

impl World {
    fn new(targets: Vec<TargetInfo>) -> World {
        let eb = MemoryEventBridge::new();
        eb.add_bus("billing");
        eb.set_event_sources(Ok(Vec::new()));
        eb.add_rule("billing", rule("subs", RULE_ARN, targets));
        World {
            eb,
            sqs: MemoryQueue::new(),
            kms: MemoryKms::new(),
            iam: MemoryIam::new(),
        }
    }

    /// A DLQ with these attributes; answers its ARN.
    fn dlq(&self, name: &str, attributes: &[(&str, &str)]) -> String {
        let q = self.sqs.create(name);
        for (k, v) in attributes {
            self.sqs.set_attribute(name, k, v);
        }
        q.arn
    }

    async fn run(&self) -> DoctorReport {
        let ports = DoctorPorts {
            cat: &self.eb,
            queue: &self.sqs,
            keys: Some(&self.kms),
            roles: Some(&self.iam),
        };
        doctor(&ports, "billing", Utc::now()).await.unwrap()
    }
}

fn rule(name: &str, arn: &str, targets: Vec<TargetInfo>) -> RuleInfo {
    RuleInfo {
        name: name.into(),
        arn: arn.into(),
        state: "ENABLED".into(),
        event_pattern: Some(r#"{"source": ["stripe"]}"#.into()),
        schedule_expression: None,
        managed_by: None,
        description: None,
        targets,
    }
}

fn target(id: &str, dlq: &str) -> TargetInfo {
    TargetInfo {
        id: id.into(),
        arn: format!("arn:aws:lambda:us-east-2:123456789012:function:{id}"),
        dlq_arn: Some(format!("arn:aws:sqs:us-east-2:123456789012:{dlq}")),
        ..TargetInfo::default()
    }
}

fn with_role(id: &str, role: &str) -> TargetInfo {
    TargetInfo {
        id: id.into(),
        arn: "arn:aws:states:us-east-2:123456789012:stateMachine:sm".into(),
        role_arn: Some(role.into()),
        ..TargetInfo::default()
    }
}

fn doc(statements: serde_json::Value) -> String {
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

/// The queue policy doctor's own hint gives.
fn sending_policy(dlq: &str) -> String {
    let st: serde_json::Value = serde_json::from_str(&delivery::queue_statement(
        &format!("arn:aws:sqs:us-east-2:123456789012:{dlq}"),
        RULE_ARN,
    ))
    .unwrap();
    doc(json!([st]))
}

fn key_policy(actions: &[&str]) -> String {
    doc(json!([
        {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "Events", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
         "Action": actions, "Resource": "*"}
    ]))
}

fn trust(service: &str) -> String {
    doc(json!([{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]))
}

fn verdict<'a>(r: &'a DoctorReport, check: &str, subject: &str) -> &'a Check {
    r.checks
        .iter()
        .find(|c| c.check == check && c.subject == subject)
        .unwrap_or_else(|| panic!("no {check} for {subject}: {:#?}", r.checks))
}

#[tokio::test]
async fn a_dlq_policy_is_a_pass_only_when_events_may_send_for_the_rule() {
    let w = World::new(vec![
        target("good", "good-dlq"),
        target("none", "none-dlq"),
        target("other", "other-dlq"),
        target("denied", "denied-dlq"),
    ]);
    w.dlq("good-dlq", &[("Policy", &sending_policy("good-dlq"))]);
    w.dlq("none-dlq", &[]);
    let other_rule = sending_policy("other-dlq").replace("rule/billing/subs", "rule/billing/else");
    w.dlq("other-dlq", &[("Policy", &other_rule)]);
    let denied = doc(json!([
        serde_json::from_str::<serde_json::Value>(&delivery::queue_statement(
            "arn:aws:sqs:us-east-2:123456789012:denied-dlq", RULE_ARN)).unwrap(),
        {"Sid": "NoServices", "Effect": "Deny", "Principal": "*", "Action": "sqs:*",
         "Resource": "*", "Condition": {"Null": {"aws:SourceArn": "false"}}}
    ]));
    w.dlq("denied-dlq", &[("Policy", &denied)]);
    let r = w.run().await;

    let good = verdict(&r, "dlq-policy", "subs / good");
    assert_eq!(good.status, Status::Pass, "{good:?}");
    assert!(
        good.message.contains("AllowEventBridgeDeadLetters"),
        "{}",
        good.message
    );

    let none = verdict(&r, "dlq-policy", "subs / none");
    assert_eq!(none.status, Status::Fail);
    assert!(
        none.message.contains("none-dlq has no queue policy"),
        "{}",
        none.message
    );
    // The hint holds the statement to add, as JSON naming the queue and the rule.
    let hint = none.hint.as_deref().unwrap();
    let json_at = hint.find(": {").unwrap() + 2;
    let st: serde_json::Value = serde_json::from_str(&hint[json_at..]).unwrap();
    assert_eq!(st["Principal"]["Service"], "events.amazonaws.com");
    assert_eq!(st["Action"], "sqs:SendMessage");
    assert_eq!(
        st["Resource"],
        "arn:aws:sqs:us-east-2:123456789012:none-dlq"
    );
    assert_eq!(st["Condition"]["ArnEquals"]["aws:SourceArn"], RULE_ARN);

    let other = verdict(&r, "dlq-policy", "subs / other");
    assert_eq!(other.status, Status::Fail);
    assert!(
        other
            .message
            .contains("does not let events.amazonaws.com sqs:SendMessage"),
        "{}",
        other.message
    );

    let denied = verdict(&r, "dlq-policy", "subs / denied");
    assert_eq!(denied.status, Status::Fail);
    assert!(
        denied.message.contains("statement NoServices"),
        "{}",
        denied.message
    );
    assert!(
        denied
            .hint
            .as_deref()
            .unwrap()
            .starts_with("remove or narrow statement NoServices")
    );
    let failed = r
        .checks
        .iter()
        .filter(|c| c.check == "dlq-policy" && c.status == Status::Fail);
    assert_eq!(failed.count(), 3, "{:#?}", r.checks);
}

#[tokio::test]
async fn unreadable_queue_attributes_are_a_warning_naming_the_permission() {
    let w = World::new(vec![target("t", "q-dlq")]);
    w.dlq("q-dlq", &[]);
    // A queue port that cannot read attributes answers as a refused call would.
    struct NoAttributes(MemoryQueue);
    #[async_trait::async_trait]
    impl crate::ports::queue::Queue for NoAttributes {
        async fn resolve(&self, q: &str) -> Result<crate::ports::queue::QueueRef, PortError> {
            self.0.resolve(q).await
        }
        async fn depth(&self, url: &str) -> Result<crate::ports::queue::QueueDepth, PortError> {
            self.0.depth(url).await
        }
        async fn receive(
            &self,
            url: &str,
            max: u8,
            wait: std::time::Duration,
            vis: Option<std::time::Duration>,
        ) -> Result<Vec<crate::ports::queue::ReceivedMessage>, PortError> {
            self.0.receive(url, max, wait, vis).await
        }
        async fn delete_batch(
            &self,
            url: &str,
            e: &[crate::ports::queue::BatchEntry],
        ) -> Result<Vec<crate::ports::queue::BatchFailure>, PortError> {
            self.0.delete_batch(url, e).await
        }
        async fn change_visibility_batch(
            &self,
            url: &str,
            e: &[crate::ports::queue::BatchEntry],
            t: std::time::Duration,
        ) -> Result<Vec<crate::ports::queue::BatchFailure>, PortError> {
            self.0.change_visibility_batch(url, e, t).await
        }
        async fn send(
            &self,
            url: &str,
            body: &str,
            a: &std::collections::BTreeMap<String, String>,
        ) -> Result<String, PortError> {
            self.0.send(url, body, a).await
        }
        async fn create_queue(
            &self,
            name: &str,
        ) -> Result<crate::ports::queue::QueueRef, PortError> {
            self.0.create_queue(name).await
        }
        async fn read_attributes(
            &self,
            _url: &str,
            _names: &[&str],
        ) -> Result<std::collections::BTreeMap<String, String>, PortError> {
            Err(PortError::Denied(
                "GetQueueAttributes: AccessDenied: not authorized".into(),
            ))
        }
    }
    let queue = NoAttributes(w.sqs.clone());
    let ports = DoctorPorts {
        cat: &w.eb,
        queue: &queue,
        keys: None,
        roles: None,
    };
    let r = doctor(&ports, "billing", Utc::now()).await.unwrap();
    let p = verdict(&r, "dlq-policy", "subs / t");
    assert_eq!(p.status, Status::Warn);
    assert!(
        p.hint
            .as_deref()
            .unwrap()
            .contains("grant sqs:GetQueueAttributes"),
        "{p:?}"
    );
    // Nothing more is said about the queue's encryption.
    assert!(
        !r.checks.iter().any(|c| c.check == "dlq-encryption"),
        "{:#?}",
        r.checks
    );
}

#[tokio::test]
async fn dlq_encryption_verdicts() {
    let names = [
        "plain",
        "sse",
        "awssqs",
        "awssqsarn",
        "awskey",
        "good",
        "nogen",
        "locked",
        "gone",
        "denykey",
    ];
    let w = World::new(
        names
            .iter()
            .map(|n| target(n, &format!("{n}-dlq")))
            .collect(),
    );
    let good = w.kms.add_key(
        "k-good",
        Some("alias/dlq"),
        KeyManager::Customer,
        Ok(key_policy(&["kms:Decrypt", "kms:GenerateDataKey*"])),
    );
    w.kms.add_key(
        "k-nogen",
        None,
        KeyManager::Customer,
        Ok(key_policy(&["kms:Decrypt"])),
    );
    w.kms.add_key(
        "k-locked",
        None,
        KeyManager::Customer,
        Err(PortError::Denied(
            "GetKeyPolicy: AccessDeniedException: no".into(),
        )),
    );
    w.kms.add_key(
        "k-aws",
        Some("alias/aws/other"),
        KeyManager::Aws,
        Ok(key_policy(&["kms:*"])),
    );
    let deny = doc(json!([
        {"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"},
        {"Sid": "NoEvents", "Effect": "Deny", "Principal": {"Service": "events.amazonaws.com"}, "Action": "kms:GenerateDataKey", "Resource": "*"}
    ]));
    w.kms
        .add_key("k-deny", None, KeyManager::Customer, Ok(deny));
    let key = |n: &str, k: &str| {
        (
            n.to_string(),
            vec![("KmsMasterKeyId".to_string(), k.to_string())],
        )
    };
    let setups = [
        ("plain".to_string(), vec![]),
        (
            "sse".to_string(),
            vec![("SqsManagedSseEnabled".to_string(), "true".to_string())],
        ),
        key("awssqs", "alias/aws/sqs"),
        key(
            "awssqsarn",
            "arn:aws:kms:us-east-2:123456789012:alias/aws/sqs",
        ),
        key("awskey", "alias/aws/other"),
        key("good", "alias/dlq"),
        key("nogen", "k-nogen"),
        key("locked", "arn:aws:kms:us-east-2:123456789012:key/k-locked"),
        key("gone", "k-missing"),
        key("denykey", "k-deny"),
    ];
    for (n, attrs) in &setups {
        let name = format!("{n}-dlq");
        let mut all = vec![("Policy".to_string(), sending_policy(&name))];
        all.extend(attrs.iter().cloned());
        let refs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        w.dlq(&name, &refs);
    }
    let r = w.run().await;
    let enc = |n: &str| verdict(&r, "dlq-encryption", &format!("{n}-dlq")).clone();

    assert_eq!(enc("plain").status, Status::Pass);
    assert!(
        enc("sse").message.starts_with("SSE-SQS"),
        "{:?}",
        enc("sse")
    );
    assert_eq!(enc("sse").status, Status::Pass);
    for n in ["awssqs", "awssqsarn"] {
        let v = enc(n);
        assert_eq!(v.status, Status::Fail, "{v:?}");
        assert!(
            v.message.contains("AWS-managed key") && v.message.contains("alias/aws/sqs"),
            "{v:?}"
        );
        assert!(
            v.hint
                .as_deref()
                .unwrap()
                .contains("SqsManagedSseEnabled=true"),
            "{v:?}"
        );
    }
    let aws = enc("awskey");
    assert_eq!(aws.status, Status::Fail, "{aws:?}");
    assert!(
        aws.message.contains("AWS-managed key alias/aws/other"),
        "{aws:?}"
    );

    let ok = enc("good");
    assert_eq!(ok.status, Status::Pass, "{ok:?}");
    assert!(ok.message.contains(&good), "{ok:?}");

    let nogen = enc("nogen");
    assert_eq!(nogen.status, Status::Fail, "{nogen:?}");
    assert!(
        nogen.message.contains("kms:GenerateDataKey") && !nogen.message.contains("kms:Decrypt,"),
        "{nogen:?}"
    );
    assert!(
        nogen
            .hint
            .as_deref()
            .unwrap()
            .contains("put-key-policy --key-id arn:aws:kms:us-east-2:123456789012:key/k-nogen"),
        "{nogen:?}"
    );

    let locked = enc("locked");
    assert_eq!(locked.status, Status::Warn, "{locked:?}");
    assert!(
        locked
            .hint
            .as_deref()
            .unwrap()
            .contains("grant kms:DescribeKey and kms:GetKeyPolicy"),
        "{locked:?}"
    );
    let gone = enc("gone");
    assert_eq!(gone.status, Status::Warn, "{gone:?}");
    assert!(gone.message.contains("k-missing"), "{gone:?}");

    let denykey = enc("denykey");
    assert_eq!(denykey.status, Status::Fail, "{denykey:?}");
    assert!(
        denykey.message.contains("statement NoEvents denies it"),
        "{denykey:?}"
    );

    // Without a KMS port (a playbook's doctor step), a customer key is not read: a warning.
    let basic = without_keys_or_roles(&w.eb, &w.sqs, "billing").await;
    let v = verdict(&basic, "dlq-encryption", "good-dlq");
    assert_eq!(v.status, Status::Warn, "{v:?}");
    assert_eq!(
        verdict(&basic, "dlq-encryption", "awssqs-dlq").status,
        Status::Fail
    );
}

#[tokio::test]
async fn a_dlq_shared_by_targets_is_checked_for_encryption_once() {
    let w = World::new(vec![target("a", "shared-dlq"), target("b", "shared-dlq")]);
    w.dlq("shared-dlq", &[("Policy", &sending_policy("shared-dlq"))]);
    let r = w.run().await;
    assert_eq!(
        r.checks
            .iter()
            .filter(|c| c.check == "dlq-encryption")
            .count(),
        1
    );
    assert_eq!(
        r.checks
            .iter()
            .filter(|c| c.check == "dlq-policy" && c.status == Status::Pass)
            .count(),
        2
    );
}

#[tokio::test]
async fn target_role_verdicts() {
    let role = |n: &str| format!("arn:aws:iam::123456789012:role/service/{n}");
    let w = World::new(vec![
        with_role("ok", &role("ok")),
        with_role("lambda", &role("lambda")),
        with_role("missing", &role("missing")),
        with_role("hidden", &role("hidden")),
        with_role("foreign", "arn:aws:iam::999999999999:role/x"),
    ]);
    w.iam.add_role("ok", Ok(trust("events.amazonaws.com")));
    w.iam.add_role("lambda", Ok(trust("lambda.amazonaws.com")));
    w.iam.add_role(
        "hidden",
        Err(PortError::Denied("GetRole: AccessDenied: no".into())),
    );
    let r = w.run().await;

    assert_eq!(verdict(&r, "target-role", "subs / ok").status, Status::Pass);
    let lambda = verdict(&r, "target-role", "subs / lambda");
    assert_eq!(lambda.status, Status::Fail, "{lambda:?}");
    assert!(
        lambda
            .message
            .contains("does not let events.amazonaws.com sts:AssumeRole"),
        "{lambda:?}"
    );
    let hint = lambda.hint.as_deref().unwrap();
    assert!(
        hint.contains("update-assume-role-policy --role-name lambda"),
        "{hint}"
    );
    assert!(hint.contains(r#""Action":"sts:AssumeRole""#), "{hint}");
    let missing = verdict(&r, "target-role", "subs / missing");
    assert_eq!(missing.status, Status::Fail, "{missing:?}");
    assert!(missing.message.contains("does not exist"), "{missing:?}");
    let hidden = verdict(&r, "target-role", "subs / hidden");
    assert_eq!(hidden.status, Status::Warn, "{hidden:?}");
    assert!(
        hidden
            .hint
            .as_deref()
            .unwrap()
            .contains("grant iam:GetRole"),
        "{hidden:?}"
    );
    let foreign = verdict(&r, "target-role", "subs / foreign");
    assert_eq!(foreign.status, Status::Warn, "{foreign:?}");
    assert!(
        foreign.message.contains("account 999999999999"),
        "{foreign:?}"
    );

    // Without an IAM port, a role is a warning, not a pass.
    let basic = without_keys_or_roles(&w.eb, &w.sqs, "billing").await;
    assert_eq!(
        verdict(&basic, "target-role", "subs / ok").status,
        Status::Warn
    );
}

#[tokio::test]
async fn rules_of_an_active_partner_bus_get_the_delivery_checks() {
    const PARTNER: &str = "aws.partner/stripe.com/ed_XYZ";
    let w = World::new(vec![]);
    w.eb.add_bus(PARTNER);
    w.eb.add_rule(
        PARTNER,
        rule(
            "pay",
            &format!("arn:aws:events:us-east-2:123456789012:rule/{PARTNER}/pay"),
            vec![target("t", "pay-dlq"), target("gone", "gone-dlq")],
        ),
    );
    w.dlq("pay-dlq", &[("KmsMasterKeyId", "alias/aws/sqs")]);
    w.eb.set_event_sources(Ok(vec![
        EventSourceInfo {
            name: PARTNER.into(),
            arn: None,
            state: "ACTIVE".into(),
            created_by: None,
        },
        EventSourceInfo {
            name: "aws.partner/stripe.com/ed_PENDING".into(),
            arn: None,
            state: "PENDING".into(),
            created_by: None,
        },
    ]));
    let r = w.run().await;
    let subject = format!("{PARTNER}: pay / t");
    let policy = verdict(&r, "dlq-policy", &subject);
    assert_eq!(policy.status, Status::Fail, "{policy:?}");
    assert!(
        policy
            .hint
            .as_deref()
            .unwrap()
            .contains(&format!("rule/{PARTNER}/pay")),
        "{policy:?}"
    );
    assert_eq!(
        verdict(&r, "dlq-encryption", "pay-dlq").status,
        Status::Fail
    );
    let gone = verdict(&r, "dlq-policy", &format!("{PARTNER}: pay / gone"));
    assert_eq!(gone.status, Status::Fail, "{gone:?}");
    assert!(gone.message.contains("cannot read the DLQ"), "{gone:?}");
    // A pending source has no bus yet: nothing more than its state.
    assert!(
        !r.checks.iter().any(|c| c.subject.contains("ed_PENDING:")),
        "{:#?}",
        r.checks
    );

    // Run on the partner bus itself, its rules are checked once, without a prefix.
    let ports = DoctorPorts {
        cat: &w.eb,
        queue: &w.sqs,
        keys: Some(&w.kms),
        roles: Some(&w.iam),
    };
    let own = doctor(&ports, PARTNER, Utc::now()).await.unwrap();
    assert_eq!(
        own.checks
            .iter()
            .filter(|c| c.check == "dlq-policy")
            .count(),
        1,
        "{:#?}",
        own.checks
    );
    assert_eq!(verdict(&own, "dlq-policy", "pay / t").status, Status::Fail);
}
