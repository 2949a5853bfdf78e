//! nexus-replay: recover missing Amazon EventBridge events.
//!
//! Layout, with data flowing one way:
//! - [`cli`] parses flags (clap lives only there) and resolves them with env and the
//!   config file into [`settings::Settings`];
//! - [`commands`] and [`replay`] are the engine: they work through the narrow [`ports`]
//!   and return reports that [`output`] prints as a table or as one JSON document;
//! - [`aws`] holds the AWS SDK adapters for the ports, [`memory`] the in-memory fakes
//!   used by tests (they can inject failures, throttling and duplicates);
//! - [`pattern`] evaluates EventBridge event patterns locally;
//! - [`exit_codes`] documents every exit code in one place; [`signals`] is the only OS
//!   signal code, handing the engines a neutral [`interrupt::Signal`] as a future.

pub mod aws;
pub mod cli;
pub mod commands;
pub mod discovery;
pub mod drain;
pub mod error;
pub mod exit_codes;
pub mod ids;
pub mod interrupt;
pub mod ledger;
pub mod logging;
pub mod memory;
pub mod output;
pub mod pattern;
pub mod playbook;
pub mod ports;
pub mod replay;
pub mod settings;
pub mod signals;
pub mod window;
