//! The allowed range of every numeric and duration option, in one place: the flags' parsers,
//! the playbook loader (literal step fields), the playbook runner (values filled in from
//! parameters) and the drain and reemit preparation all check against these, so a flag and
//! the step field of the same name accept the same values. Out of range is a usage error.

use std::time::Duration;

use crate::error::AppError;
use crate::playbook::model::Value;

/// A whole number in `min..=max`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Count {
    pub min: u64,
    pub max: u64,
    /// Why the range is what it is, shown with the refusal.
    why: &'static str,
}

/// A rate in `min..=max` (finite).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rate {
    pub min: f64,
    pub max: f64,
    why: &'static str,
}

/// A duration in `min..=max`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Span {
    pub min: Duration,
    pub max: Duration,
    why: &'static str,
}

const DAY: u64 = 86_400;

/// A count with no upper bound worth stating (it still fits a playbook's integers).
const UNBOUNDED: u64 = i64::MAX as u64;

/// How long a ledger record is kept; a claim cannot outlive its record.
pub(crate) const LEDGER_TTL: Duration = Duration::from_secs(7 * DAY);

/// Pipelines per queue. Each keeps up to three calls in flight (receive, put, delete), so 256
/// stay under the usual limit of 1,024 open files; more only add connections (30,000 made an
/// EMFILE retry storm), and the drain is CPU-bound from 16 (docs/benchmarks.md).
pub(crate) const CONCURRENCY: Count = Count {
    min: 1,
    max: 256,
    why: "each pipeline holds up to three connections and the drain is CPU-bound from 16 (docs/benchmarks.md); cap the load with --rate instead",
};

pub(crate) const MAX_MESSAGES: Count = Count {
    min: 1,
    max: UNBOUNDED,
    why: "a run that may take no message does nothing",
};

/// Redrives: 0 would park every event (its first re-emit is redrive 1); an event redriven
/// 100 times is a loop to fix, not a failure to retry.
pub(crate) const MAX_REDRIVES: Count = Count {
    min: 1,
    max: 100,
    why: "an event's first re-emit is redrive 1, and one redriven 100 times is a loop to fix at its target",
};

/// PutEvents bytes per call: the re-emitted entry carries about 300 bytes of `nexus_replay`
/// metadata, so below 1 KiB hardly an event fits; AWS documents 256 KiB and reportedly
/// allows 1 MiB now.
pub(crate) const SIZE_LIMIT: Count = Count {
    min: 1024,
    max: 1024 * 1024,
    why: "the re-emitted entry carries about 300 bytes of metadata; AWS documents 256 KiB per PutEvents call, 1 MiB at most",
};

/// Messages a look at a queue holds invisible at once: SQS allows about 120,000 in flight
/// per standard queue.
pub(crate) const BROWSE_MAX: Count = Count {
    min: 1,
    max: 120_000,
    why: "every message looked at is held in flight until the end, and SQS allows about 120,000 in flight per queue",
};

pub(crate) const SAMPLES: Count = Count {
    min: 0,
    max: 100,
    why: "samples are printed whole",
};

pub(crate) const LIST_LIMIT: Count = Count {
    min: 1,
    max: 10_000,
    why: "replays are kept about 90 days, and at most 10 run at once",
};

/// Events per second. Above the largest default PutEvents quota (10,000/s in us-east-1)
/// leave `--rate` out; below 0.01/s a batch of 10 waits over 16 minutes.
pub(crate) const RATE: Rate = Rate {
    min: 0.01,
    max: 10_000.0,
    why: "10,000/s is the largest default PutEvents quota (leave --rate out to go faster); below 0.01/s a batch of 10 waits over 16 minutes",
};

/// DescribeReplay polls: under 1 s only burns API calls (`--poll 0s` made about 500 a
/// second), and a replay's progress moves in one-minute buckets.
pub(crate) const POLL: Span = Span {
    min: Duration::from_secs(1),
    max: Duration::from_secs(300),
    why: "faster only spends DescribeReplay calls, and replays progress in one-minute buckets",
};

pub(crate) const TIMEOUT: Span = Span {
    min: Duration::from_secs(1),
    max: Duration::from_secs(30 * DAY),
    why: "leave it out to wait until the end",
};

pub(crate) const MAX_DURATION: Span = Span {
    min: Duration::from_secs(1),
    max: Duration::from_secs(30 * DAY),
    why: "leave it out to run until the queue is drained",
};

/// SQS allows 0 to 12 h; under 10 s a batch's visibility lapses while it is still being put.
pub(crate) const VISIBILITY: Span = Span {
    min: Duration::from_secs(10),
    max: Duration::from_secs(43_200),
    why: "SQS allows at most 12h, and under 10s a batch becomes visible to other consumers while it is still being re-emitted",
};

pub(crate) const RECEIVE_WAIT: Span = Span {
    min: Duration::ZERO,
    max: Duration::from_secs(20),
    why: "20s is the SQS long-poll limit",
};

