//! How long and how often a command watches a replay (`start`, `status --watch`,
//! `cancel --wait`).

use std::time::Duration;

use clap::Args;
use serde::Deserialize;

use crate::error::AppError;
use crate::limits::{self, usage};

super::step::options_struct! {
    /// Watching a replay: when to give up and how often to ask.
    #[derive(Debug, Clone, Copy, Default, PartialEq, Args, Deserialize)]
    pub struct WaitOptions {
        /// Stop watching after this long (exit 5; the replay goes on), e.g. 30m (1s to 30 days)
        #[arg(long, value_name = "DUR", value_parser = super::span(limits::TIMEOUT))]
        #[serde(default, deserialize_with = "super::parse::opt_duration")]
        pub timeout: Option<Duration>,
        /// Poll interval (default 1s backing off to 10s; 1s to 5m)
        #[arg(long, value_name = "DUR", value_parser = super::span(limits::POLL))]
        #[serde(default, deserialize_with = "super::parse::opt_duration")]
        pub poll: Option<Duration>,
    }
}

impl WaitOptions {
    /// Every value within its range (exit 2 otherwise).
    pub fn validate(&self) -> Result<(), AppError> {
        if let Some(t) = self.timeout {
            usage("--timeout", limits::TIMEOUT.check(t))?;
        }
        if let Some(p) = self.poll {
            usage("--poll", limits::POLL.check(p))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_waits_are_usage_errors() {
        assert!(WaitOptions::default().validate().is_ok());
        for (w, flag) in [
            (
                WaitOptions {
                    poll: Some(Duration::ZERO),
                    ..WaitOptions::default()
                },
                "--poll",
            ),
            (
                WaitOptions {
                    timeout: Some(Duration::ZERO),
                    ..WaitOptions::default()
                },
                "--timeout",
            ),
        ] {
            let e = w.validate().unwrap_err();
            assert_eq!(e.exit_code(), crate::exit_codes::USAGE);
            assert!(e.to_string().starts_with(flag), "{e}");
        }
        let w: WaitOptions = serde_json::from_str(r#"{"poll": "5s"}"#).unwrap();
        assert_eq!(w.poll, Some(Duration::from_secs(5)));
    }
}
