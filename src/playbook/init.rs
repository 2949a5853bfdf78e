//! `playbook init`: a playbook set written from a bus's live topology, so that an account
//! whose resources are named unlike the sandbox's gets playbooks naming only its bus.
//!
//! One outage playbook per consumer rule (replay the window to that rule only, drain its
//! DLQs, verify), a nightly drain of every DLQ, and a partner cutover when some rule's
//! pattern takes a partner source (`aws.partner/...`). The text is in `init_text`; here
//! the topology is read and the files are written, never over an existing one unless
//! asked.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value as Json;

use super::init_text;
use crate::error::AppError;
use crate::pattern::Pattern;
use crate::ports::bus::{BusCatalogue, RuleInfo};
use crate::replay::rules::{DEFAULT_TYPE_FIELDS, is_archive_rule, is_reserved};

/// What a consumer rule takes, read from its event pattern.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsumerRule {
    pub name: String,
    /// The event types, in words: `detail.type = a, b` or `detail.type matching [...]`, or
    /// every event type its pattern accepts when the pattern does not filter on one.
    pub types: String,
    /// The sources the pattern names (exactly, by prefix or wildcard), sorted.
    pub sources: Vec<String>,
    /// The pattern can match a partner event source (`aws.partner/...`): its DLQ messages
    /// are delivered to the target (`to = "target"`), as `PutEvents` refuses `aws.` sources.
    pub partner: bool,
    /// Some target of the rule has a DLQ.
    pub has_dlq: bool,
    /// The playbook's name (and file stem): the rule's name made a command argument.
    pub playbook: String,
}

/// A rule no outage playbook is written for, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub rule: String,
    pub reason: String,
}

/// One playbook file of the set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GeneratedFile {
    /// `subscription-outage.toml`.
    pub file: String,
    /// The playbook's name (the file's stem).
    pub playbook: String,
    /// `outage`, `nightly` or `cutover`.
    pub kind: &'static str,
    /// The rule an outage playbook is for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(skip)]
    pub text: String,
}

/// The set `playbook init` writes for a bus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlaybookSet {
    pub bus: String,
    pub files: Vec<GeneratedFile>,
    pub skipped: Vec<Skipped>,
}

/// Reads the bus's rules and builds its playbook set (nothing is written).
pub async fn generate(cat: &dyn BusCatalogue, bus: &str) -> Result<PlaybookSet, AppError> {
    crate::discovery::require_bus(cat, bus).await?;
    let rules = cat.list_rules(bus).await?;
    Ok(set_for(bus, &rules))
}

/// The playbook set for these rules of `bus`: rules sorted by name, so the same topology
/// always gives the same files.
pub fn set_for(bus: &str, rules: &[RuleInfo]) -> PlaybookSet {
    let mut sorted: Vec<&RuleInfo> = rules.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let mut consumers: Vec<ConsumerRule> = Vec::new();
    let mut skipped = Vec::new();
    for r in sorted {
        match consumer(bus, r) {
            Ok(mut c) => {
                c.playbook = unique(&file_stem(&r.name, "-outage"), &consumers);
                consumers.push(c);
            }
            Err(reason) => skipped.push(Skipped {
                rule: r.name.clone(),
                reason,
            }),
        }
    }
    let mut files: Vec<GeneratedFile> = consumers
        .iter()
        .map(|c| GeneratedFile {
            file: format!("{}.toml", c.playbook),
            playbook: c.playbook.clone(),
            kind: "outage",
            rule: Some(c.name.clone()),
            text: init_text::outage(bus, c),
        })
        .collect();
    let partners: Vec<&ConsumerRule> = consumers.iter().filter(|c| c.partner).collect();
    files.push(GeneratedFile {
        file: format!("{NIGHTLY}.toml"),
        playbook: NIGHTLY.into(),
        kind: "nightly",
        rule: None,
        text: init_text::nightly(bus, !partners.is_empty()),
    });
    if !partners.is_empty() {
        files.push(GeneratedFile {
            file: format!("{CUTOVER}.toml"),
            playbook: CUTOVER.into(),
            kind: "cutover",
            rule: None,
            text: init_text::cutover(bus, &partners),
        });
    }
    PlaybookSet {
        bus: bus.to_string(),
        files,
        skipped,
    }
}

