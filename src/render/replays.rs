//! `start`, `status`, `cancel` and `list`: how a replay ended, its state and progress, and
//! the table of replays.

use crate::commands::cancel::CancelReport;
use crate::commands::list::ListReport;
use crate::commands::start::{Ending, StartReport};
use crate::commands::status::StatusReport;
use crate::exit_codes;
use crate::output::{Report, Table, time};
use crate::ports::replay::ReplayState;
use crate::replay::display::progress_line;
use crate::window::human_duration;

impl Report for CancelReport {
    fn human(&self) -> String {
        let mut s = format!("Replay {}: {}\n", self.name, self.state);
        if self.outcome == Some(Ending::Completed) {
            s.push_str("The replay completed before the cancellation took effect.\n");
        }
        for n in &self.next {
            s.push_str(&format!("{n}\n"));
        }
        s
    }

    /// Cancelled (or completed first) is success here; FAILED is still 4.
    fn exit_code(&self) -> u8 {
        match self.outcome {
            None | Some(Ending::Cancelled) | Some(Ending::Completed) => exit_codes::SUCCESS,
            Some(e) => e.exit_code(),
        }
    }
}

impl Report for StatusReport {
    fn human(&self) -> String {
        let r = &self.replay;
        let mut s = format!(
            "{}\n",
            progress_line(r, std::time::Duration::ZERO).replace(", elapsed 0s", "")
        );
        if let Some(reason) = &r.state_reason {
            s.push_str(&format!("  reason:      {reason}\n"));
        }
        s.push_str(&format!(
            "  window:      {} → {} (UTC)\n",
            time(r.event_start),
            time(r.event_end)
        ));
        s.push_str(&format!("  replayed to: {}\n", time(r.event_last_replayed)));
        s.push_str(&format!(
            "  started:     {}\n  ended:       {}\n",
            time(r.replay_start),
            time(r.replay_end)
        ));
        if let Some(a) = &r.archive_arn {
            s.push_str(&format!("  archive:     {a}\n"));
        }
        if let Some(d) = &r.destination_arn {
            s.push_str(&format!("  destination: {d}\n"));
        }
        if !r.filter_arns.is_empty() {
            s.push_str(&format!("  rules:       {}\n", r.filter_arns.join(", ")));
        }
        if let Some(d) = &r.description {
            s.push_str(&format!("  description: {d}\n"));
        }
        for n in &self.next {
            s.push_str(&format!("{n}\n"));
        }
        s
    }

    fn exit_code(&self) -> u8 {
        match self.outcome {
            Some(e) => e.exit_code(),
            None => match self.replay.state {
                ReplayState::Failed | ReplayState::Cancelled => exit_codes::REPLAY_NOT_COMPLETED,
                _ => exit_codes::SUCCESS,
            },
        }
    }
}

impl Report for ListReport {
    fn human(&self) -> String {
        if self.replays.is_empty() {
            return "No replays match.\n".into();
        }
        let mut t = Table::new([
            "NAME",
            "STATE",
            "WINDOW START",
            "WINDOW END",
            "PROGRESS",
            "STARTED",
            "ENDED",
        ]);
        for r in &self.replays {
            t.row([
                r.name.clone(),
                r.state.to_string(),
                time(r.event_start),
                time(r.event_end),
                r.progress()
                    .map(|p| format!("{:.0}%", p * 100.0))
                    .unwrap_or_else(|| "-".into()),
                time(r.replay_start),
                time(r.replay_end),
            ]);
        }
        t.render()
    }
}

impl Report for StartReport {
    fn human(&self) -> String {
        let mut s = String::new();
        match self.outcome {
            Ending::DryRun | Ending::Declined => s.push_str(&self.plan.human()),
            Ending::Started => s.push_str(&format!(
                "Replay {} started ({}), window {} → {}\n",
                self.name,
                self.final_state.as_ref().map(|s| s.as_str()).unwrap_or("?"),
                time(Some(self.window.start)),
                time(Some(self.window.end))
            )),
            _ => {
                let state = self
                    .final_state
                    .as_ref()
                    .map(|s| s.as_str())
                    .unwrap_or("unknown");
                s.push_str(&format!("Replay {}: {state}", self.name));
                if let Some(d) = self.duration_seconds {
                    s.push_str(&format!(
                        " after {}",
                        human_duration(chrono::Duration::seconds(d))
                    ));
                }
                if let Some(p) = self.progress
                    && self.outcome != Ending::Completed
                {
                    s.push_str(&format!(" ({:.0}% of the window)", p * 100.0));
                }
                s.push('\n');
                if let Some(r) = &self.state_reason {
                    s.push_str(&format!("  reason:  {r}\n"));
                }
                s.push_str(&format!(
                    "  window:  {} → {} (UTC)\n  archive: {} → bus {}\n",
                    time(Some(self.window.start)),
                    time(Some(self.window.end)),
                    self.archive,
                    self.bus
                ));
                if self.filter_arns.is_empty() {
                    s.push_str("  rules:   all\n");
                } else {
                    s.push_str(&format!(
                        "  rules:   {}\n",
                        self.plan
                            .rules
                            .selected
                            .iter()
                            .map(|r| r.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
        }
        if !matches!(self.outcome, Ending::DryRun | Ending::Declined) {
            for w in &self.plan.warnings {
                s.push_str(&format!("warning: {w}\n"));
            }
        }
        for n in &self.next {
            s.push_str(&format!("{n}\n"));
        }
        s
    }

    fn exit_code(&self) -> u8 {
        self.outcome.exit_code()
    }
}
