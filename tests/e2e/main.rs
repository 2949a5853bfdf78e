//! End-to-end tests of the built binary against moto on loopback.

mod support;

mod drain;
mod faults;
mod ledger;
mod playbook;
mod proxy;
mod readonly;
mod replay;
mod signals;
