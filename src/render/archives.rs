//! `archives`: the human table of a bus's archives.

use crate::commands::archives::{ArchivesReport, retention};
use crate::output::{self, Report, Table};

impl Report for ArchivesReport {
    fn human(&self) -> String {
        if self.archives.is_empty() {
            return match &self.bus {
                Some(b) => format!(
                    "No archive records bus {b}. Create one with: aws events create-archive --archive-name NAME --event-source-arn BUS_ARN\n"
                ),
                None => "No archives in this account and region.\n".into(),
            };
        }
        let mut t = Table::new([
            "NAME",
            "STATE",
            "BUS",
            "RETENTION",
            "EVENTS~",
            "SIZE~",
            "CREATED",
            "REPLAYABLE FROM",
        ]);
        for a in &self.archives {
            t.row([
                a.name.clone(),
                a.state.clone(),
                a.source_bus.clone(),
                retention(a.retention_days),
                a.event_count_approx.to_string(),
                output::bytes(a.size_bytes_approx),
                output::time(a.creation_time),
                output::time(a.earliest_replayable),
            ]);
        }
        let mut s = t.render();
        s.push_str("~ approximate: AWS reconciles event count and size over 24 hours.\n");
        s
    }
}