/// A claim must outlive the visibility timeout (at least 10 s) and cannot outlive the ledger
/// record that holds it (7 days).
pub(crate) const CLAIM_TIMEOUT: Span = Span {
    min: Duration::from_secs(10),
    max: LEDGER_TTL,
    why: "a claim must outlive the visibility timeout (at least 10s) and cannot outlive its ledger record (kept 7 days)",
};

impl Count {
    /// Why `n` is out of range.
    pub(crate) fn check(&self, n: i128) -> Result<u64, String> {
        if n < i128::from(self.min) || n > i128::from(self.max) {
            return Err(format!("must be {}: {}", self.words(), self.why));
        }
        Ok(n as u64)
    }

    /// A flag's value (clap `value_parser`).
    pub(crate) fn parse(&self, s: &str) -> Result<u64, String> {
        let n: i128 = s
            .trim()
            .parse()
            .map_err(|_| format!("{s:?} is not a whole number"))?;
        self.check(n)
    }
}

impl Rate {
    pub(crate) fn check(&self, x: f64) -> Result<f64, String> {
        if !x.is_finite() || x < self.min || x > self.max {
            return Err(format!("must be {}: {}", self.words(), self.why));
        }
        Ok(x)
    }

    pub(crate) fn parse(&self, s: &str) -> Result<f64, String> {
        let x: f64 = s
            .trim()
            .parse()
            .map_err(|_| format!("{s:?} is not a number"))?;
        self.check(x)
    }
}

impl Span {
    pub(crate) fn check(&self, d: Duration) -> Result<Duration, String> {
        if d < self.min || d > self.max {
            return Err(format!("must be {}: {}", self.words(), self.why));
        }
        Ok(d)
    }

    pub(crate) fn parse(&self, s: &str) -> Result<Duration, String> {
        self.check(crate::window::parse_duration("duration", s)?)
    }
}

/// A range of one kind.
#[derive(Debug, Clone, Copy)]
enum Limit {
    Count(Count),
    Rate(Rate),
    Span(Span),
}

/// The range of a playbook step field, by its name (the flag's name in snake case).
fn of_field(name: &str) -> Option<Limit> {
    Some(match name {
        "concurrency" => Limit::Count(CONCURRENCY),
        "max_messages" => Limit::Count(MAX_MESSAGES),
        "max_redrives" => Limit::Count(MAX_REDRIVES),
        "size_limit" => Limit::Count(SIZE_LIMIT),
        "rate" => Limit::Rate(RATE),
        "poll" => Limit::Span(POLL),
        "timeout" => Limit::Span(TIMEOUT),
        "max_duration" => Limit::Span(MAX_DURATION),
        "visibility_timeout" => Limit::Span(VISIBILITY),
        "receive_wait" => Limit::Span(RECEIVE_WAIT),
        "claim_timeout" => Limit::Span(CLAIM_TIMEOUT),
        _ => return None,
    })
}

/// A playbook step field's value outside its flag's range: the range in words and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldRange {
    /// `between 1 and 256`, `at least 1`.
    pub range: String,
    pub why: &'static str,
}

impl Count {
    fn words(&self) -> String {
        if self.max == UNBOUNDED {
            format!("at least {}", self.min)
        } else {
            format!("between {} and {}", self.min, self.max)
        }
    }
}

impl Rate {
    fn words(&self) -> String {
        format!("between {} and {} events per second", self.min, self.max)
    }
}

impl Span {
    fn words(&self) -> String {
        format!(
            "between {} and {}",
            humantime::format_duration(self.min),
            humantime::format_duration(self.max)
        )
    }
}

/// Why a playbook step field's value is out of its flag's range. Values of another type, and
/// text that is not a duration, are left to the type checks.
pub(crate) fn check_field(name: &str, v: &Value) -> Result<(), FieldRange> {
    let (ok, range, why) = match (of_field(name), v) {
        (Some(Limit::Count(c)), Value::Int(i)) => {
            (c.check(i128::from(*i)).is_ok(), c.words(), c.why)
        }
        (Some(Limit::Rate(r)), Value::Number(x)) => (r.check(*x).is_ok(), r.words(), r.why),
        (Some(Limit::Rate(r)), Value::Int(i)) => (r.check(*i as f64).is_ok(), r.words(), r.why),
        (Some(Limit::Span(s)), Value::Str(text)) => match crate::window::parse_duration(name, text)
        {
            Ok(d) => (s.check(d).is_ok(), s.words(), s.why),
            Err(_) => return Ok(()),
        },
        _ => return Ok(()),
    };
    if ok {
        Ok(())
    } else {
        Err(FieldRange { range, why })
    }
}

