//! Planning a replay: resolve archive and bus, check the window, select the rules whose
//! patterns can match the requested event types and sources, and name the replay.
//! Nothing is changed here; every refusal is a usage error (exit 2).

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::discovery::require_bus;
use crate::error::{AppError, not_found_as};
use crate::ids::random_hex;
use crate::output::time;
use crate::pattern::{Known, Pattern};
use crate::ports::bus::{ArchiveInfo, BusCatalogue, RuleInfo};
use crate::ports::replay::{ReplayControl, ReplayFilter, ReplayRequest, ReplayState};
use crate::window::parse_when;

/// Archives lag ingestion by up to this much; the default window ends this long ago.
pub const ARCHIVE_LAG_MINUTES: i64 = 10;
/// Active replays allowed per account and Region.
pub const MAX_ACTIVE_REPLAYS: usize = 10;
/// Where the event type lives, tried in order per rule: Stripe-style `detail.type`, then
/// EventBridge's `detail-type`.
pub const DEFAULT_TYPE_FIELDS: &[&str] = &["detail.type", "detail-type"];
/// AWS's limit on a replay description.
const MAX_DESCRIPTION: usize = 512;

/// What the user asked for, as plain values.
#[derive(Debug, Clone, Default)]
pub struct PlanRequest {
    /// Archive name or ARN.
    pub archive: Option<String>,
    pub bus: Option<String>,
    pub since: String,
    pub until: Option<String>,
    pub event_types: Vec<String>,
    pub sources: Vec<String>,
    /// Rule names or ARNs to add explicitly.
    pub rules: Vec<String>,
    /// Replay to every rule (no FilterArns).
    pub all_rules: bool,
    pub include_catch_all: bool,
    pub type_fields: Vec<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    /// user@host, recorded in the description.
    pub started_by: String,
}

/// A rule considered by the plan, and why it was (not) chosen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleChoice {
    pub name: String,
    pub arn: String,
    pub reason: String,
    /// The rule's pattern also matches event types that were not asked for.
    pub also_matches_other_types: bool,
    pub disabled: bool,
}

/// The outcome of rule selection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Selection {
    pub selected: Vec<RuleChoice>,
    /// Rules whose patterns do not constrain the filtered fields at all.
    pub catch_all: Vec<RuleChoice>,
    pub not_matching: Vec<RuleChoice>,
    /// Managed rules (never selected).
    pub managed: Vec<String>,
}

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
    /// The start asked for, when it was moved to the archive's creation time.
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

    /// The plan for a person: exact UTC window, rules and why.
    pub fn human(&self) -> String {
        let mut s = format!(
            "Replay plan {}\n  archive: {}\n  bus:     {}\n  window:  {} → {} (UTC, {})\n",
            self.name,
            self.archive,
            self.bus,
            time(Some(self.start)),
            time(Some(self.end)),
            crate::window::human_duration(self.end - self.start),
        );
        if !self.event_types.is_empty() {
            s.push_str(&format!("  types:   {}\n", self.event_types.join(", ")));
        }
        if !self.sources.is_empty() {
            s.push_str(&format!("  sources: {}\n", self.sources.join(", ")));
        }
        if self.all_rules {
            s.push_str("  rules:   ALL rules on the bus (no FilterArns)\n");
        } else {
            s.push_str("  selected rules (FilterArns):\n");
            for r in &self.rules.selected {
                s.push_str(&format!("    + {}: {}\n", r.name, r.reason));
                if r.also_matches_other_types {
                    s.push_str("      note: this rule also matches other event types; they are replayed to it too\n");
                }
                if r.disabled {
                    s.push_str("      note: this rule is DISABLED, so it will receive nothing\n");
                }
            }
        }
        for r in &self.rules.catch_all {
            let mark = if self.rules.selected.iter().any(|x| x.arn == r.arn) {
                "selected"
            } else {
                "not selected; add --include-catch-all"
            };
            if mark != "selected" {
                s.push_str(&format!(
                    "    - {} (catch-all: {}; {mark})\n",
                    r.name, r.reason
                ));
            }
        }
        for r in &self.rules.not_matching {
            s.push_str(&format!("    - {}: {}\n", r.name, r.reason));
        }
        for m in &self.rules.managed {
            s.push_str(&format!("    - {m}: managed by AWS, never selected\n"));
        }
        s.push_str("  The replay re-delivers EVERY archived event of the window that a selected rule's own pattern matches, not only the types above.\n");
        for w in &self.warnings {
            s.push_str(&format!("  warning: {w}\n"));
        }
        s
    }
}

