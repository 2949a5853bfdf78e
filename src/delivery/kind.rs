//! What kind of target an ARN names, and so which delivery port serves it. Rule targets are
//! named by ARN only; the service and resource type in it decide the call.

/// A rule target by the call that delivers to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetKind {
    /// Lambda `Invoke`; the ARN (possibly with a version or alias) is the function name.
    Lambda { function_arn: String },
    /// SQS `SendMessageBatch`; a FIFO queue needs a message group and dedup id.
    Sqs { queue_arn: String, fifo: bool },
    /// SNS `Publish`.
    Sns { topic_arn: String, fifo: bool },
    /// Step Functions `StartExecution`.
    StateMachine { state_machine_arn: String },
    /// `PutEvents` to another bus (of this account or another).
    EventBus { bus_arn: String },
    /// CloudWatch Logs `PutLogEvents`; the calls take the group's name, not its ARN.
    LogGroup { log_group: String },
    /// Anything else (Kinesis, Firehose, ECS, API destinations, ...), or not an ARN.
    Unsupported { what: String },
}

impl TargetKind {
    /// The kind of the target `arn` (`arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`).
    pub fn of(arn: &str) -> TargetKind {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let [prefix, _partition, service, _region, _account, resource] = parts[..] else {
            return TargetKind::Unsupported {
                what: format!("{arn:?} (not an ARN)"),
            };
        };
        if prefix != "arn" {
            return TargetKind::Unsupported {
                what: format!("{arn:?} (not an ARN)"),
            };
        }
        let arn = arn.to_string();
        match service {
            "lambda" if resource.starts_with("function:") => {
                TargetKind::Lambda { function_arn: arn }
            }
            "sqs" => TargetKind::Sqs {
                fifo: resource.ends_with(".fifo"),
                queue_arn: arn,
            },
            "sns" => TargetKind::Sns {
                fifo: resource.ends_with(".fifo"),
                topic_arn: arn,
            },
            "states" if resource.starts_with("stateMachine:") => TargetKind::StateMachine {
                state_machine_arn: arn,
            },
            "events" if resource.starts_with("event-bus/") => TargetKind::EventBus { bus_arn: arn },
            "logs" => match resource.strip_prefix("log-group:") {
                // Log group ARNs are written with and without a trailing `:*`.
                Some(name) => TargetKind::LogGroup {
                    log_group: name.strip_suffix(":*").unwrap_or(name).to_string(),
                },
                None => unsupported(service, resource),
            },
            _ => unsupported(service, resource),
        }
    }

    /// A short name for reports: `lambda`, `sqs`, `sns`, `stepfunctions`, `bus`, `logs`, or
    /// `unsupported`.
    pub fn label(&self) -> &'static str {
        match self {
            TargetKind::Lambda { .. } => "lambda",
            TargetKind::Sqs { .. } => "sqs",
            TargetKind::Sns { .. } => "sns",
            TargetKind::StateMachine { .. } => "stepfunctions",
            TargetKind::EventBus { .. } => "bus",
            TargetKind::LogGroup { .. } => "logs",
            TargetKind::Unsupported { .. } => "unsupported",
        }
    }
}

/// `events api-destination`, `kinesis stream`, ...: the service and the resource type.
fn unsupported(service: &str, resource: &str) -> TargetKind {
    let kind = resource
        .split([':', '/'])
        .next()
        .filter(|k| !k.is_empty() && *k != resource);
    TargetKind::Unsupported {
        what: match kind {
            Some(k) => format!("{service} {k}"),
            None => service.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_supported_service_is_recognised() {
        let f = "arn:aws:lambda:us-east-2:123456789012:function:subs:live";
        assert_eq!(
            TargetKind::of(f),
            TargetKind::Lambda {
                function_arn: f.into()
            }
        );
        assert_eq!(
            TargetKind::of("arn:aws:sqs:us-east-2:123456789012:orders.fifo"),
            TargetKind::Sqs {
                queue_arn: "arn:aws:sqs:us-east-2:123456789012:orders.fifo".into(),
                fifo: true
            }
        );
        assert_eq!(
            TargetKind::of("arn:aws:sns:us-east-2:123456789012:alerts"),
            TargetKind::Sns {
                topic_arn: "arn:aws:sns:us-east-2:123456789012:alerts".into(),
                fifo: false
            }
        );
        let sm = "arn:aws-us-gov:states:us-gov-west-1:123456789012:stateMachine:billing";
        assert_eq!(
            TargetKind::of(sm),
            TargetKind::StateMachine {
                state_machine_arn: sm.into()
            }
        );
        let bus = "arn:aws:events:us-east-2:210987654321:event-bus/central";
        assert_eq!(
            TargetKind::of(bus),
            TargetKind::EventBus {
                bus_arn: bus.into()
            }
        );
    }

    #[test]
    fn a_log_group_arn_gives_the_group_name() {
        for arn in [
            "arn:aws:logs:us-east-2:123456789012:log-group:/aws/events/billing",
            "arn:aws:logs:us-east-2:123456789012:log-group:/aws/events/billing:*",
        ] {
            assert_eq!(
                TargetKind::of(arn),
                TargetKind::LogGroup {
                    log_group: "/aws/events/billing".into()
                },
                "{arn}"
            );
        }
    }

    #[test]
    fn other_targets_are_unsupported_and_say_what_they_are() {
        let what = |arn: &str| match TargetKind::of(arn) {
            TargetKind::Unsupported { what } => what,
            other => panic!("{arn}: {other:?}"),
        };
        assert_eq!(
            what("arn:aws:kinesis:us-east-2:123456789012:stream/clicks"),
            "kinesis stream"
        );
        assert_eq!(
            what("arn:aws:events:us-east-2:123456789012:api-destination/stripe/abc"),
            "events api-destination"
        );
        assert_eq!(
            what("arn:aws:firehose:us-east-2:123456789012:deliverystream/d"),
            "firehose deliverystream"
        );
        assert_eq!(
            what("arn:aws:lambda:us-east-2:123456789012:layer:x"),
            "lambda layer"
        );
        assert_eq!(what("subs"), "\"subs\" (not an ARN)");
        assert_eq!(TargetKind::of("subs").label(), "unsupported");
    }
}
