//! The values a playbook step's numeric and duration fields may take, checked where the
//! value is written (a field, or the default of the parameter it uses) and again after
//! `--set`, so that `validate` finds what `run` would refuse. The ranges themselves are the
//! flags' ranges, in `crate::limits`; this module words them for a playbook.

use super::model::Value;

/// A field's value that is out of range: what is wrong, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OutOfRange {
    pub message: String,
    pub help: String,
}

/// Checks `key`'s typed value (a duration is still text). `Ok` for fields without a range
/// and for text that is not a duration (its own check reports that).
pub(crate) fn check(key: &str, v: &Value) -> Result<(), OutOfRange> {
    if let Value::Str(s) = v
        && let Some((message, help)) = crate::options::choice_error(key, s)
    {
        return Err(OutOfRange { message, help });
    }
    if let Err(r) = crate::limits::check_field(key, v) {
        return Err(OutOfRange {
            message: format!("`{key}` must be {}, not {v}", r.range),
            help: format!("write a value {}: {}", r.range, r.why),
        });
    }
    match v {
        // Every whole-number field counts something: run refuses a negative one.
        Value::Int(n) if *n < 0 => Err(OutOfRange {
            message: format!("`{key}` must not be negative, not {n}"),
            help: "write a whole number of 0 or more".into(),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_ranged_field_refuses_what_the_flag_refuses() {
        let bad = |key: &str, v: Value| check(key, &v).unwrap_err().message;
        assert_eq!(
            bad("concurrency", Value::Int(-1)),
            "`concurrency` must be between 1 and 256, not -1"
        );
        assert!(bad("concurrency", Value::Int(0)).contains("between 1 and 256"));
        assert_eq!(
            bad("max_messages", Value::Int(-5)),
            "`max_messages` must be at least 1, not -5"
        );
        assert!(bad("rate", Value::Number(-3.0)).contains("events per second, not -3"));
        assert!(bad("rate", Value::Int(0)).contains("between 0.01 and 10000"));
        assert!(bad("rate", Value::Number(f64::NAN)).contains("events per second"));
        assert_eq!(
            bad("visibility_timeout", Value::Str("1s".into())),
            "`visibility_timeout` must be between 10s and 12h, not 1s"
        );
        assert!(bad("visibility_timeout", Value::Str("13h".into())).contains("not 13h"));
        assert!(bad("min_age", Value::Int(-1)).contains("must not be negative"));
        for (key, v) in [
            ("concurrency", Value::Int(1)),
            ("max_messages", Value::Int(10)),
            ("rate", Value::Number(0.5)),
            ("visibility_timeout", Value::Str("10s".into())),
            ("visibility_timeout", Value::Str("12h".into())),
            ("max_redrives", Value::Int(3)),
            // Not a duration: the type check reports it, not the range check.
            ("visibility_timeout", Value::Str("soon".into())),
            ("queues", Value::List(vec!["q".into()])),
        ] {
            assert_eq!(check(key, &v), Ok(()), "{key} = {v}");
        }
    }
}
