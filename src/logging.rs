//! Logging to stderr with tracing: level from -v/-q, or an env filter in NEXUS_REPLAY_LOG.
//! Whatever the filter, the wire logging of the SDK and HTTP crates stays at info unless
//! `--log-payloads`: at debug and trace it carries message bodies and access key ids.

use std::io::IsTerminal;

use tracing::{Level, Metadata};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::fmt;
use tracing_subscriber::prelude::*;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The env variable holding a tracing filter (e.g. `nexus_replay=debug,aws_config=info`).
pub const LOG_ENV: &str = "NEXUS_REPLAY_LOG";

/// Crates whose debug and trace logging can carry what must not reach a log: the SDK's
/// orchestrator logs whole response bodies at trace (ReceiveMessage: every message body, so
/// customer emails and card fields) and the resolved identity (the access key id) at trace,
/// and again inside the endpoint parameters at debug; the signer logs the identity; the
/// HTTP crates can log headers (the Authorization header names the key id); the config and
/// credential crates read profile files. Matched on the target's first path segment;
/// `aws_sdk_*` (every service client) too.
const WIRE_CRATES: &[&str] = &[
    "aws_config",
    "aws_credential_types",
    "aws_runtime",
    "aws_sigv4",
    "aws_smithy_http",
    "aws_smithy_http_client",
    "aws_smithy_json",
    "aws_smithy_observability",
    "aws_smithy_query",
    "aws_smithy_runtime",
    "aws_smithy_runtime_api",
    "aws_smithy_types",
    "aws_smithy_xml",
    "h2",
    "hyper",
    "hyper_rustls",
    "hyper_util",
    "rustls",
    "tower",
];

/// Modules of those crates whose detail is kept at any level, read for what they log:
/// retry decisions (attempt numbers, error kinds, delays), which credential provider of the
/// chain answered (its name only), and connections (host and port, pool reuse).
const SAFE_DETAIL: &[&str] = &[
    "aws_smithy_runtime::client::retries",
    "aws_config::meta::credentials::chain",
    "hyper_util::client::legacy::pool",
    "hyper_util::client::legacy::connect",
];

/// Whether a span or event may be logged when payloads are not asked for.
fn without_payloads(meta: &Metadata<'_>) -> bool {
    allowed(meta.target(), *meta.level())
}

fn allowed(target: &str, level: Level) -> bool {
    // tracing orders levels by verbosity: INFO < DEBUG < TRACE.
    if level <= Level::INFO {
        return true;
    }
    let krate = target.split("::").next().unwrap_or(target);
    let wire = krate.starts_with("aws_sdk_") || WIRE_CRATES.contains(&krate);
    !wire
        || SAFE_DETAIL
            .iter()
            .any(|m| target == *m || target.strip_prefix(m).is_some_and(|r| r.starts_with("::")))
}

/// Installs the global subscriber. `verbosity` is -v count minus -q count; `log_payloads`
/// lets the user's filter reach the wire logging (bodies and key ids).
pub fn init(verbosity: i8, format: LogFormat, log_payloads: bool) {
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
    // A second global filter: an event is logged only when both let it through, so no
    // directive of the user's filter (`trace`, `aws_smithy_runtime=trace`) can lift it.
    let clamp = filter_fn(move |meta| log_payloads || without_payloads(meta));
    let registry = tracing_subscriber::registry().with(filter).with(clamp);
    let layer = fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(verbosity > 0);
    let _ = match format {
        LogFormat::Json => registry.with(layer.json()).try_init(),
        LogFormat::Text if verbosity > 0 => registry.with(layer).try_init(),
        LogFormat::Text => registry.with(layer.without_time()).try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_detail_is_kept_out_but_our_own_and_safe_modules_are_not() {
        for (target, level) in [
            (
                "aws_smithy_runtime::client::orchestrator::http",
                Level::TRACE,
            ),
            (
                "aws_smithy_runtime::client::orchestrator::endpoints",
                Level::DEBUG,
            ),
            (
                "aws_smithy_runtime::client::orchestrator::auth",
                Level::TRACE,
            ),
            ("aws_sigv4::http_request::sign", Level::TRACE),
            ("aws_sdk_sqs::operation::receive_message", Level::TRACE),
            ("aws_sdk_anything_new", Level::DEBUG),
            ("hyper::proto::h1::role", Level::TRACE),
            ("h2::codec::framed_write", Level::DEBUG),
            ("aws_config::profile::parser", Level::DEBUG),
            // Not a prefix match on a module name.
            ("aws_smithy_runtime::client::retriesx", Level::DEBUG),
        ] {
            assert!(!allowed(target, level), "{target} at {level}");
        }
        for (target, level) in [
            ("aws_smithy_runtime::client::orchestrator", Level::INFO),
            ("aws_smithy_runtime::client::orchestrator", Level::WARN),
            ("nexus_replay::drain::engine", Level::TRACE),
            (
                "aws_smithy_runtime::client::retries::strategy::standard",
                Level::DEBUG,
            ),
            ("aws_config::meta::credentials::chain", Level::DEBUG),
            ("hyper_util::client::legacy::connect::http", Level::DEBUG),
            ("rusqlite", Level::TRACE),
        ] {
            assert!(allowed(target, level), "{target} at {level}");
        }
    }
}
