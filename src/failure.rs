//! How a failed run reports its failure: the error on stderr (a human `error:` line with its
//! `hint:`, or one JSON log line with `--log-format json`), and with `--output json` one
//! JSON document on stdout, so that `jq` pipelines and schedulers can parse every run.

use std::io::Write;

use serde::Serialize;

use crate::error::AppError;
use crate::logging::LogFormat;
use crate::output::OutputMode;

/// The error document printed on stdout with `--output json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorDoc {
    /// What failed, as the human line says it.
    pub error: String,
    /// `usage`, `not_found`, `config`, `aws`, `io` or `interrupted`.
    pub kind: &'static str,
    pub exit_code: u8,
    /// What to do about it, when there is more to say.
    pub hint: Option<String>,
    /// The AWS operation that failed, when known (`kind` is `aws`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// The service's error code, when it answered with one (`kind` is `aws`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws_error_code: Option<String>,
}

impl ErrorDoc {
    pub fn of(e: &AppError) -> ErrorDoc {
        let (operation, code) = match e {
            AppError::Port(p) => p.call(),
            _ => (None, None),
        };
        ErrorDoc {
            error: e.to_string(),
            kind: e.kind(),
            exit_code: e.exit_code(),
            hint: e.hint(),
            operation: operation.map(str::to_string),
            aws_error_code: code.map(str::to_string),
        }
    }

    /// The human form: `error: ...`, then `hint: ...` on a line of its own.
    pub fn human(&self) -> String {
        match &self.hint {
            Some(h) => format!("error: {}\nhint: {h}", self.error),
            None => format!("error: {}", self.error),
        }
    }

    /// One log line in the shape of the JSON log format (`timestamp`, `level`, `fields`,
    /// `target`), so a log shipper reads the final error like every other line.
    pub fn log_line(&self) -> String {
        let mut fields = serde_json::Map::new();
        fields.insert("message".into(), self.error.clone().into());
        fields.insert("kind".into(), self.kind.into());
        fields.insert("exit_code".into(), self.exit_code.into());
        if let Some(h) = &self.hint {
            fields.insert("hint".into(), h.clone().into());
        }
        if let Some(o) = &self.operation {
            fields.insert("operation".into(), o.clone().into());
        }
        if let Some(c) = &self.aws_error_code {
            fields.insert("aws_error_code".into(), c.clone().into());
        }
        serde_json::json!({
            "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "level": "ERROR",
            "fields": fields,
            "target": "nexus_replay",
        })
        .to_string()
    }
}

/// Where a failure is reported, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sinks {
    pub output: OutputMode,
    pub log_format: LogFormat,
}

impl Sinks {
    /// Where a failure found before the settings exist is reported (a flag clap refused, a
    /// bad config file): the last `--output` / `--log-format` on the command line that is
    /// before a `--`, else `NEXUS_REPLAY_OUTPUT` / `NEXUS_REPLAY_LOG_FORMAT`, else (for the
    /// output only) the config file's `output` when it can be read, else human and text.
    pub fn early(args: &[String], env: impl Fn(&str) -> Option<String>) -> Sinks {
        let flag = |name: &str| {
            let eq = format!("{name}=");
            let mut found = None;
            let mut it = args.iter().skip(1).take_while(|a| *a != "--");
            while let Some(a) = it.next() {
                if a == name {
                    found = it.next().cloned();
                } else if let Some(v) = a.strip_prefix(&eq) {
                    found = Some(v.to_string());
                }
            }
            found
        };
        let output = flag("--output")
            .or_else(|| env("NEXUS_REPLAY_OUTPUT"))
            .or_else(|| {
                let explicit = flag("--config").or_else(|| env("NEXUS_REPLAY_CONFIG"));
                crate::settings::load_file(explicit.as_deref().map(std::path::Path::new))
                    .ok()
                    .and_then(|(_, file)| file.output)
            });
        let log_format = flag("--log-format").or_else(|| env("NEXUS_REPLAY_LOG_FORMAT"));
        Sinks {
            output: match output.as_deref() {
                Some("json") => OutputMode::Json,
                _ => OutputMode::Human,
            },
            log_format: match log_format.as_deref() {
                Some("json") => LogFormat::Json,
                _ => LogFormat::Text,
            },
        }
    }
}

/// Prints the failure: on stderr always (written directly, not through the log filter, so
/// that `-qq` or `NEXUS_REPLAY_LOG=off` cannot hide why a run failed), and on stdout as the
/// one JSON document with `--output json`.
pub fn report(doc: &ErrorDoc, sinks: Sinks) {
    let line = match sinks.log_format {
        LogFormat::Text => doc.human(),
        LogFormat::Json => doc.log_line(),
    };
    let _ = writeln!(std::io::stderr().lock(), "{line}");
    if sinks.output == OutputMode::Json {
        print_json(doc);
    }
}

