//! What an export reports, as plain data (rendering lives with the command line): the
//! replay, the window, the file, the counts, and every temporary resource with whether it
//! was removed, or the exact command that removes it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::check::Window;
use super::collect::SkipReason;
use crate::error::AppError;
use crate::exit_codes;
use crate::interrupt::Signal;
use crate::ports::PortError;
use crate::ports::replay::ReplayState;

/// The kinds of temporary resource an export creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    Queue,
    Rule,
    /// The queue as the rule's target.
    Target,
}

impl ResourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Queue => "queue",
            ResourceKind::Rule => "rule",
            ResourceKind::Target => "target",
        }
    }
}

/// What became of a temporary resource at the end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Removal {
    Removed,
    /// Not there: its creation failed before it was applied, or it was removed already.
    Absent,
    /// Still there: the removal failed. `remove_with` is the command that removes it.
    Failed {
        error: String,
        remove_with: String,
    },
}

/// A temporary resource of the export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TempResource {
    pub kind: ResourceKind,
    /// The rule's or queue's name, or the target's id.
    pub name: String,
    /// The bus of a rule or target.
    pub bus: Option<String>,
    /// The rule of a target.
    pub rule: Option<String>,
    pub arn: Option<String>,
    /// A queue's URL.
    pub url: Option<String>,
    pub removal: Removal,
}

impl TempResource {
    /// The AWS CLI command that removes it.
    pub fn remove_with(&self) -> String {
        let bus = self.bus.as_deref().unwrap_or("default");
        match self.kind {
            ResourceKind::Target => format!(
                "aws events remove-targets --event-bus-name {bus} --rule {} --ids {}",
                self.rule.as_deref().unwrap_or("?"),
                self.name
            ),
            ResourceKind::Rule => {
                format!(
                    "aws events delete-rule --event-bus-name {bus} --name {}",
                    self.name
                )
            }
            ResourceKind::Queue => match &self.url {
                Some(url) => format!("aws sqs delete-queue --queue-url {url}"),
                None => format!(
                    "aws sqs delete-queue --queue-url \"$(aws sqs get-queue-url --queue-name {} --query QueueUrl --output text)\"",
                    self.name
                ),
            },
        }
    }

    /// One line saying what became of it.
    pub fn outcome_line(&self) -> String {
        let what = format!("{} {}", self.kind.as_str(), self.name);
        match &self.removal {
            Removal::Removed => format!("removed {what}"),
            Removal::Absent => format!("{what} was not there"),
            Removal::Failed { error, remove_with } => {
                format!("could not remove {what} ({error}): remove it with `{remove_with}`")
            }
        }
    }

    /// The resource with the removal `outcome` recorded (NotFound: it was not there).
    pub(crate) fn removed_as(mut self, outcome: Result<(), PortError>) -> TempResource {
        self.removal = match outcome {
            Ok(()) => Removal::Removed,
            Err(PortError::NotFound(_)) => Removal::Absent,
            Err(e) => Removal::Failed {
                error: e.to_string(),
                remove_with: self.remove_with(),
            },
        };
        self
    }

    pub fn is_left(&self) -> bool {
        matches!(self.removal, Removal::Failed { .. })
    }
}

/// How the export's replay ended, and whether the export cancelled it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplayEnding {
    pub name: String,
    pub arn: Option<String>,
    /// The last state seen (None when it was never described).
    pub state: Option<ReplayState>,
    pub state_reason: Option<String>,
    /// The export stopped early and cancelled the replay (it sends only to the export's
    /// rule, so nothing else loses anything).
    pub cancelled: bool,
    /// Why the cancellation failed, with how to cancel it.
    pub cancel_error: Option<String>,
}

/// How the export ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportOutcome {
    /// The replay COMPLETED, the queue settled, and the file was written.
    Completed,
    /// Ctrl-C or SIGTERM; no file.
    Interrupted,
    /// The replay ended FAILED; no file.
    ReplayFailed,
    /// The replay was CANCELLED by someone else; no file.
    ReplayCancelled,
    /// `--timeout` passed before the replay ended; no file.
    TimedOut,
}

