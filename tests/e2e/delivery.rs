//! Issue 14: the delivery adapters (redrive to the target that failed) against moto, one
//! smoke test per target type, through the library directly until `drain --to target`
//! drives them: the requests must be ones the services accept and the answers must map.

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

use crate::support::{
    Moto, block_on, client, create_function, create_state_machine, queue_with_arn,
    subscribed_topic, take_all,
};

#[test]
fn lambda_invoke_reaches_the_function_on_moto() {
    let moto = Moto::start();
    let function_arn = create_function(&moto, "subscription-handler");
    let raw = client!(aws_sdk_lambda, &moto.endpoint);
    block_on(async {
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

/// Every body received from `url`, consumed.
async fn receive_all(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<String> {
    take_all(sqs, url)
        .await
        .into_iter()
        .map(|m| m.body().unwrap_or_default().to_string())
        .collect()
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
        let (queue, queue_arn) = queue_with_arn(&sqs, "alerts-capture").await;
        let topic = subscribed_topic(&raw, "billing-alerts", &queue_arn).await;
        let sns = Sns::new(raw.clone());
        let message = TopicMessage {
            message: r#"{"id":"evt_1"}"#.into(),
            subject: None,
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
    let machine = create_state_machine(&moto, "billing");
    let raw = client!(aws_sdk_sfn, &moto.endpoint);
    block_on(async {
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