/// The error document on stdout, pretty-printed like every other JSON result.
pub fn print_json(doc: &ErrorDoc) {
    let mut text = serde_json::to_string_pretty(doc).unwrap_or_default();
    text.push('\n');
    let mut out = std::io::stdout().lock();
    // A closed pipe is not worth a second error.
    let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::PortError;

    #[test]
    fn each_kind_of_failure_is_one_document_with_its_exit_code_and_hint() {
        let doc = |e: AppError| serde_json::to_value(ErrorDoc::of(&e)).unwrap();
        assert_eq!(
            doc(AppError::usage("no event bus given")),
            serde_json::json!({"error": "no event bus given", "kind": "usage", "exit_code": 2, "hint": null})
        );
        assert_eq!(
            doc(AppError::NotFound("bus \"nope\" does not exist".into()))["kind"],
            "not_found"
        );
        assert_eq!(
            doc(AppError::ConfigFile("invalid config file".into()))["exit_code"],
            2
        );
        assert_eq!(doc(AppError::Io("cannot write".into()))["kind"], "io");
        assert_eq!(doc(AppError::Interrupted)["exit_code"], 130);
        let denied = doc(AppError::Port(PortError::Denied(
            "ListRules: AccessDeniedException: not allowed".into(),
        )));
        assert_eq!(denied["kind"], "aws");
        assert_eq!(denied["exit_code"], 1);
        assert_eq!(denied["operation"], "ListRules");
        assert_eq!(denied["aws_error_code"], "AccessDeniedException");
        assert!(denied["hint"].as_str().unwrap().contains("docs/iam/"));
    }

    #[test]
    fn a_failure_before_the_settings_finds_the_output_and_log_format_it_can() {
        let args = |a: &str| -> Vec<String> {
            std::iter::once("nexus-replay")
                .chain(a.split(' '))
                .map(str::to_string)
                .collect()
        };
        let none = |_: &str| None;
        let json = Sinks {
            output: OutputMode::Json,
            log_format: LogFormat::Json,
        };
        // Flags anywhere, even after the word clap refused; the last one wins.
        assert_eq!(
            Sinks::early(
                &args("doctor --bogus --output json --log-format=json"),
                none
            ),
            json
        );
        assert_eq!(
            Sinks::early(&args("--output json rules --output human"), none).output,
            OutputMode::Human
        );
        // After `--` it is a value, not a flag.
        assert_eq!(
            Sinks::early(&args("rules -- --output json"), none).output,
            OutputMode::Human
        );
        // The environment when no flag says it.
        let env = |k: &str| match k {
            "NEXUS_REPLAY_OUTPUT" => Some("json".to_string()),
            "NEXUS_REPLAY_LOG_FORMAT" => Some("json".to_string()),
            _ => None,
        };
        assert_eq!(Sinks::early(&args("frobnicate"), env), json);
        assert_eq!(
            Sinks::early(&args("frobnicate --output human"), env).output,
            OutputMode::Human
        );
        // The config file's `output` last.
        let dir = std::env::temp_dir().join(format!("nr-early-{}", crate::ids::random_hex(8)));
        std::fs::create_dir_all(&dir).unwrap();
        let cfg = dir.join("c.toml");
        std::fs::write(&cfg, "output = \"json\"\n").unwrap();
        let cfg_arg = format!("frobnicate --config {}", cfg.display());
        assert_eq!(Sinks::early(&args(&cfg_arg), none).output, OutputMode::Json);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_json_log_line_carries_the_message_and_hint_as_fields() {
        let d = ErrorDoc::of(&AppError::Port(PortError::Credentials(
            "DescribeEventBus: cannot load AWS credentials: none".into(),
        )));
        let line: serde_json::Value = serde_json::from_str(&d.log_line()).unwrap();
        assert_eq!(line["level"], "ERROR");
        assert_eq!(
            line["fields"]["message"],
            "DescribeEventBus: cannot load AWS credentials: none"
        );
        assert_eq!(line["fields"]["exit_code"], 1);
        assert!(
            line["fields"]["hint"]
                .as_str()
                .unwrap()
                .contains("--profile")
        );
        assert!(!d.log_line().contains('\n'));
        assert_eq!(
            d.human(),
            format!("error: {}\nhint: {}", d.error, d.hint.clone().unwrap())
        );
    }
}
