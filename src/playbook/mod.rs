//! Playbooks: declarative recovery procedures (TOML) that read as runbooks and run as
//! one reviewed command. `load` reads and checks a file, `catalog` finds playbooks,
//! `exec` plans and runs them, `template` resolves `${...}` references, `ranges` bounds the
//! numeric and duration fields.

pub mod catalog;
mod checks;
mod context;
mod diagnostics;
pub mod exec;
mod fields;
pub mod history;
mod incident_markdown;
pub mod incident_report;
pub mod init;
mod init_text;
pub mod load;
pub(crate) mod model;
mod notify;
mod params;
mod plan;
pub(crate) mod ranges;
mod reconcile;
mod record;
pub mod reports;
mod resume;
mod run;
mod schema;
mod steps;
pub mod template;
mod verify;
mod walk;

pub(crate) use run::shell_quote;

#[cfg(test)]
mod incident_report_tests;
#[cfg(test)]
mod init_tests;
#[cfg(test)]
mod load_tests;
#[cfg(test)]
mod notify_tests;
#[cfg(test)]
mod plan_tests;
#[cfg(test)]
mod run_tests;
#[cfg(test)]
mod test_world;
#[cfg(test)]
mod triage_tests;
#[cfg(test)]
mod validate_tests;
#[cfg(test)]
mod verify_tests;
