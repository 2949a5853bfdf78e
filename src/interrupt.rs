//! Why a run was asked to stop, as the engines see it: no OS code here. The command line
//! listens for the signals (`crate::signals`) and injects the first one as a future; the
//! drain engine, the replay watch and playbook runs stop on it and report which it was.

use std::future::Future;
use std::pin::Pin;

use serde::Serialize;

use crate::exit_codes;

/// The signal that asked a run to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Signal {
    /// Ctrl-C.
    #[serde(rename = "SIGINT")]
    Interrupt,
    /// How schedulers (systemd, ECS, Kubernetes) and `kill` stop a process.
    #[serde(rename = "SIGTERM")]
    Terminate,
}

impl Signal {
    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }

    /// 128 + the signal number, as a shell reports a process the signal ended.
    pub fn exit_code(self) -> u8 {
        match self {
            Signal::Interrupt => exit_codes::INTERRUPTED,
            Signal::Terminate => exit_codes::TERMINATED,
        }
    }
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A boxed interrupt future, for callers that hand one out per step (playbooks).
pub type Interrupt = Pin<Box<dyn Future<Output = Signal> + Send>>;
