//! EventBridge adapter: the bus catalogue, replay control and event sink ports.

use std::future::Future;

use async_trait::async_trait;
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::{
    PutEventsRequestEntry, ReplayDestination, ReplayState as AwsReplayState, Target,
};
use tracing::instrument;

use super::error::classify;
use super::time::{from_aws, to_aws};
use crate::ports::PortError;
use crate::ports::bus::{
    ArchiveInfo, BusCatalogue, BusInfo, EventSourceInfo, RetryPolicy, RuleInfo, TargetInfo,
    TargetInputSpec,
};
use crate::ports::replay::{
    ReplayControl, ReplayFilter, ReplayRequest, ReplayStarted, ReplayState, ReplayStatus,
};
use crate::ports::sink::{EventSink, PutEntry, PutOutcome};

/// The EventBridge client behind three ports.
#[derive(Debug, Clone)]
pub struct EventBridge {
    client: Client,
    /// The same client without the SDK's retries, for PutEvents: a retried PutEvents whose
    /// first answer was lost puts the events twice unseen. The drain engine retries instead,
    /// counting such calls as possible duplicates, and paces throttling across its
    /// pipelines. Built once (a per-call config override costs every call a config rebuild).
    put_client: Client,
}

impl EventBridge {
    pub fn new(client: Client) -> EventBridge {
        let put_client = Client::from_conf(
            client
                .config()
                .to_builder()
                .retry_config(aws_sdk_eventbridge::config::retry::RetryConfig::disabled())
                .build(),
        );
        EventBridge { client, put_client }
    }
}

fn target_info(t: &Target) -> TargetInfo {
    TargetInfo {
        id: t.id().to_string(),
        arn: t.arn().to_string(),
        dlq_arn: t
            .dead_letter_config()
            .and_then(|d| d.arn())
            .map(str::to_string),
        retry_policy: t.retry_policy().map(|r| RetryPolicy {
            maximum_retry_attempts: r.maximum_retry_attempts(),
            maximum_event_age_seconds: r.maximum_event_age_in_seconds(),
        }),
        input: input_spec(t),
        sqs_message_group_id: t
            .sqs_parameters()
            .and_then(|p| p.message_group_id())
            .map(str::to_string),
        role_arn: t.role_arn().map(str::to_string),
    }
}

/// AWS accepts only one of the three input settings on a target; should an answer carry
/// several, the first in this order wins.
fn input_spec(t: &Target) -> TargetInputSpec {
    if let Some(input) = t.input() {
        TargetInputSpec::Input(input.to_string())
    } else if let Some(path) = t.input_path() {
        TargetInputSpec::InputPath(path.to_string())
    } else if let Some(tr) = t.input_transformer() {
        TargetInputSpec::InputTransformer {
            input_paths_map: tr
                .input_paths_map()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
            input_template: tr.input_template().to_string(),
        }
    } else {
        TargetInputSpec::Event
    }
}

/// `arn:...:event-bus/NAME` + archive name → `arn:...:archive/ARCHIVE`.
fn archive_arn_from_bus(bus_arn: &str, archive: &str) -> String {
    match bus_arn.split_once(":event-bus/") {
        Some((prefix, _)) => format!("{prefix}:archive/{archive}"),
        None => archive.to_string(),
    }
}

fn replay_state(s: Option<&AwsReplayState>) -> ReplayState {
    ReplayState::parse(s.map(|s| s.as_str()).unwrap_or("UNKNOWN"))
}

/// One page of a list call: its items and the token of the next page.
type Page<T> = (Vec<T>, Option<String>);

/// Follows `NextToken`: calls `fetch` with each page's token (None first) and how many
/// items are still wanted, until a page has no token or `limit` items are collected.
async fn collect_pages<T, F, Fut>(limit: usize, mut fetch: F) -> Result<Vec<T>, PortError>
where
    F: FnMut(Option<String>, usize) -> Fut,
    Fut: Future<Output = Result<Page<T>, PortError>>,
{
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let (items, next) = fetch(token, limit - out.len()).await?;
        out.extend(items);
        token = next;
        if token.is_none() || out.len() >= limit {
            out.truncate(limit);
            return Ok(out);
        }
    }
}

