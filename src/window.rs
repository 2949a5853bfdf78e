//! Time windows: `--since 2h`, `--until "2025-09-08 16:00"`, RFC 3339, durations.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// A time the user wrote that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "cannot read {flag} {value:?}: use a duration back from now (90m, 2h, \"1d 6h\"), a UTC time (\"2025-09-08 14:00\", \"2025-09-08 14:00:30\"), or RFC 3339 (2025-09-08T14:00:00+02:00)"
)]
pub struct WhenError {
    pub flag: String,
    pub value: String,
}

/// Reads WHEN: a duration back from `now`, `now`, or an absolute time (UTC unless an
/// offset is given).
pub fn parse_when(flag: &str, value: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, WhenError> {
    let v = value.trim();
    let bad = || WhenError {
        flag: flag.to_string(),
        value: value.to_string(),
    };
    if v.is_empty() {
        return Err(bad());
    }
    if v.eq_ignore_ascii_case("now") {
        return Ok(now);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(t.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S%:z",
        "%Y-%m-%d %H:%M%:z",
        "%Y-%m-%dT%H:%M%:z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(v, fmt) {
            return Ok(t.with_timezone(&Utc));
        }
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(v, fmt) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).ok_or_else(bad)?.and_utc());
    }
    if v.starts_with(|c: char| c.is_ascii_digit()) {
        let d = humantime::parse_duration(v).map_err(|_| bad())?;
        let d = chrono::Duration::from_std(d).map_err(|_| bad())?;
        return now.checked_sub_signed(d).ok_or_else(bad);
    }
    Err(bad())
}

/// Reads a duration flag (`30s`, `5m`, `1h 30m`).
pub fn parse_duration(flag: &str, value: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(value.trim()).map_err(|e| {
        format!(
            "cannot read {flag} {value:?} as a duration ({e}); write e.g. 30s, 5m or \"1h 30m\""
        )
    })
}

/// Shows a duration to a person, rounded to seconds (`1h 5m 3s`).
pub fn human_duration(d: chrono::Duration) -> String {
    let secs = d.num_seconds().max(0) as u64;
    humantime::format_duration(std::time::Duration::from_secs(secs)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 9, 8, 16, 0, 0).unwrap()
    }

    #[test]
    fn durations_count_back_from_now() {
        let t = |s| parse_when("--since", s, now()).unwrap();
        assert_eq!(t("2h"), Utc.with_ymd_and_hms(2025, 9, 8, 14, 0, 0).unwrap());
        assert_eq!(
            t("90m"),
            Utc.with_ymd_and_hms(2025, 9, 8, 14, 30, 0).unwrap()
        );
        assert_eq!(
            t("1d 6h"),
            Utc.with_ymd_and_hms(2025, 9, 7, 10, 0, 0).unwrap()
        );
        assert_eq!(t("now"), now());
    }

    #[test]
    fn absolute_times_are_utc_unless_an_offset_is_given() {
        let t = |s| parse_when("--since", s, now()).unwrap();
        let want = Utc.with_ymd_and_hms(2025, 9, 8, 14, 0, 0).unwrap();
        assert_eq!(t("2025-09-08 14:00"), want);
        assert_eq!(t("2025-09-08 14:00:00"), want);
        assert_eq!(t("2025-09-08T14:00:00Z"), want);
        assert_eq!(t("2025-09-08T16:00:00+02:00"), want);
        assert_eq!(t("2025-09-08 16:00+02:00"), want);
        assert_eq!(
            t("2025-09-08"),
            Utc.with_ymd_and_hms(2025, 9, 8, 0, 0, 0).unwrap()
        );
    }

    #[test]
    fn garbage_is_refused_with_advice() {
        for bad in [
            "",
            "yesterday",
            "2h ago",
            "2025-13-01 10:00",
            "-5m",
            "12 parsecs",
        ] {
            let e = parse_when("--since", bad, now()).unwrap_err();
            assert!(e.to_string().contains("duration back from now"), "{bad}");
        }
    }
}
