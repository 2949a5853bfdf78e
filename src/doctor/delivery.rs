//! Whether EventBridge can actually use what a rule's targets name: send failed events to
//! the DLQ (its queue policy, and the KMS key that encrypts it) and assume the target's
//! role. Each gap loses events silently, so each is a FAIL; what cannot be read is a WARN.

use std::collections::BTreeMap;

use serde_json::json;

use super::DoctorPorts;
use super::policy::{Decision, Request, decide};
use super::report::{Checks, Status};
use crate::discovery::arn_name;
use crate::ports::PortError;
use crate::ports::bus::RuleInfo;
use crate::ports::keys::KeyManager;

/// The service principal that delivers events and writes DLQs.
pub(crate) const EVENTS: &str = "events.amazonaws.com";

/// The attributes of a DLQ the checks read.
const ATTRIBUTES: [&str; 3] = ["Policy", "KmsMasterKeyId", "SqsManagedSseEnabled"];

/// A DLQ as read once, with the rules whose targets feed it.
struct Dlq {
    arn: String,
    name: String,
    url: String,
    attributes: Result<BTreeMap<String, String>, PortError>,
    /// (rule ARN, subject) of each target sending to it.
    feeds: Vec<(String, String)>,
}

/// What a rule's delivery is evaluated with: the rule, its account, over TLS.
fn context<'a>(rule_arn: &'a str, account: &'a str) -> [(&'static str, &'a str); 3] {
    [
        ("aws:SourceArn", rule_arn),
        ("aws:SourceAccount", account),
        ("aws:SecureTransport", "true"),
    ]
}

/// The account of an ARN (IAM's have no Region), when it names one.
fn account_of(arn: &str) -> Option<String> {
    let account = arn.strip_prefix("arn:")?.split(':').nth(3)?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then(|| account.into())
}

/// `alias/aws/sqs`, by name or by ARN: the AWS-managed key EventBridge cannot use.
pub(crate) fn is_aws_sqs_alias(key: &str) -> bool {
    key == "alias/aws/sqs" || (key.starts_with("arn:") && key.ends_with(":alias/aws/sqs"))
}

/// The statement a DLQ's queue policy needs for one rule (JSON).
pub fn queue_statement(dlq_arn: &str, rule_arn: &str) -> String {
    json!({
        "Sid": "AllowEventBridgeDeadLetters",
        "Effect": "Allow",
        "Principal": {"Service": EVENTS},
        "Action": "sqs:SendMessage",
        "Resource": dlq_arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}}
    })
    .to_string()
}

/// The statement a key policy needs so EventBridge can write to the queues it encrypts.
pub(crate) fn key_statement() -> String {
    json!({
        "Sid": "AllowEventBridgeToEncryptDeadLetters",
        "Effect": "Allow",
        "Principal": {"Service": EVENTS},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": "*"
    })
    .to_string()
}

/// The statement a target role's trust policy needs.
pub(crate) fn trust_statement(account: &str) -> String {
    json!({
        "Effect": "Allow",
        "Principal": {"Service": EVENTS},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": account}}
    })
    .to_string()
}

