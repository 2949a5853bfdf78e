//! The replay plan for a person: the exact UTC window, the rules and why each was or was
//! not selected, and the warnings.

use super::plan::ReplayPlan;
use crate::output::time;

impl ReplayPlan {
    /// The plan for a person: exact UTC window, rules and why.
    pub fn human(&self) -> String {
        let mut s = format!(
            "Replay plan {}\n  archive: {}\n  bus:     {}\n  window:  {} → {} (UTC, {})\n",
            self.name,
            self.archive,
            self.bus,
            time(Some(self.start)),
            time(Some(self.end)),
            crate::window::human_duration(self.end - self.start),
        );
        if !self.event_types.is_empty() {
            s.push_str(&format!("  types:   {}\n", self.event_types.join(", ")));
        }
        if !self.sources.is_empty() {
            s.push_str(&format!("  sources: {}\n", self.sources.join(", ")));
        }
        if self.all_rules {
            s.push_str("  rules:   ALL rules on the bus (no FilterArns)\n");
        } else {
            s.push_str("  selected rules (FilterArns):\n");
            for r in &self.rules.selected {
                s.push_str(&format!("    + {}: {}\n", r.name, r.reason));
                if r.also_matches_other_types {
                    s.push_str("      note: this rule also matches other event types; they are replayed to it too\n");
                }
                if r.disabled {
                    s.push_str("      note: this rule is DISABLED, so it will receive nothing\n");
                }
            }
        }
        for r in &self.rules.catch_all {
            let mark = if self.rules.selected.iter().any(|x| x.arn == r.arn) {
                "selected"
            } else {
                "not selected; add --include-catch-all"
            };
            if mark != "selected" {
                s.push_str(&format!(
                    "    - {} (catch-all: {}; {mark})\n",
                    r.name, r.reason
                ));
            }
        }
        for r in &self.rules.not_matching {
            s.push_str(&format!("    - {}: {}\n", r.name, r.reason));
        }
        for m in &self.rules.managed {
            s.push_str(&format!("    - {m}: managed by AWS, never selected\n"));
        }
        s.push_str("  The replay re-delivers EVERY archived event of the window that a selected rule's own pattern matches, not only the types above.\n");
        for w in &self.warnings {
            s.push_str(&format!("  warning: {w}\n"));
        }
        s
    }
}
