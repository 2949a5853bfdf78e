//! The temporary resources of one export: created in an order that never lets anything
//! but this replay's events through (the queue admits only the rule; the rule is created
//! with the replay guard in its pattern before it gets a target), recorded as each call is
//! *made* (a call cut short by an interrupt, or whose answer was lost, may have been
//! applied), and removed target first, so no rule is ever left forwarding to the queue.

use std::future::Future;
use std::sync::Mutex;

use super::names::{RunNames, TARGET_ID};
use super::report::{Removal, ReplayEnding, ResourceKind, TempResource};
use crate::error::AppError;
use crate::ports::PortError;
use crate::ports::capture::{CaptureResources, NewQueue, NewRule};
use crate::ports::queue::{Queue, QueueRef};
use crate::ports::replay::{ReplayControl, ReplayRequest, ReplayStatus};
use crate::replay::adopt::adopt_lost_start;

/// EventBridge's default limit on an event pattern's length.
const PATTERN_MAX_CHARS: usize = 2048;

/// What one export creates, named and derived before anything exists.
#[derive(Debug, Clone)]
pub(crate) struct Setup {
    pub names: RunNames,
    pub archive: String,
    pub bus: String,
    /// The rule's ARN, known in advance so the queue is created with its policy.
    pub rule_arn: String,
    pub queue_arn: String,
    pub pattern: String,
}

/// How far one creating call got.
#[derive(Debug, Default)]
enum Step<T> {
    #[default]
    NotTried,
    /// Made and failed (or cut short): `maybe_applied` unless the error says it was not.
    Tried {
        maybe_applied: bool,
    },
    Done(T),
}

impl<T> Step<T> {
    fn may_exist(&self) -> bool {
        matches!(
            self,
            Step::Done(_)
                | Step::Tried {
                    maybe_applied: true
                }
        )
    }
}

/// Whether a failed call may still have been applied: only an answer that says the
/// request was refused proves it was not.
fn maybe_applied(e: &PortError) -> bool {
    !matches!(
        e,
        PortError::Invalid(_)
            | PortError::LimitExceeded(_)
            | PortError::Denied(_)
            | PortError::Credentials(_)
            | PortError::NotFound(_)
            | PortError::AlreadyExists(_)
            | PortError::IllegalState(_)
            | PortError::Throttled(_)
    )
}

/// Makes `call`, recording it in `step` before it is sent.
async fn track<T: Clone>(
    step: &mut Step<T>,
    call: impl Future<Output = Result<T, PortError>>,
) -> Result<T, PortError> {
    *step = Step::Tried {
        maybe_applied: true,
    };
    match call.await {
        Ok(v) => {
            *step = Step::Done(v.clone());
            Ok(v)
        }
        Err(e) => {
            *step = Step::Tried {
                maybe_applied: maybe_applied(&e),
            };
            Err(e)
        }
    }
}

/// The resources an export made so far.
#[derive(Debug, Default)]
pub(crate) struct Created {
    queue: Step<QueueRef>,
    rule: Step<String>,
    target: Step<()>,
    replay: Step<Option<String>>,
    /// The replay's last status, as the watch saw it.
    pub last_status: Mutex<Option<ReplayStatus>>,
}

fn put_rule_error(e: PortError, setup: &Setup) -> PortError {
    match e {
        PortError::LimitExceeded(m) => PortError::LimitExceeded(format!(
            "{m}: bus {} has as many rules as its quota allows (Service Quotas: \"Maximum number of rules per event bus\", 300 by default), so the export cannot add its temporary rule; remove an unused rule or ask for a higher quota",
            setup.bus
        )),
        PortError::Invalid(m) if setup.pattern.len() > PATTERN_MAX_CHARS => {
            PortError::Invalid(format!(
                "{m} (the capture pattern is {} characters; EventBridge allows {PATTERN_MAX_CHARS} by default: name fewer --id or --event-type values, or export by --source and filter the file)",
                setup.pattern.len()
            ))
        }
        other => other,
    }
}

impl Created {
    /// The queue → the rule → the queue as its target. Stops at the first failure.
    pub async fn create(
        &mut self,
        setup: &Setup,
        res: &dyn CaptureResources,
        announce: &mut dyn FnMut(&str),
    ) -> Result<QueueRef, AppError> {
        let names = &setup.names;
        let tags = names.tags(&setup.archive);
        let queue = track(
            &mut self.queue,
            res.create_queue(&NewQueue {
                name: names.queue.clone(),
                tags: tags.clone(),
                sender_rule_arn: setup.rule_arn.clone(),
            }),
        )
        .await?;
        if queue.arn != setup.queue_arn {
            return Err(AppError::Port(PortError::Other(format!(
                "the capture queue's ARN is {}, not {} as its policy names: EventBridge could not deliver to it",
                queue.arn, setup.queue_arn
            ))));
        }
        announce(&format!("created queue {}", queue.name));
        let rule_arn = track(
            &mut self.rule,
            res.put_rule(&NewRule {
                bus: setup.bus.clone(),
                name: names.rule.clone(),
                pattern: setup.pattern.clone(),
                description: names.rule_description(&setup.archive),
                tags,
            }),
        )
        .await
        .map_err(|e| put_rule_error(e, setup))?;
        if rule_arn != setup.rule_arn {
            return Err(AppError::Port(PortError::Other(format!(
                "the capture rule's ARN is {rule_arn}, not {} as the queue's policy names: EventBridge could not deliver to the queue",
                setup.rule_arn
            ))));
        }
        announce(&format!("created rule {} on bus {}", names.rule, setup.bus));
        track(
            &mut self.target,
            res.put_queue_target(&setup.bus, &names.rule, TARGET_ID, &queue.arn),
        )
        .await?;
        announce(&format!("made queue {} the rule's target", queue.name));
        Ok(queue)
    }

