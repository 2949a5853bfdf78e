//! `status [NAME] [--watch]`: one replay's state and progress; without a name, the last
//! replay this machine started.

use std::future::Future;

use serde::Serialize;

use super::start::{Ending, conclude};
use crate::error::{AppError, not_found_as};
use crate::ports::replay::{ReplayControl, ReplayStatus};
use crate::replay::journal::Journal;
use crate::replay::watch::{WatchObserver, WatchOptions, watch};

#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub replay: ReplayStatus,
    pub progress: Option<f64>,
    /// Set when the replay was watched.
    pub outcome: Option<Ending>,
    pub next: Vec<String>,
}

/// The replay name given, or the journal's last one.
pub fn name_or_last(name: Option<&str>, journal: &Journal) -> Result<String, AppError> {
    if let Some(n) = name {
        return Ok(n.to_string());
    }
    let last = journal
        .last()
        .map_err(|e| AppError::Io(e.to_string()))?
        .ok_or_else(|| {
            AppError::usage(format!(
                "no replay name given and this machine has started none (journal {}); pass a replay name, see `nexus-replay list`",
                journal.path().display()
            ))
        })?;
    Ok(last.name)
}

pub async fn describe(ctl: &dyn ReplayControl, name: &str) -> Result<ReplayStatus, AppError> {
    ctl.describe_replay(name).await.map_err(|e| {
        not_found_as(e, || {
            format!(
                "replay {name:?} does not exist in this account and region; see `nexus-replay list`"
            )
        })
    })
}

/// Shows (and with `watch_opts`, follows) a replay.
pub async fn status<I: Future<Output = crate::interrupt::Signal>>(
    ctl: &dyn ReplayControl,
    name: &str,
    watch_opts: Option<&WatchOptions>,
    observer: &mut dyn WatchObserver,
    interrupt: I,
) -> Result<StatusReport, AppError> {
    let current = describe(ctl, name).await?;
    let Some(opts) = watch_opts else {
        return Ok(StatusReport {
            progress: current.progress(),
            replay: current,
            outcome: None,
            next: Vec::new(),
        });
    };
    let outcome = watch(ctl, name, opts, observer, interrupt).await?;
    let (ending, last, next) = conclude(name, &outcome);
    let replay = last.unwrap_or(current);
    Ok(StatusReport {
        progress: replay.progress(),
        replay,
        outcome: Some(ending),
        next,
    })
}