/// A range check of an engine input, as a usage error naming the flag.
pub(crate) fn usage<T>(flag: &str, checked: Result<T, String>) -> Result<T, AppError> {
    checked.map_err(|e| AppError::usage(format!("{flag} {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn counts_refuse_what_is_outside_their_range() {
        for (limit, ok, bad) in [
            (CONCURRENCY, &[1, 32, 256][..], &[0, 257, 30_000, -1][..]),
            (
                MAX_MESSAGES,
                &[1, i64::MAX as i128],
                &[0, -5, i128::from(u64::MAX)],
            ),
            (MAX_REDRIVES, &[1, 3, 100], &[0, 101, -1]),
            (
                SIZE_LIMIT,
                &[1024, 262_144, 1_048_576],
                &[10, 1023, 1_048_577],
            ),
            (BROWSE_MAX, &[1, 100, 120_000], &[0, 120_001]),
            (SAMPLES, &[0, 3, 100], &[101, -1]),
            (LIST_LIMIT, &[1, 50, 10_000], &[0, 10_001]),
        ] {
            for n in ok {
                assert_eq!(limit.check(*n), Ok(*n as u64), "{limit:?} {n}");
            }
            for n in bad {
                let e = limit.check(*n).unwrap_err();
                assert!(e.starts_with("must be "), "{e}");
            }
        }
        assert_eq!(CONCURRENCY.parse(" 8 "), Ok(8));
        assert!(
            CONCURRENCY
                .parse("30000")
                .unwrap_err()
                .contains("between 1 and 256")
        );
        assert!(
            CONCURRENCY
                .parse("eight")
                .unwrap_err()
                .contains("not a whole number")
        );
        assert!(MAX_MESSAGES.parse("0").unwrap_err().contains("at least 1"));
        // Larger than any integer type: still a range error, not a parse panic.
        assert!(
            MAX_MESSAGES
                .parse("99999999999999999999999")
                .unwrap_err()
                .contains("at least 1")
        );
    }

    #[test]
    fn rates_are_positive_finite_and_capped() {
        for ok in [0.01, 0.5, 20.0, 10_000.0] {
            assert_eq!(RATE.check(ok), Ok(ok));
        }
        for bad in [0.0, -3.0, 0.001, 10_000.5, f64::NAN, f64::INFINITY] {
            assert!(RATE.check(bad).is_err(), "{bad}");
        }
        assert!(
            RATE.parse("0")
                .unwrap_err()
                .contains("between 0.01 and 10000")
        );
        assert!(RATE.parse("inf").is_err());
        assert!(RATE.parse("fast").unwrap_err().contains("not a number"));
    }

    #[test]
    fn durations_are_bounded() {
        for (limit, ok, bad) in [
            (
                POLL,
                &[secs(1), secs(300)][..],
                &[secs(0), Duration::from_millis(500), secs(301)][..],
            ),
            (
                TIMEOUT,
                &[secs(1), secs(30 * DAY)],
                &[secs(0), secs(30 * DAY + 1)],
            ),
            (
                MAX_DURATION,
                &[secs(1), secs(3600)],
                &[secs(0), secs(30 * DAY + 1)],
            ),
            (
                VISIBILITY,
                &[secs(10), secs(43_200)],
                &[secs(0), secs(9), secs(43_201)],
            ),
            (RECEIVE_WAIT, &[secs(0), secs(20)], &[secs(21)]),
            (
                CLAIM_TIMEOUT,
                &[secs(10), secs(7 * DAY)],
                &[secs(9), secs(7 * DAY + 1)],
            ),
        ] {
            for d in ok {
                assert_eq!(limit.check(*d), Ok(*d), "{limit:?} {d:?}");
            }
            for d in bad {
                assert!(limit.check(*d).is_err(), "{limit:?} {d:?}");
            }
        }
        assert!(POLL.parse("0s").unwrap_err().contains("between 1s and 5m"));
        let huge = CLAIM_TIMEOUT.parse("300000years").unwrap_err();
        assert!(huge.contains("between 10s and 7days"), "{huge}");
        assert!(
            CLAIM_TIMEOUT
                .parse("soon")
                .unwrap_err()
                .contains("duration")
        );
    }

    #[test]
    fn playbook_fields_share_the_flags_ranges() {
        assert!(check_field("concurrency", &Value::Int(-1)).is_err());
        assert!(check_field("concurrency", &Value::Int(30_000)).is_err());
        assert!(check_field("concurrency", &Value::Int(8)).is_ok());
        assert!(check_field("max_messages", &Value::Int(-5)).is_err());
        assert!(check_field("rate", &Value::Number(-3.0)).is_err());
        assert!(check_field("rate", &Value::Int(0)).is_err());
        assert!(check_field("rate", &Value::Number(2.5)).is_ok());
        assert!(check_field("visibility_timeout", &Value::Str("1s".into())).is_err());
        assert!(check_field("visibility_timeout", &Value::Str("2m".into())).is_ok());
        assert!(check_field("claim_timeout", &Value::Str("300000years".into())).is_err());
        assert!(check_field("poll", &Value::Str("0s".into())).is_err());
        assert!(check_field("timeout", &Value::Str("30m".into())).is_ok());
        assert!(check_field("size_limit", &Value::Int(10)).is_err());
        assert!(check_field("max_redrives", &Value::Int(0)).is_err());
        // References and text that is not a duration are the type checks' business.
        assert!(check_field("visibility_timeout", &Value::Str("${vis}".into())).is_ok());
        assert!(check_field("concurrency", &Value::Str("${n}".into())).is_ok());
        // Fields without a range.
        assert!(check_field("min_age", &Value::Str("0s".into())).is_ok());
        assert!(check_field("queues", &Value::List(vec![])).is_ok());
    }
}
