//! In-memory EventBridge: the bus catalogue, replay control and event sink ports, with
//! hooks to inject errors, per-entry failures, throttling and lost responses.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::clock::SharedClock;
use crate::ports::PortError;
use crate::ports::bus::{
    ArchiveInfo, BusCatalogue, BusInfo, EventSourceInfo, RuleInfo, TargetInfo,
};
use crate::ports::replay::{
    ReplayControl, ReplayFilter, ReplayRequest, ReplayStarted, ReplayState, ReplayStatus,
};
use crate::ports::sink::{EventSink, PutEntry, PutOutcome};

/// Decides an entry's fate: None accepts it, Some(code) rejects it with that code.
pub type EntryFault = Box<dyn FnMut(&PutEntry) -> Option<String> + Send>;

#[derive(Default)]
struct State {
    buses: BTreeMap<String, BusInfo>,
    rules: BTreeMap<String, Vec<RuleInfo>>,
    archives: Vec<ArchiveInfo>,
    sources: Option<Result<Vec<EventSourceInfo>, PortError>>,
    replays: BTreeMap<String, ReplayStatus>,
    scripts: BTreeMap<String, VecDeque<Result<ReplayStatus, PortError>>>,
    start_errors: VecDeque<PortError>,
    started: Vec<ReplayRequest>,
    cancelled: Vec<String>,
    describe_calls: usize,
    list_rules_calls: usize,
    list_targets_calls: usize,
    describe_bus_error: Option<PortError>,
    accepted: Vec<PutEntry>,
    put_calls: usize,
    entry_fault: Option<EntryFault>,
    call_errors: VecDeque<PortError>,
    lose_responses: usize,
    lose_start_answers: usize,
    /// Where replay start times come from; the system clock when unset.
    clock: Option<SharedClock>,
}

/// A fake EventBridge shared by clones.
#[derive(Clone, Default)]
pub struct MemoryEventBridge {
    state: Arc<Mutex<State>>,
}

impl MemoryEventBridge {
    pub fn new() -> MemoryEventBridge {
        MemoryEventBridge::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().expect("fake state"))
    }

    /// Adds a bus named `name` with a conventional ARN.
    pub fn add_bus(&self, name: &str) -> BusInfo {
        let bus = BusInfo {
            name: name.into(),
            arn: format!("arn:aws:events:us-east-2:123456789012:event-bus/{name}"),
        };
        self.with(|s| s.buses.insert(name.into(), bus.clone()));
        bus
    }

    pub fn add_rule(&self, bus: &str, rule: RuleInfo) {
        self.with(|s| s.rules.entry(bus.into()).or_default().push(rule));
    }

    pub fn add_archive(&self, archive: ArchiveInfo) {
        self.with(|s| s.archives.push(archive));
    }

    pub fn set_event_sources(&self, answer: Result<Vec<EventSourceInfo>, PortError>) {
        self.with(|s| s.sources = Some(answer));
    }

    /// Inserts a replay as if started earlier (for list/cancel tests).
    pub fn add_replay(&self, status: ReplayStatus) {
        self.with(|s| s.replays.insert(status.name.clone(), status));
    }

    /// DescribeReplay answers for `name`, in order; the last one repeats.
    pub fn script_describe(&self, name: &str, answers: Vec<Result<ReplayStatus, PortError>>) {
        self.with(|s| s.scripts.insert(name.into(), answers.into()));
    }

    /// Replay start times are read from `clock` from now on.
    pub fn set_clock(&self, clock: SharedClock) {
        self.with(|s| s.clock = Some(clock));
    }

    /// The next StartReplay is applied, but its answer is lost and the call retried: the
    /// retry is refused with AlreadyExists, as EventBridge refuses it.
    pub fn lose_next_start_answer(&self) {
        self.with(|s| s.lose_start_answers += 1);
    }

    pub fn fail_next_start(&self, err: PortError) {
        self.with(|s| s.start_errors.push_back(err));
    }

    pub fn started(&self) -> Vec<ReplayRequest> {
        self.with(|s| s.started.clone())
    }

    pub fn cancelled(&self) -> Vec<String> {
        self.with(|s| s.cancelled.clone())
    }

    pub fn describe_calls(&self) -> usize {
        self.with(|s| s.describe_calls)
    }

    /// Every entry accepted so far, in order (duplicates included).
    pub fn accepted(&self) -> Vec<PutEntry> {
        self.with(|s| s.accepted.clone())
    }

    /// Every DescribeEventBus answers `err` from now on.
    pub fn fail_describe_bus(&self, err: PortError) {
        self.with(|s| s.describe_bus_error = Some(err));
    }

    pub fn list_rules_calls(&self) -> usize {
        self.with(|s| s.list_rules_calls)
    }

    pub fn list_targets_calls(&self) -> usize {
        self.with(|s| s.list_targets_calls)
    }

    pub fn put_calls(&self) -> usize {
        self.with(|s| s.put_calls)
    }

    /// Per-entry fault injection for PutEvents.
    pub fn set_entry_fault(&self, fault: EntryFault) {
        self.with(|s| s.entry_fault = Some(fault));
    }

    /// The next PutEvents calls fail whole with these errors (nothing applied).
    pub fn fail_next_put_calls(&self, errors: Vec<PortError>) {
        self.with(|s| s.call_errors.extend(errors));
    }

    /// The next `n` PutEvents calls are applied but their responses are lost.
    pub fn lose_next_put_responses(&self, n: usize) {
        self.with(|s| s.lose_responses += n);
    }
}

