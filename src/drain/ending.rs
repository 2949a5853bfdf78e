//! Why a drain stopped, said so that it is true at the end of the run: a queue is "empty"
//! only when nothing is left in it, a limit says how much it left behind, and a queue that
//! holds only what this run would not re-emit says what that is.

use super::outcome::{Counts, Failure};

/// Failure codes of messages that cannot be re-emitted as they are (the rest failed at
/// PutEvents and may go through on a later run).
const POISON_CODES: [&str; 2] = ["POISON", "PARK_FAILED"];

/// Reasons the workers noted for a limit (as opposed to running out of messages).
fn is_limit(reason: &str) -> bool {
    reason.starts_with("--max-")
}

/// What this run left in its queues, by why, e.g. `["2 poison", "1 not selected"]`; and
/// whether it is all messages that cannot be re-emitted.
fn left_by_run(counts: &Counts, failures: &[Failure]) -> (Vec<String>, u64, bool) {
    let poison = failures
        .iter()
        .filter(|f| !f.parked && POISON_CODES.contains(&f.code.as_str()))
        .count() as u64;
    let failed = counts.failed.saturating_sub(poison);
    let parts = [
        (poison, "poison"),
        (failed, "failed"),
        (counts.filtered, "not selected"),
        (counts.held_elsewhere, "held by another run"),
        (counts.delete_failed, "re-emitted but not deleted"),
    ];
    let total = parts.iter().map(|(n, _)| n).sum();
    let only_unemittable = poison + failed == total;
    let text = parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
    (text, total, only_unemittable)
}

/// What a run knows when it ends.
pub(crate) struct End<'a> {
    /// The reasons its workers noted.
    pub reasons: &'a [String],
    pub counts: &'a Counts,
    pub failures: &'a [Failure],
    pub dry_run: bool,
    /// How many queues it drained.
    pub queues: usize,
    /// Messages SQS still counts in those queues once the run released what it held
    /// (visible, in flight and delayed: approximate, and slow to drop for deletes of the last
    /// minute); None when the queues could not be asked.
    pub left: Option<u64>,
}