/// True when the name fits StartReplay: 1–64 of `[.\-_A-Za-z0-9]`.
pub fn valid_replay_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

/// A readable unique name such as `nexus-20250908T1400-subscr-3f9a`.
pub fn generate_name(start: DateTime<Utc>, hint: &str) -> String {
    const SKIP: &[&str] = &[
        "ai", "nexus", "dev", "stripe", "rule", "events", "event", "aws", "partner", "com",
    ];
    let words: Vec<String> = hint
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let meaningful: Vec<&String> = words
        .iter()
        .filter(|w| !SKIP.contains(&w.as_str()))
        .collect();
    // "customer.subscription.updated" says more through its second word.
    let word = match meaningful.as_slice() {
        [first, second, ..] if first.as_str() == "customer" => second.as_str(),
        [first, ..] => first.as_str(),
        [] => "replay",
    };
    let slug: String = word.chars().take(6).collect();
    format!(
        "nexus-{}-{slug}-{}",
        start.format("%Y%m%dT%H%M"),
        random_hex(4)
    )
}

/// Which of the configured type fields this rule's pattern constrains first.
fn type_field_of<'a>(p: &Pattern, fields: &'a [String]) -> Option<&'a str> {
    fields.iter().map(String::as_str).find(|f| p.constrains(f))
}

fn known(type_field: Option<(&str, &str)>, source: Option<&str>) -> Known {
    let mut k = Known::new();
    if let Some((field, t)) = type_field {
        k = k.with(field, Value::String(t.to_string()));
    }
    if let Some(s) = source {
        k = k.with("source", Value::String(s.to_string()));
    }
    k
}