fn not_found(what: &str, name: &str) -> PortError {
    PortError::NotFound(format!("{what} {name} does not exist."))
}

#[async_trait]
impl BusCatalogue for MemoryEventBridge {
    async fn describe_bus(&self, name: &str) -> Result<BusInfo, PortError> {
        self.with(|s| match &s.describe_bus_error {
            Some(e) => Err(e.clone()),
            None => s
                .buses
                .get(name)
                .cloned()
                .ok_or_else(|| not_found("Event bus", name)),
        })
    }

    async fn list_rules(&self, bus: &str) -> Result<Vec<RuleInfo>, PortError> {
        self.with(|s| {
            s.list_rules_calls += 1;
            if !s.buses.contains_key(bus) && !s.rules.contains_key(bus) {
                return Err(not_found("Event bus", bus));
            }
            Ok(s.rules.get(bus).cloned().unwrap_or_default())
        })
    }

    async fn list_targets(&self, bus: &str, rule: &str) -> Result<Vec<TargetInfo>, PortError> {
        self.with(|s| {
            s.list_targets_calls += 1;
            s.rules
                .get(bus)
                .and_then(|rules| rules.iter().find(|r| r.name == rule))
                .map(|r| r.targets.clone())
                .ok_or_else(|| {
                    PortError::NotFound(format!("Rule {rule} does not exist on EventBus {bus}."))
                })
        })
    }

    async fn list_archives(&self, source_arn: Option<&str>) -> Result<Vec<ArchiveInfo>, PortError> {
        Ok(self.with(|s| {
            s.archives
                .iter()
                .filter(|a| source_arn.is_none_or(|src| a.source_arn == src))
                .cloned()
                .collect()
        }))
    }

    async fn describe_archive(&self, name: &str) -> Result<ArchiveInfo, PortError> {
        self.with(|s| s.archives.iter().find(|a| a.name == name).cloned())
            .ok_or_else(|| not_found("Archive", name))
    }

    async fn list_event_sources(&self, prefix: &str) -> Result<Vec<EventSourceInfo>, PortError> {
        self.with(|s| match &s.sources {
            None => Ok(Vec::new()),
            Some(Ok(list)) => Ok(list
                .iter()
                .filter(|e| e.name.starts_with(prefix))
                .cloned()
                .collect()),
            Some(Err(e)) => Err(e.clone()),
        })
    }
}

#[async_trait]
impl ReplayControl for MemoryEventBridge {
    async fn start_replay(&self, request: &ReplayRequest) -> Result<ReplayStarted, PortError> {
        self.with(|s| {
            if let Some(e) = s.start_errors.pop_front() {
                return Err(e);
            }
            if s.replays.contains_key(&request.name) {
                return Err(PortError::AlreadyExists(format!(
                    "Replay {} already exists.",
                    request.name
                )));
            }
            s.started.push(request.clone());
            let now = s.clock.as_ref().map_or_else(chrono::Utc::now, |c| c.now());
            s.replays.insert(
                request.name.clone(),
                ReplayStatus {
                    name: request.name.clone(),
                    arn: Some(format!(
                        "arn:aws:events:us-east-2:123456789012:replay/{}",
                        request.name
                    )),
                    description: request.description.clone(),
                    state: ReplayState::Starting,
                    state_reason: None,
                    archive_arn: Some(request.archive_arn.clone()),
                    destination_arn: Some(request.destination_bus_arn.clone()),
                    filter_arns: request.filter_arns.clone(),
                    event_start: Some(request.start),
                    event_end: Some(request.end),
                    event_last_replayed: None,
                    replay_start: Some(now),
                    replay_end: None,
                },
            );
            if s.lose_start_answers > 0 {
                s.lose_start_answers -= 1;
                return Err(PortError::AlreadyExists(format!(
                    "Replay {} already exists.",
                    request.name
                )));
            }
            Ok(ReplayStarted {
                arn: s.replays[&request.name].arn.clone(),
                state: ReplayState::Starting,
                started_at: Some(now),
            })
        })
    }

