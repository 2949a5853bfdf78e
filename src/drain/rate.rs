//! A shared events-per-second limit for `--rate`.

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
}
