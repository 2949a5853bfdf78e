//! Drain progress on stderr: an indicatif bar on a terminal, otherwise a line every 30 s.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use super::engine::{Counts, DrainObserver};

/// One line of counts.
pub fn counts_line(c: &Counts) -> String {
    format!(
        "received {} (of ~{}), re-emitted {}, duplicates {}, filtered {}, parked {}, failed {}",
        c.received, c.total_estimate, c.reemitted, c.duplicates, c.filtered, c.parked, c.failed
    )
}

/// Plain lines, at most one per interval, and the final counts when a line was shown.
pub struct DrainLines {
    every: Duration,
    /// When a line was last printed, and the counts not printed since.
    last: Mutex<(Option<Instant>, Option<Counts>)>,
}

impl DrainLines {
    pub fn new(every: Duration) -> DrainLines {
        DrainLines {
            every,
            last: Mutex::new((None, None)),
        }
    }
}

impl DrainObserver for DrainLines {
    fn progress(&self, c: &Counts) {
        let mut last = self.last.lock().expect("lines");
        if last.0.is_none_or(|t| t.elapsed() >= self.every) {
            *last = (Some(Instant::now()), None);
            eprintln!("drain: {}", counts_line(c));
        } else {
            last.1 = Some(*c);
        }
    }

    fn finish(&self) {
        if let Some(c) = self.last.lock().expect("lines").1.take() {
            eprintln!("drain: {}", counts_line(&c));
        }
    }
}

/// A bar over the approximate queue depth.
pub struct DrainBar {
    bar: ProgressBar,
}

impl Default for DrainBar {
    fn default() -> Self {
        Self::new()
    }
}

impl DrainBar {
    pub fn new() -> DrainBar {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        DrainBar { bar }
    }
}

impl DrainObserver for DrainBar {
    fn progress(&self, c: &Counts) {
        self.bar.set_length(c.total_estimate.max(c.received));
        self.bar.set_position(c.received);
        self.bar.set_message(format!(
            "re-emitted {} dup {} filtered {} parked {} failed {}",
            c.reemitted, c.duplicates, c.filtered, c.parked, c.failed
        ));
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
