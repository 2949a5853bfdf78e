//! End-to-end tests of the built binary against moto on loopback.

mod support;

mod drain;
mod faults;
mod ledger;
mod output;
mod playbook;
mod privacy;
mod proxy;
mod readonly;
mod replay;
