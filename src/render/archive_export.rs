//! `archive export`: the summary of an export (replay, window, events per type, file, the
//! temporary resources and what became of them) and of a `--cleanup`. An export's
//! warnings go to stderr as log lines (and into the JSON document), not into the summary.

use crate::archive::cleanup::{LeftoverRun, Leftovers};
use crate::archive::collect::SkipReason;
use crate::archive::report::{ExportOutcome, ExportReport};
use crate::commands::archive_export::CleanupOutcome;
use crate::output::{Report, Table, time};

fn skip_label(r: SkipReason) -> &'static str {
    match r {
        SkipReason::NotJson => "not JSON",
        SkipReason::OtherReplay => "from another replay",
        SkipReason::NoTime => "without a time",
        SkipReason::OutsideWindow => "outside the window",
        SkipReason::Pattern => "not matching the pattern",
        SkipReason::Duplicate => "copies",
    }
}

impl ExportReport {
    fn headline(&self) -> String {
        let n = self.total;
        match self.outcome {
            ExportOutcome::Completed => format!(
                "Exported {n} event(s) of archive {} (bus {}) to {}",
                self.archive,
                self.bus,
                self.file
                    .as_ref()
                    .map_or("?".into(), |f| f.display().to_string())
            ),
            ExportOutcome::Interrupted => format!(
                "Export interrupted ({}): no file written ({n} event(s) had been captured)",
                self.signal.map_or("signal", |s| s.name())
            ),
            ExportOutcome::ReplayFailed | ExportOutcome::ReplayCancelled => format!(
                "Export stopped: replay {} ended {}{}; no file written",
                self.replay_name,
                self.replay
                    .state
                    .as_ref()
                    .map_or("FAILED".into(), |s| s.to_string()),
                self.replay
                    .state_reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ),
            ExportOutcome::TimedOut => {
                "Export timed out before the replay ended (--timeout); no file written".into()
            }
        }
    }
}

impl Report for ExportReport {
    fn human(&self) -> String {
        let mut s = format!("{}\n", self.headline());
        s.push_str(&format!("  replay:  {}", self.replay_name));
        if let Some(state) = &self.replay.state {
            s.push_str(&format!(" ({state})"));
        }
        if self.replay.cancelled {
            s.push_str(", cancelled by the export");
        }
        s.push('\n');
        s.push_str(&format!(
            "  window:  {} → {} (event time)\n",
            time(Some(self.window.start)),
            time(Some(self.window.end))
        ));
        if self.events_per_type.is_empty() {
            s.push_str("  events per type: none\n");
        } else {
            let mut t = Table::new(["    TYPE", "EVENTS"]);
            for (kind, n) in &self.events_per_type {
                t.row([format!("    {kind}"), n.to_string()]);
            }
            s.push_str("  events per type:\n");
            s.push_str(&t.render());
        }
        let skipped: Vec<String> = self
            .skipped
            .iter()
            .map(|(r, n)| format!("{n} {}", skip_label(*r)))
            .collect();
        s.push_str(&format!("  received: {} message(s)", self.received));
        if !skipped.is_empty() {
            s.push_str(&format!("; left out: {}", skipped.join(", ")));
        }
        s.push('\n');
        s.push_str("  temporary resources:\n");
        for r in &self.resources {
            s.push_str(&format!("    {}\n", r.outcome_line()));
        }
        if self.resources.is_empty() {
            s.push_str("    none were created\n");
        }
        s
    }

    fn exit_code(&self) -> u8 {
        ExportReport::exit_code(self)
    }
}

fn run_lines(run: &LeftoverRun, s: &mut String) {
    let state = match (&run.replay_state, run.in_use) {
        (Some(st), true) => format!(
            "replay {} is {st}: kept, the export may be running",
            run.replay
        ),
        (Some(st), false) => format!("replay {} {st}", run.replay),
        (None, _) => format!("replay {} never started", run.replay),
    };
    s.push_str(&format!(
        "  run {} (started {}): {state}\n",
        run.run_id,
        time(run.started)
    ));
    for r in &run.rules {
        s.push_str(&format!("    rule {} on bus {}\n", r.name, r.bus));
    }
    for q in &run.queues {
        s.push_str(&format!("    queue {}\n", q.url));
    }
}

/// The leftovers found, as `--cleanup` lists them before asking.
pub fn leftovers_text(found: &Leftovers) -> String {
    let mut s = format!(
        "Leftovers of killed `archive export` runs (buses searched: {}):\n",
        if found.buses.is_empty() {
            "none".into()
        } else {
            found.buses.join(", ")
        }
    );
    for run in &found.runs {
        run_lines(run, &mut s);
    }
    for n in &found.not_ours {
        s.push_str(&format!("  not touched: {n}\n"));
    }
    s
}

impl Report for CleanupOutcome {
    fn human(&self) -> String {
        let Some(removed) = &self.removed else {
            let mut s = format!(
                "No leftovers of killed exports (buses searched: {}).\n",
                if self.found.buses.is_empty() {
                    "none".into()
                } else {
                    self.found.buses.join(", ")
                }
            );
            for run in self.found.runs.iter().filter(|r| r.in_use) {
                run_lines(run, &mut s);
            }
            for n in &self.found.not_ours {
                s.push_str(&format!("  not touched: {n}\n"));
            }
            return s;
        };
        let gone = removed.resources.iter().filter(|r| !r.is_left()).count();
        let mut s = format!(
            "Removed {gone} of {} leftover resource(s):\n",
            removed.resources.len()
        );
        for r in &removed.resources {
            s.push_str(&format!("  {}\n", r.outcome_line()));
        }
        for k in &removed.kept {
            s.push_str(&format!(
                "  kept run {k}: its replay is still active (the export may be running)\n"
            ));
        }
        s
    }

    fn exit_code(&self) -> u8 {
        CleanupOutcome::exit_code(self)
    }
}
