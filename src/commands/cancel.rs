//! `cancel NAME [--wait]`: cancel a STARTING or RUNNING replay.

use std::future::Future;

use serde::Serialize;

use super::start::{Ending, conclude};
use super::status::describe;
use crate::error::AppError;
use crate::ports::PortError;
use crate::ports::replay::{ReplayControl, ReplayState};
use crate::replay::watch::{WatchObserver, WatchOptions, watch};

#[derive(Debug, Clone, Serialize)]
pub struct CancelReport {
    pub name: String,
    /// The state right after CancelReplay (CANCELLING), or the final one with --wait.
    pub state: ReplayState,
    pub outcome: Option<Ending>,
    pub next: Vec<String>,
}

pub async fn cancel<I: Future<Output = crate::interrupt::Signal>>(
    ctl: &dyn ReplayControl,
    name: &str,
    wait: Option<&WatchOptions>,
    observer: &mut dyn WatchObserver,
    interrupt: I,
) -> Result<CancelReport, AppError> {
    let current = describe(ctl, name).await?;
    if !current.state.is_active() {
        return Err(AppError::usage(format!(
            "replay {name} is {}; only STARTING or RUNNING replays can be cancelled",
            current.state
        )));
    }
    let state = ctl.cancel_replay(name).await.map_err(|e| match e {
        PortError::IllegalState(m) => AppError::usage(format!(
            "{m}; only STARTING or RUNNING replays can be cancelled"
        )),
        other => AppError::Port(other),
    })?;
    tracing::info!(replay = name, %state, "cancellation requested");
    let Some(opts) = wait else {
        return Ok(CancelReport {
            name: name.into(),
            state,
            outcome: None,
            next: vec![format!(
                "follow it with: nexus-replay status {name} --watch"
            )],
        });
    };
    let outcome = watch(ctl, name, opts, observer, interrupt).await?;
    let (ending, last, next) = conclude(name, &outcome);
    Ok(CancelReport {
        name: name.into(),
        state: last.map(|s| s.state).unwrap_or(state),
        outcome: Some(ending),
        next,
    })
}
