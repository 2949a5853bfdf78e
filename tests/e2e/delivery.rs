//! Issue 14: the delivery adapters (redrive to the target that failed) against moto, one
//! smoke test per target type, through the library directly until `drain --to target`
//! drives them: the requests must be ones the services accept and the answers must map.

use std::io::{Read, Write};
use std::net::TcpStream;

use nexus_replay::aws::lambda::Lambda;
use nexus_replay::aws::logs::Logs;
use nexus_replay::aws::sfn::StepFunctions;
use nexus_replay::aws::sns::Sns;
use nexus_replay::aws::sqs_send::SqsSender;
use nexus_replay::delivery::kind::TargetKind;
use nexus_replay::delivery::names::{execution_name, log_stream_name};
use nexus_replay::ports::PortError;
use nexus_replay::ports::delivery::{
    ExecutionStarter, FunctionInvoker, InvocationType, InvokeOutcome, LogEvent, LogOutcome,
    LogWriter, MessageBatchSender, OutgoingMessage, SendOutcome, TopicMessage, TopicPublisher,
};

use crate::support::{Moto, REGION, block_on};

/// An SDK client of `$krate` on the emulator.
macro_rules! client {
    ($krate:ident, $endpoint:expr) => {
        $krate::Client::from_conf(
            $krate::Config::builder()
                .behavior_version($krate::config::BehaviorVersion::latest())
                .credentials_provider($krate::config::Credentials::new(
                    "testing", "testing", None, None, "test",
                ))
                .region($krate::config::Region::new(REGION))
                .endpoint_url($endpoint)
                .build(),
        )
    };
}

/// The role moto wants a function or state machine to have.
const ROLE: &str = "arn:aws:iam::123456789012:role/nexus-delivery-test";

/// An empty ZIP archive (only its end-of-directory record): moto without Docker never runs
/// the code, it echoes the payload.
const EMPTY_ZIP: [u8; 22] = [
    0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

/// POSTs `body` to moto at `path`; panics unless it answers 2xx.
fn post(moto: &Moto, path: &str, headers: &[(&str, &str)], body: &str) -> String {
    let addr = moto.endpoint.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).expect("connect to moto");
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 2"), "{path}: {answer}");
    answer
}

/// moto answers Lambda Invoke without Docker after this, and knows the role.
fn prepare_lambda(moto: &Moto) {
    post(
        moto,
        "/moto-api/config",
        &[("Content-Type", "application/json")],
        r#"{"lambda": {"use_docker": false}}"#,
    );
    // IAM through its query API: moto routes by the credential scope and checks no
    // signature (an IAM client would cost the tests another large crate).
    post(
        moto,
        "/",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0",
            ),
        ],
        "Action=CreateRole&Version=2010-05-08&RoleName=nexus-delivery-test&AssumeRolePolicyDocument=%7B%7D",
    );
}

#[test]
fn lambda_invoke_reaches_the_function_on_moto() {
    let moto = Moto::start();
    prepare_lambda(&moto);
    let raw = client!(aws_sdk_lambda, &moto.endpoint);
    block_on(async {
        let function_arn = raw
            .create_function()
            .function_name("subscription-handler")
            .runtime(aws_sdk_lambda::types::Runtime::Python312)
            .role(ROLE)
            .handler("handler.handle")
            .code(
                aws_sdk_lambda::types::FunctionCode::builder()
                    .zip_file(aws_sdk_lambda::primitives::Blob::new(EMPTY_ZIP.to_vec()))
                    .build(),
            )
            .send()
            .await
            .unwrap()
            .function_arn()
            .unwrap()
            .to_string();
        let TargetKind::Lambda { function_arn } = TargetKind::of(&function_arn) else {
            panic!("{function_arn} is not a function ARN")
        };
        let lambda = Lambda::new(raw);
        let payload = br#"{"id":"evt_1","detail":{"type":"customer.subscription.updated"}}"#;
        assert_eq!(
            lambda
                .invoke(&function_arn, payload, InvocationType::RequestResponse)
                .await
                .unwrap(),
            InvokeOutcome::Accepted { status: 200 }
        );
        assert_eq!(
            lambda
                .invoke(&function_arn, payload, InvocationType::Event)
                .await
                .unwrap(),
            InvokeOutcome::Accepted { status: 202 }
        );
    });
}

