//! The application error: what a command failed with, and the exit code it maps to.

use crate::aws::config::ConfigError;
use crate::exit_codes;
use crate::ports::PortError;

/// A command's failure. Each message says what was wrong and, where the user can act,
/// what to do.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Bad input: flags, names, windows, config. Nothing was changed.
    #[error("{0}")]
    Usage(String),
    /// A named resource (bus, archive, queue, replay) does not exist.
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The config file is unreadable, invalid, or not safe to take settings from.
    #[error("{0}")]
    ConfigFile(String),
    /// AWS answered with an error.
    #[error("{0}")]
    Port(#[from] PortError),
    /// A local file or terminal failed.
    #[error("{0}")]
    Io(String),
    /// Ctrl-C.
    #[error("interrupted")]
    Interrupted,
    /// Stripe's API refused or failed (`stripe reconcile`).
    #[error(transparent)]
    Stripe(#[from] crate::stripe::error::StripeError),
}

impl AppError {
    pub fn usage(msg: impl Into<String>) -> AppError {
        AppError::Usage(msg.into())
    }

    /// What the user can do about it, where there is more to say than the message.
    pub fn hint(&self) -> Option<String> {
        match self {
            AppError::Port(p) => p.hint(),
            AppError::Stripe(s) => s.hint(),
            _ => None,
        }
    }

    /// The message, with its hint on a second line when there is one.
    pub fn with_hint(&self) -> String {
        match self.hint() {
            Some(h) => format!("{self}\nhint: {h}"),
            None => self.to_string(),
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            AppError::Usage(_)
            | AppError::NotFound(_)
            | AppError::Config(_)
            | AppError::ConfigFile(_) => exit_codes::USAGE,
            AppError::Port(PortError::Invalid(_)) => exit_codes::USAGE,
            AppError::Port(_) | AppError::Io(_) => exit_codes::FAILURE,
            AppError::Interrupted => exit_codes::INTERRUPTED,
            AppError::Stripe(s) => s.exit_code(),
        }
    }

    /// The class of failure, for scripts: `usage`, `not_found`, `config`, `aws`, `io`,
    /// `stripe` or `interrupted` (the `kind` of `--output json`'s error document).
    pub fn kind(&self) -> &'static str {
        match self {
            AppError::Usage(_) => "usage",
            AppError::NotFound(_) => "not_found",
            AppError::Config(_) | AppError::ConfigFile(_) => "config",
            AppError::Port(_) => "aws",
            AppError::Io(_) => "io",
            AppError::Interrupted => "interrupted",
            AppError::Stripe(crate::stripe::error::StripeError::Usage(_)) => "usage",
            AppError::Stripe(_) => "stripe",
        }
    }
}

/// Turns a port's NotFound into a user-facing NotFound with a hint, leaving other errors.
pub fn not_found_as(err: PortError, msg: impl FnOnce() -> String) -> AppError {
    match err {
        PortError::NotFound(_) => AppError::NotFound(msg()),
        other => AppError::Port(other),
    }
}