/// The window as asked (`end` None: the default, now − the archive lag).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RequestedWindow {
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
}

/// The summary of an export that ran (completed or not).
#[derive(Debug, Clone, Serialize)]
pub struct ExportReport {
    pub run_id: String,
    pub replay_name: String,
    pub archive: String,
    pub bus: String,
    pub window: Window,
    pub requested: RequestedWindow,
    /// The temporary rule's pattern (the filter and the replay guard).
    pub pattern: String,
    pub outcome: ExportOutcome,
    pub signal: Option<Signal>,
    /// The file written; None unless the export completed.
    pub file: Option<PathBuf>,
    /// Events written (or, for an export that did not complete, that would have been).
    pub total: u64,
    pub events_per_type: BTreeMap<String, u64>,
    /// Messages received from the queue.
    pub received: u64,
    /// Messages not written, by the local guard that kept them out.
    pub skipped: BTreeMap<SkipReason, u64>,
    /// Dedup keys met with different contents (every version was written).
    pub conflicts: Vec<String>,
    pub replay: ReplayEnding,
    pub resources: Vec<TempResource>,
    pub warnings: Vec<String>,
}

impl ExportReport {
    /// Resources the export could not remove.
    pub fn leftovers(&self) -> impl Iterator<Item = &TempResource> {
        self.resources.iter().filter(|r| r.is_left())
    }

    /// 0 completed; 3 completed but a temporary resource is left; 4 the replay FAILED or
    /// was CANCELLED; 5 timed out; 130 / 143 interrupted.
    pub fn exit_code(&self) -> u8 {
        match self.outcome {
            ExportOutcome::Completed if self.leftovers().next().is_some() => exit_codes::PARTIAL,
            ExportOutcome::Completed => exit_codes::SUCCESS,
            ExportOutcome::Interrupted => self
                .signal
                .map_or(exit_codes::INTERRUPTED, Signal::exit_code),
            ExportOutcome::ReplayFailed | ExportOutcome::ReplayCancelled => {
                exit_codes::REPLAY_NOT_COMPLETED
            }
            ExportOutcome::TimedOut => exit_codes::TIMED_OUT,
        }
    }
}

/// An export that failed, with what it had created and what became of it.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct ExportError {
    pub error: AppError,
    /// Empty when it failed before creating anything.
    pub resources: Vec<TempResource>,
    /// The replay, when it was started.
    pub replay: Option<ReplayEnding>,
}

impl ExportError {
    pub fn exit_code(&self) -> u8 {
        self.error.exit_code()
    }

    pub fn leftovers(&self) -> impl Iterator<Item = &TempResource> {
        self.resources.iter().filter(|r| r.is_left())
    }
}

impl From<AppError> for ExportError {
    fn from(error: AppError) -> ExportError {
        ExportError {
            error,
            resources: Vec::new(),
            replay: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(kind: ResourceKind, url: Option<&str>) -> TempResource {
        TempResource {
            kind,
            name: "nexus-export-x".into(),
            bus: Some("aws.partner/stripe.com/ed_1".into()),
            rule: Some("nexus-export-x".into()),
            arn: None,
            url: url.map(str::to_string),
            removal: Removal::Removed,
        }
    }

    #[test]
    fn each_resource_says_how_to_remove_it() {
        assert_eq!(
            resource(ResourceKind::Rule, None).remove_with(),
            "aws events delete-rule --event-bus-name aws.partner/stripe.com/ed_1 --name nexus-export-x"
        );
        let mut t = resource(ResourceKind::Target, None);
        t.name = "nexus-export".into();
        assert_eq!(
            t.remove_with(),
            "aws events remove-targets --event-bus-name aws.partner/stripe.com/ed_1 --rule nexus-export-x --ids nexus-export"
        );
        assert_eq!(
            resource(ResourceKind::Queue, Some("https://q/1/nexus-export-x")).remove_with(),
            "aws sqs delete-queue --queue-url https://q/1/nexus-export-x"
        );
        assert!(
            resource(ResourceKind::Queue, None)
                .remove_with()
                .contains("get-queue-url --queue-name nexus-export-x")
        );
    }
}
