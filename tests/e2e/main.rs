//! End-to-end tests of the built binary against moto on loopback.

mod support;

mod capture;
mod cloudwatch_shim;
mod delivery;
mod doctor_dlq;
mod drain;
mod exact;
mod faults;
mod guards;
mod ledger;
mod output;
mod playbook;
mod playbook_discovery;
mod playbook_init;
mod playbook_runs;
mod privacy;
mod proxy;
mod readonly;
mod replay;
mod signals;
mod snapshots_errors;
mod snapshots_help;
mod snapshots_reports;
mod stripe;
mod to_target;
mod triage;
