//! Showing a watched replay on stderr: an indicatif bar on a terminal, otherwise one line
//! per state change and at most one progress line every 30 seconds.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use super::watch::WatchObserver;
use crate::output::time;
use crate::ports::PortError;
use crate::ports::replay::{ReplayState, ReplayStatus};

/// How often a progress line may be printed off a terminal.
pub const LINE_INTERVAL: Duration = Duration::from_secs(30);

fn eta(progress: Option<f64>, elapsed: Duration) -> Option<Duration> {
    let p = progress?;
    if p <= 0.0 || p >= 1.0 {
        return None;
    }
    Some(Duration::from_secs_f64(
        elapsed.as_secs_f64() / p * (1.0 - p),
    ))
}

fn secs(d: Duration) -> String {
    humantime::format_duration(Duration::from_secs(d.as_secs())).to_string()
}

/// One line describing where the replay is.
pub fn progress_line(s: &ReplayStatus, elapsed: Duration) -> String {
    let mut line = format!("replay {}: {}", s.name, s.state);
    if let Some(p) = s.progress() {
        line.push_str(&format!(" {:.0}%", p * 100.0));
    }
    if s.event_last_replayed.is_some() {
        line.push_str(&format!(
            ", events up to {} replayed",
            time(s.event_last_replayed)
        ));
    }
    line.push_str(&format!(", elapsed {}", secs(elapsed)));
    if let Some(e) = eta(s.progress(), elapsed) {
        line.push_str(&format!(", ETA ~{}", secs(e)));
    }
    line
}

/// Lines on stderr: every state change, and progress at most every [`LINE_INTERVAL`].
pub struct Lines {
    last_state: Option<ReplayState>,
    last_line_at: Option<Duration>,
    progress_lines: bool,
    out: Box<dyn FnMut(String) + Send>,
}

impl Lines {
    /// `progress_lines` false keeps only the state-change lines.
    pub fn stderr(progress_lines: bool) -> Lines {
        Lines::new(progress_lines, Box::new(|l| eprintln!("{l}")))
    }

    pub fn new(progress_lines: bool, out: Box<dyn FnMut(String) + Send>) -> Lines {
        Lines {
            last_state: None,
            last_line_at: None,
            progress_lines,
            out,
        }
    }
}

impl WatchObserver for Lines {
    fn status(&mut self, s: &ReplayStatus, elapsed: Duration) {
        if self.last_state.as_ref() != Some(&s.state) {
            self.last_state = Some(s.state.clone());
            self.last_line_at = Some(elapsed);
            (self.out)(progress_line(s, elapsed));
            return;
        }
        if self.progress_lines
            && self
                .last_line_at
                .is_none_or(|at| elapsed.saturating_sub(at) >= LINE_INTERVAL)
        {
            self.last_line_at = Some(elapsed);
            (self.out)(progress_line(s, elapsed));
        }
    }

    fn transient_error(&mut self, _: &PortError, _: u32) {}

    fn finish(&mut self) {}
}

/// An indicatif bar for terminals.
pub struct Bar {
    bar: ProgressBar,
}

impl Default for Bar {
    fn default() -> Bar {
        Bar::new()
    }
}

impl Bar {
    pub fn new() -> Bar {
        let bar = ProgressBar::new(1000);
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{bar:30}] {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_message("waiting for the first replay status");
        bar.enable_steady_tick(Duration::from_millis(200));
        Bar { bar }
    }
}

impl WatchObserver for Bar {
    fn status(&mut self, s: &ReplayStatus, elapsed: Duration) {
        if let Some(p) = s.progress() {
            self.bar.set_position((p * 1000.0) as u64);
        }
        self.bar.set_message(progress_line(s, elapsed));
    }

    fn transient_error(&mut self, e: &PortError, n: u32) {
        self.bar.set_message(format!(
            "DescribeReplay failed ({n} in a row): {e}; retrying"
        ));
    }

    fn finish(&mut self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use std::sync::{Arc, Mutex};

    fn running(minutes: i64) -> ReplayStatus {
        let start = Utc.with_ymd_and_hms(2025, 9, 8, 14, 0, 0).unwrap();
        ReplayStatus {
            name: "r".into(),
            arn: None,
            description: None,
            state: ReplayState::Running,
            state_reason: None,
            archive_arn: None,
            destination_arn: None,
            filter_arns: vec![],
            event_start: Some(start),
            event_end: Some(start + chrono::Duration::minutes(100)),
            event_last_replayed: Some(start + chrono::Duration::minutes(minutes)),
            replay_start: None,
            replay_end: None,
        }
    }

    #[test]
    fn lines_show_state_changes_and_throttle_progress() {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let mut obs = Lines::new(true, Box::new(move |l| sink.lock().unwrap().push(l)));
        let mut starting = running(0);
        starting.state = ReplayState::Starting;
        starting.event_last_replayed = None;
        obs.status(&starting, Duration::from_secs(0));
        obs.status(&running(10), Duration::from_secs(5)); // state change: printed
        obs.status(&running(20), Duration::from_secs(20)); // within 30 s: not printed
        obs.status(&running(40), Duration::from_secs(36)); // 31 s later: printed
        obs.status(&running(50), Duration::from_secs(40)); // not printed
        let got = lines.lock().unwrap().clone();
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[0], "replay r: STARTING, elapsed 0s");
        assert_eq!(
            got[2],
            "replay r: RUNNING 40%, events up to 2025-09-08 14:40:00Z replayed, elapsed 36s, ETA ~54s"
        );
    }

    #[test]
    fn without_progress_lines_only_state_changes_print() {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let mut obs = Lines::new(false, Box::new(move |l| sink.lock().unwrap().push(l)));
        obs.status(&running(10), Duration::from_secs(0));
        obs.status(&running(50), Duration::from_secs(100));
        assert_eq!(lines.lock().unwrap().len(), 1);
    }
}
