//! The value parsers the option structs share: clap `value_parser`s that check a flag
//! against its range in `crate::limits`, and the serde reader of durations ("30s", "1h 5m")
//! that playbook step fields use.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::limits;

/// A duration with no range of its own (`--min-age`).
pub(crate) fn duration(s: &str) -> Result<Duration, String> {
    crate::window::parse_duration("duration", s)
}

/// A whole-number flag within its range.
pub(crate) fn count<T: TryFrom<u64>>(
    limit: limits::Count,
) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static {
    move |s| {
        limit
            .parse(s)
            .and_then(|n| T::try_from(n).map_err(|_| format!("{s:?} is too large")))
    }
}

/// A duration flag within its range.
pub(crate) fn span(
    limit: limits::Span,
) -> impl Fn(&str) -> Result<Duration, String> + Clone + Send + Sync + 'static {
    move |s| limit.parse(s)
}

/// An events-per-second flag within its range.
pub(crate) fn rate(s: &str) -> Result<f64, String> {
    limits::RATE.parse(s)
}

/// An optional duration written as text (`"30s"`, `"1h 30m"`), as playbooks write them.
pub(crate) fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    match Option::<String>::deserialize(d)? {
        Some(s) => crate::window::parse_duration("duration", &s)
            .map(Some)
            .map_err(serde::de::Error::custom),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct D {
        #[serde(default, deserialize_with = "opt_duration")]
        d: Option<Duration>,
    }

    #[test]
    fn durations_are_read_as_text() {
        let d: D = serde_json::from_str(r#"{"d": "1h 30m"}"#).unwrap();
        assert_eq!(d.d, Some(Duration::from_secs(5400)));
        let d: D = serde_json::from_str("{}").unwrap();
        assert_eq!(d.d, None);
        let e = serde_json::from_str::<D>(r#"{"d": "soon"}"#).err().unwrap();
        assert!(e.to_string().contains("write e.g. 30s"), "{e}");
    }
}