/// The queue-policy, encryption and target-role checks for `rules`, on the bus whose ARN
/// is `bus_arn`. `scope` names a partner bus, whose rules' subjects it prefixes.
pub(super) async fn delivery(
    c: &mut Checks,
    ports: &DoctorPorts<'_>,
    bus_arn: &str,
    rules: &[&RuleInfo],
    scope: Option<&str>,
) {
    let mut dlqs: Vec<Dlq> = Vec::new();
    for r in rules {
        let account = account_of(&r.arn)
            .or_else(|| account_of(bus_arn))
            .unwrap_or_default();
        for t in &r.targets {
            let subject = match scope {
                Some(bus) => format!("{bus}: {} / {}", r.name, t.id),
                None => format!("{} / {}", r.name, t.id),
            };
            if let Some(d) = &t.dlq_arn {
                let at = match dlqs.iter().position(|x| &x.arn == d) {
                    Some(i) => Some(i),
                    None => match read_dlq(ports, d).await {
                        Ok(dlq) => {
                            dlqs.push(dlq);
                            Some(dlqs.len() - 1)
                        }
                        // On the bus itself, dlq-depth already FAILs a DLQ it cannot read.
                        Err(_) if scope.is_none() => None,
                        Err(e) => {
                            c.add(
                                "dlq-policy",
                                Status::Fail,
                                &subject,
                                format!("cannot read the DLQ {d}: {e}"),
                                Some("create the queue or fix the target's DeadLetterConfig; failed events are lost until then".into()),
                            );
                            None
                        }
                    },
                };
                if let Some(i) = at {
                    let dlq = &mut dlqs[i];
                    dlq.feeds.push((r.arn.clone(), subject.clone()));
                    queue_policy(c, dlq, &r.arn, &account, &subject);
                }
            }
            if let Some(role) = &t.role_arn {
                target_role(c, ports, role, &r.arn, &account, &subject).await;
            }
        }
    }
    for dlq in &dlqs {
        encryption(c, ports, dlq).await;
    }
}

async fn read_dlq(ports: &DoctorPorts<'_>, arn: &str) -> Result<Dlq, PortError> {
    let q = ports.queue.resolve(arn).await?;
    let attributes = ports.queue.read_attributes(&q.url, &ATTRIBUTES).await;
    Ok(Dlq {
        arn: arn.to_string(),
        name: arn_name(arn).to_string(),
        url: q.url,
        attributes,
        feeds: Vec::new(),
    })
}

/// Why an attribute read failed, and what to grant when it was refused.
fn unreadable(e: &PortError, permission: &str) -> Option<String> {
    Some(match e {
        PortError::Denied(_) => {
            format!("grant {permission} (docs/iam/doctor.json) so doctor can check it")
        }
        _ => format!("check it by hand: {permission} failed"),
    })
}

/// The DLQ's queue policy lets EventBridge send for this rule.
fn queue_policy(c: &mut Checks, dlq: &Dlq, rule_arn: &str, account: &str, subject: &str) {
    let attrs = match &dlq.attributes {
        Ok(a) => a,
        Err(e) => {
            c.add(
                "dlq-policy",
                Status::Warn,
                subject,
                format!("cannot read the queue policy of {}: {e}", dlq.name),
                unreadable(e, "sqs:GetQueueAttributes"),
            );
            return;
        }
    };
    let statement = queue_statement(&dlq.arn, rule_arn);
    let add_it = format!(
        "add this statement to the queue policy of {} (keep its other statements; `aws sqs set-queue-attributes --queue-url {} --attributes Policy=...`): {statement}",
        dlq.name, dlq.url
    );
    let Some(policy) = attrs.get("Policy").filter(|p| !p.trim().is_empty()) else {
        c.add(
            "dlq-policy",
            Status::Fail,
            subject,
            format!(
                "{} has no queue policy: EventBridge cannot send failed events to it, they are lost",
                dlq.name
            ),
            Some(add_it),
        );
        return;
    };
    let ctx = context(rule_arn, account);
    let req = Request {
        service: EVENTS,
        action: "sqs:SendMessage",
        resource: Some(&dlq.arn),
        context: &ctx,
    };
    match decide(policy, &req) {
        Ok(Decision::Allowed(by)) => c.add(
            "dlq-policy",
            Status::Pass,
            subject,
            format!("{}: {EVENTS} may send ({by})", dlq.name),
            None,
        ),
        Ok(Decision::Denied(by)) => c.add(
            "dlq-policy",
            Status::Fail,
            subject,
            format!(
                "{}: {by} of the queue policy denies {EVENTS} sqs:SendMessage for this rule: failed events are lost",
                dlq.name
            ),
            Some(format!("remove or narrow {by}, then {add_it}")),
        ),
        Ok(Decision::NotAllowed) => c.add(
            "dlq-policy",
            Status::Fail,
            subject,
            format!(
                "{}: the queue policy does not let {EVENTS} sqs:SendMessage for this rule: failed events are lost",
                dlq.name
            ),
            Some(add_it),
        ),
        Err(e) => c.add(
            "dlq-policy",
            Status::Fail,
            subject,
            format!("{}: {e}", dlq.name),
            Some(add_it),
        ),
    }
}

