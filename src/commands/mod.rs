//! The engine behind each command: plain inputs in, a printable report out.

pub mod archives;
pub mod cancel;
pub mod dlq_list;
pub mod doctor;
pub mod list;
pub mod rules;
pub mod start;
pub mod status;
