//! `start --exact`: replay exactly the named types (or event ids) to exactly the targets of
//! the selected rules. The window is exported (`archive export`'s engine) into a run file
//! under the state dir; each (event, rule, target) the rules' patterns allow becomes one
//! line of a delivery file carrying RULE_ARN and TARGET_ARN, which `reemit --to target`
//! delivers with the ledger: claims are keyed by dedup key and target ARN, so a rerun
//! after a crash delivers only what was not delivered yet.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::archive_export::run as run_export;
use super::dlq_export::ExportedMessage;
use super::drain::DrainReport;
use super::reemit::{ReemitRequest, config, reemit};
use crate::archive::export::{ExportOptions, ExportPorts, ExportRequest};
use crate::archive::filter::ExportFilter;
use crate::archive::progress::ExportObserver;
use crate::archive::report::{ExportOutcome, ExportReport};
use crate::drain::engine::{DrainObserver, DrainPorts, QuietDrain};
use crate::drain::event::DedupSpec;
use crate::drain::outcome::{PlannedTarget, TargetTally};
use crate::error::AppError;
use crate::interrupt::Signal;
use crate::options::{DrainOptions, RedriveTo};
use crate::output::Report;
use crate::pattern::Pattern;
use crate::ports::bus::BusCatalogue;
use crate::replay::plan::{PlanRequest, plan};

/// What `start --exact` is asked.
#[derive(Debug, Clone, Default)]
pub struct ExactRequest {
    pub plan: PlanRequest,
    /// Event ids (the envelope id, or a Stripe event id in `detail.id`).
    pub ids: Vec<String>,
    pub dry_run: bool,
    /// Where the run files go (`<state dir>/exact`).
    pub run_dir: PathBuf,
    pub run_id: String,
    /// The export's settle period (default: the export's).
    pub settle: Option<std::time::Duration>,
}

/// Refuses (exit 2), before anything exists, an `--exact` that names nothing exactly.
pub fn check(req: &ExactRequest) -> Result<(), AppError> {
    if req.plan.event_types.is_empty() && req.ids.is_empty() {
        return Err(AppError::usage(
            "--exact replays exactly what you name: give --event-type TYPE or --id ID (repeatable)",
        ));
    }
    if req.plan.all_rules {
        return Err(AppError::usage(
            "--exact delivers to the targets of the rules selected for the types; --all-rules would name every rule: pick rules with --event-type or --rule",
        ));
    }
    Ok(())
}

/// A selected rule and where its events go.
#[derive(Debug, Clone, Serialize)]
pub struct ExactRule {
    pub arn: String,
    pub targets: Vec<String>,
}

/// What will be delivered: shown before asking.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ExactPlan {
    pub archive: String,
    pub bus: String,
    pub window: (DateTime<Utc>, DateTime<Utc>),
    pub rules: Vec<ExactRule>,
    pub events_per_type: BTreeMap<String, u64>,
    /// Deliveries per target ARN.
    pub events_per_target: BTreeMap<String, u64>,
    /// The transformed input of one sample event per target.
    pub samples: Vec<PlannedTarget>,
    /// The exported window (the run file).
    pub export_file: PathBuf,
    /// One line per (event, rule, target): what is delivered.
    pub delivery_file: PathBuf,
}