/// The DLQ's encryption lets EventBridge write: SSE-SQS or none, or a customer-managed key
/// whose policy lets it `kms:Decrypt` and `kms:GenerateDataKey`.
async fn encryption(c: &mut Checks, ports: &DoctorPorts<'_>, dlq: &Dlq) {
    let Ok(attrs) = &dlq.attributes else {
        return; // said by dlq-policy
    };
    let subject = &dlq.name;
    let sse_hint = format!(
        "use SQS-managed encryption (`aws sqs set-queue-attributes --queue-url {} --attributes SqsManagedSseEnabled=true`) or a customer-managed key whose policy has: {}",
        dlq.url,
        key_statement()
    );
    let key = match attrs.get("KmsMasterKeyId").filter(|k| !k.is_empty()) {
        None => {
            let how = if attrs.get("SqsManagedSseEnabled").map(String::as_str) == Some("true") {
                "SSE-SQS (SQS-managed key)"
            } else {
                "not encrypted with KMS"
            };
            c.add(
                "dlq-encryption",
                Status::Pass,
                subject,
                format!("{how}: EventBridge can write to it"),
                None,
            );
            return;
        }
        Some(k) => k,
    };
    if is_aws_sqs_alias(key) {
        c.add(
            "dlq-encryption",
            Status::Fail,
            subject,
            format!("encrypted with the AWS-managed key {key}, which EventBridge cannot use: failed events are lost"),
            Some(sse_hint),
        );
        return;
    }
    let Some(keys) = ports.keys else {
        c.add(
            "dlq-encryption",
            Status::Warn,
            subject,
            format!("encrypted with {key}: its key policy is not read here"),
            Some("run `nexus-replay doctor` to check the key policy".into()),
        );
        return;
    };
    let cannot = |e: &PortError, what: &str| {
        (
            format!(
                "encrypted with {key}, whose {what} cannot be read (another account's key, or no kms permission): {e}"
            ),
            Some(match e {
                PortError::Denied(_) => format!(
                    "grant kms:DescribeKey and kms:GetKeyPolicy on the key (docs/iam/doctor.json), or check by hand that its policy has: {}",
                    key_statement()
                ),
                _ => format!("check by hand that the key policy has: {}", key_statement()),
            }),
        )
    };
    let info = match keys.describe_key(key).await {
        Ok(i) => i,
        Err(e) => {
            let (m, h) = cannot(&e, "description");
            c.add("dlq-encryption", Status::Warn, subject, m, h);
            return;
        }
    };
    if info.manager == KeyManager::Aws {
        c.add(
            "dlq-encryption",
            Status::Fail,
            subject,
            format!("encrypted with the AWS-managed key {key} ({}), which EventBridge cannot use: failed events are lost", info.arn),
            Some(sse_hint),
        );
        return;
    }
    let policy = match keys.key_policy(&info.arn).await {
        Ok(p) => p,
        Err(e) => {
            let (m, h) = cannot(&e, "key policy");
            c.add("dlq-encryption", Status::Warn, subject, m, h);
            return;
        }
    };
    let put = format!(
        "add this statement to the key policy (`aws kms get-key-policy --key-id {arn} --policy-name default`, then `aws kms put-key-policy --key-id {arn} --policy-name default --policy file://policy.json`): {}",
        key_statement(),
        arn = info.arn
    );
    let mut missing: Vec<String> = Vec::new();
    for (rule_arn, _) in &dlq.feeds {
        let account = account_of(rule_arn).unwrap_or_default();
        let ctx = context(rule_arn, &account);
        for action in ["kms:Decrypt", "kms:GenerateDataKey"] {
            let req = Request {
                service: EVENTS,
                action,
                resource: Some(&info.arn),
                context: &ctx,
            };
            let why = match decide(&policy, &req) {
                Ok(Decision::Allowed(_)) => continue,
                Ok(Decision::Denied(by)) => format!("{action} ({by} denies it)"),
                Ok(Decision::NotAllowed) => action.to_string(),
                Err(e) => format!("{action} ({e})"),
            };
            if !missing.contains(&why) {
                missing.push(why);
            }
        }
    }
    if missing.is_empty() {
        c.add(
            "dlq-encryption",
            Status::Pass,
            subject,
            format!(
                "customer-managed key {}: {EVENTS} may kms:Decrypt and kms:GenerateDataKey",
                info.arn
            ),
            None,
        );
    } else {
        c.add(
            "dlq-encryption",
            Status::Fail,
            subject,
            format!(
                "customer-managed key {}: its key policy does not let {EVENTS} {}: failed events are lost",
                info.arn,
                missing.join(", ")
            ),
            Some(put),
        );
    }
}

