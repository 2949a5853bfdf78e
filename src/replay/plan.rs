//! Planning a replay: resolve archive and bus, check the window, select the rules whose
//! patterns can match the requested event types and sources, and name the replay.
//! Nothing is changed here; every refusal is a usage error (exit 2). Each step lives in
//! its own module (window, filters, archive, rules, naming); this one puts them in order.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::archive::{check_archive_window, replay_bus, resolve_archive};
use super::filters::{check_filters, type_fields};
use super::naming::{check_name, description, replay_name};
use super::rules::{every_rule, select_rules};
use super::window::window;
use crate::error::AppError;
use crate::ports::bus::BusCatalogue;
use crate::ports::replay::{ReplayControl, ReplayFilter, ReplayRequest, ReplayState};

pub use super::naming::{generate_name, valid_replay_name};
pub use super::request::PlanRequest;
pub use super::rules::{DEFAULT_TYPE_FIELDS, RuleChoice, Selection};
pub use super::window::ARCHIVE_LAG_MINUTES;

/// Active replays allowed per account and Region.
pub const MAX_ACTIVE_REPLAYS: usize = 10;

/// A replay ready to start.
#[derive(Debug, Clone, Serialize)]
pub struct ReplayPlan {
    pub name: String,
    pub description: String,
    pub archive: String,
    pub archive_arn: String,
    pub bus: String,
    pub bus_arn: String,
    pub start: DateTime<Utc>,
    /// The start asked for: always `start` (a window before the archive's creation is
    /// kept, with a warning); kept in the JSON report for scripts that read it.
    pub requested_start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub event_types: Vec<String>,
    pub sources: Vec<String>,
    pub all_rules: bool,
    pub rules: Selection,
    pub filter_arns: Vec<String>,
    pub warnings: Vec<String>,
}

impl ReplayPlan {
    pub fn request(&self) -> ReplayRequest {
        ReplayRequest {
            name: self.name.clone(),
            description: Some(self.description.clone()),
            archive_arn: self.archive_arn.clone(),
            start: self.start,
            end: self.end,
            destination_bus_arn: self.bus_arn.clone(),
            filter_arns: self.filter_arns.clone(),
        }
    }
}

/// Validates everything and builds the plan. Reads only.
pub async fn plan(
    cat: &dyn BusCatalogue,
    ctl: &dyn ReplayControl,
    req: &PlanRequest,
    now: DateTime<Utc>,
) -> Result<ReplayPlan, AppError> {
    let asked = window(&req.since, req.until.as_deref(), now)?;
    let mut warnings = asked.warnings;
    check_name(req.name.as_deref())?;
    check_filters(req)?;

    let archive = resolve_archive(cat, req).await?;
    let bus = replay_bus(&archive, req.bus.as_deref())?;
    let (start, end) = (asked.start, asked.end);
    check_archive_window(&archive, start, end, now, &mut warnings)?;
    let requested_start = start;

    let rules = cat.list_rules(&bus).await?;
    let selection = if req.all_rules {
        every_rule(&rules)
    } else {
        select_rules(
            &rules,
            &req.event_types,
            &req.sources,
            &req.rules,
            &type_fields(req),
            req.include_catch_all,
        )
        .map_err(AppError::Usage)?
    };
    for r in selection.selected.iter().filter(|r| r.disabled) {
        warnings.push(format!(
            "rule {} is DISABLED and will receive nothing",
            r.name
        ));
    }
    check_active_limit(ctl).await?;

    let filter_arns: Vec<String> = selection
        .selected
        .iter()
        .map(|r| r.arn.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    Ok(ReplayPlan {
        description: description(req, &selection.selected),
        name: replay_name(req, start),
        archive: archive.name.clone(),
        archive_arn: archive.arn.clone(),
        bus,
        bus_arn: archive.source_arn.clone(),
        start,
        requested_start,
        end,
        event_types: req.event_types.clone(),
        sources: req.sources.clone(),
        all_rules: req.all_rules,
        rules: selection,
        filter_arns,
        warnings,
    })
}

/// Refuses a new replay when the account already runs [`MAX_ACTIVE_REPLAYS`].
async fn check_active_limit(ctl: &dyn ReplayControl) -> Result<(), AppError> {
    let mut active = Vec::new();
    for state in [ReplayState::Starting, ReplayState::Running] {
        let filter = ReplayFilter {
            state: Some(state),
            ..ReplayFilter::default()
        };
        active.extend(ctl.list_replays(&filter, 100).await?);
    }
    if active.len() >= MAX_ACTIVE_REPLAYS {
        let names: Vec<String> = active
            .iter()
            .map(|r| format!("{} ({})", r.name, r.state))
            .collect();
        return Err(AppError::usage(format!(
            "{} replays are already active, the account's limit is {MAX_ACTIVE_REPLAYS}: {}; wait for one to finish or cancel one with `nexus-replay cancel NAME`",
            active.len(),
            names.join(", ")
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::replay::ReplayStatus;
    use crate::replay::fixtures::{BUS, err, fake, now, req};
    use chrono::Duration;

    #[tokio::test]
    async fn a_good_plan_has_the_default_window_and_filter_arns() {
        let eb = fake();
        let p = plan(&eb, &eb, &req("2h"), now()).await.unwrap();
        assert_eq!(p.start, now() - Duration::hours(2));
        assert_eq!(p.end, now() - Duration::minutes(10));
        assert_eq!(p.archive, "archive");
        assert_eq!(
            p.filter_arns,
            [format!(
                "arn:aws:events:us-east-2:123456789012:rule/{BUS}/subscription"
            )]
        );
        assert!(p.warnings.is_empty());
        assert!(
            p.description.contains("oncall@host")
                && p.description.contains("customer.subscription.updated")
        );
        assert!(eb.started().is_empty(), "planning starts nothing");
    }

    #[tokio::test]
    async fn ten_active_replays_are_refused_and_listed() {
        let eb = fake();
        for i in 0..10 {
            eb.add_replay(ReplayStatus {
                name: format!("busy-{i}"),
                arn: None,
                description: None,
                state: if i % 2 == 0 {
                    ReplayState::Running
                } else {
                    ReplayState::Starting
                },
                state_reason: None,
                archive_arn: None,
                destination_arn: None,
                filter_arns: vec![],
                event_start: None,
                event_end: None,
                event_last_replayed: None,
                replay_start: None,
                replay_end: None,
            });
        }
        let e = err(&eb, req("2h")).await;
        assert!(
            e.contains("10 replays are already active") && e.contains("busy-9 (STARTING)"),
            "{e}"
        );
    }
}
