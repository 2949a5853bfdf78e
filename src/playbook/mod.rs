//! Playbooks: declarative recovery procedures (TOML) that read as runbooks and run as
//! one reviewed command. `load` reads and checks a file, `catalog` finds playbooks,
//! `exec` plans and runs them, `template` resolves `${...}` references, `ranges` bounds the
//! numeric and duration fields.

pub mod catalog;
pub mod exec;
pub mod load;
pub(crate) mod ranges;
pub mod template;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod validate_tests;
