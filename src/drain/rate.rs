//! A shared events-per-second limit for `--rate`, and how many pipelines it needs.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// Spaces out permits so that, across all callers, at most `per_second` are handed out.
pub struct RateLimiter {
    interval: Duration,
    next: Mutex<Option<Instant>>,
}

impl RateLimiter {
    pub fn new(per_second: f64) -> RateLimiter {
        RateLimiter {
            interval: Duration::from_secs_f64(1.0 / per_second.max(0.001)),
            next: Mutex::new(None),
        }
    }

    /// Waits until `n` events may go.
    pub async fn acquire(&self, n: usize) {
        let at = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let start = next.map_or(now, |t| t.max(now));
            *next = Some(start + self.interval * n as u32);
            start
        };
        tokio::time::sleep_until(at).await;
    }
}

/// Messages a pipeline can hold at once: the batch in hand and the one received ahead.
const HELD_PER_PIPELINE: f64 = 20.0;

/// Pipelines per queue under `--rate`: no more than can have what they hold put within half
/// the visibility timeout (`--rate 1` with 120 s: 3 pipelines, 60 messages). More would only
/// hold messages other runs could drain, waiting for the rate; what they hold is kept
/// invisible either way (see `keeper`). At least one, at most `concurrency`.
pub(crate) fn pipelines(concurrency: usize, rate: Option<f64>, visibility: Duration) -> usize {
    let concurrency = concurrency.max(1);
    match rate {
        Some(r) if r.is_finite() && r > 0.0 => {
            let fits = r * visibility.as_secs_f64() / 2.0 / HELD_PER_PIPELINE;
            (fits.floor() as usize).clamp(1, concurrency)
        }
        _ => concurrency,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn spaces_out_permits() {
        let r = RateLimiter::new(10.0);
        let t0 = Instant::now();
        r.acquire(10).await; // immediately
        r.acquire(10).await; // after 1 s
        r.acquire(5).await; // after 2 s
        assert_eq!(t0.elapsed(), Duration::from_secs(2));
    }

    #[test]
    fn a_slow_rate_needs_few_pipelines() {
        let vis = Duration::from_secs(120);
        assert_eq!(pipelines(32, None, vis), 32);
        assert_eq!(pipelines(32, Some(1.0), vis), 3);
        assert_eq!(pipelines(32, Some(0.1), vis), 1);
        assert_eq!(pipelines(32, Some(20.0), vis), 32);
        assert_eq!(pipelines(4, Some(20.0), vis), 4);
        assert_eq!(pipelines(32, Some(20.0), Duration::from_secs(10)), 5);
        assert_eq!(pipelines(0, None, vis), 1);
    }
}
