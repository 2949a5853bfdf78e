//! The engine behind each command: plain inputs in, a printable report out.

pub mod archive_export;
pub mod archives;
pub mod cancel;
pub mod dlq_export;
pub mod dlq_list;
pub mod dlq_peek;
pub mod doctor;
pub mod drain;
pub mod ledger;
pub mod list;
pub mod playbook_runs;
pub mod reemit;
pub mod rules;
pub mod start;
pub mod start_exact;
pub mod status;
pub mod stripe_reconcile;
pub mod triage;
