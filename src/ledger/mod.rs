//! Dedup-ledger backends and the `--ledger` URL.

#[doc(hidden)]
pub mod conformance;
pub mod open;
pub mod sqlite;