/// Selects the rules whose patterns can match the requested types and sources.
pub fn select_rules(
    rules: &[RuleInfo],
    types: &[String],
    sources: &[String],
    explicit: &[String],
    type_fields: &[String],
    include_catch_all: bool,
) -> Result<Selection, String> {
    let mut sel = Selection::default();
    let choice = |r: &RuleInfo, reason: String, other: bool| RuleChoice {
        name: r.name.clone(),
        arn: r.arn.clone(),
        reason,
        also_matches_other_types: other,
        disabled: !r.is_enabled(),
    };
    for wanted in explicit {
        let rule = rules
            .iter()
            .find(|r| &r.name == wanted || &r.arn == wanted)
            .ok_or_else(|| {
                let names: Vec<&str> = rules
                    .iter()
                    .filter(|r| !r.is_managed())
                    .map(|r| r.name.as_str())
                    .collect();
                format!(
                    "--rule {wanted}: no such rule on the bus; rules: {}",
                    names.join(", ")
                )
            })?;
        if rule.is_managed() {
            return Err(format!(
                "--rule {wanted}: the rule is managed by {} and cannot receive a replay",
                rule.managed_by.as_deref().unwrap_or("AWS")
            ));
        }
        sel.selected
            .push(choice(rule, "named with --rule".into(), false));
    }
    let filtering = !types.is_empty() || !sources.is_empty();
    for r in rules {
        if r.is_managed() {
            sel.managed.push(r.name.clone());
            continue;
        }
        if !filtering || sel.selected.iter().any(|s| s.arn == r.arn) {
            continue;
        }
        let Some(text) = &r.event_pattern else {
            sel.not_matching
                .push(choice(r, "no event pattern (scheduled rule)".into(), false));
            continue;
        };
        let pattern = match Pattern::parse(text) {
            Ok(p) => p,
            Err(e) => {
                sel.not_matching.push(choice(
                    r,
                    format!("pattern not evaluated locally ({e}); name it with --rule if needed"),
                    false,
                ));
                continue;
            }
        };
        let src_list: Vec<Option<&str>> = if sources.is_empty() {
            vec![None]
        } else {
            sources.iter().map(|s| Some(s.as_str())).collect()
        };
        let field = type_field_of(&pattern, type_fields);
        let constrains_sources = !sources.is_empty() && pattern.constrains("source");
        let catch_all = if types.is_empty() {
            !constrains_sources
        } else {
            field.is_none()
        };
        if catch_all {
            let ok = src_list.iter().any(|s| pattern.may_match(&known(None, *s)));
            let what = if types.is_empty() {
                "source"
            } else {
                "the event type"
            };
            if ok {
                let reason = format!(
                    "pattern does not constrain {what}, so it matches every event of the window it otherwise accepts"
                );
                if include_catch_all {
                    sel.selected.push(choice(
                        r,
                        format!("catch-all included with --include-catch-all: {reason}"),
                        true,
                    ));
                }
                sel.catch_all.push(choice(r, reason, true));
            } else {
                sel.not_matching.push(choice(
                    r,
                    "pattern cannot match the requested sources".into(),
                    false,
                ));
            }
            continue;
        }
        let matched: Vec<&String> = if types.is_empty() {
            Vec::new()
        } else {
            types
                .iter()
                .filter(|t| {
                    src_list
                        .iter()
                        .any(|s| pattern.may_match(&known(field.map(|f| (f, t.as_str())), *s)))
                })
                .collect()
        };
        let source_ok =
            types.is_empty() && src_list.iter().any(|s| pattern.may_match(&known(None, *s)));
        if !matched.is_empty() {
            let field = field.unwrap_or("detail-type");
            let other = match pattern.exact_values(field) {
                Some(values) => values.iter().any(|v| !types.contains(v)),
                None => true,
            };
            let list: Vec<&str> = matched.iter().map(|s| s.as_str()).collect();
            sel.selected.push(choice(
                r,
                format!("pattern can match {field} = {}", list.join(", ")),
                other,
            ));
        } else if source_ok {
            sel.selected.push(choice(
                r,
                format!("pattern can match source {}", sources.join(", ")),
                true,
            ));
        } else {
            sel.not_matching.push(choice(
                r,
                "pattern cannot match the requested types/sources".into(),
                false,
            ));
        }
    }
    if sel.selected.is_empty() {
        let mut msg = String::from("no rule on the bus can match");
        if !types.is_empty() {
            msg.push_str(&format!(" event types {}", types.join(", ")));
        }
        if !sources.is_empty() {
            msg.push_str(&format!(" from sources {}", sources.join(", ")));
        }
        if !sel.catch_all.is_empty() {
            let names: Vec<&str> = sel.catch_all.iter().map(|c| c.name.as_str()).collect();
            msg.push_str(&format!(
                "; catch-all rules {} would, with --include-catch-all",
                names.join(", ")
            ));
        }
        msg.push_str("; check the types with `nexus-replay rules`, or name rules with --rule");
        return Err(msg);
    }
    Ok(sel)
}

/// Checks the window against what the archive can replay. Before the retention horizon
/// the events existed and were deleted: refused. Before the archive's creation nothing was
/// ever recorded: a window wholly before it is refused, one straddling it starts at it.
fn archive_window_start(
    archive: &ArchiveInfo,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    now: DateTime<Utc>,
    warnings: &mut Vec<String>,
) -> Result<DateTime<Utc>, AppError> {
    let retention = archive.retention_days.unwrap_or(0);
    if retention > 0 {
        let horizon = now - Duration::days(i64::from(retention));
        if start < horizon {
            return Err(AppError::usage(format!(
                "the window starts at {}, before archive {}'s {}-day retention horizon ({}): those events were deleted; use --since {} or later",
                time(Some(start)),
                archive.name,
                retention,
                time(Some(horizon)),
                horizon.format("%Y-%m-%dT%H:%M:%SZ"),
            )));
        }
    }
    let Some(created) = archive.creation_time else {
        return Ok(start);
    };
    if end <= created {
        return Err(AppError::usage(format!(
            "the whole window ({} → {}) is before archive {} was created ({}): it holds nothing from then; move the window after {}",
            time(Some(start)),
            time(Some(end)),
            archive.name,
            time(Some(created)),
            created.format("%Y-%m-%dT%H:%M:%SZ"),
        )));
    }
    if start < created {
        warnings.push(format!(
            "archive {} was created at {}, so it holds nothing before then: the window starts there instead of at {}",
            archive.name,
            time(Some(created)),
            time(Some(start)),
        ));
        return Ok(created);
    }
    Ok(start)
}

