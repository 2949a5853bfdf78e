//! `--ledger URL|none`: which dedup ledger a drain uses.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::aws::config::Clients;
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
        let valid = (3..=255).contains(&table.len())
            && table
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if !valid {
            return Err(AppError::usage(format!(
                "--ledger dynamodb://{table}: a DynamoDB table name is 3-255 of A-Z a-z 0-9 _ . - (e.g. dynamodb://nexus-replay-ledger)"
            )));
        }
        return Ok(LedgerSpec::DynamoDb(table.to_string()));
    }
    Err(AppError::usage(format!(
        "--ledger {v:?} is not a ledger: use none, sqlite, sqlite:PATH or dynamodb://TABLE"
    )))
}

/// Opens the ledger; None for `none`. DynamoDB needs the AWS clients (region, profile and
/// endpoint of the global options).
pub fn open(spec: &LedgerSpec, aws: Option<&Clients>) -> Result<Option<Arc<dyn Ledger>>, AppError> {
    match spec {
        LedgerSpec::None => Ok(None),
        LedgerSpec::Sqlite(path) => Ok(Some(Arc::new(SqliteLedger::open(path)?))),
        LedgerSpec::DynamoDb(table) => match aws {
            Some(c) => Ok(Some(Arc::new(c.dynamo_ledger(table)))),
            None => Err(AppError::Io(format!(
                "dynamodb://{table}: no AWS configuration was loaded for the ledger"
            ))),
        },
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
            parse(Some("dynamodb://nexus-ledger"), d).unwrap(),
            LedgerSpec::DynamoDb("nexus-ledger".into())
        );
        for bad in [
            "dynamodb://",
            "dynamodb://t",
            "dynamodb://a b c",
            "dynamodb://x/y",
        ] {
            assert!(
                parse(Some(bad), d)
                    .unwrap_err()
                    .to_string()
                    .contains("3-255 of A-Z"),
                "{bad}"
            );
        }
        assert!(
            parse(Some("redis://x"), d)
                .unwrap_err()
                .to_string()
                .contains("not a ledger")
        );
        assert!(parse(Some("sqlite:"), d).is_err());
    }
}
