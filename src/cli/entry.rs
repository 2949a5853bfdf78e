//! The process's way in: parse the command line, start logging, resolve the settings, run
//! the command on a runtime, and turn every failure into its report and exit code.

use clap::Parser;

use super::args::{Cli, GlobalArgs, LogFormatArg, OutputArg};
use super::dispatch::run;
use crate::aws::config::AwsOptions;
use crate::error::AppError;
use crate::exit_codes;
use crate::failure::{self, ErrorDoc, Sinks};
use crate::logging::{self, LogFormat};
use crate::output::OutputMode;
use crate::settings::{self, Settings};

/// Parses the command line, runs the command and answers the process exit code.
pub fn main() -> u8 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return parse_failed(&e),
    };
    let verbosity = cli.global.verbose as i8 - cli.global.quiet as i8;
    let log_format = match cli.global.log_format {
        LogFormatArg::Text => LogFormat::Text,
        LogFormatArg::Json => LogFormat::Json,
    };
    logging::init(verbosity, log_format, cli.global.log_payloads);
    let settings = match resolve(&cli.global, verbosity) {
        Ok(s) => s,
        Err(e) => {
            // The settings did not resolve: report where the flags, env or file ask for.
            let args: Vec<String> = std::env::args().collect();
            let mut sinks = Sinks::early(&args, |k| std::env::var(k).ok());
            sinks.log_format = log_format;
            return fail(&e, sinks);
        }
    };
    let sinks = Sinks {
        output: settings.output,
        log_format: settings.log_format,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return fail(
                &AppError::Io(format!("cannot start the async runtime: {e}")),
                sinks,
            );
        }
    };
    match runtime.block_on(run(cli.command, &settings)) {
        Ok(code) => code,
        Err(e) => fail(&e, sinks),
    }
}

fn fail(e: &AppError, sinks: Sinks) -> u8 {
    tracing::debug!(error = ?e, "command failed");
    failure::report(&ErrorDoc::of(e), sinks);
    e.exit_code()
}

/// A command line clap refused: its own message on stderr (or one JSON log line), and the
/// error document on stdout when `--output json` is asked for on the command line, in
/// `NEXUS_REPLAY_OUTPUT` or in the config file. `--help` and `--version` are not failures.
fn parse_failed(e: &clap::Error) -> u8 {
    if !e.use_stderr() {
        let _ = e.print();
        return exit_codes::SUCCESS;
    }
    let args: Vec<String> = std::env::args().collect();
    let sinks = Sinks::early(&args, |k| std::env::var(k).ok());
    let rendered = e.render().to_string();
    // clap's text: "error: WHAT" (maybe more lines), then blank-line separated tips, usage
    // and "For more information, try '--help'."
    let mut paragraphs = rendered.split("\n\n");
    let what = paragraphs.next().unwrap_or_default();
    let what = what.strip_prefix("error: ").unwrap_or(what);
    let hint: Vec<String> = paragraphs
        .flat_map(str::lines)
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    let doc = ErrorDoc {
        error: what.lines().map(str::trim).collect::<Vec<_>>().join(" "),
        kind: "usage",
        exit_code: exit_codes::USAGE,
        hint: (!hint.is_empty()).then(|| hint.join("; ")),
        operation: None,
        aws_error_code: None,
    };
    match sinks.log_format {
        LogFormat::Text => {
            let _ = e.print();
            if sinks.output == OutputMode::Json {
                failure::print_json(&doc);
            }
        }
        LogFormat::Json => failure::report(&doc, sinks),
    }
    exit_codes::USAGE
}

fn resolve(g: &GlobalArgs, verbosity: i8) -> Result<Settings, AppError> {
    let (config_path, file) = settings::load_file(g.config.as_deref())?;
    if let Some(path) = &config_path {
        log_config_file(path, &file, g);
        if g.endpoint_url.is_none() && file.endpoint_url.is_some() {
            settings::check_endpoint_source(path)?;
        }
    }
    let output = match g.output {
        Some(OutputArg::Json) => OutputMode::Json,
        Some(OutputArg::Human) => OutputMode::Human,
        None => match &file.output {
            Some(o) => settings::parse_output(o).map_err(AppError::Usage)?,
            None => OutputMode::Human,
        },
    };
    Ok(Settings {
        aws: AwsOptions {
            region: g.region.clone().or(file.region),
            profile: g.profile.clone().or(file.profile),
            endpoint_url: g.endpoint_url.clone().or(file.endpoint_url),
        },
        output,
        verbosity,
        log_format: match g.log_format {
            LogFormatArg::Text => LogFormat::Text,
            LogFormatArg::Json => LogFormat::Json,
        },
        progress: !g.no_progress && verbosity >= 0,
        yes: g.yes,
        default_bus: file.bus,
        default_archive: file.archive,
        state_dir: file.state_dir.unwrap_or_else(settings::default_state_dir),
        config_path,
    })
}

/// Says which config file was read and each setting it gave (info), or that a flag or
/// `NEXUS_REPLAY_*` variable won over it (debug): a file in the current directory is read
/// without being asked for.
fn log_config_file(path: &std::path::Path, file: &settings::FileConfig, g: &GlobalArgs) {
    tracing::info!("read config file {}", path.display());
    for (key, value) in file.entries() {
        let overridden = match key {
            "region" => g.region.is_some(),
            "profile" => g.profile.is_some(),
            "endpoint_url" => g.endpoint_url.is_some(),
            "output" => g.output.is_some(),
            _ => false,
        };
        if overridden {
            tracing::debug!(
                "config file {}: {key} not used: a flag or NEXUS_REPLAY_* variable sets it",
                path.display()
            );
        } else {
            tracing::info!("config file {}: {key} = {value:?}", path.display());
        }
    }
}