fn archive_name(arg: &str) -> &str {
    match arg.split_once(":archive/") {
        Some((_, name)) => name,
        None => arg,
    }
}

async fn resolve_archive(
    cat: &dyn BusCatalogue,
    req: &PlanRequest,
) -> Result<ArchiveInfo, AppError> {
    if let Some(a) = &req.archive {
        let name = archive_name(a);
        return cat.describe_archive(name).await.map_err(|e| {
            not_found_as(e, || format!("archive {name:?} does not exist in this account and region; list them with `nexus-replay archives`"))
        });
    }
    let Some(bus) = &req.bus else {
        return Err(AppError::usage(
            "say which archive to replay from: --archive NAME, or --bus BUS when the bus has exactly one archive",
        ));
    };
    let bus = require_bus(cat, bus).await?;
    let archives = cat.list_archives(Some(&bus.arn)).await?;
    match archives.as_slice() {
        [] => Err(AppError::NotFound(format!(
            "bus {} has no archive, so nothing can be replayed; create one with aws events create-archive",
            bus.name
        ))),
        [only] => Ok(cat.describe_archive(&only.name).await?),
        many => {
            let names: Vec<&str> = many.iter().map(|a| a.name.as_str()).collect();
            Err(AppError::usage(format!(
                "bus {} has {} archives ({}); pick one with --archive",
                bus.name,
                many.len(),
                names.join(", ")
            )))
        }
    }
}

fn description(req: &PlanRequest, selection: &[RuleChoice]) -> String {
    let mut d = req.description.clone().unwrap_or_default();
    if !d.is_empty() {
        d.push_str(" | ");
    }
    d.push_str(&format!("nexus-replay by {}", req.started_by));
    if !req.event_types.is_empty() {
        d.push_str(&format!("; types={}", req.event_types.join(",")));
    }
    if !req.sources.is_empty() {
        d.push_str(&format!("; sources={}", req.sources.join(",")));
    }
    if !selection.is_empty() {
        let names: Vec<&str> = selection.iter().map(|r| r.name.as_str()).collect();
        d.push_str(&format!("; rules={}", names.join(",")));
    }
    if d.len() > MAX_DESCRIPTION {
        let mut cut = MAX_DESCRIPTION - 3;
        while !d.is_char_boundary(cut) {
            cut -= 1;
        }
        d.truncate(cut);
        d.push_str("...");
    }
    d
}

