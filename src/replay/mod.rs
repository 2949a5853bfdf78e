//! Archive replays: planning (window, filters, archive checks, rule selection, naming),
//! tracking, and the local journal of replays this tool started.

pub mod adopt;
pub mod archive;
pub mod display;
pub mod filters;
pub mod journal;
pub mod naming;
pub mod plan;
pub mod plan_text;
pub mod request;
pub mod rules;
pub mod watch;
pub mod window;

#[cfg(test)]
pub(crate) mod fixtures;
