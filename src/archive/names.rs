//! What an export's temporary resources are called and tagged: one run id, and the same
//! name `nexus-export-<run id>` for the replay, the rule and the queue, so a leftover reads
//! back to its run (and to when it started: rules carry no creation time).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::ids::random_hex;

/// Every export resource's name starts with this; `--cleanup` looks for it.
pub const PREFIX: &str = "nexus-export-";
/// The id of the queue target on the export rule.
pub const TARGET_ID: &str = "nexus-export";
/// Tag keys on the rule and the queue.
pub const TAG_PURPOSE: &str = "nexus-replay:purpose";
pub const TAG_RUN_ID: &str = "nexus-replay:run-id";
pub const TAG_ARCHIVE: &str = "nexus-replay:archive";
/// The purpose tag's value.
pub const PURPOSE: &str = "archive-export";
/// Starts the rule description, which is how a leftover rule is recognised: ListRules
/// answers descriptions, while tags would cost one more call (and permission) per rule.
pub const DESCRIPTION_MARK: &str = "nexus-replay archive export";

const RUN_TIME: &str = "%Y%m%dT%H%M%SZ";
/// Rule and replay names: 64 of `[.\-_A-Za-z0-9]`; queue names: 80 of `[-_A-Za-z0-9]`.
const RULE_NAME_MAX: usize = 64;
const QUEUE_NAME_MAX: usize = 80;

/// The names of one export run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunNames {
    /// `20250908T140000Z-3f9a2b1c`: when the run started, and random.
    pub run_id: String,
    pub replay: String,
    pub rule: String,
    pub queue: String,
}

impl RunNames {
    /// Fresh names for a run starting at `now`.
    pub fn new(now: DateTime<Utc>) -> RunNames {
        RunNames::for_run(&format!("{}-{}", now.format(RUN_TIME), random_hex(8)))
    }

    pub fn for_run(run_id: &str) -> RunNames {
        let name = format!("{PREFIX}{run_id}");
        debug_assert!(name.len() <= RULE_NAME_MAX.min(QUEUE_NAME_MAX));
        RunNames {
            run_id: run_id.to_string(),
            replay: name.clone(),
            rule: name.clone(),
            queue: name,
        }
    }

    /// The tags on the rule and the queue.
    pub fn tags(&self, archive: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            (TAG_PURPOSE.to_string(), PURPOSE.to_string()),
            (TAG_RUN_ID.to_string(), self.run_id.clone()),
            (TAG_ARCHIVE.to_string(), archive.to_string()),
        ])
    }

    /// The rule's description (AWS allows 512 characters; this stays far below).
    pub fn rule_description(&self, archive: &str) -> String {
        format!(
            "{DESCRIPTION_MARK} {} of archive {archive}: temporary, matches only replay {}; `nexus-replay archive export --cleanup` removes it if the run was killed",
            self.run_id, self.replay
        )
    }
}

/// The run id in a resource name made by [`RunNames`], if it is one.
pub fn run_id_of(name: &str) -> Option<&str> {
    let id = name.strip_prefix(PREFIX)?;
    started_at(id).map(|_| id)
}

/// When the run with this id started.
pub fn started_at(run_id: &str) -> Option<DateTime<Utc>> {
    let (time, hex) = run_id.split_once('-')?;
    if hex.len() != 8 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    NaiveDateTime::parse_from_str(time, RUN_TIME)
        .ok()
        .map(|t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn names_fit_the_aws_limits_and_read_back_to_their_run() {
        let now = Utc.with_ymd_and_hms(2025, 9, 8, 14, 0, 5).unwrap();
        let n = RunNames::new(now);
        assert!(n.run_id.starts_with("20250908T140005Z-"), "{}", n.run_id);
        for name in [&n.replay, &n.rule] {
            assert!(name.len() <= RULE_NAME_MAX, "{name}");
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
            );
        }
        assert!(n.queue.len() <= QUEUE_NAME_MAX);
        assert!(
            n.queue
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
        );
        assert_eq!(run_id_of(&n.queue), Some(n.run_id.as_str()));
        assert_eq!(started_at(&n.run_id), Some(now));
        assert_ne!(RunNames::new(now).run_id, n.run_id);
    }

    #[test]
    fn other_names_are_not_runs() {
        for name in [
            "nexus-export-",
            "nexus-export-yesterday",
            "nexus-export-20250908T140005Z-xyz",
            "orders-20250908T140005Z-3f9a2b1c",
        ] {
            assert_eq!(run_id_of(name), None, "{name}");
        }
    }

    #[test]
    fn tags_and_description_name_the_run() {
        let n = RunNames::for_run("20250908T140005Z-3f9a2b1c");
        let tags = n.tags("orders-archive");
        assert_eq!(tags[TAG_PURPOSE], PURPOSE);
        assert_eq!(tags[TAG_RUN_ID], n.run_id);
        assert_eq!(tags[TAG_ARCHIVE], "orders-archive");
        let d = n.rule_description("orders-archive");
        assert!(d.starts_with(DESCRIPTION_MARK));
        assert!(d.contains("--cleanup") && d.len() <= 512, "{d}");
    }
}
