//! Naming a replay: the name checked or generated (readable and unique), and the
//! description that records who started it and what it selects.

use chrono::{DateTime, Utc};

use super::request::PlanRequest;
use super::rules::RuleChoice;
use crate::error::AppError;
use crate::ids::random_hex;

/// AWS's limit on a replay description.
const MAX_DESCRIPTION: usize = 512;

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

/// Refuses a `--name` StartReplay would refuse.
pub fn check_name(name: Option<&str>) -> Result<(), AppError> {
    if let Some(n) = name
        && !valid_replay_name(n)
    {
        return Err(AppError::usage(format!(
            "--name {n:?} is not a valid replay name: use 1 to 64 letters, digits, '.', '-' or '_'"
        )));
    }
    Ok(())
}

/// The name asked for, or one generated from the window start and the first filter.
pub fn replay_name(req: &PlanRequest, start: DateTime<Utc>) -> String {
    let hint = req
        .event_types
        .first()
        .or(req.rules.first())
        .or(req.sources.first())
        .map(String::as_str)
        .unwrap_or("all");
    req.name
        .clone()
        .unwrap_or_else(|| generate_name(start, hint))
}

/// The replay's description: the user's own, then who started it and what it selects,
/// cut to AWS's limit.
pub fn description(req: &PlanRequest, selection: &[RuleChoice]) -> String {
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
    clip_description(d)
}

/// Cuts a replay description to StartReplay's 512 bytes, at a character boundary, with
/// "..." at the end when cut.
pub fn clip_description(mut d: String) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::fixtures::{err, fake, req};
    use chrono::TimeZone;

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

    #[tokio::test]
    async fn a_bad_name_is_refused() {
        let eb = fake();
        let mut r = req("2h");
        r.name = Some("bad name!".into());
        assert!(err(&eb, r).await.contains("not a valid replay name"));
    }
}
