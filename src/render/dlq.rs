//! `dlq list`, `dlq peek` and `dlq export`: the DLQs with their depth, a DLQ's summary, and
//! what an export wrote.

use std::collections::BTreeMap;

use crate::commands::dlq_export::ExportReport;
use crate::commands::dlq_list::DlqListReport;
use crate::commands::dlq_peek::PeekReport;
use crate::output::{Report, Table};

impl Report for DlqListReport {
    fn human(&self) -> String {
        if self.dlqs.is_empty() {
            return format!(
                "No rule target on bus {} has a dead-letter queue. Run `nexus-replay doctor --bus {}`.\n",
                self.bus, self.bus
            );
        }
        let mut t = Table::new(["DLQ", "VISIBLE~", "IN-FLIGHT~", "FED BY (rule / target)"]);
        for d in &self.dlqs {
            let (v, f) = match &d.depth {
                Some(depth) => (depth.visible.to_string(), depth.in_flight.to_string()),
                None => ("?".into(), "?".into()),
            };
            let feeds: Vec<String> = d
                .feeds
                .iter()
                .map(|f| format!("{} / {}", f.rule, f.target_id))
                .collect();
            t.row([d.name.clone(), v, f, feeds.join(", ")]);
        }
        let mut s = t.render();
        for d in &self.dlqs {
            if let Some(e) = &d.error {
                s.push_str(&format!("warning: {}: {e}\n", d.name));
            }
        }
        s.push_str("~ approximate counts from SQS.\n");
        s
    }
}

fn group(title: &str, m: &BTreeMap<String, usize>, out: &mut String) {
    let mut t = Table::new([title, "COUNT"]);
    let mut rows: Vec<(&String, &usize)> = m.iter().collect();
    rows.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    for (k, v) in rows {
        t.row([k.clone(), v.to_string()]);
    }
    out.push_str(&t.render());
    out.push('\n');
}

impl Report for PeekReport {
    fn human(&self) -> String {
        let mut s = format!(
            "{}: ~{} messages; looked at {} (nothing consumed)\n\n",
            self.queue, self.approximate_depth, self.looked_at
        );
        group("RULE", &self.by_rule, &mut s);
        group("ERROR CODE", &self.by_error_code, &mut s);
        group("EVENT TYPE", &self.by_event_type, &mut s);
        group("AGE", &self.by_age, &mut s);
        if self.not_an_event > 0 {
            s.push_str(&format!(
                "{} messages are not EventBridge events (a drain parks or leaves them)\n\n",
                self.not_an_event
            ));
        }
        for sample in &self.samples {
            s.push_str(&serde_json::to_string_pretty(sample).unwrap_or_default());
            s.push('\n');
        }
        s
    }
}

impl Report for ExportReport {
    fn human(&self) -> String {
        format!(
            "Exported {} messages from {} to {} (nothing deleted)\n",
            self.messages, self.queue, self.file
        )
    }
}
