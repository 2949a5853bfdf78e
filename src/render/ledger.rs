//! `ledger init`, `show`, `stats` and `prune`: a dedup ledger, in words.

use crate::commands::ledger::{InitReport, PruneReport, ShowReport, StatsReport};
use crate::output::{Report, time};

impl Report for InitReport {
    fn human(&self) -> String {
        let mut s = format!(
            "{}: {}{}\n",
            self.ledger,
            self.status,
            if self.created {
                " (created now)"
            } else {
                " (already there)"
            }
        );
        if let Some(t) = &self.ttl_status {
            s.push_str(&format!(
                "  TTL on expires_at: {t}{}\n",
                if self.ttl_enabled {
                    " (enabled now)"
                } else {
                    ""
                }
            ));
        }
        s
    }
}

impl Report for ShowReport {
    fn human(&self) -> String {
        match &self.record {
            None => format!(
                "{}: no record of key {} (never claimed, or expired and pruned)\n",
                self.ledger, self.key
            ),
            Some(r) => format!(
                "{}\n  state:       {}\n  redrive:     {}\n  event id:    {}\n  run:         {}\n  digest:      {}\n  created:     {}\n  updated:     {}\n  claim until: {}\n  expires:     {}\n",
                r.key,
                r.state.as_str(),
                r.redrive,
                r.event_id.as_deref().unwrap_or("-"),
                r.run_id,
                r.digest
                    .as_deref()
                    .unwrap_or("- (written by an older version: matches any content)"),
                time(Some(r.created_at)),
                time(Some(r.updated_at)),
                time(Some(r.in_progress_expiry)),
                time(Some(r.expires_at)),
            ),
        }
    }

    /// A missing key exits 3 so scripts can ask "was this re-emitted?".
    fn exit_code(&self) -> u8 {
        if self.record.is_some() {
            crate::exit_codes::SUCCESS
        } else {
            crate::exit_codes::PARTIAL
        }
    }
}

impl Report for StatsReport {
    fn human(&self) -> String {
        format!(
            "{}\n  done:        {}\n  in progress: {}\n  expired:     {} (removed by `nexus-replay ledger prune`)\n",
            self.ledger, self.stats.done, self.stats.in_progress, self.stats.expired
        )
    }
}

impl Report for PruneReport {
    fn human(&self) -> String {
        format!(
            "{}: removed {} expired records\n",
            self.ledger, self.removed
        )
    }
}