    /// Starts the replay; answers its ARN. The name is this run's own (generated), so a
    /// refusal as already existing is the retry of a start whose answer was lost: the
    /// replay it created is adopted, as `start` does.
    pub async fn start_replay(
        &mut self,
        replays: &dyn ReplayControl,
        request: &ReplayRequest,
    ) -> Result<Option<String>, PortError> {
        track(&mut self.replay, async {
            match replays.start_replay(request).await {
                Err(refused @ PortError::AlreadyExists(_)) => {
                    adopt_lost_start(replays, request, refused).await
                }
                answer => answer,
            }
            .map(|s| s.arn)
        })
        .await
    }

    /// Removes everything that may exist: the target first, then the replay is cancelled
    /// if it still runs, then the rule and the queue. Every step is tried whatever the
    /// others did.
    pub async fn remove(
        &self,
        setup: &Setup,
        res: &dyn CaptureResources,
        queues: &dyn Queue,
        replays: &dyn ReplayControl,
    ) -> (Vec<TempResource>, Option<ReplayEnding>) {
        let names = &setup.names;
        let mut out = Vec::new();
        if self.target.may_exist() {
            let result = res
                .remove_targets(&setup.bus, &names.rule, &[TARGET_ID.to_string()])
                .await;
            out.push(resource(
                ResourceKind::Target,
                TARGET_ID,
                setup,
                None,
                None,
                result,
            ));
        }
        let replay = self.end_replay(names, replays).await;
        if self.rule.may_exist() {
            let result = res.delete_rule(&setup.bus, &names.rule).await;
            out.push(resource(
                ResourceKind::Rule,
                &names.rule,
                setup,
                Some(setup.rule_arn.clone()),
                None,
                result,
            ));
        }
        if self.queue.may_exist() {
            let known = match &self.queue {
                Step::Done(q) => Ok(q.clone()),
                // Its answer was lost: find it by name.
                _ => queues.resolve(&names.queue).await,
            };
            let (url, result) = match known {
                Ok(q) => (Some(q.url.clone()), res.delete_queue(&q.url).await),
                Err(e) => (None, Err(e)),
            };
            out.push(resource(
                ResourceKind::Queue,
                &names.queue,
                setup,
                Some(setup.queue_arn.clone()),
                url,
                result,
            ));
        }
        (out, replay)
    }

    /// Cancels the replay unless it ended; None when it was never started.
    async fn end_replay(
        &self,
        names: &RunNames,
        replays: &dyn ReplayControl,
    ) -> Option<ReplayEnding> {
        if !self.replay.may_exist() {
            return None;
        }
        let last = self.last_status.lock().expect("status lock").clone();
        let mut ending = ReplayEnding {
            name: names.replay.clone(),
            arn: match &self.replay {
                Step::Done(arn) => arn.clone(),
                _ => None,
            }
            .or_else(|| last.as_ref().and_then(|s| s.arn.clone())),
            state: last.as_ref().map(|s| s.state.clone()),
            state_reason: last.as_ref().and_then(|s| s.state_reason.clone()),
            cancelled: false,
            cancel_error: None,
        };
        if last.as_ref().is_some_and(|s| s.state.is_terminal()) {
            return Some(ending);
        }
        match replays.cancel_replay(&names.replay).await {
            Ok(state) => {
                ending.cancelled = true;
                ending.state = Some(state);
            }
            // Ended meanwhile.
            Err(PortError::IllegalState(_)) => {}
            // The start never got through.
            Err(PortError::NotFound(_)) if !matches!(self.replay, Step::Done(_)) => return None,
            Err(e) => {
                ending.cancel_error = Some(format!(
                    "{e}; it replays only to the export's (removed) rule, but holds one of the 10 active replays until it ends: `nexus-replay cancel {}`",
                    names.replay
                ))
            }
        }
        Some(ending)
    }
}

fn resource(
    kind: ResourceKind,
    name: &str,
    setup: &Setup,
    arn: Option<String>,
    url: Option<String>,
    result: Result<(), PortError>,
) -> TempResource {
    TempResource {
        kind,
        name: name.to_string(),
        bus: (kind != ResourceKind::Queue).then(|| setup.bus.clone()),
        rule: (kind == ResourceKind::Target).then(|| setup.names.rule.clone()),
        arn,
        url,
        removal: Removal::Removed,
    }
    .removed_as(result)
}