/// The role EventBridge assumes to deliver exists and trusts `events.amazonaws.com`.
async fn target_role(
    c: &mut Checks,
    ports: &DoctorPorts<'_>,
    role: &str,
    rule_arn: &str,
    account: &str,
    subject: &str,
) {
    let name = role.rsplit('/').next().unwrap_or(role);
    let statement = trust_statement(account);
    let add_it = format!(
        "add this statement to the trust policy of {name} (`aws iam update-assume-role-policy --role-name {name} --policy-document file://trust.json`, keeping its other statements): {statement}"
    );
    match account_of(role) {
        Some(a) if a != account && !account.is_empty() => {
            c.add(
                "target-role",
                Status::Warn,
                subject,
                format!(
                    "role {role} is in account {a}: its trust policy cannot be read from {account}"
                ),
                Some(format!(
                    "check in account {a} that the role's trust policy has: {statement}"
                )),
            );
            return;
        }
        _ => {}
    }
    let Some(roles) = ports.roles else {
        c.add(
            "target-role",
            Status::Warn,
            subject,
            format!("role {role}: its trust policy is not read here"),
            Some("run `nexus-replay doctor` to check the role".into()),
        );
        return;
    };
    let trust = match roles.trust_policy(name).await {
        Ok(t) => t,
        Err(PortError::NotFound(e)) => {
            c.add(
                "target-role",
                Status::Fail,
                subject,
                format!(
                    "role {role} does not exist ({e}): EventBridge cannot deliver to this target"
                ),
                Some(format!(
                    "create the role with a trust policy holding: {statement}"
                )),
            );
            return;
        }
        Err(e) => {
            c.add(
                "target-role",
                Status::Warn,
                subject,
                format!("cannot read role {role}: {e}"),
                unreadable(&e, "iam:GetRole"),
            );
            return;
        }
    };
    let ctx = context(rule_arn, account);
    let req = Request {
        service: EVENTS,
        action: "sts:AssumeRole",
        resource: None,
        context: &ctx,
    };
    match decide(&trust, &req) {
        Ok(Decision::Allowed(by)) => c.add(
            "target-role",
            Status::Pass,
            subject,
            format!("role {name}: {EVENTS} may assume it ({by})"),
            None,
        ),
        Ok(Decision::Denied(by)) => c.add(
            "target-role",
            Status::Fail,
            subject,
            format!("role {name}: {by} of its trust policy denies {EVENTS} sts:AssumeRole: EventBridge cannot deliver to this target"),
            Some(format!("remove or narrow {by}, then {add_it}")),
        ),
        Ok(Decision::NotAllowed) => c.add(
            "target-role",
            Status::Fail,
            subject,
            format!("role {name}: its trust policy does not let {EVENTS} sts:AssumeRole: EventBridge cannot deliver to this target"),
            Some(add_it),
        ),
        Err(e) => c.add(
            "target-role",
            Status::Fail,
            subject,
            format!("role {name}: {e}"),
            Some(add_it),
        ),
    }
}
