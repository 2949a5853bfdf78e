//! `archive export --cleanup`: what a killed export left (its rule on a bus, the rule's
//! target, its queue), found by name prefix and checked to be an export's (the rule's
//! description, the queue's purpose tag), grouped by run. Finding changes nothing; the
//! command line shows the list, asks, and then removes it: targets first, then rules,
//! then queues. A run whose replay is still STARTING or RUNNING may belong to an export
//! that is alive, so it is listed but not removed.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::names::{DESCRIPTION_MARK, PREFIX, PURPOSE, TAG_PURPOSE, run_id_of, started_at};
use super::report::{Removal, ResourceKind, TempResource};
use crate::error::AppError;
use crate::exit_codes;
use crate::ports::PortError;
use crate::ports::capture::{CaptureResources, FoundQueue, FoundRule};
use crate::ports::replay::{ReplayControl, ReplayState};

/// What one export run left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeftoverRun {
    pub run_id: String,
    pub started: Option<DateTime<Utc>>,
    pub replay: String,
    /// The replay's state; None when it does not exist (it never started).
    pub replay_state: Option<ReplayState>,
    /// The replay is STARTING or RUNNING: the export may be alive, so nothing is removed.
    pub in_use: bool,
    pub rules: Vec<FoundRule>,
    pub queues: Vec<FoundQueue>,
}

/// What `find_leftovers` found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Leftovers {
    pub buses: Vec<String>,
    pub runs: Vec<LeftoverRun>,
    /// Resources named like an export's that are not one (not removed), with why.
    pub not_ours: Vec<String>,
}

impl Leftovers {
    /// The runs `remove_leftovers` removes.
    pub fn removable(&self) -> impl Iterator<Item = &LeftoverRun> {
        self.runs.iter().filter(|r| !r.in_use)
    }

    pub fn is_empty(&self) -> bool {
        self.removable().next().is_none()
    }
}

/// What `remove_leftovers` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CleanupReport {
    pub resources: Vec<TempResource>,
    /// Runs kept because their replay is active.
    pub kept: Vec<String>,
}

impl CleanupReport {
    /// 0 when everything found was removed, 3 when something is left.
    pub fn exit_code(&self) -> u8 {
        if self.resources.iter().any(TempResource::is_left) {
            exit_codes::PARTIAL
        } else {
            exit_codes::SUCCESS
        }
    }
}

fn run_for<'a>(runs: &'a mut BTreeMap<String, LeftoverRun>, id: &str) -> &'a mut LeftoverRun {
    runs.entry(id.to_string()).or_insert_with(|| LeftoverRun {
        run_id: id.to_string(),
        started: started_at(id),
        replay: format!("{PREFIX}{id}"),
        replay_state: None,
        in_use: false,
        rules: Vec::new(),
        queues: Vec::new(),
    })
}

/// Looks for leftovers on `buses` and among the queues. Changes nothing.
pub async fn find_leftovers(
    res: &dyn CaptureResources,
    replays: &dyn ReplayControl,
    buses: &[String],
) -> Result<Leftovers, AppError> {
    let mut runs: BTreeMap<String, LeftoverRun> = BTreeMap::new();
    let mut not_ours = Vec::new();
    for bus in buses {
        for rule in res.rules_named(bus, PREFIX).await? {
            let ours = rule
                .description
                .as_deref()
                .is_some_and(|d| d.starts_with(DESCRIPTION_MARK));
            match run_id_of(&rule.name) {
                Some(id) if ours => run_for(&mut runs, id).rules.push(rule),
                _ => not_ours.push(format!(
                    "rule {} on bus {bus}: its description does not mark it as an export's",
                    rule.name
                )),
            }
        }
    }
    for queue in res.queues_named(PREFIX).await? {
        let ours = queue.tags.get(TAG_PURPOSE).map(String::as_str) == Some(PURPOSE);
        match run_id_of(&queue.name) {
            Some(id) if ours => run_for(&mut runs, id).queues.push(queue),
            _ => not_ours.push(format!(
                "queue {}: it has no {TAG_PURPOSE}={PURPOSE} tag",
                queue.name
            )),
        }
    }
    for run in runs.values_mut() {
        match replays.describe_replay(&run.replay).await {
            Ok(s) => {
                run.in_use = s.state.is_active();
                run.replay_state = Some(s.state);
            }
            Err(PortError::NotFound(_)) => {}
            Err(e) => return Err(AppError::Port(e)),
        }
    }
    Ok(Leftovers {
        buses: buses.to_vec(),
        runs: runs.into_values().collect(),
        not_ours,
    })
}

/// Removes what `find_leftovers` found (except runs in use): each rule's targets, then
/// the rule, then the queues.
pub async fn remove_leftovers(res: &dyn CaptureResources, found: &Leftovers) -> CleanupReport {
    let mut report = CleanupReport {
        kept: found
            .runs
            .iter()
            .filter(|r| r.in_use)
            .map(|r| r.run_id.clone())
            .collect(),
        ..CleanupReport::default()
    };
    for run in found.removable() {
        for rule in &run.rules {
            let base = |kind, name: &str| TempResource {
                kind,
                name: name.to_string(),
                bus: Some(rule.bus.clone()),
                rule: (kind == ResourceKind::Target).then(|| rule.name.clone()),
                arn: (kind == ResourceKind::Rule).then(|| rule.arn.clone()),
                url: None,
                removal: Removal::Removed,
            };
            let ids = match res.target_ids(&rule.bus, &rule.name).await {
                Ok(ids) => ids,
                // Gone already (NotFound), or its targets cannot be read: not deleted blind.
                Err(e) => {
                    let e = match e {
                        PortError::NotFound(m) => PortError::NotFound(m),
                        e => PortError::Other(format!("cannot list its targets: {e}")),
                    };
                    let r = base(ResourceKind::Rule, &rule.name).removed_as(Err(e));
                    report.resources.push(r);
                    continue;
                }
            };
            let mut targets_gone = true;
            if !ids.is_empty() {
                let outcome = res.remove_targets(&rule.bus, &rule.name, &ids).await;
                for id in &ids {
                    let r = base(ResourceKind::Target, id).removed_as(outcome.clone());
                    targets_gone &= !r.is_left();
                    report.resources.push(r);
                }
            }
            let outcome = if targets_gone {
                res.delete_rule(&rule.bus, &rule.name).await
            } else {
                Err(PortError::Other(
                    "not deleted: its targets could not be removed".into(),
                ))
            };
            report
                .resources
                .push(base(ResourceKind::Rule, &rule.name).removed_as(outcome));
        }
        for queue in &run.queues {
            let r = TempResource {
                kind: ResourceKind::Queue,
                name: queue.name.clone(),
                bus: None,
                rule: None,
                arn: None,
                url: Some(queue.url.clone()),
                removal: Removal::Removed,
            };
            let outcome = res.delete_queue(&queue.url).await;
            report.resources.push(r.removed_as(outcome));
        }
    }
    report
}
