//! The replay window: `--since` and `--until` read against the clock's now, refused when
//! empty or in the future, warned about when it ends inside the archive's ingestion lag.

use chrono::{DateTime, Duration, Utc};

use crate::error::AppError;
use crate::output::time;
use crate::window::parse_when;

/// Archives lag ingestion by up to this much; the default window ends this long ago.
pub const ARCHIVE_LAG_MINUTES: i64 = 10;

/// The window `[start, end)` asked for, before the archive's own bounds apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub warnings: Vec<String>,
}

/// Reads the window; `until` None ends it [`ARCHIVE_LAG_MINUTES`] before `now`.
pub fn window(since: &str, until: Option<&str>, now: DateTime<Utc>) -> Result<Window, AppError> {
    let usage = |e: crate::window::WhenError| AppError::Usage(e.to_string());
    let start = parse_when("--since", since, now).map_err(usage)?;
    let lag_edge = now - Duration::minutes(ARCHIVE_LAG_MINUTES);
    let end = match until {
        Some(u) => parse_when("--until", u, now).map_err(usage)?,
        None => lag_edge,
    };
    if end > now {
        return Err(AppError::usage(format!(
            "--until {} is in the future (now is {}); the archive cannot hold events that have not happened yet",
            time(Some(end)),
            time(Some(now))
        )));
    }
    if start >= end {
        let default_note = if until.is_none() {
            format!(
                " (--until defaults to now - {ARCHIVE_LAG_MINUTES} min because archives lag ingestion)"
            )
        } else {
            String::new()
        };
        return Err(AppError::usage(format!(
            "the window is empty: start {} is not before end {}{default_note}; move --since earlier",
            time(Some(start)),
            time(Some(end))
        )));
    }
    let mut warnings = Vec::new();
    if end > lag_edge {
        warnings.push(format!(
            "the window ends within {ARCHIVE_LAG_MINUTES} minutes of now; archives lag ingestion by up to about {ARCHIVE_LAG_MINUTES} minutes, so the newest events may not be replayed"
        ));
    }
    Ok(Window {
        start,
        end,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::fixtures::{err, fake, now, req};
    use crate::replay::plan::plan;

    #[tokio::test]
    async fn window_errors() {
        let eb = fake();
        assert!(err(&eb, req("5m")).await.contains("window is empty"));
        let mut r = req("2h");
        r.until = Some("3h".into());
        assert!(err(&eb, r).await.contains("not before"));
        let mut r = req("2h");
        r.until = Some("2025-09-08 19:00".into());
        assert!(err(&eb, r).await.contains("in the future"));
        assert!(
            err(&eb, req("last tuesday"))
                .await
                .contains("cannot read --since")
        );
        // Beyond the 7-day retention: those events are gone.
        assert!(err(&eb, req("8d")).await.contains("retention horizon"));
    }

    #[tokio::test]
    async fn a_window_ending_inside_the_archive_lag_is_warned_about() {
        let eb = fake();
        let mut r = req("2h");
        r.until = Some("now".into());
        let p = plan(&eb, &eb, &r, now()).await.unwrap();
        assert!(
            p.warnings[0].contains("archives lag ingestion"),
            "{:?}",
            p.warnings
        );
    }

    #[test]
    fn the_default_window_ends_at_the_archive_lag_edge() {
        let w = window("2h", None, now()).unwrap();
        assert_eq!(w.start, now() - Duration::hours(2));
        assert_eq!(w.end, now() - Duration::minutes(ARCHIVE_LAG_MINUTES));
        assert!(w.warnings.is_empty());
    }
}
