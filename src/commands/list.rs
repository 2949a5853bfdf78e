//! `list`: replays in the account (paging), filtered by state and archive, or only
//! those this machine started (`--mine`).

use std::collections::BTreeSet;

use serde::Serialize;

use crate::error::{AppError, not_found_as};
use crate::ports::bus::BusCatalogue;
use crate::ports::replay::{ReplayControl, ReplayFilter, ReplayState, ReplayStatus};
use crate::replay::journal::Journal;

#[derive(Debug, Clone, Default)]
pub struct ListRequest {
    pub state: Option<ReplayState>,
    /// Archive name or ARN.
    pub archive: Option<String>,
    pub limit: usize,
    pub mine: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ListReport {
    pub replays: Vec<ReplayStatus>,
}

/// ListReplays accepts one filter per call: the state goes to the server, the archive is
/// sent when it is the only filter and otherwise applied here.
pub async fn list(
    cat: &dyn BusCatalogue,
    ctl: &dyn ReplayControl,
    journal: &Journal,
    req: &ListRequest,
) -> Result<ListReport, AppError> {
    let archive_arn = match &req.archive {
        Some(a) if a.starts_with("arn:") => Some(a.clone()),
        Some(a) => Some(
            cat.describe_archive(a)
                .await
                .map_err(|e| {
                    not_found_as(e, || {
                        format!("archive {a:?} does not exist; see `nexus-replay archives`")
                    })
                })?
                .arn,
        ),
        None => None,
    };
    let filter = ReplayFilter {
        state: req.state.clone(),
        archive_arn: if req.state.is_none() {
            archive_arn.clone()
        } else {
            None
        },
        name_prefix: None,
    };
    let mine: Option<BTreeSet<String>> = if req.mine {
        Some(
            journal
                .entries()
                .map_err(|e| AppError::Io(e.to_string()))?
                .into_iter()
                .map(|e| e.name)
                .collect(),
        )
    } else {
        None
    };
    // With client-side filters, read more than the limit so the limit applies after them.
    let fetch = if mine.is_some() || (req.state.is_some() && archive_arn.is_some()) {
        req.limit.max(1000)
    } else {
        req.limit
    };
    let replays = ctl
        .list_replays(&filter, fetch)
        .await?
        .into_iter()
        .filter(|r| archive_arn.is_none() || r.archive_arn == archive_arn)
        .filter(|r| mine.as_ref().is_none_or(|m| m.contains(&r.name)))
        .take(req.limit)
        .collect();
    Ok(ListReport { replays })
}