/// Validates everything and builds the plan. Reads only.
pub async fn plan(
    cat: &dyn BusCatalogue,
    ctl: &dyn ReplayControl,
    req: &PlanRequest,
    now: DateTime<Utc>,
) -> Result<ReplayPlan, AppError> {
    let usage = |e: crate::window::WhenError| AppError::Usage(e.to_string());
    let start = parse_when("--since", &req.since, now).map_err(usage)?;
    let lag_edge = now - Duration::minutes(ARCHIVE_LAG_MINUTES);
    let end = match &req.until {
        Some(u) => parse_when("--until", u, now).map_err(usage)?,
        None => lag_edge,
    };
    if end > now {
        return Err(AppError::usage(format!(
            "--until {} is in the future (now is {}); the archive cannot hold events that have not happened yet",
            time(Some(end)),
            time(Some(now))
        )));
    }
    if start >= end {
        let default_note = if req.until.is_none() {
            format!(
                " (--until defaults to now - {ARCHIVE_LAG_MINUTES} min because archives lag ingestion)"
            )
        } else {
            String::new()
        };
        return Err(AppError::usage(format!(
            "the window is empty: start {} is not before end {}{default_note}; move --since earlier",
            time(Some(start)),
            time(Some(end))
        )));
    }
    let mut warnings = Vec::new();
    if end > lag_edge {
        warnings.push(format!(
            "the window ends within {ARCHIVE_LAG_MINUTES} minutes of now; archives lag ingestion by up to about {ARCHIVE_LAG_MINUTES} minutes, so the newest events may not be replayed"
        ));
    }
    if let Some(n) = &req.name
        && !valid_replay_name(n)
    {
        return Err(AppError::usage(format!(
            "--name {n:?} is not a valid replay name: use 1 to 64 letters, digits, '.', '-' or '_'"
        )));
    }
    let filtering = !req.event_types.is_empty() || !req.sources.is_empty() || !req.rules.is_empty();
    if req.all_rules && filtering {
        return Err(AppError::usage(
            "--all-rules replays to every rule; it cannot be combined with --event-type, --source or --rule",
        ));
    }
    if !req.all_rules && !filtering {
        return Err(AppError::usage(
            "say what to replay: --event-type TYPE, --source SOURCE, --rule RULE, or --all-rules",
        ));
    }

    let archive = resolve_archive(cat, req).await?;
    if !archive.is_enabled() {
        return Err(AppError::usage(format!(
            "archive {} is {}{}; a replay needs an ENABLED archive",
            archive.name,
            archive.state,
            archive
                .state_reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        )));
    }
    let bus = archive.source_bus_name().to_string();
    if let Some(b) = &req.bus
        && b != &bus
        && b != &archive.source_arn
    {
        return Err(AppError::usage(format!(
            "archive {} records bus {bus}, not {b}: EventBridge replays only to the archive's own bus",
            archive.name
        )));
    }
    let requested_start = start;
    let start = archive_window_start(&archive, start, end, now, &mut warnings)?;

    let rules = cat.list_rules(&bus).await?;
    let type_fields: Vec<String> = if req.type_fields.is_empty() {
        DEFAULT_TYPE_FIELDS.iter().map(|s| s.to_string()).collect()
    } else {
        req.type_fields.clone()
    };
    let selection = if req.all_rules {
        Selection {
            managed: rules
                .iter()
                .filter(|r| r.is_managed())
                .map(|r| r.name.clone())
                .collect(),
            ..Selection::default()
        }
    } else {
        select_rules(
            &rules,
            &req.event_types,
            &req.sources,
            &req.rules,
            &type_fields,
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

    let hint = req
        .event_types
        .first()
        .or(req.rules.first())
        .or(req.sources.first())
        .map(String::as_str)
        .unwrap_or("all");
    let name = req
        .name
        .clone()
        .unwrap_or_else(|| generate_name(start, hint));
    let filter_arns: Vec<String> = selection
        .selected
        .iter()
        .map(|r| r.arn.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    Ok(ReplayPlan {
        description: description(req, &selection.selected),
        name,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::eventbridge::MemoryEventBridge;
    use crate::ports::bus::TargetInfo;
    use crate::ports::replay::ReplayStatus;
    use chrono::TimeZone;

    const BUS: &str = "billing";

    fn rule(name: &str, pattern: &str) -> RuleInfo {
        RuleInfo {
            name: name.into(),
            arn: format!("arn:aws:events:us-east-2:123456789012:rule/{BUS}/{name}"),
            state: "ENABLED".into(),
            event_pattern: Some(pattern.into()),
            schedule_expression: None,
            managed_by: None,
            description: None,
            targets: vec![TargetInfo {
                id: "t".into(),
                arn: "arn:aws:sqs:us-east-2:123456789012:q".into(),
                dlq_arn: None,
                retry_policy: None,
                ..TargetInfo::default()
            }],
        }
    }

    /// The four rules of the reference system plus the archive's managed rule.
    fn billing_rules() -> Vec<RuleInfo> {
        let src = r#""source": ["stripe.webhook", {"prefix": "aws.partner/stripe.com"}]"#;
        let mut managed = rule(
            "Events-Archive-a",
            r#"{"replay-name": [{"exists": false}]}"#,
        );
        managed.managed_by = Some("prod.vhs.events.aws.internal".into());
        vec![
            rule(
                "subscription",
                &format!(
                    r#"{{{src}, "detail": {{"type": [{{"prefix": "customer.subscription."}}]}}}}"#
                ),
            ),
            rule(
                "payment",
                &format!(
                    r#"{{{src}, "detail": {{"type": ["invoice.payment_succeeded", "invoice.payment_failed"]}}}}"#
                ),
            ),
            rule(
                "customer",
                &format!(
                    r#"{{{src}, "detail": {{"type": ["customer.created", "customer.updated"]}}}}"#
                ),
            ),
            rule("monitoring", &format!("{{{src}}}")),
            managed,
        ]
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    fn fields() -> Vec<String> {
        s(DEFAULT_TYPE_FIELDS)
    }

    fn names(c: &[RuleChoice]) -> Vec<&str> {
        c.iter().map(|r| r.name.as_str()).collect()
    }

    #[test]
    fn a_subscription_type_selects_only_the_subscription_rule() {
        let sel = select_rules(
            &billing_rules(),
            &s(&["customer.subscription.updated"]),
            &[],
            &[],
            &fields(),
            false,
        )
        .unwrap();
        assert_eq!(names(&sel.selected), ["subscription"]);
        assert!(
            sel.selected[0].also_matches_other_types,
            "a prefix pattern matches other subscription types"
        );
        assert_eq!(names(&sel.catch_all), ["monitoring"]);
        assert_eq!(names(&sel.not_matching), ["payment", "customer"]);
        assert_eq!(sel.managed, ["Events-Archive-a"]);
    }

    #[test]
    fn catch_alls_are_selected_only_when_asked() {
        let sel = select_rules(
            &billing_rules(),
            &s(&["customer.subscription.updated"]),
            &[],
            &[],
            &fields(),
            true,
        )
        .unwrap();
        assert_eq!(names(&sel.selected), ["subscription", "monitoring"]);
    }

    #[test]
    fn exact_patterns_report_whether_they_match_other_types() {
        let all = s(&["invoice.payment_succeeded", "invoice.payment_failed"]);
        let sel = select_rules(&billing_rules(), &all, &[], &[], &fields(), false).unwrap();
        assert_eq!(names(&sel.selected), ["payment"]);
        assert!(!sel.selected[0].also_matches_other_types);
        let one = s(&["invoice.payment_failed"]);
        let sel = select_rules(&billing_rules(), &one, &[], &[], &fields(), false).unwrap();
        assert!(sel.selected[0].also_matches_other_types);
    }

    #[test]
    fn sources_narrow_the_selection() {
        let t = s(&["customer.updated"]);
        let sel = select_rules(
            &billing_rules(),
            &t,
            &s(&["aws.partner/stripe.com/ed_1"]),
            &[],
            &fields(),
            false,
        )
        .unwrap();
        assert_eq!(names(&sel.selected), ["customer"]);
        let err = select_rules(
            &billing_rules(),
            &t,
            &s(&["other.source"]),
            &[],
            &fields(),
            true,
        )
        .unwrap_err();
        assert!(err.contains("no rule on the bus can match"), "{err}");
        let sel = select_rules(
            &billing_rules(),
            &[],
            &s(&["stripe.webhook"]),
            &[],
            &fields(),
            false,
        )
        .unwrap();
        assert_eq!(
            names(&sel.selected),
            ["subscription", "payment", "customer", "monitoring"]
        );
    }

    #[test]
    fn detail_type_is_used_when_the_pattern_filters_on_it() {
        let rules = vec![
            rule("by-detail-type", r#"{"detail-type": ["Order Placed"]}"#),
            rule("other", r#"{"detail-type": ["Order Shipped"]}"#),
        ];
        let sel = select_rules(&rules, &s(&["Order Placed"]), &[], &[], &fields(), false).unwrap();
        assert_eq!(names(&sel.selected), ["by-detail-type"]);
        assert!(sel.selected[0].reason.contains("detail-type"));
        // A custom type field.
        let rules = vec![rule("kind", r#"{"detail": {"kind": ["a"]}}"#)];
        let sel = select_rules(&rules, &s(&["a"]), &[], &[], &s(&["detail.kind"]), false).unwrap();
        assert_eq!(names(&sel.selected), ["kind"]);
    }

    #[test]
    fn no_matching_rule_is_an_error_that_mentions_catch_alls() {
        let err = select_rules(
            &billing_rules(),
            &s(&["charge.refunded"]),
            &[],
            &[],
            &fields(),
            false,
        )
        .unwrap_err();
        assert!(
            err.contains("charge.refunded") && err.contains("--include-catch-all"),
            "{err}"
        );
    }

    #[test]
    fn explicit_rules_are_added_and_checked() {
        let sel = select_rules(
            &billing_rules(),
            &s(&["customer.updated"]),
            &[],
            &s(&["payment"]),
            &fields(),
            false,
        )
        .unwrap();
        assert_eq!(names(&sel.selected), ["payment", "customer"]);
        let err =
            select_rules(&billing_rules(), &[], &[], &s(&["nope"]), &fields(), false).unwrap_err();
        assert!(err.contains("no such rule"), "{err}");
        let err = select_rules(
            &billing_rules(),
            &[],
            &[],
            &s(&["Events-Archive-a"]),
            &fields(),
            false,
        )
        .unwrap_err();
        assert!(err.contains("managed"), "{err}");
    }

    #[test]
    fn names_are_readable_valid_and_unique() {
        let start = Utc.with_ymd_and_hms(2025, 9, 8, 14, 0, 0).unwrap();
        let a = generate_name(start, "customer.subscription.updated");
        assert!(a.starts_with("nexus-20250908T1400-subscr-"), "{a}");
        assert!(valid_replay_name(&a));
        assert_ne!(a, generate_name(start, "customer.subscription.updated"));
        assert!(
            generate_name(start, "ai-nexus-dev-stripe-payment_events-rule").contains("-paymen-")
        );
        assert!(!valid_replay_name(""));
        assert!(!valid_replay_name(&"a".repeat(65)));
        assert!(!valid_replay_name("has space"));
        assert!(valid_replay_name("ok.name-1_2"));
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 9, 8, 18, 0, 0).unwrap()
    }

    fn fake() -> MemoryEventBridge {
        let eb = MemoryEventBridge::new();
        let bus = eb.add_bus(BUS);
        for r in billing_rules() {
            eb.add_rule(BUS, r);
        }
        eb.add_archive(ArchiveInfo {
            name: "archive".into(),
            arn: "arn:aws:events:us-east-2:123456789012:archive/archive".into(),
            source_arn: bus.arn,
            state: "ENABLED".into(),
            state_reason: None,
            retention_days: Some(7),
            event_count: 10,
            size_bytes: 100,
            creation_time: Some(now() - Duration::days(30)),
            event_pattern: None,
        });
        eb
    }

    fn req(since: &str) -> PlanRequest {
        PlanRequest {
            bus: Some(BUS.into()),
            since: since.into(),
            event_types: s(&["customer.subscription.updated"]),
            started_by: "oncall@host".into(),
            ..PlanRequest::default()
        }
    }

    async fn err(eb: &MemoryEventBridge, r: PlanRequest) -> String {
        let e = plan(eb, eb, &r, now()).await.unwrap_err();
        assert_eq!(e.exit_code(), crate::exit_codes::USAGE, "{e}");
        e.to_string()
    }

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
    async fn window_errors() {
        let eb = fake();
        assert!(err(&eb, req("5m")).await.contains("window is empty"));
        let mut r = req("2h");
        r.until = Some("3h".into());
        assert!(err(&eb, r).await.contains("not before"));
        let mut r = req("2h");
        r.until = Some("2025-09-08 19:00".into());
        assert!(err(&eb, r).await.contains("in the future"));
        assert!(
            err(&eb, req("last tuesday"))
                .await
                .contains("cannot read --since")
        );
        // Beyond the 7-day retention: those events are gone.
        assert!(err(&eb, req("8d")).await.contains("retention horizon"));
    }

    #[tokio::test]
    async fn a_window_ending_inside_the_archive_lag_is_warned_about() {
        let eb = fake();
        let mut r = req("2h");
        r.until = Some("now".into());
        let p = plan(&eb, &eb, &r, now()).await.unwrap();
        assert!(
            p.warnings[0].contains("archives lag ingestion"),
            "{:?}",
            p.warnings
        );
    }

    #[tokio::test]
    async fn the_archive_creation_bounds_the_window() {
        let eb = MemoryEventBridge::new();
        let bus = eb.add_bus(BUS);
        for r in billing_rules() {
            eb.add_rule(BUS, r);
        }
        eb.add_archive(ArchiveInfo {
            name: "young".into(),
            arn: "arn:aws:events:us-east-2:123456789012:archive/young".into(),
            source_arn: bus.arn,
            state: "ENABLED".into(),
            state_reason: None,
            retention_days: Some(0),
            event_count: 0,
            size_bytes: 0,
            creation_time: Some(now() - Duration::hours(1)),
            event_pattern: None,
        });
        // Straddling the creation: starts at the creation, with a warning.
        let p = plan(&eb, &eb, &req("2h"), now()).await.unwrap();
        assert_eq!(p.start, now() - Duration::hours(1));
        assert_eq!(p.requested_start, now() - Duration::hours(2));
        assert!(p.warnings[0].contains("holds nothing before then"));
        // Wholly before the creation: refused.
        let mut r = req("3h");
        r.until = Some("2h".into());
        assert!(
            err(&eb, r)
                .await
                .contains("before archive young was created")
        );
    }

    #[tokio::test]
    async fn archive_errors() {
        let eb = fake();
        let mut r = req("2h");
        r.archive = Some("missing".into());
        let e = plan(&eb, &eb, &r, now()).await.unwrap_err();
        assert!(matches!(e, AppError::NotFound(_)), "{e}");
        let mut r = req("2h");
        r.archive = Some("arn:aws:events:us-east-2:123456789012:archive/archive".into());
        r.bus = Some("other-bus".into());
        assert!(err(&eb, r).await.contains("only to the archive's own bus"));

        let eb = fake();
        let bus = eb.describe_bus(BUS).await.unwrap();
        eb.add_archive(ArchiveInfo {
            name: "second".into(),
            arn: "arn:x:archive/second".into(),
            source_arn: bus.arn.clone(),
            state: "DISABLED".into(),
            state_reason: Some("disabled by admin".into()),
            retention_days: None,
            event_count: 0,
            size_bytes: 0,
            creation_time: None,
            event_pattern: None,
        });
        assert!(
            err(&eb, req("2h"))
                .await
                .contains("pick one with --archive")
        );
        let mut r = req("2h");
        r.archive = Some("second".into());
        assert!(err(&eb, r).await.contains("DISABLED (disabled by admin)"));
    }

    #[tokio::test]
    async fn names_and_filters_are_validated() {
        let eb = fake();
        let mut r = req("2h");
        r.name = Some("bad name!".into());
        assert!(err(&eb, r).await.contains("not a valid replay name"));
        let mut r = req("2h");
        r.event_types.clear();
        assert!(err(&eb, r).await.contains("say what to replay"));
        let mut r = req("2h");
        r.all_rules = true;
        assert!(err(&eb, r).await.contains("cannot be combined"));
        let mut r = req("2h");
        r.event_types.clear();
        r.all_rules = true;
        let p = plan(&eb, &eb, &r, now()).await.unwrap();
        assert!(p.filter_arns.is_empty());
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