/// Every page of a list call.
async fn all_pages<T, F, Fut>(mut fetch: F) -> Result<Vec<T>, PortError>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<Page<T>, PortError>>,
{
    collect_pages(usize::MAX, |token, _| fetch(token)).await
}

/// ListArchives' `Archive` and DescribeArchive's output are distinct SDK types with the
/// same accessors; this maps either. The ARN is only in DescribeArchive's answer, so it
/// is built from the bus's here, and the event pattern is left out.
macro_rules! archive_info {
    ($a:expr) => {{
        let a = $a;
        let name = a.archive_name().unwrap_or_default().to_string();
        let source = a.event_source_arn().unwrap_or_default().to_string();
        ArchiveInfo {
            arn: archive_arn_from_bus(&source, &name),
            name,
            source_arn: source,
            state: a
                .state()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            state_reason: a.state_reason().map(str::to_string),
            retention_days: a.retention_days(),
            event_count: a.event_count(),
            size_bytes: a.size_bytes(),
            creation_time: a.creation_time().and_then(from_aws),
            event_pattern: None,
        }
    }};
}

/// ListReplays' `Replay` and DescribeReplay's output, likewise: the fields both carry;
/// the ARN, description and destination are only in DescribeReplay's answer.
macro_rules! replay_status {
    ($r:expr) => {{
        let r = $r;
        ReplayStatus {
            name: r.replay_name().unwrap_or_default().to_string(),
            arn: None,
            description: None,
            state: replay_state(r.state()),
            state_reason: r.state_reason().map(str::to_string),
            archive_arn: r.event_source_arn().map(str::to_string),
            destination_arn: None,
            filter_arns: Vec::new(),
            event_start: r.event_start_time().and_then(from_aws),
            event_end: r.event_end_time().and_then(from_aws),
            event_last_replayed: r.event_last_replayed_time().and_then(from_aws),
            replay_start: r.replay_start_time().and_then(from_aws),
            replay_end: r.replay_end_time().and_then(from_aws),
        }
    }};
}

#[async_trait]
impl BusCatalogue for EventBridge {
    #[instrument(skip(self), level = "debug")]
    async fn describe_bus(&self, name: &str) -> Result<BusInfo, PortError> {
        let out = self
            .client
            .describe_event_bus()
            .name(name)
            .send()
            .await
            .map_err(|e| classify("DescribeEventBus", e))?;
        Ok(BusInfo {
            name: out.name().unwrap_or(name).to_string(),
            arn: out.arn().unwrap_or_default().to_string(),
        })
    }

