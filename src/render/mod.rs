//! The human rendering of every report the engine returns: one file per report family,
//! each implementing [`Report`](crate::output::Report) for the plain report structs of
//! `crate::commands`. The engine decides what happened; these files say it in words.

pub mod archive_export;
mod archives;
mod dlq;
mod doctor;
mod drain;
mod ledger;
mod replays;
mod rules;
mod stripe;
mod triage;
