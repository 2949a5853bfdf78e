//! End-to-end tests of the built binary against moto on loopback.

mod support;

mod drain;
mod ledger;
mod playbook;
mod readonly;
mod replay;
