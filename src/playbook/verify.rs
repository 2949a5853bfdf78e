//! Verify steps: the checks a playbook asks for (queues empty, a replay completed, keys
//! unique), resolved when planned, run when the step runs, retried within its window.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::context::Ports;
use super::fields::Fields;
use crate::discovery::{RuleScope, dlqs_of, require_bus, scoped_dlqs};
use crate::drain::event::{DedupSpec, META_FIELD, dedup_key, parse as parse_event};
use crate::error::AppError;
use crate::exit_codes;
use crate::output::Report;
use crate::ports::replay::ReplayState;

/// A verify check, resolved.
#[derive(Debug, Clone)]
pub(super) enum Check {
    QueueEmpty {
        name: String,
        url: String,
    },
    ReplayCompleted(String),
    UniqueKeys {
        name: String,
        url: String,
        key: DedupSpec,
        key_text: String,
        reemitted_by: Option<String>,
        max: usize,
    },
}

impl Check {
    pub(super) fn describe(&self) -> String {
        match self {
            Check::QueueEmpty { name, .. } => format!("queue {name} is empty"),
            Check::ReplayCompleted(n) => format!("replay {n} is COMPLETED"),
            Check::UniqueKeys {
                name,
                key_text,
                reemitted_by,
                ..
            } => format!(
                "each {key_text} appears at most once in {name}{}",
                reemitted_by
                    .as_ref()
                    .map(|r| format!(" among events re-emitted by {r}"))
                    .unwrap_or_default()
            ),
        }
    }
}

pub(super) async fn verify_checks(
    f: &mut Fields<'_>,
    ports: &Ports,
) -> Result<Vec<Check>, AppError> {
    let q = ports.queue.as_ref();
    let resolve = |name: String| async move {
        q.resolve(&name).await.map_err(|e| {
            crate::error::not_found_as(e, || {
                format!("queue {name:?} does not exist in this account and region")
            })
        })
    };
    let mut checks = Vec::new();
    for name in f.list("queues_empty")? {
        let r = resolve(name).await?;
        checks.push(Check::QueueEmpty {
            name: r.name,
            url: r.url,
        });
    }
    let rules = f.list("rules")?;
    let event_types = f.list("event_types")?;
    if let Some(bus) = f.str("bus_dlqs_empty")? {
        let b = require_bus(ports.cat.as_ref(), &bus).await?;
        let all = ports.cat.list_rules(&b.name).await?;
        let dlqs = if rules.is_empty() && event_types.is_empty() {
            dlqs_of(&all)
        } else {
            let scope = RuleScope {
                rules: &rules,
                event_types: &event_types,
                ..RuleScope::default()
            };
            scoped_dlqs(&b.name, &all, &scope)?.dlqs
        };
        for d in dlqs {
            let r = resolve(d.arn).await?;
            checks.push(Check::QueueEmpty {
                name: r.name,
                url: r.url,
            });
        }
    }
    if let Some(n) = f.str("replay_completed")? {
        checks.push(Check::ReplayCompleted(n));
    }
    if let Some(name) = f.str("unique_keys_in")? {
        let r = resolve(name).await?;
        let key_text = f.str("unique_key")?.unwrap_or_else(|| "dedup key".into());
        let key = match f.str("unique_key")? {
            Some(k) => DedupSpec::parse(&k).map_err(AppError::Usage)?,
            None => DedupSpec::Default,
        };
        checks.push(Check::UniqueKeys {
            name: r.name,
            url: r.url,
            key,
            key_text,
            reemitted_by: f.str("reemitted_by")?,
            max: f.int("max_messages")?.unwrap_or(10_000) as usize,
        });
    }
    Ok(checks)
}

/// A verify check's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub check: String,
    pub ok: bool,
    pub detail: String,
}