/// The run's `stopped_because`.
pub(crate) fn stopped_because(end: &End) -> String {
    let End {
        reasons,
        counts,
        failures,
        dry_run,
        queues,
        left,
    } = *end;
    let the_queue = if queues > 1 {
        "the queues"
    } else {
        "the queue"
    };
    let in_queue = |k: u64| format!("~{k} left in {the_queue}");
    let limits: Vec<&str> = reasons
        .iter()
        .map(String::as_str)
        .filter(|r| is_limit(r))
        .collect();
    if !limits.is_empty() {
        let limits = limits.join("; ");
        return match left {
            Some(k) => format!("{limits} ({})", in_queue(k)),
            None => limits,
        };
    }
    let (parts, kept, only_unemittable) = left_by_run(counts, failures);
    if left == Some(0) || (left.is_none() && kept == 0) {
        return reasons.join("; ");
    }
    if dry_run {
        return match left {
            Some(k) => format!(
                "every message was looked at ({}; nothing was changed)",
                in_queue(k)
            ),
            None => "every message was looked at (nothing was changed)".into(),
        };
    }
    let others = left.map_or(0, |k| k.saturating_sub(kept));
    let mut s = String::new();
    if kept > 0 {
        s.push_str(&format!(
            "only messages {} remain ({})",
            if only_unemittable {
                "that cannot be re-emitted"
            } else {
                "this run does not re-emit"
            },
            parts.join(", ")
        ));
    }
    if others > 0 {
        // No message was visible to this run, yet SQS counts more: someone else holds them,
        // they are delayed, or the count has not caught up with this run's deletes.
        s.push_str(&format!(
            "{}SQS still counts ~{others} {}message{} in {the_queue}: in flight (received by another consumer, or by a run that stopped), delayed, or deleted moments ago (its counts lag); a later run takes any that are still there",
            if s.is_empty() { "no message was left visible, but " } else { "; " },
            if s.is_empty() { "" } else { "more " },
            if others == 1 { "" } else { "s" },
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poison(parked: bool) -> Failure {
        Failure {
            queue: "q".into(),
            message_id: "m".into(),
            dedup_key: None,
            code: if parked { "PARKED" } else { "POISON" }.into(),
            reason: "body is not JSON".into(),
            parked,
        }
    }

    fn say(reasons: &[&str], counts: Counts, failures: &[Failure], left: Option<u64>) -> String {
        let reasons: Vec<String> = reasons.iter().map(|r| r.to_string()).collect();
        stopped_because(&End {
            reasons: &reasons,
            counts: &counts,
            failures,
            dry_run: false,
            queues: 1,
            left,
        })
    }

    const EMPTY: &[&str] = &["q is empty"];

    #[test]
    fn a_limit_says_how_much_it_left() {
        let r = ["--max-messages 15 reached", "q is empty"];
        let c = Counts::default();
        assert_eq!(
            say(&r, c, &[], Some(85)),
            "--max-messages 15 reached (~85 left in the queue)"
        );
        assert_eq!(say(&r, c, &[], None), "--max-messages 15 reached");
        let two = stopped_because(&End {
            reasons: &["--max-duration 1m reached".to_string()],
            counts: &c,
            failures: &[],
            dry_run: false,
            queues: 2,
            left: Some(1),
        });
        assert_eq!(two, "--max-duration 1m reached (~1 left in the queues)");
    }

    #[test]
    fn empty_only_when_nothing_is_left() {
        let c = Counts::default();
        assert_eq!(say(EMPTY, c, &[], Some(0)), "q is empty");
        // The queue could not be asked and this run left nothing: the workers' word stands.
        assert_eq!(say(EMPTY, c, &[], None), "q is empty");
    }

    #[test]
    fn only_poison_left_is_not_empty() {
        let c = Counts {
            failed: 2,
            ..Counts::default()
        };
        let f = [poison(false), poison(false)];
        let want = "only messages that cannot be re-emitted remain (2 poison)";
        assert_eq!(say(EMPTY, c, &f, Some(2)), want);
        // Without an answer from the queue the run still knows what it left.
        assert_eq!(say(EMPTY, c, &f, None), want);
        // Parked messages are gone from the queue.
        let c = Counts {
            parked: 1,
            ..Counts::default()
        };
        assert_eq!(say(EMPTY, c, &[poison(true)], Some(0)), "q is empty");
    }

    #[test]
    fn other_leftovers_are_named() {
        let c = Counts {
            failed: 3,
            filtered: 5,
            held_elsewhere: 1,
            ..Counts::default()
        };
        assert_eq!(
            say(EMPTY, c, &[poison(false)], Some(12)),
            "only messages this run does not re-emit remain (1 poison, 2 failed, 5 not selected, 1 held by another run); \
             SQS still counts ~3 more messages in the queue: in flight (received by another consumer, or by a run that stopped), delayed, or deleted moments ago (its counts lag); a later run takes any that are still there"
        );
        assert_eq!(
            say(EMPTY, Counts::default(), &[], Some(1)),
            "no message was left visible, but SQS still counts ~1 message in the queue: in flight (received by another consumer, or by a run that stopped), delayed, or deleted moments ago (its counts lag); a later run takes any that are still there"
        );
    }

    #[test]
    fn a_dry_run_leaves_everything_and_says_so() {
        let c = Counts {
            would_reemit: 4,
            failed: 1,
            ..Counts::default()
        };
        let said = stopped_because(&End {
            reasons: &["q: only messages already seen in this run".to_string()],
            counts: &c,
            failures: &[poison(false)],
            dry_run: true,
            queues: 1,
            left: Some(5),
        });
        assert_eq!(
            said,
            "every message was looked at (~5 left in the queue; nothing was changed)"
        );
    }
}
