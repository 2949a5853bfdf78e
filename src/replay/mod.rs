//! Archive replays: planning (validation and rule selection), tracking, and the local
//! journal of replays this tool started.

pub mod display;
pub mod journal;
pub mod plan;
pub mod watch;