impl ExactPlan {
    pub fn text(&self) -> String {
        let mut s = format!(
            "Exact replay from archive {} (bus {}), events from {} to {}\n",
            self.archive, self.bus, self.window.0, self.window.1
        );
        for (t, n) in &self.events_per_type {
            s.push_str(&format!("  {n} event(s) of type {t}\n"));
        }
        for r in &self.rules {
            s.push_str(&format!("  rule {}\n", r.arn));
        }
        for (t, n) in &self.events_per_target {
            s.push_str(&format!("  {n} delivery(ies) to {t}\n"));
        }
        for p in &self.samples {
            s.push_str(&format!(
                "  sample input for {} ({}): {}\n",
                p.arn, p.kind, p.input_preview
            ));
        }
        s
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExactEnding {
    DryRun,
    Declined,
    Delivered,
    /// The export did not complete (Ctrl-C, a FAILED or CANCELLED replay, a timeout):
    /// nothing was delivered.
    ExportNotCompleted,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExactReport {
    pub run_id: String,
    pub replay_name: String,
    pub outcome: ExactEnding,
    pub plan: ExactPlan,
    /// The window's export: its replay, warnings and temporary resources.
    pub export: ExportReport,
    /// Per target: delivered, duplicates skipped (claimed by an earlier run), failed.
    pub targets: Vec<TargetTally>,
    #[serde(skip)]
    pub delivery: Option<DrainReport>,
}

impl Report for ExactReport {
    fn human(&self) -> String {
        let mut s = self.plan.text();
        match &self.delivery {
            None if self.outcome == ExactEnding::DryRun => {
                s.push_str("dry run: nothing was delivered\n")
            }
            None if self.outcome == ExactEnding::ExportNotCompleted => s.push_str(&format!(
                "the export of the window did not complete ({}); nothing was delivered\n",
                serde_json::to_value(self.export.outcome)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            )),
            None => s.push_str("not confirmed; nothing was delivered\n"),
            Some(d) => s.push_str(&d.human()),
        }
        s
    }
    /// The delivery's code when it is not 0, else the export's (which is not 0 when the
    /// export did not complete, or left a temporary resource).
    fn exit_code(&self) -> u8 {
        match &self.delivery {
            Some(d) if d.exit_code() != crate::exit_codes::SUCCESS => d.exit_code(),
            _ => self.export.exit_code(),
        }
    }
}

/// The delivery lines of one exported event: one per target of each rule whose pattern
/// matches it (a rule without a pattern takes it). `home` is an ARN in the rules' account
/// and Region, which the target redrive checks each RULE_ARN against.
fn deliveries(
    event: &str,
    index: usize,
    rules: &[(ExactRule, Option<Pattern>)],
    home: &str,
) -> Vec<ExportedMessage> {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(event) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (rule, pattern) in rules {
        if pattern.as_ref().is_some_and(|p| !p.matches(&value)) {
            continue;
        }
        for target in &rule.targets {
            let attributes = BTreeMap::from([
                ("RULE_ARN".to_string(), rule.arn.clone()),
                ("TARGET_ARN".to_string(), target.clone()),
            ]);
            out.push(ExportedMessage {
                queue: "exact".into(),
                queue_arn: Some(home.to_string()),
                message_id: format!("{index}-{}", out.len()),
                body: event.to_string(),
                attributes,
                sent_at: None,
                receive_count: 1,
            });
        }
    }
    out
}

/// The selected rules with their patterns and targets.
async fn selected_rules(
    cat: &dyn BusCatalogue,
    bus: &str,
    arns: &[String],
) -> Result<Vec<(ExactRule, Option<Pattern>)>, AppError> {
    let listed = cat.list_rules(bus).await?;
    let mut rules = Vec::new();
    for arn in arns {
        let Some(info) = listed.iter().find(|r| &r.arn == arn) else {
            continue;
        };
        let pattern = match &info.event_pattern {
            Some(p) => Some(Pattern::parse(p).map_err(|e| {
                AppError::usage(format!(
                    "rule {}: its pattern cannot be read: {e}",
                    info.name
                ))
            })?),
            None => None,
        };
        let targets = cat
            .list_targets(bus, &info.name)
            .await?
            .into_iter()
            .map(|t| t.arn)
            .collect();
        rules.push((
            ExactRule {
                arn: arn.clone(),
                targets,
            },
            pattern,
        ));
    }
    Ok(rules)
}

fn write_lines(path: &Path, lines: &[ExportedMessage]) -> Result<(), AppError> {
    let mut text = String::new();
    for l in lines {
        text.push_str(&serde_json::to_string(l).map_err(|e| AppError::Io(e.to_string()))?);
        text.push('\n');
    }
    std::fs::write(path, text)
        .map_err(|e| AppError::Io(format!("cannot write {}: {e}", path.display())))
}

fn target_request(file: &Path, dry_run: bool) -> ReemitRequest {
    ReemitRequest {
        from: file.to_path_buf(),
        bus: None,
        options: DrainOptions {
            to: RedriveTo::Target,
            dry_run,
            ..DrainOptions::default()
        },
    }
}

/// Exports, plans, asks once (`confirm`), then delivers. `interrupt` makes the signal
/// future of each step (the export, then the delivery).
#[allow(clippy::too_many_arguments)]
pub async fn start_exact<F, I>(
    ports: &ExportPorts<'_>,
    drain: DrainPorts,
    req: &ExactRequest,
    confirm: &mut dyn FnMut(&ExactPlan) -> Result<bool, AppError>,
    export_observer: &mut dyn ExportObserver,
    drain_observer: Arc<dyn DrainObserver>,
    interrupt: F,
    now: DateTime<Utc>,
) -> Result<ExactReport, AppError>
where
    F: Fn() -> I,
    I: Future<Output = Signal> + Send + 'static,
{
    check(req)?;
    let replay = plan(ports.catalogue, ports.replays, &req.plan, now).await?;
    if replay.filter_arns.is_empty() {
        return Err(AppError::usage(
            "no rule is selected for these types, so there is no target to deliver to; see the rules with `nexus-replay rules`, or name one with --rule",
        ));
    }
    let rules = selected_rules(ports.catalogue, &replay.bus, &replay.filter_arns).await?;
    std::fs::create_dir_all(&req.run_dir)
        .map_err(|e| AppError::Io(format!("cannot create {}: {e}", req.run_dir.display())))?;
    let export_file = req.run_dir.join(format!("{}.jsonl", req.run_id));
    let export_req = ExportRequest {
        archive: replay.archive.clone(),
        start: replay.start,
        end: Some(replay.end),
        filter: ExportFilter {
            event_types: req.plan.event_types.clone(),
            type_fields: req.plan.type_fields.clone(),
            sources: req.plan.sources.clone(),
            pattern: None,
            ids: req.ids.clone(),
        },
        dedup: DedupSpec::Default,
        out: export_file.clone(),
        started_by: req.plan.started_by.clone(),
        options: ExportOptions {
            settle: req.settle.unwrap_or(crate::archive::export::DEFAULT_SETTLE),
            ..ExportOptions::default()
        },
    };
    let exported: ExportReport =
        run_export(ports, &export_req, None, now, export_observer, interrupt()).await?;
    let mut report = ExactReport {
        run_id: req.run_id.clone(),
        replay_name: exported.replay_name.clone(),
        outcome: ExactEnding::ExportNotCompleted,
        plan: ExactPlan {
            archive: replay.archive.clone(),
            bus: replay.bus.clone(),
            window: (replay.start, replay.end),
            rules: rules.iter().map(|(r, _)| r.clone()).collect(),
            events_per_type: exported.events_per_type.clone(),
            export_file: export_file.clone(),
            ..ExactPlan::default()
        },
        export: exported,
        targets: Vec::new(),
        delivery: None,
    };
    if report.export.outcome != ExportOutcome::Completed {
        return Ok(report);
    }
    let text = std::fs::read_to_string(&export_file)
        .map_err(|e| AppError::Io(format!("cannot read {}: {e}", export_file.display())))?;
    let lines: Vec<ExportedMessage> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .flat_map(|(i, l)| deliveries(l, i, &rules, &replay.bus_arn))
        .collect();
    let delivery_file = req.run_dir.join(format!("{}-deliveries.jsonl", req.run_id));
    write_lines(&delivery_file, &lines)?;
    report.plan.delivery_file = delivery_file.clone();
    for l in &lines {
        *report
            .plan
            .events_per_target
            .entry(l.attributes["TARGET_ARN"].clone())
            .or_insert(0) += 1;
    }
    // A dry run of the delivery, without the ledger, shows what each target receives.
    let preview_cfg = config(&target_request(&delivery_file, true), req.run_id.clone())?;
    let preview_ports = DrainPorts {
        ledger: None,
        ..drain.clone()
    };
    let preview = reemit(
        &delivery_file,
        preview_cfg,
        preview_ports,
        Arc::new(QuietDrain),
        std::future::pending(),
    )
    .await?;
    let mut seen = BTreeSet::new();
    report.plan.samples = (preview.outcome.planned.iter())
        .filter_map(|p| p.target.clone())
        .filter(|t| seen.insert(t.arn.clone()))
        .collect();
    report.outcome = ExactEnding::DryRun;
    if req.dry_run {
        return Ok(report);
    }
    if !confirm(&report.plan)? {
        report.outcome = ExactEnding::Declined;
        return Ok(report);
    }
    let cfg = config(&target_request(&delivery_file, false), req.run_id.clone())?;
    let delivered = reemit(&delivery_file, cfg, drain, drain_observer, interrupt()).await?;
    report.outcome = ExactEnding::Delivered;
    report.targets = delivered.outcome.targets.clone();
    report.delivery = Some(delivered);
    Ok(report)
}

#[cfg(test)]
#[path = "start_exact_tests.rs"]
mod tests;
