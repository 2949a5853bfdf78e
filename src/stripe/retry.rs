//! When and how long the Stripe client waits before trying a call again.
//!
//! This is the only retry layer for Stripe calls (hyper does not retry). Retried: 429
//! (Stripe's rate limit), 5xx, and calls without an answer (`GET` changes nothing, so
//! repeating it is safe). Stripe's `Stripe-Should-Retry` header, when sent, decides
//! instead of the status, as Stripe's own libraries do. The wait is `Retry-After` when
//! Stripe sends it (never shorter; a wait beyond [`MAX_RETRY_AFTER`] ends the run with a
//! message instead of a hang), else exponential backoff with jitter: half the step plus a
//! random part up to the other half, the step 500 ms doubling to 16 s, so clients that were
//! throttled together do not come back together.
//!
//! The pause itself goes through [`Sleeper`], so tests see the waits without waiting.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// Attempts per call, the first included.
pub const MAX_ATTEMPTS: u32 = 6;
/// The longest `Retry-After` honoured.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

const FIRST_STEP: Duration = Duration::from_millis(500);
const LAST_STEP: Duration = Duration::from_secs(16);

/// Pauses between attempts.
#[async_trait]
pub trait Sleeper: Send + Sync {
    async fn sleep(&self, d: Duration);
}

/// tokio's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioSleeper;

#[async_trait]
impl Sleeper for TokioSleeper {
    async fn sleep(&self, d: Duration) {
        tokio::time::sleep(d).await;
    }
}

/// Whether an answer with this status is worth another try: `Stripe-Should-Retry`
/// (`true` / `false`) when Stripe sent it, else 429 and 5xx.
pub fn retryable(status: u16, should_retry: Option<&str>) -> bool {
    match should_retry.map(str::trim) {
        Some("true") => true,
        Some("false") => false,
        _ => status == 429 || (500..=599).contains(&status),
    }
}

/// The backoff before attempt `attempt + 1` (after `attempt` failed ones), with jitter.
pub fn backoff(attempt: u32) -> Duration {
    let step = FIRST_STEP
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(10))
        .min(LAST_STEP);
    let half = step / 2;
    let jitter_ms = fastrand::u64(0..=half.as_millis() as u64);
    half + Duration::from_millis(jitter_ms)
}

/// `Retry-After`: delay-seconds or an HTTP date (RFC 9110), as a wait from `now`. None
/// when absent or unreadable (the backoff applies then).
pub fn retry_after(value: Option<&str>, now: DateTime<Utc>) -> Option<Duration> {
    let v = value?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    // Some servers send fractions; a wait must not come out shorter than asked.
    if let Ok(secs) = v.parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Some(Duration::from_secs(secs.ceil() as u64));
    }
    let at = DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn stripe_should_retry_overrides_the_status() {
        assert!(retryable(429, None));
        assert!(retryable(500, None) && retryable(503, None));
        assert!(!retryable(400, None) && !retryable(401, None) && !retryable(404, None));
        assert!(!retryable(503, Some("false")));
        assert!(retryable(409, Some("true")));
        assert!(retryable(429, Some("maybe")));
    }

    #[test]
    fn backoff_doubles_with_jitter_up_to_a_cap() {
        for _ in 0..200 {
            let first = backoff(1);
            assert!(
                (250..=500).contains(&(first.as_millis() as u64)),
                "{first:?}"
            );
            let third = backoff(3);
            assert!(
                (1000..=2000).contains(&(third.as_millis() as u64)),
                "{third:?}"
            );
            let late = backoff(30);
            assert!(
                (8000..=16000).contains(&(late.as_millis() as u64)),
                "{late:?}"
            );
        }
        // Jittered: 200 draws are not all one value.
        let draws: std::collections::BTreeSet<_> = (0..200).map(|_| backoff(4)).collect();
        assert!(draws.len() > 1);
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 8, 49, 30).unwrap();
        assert_eq!(retry_after(Some("7"), now), Some(Duration::from_secs(7)));
        assert_eq!(retry_after(Some(" 0 "), now), Some(Duration::ZERO));
        assert_eq!(retry_after(Some("1.2"), now), Some(Duration::from_secs(2)));
        assert_eq!(
            retry_after(Some("Tue, 01 Dec 2026 08:49:37 GMT"), now),
            Some(Duration::from_secs(7))
        );
        // A date already past means "now".
        assert_eq!(
            retry_after(Some("Tue, 01 Dec 2026 08:00:00 GMT"), now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(Some("soon"), now), None);
        assert_eq!(retry_after(Some("-3"), now), None);
        assert_eq!(retry_after(None, now), None);
    }
}
