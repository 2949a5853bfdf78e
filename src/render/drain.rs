//! `drain` and `reemit`: the summary of a run (counts with what they mean, failures and
//! warnings), a dry run's plan, and the exit code the counts decide.

use crate::commands::drain::DrainReport;
use crate::exit_codes;
use crate::output::{Report, Table};

impl Report for DrainReport {
    fn human(&self) -> String {
        let o = &self.outcome;
        let c = &o.counts;
        let mut s = String::new();
        if o.dry_run {
            let mut t = Table::new([
                "ACTION",
                "QUEUE",
                "MESSAGE",
                "KEY",
                "TYPE",
                "BUS",
                "RULES THAT WOULD RECEIVE IT / REASON",
            ]);
            for p in o.planned.iter().take(100) {
                t.row([
                    p.action.clone(),
                    p.queue.clone(),
                    p.message_id.clone(),
                    p.dedup_key.clone().unwrap_or_else(|| "-".into()),
                    p.event_type.clone().unwrap_or_else(|| "-".into()),
                    p.bus.clone().unwrap_or_else(|| "-".into()),
                    p.reason.clone().unwrap_or_else(|| {
                        if p.rules.is_empty() {
                            "(none known)".into()
                        } else {
                            p.rules.join(", ")
                        }
                    }),
                ]);
            }
            if !t.is_empty() {
                s.push_str(&t.render());
            }
            if o.planned.len() > 100 {
                s.push_str(&format!(
                    "... and {} more (use --output json for all)\n",
                    o.planned.len() - 100
                ));
            }
            let released = match &self.from_file {
                Some(f) if f.lines == 0 => format!("; {} has no messages", f.file),
                Some(_) => String::new(),
                None => format!("; {} messages released", c.released),
            };
            s.push_str(&format!(
                "Dry run {}: nothing was changed. {} would be re-emitted, {} parked, {} left as poison, {} skipped{released}.\n",
                o.run_id, c.would_reemit, c.would_park, c.failed, c.filtered
            ));
            if c.duplicates + c.conflicts > 0 {
                s.push_str(&format!(
                    "Besides, {} repeat the key and content of a message above (would be deleted as duplicates) and {} repeat a key with other content (conflicts: would stay in the queue). The ledger was not read: keys re-emitted by earlier runs are not shown.\n",
                    c.duplicates, c.conflicts
                ));
            }
            s.push_str(&warnings_table(&o.warnings));
            return s;
        }
        let file = self.from_file.as_ref();
        match file {
            Some(f) if f.lines == 0 => {
                return format!("Re-emit {}: {} has no messages\n", o.run_id, f.file);
            }
            Some(f) => s.push_str(&format!(
                "Re-emit {} from {} (ledger {}), {:.1}s: re-emitted {} of {} lines\n",
                o.run_id, f.file, self.ledger, self.duration_seconds, c.reemitted, f.lines
            )),
            None => s.push_str(&format!(
                "Drain {} of {} (ledger {}), {:.1}s; stopped: {}\n",
                o.run_id,
                self.queues.join(", "),
                self.ledger,
                self.duration_seconds,
                if o.stopped_because.is_empty() {
                    "done"
                } else {
                    &o.stopped_because
                }
            )),
        }
        // A file's messages are not in a queue: nothing is left in one or deleted from one.
        let (left, conflict, kept) = match file {
            Some(_) => (
                "not re-emitted",
                "key already re-emitted with other content: not re-emitted",
                "claimed by another run: not re-emitted",
            ),
            None => (
                "left in the DLQ",
                "key already re-emitted with other content: left in the DLQ",
                "claimed by another run: left in the queue",
            ),
        };
        let rows = [
            ("received", c.received, ""),
            ("re-emitted", c.reemitted, ""),
            (
                "duplicates",
                c.duplicates,
                "already re-emitted: deleted without a second put",
            ),
            ("filtered", c.filtered, "not selected: left in the queue"),
            ("parked", c.parked, "copied to the park queue, then deleted"),
            ("failed", c.failed, left),
            ("conflicts", c.conflicts, conflict),
            ("held", c.held_elsewhere, kept),
            ("deleted", c.deleted, ""),
            (
                "delete failed",
                c.delete_failed,
                "re-emitted but not deleted: the ledger dedups them next run",
            ),
            (
                "possible duplicates",
                c.possible_duplicates,
                "put again after an ambiguous failure",
            ),
            (
                "in flight",
                c.in_flight,
                "still invisible in a queue found empty: another run holds them, or a stopped run left them until their visibility timeout",
            ),
            (
                "warnings",
                c.warnings,
                "re-emitted with duplicate JSON keys (below)",
            ),
        ];
        for (name, n, note) in rows {
            if file.is_some() && name.starts_with("delete") {
                continue;
            }
            let note = if file.is_some() && name == "duplicates" {
                "already re-emitted: not put again"
            } else {
                note
            };
            if note.is_empty() || n > 0 {
                s.push_str(format!("  {name:<20} {n:>7}  {note}").trim_end());
                s.push('\n');
            }
        }
        s.push_str(&message_table(
            "CODE",
            o.failures.len(),
            o.failures.iter().map(|f| {
                [
                    f.queue.clone(),
                    f.message_id.clone(),
                    f.dedup_key.clone().unwrap_or_else(|| "-".into()),
                    f.code.clone(),
                    f.reason.clone(),
                ]
            }),
        ));
        s.push_str(&warnings_table(&o.warnings));
        s
    }

    fn exit_code(&self) -> u8 {
        let c = &self.outcome.counts;
        if let Some(sig) = self.outcome.signal {
            sig.exit_code()
        } else if self.outcome.dry_run {
            exit_codes::SUCCESS
        } else if c.failed > 0 || c.parked > 0 || c.conflicts > 0 || c.in_flight > 0 {
            exit_codes::PARTIAL
        } else {
            exit_codes::SUCCESS
        }
    }
}

/// The warnings as a table of their first 20.
fn warnings_table(warnings: &[crate::drain::engine::Warning]) -> String {
    message_table(
        "WARNING",
        warnings.len(),
        warnings.iter().map(|w| {
            [
                w.queue.clone(),
                w.message_id.clone(),
                w.dedup_key.clone().unwrap_or_else(|| "-".into()),
                w.code.clone(),
                w.reason.clone(),
            ]
        }),
    )
}

/// Queue, message, key, `code` and reason of the first 20 of `total` messages, after a blank
/// line (all of them are in the JSON output); nothing when there are none.
fn message_table(code: &str, total: usize, rows: impl Iterator<Item = [String; 5]>) -> String {
    if total == 0 {
        return String::new();
    }
    let mut t = Table::new(["QUEUE", "MESSAGE", "KEY", code, "REASON"]);
    for row in rows.take(20) {
        t.row(row);
    }
    let mut s = format!("\n{}", t.render());
    if total > 20 {
        s.push_str(&format!(
            "... and {} more (use --output json for all)\n",
            total - 20
        ));
    }
    s
}
