//! Names a delivery creates at its target. A Step Functions execution name is derived from
//! the dedup key, so a start retried after a lost answer (or by a later run) meets the
//! first execution instead of starting a second one; the log stream is one per run.

use sha2::{Digest, Sha256};

/// The longest execution name Step Functions accepts.
pub const EXECUTION_NAME_MAX: usize = 80;
const EXECUTION_PREFIX: &str = "nexus-";
/// Hex digits of the key's SHA-256 in a name: 64 bits, so distinct keys do not meet.
const HASH_DIGITS: usize = 16;

/// The execution name for delivering the event with `dedup_key`, redrive generation
/// `redrive` (1 for the first redrive): `nexus-<key, readable part>-<hash>`, at most 80
/// characters of `[A-Za-z0-9_-]`. The readable part is the key with every other character
/// replaced by `_`, cut to fit; the hash covers the whole key (and the generation from 2
/// on), so keys that read alike or share a long prefix still get different names, and a
/// new failure of an event already redriven gets a new execution.
pub fn execution_name(dedup_key: &str, redrive: u32) -> String {
    let mut hasher = Sha256::new();
    hasher.update(dedup_key.as_bytes());
    if redrive > 1 {
        hasher.update(format!("\n{redrive}").as_bytes());
    }
    let hash: String = hasher.finalize()[..HASH_DIGITS / 2]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let room = EXECUTION_NAME_MAX - EXECUTION_PREFIX.len() - 1 - HASH_DIGITS;
    let readable: String = dedup_key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(room)
        .collect();
    if readable.is_empty() {
        format!("{EXECUTION_PREFIX}{hash}")
    } else {
        format!("{EXECUTION_PREFIX}{readable}-{hash}")
    }
}

/// The CloudWatch Logs stream a run writes its log-group deliveries to:
/// `nexus-replay/<run id>` (stream names may not hold `:` or `*`).
pub fn log_stream_name(run_id: &str) -> String {
    let id: String = run_id
        .chars()
        .map(|c| if c == ':' || c == '*' { '_' } else { c })
        .collect();
    format!("nexus-replay/{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid(name: &str) -> bool {
        (1..=EXECUTION_NAME_MAX).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    }

    #[test]
    fn a_stripe_event_id_reads_in_the_name() {
        let name = execution_name("evt_1PqR2sT3uV4wX5yZ", 1);
        assert!(name.starts_with("nexus-evt_1PqR2sT3uV4wX5yZ-"), "{name}");
        assert_eq!(name.len(), "nexus-evt_1PqR2sT3uV4wX5yZ-".len() + 16);
        assert!(valid(&name), "{name}");
        // Stable: a retry (or another run) derives the same name.
        assert_eq!(name, execution_name("evt_1PqR2sT3uV4wX5yZ", 1));
    }

    #[test]
    fn any_key_gives_a_valid_name_of_at_most_80_characters() {
        for key in [
            "",
            "a",
            "évènement/ü:{x}[y] *?#%",
            "arn:aws:events:us-east-2:123456789012:event-bus/b",
            &"k".repeat(500),
            "6f1c2e0a-9b7d-4c3e-8f21-5a6b7c8d9e0f",
        ] {
            let name = execution_name(key, 1);
            assert!(valid(&name), "{key:?} -> {name:?}");
        }
        assert_eq!(
            execution_name(&"k".repeat(500), 1).len(),
            EXECUTION_NAME_MAX
        );
        assert_eq!(execution_name("", 1).len(), "nexus-".len() + 16);
    }

    #[test]
    fn keys_that_read_alike_or_share_a_long_prefix_get_different_names() {
        assert_ne!(execution_name("a.b", 1), execution_name("a:b", 1));
        assert_eq!(
            &execution_name("a.b", 1)[..10],
            &execution_name("a:b", 1)[..10]
        );
        let long = "x".repeat(100);
        assert_ne!(
            execution_name(&format!("{long}1"), 1),
            execution_name(&format!("{long}2"), 1)
        );
    }

    #[test]
    fn a_later_redrive_generation_gets_a_new_execution() {
        let first = execution_name("evt_1", 1);
        assert_ne!(first, execution_name("evt_1", 2));
        assert_ne!(execution_name("evt_1", 2), execution_name("evt_1", 3));
        // Generation 0 (never redriven) and 1 name the same first delivery.
        assert_eq!(first, execution_name("evt_1", 0));
    }

    #[test]
    fn log_streams_are_named_for_the_run() {
        assert_eq!(log_stream_name("r-1f2e"), "nexus-replay/r-1f2e");
        assert_eq!(log_stream_name("a:b*c"), "nexus-replay/a_b_c");
    }
}
