//! Every option family, defined once: one typed struct per family that the command line
//! flattens into its commands (`clap::Args`, the doc comments are the help text), that a
//! playbook step can read under the same names (`serde::Deserialize`), and that the engine
//! requests hold. Each has one `validate()`, the exit-2 refusal of an out-of-range value,
//! so a flag and a step field accept exactly the same values.
//!
//! Each struct is declared through [`step::options_struct!`], which also lists its fields
//! as playbook step fields (name and type), so the playbook schema of a `drain` or
//! `reemit` step is read from here. A new drain option is one field in [`DrainOptions`]
//! (or [`QueueOptions`]) with its doc line, and its range in `crate::limits`.

mod drain;
mod filter;
mod parse;
pub(crate) mod step;
mod wait;

pub use drain::{
    DEFAULT_MAX_REDRIVES, DrainOptions, Invoke, QueueOptions, RedriveTo, choice_error,
};
pub use filter::{EventFilter, MessageFilter};
pub use step::{StepField, StepFieldDef, Ty, step_fields};
pub use wait::WaitOptions;

pub(crate) use parse::{count, duration, opt_duration, rate, span};