    async fn describe_replay(&self, name: &str) -> Result<ReplayStatus, PortError> {
        self.with(|s| {
            s.describe_calls += 1;
            if let Some(script) = s.scripts.get_mut(name) {
                let answer = if script.len() > 1 {
                    script.pop_front()
                } else {
                    script.front().cloned()
                };
                if let Some(answer) = answer {
                    if let Ok(status) = &answer {
                        s.replays.insert(name.into(), status.clone());
                    }
                    return answer;
                }
            }
            s.replays
                .get(name)
                .cloned()
                .ok_or_else(|| not_found("Replay", name))
        })
    }

    async fn list_replays(
        &self,
        filter: &ReplayFilter,
        limit: usize,
    ) -> Result<Vec<ReplayStatus>, PortError> {
        Ok(self.with(|s| {
            s.replays
                .values()
                .filter(|r| filter.state.as_ref().is_none_or(|st| &r.state == st))
                .filter(|r| {
                    filter
                        .name_prefix
                        .as_ref()
                        .is_none_or(|p| r.name.starts_with(p))
                })
                .filter(|r| {
                    filter
                        .archive_arn
                        .as_ref()
                        .is_none_or(|a| r.archive_arn.as_ref() == Some(a))
                })
                .take(limit)
                .cloned()
                .collect()
        }))
    }

    async fn cancel_replay(&self, name: &str) -> Result<ReplayState, PortError> {
        self.with(|s| {
            let r = s
                .replays
                .get_mut(name)
                .ok_or_else(|| not_found("Replay", name))?;
            if !r.state.is_active() {
                return Err(PortError::IllegalState(format!(
                    "Replay {name} is not in a valid state for this operation ({}).",
                    r.state
                )));
            }
            r.state = ReplayState::Cancelling;
            s.cancelled.push(name.into());
            Ok(ReplayState::Cancelling)
        })
    }
}

#[async_trait]
impl EventSink for MemoryEventBridge {
    async fn put_events(&self, entries: &[PutEntry]) -> Result<Vec<PutOutcome>, PortError> {
        self.with(|s| {
            s.put_calls += 1;
            if let Some(e) = s.call_errors.pop_front() {
                return Err(e);
            }
            let mut out = Vec::with_capacity(entries.len());
            for e in entries {
                let fault = s.entry_fault.as_mut().and_then(|f| f(e));
                match fault {
                    Some(code) => out.push(PutOutcome::Rejected {
                        message: format!("injected {code}"),
                        code,
                    }),
                    None => {
                        s.accepted.push(e.clone());
                        out.push(PutOutcome::Accepted {
                            event_id: crate::ids::random_hex(16),
                        });
                    }
                }
            }
            if s.lose_responses > 0 {
                s.lose_responses -= 1;
                return Err(PortError::Transient(
                    "PutEvents: connection closed before the response (injected)".into(),
                ));
            }
            Ok(out)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_rules_targets_are_listed_and_a_missing_rule_is_not_found() {
        let eb = MemoryEventBridge::new();
        eb.add_bus("b");
        eb.add_rule(
            "b",
            RuleInfo {
                name: "r".into(),
                arn: "arn:aws:events:us-east-2:123456789012:rule/b/r".into(),
                state: "ENABLED".into(),
                event_pattern: None,
                schedule_expression: None,
                managed_by: None,
                description: None,
                targets: vec![TargetInfo {
                    id: "t".into(),
                    arn: "arn:aws:sqs:us-east-2:123456789012:q".into(),
                    ..TargetInfo::default()
                }],
            },
        );
        let targets = eb.list_targets("b", "r").await.unwrap();
        assert_eq!(targets[0].id, "t");
        assert!(matches!(
            eb.list_targets("b", "gone").await,
            Err(PortError::NotFound(ref m)) if m == "Rule gone does not exist on EventBus b."
        ));
        assert_eq!(eb.list_targets_calls(), 2);
    }
}