/// Every body received from `url` (waits briefly for each batch).
async fn receive_all(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        let got = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        let messages = got.messages();
        if messages.is_empty() {
            return out;
        }
        for m in messages {
            out.push(m.body().unwrap_or_default().to_string());
            sqs.delete_message()
                .queue_url(url)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
}

fn outgoing(id: usize, group: Option<&str>, dedup: Option<&str>) -> OutgoingMessage {
    OutgoingMessage {
        id: id.to_string(),
        body: format!(r#"{{"id":"evt_{id}"}}"#),
        group_id: group.map(str::to_string),
        deduplication_id: dedup.map(str::to_string),
    }
}

#[test]
fn send_message_batch_delivers_to_standard_and_fifo_queues_on_moto() {
    let moto = Moto::start();
    let raw = client!(aws_sdk_sqs, &moto.endpoint);
    block_on(async {
        let standard = raw
            .create_queue()
            .queue_name("orders")
            .send()
            .await
            .unwrap()
            .queue_url()
            .unwrap()
            .to_string();
        let fifo = raw
            .create_queue()
            .queue_name("orders.fifo")
            .attributes(aws_sdk_sqs::types::QueueAttributeName::FifoQueue, "true")
            .send()
            .await
            .unwrap()
            .queue_url()
            .unwrap()
            .to_string();
        let sender = SqsSender::new(raw.clone());
        let out = sender
            .send_message_batch(
                &standard,
                &[outgoing(0, None, None), outgoing(1, None, None)],
            )
            .await
            .unwrap();
        assert!(
            out.iter()
                .all(|o| matches!(o, SendOutcome::Accepted { .. })),
            "{out:?}"
        );
        let mut bodies = receive_all(&raw, &standard).await;
        bodies.sort();
        assert_eq!(bodies, [r#"{"id":"evt_0"}"#, r#"{"id":"evt_1"}"#]);

        // A FIFO queue: the group from the target's SqsParameters, the dedup key as the
        // deduplication id, so a batch sent again (a lost answer) lands once.
        let batch = [
            outgoing(2, Some("billing"), Some("evt_2")),
            outgoing(3, Some("billing"), Some("evt_3")),
        ];
        sender.send_message_batch(&fifo, &batch).await.unwrap();
        sender.send_message_batch(&fifo, &batch).await.unwrap();
        assert_eq!(
            receive_all(&raw, &fifo).await,
            [r#"{"id":"evt_2"}"#, r#"{"id":"evt_3"}"#]
        );
    });
}

#[test]
fn sns_publish_reaches_a_subscribed_queue_on_moto() {
    let moto = Moto::start();
    let sqs = client!(aws_sdk_sqs, &moto.endpoint);
    let raw = client!(aws_sdk_sns, &moto.endpoint);
    block_on(async {
        let topic = raw
            .create_topic()
            .name("billing-alerts")
            .send()
            .await
            .unwrap()
            .topic_arn()
            .unwrap()
            .to_string();
        let queue = sqs
            .create_queue()
            .queue_name("alerts-capture")
            .send()
            .await
            .unwrap()
            .queue_url()
            .unwrap()
            .to_string();
        let queue_arn = sqs
            .get_queue_attributes()
            .queue_url(&queue)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap()
            .attributes()
            .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
            .clone();
        raw.subscribe()
            .topic_arn(&topic)
            .protocol("sqs")
            .endpoint(queue_arn)
            .attributes("RawMessageDelivery", "true")
            .send()
            .await
            .unwrap();
        let sns = Sns::new(raw.clone());
        let message = TopicMessage {
            message: r#"{"id":"evt_1"}"#.into(),
            group_id: None,
            deduplication_id: None,
        };
        let id = sns.publish(&topic, &message).await.unwrap();
        assert!(!id.is_empty());
        assert_eq!(receive_all(&sqs, &queue).await, [r#"{"id":"evt_1"}"#]);
        let gone = sns
            .publish(&format!("{topic}-deleted"), &message)
            .await
            .unwrap_err();
        assert!(matches!(gone, PortError::NotFound(_)), "{gone:?}");
    });
}

#[test]
fn start_execution_is_idempotent_by_name_on_moto() {
    let moto = Moto::start();
    let raw = client!(aws_sdk_sfn, &moto.endpoint);
    block_on(async {
        let machine = raw
            .create_state_machine()
            .name("billing")
            .definition(r#"{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}"#)
            .role_arn(ROLE)
            .send()
            .await
            .unwrap()
            .state_machine_arn()
            .to_string();
        let sfn = StepFunctions::new(raw.clone());
        let name = execution_name("evt_1PqR2sT3uV4wX5yZ", 1);
        let input = r#"{"id":"evt_1PqR2sT3uV4wX5yZ"}"#;
        let first = sfn.start_execution(&machine, &name, input).await.unwrap();
        assert!(
            first.execution_arn.ends_with(&format!(":{name}")),
            "{first:?}"
        );
        // A retried start (its answer lost) meets the first execution.
        let again = sfn.start_execution(&machine, &name, input).await.unwrap();
        assert_eq!(again.execution_arn, first.execution_arn);
        // Another event under the same name is not taken for this one.
        let other = sfn
            .start_execution(&machine, &name, r#"{"id":"evt_other"}"#)
            .await
            .unwrap_err();
        assert!(matches!(other, PortError::AlreadyExists(_)), "{other:?}");
        let executions = raw
            .list_executions()
            .state_machine_arn(&machine)
            .send()
            .await
            .unwrap();
        assert_eq!(executions.executions().len(), 1);
    });
}

#[test]
fn put_log_events_creates_the_run_stream_once_on_moto() {
    let moto = Moto::start();
    let raw = client!(aws_sdk_cloudwatchlogs, &moto.endpoint);
    block_on(async {
        raw.create_log_group()
            .log_group_name("/aws/events/billing")
            .send()
            .await
            .unwrap();
        // The rule target names the group by ARN (moto writes it with `:*`).
        let arn = raw.describe_log_groups().send().await.unwrap().log_groups()[0]
            .arn()
            .unwrap()
            .to_string();
        let TargetKind::LogGroup { log_group } = TargetKind::of(&arn) else {
            panic!("{arn} is not a log group ARN")
        };
        let logs = Logs::new(raw.clone());
        let stream = log_stream_name("run-1f2e");
        let now = chrono::Utc::now().timestamp_millis();
        let day = 24 * 3600 * 1000;
        let event = |ago: i64, message: &str| LogEvent {
            timestamp_ms: now - ago,
            message: message.into(),
        };
        let out = logs
            .put_log_events(
                &log_group,
                &stream,
                &[event(0, "today"), event(20 * day, "three weeks ago")],
            )
            .await
            .unwrap();
        assert_eq!(out, [LogOutcome::Written, LogOutcome::TooOld]);
        // Events two days apart go in two calls (one call may not span a day).
        let out = logs
            .put_log_events(
                &log_group,
                &stream,
                &[event(0, "later"), event(2 * day, "earlier")],
            )
            .await
            .unwrap();
        assert_eq!(out, [LogOutcome::Written, LogOutcome::Written]);
        let streams = raw
            .describe_log_streams()
            .log_group_name(&log_group)
            .send()
            .await
            .unwrap();
        let names: Vec<&str> = streams
            .log_streams()
            .iter()
            .filter_map(|s| s.log_stream_name())
            .collect();
        assert_eq!(names, ["nexus-replay/run-1f2e"]);
        let events = raw
            .get_log_events()
            .log_group_name(&log_group)
            .log_stream_name(&stream)
            .start_from_head(true)
            .send()
            .await
            .unwrap();
        let mut messages: Vec<&str> = events.events().iter().filter_map(|e| e.message()).collect();
        messages.sort();
        assert_eq!(messages, ["earlier", "later", "today"]);
        let missing = logs
            .put_log_events("/aws/events/deleted", &stream, &[event(0, "x")])
            .await
            .unwrap_err();
        assert!(matches!(missing, PortError::NotFound(_)), "{missing:?}");
    });
}
