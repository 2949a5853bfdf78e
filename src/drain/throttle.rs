//! Pacing: the shared throttling gate every pipeline waits at after a throttled PutEvents,
//! and the jittered backoff between retries.

use std::time::Duration;

use super::state::Shared;

impl Shared {
    /// Waits for the turn of a PutEvents call of `n` entries (the throttling gate, then
    /// `--rate`). False when the run stops first: the call is not to be sent.
    pub(super) async fn wait_turn(&self, n: usize) -> bool {
        if self.stopping() {
            return false;
        }
        let turn = async {
            self.pass_gate().await;
            if let Some(rate) = &self.rate {
                rate.acquire(n).await;
            }
        };
        tokio::select! {
            biased;
            _ = self.stopped() => false,
            _ = turn => !self.stopping(),
        }
    }

    /// Waits while the throttling gate is closed.
    pub(super) async fn pass_gate(&self) {
        let until = self.gate.lock().expect("gate").until;
        if let Some(t) = until {
            tokio::time::sleep_until(t).await;
        }
    }

    /// Throttled: close the gate for a backoff that grows with consecutive throttles.
    pub(super) fn throttled(&self) {
        let mut g = self.gate.lock().expect("gate");
        let wait = backoff(g.streak);
        g.streak = g.streak.saturating_add(1);
        let until = tokio::time::Instant::now() + wait;
        if g.until.is_none_or(|u| u < until) {
            g.until = Some(until);
        }
    }

    /// A call went through unthrottled: the next throttle starts from the shortest wait.
    pub(super) fn unthrottled(&self) {
        self.gate.lock().expect("gate").streak = 0;
    }
}

/// Jittered exponential backoff: 100 ms doubling to 5 s, plus up to the same again.
pub(super) fn backoff(attempt: u32) -> Duration {
    let base = 100u64.saturating_mul(1 << attempt.min(6)).min(5000);
    let jitter = fastrand::u64(..=base);
    Duration::from_millis(base + jitter)
}
