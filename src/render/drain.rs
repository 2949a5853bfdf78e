//! `drain` and `reemit`: the summary of a run (counts with what they mean, failures and
//! warnings), a dry run's plan, and the exit code the counts decide.

use crate::commands::drain::DrainReport;
use crate::drain::engine::Planned;
use crate::exit_codes;
use crate::output::{Report, Table};

impl Report for DrainReport {
    fn human(&self) -> String {
        let o = &self.outcome;
        let c = &o.counts;
        let mut s = String::new();
        let to_target = to_target(o);
        if o.dry_run {
            let t = if to_target {
                planned_targets(&o.planned)
            } else {
                planned_buses(&o.planned)
            };
            if !t.is_empty() {
                s.push_str(&t.render());
            }
            if o.planned.len() > PLANNED_SHOWN {
                s.push_str(&format!(
                    "... and {} more (use --output json for all)\n",
                    o.planned.len() - PLANNED_SHOWN
                ));
            }
            let released = match &self.from_file {
                Some(f) if f.lines == 0 => format!("; {} has no messages", f.file),
                Some(_) => String::new(),
                None => format!("; {} messages released", c.released),
            };
            s.push_str(&format!(
                "Dry run {}: nothing was changed. {} would be {}, {} parked, {} left as poison, {} skipped{released}.\n",
                o.run_id,
                c.would_reemit,
                if to_target {
                    "delivered to their rule targets"
                } else {
                    "re-emitted"
                },
                c.would_park,
                c.failed,
                c.filtered
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
                "Re-emit {} from {} (ledger {}), {:.1}s: {} {} of {} lines\n",
                o.run_id,
                f.file,
                self.ledger,
                self.duration_seconds,
                if to_target { "delivered" } else { "re-emitted" },
                c.reemitted,
                f.lines
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
        if let Some(p) = &self.park_queue {
            s.push_str(&format!("{}\n", p.text()));
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
            (
                if to_target { "delivered" } else { "re-emitted" },
                c.reemitted,
                "",
            ),
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
            let note = match (name, file.is_some(), to_target) {
                ("duplicates", true, false) => "already re-emitted: not put again",
                ("duplicates", true, true) => "already delivered: not delivered again",
                ("duplicates", false, true) => {
                    "already delivered: deleted without a second delivery"
                }
                ("delete failed", _, true) => {
                    "delivered but not deleted: the ledger dedups them next run"
                }
                ("possible duplicates", _, true) => "delivered again after an ambiguous failure",
                _ => note,
            };
            if note.is_empty() || n > 0 {
                s.push_str(format!("  {name:<20} {n:>7}  {note}").trim_end());
                s.push('\n');
            }
        }
        if !o.targets.is_empty() {
            let mut t = Table::new(["TARGET", "KIND", "DELIVERED", "DUPLICATES", "FAILED"]);
            for x in &o.targets {
                t.row([
                    x.target_arn.clone(),
                    x.kind.clone(),
                    x.delivered.to_string(),
                    x.duplicates.to_string(),
                    x.failed.to_string(),
                ]);
            }
            s.push('\n');
            s.push_str(&t.render());
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

/// Whether the run delivered to rule targets (`--to target`), even when no message could
/// be routed to one.
fn to_target(o: &crate::drain::engine::DrainOutcome) -> bool {
    o.to == "target"
}

/// Rows shown of a dry run's plan (all of them are in the JSON output).
const PLANNED_SHOWN: usize = 100;

/// A bus redrive's plan: per message its bus and the rules that would receive it again.
fn planned_buses(planned: &[Planned]) -> Table {
    let mut t = Table::new([
        "ACTION",
        "QUEUE",
        "MESSAGE",
        "KEY",
        "TYPE",
        "PATH",
        "BUS",
        "RULES THAT WOULD RECEIVE IT / REASON",
    ]);
    for p in planned.iter().take(PLANNED_SHOWN) {
        let mut row = planned_row(p);
        row.extend([
            "bus".into(),
            dash(&p.bus),
            p.reason.clone().unwrap_or_else(|| {
                if p.rules.is_empty() {
                    "(none known)".into()
                } else {
                    p.rules.join(", ")
                }
            }),
        ]);
        t.row(row);
    }
    t
}

/// A target redrive's plan: per message the one target it would reach, its kind and the
/// start of the input it would receive (or why it would not be delivered).
fn planned_targets(planned: &[Planned]) -> Table {
    let mut t = Table::new([
        "ACTION",
        "QUEUE",
        "MESSAGE",
        "KEY",
        "TYPE",
        "PATH",
        "TARGET",
        "KIND",
        "INPUT / REASON",
    ]);
    for p in planned.iter().take(PLANNED_SHOWN) {
        let mut row = planned_row(p);
        let target = p.target.as_ref();
        row.extend([
            "target".into(),
            target.map_or_else(|| "-".into(), |x| x.arn.clone()),
            target.map_or_else(|| "-".into(), |x| x.kind.clone()),
            match (&p.reason, target) {
                (Some(r), _) => r.clone(),
                // One line per message: the preview is the input's own text.
                (None, Some(x)) => x.input_preview.replace(['\n', '\r'], " "),
                (None, None) => "-".into(),
            },
        ]);
        t.row(row);
    }
    t
}

/// The columns every plan starts with.
fn planned_row(p: &Planned) -> Vec<String> {
    vec![
        p.action.clone(),
        p.queue.clone(),
        p.message_id.clone(),
        dash(&p.dedup_key),
        dash(&p.event_type),
    ]
}

fn dash(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "-".into())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drain::engine::{Counts, DrainOutcome, PlannedTarget, TargetTally};

    const LAMBDA: &str = "arn:aws:lambda:us-east-2:123456789012:function:subs";

    fn report(outcome: DrainOutcome) -> DrainReport {
        DrainReport {
            queues: vec!["subs-dlq".into()],
            ledger: "sqlite".into(),
            duration_seconds: 1.0,
            from_file: None,
            park_queue: None,
            outcome,
        }
    }

    fn outcome(dry_run: bool) -> DrainOutcome {
        DrainOutcome {
            run_id: "run-1".into(),
            dry_run,
            to: "bus",
            counts: Counts::default(),
            failures: Vec::new(),
            warnings: Vec::new(),
            planned: Vec::new(),
            targets: Vec::new(),
            stopped_because: "the queues are empty".into(),
            interrupted: false,
            signal: None,
        }
    }

    fn planned(target: Option<PlannedTarget>, reason: Option<&str>) -> Planned {
        Planned {
            queue: "subs-dlq".into(),
            message_id: "m-1".into(),
            action: if reason.is_some() { "leave" } else { "re-emit" }.into(),
            dedup_key: Some("evt_1".into()),
            event_type: Some("customer.subscription.updated".into()),
            bus: None,
            rules: Vec::new(),
            reason: reason.map(str::to_string),
            target,
        }
    }

    #[test]
    fn a_target_dry_run_that_could_route_nothing_still_reads_as_one() {
        let mut o = outcome(true);
        o.to = "target";
        o.planned = vec![planned(None, Some("the rule no longer exists"))];
        let human = report(o).human();
        assert!(human.contains("TARGET"), "{human}");
        assert!(!human.contains("RULES"), "{human}");
        assert!(human.contains("the rule no longer exists"), "{human}");
    }

    #[test]
    fn a_target_dry_run_shows_per_message_the_target_its_kind_and_the_input() {
        let mut o = outcome(true);
        o.to = "target";
        o.counts.would_reemit = 1;
        o.planned = vec![
            planned(
                Some(PlannedTarget {
                    arn: LAMBDA.into(),
                    kind: "lambda".into(),
                    input_preview: "{\"id\":\n\"evt_1\"}".into(),
                }),
                None,
            ),
            planned(
                None,
                Some("rule subscription-rule no longer exists: left in the queue"),
            ),
        ];
        let human = report(o).human();
        let header = human.lines().next().unwrap();
        for col in ["PATH", "TARGET", "KIND", "INPUT / REASON"] {
            assert!(header.contains(col), "{human}");
        }
        let row = human.lines().nth(1).unwrap();
        assert!(row.contains("target"), "{row}");
        assert!(row.contains(LAMBDA) && row.contains("lambda"), "{row}");
        assert!(row.ends_with("{\"id\": \"evt_1\"}"), "{row}");
        assert!(
            human.lines().nth(2).unwrap().ends_with("left in the queue"),
            "{human}"
        );
        assert!(
            human.contains("1 would be delivered to their rule targets"),
            "{human}"
        );
        let json = serde_json::to_value(report(outcome(true))).unwrap();
        assert_eq!(json["targets"], serde_json::json!([]));
    }

    #[test]
    fn a_bus_dry_run_shows_the_bus_path_and_the_rules() {
        let mut o = outcome(true);
        o.planned = vec![Planned {
            bus: Some("billing".into()),
            rules: vec!["subscription-rule".into()],
            ..planned(None, None)
        }];
        let human = report(o).human();
        assert!(
            human
                .lines()
                .next()
                .unwrap()
                .ends_with("RULES THAT WOULD RECEIVE IT / REASON"),
            "{human}"
        );
        let row = human.lines().nth(1).unwrap();
        assert!(
            row.contains(" bus ") && row.ends_with("billing  subscription-rule"),
            "{row}"
        );
        assert!(human.contains("would be re-emitted"), "{human}");
    }

    #[test]
    fn a_target_run_reports_what_each_target_got() {
        let mut o = outcome(false);
        o.to = "target";
        o.counts.received = 5;
        o.counts.reemitted = 3;
        o.counts.duplicates = 1;
        o.counts.failed = 1;
        o.targets = vec![
            TargetTally {
                target_arn: LAMBDA.into(),
                kind: "lambda".into(),
                delivered: 3,
                duplicates: 1,
                failed: 0,
            },
            TargetTally {
                target_arn: "arn:aws:sqs:us-east-2:123456789012:audit".into(),
                kind: "sqs".into(),
                delivered: 0,
                duplicates: 0,
                failed: 1,
            },
        ];
        let human = report(o).human();
        assert!(human.contains("  delivered "), "{human}");
        assert!(
            human.contains("already delivered: deleted without a second delivery"),
            "{human}"
        );
        assert!(!human.contains("re-emitted"), "{human}");
        let table: Vec<&str> = human
            .lines()
            .skip_while(|l| !l.starts_with("TARGET"))
            .collect();
        let cells = |l: &str| l.split_whitespace().map(str::to_string).collect::<Vec<_>>();
        assert_eq!(
            cells(table[0]),
            ["TARGET", "KIND", "DELIVERED", "DUPLICATES", "FAILED"]
        );
        assert_eq!(cells(table[1]), [LAMBDA, "lambda", "3", "1", "0"]);
        assert_eq!(
            cells(table[2]),
            [
                "arn:aws:sqs:us-east-2:123456789012:audit",
                "sqs",
                "0",
                "0",
                "1"
            ]
        );
        // A bus run has no table.
        let human = report(outcome(false)).human();
        assert!(!human.contains("TARGET"), "{human}");
        assert!(human.contains("  re-emitted "), "{human}");
    }
}