    #[instrument(skip(self), level = "debug")]
    async fn list_rules(&self, bus: &str) -> Result<Vec<RuleInfo>, PortError> {
        let client = &self.client;
        let listed = all_pages(|token| async move {
            let page = client
                .list_rules()
                .event_bus_name(bus)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| classify("ListRules", e))?;
            Ok((page.rules.unwrap_or_default(), page.next_token))
        })
        .await?;
        let mut rules = Vec::with_capacity(listed.len());
        for r in listed {
            let name = r.name().unwrap_or_default().to_string();
            let targets = self.list_targets(bus, &name).await?;
            rules.push(RuleInfo {
                arn: r.arn().unwrap_or_default().to_string(),
                state: r
                    .state()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                event_pattern: r.event_pattern().map(str::to_string),
                schedule_expression: r.schedule_expression().map(str::to_string),
                managed_by: r.managed_by().map(str::to_string),
                description: r.description().map(str::to_string),
                name,
                targets,
            });
        }
        Ok(rules)
    }

    #[instrument(skip(self), level = "debug")]
    async fn list_targets(&self, bus: &str, rule: &str) -> Result<Vec<TargetInfo>, PortError> {
        let client = &self.client;
        all_pages(|token| async move {
            let page = client
                .list_targets_by_rule()
                .event_bus_name(bus)
                .rule(rule)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| classify("ListTargetsByRule", e))?;
            Ok((
                page.targets().iter().map(target_info).collect(),
                page.next_token,
            ))
        })
        .await
    }

    #[instrument(skip(self), level = "debug")]
    async fn list_archives(&self, source_arn: Option<&str>) -> Result<Vec<ArchiveInfo>, PortError> {
        let client = &self.client;
        all_pages(|token| async move {
            let page = client
                .list_archives()
                .set_event_source_arn(source_arn.map(str::to_string))
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| classify("ListArchives", e))?;
            Ok((
                page.archives().iter().map(|a| archive_info!(a)).collect(),
                page.next_token,
            ))
        })
        .await
    }

    #[instrument(skip(self), level = "debug")]
    async fn describe_archive(&self, name: &str) -> Result<ArchiveInfo, PortError> {
        let a = self
            .client
            .describe_archive()
            .archive_name(name)
            .send()
            .await
            .map_err(|e| classify("DescribeArchive", e))?;
        let listed = archive_info!(&a);
        Ok(ArchiveInfo {
            name: a.archive_name().unwrap_or(name).to_string(),
            arn: a
                .archive_arn()
                .map(str::to_string)
                .unwrap_or_else(|| archive_arn_from_bus(&listed.source_arn, name)),
            event_pattern: a.event_pattern().map(str::to_string),
            ..listed
        })
    }

    #[instrument(skip(self), level = "debug")]
    async fn list_event_sources(&self, prefix: &str) -> Result<Vec<EventSourceInfo>, PortError> {
        let client = &self.client;
        all_pages(|token| async move {
            let page = client
                .list_event_sources()
                .name_prefix(prefix)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| classify("ListEventSources", e))?;
            let sources = page
                .event_sources()
                .iter()
                .map(|s| EventSourceInfo {
                    name: s.name().unwrap_or_default().to_string(),
                    arn: s.arn().map(str::to_string),
                    state: s
                        .state()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                    created_by: s.created_by().map(str::to_string),
                })
                .collect();
            Ok((sources, page.next_token))
        })
        .await
    }
}

#[async_trait]
impl ReplayControl for EventBridge {
    #[instrument(skip(self, request), fields(replay = %request.name), level = "debug")]
    async fn start_replay(&self, request: &ReplayRequest) -> Result<ReplayStarted, PortError> {
        let filters = (!request.filter_arns.is_empty()).then(|| request.filter_arns.clone());
        let destination = ReplayDestination::builder()
            .arn(&request.destination_bus_arn)
            .set_filter_arns(filters)
            .build()
            .map_err(|e| PortError::Invalid(format!("StartReplay: {e}")))?;
        let out = self
            .client
            .start_replay()
            .replay_name(&request.name)
            .set_description(request.description.clone())
            .event_source_arn(&request.archive_arn)
            .event_start_time(to_aws(request.start))
            .event_end_time(to_aws(request.end))
            .destination(destination)
            .send()
            .await
            .map_err(|e| classify("StartReplay", e))?;
        Ok(ReplayStarted {
            arn: out.replay_arn().map(str::to_string),
            state: replay_state(out.state()),
            started_at: out.replay_start_time().and_then(from_aws),
        })
    }

    #[instrument(skip(self), fields(replay = %name), level = "debug")]
    async fn describe_replay(&self, name: &str) -> Result<ReplayStatus, PortError> {
        let r = self
            .client
            .describe_replay()
            .replay_name(name)
            .send()
            .await
            .map_err(|e| classify("DescribeReplay", e))?;
        Ok(ReplayStatus {
            name: r.replay_name().unwrap_or(name).to_string(),
            arn: r.replay_arn().map(str::to_string),
            description: r.description().map(str::to_string),
            destination_arn: r.destination().map(|d| d.arn().to_string()),
            filter_arns: r
                .destination()
                .map(|d| d.filter_arns().to_vec())
                .unwrap_or_default(),
            ..replay_status!(&r)
        })
    }