async fn run_check(c: &Check, ports: &Ports) -> Result<CheckResult, AppError> {
    let (ok, detail) = match c {
        Check::QueueEmpty { url, .. } => {
            let d = ports.queue.depth(url).await?;
            (
                d.visible + d.in_flight + d.delayed == 0,
                format!(
                    "~{} visible, ~{} in flight, ~{} delayed",
                    d.visible, d.in_flight, d.delayed
                ),
            )
        }
        Check::ReplayCompleted(name) => {
            let s = crate::commands::status::describe(ports.ctl.as_ref(), name).await?;
            (
                s.state == ReplayState::Completed,
                match &s.state_reason {
                    Some(r) => format!("{}: {r}", s.state),
                    None => s.state.to_string(),
                },
            )
        }
        Check::UniqueKeys {
            url,
            key,
            reemitted_by,
            max,
            ..
        } => {
            let msgs = crate::drain::browse::browse(ports.queue.as_ref(), url, *max).await?;
            let mut counts: BTreeMap<String, u32> = BTreeMap::new();
            let mut unreadable = 0;
            for m in &msgs {
                let Ok(env) = parse_event(&m.body) else {
                    unreadable += 1;
                    continue;
                };
                if let Some(run) = reemitted_by {
                    let by = env
                        .meta
                        .as_ref()
                        .and_then(|m| m.get("run_id"))
                        .and_then(|r| r.as_str());
                    if by != Some(run.as_str()) {
                        continue;
                    }
                }
                match dedup_key(&env, key) {
                    Ok(k) => *counts.entry(k).or_default() += 1,
                    Err(_) => unreadable += 1,
                }
            }
            let dups: Vec<String> = counts
                .iter()
                .filter(|(_, n)| **n > 1)
                .map(|(k, n)| format!("{k} x{n}"))
                .collect();
            let mut detail = format!(
                "{} message(s) read, {} key(s), {} seen more than once",
                msgs.len(),
                counts.len(),
                dups.len()
            );
            if unreadable > 0 {
                detail.push_str(&format!(
                    ", {unreadable} without a key ({META_FIELD} events only count when readable)"
                ));
            }
            if !dups.is_empty() {
                let shown: Vec<&str> = dups.iter().take(5).map(String::as_str).collect();
                detail.push_str(&format!(": {}", shown.join(", ")));
            }
            (dups.is_empty(), detail)
        }
    };
    Ok(CheckResult {
        check: c.describe(),
        ok,
        detail,
    })
}

/// The verify step's report.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub checks: Vec<CheckResult>,
    pub attempts: u32,
}

impl Report for VerifyReport {
    fn human(&self) -> String {
        let mut s = String::new();
        for c in &self.checks {
            s.push_str(&format!(
                "  {} {} ({})\n",
                if c.ok { "PASS" } else { "FAIL" },
                c.check,
                c.detail
            ));
        }
        s
    }

    fn exit_code(&self) -> u8 {
        if self.checks.iter().all(|c| c.ok) {
            exit_codes::SUCCESS
        } else {
            exit_codes::PARTIAL
        }
    }
}

/// Runs the checks until all pass or `within` has gone by, checking again every 5 s.
pub(super) async fn run_checks(
    checks: &[Check],
    within: Duration,
    ports: &Ports,
) -> Result<VerifyReport, AppError> {
    let started = tokio::time::Instant::now();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let mut results = Vec::new();
        for c in checks {
            results.push(run_check(c, ports).await?);
        }
        let report = VerifyReport {
            checks: results,
            attempts,
        };
        let left = within.saturating_sub(started.elapsed());
        if report.exit_code() == exit_codes::SUCCESS || left.is_zero() {
            return Ok(report);
        }
        tracing::info!(
            "verify: {} check(s) not passing yet; checking again (up to {} more)",
            report.checks.iter().filter(|c| !c.ok).count(),
            humantime::format_duration(Duration::from_secs(left.as_secs()))
        );
        tokio::time::sleep(left.min(Duration::from_secs(5))).await;
    }
}
