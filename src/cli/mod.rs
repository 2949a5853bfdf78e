//! The command line: clap definitions ([`args`]), resolution into [`Settings`] and the
//! process entry ([`entry`]), one arm per command ([`dispatch`]), building the ports
//! ([`wiring`]) and the terminal (prompts and progress). No other module sees a clap type
//! but the option structs of `crate::options`, which the engine requests hold.
//!
//! [`Settings`]: crate::settings::Settings

mod archive;
pub mod args;
mod dispatch;
mod entry;
mod exact;
mod playbook_history;
mod playbook_init;
mod stripe;
mod terminal;
pub mod triage;
mod wiring;

pub use args::{Cli, Command, GlobalArgs};
pub use entry::main;
