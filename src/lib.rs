//! nexus-replay: recover missing Amazon EventBridge events.
//!
//! Layout, with data flowing one way:
//! - [`cli`] parses flags and resolves them with env and the config file into
//!   [`settings::Settings`];
//! - [`options`] defines each option family once (flags, playbook step fields, engine
//!   requests, one validation);
//! - [`commands`] and [`replay`] are the engine: they work through the narrow [`ports`]
//!   and return plain reports, which [`render`] puts in words and [`output`] prints as a
//!   table or as one JSON document;
//! - [`aws`] holds the AWS SDK adapters for the ports, [`memory`] the in-memory fakes
//!   used by tests (they can inject failures, throttling and duplicates);
//! - [`archive`] sees inside an archive: `archive export` replays a window to a temporary
//!   rule and queue of its own (through the capture port) and writes what arrives to a file;
//! - [`delivery`] picks the target a DLQ message belongs to and names what a delivery
//!   creates; the calls go through the delivery ports;
//! - [`pattern`] evaluates EventBridge event patterns locally;
//! - [`target`] builds the input a rule target receives for an event (the event, `Input`,
//!   `InputPath`, `InputTransformer`), as EventBridge does;
//! - [`stripe`] lists Stripe's events (`GET /v1/events`) and reconciles them with what the
//!   bus received;
//! - [`exit_codes`] documents every exit code in one place; [`signals`] is the only OS
//!   signal code, handing the engines a neutral [`interrupt::Signal`] as a future.

pub mod archive;
pub(crate) mod arn;
pub mod aws;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod delivery;
pub mod discovery;
pub mod doctor;
pub mod drain;
pub mod error;
pub mod exit_codes;
pub mod failure;
pub mod ids;
pub mod interrupt;
pub mod ledger;
pub(crate) mod limits;
pub mod logging;
pub mod memory;
pub mod options;
pub mod output;
pub mod pattern;
pub mod playbook;
pub mod ports;
pub mod render;
pub mod replay;
pub mod settings;
pub mod signals;
pub mod stripe;
pub mod target;
pub mod triage;
pub mod window;
