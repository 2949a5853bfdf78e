//! Dedup-ledger backends and the `--ledger` URL.

#[cfg(test)]
mod conformance;
pub mod open;
pub mod sqlite;
