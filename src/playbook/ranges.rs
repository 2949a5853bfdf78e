//! The values a playbook step's numeric and duration fields may take, checked where the
//! value is written (a field, or the default of the parameter it uses) and again after
//! `--set`, so that `validate` finds what `run` would refuse.
//!
//! One function per field: each holds the same bound as `commands::drain::prepare`, so
//! when the bounds move to one shared module, each function points at it.

use std::time::Duration;

use super::load::Value;

/// A field's value that is out of range: what is wrong, and an example of a good value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OutOfRange {
    pub message: String,
    pub example: &'static str,
}

/// Checks `key`'s typed value (a duration is still text). `Ok` for fields without a range
/// and for text that is not a duration (its own check reports that).
pub(crate) fn check(key: &str, v: &Value) -> Result<(), OutOfRange> {
    match (key, v) {
        ("concurrency", Value::Int(n)) => concurrency(*n),
        ("max_messages", Value::Int(n)) => max_messages(*n),
        ("rate", Value::Number(x)) => rate(*x),
        ("rate", Value::Int(n)) => rate(*n as f64),
        ("visibility_timeout", Value::Str(s)) => match crate::window::parse_duration(key, s) {
            Ok(d) => visibility_timeout(d),
            Err(_) => Ok(()),
        },
        // Every whole-number field counts something: run refuses a negative one.
        (_, Value::Int(n)) if *n < 0 => Err(OutOfRange {
            message: format!("`{key}` must not be negative, not {n}"),
            example: "a whole number of 0 or more",
        }),
        _ => Ok(()),
    }
}

/// Pipelines per queue.
fn concurrency(n: i64) -> Result<(), OutOfRange> {
    at_least_one("concurrency", n, "concurrency = 32 (the default)")
}

/// The most messages a drain receives.
fn max_messages(n: i64) -> Result<(), OutOfRange> {
    at_least_one("max_messages", n, "max_messages = 1000")
}

fn at_least_one(key: &str, n: i64, example: &'static str) -> Result<(), OutOfRange> {
    if n >= 1 {
        Ok(())
    } else {
        Err(OutOfRange {
            message: format!("`{key}` must be at least 1, not {n}"),
            example,
        })
    }
}

/// Events per second.
fn rate(x: f64) -> Result<(), OutOfRange> {
    if x > 0.0 && x.is_finite() {
        Ok(())
    } else {
        Err(OutOfRange {
            message: format!("`rate` must be a positive number of events per second, not {x}"),
            example: "rate = 50 (or leave it out: no cap)",
        })
    }
}

/// How long a received message stays hidden: the drain needs time to claim, put and
/// delete a batch, and SQS allows at most 12 hours.
fn visibility_timeout(d: Duration) -> Result<(), OutOfRange> {
    if (10..=43_200).contains(&d.as_secs()) {
        Ok(())
    } else {
        Err(OutOfRange {
            message: format!(
                "`visibility_timeout` must be between 10s and 12h, not {}",
                humantime::format_duration(d)
            ),
            example: "visibility_timeout = \"2m\" (the default)",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_ranged_field_refuses_what_the_drain_refuses() {
        let bad = |key: &str, v: Value| check(key, &v).unwrap_err().message;
        assert!(bad("concurrency", Value::Int(-1)).contains("at least 1, not -1"));
        assert!(bad("concurrency", Value::Int(0)).contains("at least 1"));
        assert!(bad("max_messages", Value::Int(-5)).contains("at least 1, not -5"));
        assert!(bad("rate", Value::Number(-3.0)).contains("positive"));
        assert!(bad("rate", Value::Int(0)).contains("positive"));
        assert!(bad("rate", Value::Number(f64::NAN)).contains("positive"));
        assert!(bad("visibility_timeout", Value::Str("1s".into())).contains("between 10s and 12h"));
        assert!(bad("visibility_timeout", Value::Str("13h".into())).contains("not 13h"));
        assert!(bad("max_redrives", Value::Int(-1)).contains("must not be negative"));
        for (key, v) in [
            ("concurrency", Value::Int(1)),
            ("max_messages", Value::Int(10)),
            ("rate", Value::Number(0.5)),
            ("visibility_timeout", Value::Str("10s".into())),
            ("visibility_timeout", Value::Str("12h".into())),
            ("max_redrives", Value::Int(0)),
            // Not a duration: the type check reports it, not the range check.
            ("visibility_timeout", Value::Str("soon".into())),
            ("queues", Value::List(vec!["q".into()])),
        ] {
            assert_eq!(check(key, &v), Ok(()), "{key} = {v}");
        }
    }
}
