//! `ledger show KEY | stats | prune`: look into the dedup ledger a drain uses.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::error::AppError;
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
