//! The metric period for a window's age (what CloudWatch still keeps at that resolution),
//! and the batches that keep each `GetMetricData` call within its limits.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::ports::metrics::{MAX_DATAPOINTS_PER_CALL, MAX_METRICS_PER_CALL};

/// CloudWatch keeps 1-minute data this many days, 5-minute data 63, 1-hour data 455.
const ONE_MINUTE_DAYS: i64 = 15;
const FIVE_MINUTE_DAYS: i64 = 63;
const ONE_HOUR_DAYS: i64 = 455;

/// The period asked for, and what it means for the answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resolution {
    pub period_seconds: i32,
    /// In words: `1-minute data`, or why a coarser period was all CloudWatch kept.
    pub note: String,
}

/// The finest period CloudWatch still holds for a window starting at `start`.
pub fn resolution_for(start: DateTime<Utc>, now: DateTime<Utc>) -> Resolution {
    let age = now - start;
    if age <= Duration::days(ONE_MINUTE_DAYS) {
        Resolution {
            period_seconds: 60,
            note: "1-minute data".into(),
        }
    } else if age <= Duration::days(FIVE_MINUTE_DAYS) {
        Resolution {
            period_seconds: 300,
            note: format!(
                "5-minute data (the window starts more than {ONE_MINUTE_DAYS} days ago; CloudWatch keeps 1-minute data {ONE_MINUTE_DAYS} days)"
            ),
        }
    } else {
        let gone = if age > Duration::days(ONE_HOUR_DAYS) {
            format!(
                "; CloudWatch keeps 1-hour data {ONE_HOUR_DAYS} days, so the older part of the window has no metrics"
            )
        } else {
            String::new()
        };
        Resolution {
            period_seconds: 3600,
            note: format!(
                "1-hour data (the window starts more than {FIVE_MINUTE_DAYS} days ago; CloudWatch keeps 5-minute data {FIVE_MINUTE_DAYS} days){gone}"
            ),
        }
    }
}

/// Data points one metric has over `[start, end)` at `period_seconds`.
pub fn points_per_metric(start: DateTime<Utc>, end: DateTime<Utc>, period_seconds: i32) -> u64 {
    let secs = (end - start).num_seconds().max(1) as u64;
    let period = u64::try_from(period_seconds).unwrap_or(60).max(1);
    secs.div_ceil(period)
}

/// How many metrics one call may ask for: at most [`MAX_METRICS_PER_CALL`], and no more
/// than [`MAX_DATAPOINTS_PER_CALL`] data points in all (at least one).
pub fn metrics_per_call(points_per_metric: u64) -> usize {
    let by_points = MAX_DATAPOINTS_PER_CALL / points_per_metric.max(1);
    (by_points as usize).clamp(1, MAX_METRICS_PER_CALL)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 9, 8, 16, 0, 0).unwrap()
    }

    #[test]
    fn the_period_follows_what_cloudwatch_keeps_at_the_windows_age() {
        let at = |days: i64| resolution_for(now() - Duration::days(days), now());
        assert_eq!(at(1).period_seconds, 60);
        assert_eq!(at(15).period_seconds, 60);
        assert_eq!(at(16).period_seconds, 300);
        assert!(at(16).note.contains("1-minute data 15 days"));
        assert_eq!(at(63).period_seconds, 300);
        assert_eq!(at(64).period_seconds, 3600);
        assert!(at(64).note.contains("5-minute data 63 days"));
        assert!(!at(64).note.contains("455"));
        assert!(at(500).note.contains("455 days"));
    }

    #[test]
    fn calls_keep_within_500_metrics_and_100800_points() {
        assert_eq!(metrics_per_call(60), 500);
        // 15 days of 1-minute data: 21,600 points a metric, 4 metrics a call.
        let p = points_per_metric(now() - Duration::days(15), now(), 60);
        assert_eq!(p, 21_600);
        assert_eq!(metrics_per_call(p), 4);
        assert_eq!(metrics_per_call(200_000), 1);
        assert_eq!(
            points_per_metric(now() - Duration::seconds(61), now(), 60),
            2
        );
    }
}
