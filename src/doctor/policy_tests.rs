use serde_json::{Value, json};

use super::*;

const RULE: &str = "arn:aws:events:us-east-2:123456789012:rule/billing/subs";
const QUEUE: &str = "arn:aws:sqs:us-east-2:123456789012:subs-dlq";
const CONTEXT: &[(&str, &str)] = &[
    ("aws:SourceArn", RULE),
    ("aws:SourceAccount", "123456789012"),
    ("aws:SecureTransport", "true"),
];

fn send() -> Request<'static> {
    Request {
        service: "events.amazonaws.com",
        action: "sqs:SendMessage",
        resource: Some(QUEUE),
        context: CONTEXT,
    }
}

fn doc(statements: Value) -> String {
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

fn allow(extra: Value) -> Value {
    let mut st = json!({
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": QUEUE,
    });
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            st.as_object_mut().unwrap().remove(k);
        } else {
            st[k] = v.clone();
        }
    }
    st
}

fn decided(statements: Value) -> Decision {
    decide(&doc(statements), &send()).unwrap()
}

fn allowed(statements: Value) -> bool {
    matches!(decided(statements), Decision::Allowed(_))
}

#[test]
fn principals_in_every_shape() {
    assert!(allowed(json!([allow(json!({}))])));
    assert!(allowed(json!([allow(json!({"Principal": "*"}))])));
    assert!(allowed(json!([allow(json!({"Principal": {"AWS": "*"}}))])));
    assert!(allowed(json!([allow(json!({
        "Principal": {"Service": ["sns.amazonaws.com", "events.amazonaws.com"]}
    }))])));
    assert!(!allowed(json!([allow(json!({
        "Principal": {"Service": ["sns.amazonaws.com"]}
    }))])));
    assert!(!allowed(json!([allow(json!({
        "Principal": {"AWS": "arn:aws:iam::123456789012:root"}
    }))])));
    assert!(allowed(json!([allow(json!({
        "Principal": null, "NotPrincipal": {"Service": "sns.amazonaws.com"}
    }))])));
    assert!(!allowed(json!([allow(json!({"Principal": null}))])));
}

#[test]
fn actions_as_a_string_a_list_or_a_wildcard() {
    for action in [
        json!("sqs:SendMessage"),
        json!(["sqs:ReceiveMessage", "sqs:SendMessage"]),
        json!("sqs:*"),
        json!("SQS:send*"),
        json!("*"),
        json!("sqs:SendMessag?"),
    ] {
        assert!(
            allowed(json!([allow(json!({"Action": action.clone()}))])),
            "{action}"
        );
    }
    for action in [
        json!("sqs:ReceiveMessage"),
        json!(["sqs:Get*"]),
        json!("sns:*"),
    ] {
        assert!(
            !allowed(json!([allow(json!({"Action": action.clone()}))])),
            "{action}"
        );
    }
    assert!(allowed(json!([allow(
        json!({"Action": null, "NotAction": "sqs:Delete*"})
    )])));
    assert!(!allowed(json!([allow(
        json!({"Action": null, "NotAction": "sqs:Send*"})
    )])));
}

#[test]
fn resources_match_the_queue_or_a_pattern() {
    for r in [
        json!(QUEUE),
        json!("*"),
        json!(["arn:aws:sqs:*:123456789012:*-dlq"]),
    ] {
        assert!(
            allowed(json!([allow(json!({"Resource": r.clone()}))])),
            "{r}"
        );
    }
    assert!(allowed(json!([allow(json!({"Resource": null}))])));
    assert!(!allowed(json!([allow(json!({
        "Resource": "arn:aws:sqs:us-east-2:123456789012:other"
    }))])));
    assert!(!allowed(json!([allow(
        json!({"Resource": null, "NotResource": QUEUE})
    )])));
}

