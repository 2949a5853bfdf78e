//! `--ledger URL|none`: which dedup ledger a drain uses.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::AppError;
use crate::ports::ledger::Ledger;

use super::sqlite::SqliteLedger;

/// A parsed `--ledger` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerSpec {
    /// No dedup ledger: every selected message is put (duplicates possible on reruns).
    None,
    Sqlite(PathBuf),
    DynamoDb(String),
}

/// The default embedded ledger file in the state dir.
pub fn default_path(state_dir: &Path) -> PathBuf {
    state_dir.join("ledger.sqlite3")
}

pub fn parse(value: Option<&str>, state_dir: &Path) -> Result<LedgerSpec, AppError> {
    let Some(v) = value else {
        return Ok(LedgerSpec::Sqlite(default_path(state_dir)));
    };
    if v == "none" {
        return Ok(LedgerSpec::None);
    }
    if v == "sqlite" {
        return Ok(LedgerSpec::Sqlite(default_path(state_dir)));
    }
    if let Some(path) = v.strip_prefix("sqlite:") {
        let path = path.strip_prefix("//").unwrap_or(path);
        if path.is_empty() {
            return Err(AppError::usage(
                "--ledger sqlite:PATH needs a path, e.g. sqlite:/var/lib/nexus-replay/ledger.sqlite3",
            ));
        }
        return Ok(LedgerSpec::Sqlite(PathBuf::from(path)));
    }
    if let Some(table) = v.strip_prefix("dynamodb://") {
        if table.is_empty() {
            return Err(AppError::usage(
                "--ledger dynamodb://TABLE needs a table name",
            ));
        }
        return Ok(LedgerSpec::DynamoDb(table.to_string()));
    }
    Err(AppError::usage(format!(
        "--ledger {v:?} is not a ledger: use none, sqlite, sqlite:PATH or dynamodb://TABLE"
    )))
}

/// Opens the ledger; None for `none`.
pub fn open(spec: &LedgerSpec) -> Result<Option<Arc<dyn Ledger>>, AppError> {
    match spec {
        LedgerSpec::None => Ok(None),
        LedgerSpec::Sqlite(path) => Ok(Some(Arc::new(SqliteLedger::open(path)?))),
        LedgerSpec::DynamoDb(table) => Err(AppError::usage(format!(
            "--ledger dynamodb://{table}: the shared DynamoDB ledger is not available in this version; use the embedded SQLite ledger (the default) or --ledger none"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ledger_urls() {
        let d = Path::new("/state");
        assert_eq!(
            parse(None, d).unwrap(),
            LedgerSpec::Sqlite(PathBuf::from("/state/ledger.sqlite3"))
        );
        assert_eq!(parse(Some("none"), d).unwrap(), LedgerSpec::None);
        assert_eq!(
            parse(Some("sqlite:/x/l.db"), d).unwrap(),
            LedgerSpec::Sqlite(PathBuf::from("/x/l.db"))
        );
        assert_eq!(
            parse(Some("sqlite:///x/l.db"), d).unwrap(),
            LedgerSpec::Sqlite(PathBuf::from("/x/l.db"))
        );
        assert_eq!(
            parse(Some("dynamodb://t"), d).unwrap(),
            LedgerSpec::DynamoDb("t".into())
        );
        assert!(
            parse(Some("redis://x"), d)
                .unwrap_err()
                .to_string()
                .contains("not a ledger")
        );
        assert!(parse(Some("sqlite:"), d).is_err());
    }
}
