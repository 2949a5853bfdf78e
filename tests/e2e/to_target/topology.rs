//! The world of a `--to target` test: an emulator (moto, or LocalStack for a partner bus),
//! a uniquely named bus, rules whose targets dead-letter to a DLQ the test made, the target
//! resources themselves, and a DLQ seeded in the format EventBridge writes (the body is the
//! event, the attributes name the rule and the target that failed).

use aws_sdk_eventbridge::types::builders::TargetBuilder;
use aws_sdk_eventbridge::types::{DeadLetterConfig, InputTransformer, SqsParameters, Target};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use serde_json::Value;

use crate::drain::depth;
use crate::support::{
    DeadLetter, LOCALSTACK_ACCOUNT, LocalStack, REGION, Run, Sandbox, TempDir, block_on, client,
    create_function, create_state_machine, put_dead_letters, subscribed_topic, take_all,
};

/// moto's account.
pub const MOTO_ACCOUNT: &str = "123456789012";

/// A queue the test made.
#[derive(Debug, Clone)]
pub struct Queue {
    pub name: String,
    pub url: String,
    pub arn: String,
}

/// A message received (and deleted) from a target queue.
#[derive(Debug)]
pub struct Delivered {
    pub body: Value,
    pub group: Option<String>,
    /// A FIFO queue's `MessageDeduplicationId`.
    pub dedup_id: Option<String>,
}

pub struct Topo {
    /// The emulator and a private home (`Sandbox::moto` is LocalStack's server in
    /// [`Topo::on_localstack`]); no billing topology is seeded.
    pub sb: Sandbox,
    pub account: &'static str,
    pub bus: String,
    _localstack_dir: Option<TempDir>,
}

/// `base-` and a random suffix: names no other test (or earlier run) uses.
pub fn unique(base: &str) -> String {
    format!("{base}-{}", nexus_replay::ids::random_hex(6))
}

/// A rule target that dead-letters to `dlq`.
pub fn target(id: &str, arn: &str, dlq: &Queue) -> TargetBuilder {
    Target::builder()
        .id(id)
        .arn(arn)
        .dead_letter_config(DeadLetterConfig::builder().arn(&dlq.arn).build())
}

/// An `InputTransformer` of `(variable, JSON path)` pairs and a template.
pub fn transformer(paths: &[(&str, &str)], template: &str) -> InputTransformer {
    let mut t = InputTransformer::builder().input_template(template);
    for (k, v) in paths {
        t = t.input_paths_map(*k, *v);
    }
    t.build().unwrap()
}

/// A FIFO queue target's message group.
pub fn group(id: &str) -> SqsParameters {
    SqsParameters::builder().message_group_id(id).build()
}

impl Topo {
    /// moto with a new custom bus named after `tag`.
    pub fn on_moto(tag: &str) -> Topo {
        let sb = Sandbox {
            moto: crate::support::Moto::start(),
            home: TempDir::new("home"),
            seed: Value::Null,
        };
        let topo = Topo {
            sb,
            account: MOTO_ACCOUNT,
            bus: unique(tag),
            _localstack_dir: None,
        };
        topo.create_bus(&topo.bus);
        topo
    }

    /// LocalStack with the bus `bus` (a partner bus name may hold `/`).
    pub fn on_localstack(bus: &str) -> Topo {
        let ls = LocalStack::start();
        let sb = Sandbox {
            moto: ls.server,
            home: TempDir::new("home"),
            seed: Value::Null,
        };
        let topo = Topo {
            sb,
            account: LOCALSTACK_ACCOUNT,
            bus: bus.to_string(),
            _localstack_dir: Some(ls.dir),
        };
        topo.create_bus(bus);
        topo
    }

    pub fn endpoint(&self) -> &str {
        &self.sb.moto.endpoint
    }

