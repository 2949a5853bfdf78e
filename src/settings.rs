//! Resolved global settings: flags win over `NEXUS_REPLAY_*` env (both handled by the CLI
//! layer), which win over the optional config file `nexus-replay.toml`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::aws::config::AwsOptions;
use crate::error::AppError;
use crate::logging::LogFormat;
use crate::output::OutputMode;

/// The config file's name, looked for in the current directory, then in
/// `$XDG_CONFIG_HOME/nexus-replay/` (default `~/.config/nexus-replay/`).
pub const CONFIG_FILE: &str = "nexus-replay.toml";

/// Keys accepted in `nexus-replay.toml`; any other key is an error that names it.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
    pub bus: Option<String>,
    pub archive: Option<String>,
    pub output: Option<String>,
    pub state_dir: Option<PathBuf>,
}

/// Everything the engine needs to know about how it was invoked.
#[derive(Debug, Clone)]
pub struct Settings {
    pub aws: AwsOptions,
    pub output: OutputMode,
    pub verbosity: i8,
    pub log_format: LogFormat,
    /// Progress bars or periodic progress lines are wanted.
    pub progress: bool,
    /// Confirmations are pre-approved.
    pub yes: bool,
    pub default_bus: Option<String>,
    pub default_archive: Option<String>,
    /// Where the replay journal and other local state live.
    pub state_dir: PathBuf,
    /// The config file that was read, if any.
    pub config_path: Option<PathBuf>,
}

impl Settings {
    /// The bus from the command line, or the configured default.
    pub fn bus(&self, flag: Option<&str>) -> Result<String, AppError> {
        flag.map(str::to_string)
            .or_else(|| self.default_bus.clone())
            .ok_or_else(|| {
                AppError::usage(
                    "no event bus given: pass --bus NAME, set NEXUS_REPLAY_BUS, or put bus = \"...\" in nexus-replay.toml",
                )
            })
    }
}

/// Finds and reads the config file. An explicit path must exist.
pub fn load_file(explicit: Option<&Path>) -> Result<(Option<PathBuf>, FileConfig), AppError> {
    let path = match explicit {
        Some(p) => {
            if !p.is_file() {
                return Err(AppError::usage(format!(
                    "config file {} does not exist; fix --config or NEXUS_REPLAY_CONFIG",
                    p.display()
                )));
            }
            Some(p.to_path_buf())
        }
        None => candidates().into_iter().find(|p| p.is_file()),
    };
    let Some(path) = path else {
        return Ok((None, FileConfig::default()));
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| AppError::Io(format!("cannot read config file {}: {e}", path.display())))?;
    let config: FileConfig = toml::from_str(&text).map_err(|e| {
        AppError::usage(format!(
            "invalid config file {}: {}; accepted keys: region, profile, endpoint_url, bus, archive, output, state_dir",
            path.display(),
            e.to_string().trim()
        ))
    })?;
    if let Some(o) = &config.output {
        parse_output(o).map_err(|m| AppError::usage(format!("{}: {m}", path.display())))?;
    }
    Ok((Some(path), config))
}

fn candidates() -> Vec<PathBuf> {
    let mut out = vec![PathBuf::from(CONFIG_FILE)];
    if let Some(dir) = config_home() {
        out.push(dir.join("nexus-replay").join(CONFIG_FILE));
    }
    out
}

fn config_home() -> Option<PathBuf> {
    std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| home().map(|h| h.join(".config")))
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// `$NEXUS_REPLAY_STATE_DIR`, else `$XDG_STATE_HOME/nexus-replay`, else
/// `~/.local/state/nexus-replay`, else `./.nexus-replay`.
pub fn default_state_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("NEXUS_REPLAY_STATE_DIR").filter(|v| !v.is_empty()) {
        return PathBuf::from(d);
    }
    std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| home().map(|h| h.join(".local").join("state")))
        .map(|d| d.join("nexus-replay"))
        .unwrap_or_else(|| PathBuf::from(".nexus-replay"))
}

/// The directory holding user playbooks and the config file.
pub fn user_config_dir() -> Option<PathBuf> {
    config_home().map(|d| d.join("nexus-replay"))
}

pub fn parse_output(s: &str) -> Result<OutputMode, String> {
    match s {
        "human" => Ok(OutputMode::Human),
        "json" => Ok(OutputMode::Json),
        other => Err(format!("output must be human or json, not {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_config_keys_are_named() {
        let dir = std::env::temp_dir().join(format!("nr-cfg-{}", crate::ids::random_hex(8)));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("c.toml");
        std::fs::write(&p, "bus = \"b\"\nregoin = \"us-east-2\"\n").unwrap();
        let err = load_file(Some(&p)).unwrap_err().to_string();
        assert!(err.contains("regoin"), "{err}");
        std::fs::write(&p, "bus = \"b\"\noutput = \"yaml\"\n").unwrap();
        let err = load_file(Some(&p)).unwrap_err().to_string();
        assert!(err.contains("human or json"), "{err}");
        std::fs::write(&p, "bus = \"b\"\nregion = \"eu-west-1\"\n").unwrap();
        let (_, cfg) = load_file(Some(&p)).unwrap();
        assert_eq!(cfg.bus.as_deref(), Some("b"));
        assert_eq!(cfg.region.as_deref(), Some("eu-west-1"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn an_explicit_missing_config_is_an_error() {
        let err = load_file(Some(Path::new("/nonexistent/nexus.toml"))).unwrap_err();
        assert_eq!(err.exit_code(), crate::exit_codes::USAGE);
    }
}
