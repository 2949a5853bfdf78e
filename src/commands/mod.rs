//! The engine behind each command: plain inputs in, a printable report out.

pub mod archives;
pub mod dlq_list;
pub mod doctor;
pub mod rules;