pub const NIGHTLY: &str = "nightly-dlq-drain";
pub const CUTOVER: &str = "partner-cutover";

/// The rule as a consumer an outage playbook is written for, or why it is not one.
fn consumer(bus: &str, r: &RuleInfo) -> Result<ConsumerRule, String> {
    // AWS (and moto) mark the archive's rule ManagedBy; LocalStack's only has its target.
    if is_archive_rule(r) || (r.is_managed() && r.name.starts_with("Events-Archive-")) {
        return Err(
            "the archive's own rule (it feeds the archive; a replay never goes to it)".into(),
        );
    }
    if is_reserved(r) {
        return Err(format!(
            "managed by {}",
            r.managed_by.as_deref().unwrap_or("an AWS service")
        ));
    }
    let Some(text) = &r.event_pattern else {
        return Err("a scheduled rule (no event pattern: nothing to replay)".into());
    };
    if !r.is_enabled() {
        return Err(format!(
            "{} (a replay does not reach it; enable it and run init again)",
            r.state
        ));
    }
    if r.targets.is_empty() {
        return Err("no targets".into());
    }
    let json: Json = serde_json::from_str(text).unwrap_or(Json::Null);
    let pattern = Pattern::parse(text).ok();
    let sources = sources_of(&json);
    let partner = bus.starts_with(PARTNER_PREFIX)
        || sources
            .iter()
            .any(|s| s.to_ascii_lowercase().starts_with(PARTNER_PREFIX));
    Ok(ConsumerRule {
        name: r.name.clone(),
        types: types_of(pattern.as_ref(), &json),
        sources,
        partner,
        has_dlq: r.targets.iter().any(|t| t.dlq_arn.is_some()),
        playbook: String::new(),
    })
}

/// Partner event sources and partner buses are named `aws.partner/PARTNER/...`.
const PARTNER_PREFIX: &str = "aws.partner/";

/// The event types the pattern takes, in words, on the first type field it constrains.
fn types_of(pattern: Option<&Pattern>, json: &Json) -> String {
    let Some(p) = pattern else {
        return "the event types its pattern allows (see `nexus-replay rules`)".into();
    };
    let Some(field) = DEFAULT_TYPE_FIELDS.iter().find(|f| p.constrains(f)) else {
        return "every event type its pattern accepts".into();
    };
    if let Some(values) = p.exact_values(field) {
        let list: Vec<&str> = values.iter().map(String::as_str).collect();
        return format!("{field} = {}", list.join(", "));
    }
    match field.split('.').try_fold(json, |v, k| v.get(k)) {
        Some(condition) => format!("{field} matching {condition}"),
        None => format!("the {field} values its pattern allows (see `nexus-replay rules`)"),
    }
}