    #[instrument(skip(self), level = "debug")]
    async fn list_replays(
        &self,
        filter: &ReplayFilter,
        limit: usize,
    ) -> Result<Vec<ReplayStatus>, PortError> {
        let client = &self.client;
        collect_pages(limit, |token, wanted| async move {
            let page = client
                .list_replays()
                .set_name_prefix(filter.name_prefix.clone())
                .set_state(
                    filter
                        .state
                        .as_ref()
                        .map(|s| AwsReplayState::from(s.as_str())),
                )
                .set_event_source_arn(filter.archive_arn.clone())
                .limit(wanted.clamp(1, 100) as i32)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| classify("ListReplays", e))?;
            Ok((
                page.replays().iter().map(|r| replay_status!(r)).collect(),
                page.next_token,
            ))
        })
        .await
    }

    #[instrument(skip(self), fields(replay = %name), level = "debug")]
    async fn cancel_replay(&self, name: &str) -> Result<ReplayState, PortError> {
        let out = self
            .client
            .cancel_replay()
            .replay_name(name)
            .send()
            .await
            .map_err(|e| classify("CancelReplay", e))?;
        Ok(replay_state(out.state()))
    }
}

#[async_trait]
impl EventSink for EventBridge {
    #[instrument(skip(self, entries), fields(count = entries.len()), level = "debug")]
    async fn put_events(&self, entries: &[PutEntry]) -> Result<Vec<PutOutcome>, PortError> {
        let request: Vec<PutEventsRequestEntry> = entries
            .iter()
            .map(|e| {
                PutEventsRequestEntry::builder()
                    .event_bus_name(&e.bus)
                    .source(&e.source)
                    .detail_type(&e.detail_type)
                    .detail(&e.detail)
                    .set_resources((!e.resources.is_empty()).then(|| e.resources.clone()))
                    .set_time(e.time.map(to_aws))
                    .build()
            })
            .collect();
        let out = self
            .put_client
            .put_events()
            .set_entries(Some(request))
            .send()
            .await
            .map_err(|e| classify("PutEvents", e))?;
        if out.entries().len() != entries.len() {
            return Err(PortError::Other(format!(
                "PutEvents: answered {} results for {} entries",
                out.entries().len(),
                entries.len()
            )));
        }
        Ok(out
            .entries()
            .iter()
            .map(|r| match (r.event_id(), r.error_code()) {
                (Some(id), None) => PutOutcome::Accepted {
                    event_id: id.to_string(),
                },
                (_, code) => PutOutcome::Rejected {
                    code: code.unwrap_or("Unknown").to_string(),
                    message: r.error_message().unwrap_or_default().to_string(),
                },
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_eventbridge::operation::describe_replay::DescribeReplayOutput;
    use aws_sdk_eventbridge::operation::list_replays::ListReplaysOutput;
    use aws_sdk_eventbridge::operation::put_events::PutEventsOutput;
    use aws_sdk_eventbridge::operation::start_replay::{StartReplayError, StartReplayOutput};
    use aws_sdk_eventbridge::types::error::LimitExceededException;
    use aws_sdk_eventbridge::types::{PutEventsResultEntry, Replay};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use chrono::{TimeZone, Utc};

    fn request() -> ReplayRequest {
        ReplayRequest {
            name: "nexus-test".into(),
            description: Some("d".into()),
            archive_arn: "arn:aws:events:us-east-2:1:archive/a".into(),
            start: Utc.with_ymd_and_hms(2025, 9, 8, 14, 0, 0).unwrap(),
            end: Utc.with_ymd_and_hms(2025, 9, 8, 16, 0, 0).unwrap(),
            destination_bus_arn: "arn:aws:events:us-east-2:1:event-bus/b".into(),
            filter_arns: vec!["arn:aws:events:us-east-2:1:rule/b/r".into()],
        }
    }

    #[tokio::test]
    async fn start_replay_sends_window_and_filter_arns() {
        let rule = mock!(Client::start_replay)
            .match_requests(|r| {
                r.replay_name() == Some("nexus-test")
                    && r.event_start_time().map(|t| t.secs()) == Some(1757340000)
                    && r.event_end_time().map(|t| t.secs()) == Some(1757347200)
                    && r.destination().map(|d| d.filter_arns().to_vec())
                        == Some(vec!["arn:aws:events:us-east-2:1:rule/b/r".to_string()])
            })
            .then_output(|| {
                StartReplayOutput::builder()
                    .replay_arn("arn:replay")
                    .state(AwsReplayState::Starting)
                    .build()
            });
        let eb = EventBridge::new(mock_client!(aws_sdk_eventbridge, [&rule]));
        let started = eb.start_replay(&request()).await.unwrap();
        assert_eq!(started.state, ReplayState::Starting);
        assert_eq!(started.arn.as_deref(), Some("arn:replay"));
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn limit_exceeded_is_classified() {
        let rule = mock!(Client::start_replay).then_error(|| {
            StartReplayError::LimitExceededException(
                LimitExceededException::builder()
                    .message("The requested resource exceeds the maximum number allowed.")
                    .meta(
                        aws_sdk_eventbridge::error::ErrorMetadata::builder()
                            .code("LimitExceededException")
                            .message("The requested resource exceeds the maximum number allowed.")
                            .build(),
                    )
                    .build(),
            )
        });
        let eb = EventBridge::new(mock_client!(aws_sdk_eventbridge, [&rule]));
        let err = eb.start_replay(&request()).await.unwrap_err();
        assert!(
            matches!(err, PortError::LimitExceeded(ref m) if m.contains("maximum number")),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn describe_replay_maps_progress_fields() {
        let rule = mock!(Client::describe_replay).then_output(|| {
            DescribeReplayOutput::builder()
                .replay_name("r")
                .state(AwsReplayState::Running)
                .event_start_time(to_aws(Utc.timestamp_opt(1000, 0).unwrap()))
                .event_end_time(to_aws(Utc.timestamp_opt(2000, 0).unwrap()))
                .event_last_replayed_time(to_aws(Utc.timestamp_opt(1250, 0).unwrap()))
                .build()
        });
        let eb = EventBridge::new(mock_client!(aws_sdk_eventbridge, [&rule]));
        let s = eb.describe_replay("r").await.unwrap();
        assert_eq!(s.state, ReplayState::Running);
        assert_eq!(s.progress(), Some(0.25));
    }

    #[tokio::test]
    async fn list_replays_sends_the_state_filter_and_pages() {
        let first = mock!(Client::list_replays)
            .match_requests(|r| {
                r.state() == Some(&AwsReplayState::Running) && r.next_token().is_none()
            })
            .then_output(|| {
                ListReplaysOutput::builder()
                    .replays(
                        Replay::builder()
                            .replay_name("a")
                            .state(AwsReplayState::Running)
                            .build(),
                    )
                    .next_token("t2")
                    .build()
            });
        let second = mock!(Client::list_replays)
            .match_requests(|r| {
                r.state() == Some(&AwsReplayState::Running) && r.next_token() == Some("t2")
            })
            .then_output(|| {
                ListReplaysOutput::builder()
                    .replays(
                        Replay::builder()
                            .replay_name("b")
                            .state(AwsReplayState::Running)
                            .build(),
                    )
                    .build()
            });
        let eb = EventBridge::new(mock_client!(
            aws_sdk_eventbridge,
            RuleMode::MatchAny,
            [&first, &second]
        ));
        let filter = ReplayFilter {
            state: Some(ReplayState::Running),
            ..Default::default()
        };
        let names: Vec<String> = eb
            .list_replays(&filter, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(names, ["a", "b"]);
    }

    #[tokio::test]
    async fn put_events_keeps_per_entry_results_in_order() {
        let rule = mock!(Client::put_events).then_output(|| {
            PutEventsOutput::builder()
                .failed_entry_count(1)
                .entries(PutEventsResultEntry::builder().event_id("e1").build())
                .entries(
                    PutEventsResultEntry::builder()
                        .error_code("ThrottlingException")
                        .error_message("slow down")
                        .build(),
                )
                .build()
        });
        let eb = EventBridge::new(mock_client!(aws_sdk_eventbridge, [&rule]));
        let entry = PutEntry {
            bus: "b".into(),
            source: "s".into(),
            detail_type: "t".into(),
            detail: "{}".into(),
            resources: vec![],
            time: None,
        };
        let out = eb.put_events(&[entry.clone(), entry]).await.unwrap();
        assert_eq!(
            out[0],
            PutOutcome::Accepted {
                event_id: "e1".into()
            }
        );
        assert!(out[1].is_retryable());
    }

    #[tokio::test]
    async fn targets_carry_their_input_mode_fifo_group_and_role() {
        use aws_sdk_eventbridge::operation::list_targets_by_rule::ListTargetsByRuleOutput;
        use aws_sdk_eventbridge::types::{DeadLetterConfig, InputTransformer, SqsParameters};
        let rule = mock!(Client::list_targets_by_rule)
            .match_requests(|r| r.event_bus_name() == Some("b") && r.rule() == Some("r"))
            .then_output(|| {
                let target = |id: &str, arn: &str| Target::builder().id(id).arn(arn);
                ListTargetsByRuleOutput::builder()
                    .targets(
                        target("fn", "arn:aws:lambda:us-east-2:1:function:f")
                            .input_transformer(
                                InputTransformer::builder()
                                    .input_paths_map("id", "$.detail.id")
                                    .input_paths_map("type", "$.detail.type")
                                    .input_template(r#"{"id": <id>, "t": "<type>"}"#)
                                    .build()
                                    .unwrap(),
                            )
                            .dead_letter_config(DeadLetterConfig::builder().arn("arn:dlq").build())
                            .build()
                            .unwrap(),
                    )
                    .targets(
                        target("const", "arn:aws:sns:us-east-2:1:t")
                            .input(r#"{"fixed": true}"#)
                            .build()
                            .unwrap(),
                    )
                    .targets(
                        target("path", "arn:aws:states:us-east-2:1:stateMachine:sm")
                            .input_path("$.detail")
                            .role_arn("arn:aws:iam::1:role/sfn")
                            .build()
                            .unwrap(),
                    )
                    .targets(
                        target("fifo", "arn:aws:sqs:us-east-2:1:q.fifo")
                            .sqs_parameters(SqsParameters::builder().message_group_id("g1").build())
                            .build()
                            .unwrap(),
                    )
                    .build()
            });
        let eb = EventBridge::new(mock_client!(aws_sdk_eventbridge, [&rule]));
        let targets = eb.list_targets("b", "r").await.unwrap();
        assert_eq!(
            targets[0].input,
            TargetInputSpec::InputTransformer {
                input_paths_map: [("id", "$.detail.id"), ("type", "$.detail.type")]
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                input_template: r#"{"id": <id>, "t": "<type>"}"#.into(),
            }
        );
        assert_eq!(targets[0].dlq_arn.as_deref(), Some("arn:dlq"));
        assert_eq!(
            targets[1].input,
            TargetInputSpec::Input(r#"{"fixed": true}"#.into())
        );
        assert_eq!(
            targets[2].input,
            TargetInputSpec::InputPath("$.detail".into())
        );
        assert_eq!(
            targets[2].role_arn.as_deref(),
            Some("arn:aws:iam::1:role/sfn")
        );
        assert_eq!(targets[3].input, TargetInputSpec::Event);
        assert_eq!(targets[3].sqs_message_group_id.as_deref(), Some("g1"));
        assert_eq!(
            targets
                .iter()
                .map(TargetInfo::transforms_input)
                .collect::<Vec<_>>(),
            [true, true, true, false]
        );
    }

    #[tokio::test]
    async fn the_targets_of_a_deleted_rule_are_not_found() {
        use aws_sdk_eventbridge::operation::list_targets_by_rule::ListTargetsByRuleError;
        let rule = mock!(Client::list_targets_by_rule).then_error(|| {
            ListTargetsByRuleError::generic(
                aws_sdk_eventbridge::error::ErrorMetadata::builder()
                    .code("ResourceNotFoundException")
                    .message("Rule r does not exist on EventBus b.")
                    .build(),
            )
        });
        let eb = EventBridge::new(mock_client!(aws_sdk_eventbridge, [&rule]));
        let err = eb.list_targets("b", "r").await.unwrap_err();
        assert!(
            matches!(err, PortError::NotFound(ref m) if m.contains("Rule r does not exist")),
            "{err:?}"
        );
    }

    fn replay_output(state: AwsReplayState, done_secs: Option<i64>) -> DescribeReplayOutput {
        let mut b = DescribeReplayOutput::builder()
            .replay_name("r")
            .state(state)
            .event_start_time(to_aws(Utc.timestamp_opt(0, 0).unwrap()))
            .event_end_time(to_aws(Utc.timestamp_opt(1000, 0).unwrap()));
        if let Some(d) = done_secs {
            b = b.event_last_replayed_time(to_aws(Utc.timestamp_opt(d, 0).unwrap()));
        }
        b.build()
    }

    /// The client's own retry config (standard, 3 attempts) does not apply to PutEvents: a
    /// 500 is answered to the engine after one call.
    #[tokio::test]
    async fn put_events_is_sent_once_without_the_sdk_retries() {
        let rule = mock!(Client::put_events)
            .sequence()
            .http_status(500, None)
            .output(|| PutEventsOutput::builder().build())
            .build();
        let eb = EventBridge::new(mock_client!(
            aws_sdk_eventbridge,
            RuleMode::Sequential,
            [&rule],
            |c| c.retry_config(
                aws_sdk_eventbridge::config::retry::RetryConfig::standard()
                    .with_max_attempts(3)
                    .with_initial_backoff(std::time::Duration::from_millis(1))
            )
        ));
        let entry = PutEntry {
            bus: "b".into(),
            source: "s".into(),
            detail_type: "t".into(),
            detail: "{}".into(),
            resources: Vec::new(),
            time: None,
        };
        let err = eb.put_events(&[entry]).await.unwrap_err();
        assert!(err.is_retryable(), "{err:?}");
        assert_eq!(rule.num_calls(), 1);
    }

    fn no_retries(c: aws_sdk_eventbridge::config::Builder) -> aws_sdk_eventbridge::config::Builder {
        c.retry_config(aws_sdk_eventbridge::config::retry::RetryConfig::disabled())
    }

    /// The tracking state machine through the real adapter: STARTING → RUNNING (with
    /// EventLastReplayedTime advancing) → COMPLETED, surviving a 500 and a throttle.
    #[tokio::test(start_paused = true)]
    async fn watch_through_the_adapter_survives_transient_errors() {
        use crate::replay::watch::{Quiet, WatchOptions, WatchOutcome, watch};
        use aws_sdk_eventbridge::operation::describe_replay::DescribeReplayError;
        let rule = mock!(Client::describe_replay)
            .sequence()
            .output(|| replay_output(AwsReplayState::Starting, None))
            .output(|| replay_output(AwsReplayState::Running, Some(250)))
            .http_status(500, None)
            .error(|| {
                DescribeReplayError::generic(
                    aws_sdk_eventbridge::error::ErrorMetadata::builder()
                        .code("ThrottlingException")
                        .message("Rate exceeded")
                        .build(),
                )
            })
            .output(|| replay_output(AwsReplayState::Running, Some(750)))
            .output(|| replay_output(AwsReplayState::Completed, Some(1000)))
            .build();
        let eb = EventBridge::new(mock_client!(
            aws_sdk_eventbridge,
            RuleMode::Sequential,
            [&rule],
            no_retries
        ));
        let out = watch(
            &eb,
            "r",
            &WatchOptions::default(),
            &mut Quiet,
            std::future::pending(),
        )
        .await
        .unwrap();
        match out {
            WatchOutcome::Finished(s) => assert_eq!(s.state, ReplayState::Completed),
            other => panic!("{other:?}"),
        }
        assert_eq!(rule.num_calls(), 6);
    }

    #[tokio::test(start_paused = true)]
    async fn watch_through_the_adapter_reports_failure_reason() {
        use crate::replay::watch::{Quiet, WatchOptions, WatchOutcome, watch};
        let rule = mock!(Client::describe_replay)
            .sequence()
            .output(|| replay_output(AwsReplayState::Running, Some(100)))
            .output(|| {
                DescribeReplayOutput::builder()
                    .replay_name("r")
                    .state(AwsReplayState::Failed)
                    .state_reason("The destination event bus does not exist.")
                    .build()
            })
            .build();
        let eb = EventBridge::new(mock_client!(
            aws_sdk_eventbridge,
            RuleMode::Sequential,
            [&rule],
            no_retries
        ));
        match watch(
            &eb,
            "r",
            &WatchOptions::default(),
            &mut Quiet,
            std::future::pending(),
        )
        .await
        .unwrap()
        {
            WatchOutcome::Finished(s) => {
                assert_eq!(s.state, ReplayState::Failed);
                assert_eq!(
                    s.state_reason.as_deref(),
                    Some("The destination event bus does not exist.")
                );
            }
            other => panic!("{other:?}"),
        }
    }

    /// The paging helper behind every list call: it follows NextToken to the last page,
    /// and a limit stops it early with exactly that many items.
    #[tokio::test]
    async fn list_calls_follow_next_token_and_stop_at_the_limit() {
        use aws_sdk_eventbridge::operation::list_archives::ListArchivesOutput;
        use aws_sdk_eventbridge::types::Archive;
        let archive = |name: &str| {
            Archive::builder()
                .archive_name(name)
                .event_source_arn("arn:aws:events:us-east-2:1:event-bus/b")
                .build()
        };
        let pages = [
            (None, Some("p2")),
            (Some("p2"), Some("p3")),
            (Some("p3"), None),
        ];
        let rules: Vec<_> = pages
            .iter()
            .enumerate()
            .map(|(i, &(token, next))| {
                let items = [archive(&format!("a{i}")), archive(&format!("b{i}"))];
                mock!(Client::list_archives)
                    .match_requests(move |r| r.next_token() == token)
                    .then_output(move || {
                        ListArchivesOutput::builder()
                            .set_archives(Some(items.to_vec()))
                            .set_next_token(next.map(str::to_string))
                            .build()
                    })
            })
            .collect();
        let eb = EventBridge::new(mock_client!(
            aws_sdk_eventbridge,
            RuleMode::MatchAny,
            [&rules[0], &rules[1], &rules[2]]
        ));
        let archives = eb.list_archives(None).await.unwrap();
        let names: Vec<&str> = archives.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["a0", "b0", "a1", "b1", "a2", "b2"]);
        assert_eq!(archives[5].arn, "arn:aws:events:us-east-2:1:archive/b2");
        assert!(rules.iter().all(|r| r.num_calls() == 1));

        let replays = mock!(Client::list_replays)
            .match_requests(|r| r.limit() == Some(3) && r.next_token().is_none())
            .then_output(|| {
                let replay = |n: &str| Replay::builder().replay_name(n).build();
                ListReplaysOutput::builder()
                    .replays(replay("r1"))
                    .replays(replay("r2"))
                    .replays(replay("r3"))
                    .replays(replay("r4"))
                    .next_token("more")
                    .build()
            });
        let eb = EventBridge::new(mock_client!(aws_sdk_eventbridge, [&replays]));
        let got = eb.list_replays(&ReplayFilter::default(), 3).await.unwrap();
        let names: Vec<&str> = got.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["r1", "r2", "r3"]);
        assert_eq!(
            replays.num_calls(),
            1,
            "no page is asked for past the limit"
        );
    }
}
