//! Logging to stderr with tracing: level from -v/-q, or an env filter in NEXUS_REPLAY_LOG.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The env variable holding a tracing filter (e.g. `nexus_replay=debug,aws_config=info`).
pub const LOG_ENV: &str = "NEXUS_REPLAY_LOG";

/// Installs the global subscriber. `verbosity` is -v count minus -q count.
pub fn init(verbosity: i8, format: LogFormat) {
    let filter = std::env::var(LOG_ENV)
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| {
            EnvFilter::new(match verbosity {
                i8::MIN..=-2 => "error",
                -1 => "warn,aws_config=error",
                // aws-config warns about every credential/region source it probes (IMDS on
                // a laptop); our own errors already say what is missing.
                0 => "warn,aws_config=error,nexus_replay=info",
                1 => "warn,nexus_replay=debug",
                _ => "debug,nexus_replay=trace",
            })
        });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(verbosity > 0);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text if verbosity > 0 => builder.try_init(),
        LogFormat::Text => builder.without_time().try_init(),
    };
}
