//! `ledger show KEY | stats | prune`: look into the dedup ledger a drain uses.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::error::AppError;
use crate::output::{Report, time};
use crate::ports::ledger::{Ledger, LedgerRecord, LedgerStats};

#[derive(Debug, Clone, Serialize)]
pub struct ShowReport {
    pub ledger: String,
    pub key: String,
    pub record: Option<LedgerRecord>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatsReport {
    pub ledger: String,
    #[serde(flatten)]
    pub stats: LedgerStats,
}

/// What `ledger init` did.
#[derive(Debug, Clone, Serialize)]
pub struct InitReport {
    pub ledger: String,
    /// The table (or file) was created by this call.
    pub created: bool,
    /// TTL was switched on by this call (DynamoDB).
    pub ttl_enabled: bool,
    pub status: String,
    pub ttl_status: Option<String>,
}

impl InitReport {
    /// The SQLite ledger: opening it created the file and schema if needed.
    pub fn local(ledger: &dyn Ledger, created: bool) -> InitReport {
        InitReport {
            ledger: ledger.describe(),
            created,
            ttl_enabled: false,
            status: "READY".into(),
            ttl_status: None,
        }
    }
}

impl From<crate::aws::dynamodb::InitReport> for InitReport {
    fn from(r: crate::aws::dynamodb::InitReport) -> InitReport {
        InitReport {
            ledger: r.ledger,
            created: r.table_created,
            ttl_enabled: r.ttl_enabled,
            status: r.table_status,
            ttl_status: Some(r.ttl_status),
        }
    }
}

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

#[derive(Debug, Clone, Serialize)]
pub struct PruneReport {
    pub ledger: String,
    pub removed: u64,
}

pub async fn show(ledger: &dyn Ledger, key: &str) -> Result<ShowReport, AppError> {
    Ok(ShowReport {
        ledger: ledger.describe(),
        key: key.into(),
        record: ledger.get(key).await?,
    })
}

pub async fn stats(ledger: &dyn Ledger, now: DateTime<Utc>) -> Result<StatsReport, AppError> {
    Ok(StatsReport {
        ledger: ledger.describe(),
        stats: ledger.stats(now).await?,
    })
}

pub async fn prune(ledger: &dyn Ledger, now: DateTime<Utc>) -> Result<PruneReport, AppError> {
    Ok(PruneReport {
        ledger: ledger.describe(),
        removed: ledger.prune(now).await?,
    })
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
