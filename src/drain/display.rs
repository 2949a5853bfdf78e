//! Drain progress on stderr: an indicatif bar on a terminal, otherwise a line every 30 s.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use super::engine::{Counts, DrainObserver};

/// How the re-emitted count is labelled: a dry run re-emits nothing.
fn reemit_label(dry_run: bool) -> &'static str {
    if dry_run {
        "would re-emit"
    } else {
        "re-emitted"
    }
}

/// The re-emitted and parked counts: a dry run's are what it would do.
fn done_or_planned(c: &Counts, dry_run: bool) -> (u64, u64) {
    if dry_run {
        (c.would_reemit, c.would_park)
    } else {
        (c.reemitted, c.parked)
    }
}

/// One line of counts.
pub fn counts_line(c: &Counts, dry_run: bool) -> String {
    let (reemitted, parked) = done_or_planned(c, dry_run);
    let mut line = format!(
        "received {} (of ~{}), {} {}, duplicates {}, filtered {}, {} {}, failed {}",
        c.received,
        c.total_estimate,
        reemit_label(dry_run),
        reemitted,
        c.duplicates,
        c.filtered,
        if dry_run { "would park" } else { "parked" },
        parked,
        c.failed
    );
    if c.conflicts > 0 {
        line.push_str(&format!(", conflicts {}", c.conflicts));
    }
    line
}

/// Plain lines, at most one per interval, and the final counts when a line was shown.
pub struct DrainLines {
    every: Duration,
    dry_run: bool,
    /// When a line was last printed, and the counts not printed since.
    last: Mutex<(Option<Instant>, Option<Counts>)>,
}

impl DrainLines {
    pub fn new(every: Duration, dry_run: bool) -> DrainLines {
        DrainLines {
            every,
            dry_run,
            last: Mutex::new((None, None)),
        }
    }
}

impl DrainObserver for DrainLines {
    fn progress(&self, c: &Counts) {
        let mut last = self.last.lock().expect("lines");
        if last.0.is_none_or(|t| t.elapsed() >= self.every) {
            *last = (Some(Instant::now()), None);
            eprintln!("drain: {}", counts_line(c, self.dry_run));
        } else {
            last.1 = Some(*c);
        }
    }

    fn finish(&self) {
        if let Some(c) = self.last.lock().expect("lines").1.take() {
            eprintln!("drain: {}", counts_line(&c, self.dry_run));
        }
    }
}

/// A bar over the approximate queue depth.
pub struct DrainBar {
    bar: ProgressBar,
    dry_run: bool,
}

impl DrainBar {
    pub fn new(dry_run: bool) -> DrainBar {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        DrainBar { bar, dry_run }
    }
}

impl DrainObserver for DrainBar {
    fn progress(&self, c: &Counts) {
        self.bar.set_length(c.total_estimate.max(c.received));
        self.bar.set_position(c.received);
        let (reemitted, parked) = done_or_planned(c, self.dry_run);
        self.bar.set_message(format!(
            "{} {} dup {} filtered {} {} {} failed {}",
            reemit_label(self.dry_run),
            reemitted,
            c.duplicates,
            c.filtered,
            if self.dry_run { "would park" } else { "parked" },
            parked,
            c.failed
        ));
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dry_run_says_what_it_would_re_emit() {
        let c = Counts {
            received: 5,
            reemitted: 5,
            parked: 1,
            ..Counts::default()
        };
        assert!(counts_line(&c, false).contains(", re-emitted 5,"));
        assert!(counts_line(&c, false).contains(", parked 1,"));
        let planned = Counts {
            received: 5,
            would_reemit: 4,
            would_park: 1,
            ..Counts::default()
        };
        let dry = counts_line(&planned, true);
        assert!(dry.contains(", would re-emit 4,"), "{dry}");
        assert!(dry.contains(", would park 1,"), "{dry}");
        assert!(
            !dry.contains("re-emitted") && !dry.contains(" parked"),
            "{dry}"
        );
    }
}
