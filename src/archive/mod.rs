//! Seeing inside an archive: `archive export` replays a window to a temporary rule and
//! queue of its own and writes what arrives to a JSON Lines file; `cleanup` finds and
//! removes what a killed export left behind.

pub mod check;
pub mod cleanup;
pub mod collect;
pub mod doctor_check;
pub mod export;
pub mod filter;
pub mod jsonl;
pub mod names;
pub mod progress;
mod receive;
pub mod report;
mod resources;

#[cfg(test)]
mod export_tests;