/// Every source string the pattern names under a `source` key (in any `$or` branch):
/// exact values and the text of `prefix`, `wildcard` and `equals-ignore-case`; never
/// what `anything-but` excludes.
fn sources_of(json: &Json) -> Vec<String> {
    fn condition(v: &Json, out: &mut Vec<String>) {
        match v {
            Json::String(s) => out.push(s.clone()),
            Json::Array(items) => items.iter().for_each(|i| condition(i, out)),
            Json::Object(m) => {
                for key in ["prefix", "wildcard", "equals-ignore-case"] {
                    match m.get(key) {
                        Some(Json::String(s)) => out.push(s.clone()),
                        Some(Json::Object(inner)) => {
                            // {"prefix": {"equals-ignore-case": "..."}}
                            if let Some(Json::String(s)) = inner.get("equals-ignore-case") {
                                out.push(s.clone());
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    fn walk(v: &Json, out: &mut Vec<String>) {
        match v {
            Json::Object(m) => {
                for (k, v) in m {
                    if k == "source" {
                        condition(v, out);
                    } else if k == "$or" {
                        walk(v, out);
                    }
                }
            }
            Json::Array(items) => items.iter().for_each(|i| walk(i, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(json, &mut out);
    out.sort();
    out.dedup();
    out
}

/// `name` with lowercase ASCII letters, digits and `_` kept; anything else (`/`, spaces,
/// dots, other letters) becomes `-`, a run of them one `-`, none at either end.
fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars().map(|c| c.to_ascii_lowercase()) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

/// A rule's name made a playbook name and file stem (a playbook name starts with a
/// lowercase letter: `rule-` is put in front of one that would not).
pub fn file_stem(name: &str, suffix: &str) -> String {
    let base = slug(name);
    if base.starts_with(|c: char| c.is_ascii_lowercase()) {
        format!("{base}{suffix}")
    } else if base.is_empty() {
        format!("rule{suffix}")
    } else {
        format!("rule-{base}{suffix}")
    }
}

/// `stem`, or `stem-2`, `stem-3`, ... when an earlier rule's name made the same stem
/// (`Orders` and `orders` are two rules).
fn unique(stem: &str, taken: &[ConsumerRule]) -> String {
    let used = |s: &str| taken.iter().any(|c| c.playbook == s);
    if !used(stem) {
        return stem.to_string();
    }
    (2..)
        .map(|n| format!("{stem}-{n}"))
        .find(|s| !used(s))
        .expect("some suffix is free")
}

/// `./playbooks-BUS`, the bus name made a file name (`/` and dots become `-`).
pub fn default_out(bus: &str) -> PathBuf {
    PathBuf::from(format!("playbooks-{}", slug(bus)))
}

/// What `playbook init` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct InitReport {
    pub bus: String,
    pub out: String,
    pub files: Vec<WrittenFile>,
    pub skipped: Vec<Skipped>,
}

#[derive(Debug, Clone, Serialize)]
pub struct WrittenFile {
    pub path: String,
    pub playbook: String,
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

/// Writes the set into `out` (created if missing). Every path is checked first: an
/// existing file stops it, with nothing written, unless `force`.
pub fn write(set: &PlaybookSet, out: &Path, force: bool) -> Result<InitReport, AppError> {
    let paths: Vec<PathBuf> = set.files.iter().map(|f| out.join(&f.file)).collect();
    if !force {
        let existing: Vec<String> = paths
            .iter()
            .filter(|p| p.exists())
            .map(|p| p.display().to_string())
            .collect();
        if !existing.is_empty() {
            return Err(AppError::usage(format!(
                "{} already exist{}: {}; nothing was written. Pass --force to overwrite, or --out another directory",
                if existing.len() == 1 {
                    "a playbook file"
                } else {
                    "playbook files"
                },
                if existing.len() == 1 { "s" } else { "" },
                existing.join(", ")
            )));
        }
    }
    std::fs::create_dir_all(out)
        .map_err(|e| AppError::Io(format!("cannot create {}: {e}", out.display())))?;
    let mut files = Vec::new();
    for (f, path) in set.files.iter().zip(&paths) {
        std::fs::write(path, &f.text)
            .map_err(|e| AppError::Io(format!("cannot write {}: {e}", path.display())))?;
        files.push(WrittenFile {
            path: path.display().to_string(),
            playbook: f.playbook.clone(),
            kind: f.kind,
            rule: f.rule.clone(),
        });
    }
    Ok(InitReport {
        bus: set.bus.clone(),
        out: out.display().to_string(),
        files,
        skipped: set.skipped.clone(),
    })
}

impl crate::output::Report for InitReport {
    fn human(&self) -> String {
        let mut s = format!(
            "Wrote {} playbooks for bus {} to {}:\n",
            self.files.len(),
            self.bus,
            self.out
        );
        let width = self.files.iter().map(|f| f.path.len()).max().unwrap_or(0);
        for f in &self.files {
            let what = match (f.kind, &f.rule) {
                ("outage", Some(rule)) => format!("outage of rule {rule}"),
                ("nightly", _) => "nightly drain of every DLQ of the bus".into(),
                _ => "partner cutover: DLQ messages to their targets".into(),
            };
            s.push_str(&format!("  {:<width$}  {what}\n", f.path));
        }
        if !self.skipped.is_empty() {
            s.push_str("No outage playbook for:\n");
            for k in &self.skipped {
                s.push_str(&format!("  {}: {}\n", k.rule, k.reason));
            }
        }
        s.push_str(&format!(
            "Next: review them, then\n  nexus-replay playbook validate {}/*.toml\n",
            self.out
        ));
        if let Some(f) = self.files.iter().find(|f| f.kind == "outage") {
            s.push_str(&format!(
                "  nexus-replay playbook plan {} --set since=2h\n",
                f.path
            ));
        }
        s
    }
}
