//! Documented process exit codes, in one place so scripts and docs agree.
//! README.md's "Exit codes" table mirrors this file.

/// Everything asked for was done.
pub const SUCCESS: u8 = 0;
/// A runtime failure: AWS or the network answered with an error, or a local file failed.
pub const FAILURE: u8 = 1;
/// Bad usage or input (flags, time window, names, config, playbook). Nothing was changed.
pub const USAGE: u8 = 2;
/// Partial success: some items failed, were parked, or a check reported FAIL.
pub const PARTIAL: u8 = 3;
/// A replay ended FAILED or CANCELLED.
pub const REPLAY_NOT_COMPLETED: u8 = 4;
/// A wait timed out; the server-side work goes on.
pub const TIMED_OUT: u8 = 5;
/// Interrupted with Ctrl-C (128 + SIGINT).
pub const INTERRUPTED: u8 = 130;
/// Stopped with SIGTERM (128 + SIGTERM), as systemd, ECS and Kubernetes stop a process: the
/// run stopped as on Ctrl-C (the batch in hand finished, the rest released, a summary).
pub const TERMINATED: u8 = 143;