    fn eb(&self) -> aws_sdk_eventbridge::Client {
        client!(aws_sdk_eventbridge, self.endpoint())
    }

    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        client!(aws_sdk_sqs, self.endpoint())
    }

    /// Creates a bus (the test's own is made by the constructor).
    pub fn create_bus(&self, name: &str) {
        let eb = self.eb();
        block_on(async { eb.create_event_bus().name(name).send().await.unwrap() });
    }

    fn make_queue(&self, name: &str, fifo: bool) -> Queue {
        let sqs = self.sqs();
        let url = block_on(async {
            let mut q = sqs.create_queue().queue_name(name);
            if fifo {
                q = q.attributes(QueueAttributeName::FifoQueue, "true");
            }
            q.send().await.unwrap().queue_url().unwrap().to_string()
        });
        Queue {
            name: name.to_string(),
            url,
            arn: format!("arn:aws:sqs:{REGION}:{}:{name}", self.account),
        }
    }

    /// A standard queue.
    pub fn queue(&self, base: &str) -> Queue {
        self.make_queue(&unique(base), false)
    }

    /// A FIFO queue (no content-based deduplication: senders give the id).
    pub fn fifo_queue(&self, base: &str) -> Queue {
        self.make_queue(&format!("{}.fifo", unique(base)), true)
    }

    /// A rule on `bus`; answers its ARN.
    fn rule_on(&self, bus: &str, name: &str, pattern: &str) -> String {
        let eb = self.eb();
        block_on(async {
            eb.put_rule()
                .name(name)
                .event_bus_name(bus)
                .event_pattern(pattern)
                .send()
                .await
                .unwrap()
                .rule_arn()
                .unwrap()
                .to_string()
        })
    }

    /// Puts targets on a rule of `bus`.
    fn put_targets_on(&self, bus: &str, rule: &str, targets: Vec<TargetBuilder>) {
        let eb = self.eb();
        block_on(async {
            let out = eb
                .put_targets()
                .rule(rule)
                .event_bus_name(bus)
                .set_targets(Some(
                    targets.into_iter().map(|t| t.build().unwrap()).collect(),
                ))
                .send()
                .await
                .unwrap();
            assert_eq!(out.failed_entry_count(), 0, "{out:?}");
        });
    }

    /// A rule with one target on the test's bus: answers the rule's ARN.
    pub fn rule_with_target(&self, name: &str, pattern: &str, t: TargetBuilder) -> String {
        self.rule_with_target_on(&self.bus.clone(), name, pattern, t)
    }

    /// A rule with one target on `bus`: answers the rule's ARN.
    pub fn rule_with_target_on(
        &self,
        bus: &str,
        name: &str,
        pattern: &str,
        t: TargetBuilder,
    ) -> String {
        let arn = self.rule_on(bus, name, pattern);
        self.put_targets_on(bus, name, vec![t]);
        arn
    }

    /// A CloudWatch Logs group; answers its ARN as a rule target names it.
    pub fn log_group(&self, name: &str) -> String {
        let logs = self.logs();
        block_on(async {
            logs.create_log_group()
                .log_group_name(name)
                .send()
                .await
                .unwrap()
        });
        format!("arn:aws:logs:{REGION}:{}:log-group:{name}", self.account)
    }

    pub fn logs(&self) -> aws_sdk_cloudwatchlogs::Client {
        client!(aws_sdk_cloudwatchlogs, self.endpoint())
    }

    /// The messages of one stream of a log group, as JSON.
    pub fn log_messages(&self, group: &str, stream: &str) -> Vec<Value> {
        let logs = self.logs();
        block_on(async {
            logs.get_log_events()
                .log_group_name(group)
                .log_stream_name(stream)
                .start_from_head(true)
                .send()
                .await
                .unwrap()
                .events()
                .iter()
                .map(|e| serde_json::from_str(e.message().unwrap_or_default()).unwrap())
                .collect()
        })
    }

    /// A Lambda function (moto echoes the payload without running it); answers its ARN.
    pub fn function(&self, base: &str) -> String {
        create_function(&self.sb.moto, &unique(base))
    }

    /// An SNS topic whose one subscription is `queue`, raw (the queue receives the
    /// message itself); answers the topic's ARN.
    pub fn topic_to(&self, base: &str, queue: &Queue) -> String {
        let sns = client!(aws_sdk_sns, self.endpoint());
        block_on(subscribed_topic(&sns, &unique(base), &queue.arn))
    }

    /// A state machine of one Pass state; answers its ARN.
    pub fn state_machine(&self, base: &str) -> String {
        create_state_machine(&self.sb.moto, &unique(base))
    }

    pub fn sfn(&self) -> aws_sdk_sfn::Client {
        client!(aws_sdk_sfn, self.endpoint())
    }

    /// Every execution of a state machine: (name, input as JSON).
    pub fn executions(&self, machine: &str) -> Vec<(String, Value)> {
        let sfn = self.sfn();
        block_on(async {
            let list = sfn
                .list_executions()
                .state_machine_arn(machine)
                .send()
                .await
                .unwrap();
            let mut out = Vec::new();
            for e in list.executions() {
                let d = sfn
                    .describe_execution()
                    .execution_arn(e.execution_arn())
                    .send()
                    .await
                    .unwrap();
                let input = serde_json::from_str(d.input().unwrap_or("null")).unwrap();
                out.push((e.name().to_string(), input));
            }
            out.sort_by(|a, b| a.0.cmp(&b.0));
            out
        })
    }

    /// Puts dead letters on a DLQ with the attributes EventBridge sets.
    pub fn seed(&self, dlq: &Queue, letters: &[DeadLetter]) {
        block_on(put_dead_letters(&self.sqs(), &dlq.url, letters));
    }

    /// Messages on a queue, visible or in flight.
    pub fn depth(&self, q: &Queue) -> usize {
        depth(&self.sb, &q.url)
    }

    /// Every message on a target queue, consumed: its body as JSON and its group.
    pub fn take(&self, q: &Queue) -> Vec<Delivered> {
        let sqs = self.sqs();
        block_on(take_all(&sqs, &q.url))
            .into_iter()
            .map(|m| Delivered {
                body: serde_json::from_str(m.body().unwrap_or_default())
                    .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", m.body())),
                group: system(&m, MessageSystemAttributeName::MessageGroupId),
                dedup_id: system(&m, MessageSystemAttributeName::MessageDeduplicationId),
            })
            .collect()
    }

    /// `drain --queue DLQ --to target` (JSON output unless `extra` names one; one pipeline:
    /// see drain.rs on moto's deletes), through `endpoint` (a fault proxy) or straight to
    /// the emulator.
    pub fn drain(&self, dlq: &Queue, endpoint: Option<&str>, extra: &[&str]) -> Run {
        let mut args = vec!["--to", "target"];
        args.extend_from_slice(extra);
        self.drain_as(dlq, endpoint, &args)
    }

    /// `drain --queue DLQ` with `extra` (the default `--to bus` unless it says otherwise).
    pub fn drain_as(&self, dlq: &Queue, endpoint: Option<&str>, extra: &[&str]) -> Run {
        let mut args = vec![
            "drain",
            "--queue",
            &dlq.name,
            "--yes",
            "--receive-wait",
            "1s",
            "--concurrency",
            "1",
        ];
        if !extra.contains(&"--output") {
            args.extend(["--output", "json"]);
        }
        args.extend_from_slice(extra);
        self.sb
            .bare_cmd()
            .env(
                "NEXUS_REPLAY_ENDPOINT_URL",
                endpoint.unwrap_or(self.endpoint()),
            )
            .run(&args)
    }
}