#[test]
fn source_arn_and_account_conditions() {
    let ok = [
        json!({"ArnEquals": {"aws:SourceArn": RULE}}),
        json!({"ArnLike": {"aws:SourceArn": "arn:aws:events:*:123456789012:rule/billing/*"}}),
        json!({"StringEquals": {"aws:SourceArn": [RULE, "arn:aws:events:us-east-2:1:rule/x"]}}),
        json!({"StringLike": {"aws:sourcearn": "arn:aws:events:us-east-2:123456789012:rule/*"}}),
        json!({"StringEquals": {"aws:SourceAccount": "123456789012"}}),
        json!({"ArnEquals": {"aws:SourceArn": RULE}, "StringEquals": {"aws:SourceAccount": "123456789012"}}),
        json!({"ArnLikeIfExists": {"aws:SourceArn": RULE}}),
        json!({"ForAnyValue:StringEquals": {"aws:SourceAccount": ["1", "123456789012"]}}),
        json!({"Bool": {"aws:SecureTransport": "true"}}),
        json!({"Null": {"aws:PrincipalOrgID": "true"}}),
        json!({"StringNotEquals": {"aws:SourceAccount": "999999999999"}}),
    ];
    for c in ok {
        assert!(
            allowed(json!([allow(json!({"Condition": c.clone()}))])),
            "{c}"
        );
    }
    let refused = [
        json!({"ArnEquals": {"aws:SourceArn": "arn:aws:events:us-east-2:123456789012:rule/billing/other"}}),
        json!({"StringEquals": {"aws:SourceAccount": 999999999999u64}}),
        json!({"ArnEquals": {"aws:SourceArn": RULE}, "StringEquals": {"aws:SourceAccount": "1"}}),
        json!({"StringEquals": {"aws:PrincipalOrgID": "o-123"}}),
        json!({"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}}),
        json!({"ArnNotLike": {"aws:SourceArn": "arn:aws:events:*"}}),
        json!({"Bool": {"aws:SecureTransport": false}}),
    ];
    for c in refused {
        assert!(
            !allowed(json!([allow(json!({"Condition": c.clone()}))])),
            "{c}"
        );
    }
}

#[test]
fn a_deny_that_applies_wins_and_names_its_statement() {
    let deny = |extra: Value| {
        let mut st = allow(extra);
        st["Effect"] = json!("Deny");
        st["Sid"] = json!("NoSend");
        st
    };
    assert_eq!(
        decided(json!([allow(json!({})), deny(json!({}))])),
        Decision::Denied("statement NoSend".into())
    );
    // A Deny for other accounts does not apply to this rule.
    let other = deny(json!({"Principal": "*", "Condition": {
        "StringNotEquals": {"aws:SourceAccount": "123456789012"}
    }}));
    assert!(allowed(json!([allow(json!({})), other])));
    // Deny insecure transport: EventBridge sends over TLS.
    let tls = deny(json!({"Principal": "*", "Action": "sqs:*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}}));
    assert!(allowed(json!([allow(json!({})), tls])));
    // A Deny on a key absent from the context applies only when negated.
    let ip = deny(json!({"Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}));
    assert!(allowed(json!([allow(json!({})), ip])));
    let not_ip = deny(json!({"Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}));
    assert!(!allowed(json!([allow(json!({})), not_ip])));
    // A Deny whose condition cannot be decided is counted.
    let odd = deny(json!({"Condition": {"NumericLessThan": {"aws:SourceAccount": "5"}}}));
    assert!(matches!(
        decided(json!([allow(json!({})), odd])),
        Decision::Denied(_)
    ));
    // Deny of another action is not about sending.
    let recv = deny(json!({"Action": "sqs:ReceiveMessage"}));
    assert!(allowed(json!([allow(json!({})), recv])));
}

#[test]
fn names_and_shapes_of_documents() {
    assert_eq!(
        decided(
            json!([{"Effect": "Allow", "Principal": "*", "Action": "sqs:GetQueueUrl"}, allow(json!({}))])
        ),
        Decision::Allowed("statement #2".into())
    );
    // A single statement object rather than a list.
    let one = json!({"Statement": allow(json!({"Sid": "Events"}))}).to_string();
    assert_eq!(
        decide(&one, &send()).unwrap(),
        Decision::Allowed("statement Events".into())
    );
    assert_eq!(decided(json!([])), Decision::NotAllowed);
    assert!(decide("not json", &send()).is_err());
    assert!(decide(r#"{"Version": "2012-10-17"}"#, &send()).is_err());
    assert!(decide(&doc(json!([{"Effect": "Maybe"}])), &send()).is_err());
}

#[test]
fn url_encoded_trust_policies_are_read() {
    let trust = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sts:AssumeRole"
    }]})
    .to_string();
    let encoded: String = trust
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let req = Request {
        service: "events.amazonaws.com",
        action: "sts:AssumeRole",
        resource: None,
        context: CONTEXT,
    };
    assert!(matches!(
        decide(&encoded, &req).unwrap(),
        Decision::Allowed(_)
    ));
    let lambda = trust.replace("events.amazonaws.com", "lambda.amazonaws.com");
    assert_eq!(decide(&lambda, &req).unwrap(), Decision::NotAllowed);
}

#[test]
fn globs() {
    assert!(glob("a*c", "abbbc"));
    assert!(glob("a?c", "abc"));
    assert!(!glob("a?c", "ac"));
    assert!(glob("*", ""));
    assert!(!glob("abc", "abcd"));
    assert!(glob(
        "arn:aws:*:rule/*",
        "arn:aws:events:us-east-2:1:rule/b/r"
    ));
}