fn system(m: &aws_sdk_sqs::types::Message, name: MessageSystemAttributeName) -> Option<String> {
    m.attributes().and_then(|a| a.get(&name)).cloned()
}

/// A Stripe event as the bus received it (small: moto's SQS is slow with big queues).
pub fn stripe_event(i: usize) -> Value {
    serde_json::json!({
        "version": "0",
        "id": format!("5d2b1a7e-0000-4000-8000-{i:012}"),
        "detail-type": "Stripe Webhook Event",
        "source": "stripe.webhook",
        "account": MOTO_ACCOUNT,
        "time": format!("2026-01-01T10:{:02}:00Z", i % 60),
        "region": REGION,
        "resources": [],
        "detail": {
            "id": format!("evt_1Qe2e{i:05}"),
            "object": "event",
            "type": "customer.subscription.updated",
            "data": {"object": {"id": format!("sub_{i:04}"), "status": "active"}}
        }
    })
}

/// A Stripe event as a partner bus receives it: the source is the partner bus's name.
pub fn partner_event(i: usize, bus: &str) -> Value {
    let mut e = stripe_event(i);
    e["source"] = Value::String(bus.to_string());
    e["detail-type"] = e["detail"]["type"].clone();
    e
}

/// One dead letter per event, all for the same rule and target.
pub fn letters(events: &[Value], rule_arn: &str, target_arn: &str) -> Vec<DeadLetter> {
    events
        .iter()
        .map(|e| DeadLetter {
            body: e.to_string(),
            rule_arn: rule_arn.to_string(),
            target_arn: target_arn.to_string(),
        })
        .collect()
}

/// JSON values sorted by their text, to compare sets that arrived in any order.
pub fn sorted(mut v: Vec<Value>) -> Vec<Value> {
    v.sort_by_key(|x| x.to_string());
    v
}

/// The `targets` tally of a run for one target ARN.
pub fn tally<'a>(doc: &'a Value, target_arn: &str) -> &'a Value {
    doc["targets"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["target_arn"] == target_arn))
        .unwrap_or_else(|| panic!("no tally for {target_arn} in {doc}"))
}

/// Asserts a tally's counts: delivered, duplicates, failed.
#[track_caller]
pub fn assert_tally(doc: &Value, target_arn: &str, kind: &str, counts: [u64; 3]) {
    let t = tally(doc, target_arn);
    assert_eq!(t["kind"], kind, "{t}");
    assert_eq!(
        [&t["delivered"], &t["duplicates"], &t["failed"]],
        counts.map(Value::from).each_ref(),
        "delivered, duplicates, failed of {target_arn}: {t}"
    );
}
